"""The pure ASGI adapter, through the real protocol (httpx.ASGITransport) and a strict harness."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from conftest import BROWSER_ACCEPT
from maintenance_mode import MaintenanceState
from maintenance_mode.asgi import MaintenanceMiddleware
from maintenance_mode.state import write_state_atomic

pytestmark = pytest.mark.anyio

SECRET = "team-secret-0123456789"
Message = dict[str, Any]


async def hello(request: Request) -> Response:
    return PlainTextResponse(
        f"app:{request.url.path}", headers={"Cache-Control": "public, max-age=60"}
    )


async def echo_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def starlette_app(**options: Any) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", hello, methods=["GET", "POST", "HEAD"]),
            Route("/faq", hello),
            Route("/checkout", hello, methods=["GET", "POST"]),
            Route("/static/{name}", hello),
            WebSocketRoute("/ws", echo_ws),
        ]
    )
    app.add_middleware(MaintenanceMiddleware, **options)
    return app


def client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=kwargs.pop("client", ("198.51.100.1", 123))),
        base_url=kwargs.pop("base_url", "http://testserver"),
        **kwargs,
    )


@pytest.fixture
def on(flag_path: Path) -> Path:
    write_state_atomic(flag_path, MaintenanceState(reason="Upgrading the database"))
    return flag_path


async def test_off_passes_through_untouched(flag_path: Path) -> None:
    async with client(starlette_app(flag=flag_path)) as c:
        r = await c.get("/checkout")
    assert r.status_code == 200
    assert r.text == "app:/checkout"
    assert r.headers["cache-control"] == "public, max-age=60"


async def test_on_serves_503_forms(on: Path) -> None:
    async with client(starlette_app(flag=on, allow=["/faq", "/static/"])) as c:
        page = await c.get("/checkout", headers={"Accept": BROWSER_ACCEPT})
        problem = await c.get("/checkout", headers={"Accept": "application/json"})
        text = await c.get("/checkout", headers={"Accept": "text/plain"})
        head = await c.head("/", headers={"Accept": BROWSER_ACCEPT})
        anything = await c.get("/checkout")  # httpx sends Accept: */*
        lite = await c.get("/faq")
        static = await c.get("/static/app.css")
        sneaky = await c.get("/checkout?next=/faq")
    assert page.status_code == 503
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["vary"] == "Accept, Accept-Language"
    assert page.headers["retry-after"].isdigit()
    assert "Upgrading the database" in page.text
    assert problem.headers["content-type"] == "application/problem+json"
    assert json.loads(problem.content)["reason"] == "Upgrading the database"
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert anything.headers["content-type"] == "application/problem+json"
    assert head.status_code == 503
    assert head.content == b""
    assert head.headers["content-length"] == page.headers["content-length"]
    assert (lite.status_code, lite.text) == (200, "app:/faq")
    assert static.status_code == 200
    assert sneaky.status_code == 503


async def test_read_only(on: Path) -> None:
    async with client(starlette_app(flag=on, read_only=True)) as c:
        assert (await c.get("/checkout")).status_code == 200
        assert (await c.post("/checkout", content=b"x")).status_code == 503


async def test_bypass_header_cookie_and_no_store(on: Path) -> None:
    app = starlette_app(flag=on, bypass_secret=SECRET)
    async with client(app) as c:
        r = await c.get("/", headers={"X-Maintenance-Bypass": SECRET})
        assert (r.status_code, r.text) == (200, "app:/")
        assert r.headers["cache-control"] == "private, no-store"
        assert (await c.get("/", headers={"X-Maintenance-Bypass": "nope"})).status_code == 503

    async with client(app, base_url="https://testserver") as c:
        redirect = await c.get(f"/__maintenance__/{SECRET}")
        assert redirect.status_code == 303
        assert redirect.headers["location"] == "/"
        assert "maintenance_bypass" in c.cookies
        r = await c.get("/checkout")
        assert (r.status_code, r.text) == (200, "app:/checkout")
        c.cookies.clear()
        c.cookies.set("maintenance_bypass", "99999999999." + "0" * 64)
        assert (await c.get("/checkout")).status_code == 503


async def test_bypass_ip_and_proxies(on: Path) -> None:
    app = starlette_app(flag=on, bypass_ips=["10.1.0.0/16"], trusted_proxies="127.0.0.1")
    async with client(app, client=("10.1.2.3", 5)) as c:
        assert (await c.get("/")).status_code == 200
    async with client(app, client=("198.51.100.1", 5)) as c:
        spoofed = await c.get("/", headers={"X-Forwarded-For": "10.1.2.3"})
        assert spoofed.status_code == 503
    async with client(app, client=("127.0.0.1", 5)) as c:
        assert (await c.get("/", headers={"X-Forwarded-For": "10.1.2.3"})).status_code == 200
        forged = await c.get("/", headers={"X-Forwarded-For": "10.1.2.3, 198.51.100.9"})
        assert forged.status_code == 503


async def test_host_header_is_never_used(on: Path) -> None:
    async with client(starlette_app(flag=on, allow=["/faq"])) as c:
        r = await c.get("/checkout", headers={"Host": "example.com/faq?x="})
    assert r.status_code == 503


async def test_root_path_mount(on: Path) -> None:
    inner = starlette_app(flag=on, allow=["/faq"], bypass_secret=SECRET)
    outer = Starlette(routes=[Mount("/shop", app=inner)])
    async with client(outer, base_url="https://testserver") as c:
        assert (await c.get("/shop/faq")).status_code == 200
        assert (await c.get("/shop/checkout")).status_code == 503
        redirect = await c.get(f"/shop/__maintenance__/{SECRET}")
        assert redirect.headers["location"] == "/shop/"
        assert "Path=/shop/" in redirect.headers["set-cookie"]


async def test_flag_change_seen_without_restart(flag_path: Path) -> None:
    app = starlette_app(flag=flag_path, check_interval=0.05)
    async with client(app) as c:
        assert (await c.get("/")).status_code == 200
        write_state_atomic(flag_path, MaintenanceState())
        for _ in range(100):
            if (await c.get("/")).status_code == 503:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("maintenance ON not seen within 1 s")
        flag_path.unlink()
        for _ in range(100):
            if (await c.get("/")).status_code == 200:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("maintenance OFF not seen within 1 s")


# -- a strict harness for what httpx cannot drive: lifespan, websockets, odd scopes ----------


class Recorder:
    """A bare ASGI app that records the scopes it saw and answers lifespan and HTTP."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})


async def drive(app: Any, scope: dict[str, Any], incoming: list[Message]) -> list[Message]:
    queue = list(incoming)
    sent: list[Message] = []

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_lifespan_and_unknown_scopes_pass_through(on: Path) -> None:
    inner = Recorder()
    app = MaintenanceMiddleware(inner, flag=on)
    sent = await drive(
        app,
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    custom = {"type": "my.protocol"}
    await drive(app, custom, [])
    assert inner.scopes[-1] is custom


def ws_scope(extensions: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "headers": [],
        "client": ("198.51.100.1", 4000),
        "extensions": extensions or {},
    }


async def test_websocket_refused_with_503_when_the_server_offers_it(on: Path) -> None:
    inner = Recorder()
    app = MaintenanceMiddleware(inner, flag=on)
    sent = await drive(
        app, ws_scope({"websocket.http.response": {}}), [{"type": "websocket.connect"}]
    )
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 503
    assert (b"cache-control", b"no-store") in sent[0]["headers"]
    assert any(name == b"retry-after" for name, _ in sent[0]["headers"])
    assert inner.scopes == []


async def test_websocket_closed_before_accept_otherwise(on: Path) -> None:
    inner = Recorder()
    sent = await drive(
        MaintenanceMiddleware(inner, flag=on), ws_scope(), [{"type": "websocket.connect"}]
    )
    assert [m["type"] for m in sent] == ["websocket.close"]
    assert inner.scopes == []


async def test_websocket_passes_when_off(flag_path: Path) -> None:
    inner = Recorder()
    sent = await drive(
        MaintenanceMiddleware(inner, flag=flag_path), ws_scope(), [{"type": "websocket.connect"}]
    )
    assert [m["type"] for m in sent] == ["websocket.accept"]


async def test_disconnected_client_does_not_raise(on: Path) -> None:
    async def closed_send(message: Message) -> None:
        raise OSError("client went away")

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": None}
    await MaintenanceMiddleware(Recorder(), flag=on)(scope, receive, closed_send)


async def test_async_flag_callable(flag_path: Path) -> None:
    calls = 0

    async def flag() -> MaintenanceState:
        nonlocal calls
        calls += 1
        return MaintenanceState(reason="from an async store")

    app = starlette_app(flag=flag, check_interval=60)
    async with client(app) as c:
        for _ in range(5):
            r = await c.get("/", headers={"Accept": "application/json"})
            assert r.json()["reason"] == "from an async store"
    assert calls == 1
