"""Partial maintenance: named components go down with their own reason and ETA (issue 16).

In-process clients for ASGI (Starlette), WSGI, Flask and FastAPI; Django in
tests/test_components_django.py; one real uvicorn server at the end.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from maintenance_mode import control
from maintenance_mode.asgi import MaintenanceMiddleware as AsgiMiddleware
from maintenance_mode.cli import main
from maintenance_mode.core import Maintenance, maintenance_component
from maintenance_mode.hooks import Event
from maintenance_mode.state import load_state
from maintenance_mode.wsgi import MaintenanceMiddleware as WsgiMiddleware

HTML = "<!doctype html><html><head><title>app</title></head><body><p>app page</p></body></html>"
COMPONENTS: dict[str, Any] = {
    "payments": {"label": "Payments and checkout", "paths": ["/pay/"], "views": ["checkout"]},
    "search": {"label": "Site search", "paths": ["/search"]},
    "blog": {"label": "The blog", "paths": ["/blog/"]},
}
OPTIONS: dict[str, Any] = {"components": COMPONENTS, "check_interval": 0.001}


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse(HTML)


def _starlette() -> Starlette:
    return Starlette(routes=[Route("/{rest:path}", _page, methods=["GET", "POST"])])


def _wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = HTML.encode()
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def asgi_client(flag: Path, **extra: Any) -> httpx.Client:
    """A sync client over the ASGI middleware (httpx's ASGITransport needs async)."""
    app = AsgiMiddleware(_starlette(), flag=flag, **{**OPTIONS, **extra})
    return _SyncAsgi(app)  # type: ignore[return-value]


class _SyncAsgi:
    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import asyncio

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(go())


def wsgi_client(flag: Path, **extra: Any) -> httpx.Client:
    app = WsgiMiddleware(_wsgi_app, flag=flag, **{**OPTIONS, **extra})
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://test")


CLIENTS = {"asgi": asgi_client, "wsgi": wsgi_client}


@pytest.fixture(params=sorted(CLIENTS))
def make_client(request: pytest.FixtureRequest) -> Callable[..., httpx.Client]:
    return CLIENTS[request.param]  # type: ignore[return-value]


def _in(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


def test_a_down_component_gets_its_own_503_and_the_rest_the_banner(
    flag_path: Path, make_client: Callable[..., httpx.Client]
) -> None:
    control.on(flag_path, component="payments", reason="Switching the card provider", eta=_in(2))
    client = make_client(flag_path)
    blocked = client.get("/pay/now", headers={"Accept": "text/html"})
    assert blocked.status_code == 503
    assert "Switching the card provider" in blocked.text
    assert 7000 <= int(blocked.headers["Retry-After"]) <= 7200
    assert blocked.headers["Cache-Control"] == "no-store"
    problem = client.get("/pay/now", headers={"Accept": "application/problem+json"})
    assert problem.status_code == 503
    assert problem.headers["Content-Type"].startswith("application/problem+json")
    assert problem.json()["reason"] == "Switching the card provider"
    text = client.get("/pay/now", headers={"Accept": "text/plain"})
    assert text.status_code == 503
    assert "Switching the card provider" in text.text
    # Everything else passes, and its HTML names the component that is down.
    other = client.get("/search?q=x", headers={"Accept": "text/html"})
    assert other.status_code == 200
    assert "app page" in other.text
    assert "Payments and checkout" in other.text
    assert "/payx" not in other.text
    assert client.get("/payments-info").status_code == 200  # a prefix on a segment boundary
    status = client.get("/__maintenance__/status").json()
    assert status["status"] == {
        "indicator": "minor",  # the site is up, a part of it is not (Statuspage's word)
        "description": "Partial maintenance: Payments and checkout",
    }
    assert status["retry_after"] is None
    assert status["components"] == [
        {"id": "payments", "name": "Payments and checkout", "status": "under_maintenance"},
        {"id": "search", "name": "Site search", "status": "operational"},
        {"id": "blog", "name": "The blog", "status": "operational"},
    ]
    (entry,) = status["scheduled_maintenances"]
    assert entry["components"] == ["payments"]
    assert entry["name"] == "Switching the card provider"


def test_two_components_down_each_get_their_own_eta(
    flag_path: Path, make_client: Callable[..., httpx.Client]
) -> None:
    control.on(flag_path, component="payments", reason="Provider switch", eta=_in(1))
    control.on(flag_path, component="search", reason="Re-indexing", eta=_in(5), kind="unplanned")
    client = make_client(flag_path)
    pay = client.get("/pay/", headers={"Accept": "application/problem+json"})
    search = client.get("/search", headers={"Accept": "application/problem+json"})
    assert (pay.status_code, search.status_code) == (503, 503)
    assert pay.json()["reason"] == "Provider switch"
    assert search.json()["reason"] == "Re-indexing"
    assert 3000 <= int(pay.headers["Retry-After"]) <= 3600
    assert 17000 <= int(search.headers["Retry-After"]) <= 18000
    page = client.get("/blog/post", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Payments and checkout" in page.text
    assert "Site search" in page.text
    status = client.get("/__maintenance__/status").json()
    words = {c["id"]: c["status"] for c in status["components"]}
    assert words == {
        "payments": "under_maintenance",
        "search": "major_outage",
        "blog": "operational",
    }
    (incident,) = status["incidents"]
    assert incident["components"] == ["search"]
    assert status["status"] == {
        "indicator": "minor",
        "description": "Partial outage: Payments and checkout, Site search",
    }


def test_whole_site_maintenance_wins_over_components(
    flag_path: Path, make_client: Callable[..., httpx.Client]
) -> None:
    control.on(flag_path, component="payments", reason="Provider switch", eta=_in(1))
    control.on(flag_path, reason="Database upgrade", eta=_in(3))
    client = make_client(flag_path)
    for path in ("/pay/x", "/blog/", "/"):
        response = client.get(path, headers={"Accept": "application/problem+json"})
        assert response.status_code == 503, path
        assert response.json()["reason"] == "Database upgrade"
    status = client.get("/__maintenance__/status").json()
    assert status["status"]["indicator"] == "maintenance"
    assert {c["status"] for c in status["components"]} == {"operational"}
    # The site's end brings the component's maintenance back, untouched.
    control.off(flag_path)
    client = make_client(flag_path)
    assert client.get("/").status_code == 200
    response = client.get("/pay/x", headers={"Accept": "application/problem+json"})
    assert response.json()["reason"] == "Provider switch"


def test_read_only_component_blocks_only_its_writes(
    flag_path: Path, make_client: Callable[..., httpx.Client]
) -> None:
    control.on(flag_path, component="blog", reason="Moving the images", read_only=True)
    client = make_client(flag_path)
    assert client.get("/blog/post").status_code == 200
    assert client.request("POST", "/blog/comment").status_code == 503
    assert client.request("POST", "/pay/now").status_code == 200  # other components write


def test_bypass_rules_apply_per_component(
    flag_path: Path, make_client: Callable[..., httpx.Client]
) -> None:
    change = control.on(flag_path, component="payments", reason="Provider switch", secret=True)
    assert change.secret is not None
    client = make_client(flag_path, bypass_ips=["127.0.0.0/8"])
    assert client.get("/pay/now").status_code in (200, 503)  # the test client's peer varies
    client = make_client(flag_path)
    assert client.get("/pay/now").status_code == 503
    token = client.get("/pay/now", headers={"X-Maintenance-Bypass": change.secret})
    assert token.status_code == 200
    assert token.headers["Cache-Control"] == "private, no-store"


def test_unknown_components_are_ignored(
    flag_path: Path, make_client: Callable[..., httpx.Client]
) -> None:
    control.on(flag_path, component="uploads", reason="Not configured in the app")
    client = make_client(flag_path)
    assert client.get("/pay/").status_code == 200
    assert client.get("/uploads/").status_code == 200
    assert "<strong>" not in client.get("/", headers={"Accept": "text/html"}).text


def test_no_component_down_keeps_the_fast_path(flag_path: Path) -> None:
    """Components configured but none down: adapters skip the engine, as with none at all."""
    engine = Maintenance(flag=flag_path, **OPTIONS)
    engine.poll()
    assert engine.off_until > 0
    control.on(flag_path, component="payments", reason="x")
    engine.invalidate()
    snapshot = engine.poll()
    assert engine.off_until == 0.0
    assert list(snapshot.down) == ["payments"]
    control.off(flag_path, component="payments")
    engine.invalidate()
    assert not engine.poll().down
    assert engine.off_until > 0


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_components_window_starts_and_ends_by_itself(flag_path: Path) -> None:
    start = _in(3)
    control.schedule(
        flag_path,
        component="search",
        start=start,
        end=start + timedelta(hours=2),
        reason="Re-indexing",
        auto_end=True,
    )
    events: list[Event] = []
    app = AsgiMiddleware(_starlette(), flag=flag_path, on_change=events.append, **OPTIONS)
    clock = _Clock(start - timedelta(hours=1))
    app.maintenance._clock = clock
    client = _SyncAsgi(app)
    assert client.get("/search").status_code == 200
    status = client.get("/__maintenance__/status").json()
    (ahead,) = status["scheduled_maintenances"]
    assert ahead["status"] == "scheduled"
    assert ahead["components"] == ["search"]
    clock.now = start + timedelta(minutes=1)
    app.maintenance.invalidate()
    response = client.get("/search", headers={"Accept": "application/problem+json"})
    assert response.status_code == 503
    assert response.json()["reason"] == "Re-indexing"
    assert client.get("/pay/").status_code == 200
    clock.now = start + timedelta(hours=2, minutes=1)
    app.maintenance.invalidate()
    assert client.get("/search").status_code == 200
    _wait_for(lambda: len(events) >= 2)
    assert sorted((e.name, e.component) for e in events) == [
        ("ended", "search"),
        ("started", "search"),
    ]
    started = next(e for e in events if e.name == "started")
    assert started.key.startswith("started:search:")
    assert started.to_json()["component"] == "search"


def test_expiry_per_component(flag_path: Path) -> None:
    control.on(flag_path, component="payments", reason="Short", expires="1h")
    control.on(flag_path, component="blog", reason="Long", expires="5h")
    app = AsgiMiddleware(_starlette(), flag=flag_path, **OPTIONS)
    app.maintenance._clock = _Clock(_in(2))
    app.maintenance.invalidate()
    app.maintenance.poll()  # evaluated two hours on: a due check may serve the last answer
    client = _SyncAsgi(app)
    assert client.get("/pay/").status_code == 200
    assert client.get("/blog/").status_code == 503


def test_hooks_fire_once_per_component_change(flag_path: Path) -> None:
    events: list[Event] = []
    lock = threading.Lock()

    def hook(event: Event) -> None:
        with lock:
            events.append(event)

    engines = [Maintenance(flag=flag_path, on_change=hook, **OPTIONS) for _ in range(3)]
    for engine in engines:
        engine.poll()
    control.on(flag_path, component="payments", reason="Provider switch")
    for engine in engines:
        engine.invalidate()
        engine.poll()
    _wait_for(lambda: len(events) >= 1)
    control.update(flag_path, "Half way", component="payments")
    for engine in engines:
        engine.invalidate()
        engine.poll()
    _wait_for(lambda: len(events) >= 2)
    import time

    time.sleep(0.3)  # any duplicate would have landed by now
    assert sorted((e.name, e.component) for e in events) == [
        ("started", "payments"),
        ("updated", "payments"),
    ]


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "message"),
    [
        pytest.param({"Pay": {}}, "'Pay' is not a component name", id="upper-case name"),
        pytest.param({"pay": {"lable": "x"}}, "did you mean 'label'", id="unknown key"),
        pytest.param({"pay": {"paths": ["pay"]}}, "must be a path starting with '/'", id="path"),
        pytest.param({"pay": {"views": ["a b"]}}, "is not a view name", id="view"),
        pytest.param({"pay": {"link": "javascript:x"}}, "components.pay.link", id="link"),
    ],
)
def test_bad_components_option_is_one_line(components: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Maintenance(flag="unused.json", components=components)
    assert "\n" not in str(raised.value)


def test_the_link_defaults_to_the_first_path(flag_path: Path) -> None:
    control.on(flag_path, component="search", reason="x")
    engine = Maintenance(
        flag=flag_path,
        components={**COMPONENTS, "blog": {"label": "Blog", "paths": ["/blog/"], "link": "/b"}},
    )
    _, down, up = engine.poll().views
    assert [(v.name, v.link) for v in down] == [("search", "/search")]
    assert [(v.name, v.label, v.link) for v in up] == [
        ("payments", "Payments and checkout", "/pay/"),
        ("blog", "Blog", "/b"),
    ]


# -- control and CLI -----------------------------------------------------------------------


def test_cli_component_round_trip(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = str(flag_path)
    code = main(
        [
            *("--file", file, "on", "--component", "payments", "--component", "search"),
            *("--reason", "Provider switch", "--eta", "2h"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Component search is ON (started)" in out
    doc = load_state(flag_path.read_bytes())
    assert sorted(doc.components) == ["payments", "search"]
    assert doc.started_at is None  # the site itself stays up
    assert main(["--file", file, "update", "--component", "payments", "Half way"]) == 0
    capsys.readouterr()
    assert main(["--file", file, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["on"] is False
    assert status["components"]["payments"]["on"] is True
    assert status["components"]["payments"]["state"]["updates"][0]["text"] == "Half way"
    assert main(["--file", file, "off", "--component", "payments"]) == 0
    capsys.readouterr()
    assert main(["--file", file, "status"]) == 0
    out = capsys.readouterr().out
    assert "Component payments is OFF" in out
    assert "Component search is ON" in out
    start = _in(50).isoformat()
    code = main(
        ["--file", file, "schedule", "--component", "blog", "--start", start, "--end", "2h"]
    )
    assert code == 0
    doc = load_state(flag_path.read_bytes())
    assert doc.components["blog"].windows[0].start.isoformat() == start
    assert main(["--file", file, "off", "--component", "search", "--purge"]) == 0
    assert "search" not in load_state(flag_path.read_bytes()).components


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["on", "--component", "Pay Ments"], "is not a component name", id="name"),
        pytest.param(["on", "--read-only"], "--read-only goes with --component", id="read-only"),
        pytest.param(["update", "--component", "pay", "x"], "component 'pay' is not on", id="off"),
    ],
)
def test_cli_component_mistakes_are_one_line(
    flag_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["--file", str(flag_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_removing_the_last_component_removes_a_document_of_components_only(
    flag_path: Path,
) -> None:
    control.on(flag_path, component="payments", reason="x")
    control.off(flag_path, component="payments", purge=True)
    assert not flag_path.exists()  # a bare document would mean ON for the whole site


# -- Flask and FastAPI: views by name and by decorator -------------------------------------


def _flask_app(flag: Path) -> Flask:
    from maintenance_mode.flask import MaintenanceMode

    app = Flask(__name__)

    @app.get("/checkout")
    def checkout() -> str:
        return HTML

    @app.get("/cart")
    @maintenance_component("payments")
    def cart() -> str:
        return HTML

    @app.get("/about")
    def about() -> str:
        return HTML

    MaintenanceMode(app, flag=str(flag), **OPTIONS)
    return app


def test_flask_components_by_path_view_and_decorator(flag_path: Path) -> None:
    control.on(flag_path, component="payments", reason="Provider switch", eta=_in(0.5))
    client = _flask_app(flag_path).test_client()
    for path in ("/checkout", "/cart", "/pay/x"):
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 503, path
        assert "Provider switch" in response.get_data(as_text=True)
        assert 1500 <= int(response.headers["Retry-After"]) <= 1800
    about = client.get("/about", headers={"Accept": "text/html"})
    assert about.status_code == 200
    assert "Payments and checkout" in about.get_data(as_text=True)
    status = client.get("/__maintenance__/status").get_json()
    assert status["components"][0]["status"] == "under_maintenance"
    control.off(flag_path, component="payments")
    client = _flask_app(flag_path).test_client()
    assert client.get("/cart").status_code == 200


def test_fastapi_components_by_route_name_and_decorator(flag_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse as FastHTML

    from maintenance_mode.fastapi import MaintenanceMode

    app = FastAPI()

    @app.get("/orders/checkout", name="checkout", response_class=FastHTML)
    def checkout() -> str:
        return HTML

    @app.get("/orders/cart", response_class=FastHTML)
    @maintenance_component("payments")
    def cart() -> str:
        return HTML

    @app.get("/about", response_class=FastHTML)
    def about_page() -> str:
        return HTML

    control.on(flag_path, component="payments", reason="Provider switch", eta=_in(0.5))
    MaintenanceMode(app, flag=str(flag_path), **OPTIONS)
    client = _SyncAsgi(app)
    for path in ("/orders/checkout", "/orders/cart"):
        response = client.get(path, headers={"Accept": "application/problem+json"})
        assert response.status_code == 503, path
        assert response.json()["reason"] == "Provider switch"
        assert 1500 <= int(response.headers["Retry-After"]) <= 1800
    about = client.get("/about", headers={"Accept": "text/html"})
    assert about.status_code == 200
    assert "Payments and checkout" in about.text


# -- a real server -------------------------------------------------------------------------


def test_components_under_uvicorn(
    flag_path: Path, tmp_path: Path, run_server: Callable[..., Any]
) -> None:
    module = tmp_path / "components_app.py"
    module.write_text(
        "from starlette.applications import Starlette\n"
        "from starlette.responses import HTMLResponse\n"
        "from starlette.routing import Route\n"
        "from maintenance_mode.asgi import MaintenanceMiddleware\n"
        f"HTML = {HTML!r}\n"
        "async def page(request):\n"
        "    return HTMLResponse(HTML)\n"
        "app = MaintenanceMiddleware(\n"
        "    Starlette(routes=[Route('/{rest:path}', page)]),\n"
        f"    flag={str(flag_path)!r},\n"
        f"    components={COMPONENTS!r},\n"
        ")\n"
    )
    server = run_server(
        lambda port: [sys.executable, "-m", "uvicorn", "--port", str(port), "components_app:app"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path)},
    )
    base = f"http://127.0.0.1:{server.port}"
    control.on(flag_path, component="payments", reason="Provider switch", eta=_in(1))
    _wait_for(lambda: httpx.get(base + "/pay/").status_code == 503)
    blocked = httpx.get(base + "/pay/", headers={"Accept": "text/html"})
    assert "Provider switch" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 3000
    page = httpx.get(base + "/blog/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Payments and checkout" in page.text
    control.off(flag_path, component="payments")
    _wait_for(lambda: httpx.get(base + "/pay/").status_code == 200)


def test_whole_site_maintenance_is_no_component_transition(flag_path: Path) -> None:
    events: list[Event] = []
    engine = Maintenance(flag=flag_path, on_change=events.append, **OPTIONS)
    engine.poll()
    control.on(flag_path, component="payments", reason="Provider switch")
    for change in (None, "site on", "site off"):
        if change == "site on":
            control.on(flag_path, reason="Database upgrade")
        elif change == "site off":
            control.off(flag_path)
        engine.invalidate()
        engine.poll()
    _wait_for(lambda: len(events) >= 3)
    import time

    time.sleep(0.3)  # any extra event would have landed by now
    # Hooks run in threads of their own: compare without their order.
    assert sorted((e.name, e.component or "") for e in events) == [
        ("ended", ""),
        ("started", ""),
        ("started", "payments"),
    ]


def test_flask_command_takes_component(flag_path: Path) -> None:
    app = _flask_app(flag_path)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["maintenance", "on", "--component", "payments", "--read-only", "--reason", "Moving"]
    )
    assert result.exit_code == 0, result.output
    assert "Component payments is ON (started)" in result.output
    part = load_state(flag_path.read_bytes()).components["payments"]
    assert part.read_only
    assert part.reason == "Moving"
    control.on(flag_path, component="uploads", reason="Not in the app's option")
    result = runner.invoke(args=["maintenance", "status"])
    assert "Component payments is ON (read-only: only its writes are blocked)" in result.output
    assert "'uploads' is not in the app's components option" in result.output
    result = runner.invoke(args=["maintenance", "off", "--component", "payments"])
    assert result.exit_code == 0, result.output
    assert not control.status(flag_path).components["payments"].on


def test_plain_asgi_warns_about_the_decorator_it_cannot_see(flag_path: Path) -> None:
    @maintenance_component("payments")
    async def cart(request: Request) -> HTMLResponse:
        return HTMLResponse(HTML)

    app = Starlette(routes=[Route("/cart", cart)])
    with pytest.warns(UserWarning, match="@maintenance_component on /cart has no effect"):
        AsgiMiddleware(app, flag=flag_path, **OPTIONS)


def test_wait_follows_a_components_change(flag_path: Path) -> None:
    """``maintenance on --component ... --wait`` returns once the app lists the component
    down (indicator ``minor``: the site is up), and ``off`` once it lists it operational."""
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    app = WsgiMiddleware(_wsgi_app, flag=flag_path, components=COMPONENTS, check_interval=0.2)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/__maintenance__/status"
    try:
        change = control.on(flag_path, component="payments", reason="Provider switch")
        control.wait(url, change, timeout=10, settle=0.3)
        document = httpx.get(url).json()
        assert document["status"]["indicator"] == "minor"
        assert document["components"][0]["status"] == "under_maintenance"
        # A document from before the change does not satisfy a wait for it.
        stale = {**document, "components": [{**document["components"][0], "status": "operational"}]}
        assert not control._serves(stale, change.status)
        change = control.off(flag_path, component="payments")
        control.wait(url, change, timeout=10, settle=0.3)
        assert httpx.get(url).json()["status"]["indicator"] == "none"
        with pytest.raises(control.ControlError, match="did not serve the new state"):
            control.wait(
                url,
                control.on(tmp := flag_path.with_name("other.json"), component="payments"),
                timeout=1,
                settle=0.3,
            )
        tmp.unlink()
    finally:
        server.shutdown()
        server.server_close()


def test_a_components_window_is_announced_in_the_banner(flag_path: Path) -> None:
    """Inside its announcement period, a component's window is announced on the app's pages
    (with the component's label) as a site window is; not before, and not once it started."""
    start = _in(30)
    control.schedule(
        flag_path,
        component="search",
        start=start,
        end=start + timedelta(hours=2),
        reason="Re-indexing",
        announce="24h",
    )
    app = AsgiMiddleware(_starlette(), flag=flag_path, **OPTIONS)
    clock = _Clock(start - timedelta(hours=25))
    app.maintenance._clock = clock
    client = _SyncAsgi(app)
    page = client.get("/blog/", headers={"Accept": "text/html"})
    assert "mm-banner" not in page.text  # not announced yet
    clock.now = start - timedelta(hours=23)
    app.maintenance.invalidate()
    page = client.get("/blog/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Planned maintenance (Site search):" in page.text
    assert "Re-indexing" in page.text
    assert "The rest of the site keeps working." in page.text
    assert client.get("/search").status_code == 200  # announced, not down
    # A site window announced at the same time keeps the banner the site's own.
    control.schedule(flag_path, start=start, end=start + timedelta(hours=1), reason="Whole")
    app.maintenance.invalidate()
    page = client.get("/blog/", headers={"Accept": "text/html"})
    assert "Planned maintenance:" in page.text
    assert "Site search" not in page.text
    control.clear_schedule(flag_path)
    app.maintenance.invalidate()
    assert "Planned maintenance (Site search):" in client.get("/blog/").text
    clock.now = start + timedelta(minutes=1)  # started: the component is down
    app.maintenance.invalidate()
    page = client.get("/blog/", headers={"Accept": "text/html"})
    assert "Planned maintenance" not in page.text
    assert "Part of the site is under maintenance:" in page.text
