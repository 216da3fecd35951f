"""maintenance_mode.fastapi: set-up time validation, the second look after routing, the docs.

In-process through ``httpx.ASGITransport`` (and raw ASGI calls for WebSockets), then one
real uvicorn run with its default ``--lifespan auto``. Also the plain ASGI middleware's
warning about ``@maintenance_exempt`` markers it cannot honour.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from maintenance_mode.asgi import MaintenanceMiddleware
from maintenance_mode.fastapi import MaintenanceMode, maintenance_exempt

if TYPE_CHECKING:
    from conftest import Server


def on() -> bool:
    """A flag callable that says maintenance is ON."""
    return True


def build(tmp_path: Path, **options: Any) -> FastAPI:
    """A shop: routes, a router, a static mount and a mounted sub-app, maintenance ON."""
    static = tmp_path / "static"
    static.mkdir(exist_ok=True)
    (static / "site.css").write_text("body { color: teal }")
    app = FastAPI()
    api = APIRouter(prefix="/api/v1")

    @app.get("/")
    async def home() -> dict[str, str]:
        return {"page": "home"}

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    @app.get("/items/special")  # shadowed by /items/{item_id}: the router never picks it
    @maintenance_exempt
    async def special() -> dict[str, str]:
        return {"item": "special"}

    @app.get("/contact")
    @maintenance_exempt
    async def contact() -> dict[str, str]:
        return {"page": "contact"}

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/status")
    @maintenance_exempt
    async def status() -> dict[str, str]:
        return {"status": "degraded"}

    @api.get("/orders")
    async def orders() -> list[str]:
        return []

    legacy = FastAPI()

    @legacy.get("/faq")
    async def faq() -> dict[str, str]:
        return {"page": "faq"}

    app.include_router(api)
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.mount("/legacy", legacy, name="legacy")
    MaintenanceMode(app, **{"flag": on, **options})
    return app


async def get(app: Any, path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path)


# -- set-up ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"alow": ["/faq"]}, "unknown option 'alow'", id="misspelt option"),
        pytest.param({"check_interval": -1}, "check_interval", id="bad value"),
        pytest.param({"bypass_staff": True}, "users that FastAPI does not have", id="staff"),
    ],
)
def test_a_bad_option_fails_when_set_up(options: dict[str, Any], message: str) -> None:
    app = FastAPI()
    with pytest.raises(ValueError, match=message) as failed:
        MaintenanceMode(app, **options)
    assert "\n" not in str(failed.value)
    assert app.user_middleware == []  # nothing half set up


def test_allow_docs_needs_a_fastapi_app() -> None:
    with pytest.raises(ValueError, match="allow_docs needs a FastAPI app"):
        MaintenanceMode(Starlette(), allow_docs=True, flag=on)


def test_an_app_that_is_not_starlette_is_refused() -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="needs a FastAPI or Starlette app"):
        MaintenanceMode(bare, flag=on)  # type: ignore[arg-type]


def test_the_engine_is_exposed(tmp_path: Path) -> None:
    app = FastAPI()
    ext = MaintenanceMode(app, flag=tmp_path / "maintenance.json")
    assert ext.maintenance.flag_file() == tmp_path / "maintenance.json"


# -- the second look ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/contact", 200, id="exempt endpoint"),
        pytest.param("/api/v1/status", 200, id="exempt endpoint in a router"),
        pytest.param("/api/v1/health", 200, id="route name in allow_views"),
        pytest.param("/legacy/faq", 200, id="mounted app's route, 'legacy:*'"),
        pytest.param("/static/site.css", 200, id="StaticFiles mount, allow_static"),
        pytest.param("/", 503, id="other route"),
        pytest.param("/api/v1/orders", 503, id="other route in a router"),
        pytest.param("/items/special", 503, id="exempt route shadowed by an earlier one"),
        pytest.param("/nowhere", 503, id="no route"),
        pytest.param("/static/missing.css", 200, id="missing static file: the app's 404"),
    ],
)
async def test_second_look_after_routing(tmp_path: Path, path: str, status: int) -> None:
    app = build(tmp_path, allow_views=["health", "legacy:*"])
    expected = 404 if path == "/static/missing.css" else status
    response = await get(app, path)
    assert response.status_code == expected
    if status == 503:
        assert "Retry-After" in response.headers


@pytest.mark.anyio
async def test_allow_static_false_blocks_the_static_mount(tmp_path: Path) -> None:
    app = build(tmp_path, allow_static=False)
    assert (await get(app, "/static/site.css")).status_code == 503
    assert (await get(app, "/contact")).status_code == 200


@pytest.mark.anyio
async def test_an_exempt_route_with_another_method_reaches_the_app(tmp_path: Path) -> None:
    app = build(tmp_path)
    assert (await get(app, "/contact", "POST")).status_code == 405  # the router's answer
    assert (await get(app, "/", "POST")).status_code == 503


@pytest.mark.anyio
async def test_off_everything_reaches_the_app(tmp_path: Path) -> None:
    app = build(tmp_path, flag=lambda: False)
    for path in ("/", "/api/v1/orders", "/contact"):
        assert (await get(app, path)).status_code == 200


@pytest.mark.anyio
async def test_a_plain_starlette_app(tmp_path: Path) -> None:
    async def page(request: Any) -> PlainTextResponse:
        return PlainTextResponse("page")

    @maintenance_exempt
    async def faq(request: Any) -> PlainTextResponse:
        return PlainTextResponse("faq")

    app = Starlette(
        routes=[
            Route("/", page, name="home"),
            Route("/faq", faq, name="faq"),
            Route("/help", page, name="help"),
        ]
    )
    MaintenanceMode(app, allow_views=["help"], flag=on)
    assert [(await get(app, p)).status_code for p in ("/", "/faq", "/help")] == [503, 200, 200]


async def websocket(app: Any, path: str) -> list[dict[str, Any]]:
    """One WebSocket handshake as a server offering websocket.http.response would run it."""
    sent: list[dict[str, Any]] = []
    incoming: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.disconnect", "code": 1000},
    ]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_an_exempt_websocket_is_accepted_and_another_refused() -> None:
    app = FastAPI()

    @app.websocket("/live")
    @maintenance_exempt
    async def live(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close()

    @app.websocket("/chat")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close()

    MaintenanceMode(app, flag=on)
    assert (await websocket(app, "/live"))[0]["type"] == "websocket.accept"
    refused = await websocket(app, "/chat")
    assert refused[0]["type"] == "websocket.http.response.start"
    assert refused[0]["status"] == 503


# -- the API docs -----------------------------------------------------------------------

DOCS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")


@pytest.mark.anyio
@pytest.mark.parametrize(("allow_docs", "status"), [(True, 200), (False, 503)])
async def test_docs_reachable_only_with_allow_docs(
    tmp_path: Path, allow_docs: bool, status: int
) -> None:
    app = build(tmp_path, allow_docs=allow_docs)
    for path in DOCS:
        assert (await get(app, path)).status_code == status, path
    assert (await get(app, "/")).status_code == 503


@pytest.mark.anyio
async def test_docs_paths_come_from_the_app() -> None:
    app = FastAPI(docs_url="/api-docs", redoc_url=None, openapi_url="/api/schema.json")
    MaintenanceMode(app, allow_docs=True, allow="/faq, /contact", flag=on)
    assert (await get(app, "/api-docs")).status_code == 200
    assert (await get(app, "/api/schema.json")).status_code == 200
    assert (await get(app, "/docs")).status_code == 503  # not this app's docs: not allowed
    assert (await get(app, "/redoc")).status_code == 503
    assert (await get(app, "/contact")).status_code == 404  # allowed: the app's own 404


# -- the plain ASGI middleware's warning ----------------------------------------------


def marked_app() -> FastAPI:
    app = FastAPI()
    api = APIRouter(prefix="/api")

    @api.get("/ping")
    @maintenance_exempt
    async def ping() -> str:
        return "pong"

    app.include_router(api)
    return app


@pytest.mark.anyio
async def test_plain_asgi_middleware_warns_once_about_markers() -> None:
    app = marked_app()
    app.add_middleware(MaintenanceMiddleware, flag=on)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        statuses = [(await get(app, "/api/ping")).status_code for _ in range(3)]
    assert statuses == [503, 503, 503]  # the marker does nothing here, as the warning says
    assert len(caught) == 1, [str(w.message) for w in caught]
    message = str(caught[0].message)
    assert "/api/ping" in message
    assert "maintenance_mode.fastapi" in message


def test_plain_asgi_middleware_warns_when_wrapping() -> None:
    with pytest.warns(UserWarning, match="@maintenance_exempt on /api/ping has no effect"):
        MaintenanceMiddleware(marked_app(), flag=on)


@pytest.mark.anyio
async def test_plain_asgi_middleware_is_silent_without_markers() -> None:
    app = FastAPI()

    @app.get("/")
    async def home() -> str:
        return "home"

    app.add_middleware(MaintenanceMiddleware, flag=on)
    assert (await get(app, "/")).status_code == 503  # warnings are errors in this suite


def test_the_integration_does_not_warn() -> None:
    app = marked_app()
    MaintenanceMode(app, flag=on)
    app.build_middleware_stack()  # warnings are errors in this suite


# -- a real uvicorn --------------------------------------------------------------------

MAIN = """
from fastapi import FastAPI
from maintenance_mode.fastapi import MaintenanceMode, maintenance_exempt

app = FastAPI()

@app.get("/")
async def home():
    return {"page": "home"}

@app.get("/contact")
@maintenance_exempt
async def contact():
    return {"page": "contact"}

@app.get("/healthcheck")
async def healthcheck():
    return {"status": "ok"}

MaintenanceMode(app, flag="maintenance.json", allow_views=["healthcheck"], allow_docs=True, EXTRA)
"""


def uvicorn(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "main:app"]


@pytest.mark.slow
def test_under_uvicorn(tmp_path: Path, run_server: Callable[..., Server]) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent(MAIN.replace(", EXTRA", "")))
    (tmp_path / "maintenance.json").touch()  # present = ON
    server = run_server(uvicorn, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    got = {p: server.http.get(server.base + p).status_code for p in ("/", "/contact", "/docs")}
    got["/healthcheck"] = server.http.get(server.base + "/healthcheck").status_code
    assert got == {"/": 503, "/contact": 200, "/docs": 200, "/healthcheck": 200}


@pytest.mark.slow
def test_a_bad_option_stops_uvicorn(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(textwrap.dedent(MAIN.replace("EXTRA", 'alow=["/faq"]')))
    done = subprocess.run(
        uvicorn(0),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "ValueError: maintenance-mode: unknown option 'alow'" in done.stderr
