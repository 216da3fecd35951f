"""A WSGI app whose on_change hook posts to ``$HOOK_URL`` (tests/test_hooks_fleet.py).

Its flag is the default one: ``$MAINTENANCE_REDIS`` or ``$MAINTENANCE_FILE``, as for
the commands. ``/probe`` stays available during maintenance and answers the worker's
PID, whether that worker's engine sees maintenance on and its phase (after a check of
its own),
so a test can wait until every worker has noticed a transition. Run with
``gunicorn -w 4 hooks_app:app``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

from maintenance_mode.hooks import webhook
from maintenance_mode.wsgi import MaintenanceMiddleware

CHECK_INTERVAL = 0.25


def inner(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/probe":
        time.sleep(0.02)  # hold this worker a moment, so concurrent probes reach the others
        snapshot = app.maintenance.poll()
        answer = {"pid": str(os.getpid()), "on": snapshot.on, "phase": snapshot.phase}
        body = json.dumps(answer).encode()
        kind = "application/json"
    else:
        body, kind = b"the app", "text/plain"
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


app = MaintenanceMiddleware(
    inner,
    check_interval=CHECK_INTERVAL,
    allow=["/probe"],
    on_change=[webhook(os.environ["HOOK_URL"], timeout=10)],
)
