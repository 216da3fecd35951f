"""Tiny apps behind maintenance-mode for the soak test (tests/test_soak.py).

* ``soak_app:asgi_app``: a Starlette app under the ASGI middleware (run it with uvicorn);
* ``soak_app:wsgi_app``: a bare WSGI app under the WSGI middleware (run it with gunicorn).

Every route answers ``app:<path>`` with the serving process in ``X-Worker-Pid``.
Environment variables:

* ``MAINTENANCE_FILE``: the flag file (absent means maintenance OFF);
* ``SOAK_CHECK_INTERVAL``: the middleware's ``check_interval`` (default 0.05 s).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

OPTIONS: dict[str, Any] = {
    "flag": os.environ["MAINTENANCE_FILE"],
    "check_interval": float(os.environ.get("SOAK_CHECK_INTERVAL", "0.05")),
    "allow": ["/faq"],
}


PID = str(os.getpid())


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("app:" + request.scope["path"], headers={"X-Worker-Pid": PID})


asgi_app = Starlette(routes=[Route("/{rest:path}", echo)])
asgi_app.add_middleware(ASGIMaintenance, **OPTIONS)


def _wsgi_echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = ("app:" + environ["PATH_INFO"]).encode("latin-1")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Worker-Pid", str(os.getpid())),  # gunicorn forks after import: ask each time
        ],
    )
    return [body]


wsgi_app = WSGIMaintenance(_wsgi_echo, **OPTIONS)
