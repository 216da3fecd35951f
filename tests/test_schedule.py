"""Maintenance over time, with a controllable clock: windows, expiry, hooks, status, banner."""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from maintenance_mode import Maintenance, MaintenanceState
from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMiddleware
from maintenance_mode.core import RequestInfo
from maintenance_mode.hooks import Event
from maintenance_mode.schedule import evaluate
from maintenance_mode.state import ETARange, Window, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMiddleware

T0 = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
WINDOW = Window(
    start=T0,
    end=ETARange(earliest=T0 + 2 * HOUR, latest=T0 + 3 * HOUR),
    timezone="Europe/Paris",
    reason="Payment provider switch",
    affected=("checkout",),
    unaffected=("blog", "FAQ"),
)
SCHEDULED = MaintenanceState(windows=(WINDOW,))


@pytest.mark.parametrize(
    ("doc", "at", "on", "phase"),
    [
        pytest.param(MaintenanceState(), T0, True, "on", id="bare document: on"),
        pytest.param(SCHEDULED, T0 - 72 * HOUR, False, "scheduled", id="ahead, not announced"),
        pytest.param(SCHEDULED, T0 - 47 * HOUR, False, "announced", id="within 48 h"),
        pytest.param(SCHEDULED, T0, True, "active", id="starts by itself"),
        pytest.param(SCHEDULED, T0 + 5 * HOUR, True, "active", id="no auto-end: stays on"),
        pytest.param(
            MaintenanceState(windows=(WINDOW.model_copy(update={"auto_end": True}),)),
            T0 + 3 * HOUR,
            False,
            "idle",
            id="auto-end at the latest end",
        ),
        pytest.param(
            MaintenanceState(started_at=T0, expires_at=T0 + HOUR),
            T0 + HOUR,
            False,
            "idle",
            id="expired",
        ),
        pytest.param(
            MaintenanceState(started_at=T0, expires_at=T0 + HOUR),
            T0 + HOUR - timedelta(seconds=1),
            True,
            "on",
            id="not yet expired",
        ),
        pytest.param(
            MaintenanceState(started_at=T0, windows=(WINDOW,)),
            T0 - 72 * HOUR,
            True,
            "on",
            id="on by hand with a window ahead",
        ),
    ],
)
def test_evaluate(doc: MaintenanceState, at: datetime, on: bool, phase: str) -> None:
    found = evaluate(doc, at)
    assert (found.on, found.phase) == (on, phase)


def test_active_window_shows_its_own_details() -> None:
    found = evaluate(SCHEDULED, T0 + HOUR)
    assert found.state is not None
    assert found.state.reason == "Payment provider switch"
    assert found.state.started_at == T0
    assert found.state.eta_latest == T0 + 3 * HOUR


def test_ended_banner_period() -> None:
    ended = MaintenanceState(started_at=T0, ended_at=T0 + HOUR, expires_at=T0 + HOUR)
    assert evaluate(ended, T0 + 2 * HOUR, back_for=2 * HOUR).phase == "ended"
    assert evaluate(ended, T0 + 4 * HOUR, back_for=2 * HOUR).phase == "idle"
    assert evaluate(ended, T0 + 2 * HOUR).phase == "idle"  # no "we're back" unless asked


# -- the engine over time ----------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 - 72 * HOUR)


def engine(flag: Path, clock: Clock, **options: Any) -> Maintenance:
    m = Maintenance(flag=flag, check_interval=3600, **options)
    m._clock = clock
    m.invalidate()
    return m


def at(m: Maintenance, clock: Clock, when: datetime) -> Any:
    clock.now = when
    m.invalidate()
    return m.poll()


def get(m: Maintenance, path: str = "/", **fields: Any) -> Any:
    values: dict[str, Any] = {"method": "GET", "path": path, "root": "", "peer": "198.51.100.9"}
    values.update(fields)
    return m.decide(m.poll(), RequestInfo(**values))


def test_a_window_from_announcement_to_overrun(flag_path: Path, clock: Clock) -> None:
    write_state_atomic(flag_path, SCHEDULED)
    m = engine(flag_path, clock)
    assert at(m, clock, T0 - 72 * HOUR).phase == "scheduled"
    assert m.off_until > 0  # nothing to do: the fast path is on
    assert get(m).action == "pass"

    snap = at(m, clock, T0 - 47 * HOUR)
    assert (snap.on, snap.phase) == (False, "announced")
    assert m.off_until == 0  # the banner needs the engine
    decision = get(m)
    assert decision.action == "pass"
    assert decision.banner is not None
    assert b"data-nosnippet" in decision.banner
    assert b"#2456c7" in decision.banner  # branded like the page (the default accent)
    assert b"Payment provider switch" in decision.banner
    assert b"checkout" in decision.banner
    assert b"Paris time" in decision.banner  # the window's zone, with the exact time
    assert b"UTC" in decision.banner
    french = get(m, accept_language="fr-FR,fr;q=0.9").banner
    assert "Maintenance planifiée".encode() in french
    assert b'lang="fr"' in french
    assert b"heure de Paris" in french
    assert get(m, method="HEAD").banner is None

    snap = at(m, clock, T0 + HOUR)
    assert (snap.on, snap.phase) == (True, "active")
    blocked = get(m, accept="application/json")
    assert blocked.action == "respond"
    doc = json.loads(blocked.response.body)
    assert doc["reason"] == "Payment provider switch"
    assert doc["retry_after"] == 3600  # until the earliest end
    assert doc["overrun"] is False

    at(m, clock, T0 + 4 * HOUR)  # past the latest end, no auto-end: still down, and says so
    page = get(m, accept="text/html")
    assert page.response.status == 503
    assert b"taking longer than we planned" in page.response.body


def test_expiry_switches_off_and_warns(
    flag_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    write_state_atomic(flag_path, MaintenanceState(started_at=T0, expires_at=T0 + HOUR))
    m = engine(flag_path, clock)
    assert at(m, clock, T0 + timedelta(minutes=30)).on
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        assert not at(m, clock, T0 + 2 * HOUR).on
    assert "maintenance expired at" in caplog.text


def test_max_duration(flag_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    write_state_atomic(flag_path, MaintenanceState(started_at=T0))
    m = engine(flag_path, clock, max_duration=2 * 3600)
    assert at(m, clock, T0 + HOUR).on
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        assert not at(m, clock, T0 + 3 * HOUR).on
    assert "longer than max_duration" in caplog.text


def test_max_duration_on_a_bare_flag_stays_off(flag_path: Path, clock: Clock) -> None:
    """A flag with no start time: the limit counts from when this process saw it on, and
    once reached the app stays served (it used to start counting again and flip back on)."""
    m = engine(flag_path, clock, max_duration=3600)
    assert not at(m, clock, T0).on
    flag_path.touch()
    assert at(m, clock, T0 + timedelta(seconds=1)).on
    assert not at(m, clock, T0 + 2 * HOUR).on
    assert not at(m, clock, T0 + 2 * HOUR + timedelta(seconds=5)).on
    assert not at(m, clock, T0 + 3 * HOUR).on
    flag_path.unlink()  # off for real, then on again: a new maintenance, a new limit
    assert not at(m, clock, T0 + 4 * HOUR).on
    flag_path.touch()
    assert at(m, clock, T0 + 4 * HOUR + timedelta(seconds=10)).on


def test_hooks_fire_on_transitions(flag_path: Path, clock: Clock) -> None:
    events: list[Event] = []
    arrived = threading.Semaphore(0)

    def hook(event: Event) -> None:
        events.append(event)
        arrived.release()

    def expect(name: str) -> None:
        assert arrived.acquire(timeout=5), f"no {name!r} event"
        assert events[-1].name == name

    write_state_atomic(flag_path, SCHEDULED)
    m = engine(flag_path, clock, on_change=hook)
    at(m, clock, T0 - 72 * HOUR)
    at(m, clock, T0 - 40 * HOUR)
    expect("announced")
    at(m, clock, T0 + HOUR)
    expect("started")
    assert events[-1].window == WINDOW
    write_state_atomic(flag_path, SCHEDULED.with_update("Halfway", at=T0 + HOUR))
    at(m, clock, T0 + HOUR + timedelta(minutes=1))
    expect("updated")
    flag_path.unlink()
    at(m, clock, T0 + 2 * HOUR)
    expect("ended")
    assert events[-1].to_json()["event"] == "ended"
    assert not arrived.acquire(timeout=0.2)  # nothing else


def test_a_failing_hook_is_logged_not_raised(
    flag_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    done = threading.Event()

    def broken(event: Event) -> None:
        done.set()
        raise RuntimeError("chat is down")

    m = engine(flag_path, clock, on_change=[broken])
    write_state_atomic(flag_path, MaintenanceState())
    with caplog.at_level(logging.ERROR, logger="maintenance_mode"):
        assert at(m, clock, T0).on
        assert done.wait(5)
        for _ in range(50):
            if "hook" in caplog.text:
                break
            threading.Event().wait(0.02)
    assert "on_change hook" in caplog.text


# -- the status document -----------------------------------------------------------------

STATUS_SCHEMA = {
    "type": "object",
    "required": ["page", "status", "incidents", "scheduled_maintenances"],
    "properties": {
        "page": {
            "type": "object",
            "required": ["updated_at"],
            "properties": {"updated_at": {"type": "string", "format": "date-time"}},
        },
        "status": {
            "type": "object",
            "required": ["indicator", "description"],
            "properties": {"indicator": {"enum": ["none", "minor", "maintenance", "major"]}},
        },
        "incidents": {"type": "array", "items": {"$ref": "#/$defs/entry"}},
        "scheduled_maintenances": {"type": "array", "items": {"$ref": "#/$defs/entry"}},
    },
    "$defs": {
        "entry": {
            "type": "object",
            "required": ["id", "name", "status", "impact", "scheduled_for", "incident_updates"],
            "properties": {
                "status": {"enum": ["scheduled", "in_progress", "investigating"]},
                "scheduled_for": {"type": ["string", "null"]},
                "scheduled_until": {"type": ["string", "null"]},
                "incident_updates": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["body", "created_at", "status"],
                    },
                },
            },
        }
    },
}


def status_of(m: Maintenance) -> tuple[Any, dict[str, Any]]:
    decision = get(m, "/__maintenance__/status")
    assert decision.action == "respond"
    response = decision.response
    assert response.status == 200
    document = json.loads(response.body)
    jsonschema.validate(document, STATUS_SCHEMA)
    return response, document


def test_status_document_in_every_phase(flag_path: Path, clock: Clock) -> None:
    write_state_atomic(flag_path, SCHEDULED)
    m = engine(flag_path, clock)
    response, doc = status_of(m)
    headers = dict(response.headers)
    assert headers["Cache-Control"] == "no-store"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert doc["status"]["indicator"] == "none"
    (upcoming,) = doc["scheduled_maintenances"]
    assert upcoming["status"] == "scheduled"
    assert upcoming["scheduled_for"] == "2030-06-01T08:00:00Z"
    assert upcoming["scheduled_until"] == "2030-06-01T11:00:00Z"
    assert upcoming["affected"] == ["checkout"]

    at(m, clock, T0 + HOUR)
    _, doc = status_of(m)
    assert doc["status"]["indicator"] == "maintenance"
    assert doc["scheduled_maintenances"][0]["status"] == "in_progress"
    assert doc["retry_after"] == 3600

    write_state_atomic(
        flag_path, MaintenanceState(kind="unplanned", reason="Outage", started_at=T0)
    )
    at(m, clock, T0 + HOUR + timedelta(seconds=1))
    _, doc = status_of(m)
    assert doc["status"]["indicator"] == "major"
    assert doc["incidents"][0]["name"] == "Outage"

    flag_path.unlink()
    at(m, clock, T0 + 2 * HOUR)
    _, doc = status_of(m)
    assert doc["status"]["indicator"] == "none"
    assert doc["scheduled_maintenances"] == []


# -- the banner in real responses, under both adapters -----------------------------------

PAGE = b"<!doctype html><html><head><title>t</title></head><body class='x'><p>hi</p></body></html>"


def routes() -> Starlette:
    async def html(request: Request) -> Response:
        return HTMLResponse(PAGE)

    async def json_(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stream(request: Request) -> Response:
        async def chunks() -> Any:
            yield b"<html><body>"
            yield b"streamed</body></html>"

        return StreamingResponse(chunks(), media_type="text/html")

    async def zipped(request: Request) -> Response:
        body = gzip.compress(PAGE)
        return Response(body, media_type="text/html", headers={"Content-Encoding": "gzip"})

    async def not_modified(request: Request) -> Response:
        return Response(status_code=304, headers={"Content-Type": "text/html"})

    async def nobody(request: Request) -> Response:
        return HTMLResponse(b"<p>fragment without body tag</p>")

    return Starlette(
        routes=[
            Route("/", html, methods=["GET", "HEAD"]),
            Route("/api", json_),
            Route("/stream", stream),
            Route("/gzip", zipped),
            Route("/304", not_modified),
            Route("/fragment", nobody),
        ]
    )


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    path = environ["PATH_INFO"]
    if path == "/api":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        yield b"{}"
    elif path == "/stream":
        start_response("200 OK", [("Content-Type", "text/html")])
        yield b"<html><body>"
        yield b"streamed</body></html>"
    elif path == "/gzip":
        body = gzip.compress(PAGE)
        start_response(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip"),
             ("Content-Length", str(len(body)))],
        )  # fmt: skip
        yield body
    elif path == "/304":
        start_response("304 Not Modified", [])
    elif path == "/fragment":
        body = b"<p>fragment without body tag</p>"
        start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
        )
        yield body
    else:
        start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))]
        )
        yield PAGE[:30]  # in two chunks, the tag split across them
        yield PAGE[30:]


@pytest.fixture(params=["asgi", "wsgi"])
def client(request: pytest.FixtureRequest, flag_path: Path, clock: Clock) -> Iterator[httpx.Client]:
    write_state_atomic(flag_path, SCHEDULED)
    clock.now = T0 - 24 * HOUR  # announced
    if request.param == "asgi":
        asgi = ASGIMiddleware(routes(), flag=flag_path)
        asgi.maintenance._clock = clock
        asgi.maintenance.invalidate()
        transport: Any = httpx.ASGITransport(app=asgi)
        with httpx.Client(transport=_SyncASGI(transport), base_url="http://t") as c:
            yield c
    else:
        wsgi = WSGIMiddleware(wsgi_app, flag=flag_path)
        wsgi.maintenance._clock = clock
        wsgi.maintenance.invalidate()
        with httpx.Client(transport=httpx.WSGITransport(app=wsgi), base_url="http://t") as c:
            yield c


class _SyncASGI(httpx.BaseTransport):
    """Drive an ASGI transport from a sync client (one event loop per request)."""

    def __init__(self, transport: httpx.ASGITransport) -> None:
        self.transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        async def go() -> httpx.Response:
            response = await self.transport.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(go())


def test_banner_goes_into_html_pages_only(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.content.count(b"data-nosnippet") == 1
    assert page.content.index(b"mm-banner") > page.content.index(b"<body class='x'>")
    assert int(page.headers["content-length"]) == len(page.content)
    assert "accept-language" in page.headers["vary"].lower()  # the banner is localized
    split = PAGE.index(b"<p>hi</p>")  # right after the <body ...> tag: one insertion point
    assert page.content.startswith(PAGE[:split] + b'<div class="mm-banner"')
    assert page.content.endswith(PAGE[split:])

    fragment = client.get("/fragment")
    assert fragment.content.startswith(b"<p>fragment without body tag</p>")
    assert b"mm-banner" in fragment.content  # no <body>: once, at the end
    assert int(fragment.headers["content-length"]) == len(fragment.content)

    for path in ("/api", "/stream", "/gzip", "/304"):
        untouched = client.get(path)
        assert b"mm-banner" not in untouched.content, path
    assert client.get("/gzip").content == PAGE  # httpx decoded it: the bytes were untouched
    head = client.head("/")
    assert b"mm-banner" not in head.content
    assert "content-length" not in head.headers or int(head.headers["content-length"]) == len(PAGE)


def test_status_endpoint_through_the_adapters(client: httpx.Client) -> None:
    status = client.get("/__maintenance__/status")
    assert status.status_code == 200
    assert status.headers["access-control-allow-origin"] == "*"
    assert status.json()["scheduled_maintenances"][0]["name"] == "Payment provider switch"


def test_status_endpoint_on_the_fast_path(flag_path: Path) -> None:
    """Off with nothing to announce: adapters skip the engine, but not for the status path."""
    app = WSGIMiddleware(wsgi_app, flag=flag_path)
    assert app.maintenance.off_until > 0
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="http://t") as c:
        assert c.get("/__maintenance__/status").json()["status"]["indicator"] == "none"
        assert c.get("/").content == PAGE
    asgi = ASGIMiddleware(routes(), flag=flag_path)
    with httpx.Client(transport=_SyncASGI(httpx.ASGITransport(app=asgi)), base_url="http://t") as c:
        assert c.get("/__maintenance__/status").json()["status"]["indicator"] == "none"


def test_long_outage_warning(
    flag_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    write_state_atomic(flag_path, MaintenanceState(started_at=T0))
    m = engine(flag_path, clock, warn_after=24 * 3600)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        at(m, clock, T0 + 23 * HOUR)
        assert "warn_after" not in caplog.text
        at(m, clock, T0 + 25 * HOUR)
    assert "over warn_after=86400s" in caplog.text


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        pytest.param("https://chat.example.com/hooks/1", True, id="https"),
        pytest.param("http://127.0.0.1:8080/hook", True, id="local test server"),
        pytest.param("http://chat.example.com/hooks/1", False, id="clear text"),
        pytest.param("http://127.0.0.1.evil.example/hook", False, id="look-alike host"),
        pytest.param("https:///nohost", False, id="no host"),
    ],
)
def test_webhook_urls(url: str, ok: bool) -> None:
    from maintenance_mode.hooks import webhook

    if ok:
        assert callable(webhook(url))
    else:
        with pytest.raises(ValueError, match="must start with https://"):
            webhook(url)


def test_webhook_posts_the_event(flag_path: Path, clock: Clock) -> None:
    import http.server

    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    from maintenance_mode.hooks import webhook

    m = engine(flag_path, clock, on_change=[webhook(f"http://127.0.0.1:{server.server_port}/h")])
    write_state_atomic(flag_path, MaintenanceState(reason="Webhook test"))
    at(m, clock, T0)
    thread.join(timeout=10)
    server.server_close()
    (body,) = received
    payload = json.loads(body)
    assert payload["event"] == "started"
    assert payload["state"]["reason"] == "Webhook test"


def test_status_follows_a_new_eta_during_a_window(flag_path: Path, clock: Clock) -> None:
    from maintenance_mode.schedule import window_state

    new_end = T0 + 6 * HOUR
    taken_over = window_state(SCHEDULED, WINDOW).model_copy(update={"eta": new_end})
    write_state_atomic(flag_path, taken_over)  # what `update --eta` writes during the window
    m = engine(flag_path, clock)
    at(m, clock, T0 + HOUR)
    _, doc = status_of(m)
    assert doc["scheduled_maintenances"][0]["scheduled_until"] == "2030-06-01T14:00:00Z"
