"""A small FastAPI app behind maintenance-mode, served by real servers in the end-to-end tests.

Run it as ``uvicorn fastapi_app:app`` (or ``hypercorn fastapi_app:app``) with this
folder on ``PYTHONPATH`` and these environment variables:

* ``MAINTENANCE_FILE``: the flag file (absent means maintenance OFF);
* ``MAINTENANCE_BYPASS_SECRET``: the team's bypass secret.

Routes: ``/`` (home), ``/api/v1/...`` (an ``APIRouter`` with JSON endpoints,
including ``/api/v1/health``), ``/faq`` (a lite route), ``/pid`` (the worker's PID
in ``X-Worker-Pid``), ``/lifespan`` (whether the lifespan start-up ran in this
worker) and the WebSocket ``/ws`` (echo).

``fastapi_app:app_without_ws_http_response`` is the same app seen through a
server that does not offer the ``websocket.http.response`` extension (as
Daphne), to exercise the close-before-accept refusal on a real server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from maintenance_mode.asgi import MaintenanceMiddleware

STARTED: dict[str, int] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    STARTED["pid"] = os.getpid()  # proves the lifespan reached the app through the middleware
    yield
    STARTED.clear()


app = FastAPI(lifespan=lifespan)
api = APIRouter(prefix="/api/v1")


@app.get("/", response_class=HTMLResponse)
async def home() -> str:
    return "<!doctype html><title>Shop</title><h1>Welcome to the shop</h1>"


@app.get("/faq", response_class=PlainTextResponse)
async def faq() -> str:
    return "FAQ: orders ship within two days."


@app.get("/pid")
async def pid(response: Response) -> dict[str, int]:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return {"pid": os.getpid()}


@app.get("/lifespan")
async def lifespan_ran() -> dict[str, object]:
    return {"started": STARTED.get("pid") == os.getpid(), "pid": os.getpid()}


@api.get("/items")
async def items() -> list[dict[str, object]]:
    return [{"id": 1, "name": "teapot"}, {"id": 2, "name": "kettle"}]


@api.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, object]:
    return {"id": item_id, "name": "teapot"}


@api.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(f"echo: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        return


app.include_router(api)

# Added last, so it is the outermost user middleware: it sees every request first.
app.add_middleware(
    MaintenanceMiddleware,
    flag=os.environ["MAINTENANCE_FILE"],
    allow=["/faq", "/api/v1/health"],  # app-relative paths: the router's prefix included
    bypass_secret=os.environ["MAINTENANCE_BYPASS_SECRET"],
    bypass_cookie_secure=False,  # the tests speak plain HTTP to 127.0.0.1
    check_interval=0.5,
)


async def app_without_ws_http_response(scope: Scope, receive: Receive, send: Send) -> None:
    """The app as a server without the ``websocket.http.response`` extension would run it."""
    if scope["type"] == "websocket":
        extensions = {
            k: v
            for k, v in (scope.get("extensions") or {}).items()
            if k != "websocket.http.response"
        }
        scope = {**scope, "extensions": extensions}
    await app(scope, receive, send)
