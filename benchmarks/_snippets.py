"""Where the on-path instructions go: pieces of the hot path, and cheaper alternatives, alone.

Run under callgrind by run.py (section ``callgrind``), like the variants: each
snippet is called N1 then N2 times between markers, so docs/performance.md can
say where a blocked, allowlisted or bypassed request's instructions go.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from _common import asgi_scope, wsgi_environ
from _variants import django_setup, ours_options


def snippets(workdir: Path) -> dict[str, Callable[[], object]]:
    """Name -> a callable doing one piece of work. The first is the empty baseline."""
    from maintenance_mode.asgi import _no_store as asgi_no_store
    from maintenance_mode.core import Maintenance, RequestInfo
    from maintenance_mode.rules import token_matches, unambiguous
    from maintenance_mode.wsgi import _no_store as wsgi_no_store

    engine = Maintenance(**ours_options("on-html", workdir))
    snapshot = engine.poll()
    settings = engine.settings
    allowing = Maintenance(**ours_options("allow", workdir))
    allow_snapshot = allowing.poll()
    scope = asgi_scope("html")
    bypass_scope = asgi_scope("bypass")
    environ = wsgi_environ("html")
    blocked = RequestInfo.from_asgi(scope, settings)
    bypassed = RequestInfo.from_asgi(bypass_scope, settings)
    secret = engine.settings.secret_bytes
    token = bypassed.token
    assert secret is not None
    assert token is not None
    response = engine.response(snapshot, "html")
    asgi_start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
    }
    asgi_body = {"type": "http.response.body", "body": b"hello"}

    async def asgi_sink(message: Any) -> None:
        return None

    async def asgi_hello(send: Any) -> None:
        await send(dict(asgi_start))
        await send(dict(asgi_body))

    def drive(coroutine: Coroutine[Any, Any, None]) -> None:
        with contextlib.suppress(StopIteration):
            coroutine.send(None)

    def wsgi_sink(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    wsgi_headers = [("Content-Type", "text/plain"), ("Content-Length", "5")]

    return {
        "empty call (baseline, subtracted from the others)": lambda: None,
        "engine.poll() (what the fast path avoids)": engine.poll,
        "RequestInfo.from_asgi(scope)": lambda: RequestInfo.from_asgi(scope, settings),
        "RequestInfo.from_wsgi(environ)": lambda: RequestInfo.from_wsgi(environ, settings),
        "- the path check, run only when a rule names the path: two regex searches": lambda: (
            unambiguous("/hello", b"/hello")
        ),
        "decide() for a blocked request (request info prebuilt)": lambda: engine.decide(
            snapshot, blocked
        ),
        "decide() for an allowlisted request (request info built)": lambda: allowing.decide(
            allow_snapshot, RequestInfo.from_asgi(scope, settings)
        ),
        "decide() for a bypassed request (request info prebuilt)": lambda: engine.decide(
            snapshot, bypassed
        ),
        "- of which the secret's constant-time check (HMAC)": lambda: token_matches(secret, token),
        "ASGI: a two-message response sent straight": lambda: drive(asgi_hello(asgi_sink)),
        "ASGI: the same through the bypass's Cache-Control marking": lambda: drive(
            asgi_hello(asgi_no_store(asgi_sink))
        ),
        "WSGI: start_response called straight": lambda: wsgi_sink("200 OK", wsgi_headers),
        "WSGI: the same through the bypass's Cache-Control marking": lambda: wsgi_no_store(
            wsgi_sink
        )("200 OK", wsgi_headers),
        **_django_snippets(workdir, response),
    }


def _django_snippets(workdir: Path, response: Any) -> dict[str, Callable[[], object]]:
    try:
        django_setup()
        from django.http import HttpResponse

        from maintenance_mode.django.middleware import _Pages, to_django
    except ImportError:
        return {}
    pages = _Pages()
    pages(response)  # headers checked once, as the middleware does per Response

    def marked() -> object:
        view_response = HttpResponse(b"hello", content_type="text/plain")
        view_response.headers["Cache-Control"] = "private, no-store"  # as _finish does
        return view_response

    return {
        "Django: to_django(503): HttpResponse + 8 headers checked one by one": lambda: to_django(
            response
        ),
        "Django: the 503 as the middleware builds it (headers checked once per Response)": (
            lambda: pages(response)
        ),
        "Django: HttpResponse(b'hello') straight, the bare view's own response": lambda: (
            HttpResponse(b"hello", content_type="text/plain")
        ),
        "Django: the same with the bypass's Cache-Control marking": marked,
    }
