"""A bare WSGI app under the WSGI middleware, for ``maintenance ... --wait`` (test_cli_deploy.py).

Run it with ``gunicorn -w 2 wait_app:app``. The flag is the default one, as for the
``maintenance`` command: ``$MAINTENANCE_REDIS``, else ``$MAINTENANCE_FILE``. The
middleware's ``check_interval`` is ``$WAIT_CHECK_INTERVAL`` (default 1 s, the
library's default). Every response, the 503 and the status document included,
carries the serving process in ``X-Worker-Pid``, so a test can see which worker
answered what.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from maintenance_mode.wsgi import MaintenanceMiddleware

PID = str(os.getpid())


def _hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = b"the app itself"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


_wrapped = MaintenanceMiddleware(
    _hello,
    flag=None,
    check_interval=float(os.environ.get("WAIT_CHECK_INTERVAL", "1")),
)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The middleware's answer, with ``X-Worker-Pid`` added."""

    def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        return start_response(status, [*headers, ("X-Worker-Pid", PID)], *exc_info)

    return _wrapped(environ, start)
