"""A tiny ASGI app for the fleet test: its flag is a Redis key ($REDIS_URL).

``/probe`` is allowed during maintenance and answers with the worker's pid and
whether that worker's engine currently sees maintenance ON, so the test can
prove that every worker of every server followed a toggle. Run with
``uvicorn redis_app:app --workers 2``.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from typing import Any

from maintenance_mode.asgi import MaintenanceMiddleware
from maintenance_mode.redis import RedisFlag

CHECK_INTERVAL = 0.5


async def inner(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/probe":
        snapshot = app.maintenance._snapshot  # what this worker's engine believes now
        body = json.dumps({"pid": os.getpid(), "on": snapshot.on}).encode()
        kind = b"application/json"
    else:
        body, kind = b"hello from the fleet", b"text/plain"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = MaintenanceMiddleware(
    inner,
    flag=RedisFlag(os.environ["REDIS_URL"], socket_timeout=0.3),
    check_interval=CHECK_INTERVAL,
    allow=["/probe"],
)
