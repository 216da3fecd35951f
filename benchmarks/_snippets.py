"""Where the on-path instructions go: pieces of the hot path, and cheaper alternatives, alone.

Run under callgrind by run.py (section ``callgrind``), like the variants: each
snippet is called N1 then N2 times between markers. Rows marked "alternative"
are not the library's code: they are what a change could bring, measured the
same way, so docs/performance.md can point at evidence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import asgi_scope, wsgi_environ
from _variants import django_setup, ours_options


@dataclass(slots=True)
class _PlainInfo:
    """RequestInfo's fields in a slots dataclass that is not frozen (an alternative)."""

    method: str
    path: str | None
    root: str
    peer: str | None
    forwarded_for: str | None = None
    accept: str | None = None
    cookie: str | None = None
    token: str | None = None
    scheme: str = "http"


def snippets(workdir: Path) -> dict[str, Callable[[], object]]:
    """Name -> a callable doing one piece of work. The first is the empty baseline."""
    from maintenance_mode.core import Decision, Maintenance, RequestInfo
    from maintenance_mode.rules import app_path

    engine = Maintenance(**ours_options("on-html", workdir))
    snapshot = engine.poll()
    settings = engine.settings
    state = snapshot.state
    assert state is not None
    scope = asgi_scope("html")
    environ = wsgi_environ("html")
    info = RequestInfo.from_asgi(scope, settings)
    response = engine.response(snapshot, "html")
    fields = ("GET", "/hello", "", "203.0.113.7", None, "text/html", None, None, "http")
    eta = state.eta_earliest.timestamp() if state.eta_earliest is not None else time.time()

    def float_retry_after() -> int:
        return max(1, min(math.ceil(eta - time.time()), 86_400))

    found: dict[str, Callable[[], object]] = {
        "empty call (baseline, subtracted from the others)": lambda: None,
        "engine.poll() (what the fast path avoids)": engine.poll,
        "RequestInfo.from_asgi(scope)": lambda: RequestInfo.from_asgi(scope, settings),
        "RequestInfo.from_wsgi(environ)": lambda: RequestInfo.from_wsgi(environ, settings),
        "- of which RequestInfo(...): a frozen slots dataclass": lambda: RequestInfo(*fields),
        "- alternative: the same fields, slots dataclass not frozen": lambda: _PlainInfo(*fields),
        "- of which app_path(path): two regular-expression searches": lambda: app_path(
            "/hello", "", b"/hello"
        ),
        "decide() for a blocked request (request info prebuilt)": lambda: engine.decide(
            snapshot, info
        ),
        "- of which engine.response(snapshot, 'html')": lambda: engine.response(snapshot, "html"),
        "- of which retry_after(state): aware-datetime arithmetic": lambda: engine.retry_after(
            state
        ),
        "- alternative: Retry-After from an epoch float computed once per state": (
            float_retry_after
        ),
        "- of which Decision('respond', response): a frozen dataclass": lambda: Decision(
            "respond", response
        ),
    }
    found.update(_django_snippets(workdir, response))
    return found


def _django_snippets(workdir: Path, response: Any) -> dict[str, Callable[[], object]]:
    try:
        django_setup()
        from django.http import HttpResponse
        from django.http.response import ResponseHeaders

        from maintenance_mode.django.middleware import to_django
    except ImportError:
        return {}
    prebuilt = ResponseHeaders(dict(response.headers))

    def copied_headers() -> object:
        result = HttpResponse(response.body, status=response.status)
        result.headers._store = prebuilt._store.copy()
        return result

    return {
        "Django: to_django(503): HttpResponse + 8 validated headers": lambda: to_django(response),
        "- alternative: HttpResponse + a copy of a header store validated once": copied_headers,
        "Django: HttpResponse(b'hello'), the bare view's own response": lambda: HttpResponse(
            b"hello", content_type="text/plain"
        ),
    }
