"""maintenance_mode.testing and the pytest plugin: every engine obeys an override, at once.

Each app is built with ``check_interval=3600``: a change that shows at the next request
can only come from the override invalidating the engines, never from a periodic check.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from werkzeug.test import Client as WerkzeugClient

from maintenance_mode import Maintenance, MaintenanceState, core, testing
from maintenance_mode.asgi import MaintenanceMiddleware as AsgiMiddleware
from maintenance_mode.flask import MaintenanceMode
from maintenance_mode.hooks import Event
from maintenance_mode.state import write_state_atomic
from maintenance_mode.testing import Controller, make_window, override
from maintenance_mode.wsgi import MaintenanceMiddleware as WsgiMiddleware

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
REASON = "Database upgrade"
HOUR = 3600


@pytest.fixture(autouse=True)
def _no_override_left() -> Iterator[None]:
    """Every test starts and ends with the real sources answering (no override leaks)."""
    assert core._override is None
    yield
    assert core._override is None, "an override outlived its test"
    assert testing._layers == []


# -- one app per adapter ------------------------------------------------------------------


@dataclass
class App:
    """An app behind the middleware, and how to GET a page from it (status, text, headers)."""

    name: str
    get: Callable[..., tuple[int, str, dict[str, str]]]


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def _page(body: str) -> str:
    return f"<!doctype html><html><head><title>shop</title></head><body>{body}</body></html>"


def asgi_app(flag: Path, **options: Any) -> App:
    async def home(request: Request) -> Response:
        return HTMLResponse(_page("app:home"))

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(AsgiMiddleware, flag=str(flag), check_interval=HOUR, **options)

    def get(path: str = "/", **headers: str) -> tuple[int, str, dict[str, str]]:
        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
                return await client.get(path, headers=headers)

        r = asyncio.run(fetch())
        return r.status_code, r.text, _lower(r.headers.items())

    return App("asgi", get)


def wsgi_app(flag: Path, **options: Any) -> App:
    def home(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = _page("app:home").encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    app = validator(WsgiMiddleware(home, flag=str(flag), check_interval=HOUR, **options))
    client = WerkzeugClient(app)

    def get(path: str = "/", **headers: str) -> tuple[int, str, dict[str, str]]:
        r = client.get(path, headers=headers)
        text = r.get_data(as_text=True)
        r.close()
        return r.status_code, text, _lower(r.headers.items())

    return App("wsgi", get)


def flask_app(flag: Path, **options: Any) -> App:
    app = Flask("shop")
    app.config["MAINTENANCE_MODE"] = {"flag": str(flag), "check_interval": HOUR, **options}

    @app.get("/")
    def home() -> str:
        return _page("app:home")

    MaintenanceMode(app)
    client = app.test_client()

    def get(path: str = "/", **headers: str) -> tuple[int, str, dict[str, str]]:
        r = client.get(path, headers=headers)
        return r.status_code, r.get_data(as_text=True), _lower(r.headers.items())

    return App("flask", get)


def _django() -> None:
    """Django set up with the test project (as test_django.py does; idempotent)."""
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    if "TEST_DJANGO_DB" not in os.environ:
        os.environ["TEST_DJANGO_DB"] = str(Path(tempfile.mkdtemp(prefix="mm-django-")) / "db")
    import django

    django.setup()


def django_app(flag: Path, **options: Any) -> App:
    _django()
    from django.conf import settings
    from django.test import Client, override_settings

    values = {**settings.MAINTENANCE_MODE, "flag": str(flag), "check_interval": HOUR, **options}
    with override_settings(MAINTENANCE_MODE=values):
        client = Client()
        client.get("/")  # the handler (and its engine) is built under these settings

    def get(path: str = "/", **headers: str) -> tuple[int, str, dict[str, str]]:
        with override_settings(MAINTENANCE_MODE=values):
            r = client.get(path, headers=headers)
        return r.status_code, r.content.decode(), _lower(r.headers.items())

    return App("django", get)


BUILDERS = {"asgi": asgi_app, "wsgi": wsgi_app, "flask": flask_app, "django": django_app}


@pytest.fixture(params=sorted(BUILDERS))
def build(request: pytest.FixtureRequest) -> Callable[..., App]:
    """Builds an app with one adapter (every test using it runs under each one)."""
    builder: Callable[..., App] = BUILDERS[request.param]
    return builder


def is_own_page(r: tuple[int, str, dict[str, str]]) -> bool:
    return r[0] == 200 and "app:home" in r[1]


def is_maintenance(r: tuple[int, str, dict[str, str]], reason: str = REASON) -> bool:
    return r[0] == 503 and reason in r[1] and "app:home" not in r[1]


# -- the context manager under every adapter ------------------------------------------------


def test_on_serves_the_503_with_the_reason_then_the_app(
    build: Callable[..., App], flag_path: Path
) -> None:
    app = build(flag_path)
    assert is_own_page(app.get())
    with override(reason=REASON, eta=timedelta(hours=2)) as state:
        assert state is not None
        assert state.reason == REASON
        r = app.get()
        assert is_maintenance(r)
        # Retry-After from the ETA (two hours, minus the moments the test took)
        assert 7000 < int(r[2]["retry-after"]) <= 7200
        text = app.get(accept="text/plain")
        assert text[0] == 503
        assert REASON in text[1]
    assert is_own_page(app.get())


def test_off_overrides_a_flag_file_that_says_on(build: Callable[..., App], flag_path: Path) -> None:
    write_state_atomic(flag_path, MaintenanceState(reason="Real outage"))
    app = build(flag_path)
    assert is_maintenance(app.get(), "Real outage")
    with override(False) as state:
        assert state is None
        assert is_own_page(app.get())
    assert is_maintenance(app.get(), "Real outage")


def test_nested_overrides_restore_the_outer_one(build: Callable[..., App], flag_path: Path) -> None:
    app = build(flag_path)
    with override(reason="Outer work"):
        assert is_maintenance(app.get(), "Outer work")
        with override(reason="Inner work", kind="unplanned"):
            assert is_maintenance(app.get(), "Inner work")
            with override(on=False):
                assert is_own_page(app.get())
            assert is_maintenance(app.get(), "Inner work")
        assert is_maintenance(app.get(), "Outer work")
    assert is_own_page(app.get())


def test_an_engine_made_inside_the_block_obeys_it(
    build: Callable[..., App], flag_path: Path
) -> None:
    with override(reason=REASON):
        app = build(flag_path)
        assert is_maintenance(app.get())
    assert is_own_page(app.get())


def test_the_override_ends_when_the_block_raises(flag_path: Path) -> None:
    app = flask_app(flag_path)
    seen: list[bool] = []

    def fails() -> None:
        with override(reason=REASON):
            seen.append(is_maintenance(app.get()))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails()
    assert seen == [True]
    assert is_own_page(app.get())


# -- the decorator ----------------------------------------------------------------------------


def test_decorator_lasts_for_each_call(flag_path: Path) -> None:
    app = wsgi_app(flag_path)
    seen: list[int] = []

    @override(reason=REASON)
    def check(expected: int) -> str:
        seen.append(app.get()[0])
        return f"checked {expected}"

    assert check.__name__ == "check"
    assert is_own_page(app.get())  # decorating starts nothing
    assert check(1) == "checked 1"
    assert is_own_page(app.get())
    assert check(2) == "checked 2"
    assert seen == [503, 503]


@pytest.fixture
def shop(flag_path: Path) -> Starlette:
    async def home(request: Request) -> Response:
        return PlainTextResponse("app:home")

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(AsgiMiddleware, flag=str(flag_path), check_interval=HOUR)
    return app


async def _fetch(app: Starlette) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        return await client.get("/", headers={"Accept": "text/plain"})


@pytest.mark.anyio
@override(reason=REASON, eta="1h")
async def test_async_decorator_on_an_async_test(shop: Starlette) -> None:
    r = await _fetch(shop)
    assert r.status_code == 503
    assert REASON in r.text
    assert core._override is not None


def test_async_decorator_starts_at_the_await_and_ends_after(shop: Starlette) -> None:
    @override(reason=REASON)
    async def during() -> int:
        await asyncio.sleep(0)
        return (await _fetch(shop)).status_code

    pending = during()
    assert core._override is None  # made, not yet awaited: nothing started
    assert asyncio.run(pending) == 503
    assert asyncio.run(_fetch(shop)).status_code == 200


def test_decorating_a_class_is_refused() -> None:
    with pytest.raises(TypeError, match="decorates functions, not classes"):

        @override()
        class Tests:
            pass


# -- every engine, whatever its flag --------------------------------------------------------


def _raises() -> bool:
    raise AssertionError("the real source was asked during the override")


async def _async_off() -> bool:
    return False


@pytest.mark.parametrize(
    "flag",
    [
        pytest.param("env:MM_TEST_UNSET_FLAG", id="env"),
        pytest.param(_async_off, id="async callable"),
        pytest.param("redis://127.0.0.1:1/0", id="unreachable redis"),
    ],
)
def test_every_kind_of_flag_obeys(flag: object) -> None:
    async def home(request: Request) -> Response:
        return PlainTextResponse("app:home")

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(AsgiMiddleware, flag=flag, check_interval=HOUR, on_error="serve")
    with override(reason=REASON):
        r = asyncio.run(_fetch(app))
        assert r.status_code == 503
        assert REASON in r.text


def test_the_real_source_is_not_asked_during_an_override() -> None:
    engine = Maintenance(flag=_raises, check_interval=HOUR, on_error="serve")
    with override(False):
        engine.invalidate()
        assert not engine.poll().on
    with override(reason=REASON):
        snapshot = engine.poll()
        assert snapshot.on
        assert snapshot.state is not None
        assert snapshot.state.reason == REASON


def test_hooks_do_not_fire_for_an_override_but_do_for_the_real_flag(flag_path: Path) -> None:
    events: list[Event] = []
    fired = threading.Event()

    def hook(event: Event) -> None:
        events.append(event)
        fired.set()

    engine = Maintenance(flag=str(flag_path), check_interval=HOUR, on_change=[hook])
    with override(reason=REASON):
        assert engine.poll().on
        with override(False):
            assert not engine.poll().on
        assert engine.poll().on
    assert not engine.poll().on
    write_state_atomic(flag_path, MaintenanceState(reason="Real"))
    engine.invalidate()
    assert engine.poll().on
    assert fired.wait(30), "the real change fired no hook"
    time.sleep(0.2)  # a stray hook thread from the override would have run by now
    assert [event.name for event in events] == ["started"]
    assert events[0].state is not None
    assert events[0].state.reason == "Real"


def test_while_off_the_adapters_keep_their_fast_path(flag_path: Path) -> None:
    engine = Maintenance(flag=str(flag_path), check_interval=HOUR)
    assert engine.off_until > time.monotonic()
    with override(reason=REASON):
        assert engine.off_until == 0.0  # invalidated: the next request checks
        engine.poll()
        assert engine.off_until == 0.0  # on: every request is decided
        with override(False):
            engine.poll()
            assert engine.off_until > time.monotonic()  # off again: skipped per request
    engine.poll()
    assert engine.off_until > time.monotonic()


def test_many_threads_entering_and_leaving(flag_path: Path) -> None:
    engine = Maintenance(flag=str(flag_path), check_interval=HOUR)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait(timeout=60)
            for i in range(50):
                with override(reason=f"worker {n} round {i}"):
                    snapshot = engine.poll()
                    assert snapshot.on  # whichever override is innermost, it is on
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert not engine.poll().on


def test_leaving_out_of_order_keeps_the_ones_still_active(flag_path: Path) -> None:
    engine = Maintenance(flag=str(flag_path), check_interval=HOUR)
    outer, inner = override(reason="outer"), override(reason="inner")
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # another thread's, leaving first
    state = engine.poll().state
    assert state is not None
    assert state.reason == "inner"
    inner.__exit__(None, None, None)
    assert not engine.poll().on


# -- schedules and documents ----------------------------------------------------------------


def test_a_window_ahead_shows_the_banner_and_a_started_one_the_503(flag_path: Path) -> None:
    app = asgi_app(flag_path)
    ahead = make_window(start="3h", end="2h..3h", reason="Moving the database")
    with override(schedule=ahead):
        status, text, _ = app.get()
        assert status == 200
        assert "app:home" in text
        assert "Moving the database" in text  # the banner, inside the app's page
    started = make_window(
        start=datetime.now(UTC) - timedelta(minutes=5), end=timedelta(hours=1), reason="Moving"
    )
    with override(schedule=[started, ahead]):
        assert is_maintenance(app.get(), "Moving")
    assert is_own_page(app.get())


def test_state_is_used_as_given(flag_path: Path) -> None:
    engine = Maintenance(flag=str(flag_path), check_interval=HOUR)
    state = MaintenanceState(reason=REASON).with_update("Tables migrated")
    with override(state=state):
        assert engine.poll().state == state


def test_on_with_a_schedule_is_on_now_and_lists_the_windows(flag_path: Path) -> None:
    app = wsgi_app(flag_path)
    ahead = make_window(start="5d", end="2h", reason="Later")
    with override(True, reason=REASON, schedule=ahead):
        assert is_maintenance(app.get())
        status, text, _ = app.get("/__maintenance__/status")
        assert status == 200
        assert ahead.start.isoformat().replace("+00:00", "") in text.replace("Z", "")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param(
            {"on": False, "reason": "x"}, ValueError, "on=False takes no details", id="off+reason"
        ),
        pytest.param(
            {"state": MaintenanceState(), "eta": "1h"},
            ValueError,
            "give state= alone",
            id="state+eta",
        ),
        pytest.param({"eta": "yesterday"}, ValueError, "eta: 'yesterday' is neither", id="bad eta"),
        pytest.param({"eta": datetime(2030, 1, 1)}, ValueError, "no time zone", id="naive eta"),
        pytest.param({"eta": 5}, TypeError, "eta got int", id="eta type"),
        pytest.param({"on": "yes"}, TypeError, "give True or False", id="on type"),
        pytest.param({"schedule": []}, TypeError, "schedule takes a Window", id="empty schedule"),
        pytest.param({"allow": ["no-slash"]}, ValueError, "invalid details: allow", id="bad allow"),
        pytest.param({"kind": "sometimes"}, ValueError, "invalid details: kind", id="bad kind"),
    ],
)
def test_mistakes_are_refused_where_written(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)) as info:
        override(**kwargs)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("maintenance_mode.testing: ")


def test_make_window_refuses_an_end_before_the_start() -> None:
    start = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(ValueError, match="a window must end after it starts"):
        make_window(start=start, end=start - timedelta(hours=1))


@pytest.mark.parametrize(
    ("end", "error", "message"),
    [
        pytest.param("soon", ValueError, "end: 'soon' is neither", id="bad text"),
        pytest.param(
            datetime(2030, 1, 1), ValueError, "end 2030-01-01T00:00:00 has no", id="naive"
        ),
        pytest.param(5, TypeError, "end got int", id="type"),
        pytest.param("2h", ValueError, "invalid window: timezone: 'Mars/Base'", id="zone"),
    ],
)
def test_make_window_names_what_is_wrong(end: object, error: type[Exception], message: str) -> None:
    """The end is read as override()'s eta is (from the start), and its mistakes say so."""
    timezone = "Mars/Base" if end == "2h" else "UTC"
    with pytest.raises(error, match=re.escape(message)) as info:
        make_window(start="1h", end=end, timezone=timezone)  # type: ignore[arg-type]
    assert str(info.value).startswith("maintenance_mode.testing: ")
    assert "Value error" not in str(info.value)


# -- the controller (what the fixture yields) -----------------------------------------------


def test_controller_switches_and_resets(flag_path: Path) -> None:
    app = flask_app(flag_path)
    maintenance = Controller()
    try:
        state = maintenance.on(REASON, eta="2h", kind="unplanned")
        assert state.kind == "unplanned"
        assert is_maintenance(app.get())
        with override(False):  # a block inside the test wins while it lasts
            assert is_own_page(app.get())
        assert is_maintenance(app.get())
        maintenance.off()
        assert is_own_page(app.get())
        window = maintenance.schedule(start="1h", end="2h", reason="Moving the database")
        assert window.reason == "Moving the database"
        status, text, _ = app.get()
        assert status == 200
        assert "Moving the database" in text
    finally:
        maintenance.reset()
    assert is_own_page(app.get())
    assert app.get() == flask_app(flag_path).get()


def test_controller_schedule_needs_a_window_or_times() -> None:
    maintenance = Controller()
    with pytest.raises(ValueError, match="needs a Window, or start= and end="):
        maintenance.schedule(start="1h")
    window = make_window(start="1h", end="2h")
    with pytest.raises(ValueError, match="not both"):
        maintenance.schedule(window, start="1h")


# -- the pytest plugin, through pytest itself ------------------------------------------------

PLUGIN_TESTS = """
import asyncio

import httpx
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from maintenance_mode.asgi import MaintenanceMiddleware
from maintenance_mode.flask import MaintenanceMode

app = Flask("shop")
app.config["MAINTENANCE_MODE"] = {"check_interval": 3600}
app.get("/")(lambda: "the shop")
MaintenanceMode(app)
client = app.test_client()

api = Starlette(routes=[Route("/", lambda request: PlainTextResponse("the api"))])
api.add_middleware(MaintenanceMiddleware, check_interval=3600)


def get_api():
    async def fetch():
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.get("/", headers={"Accept": "application/json"})
    return asyncio.run(fetch())


def test_on_then_off(maintenance):
    maintenance.on(reason="Database upgrade", eta="2h")
    page = client.get("/")
    assert page.status_code == 503
    assert "Database upgrade" in page.get_data(as_text=True)
    problem = get_api()
    assert problem.status_code == 503
    assert problem.json()["reason"] == "Database upgrade"
    maintenance.off()
    assert client.get("/").status_code == 200
    assert get_api().text == "the api"


def test_left_on(maintenance):
    maintenance.on(reason="Left on at the end of the test")
    assert client.get("/").status_code == 503


def test_restored_at_teardown():
    assert client.get("/").status_code == 200
    assert get_api().status_code == 200


def test_schedule(maintenance):
    maintenance.schedule(start="1h", end="2h", reason="Moving the database")
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "Moving the database" in page.get_data(as_text=True)
"""


@pytest.fixture
def isolated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester folder with warnings as errors and the default flag absent."""
    for name in ("MAINTENANCE_FILE", "MAINTENANCE_REDIS", "MAINTENANCE_REDIS_KEY"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = -p no:cacheprovider\n")
    return pytester


@pytest.mark.slow
def test_the_fixture_through_the_entry_point(isolated: pytest.Pytester) -> None:
    isolated.makepyfile(test_shop=PLUGIN_TESTS)
    result = isolated.runpytest_subprocess("-v")
    result.assert_outcomes(passed=4)
    assert not (isolated.path / "maintenance.json").exists()  # nothing was written


@pytest.mark.slow
def test_the_plugin_can_be_disabled(isolated: pytest.Pytester) -> None:
    isolated.makepyfile(test_shop="def test_it(maintenance):\n    pass\n")
    result = isolated.runpytest_subprocess("-p", "no:maintenance_mode")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'maintenance' not found*"])


def test_importing_the_plugin_imports_no_framework() -> None:
    code = (
        "import sys, maintenance_mode.pytest_plugin\n"
        "heavy = ('flask', 'django', 'starlette', 'fastapi', 'redis', 'httpx',\n"
        "         'maintenance_mode.testing')\n"
        "loaded = [name for name in heavy if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_importing_the_plugin_does_not_load_the_engine() -> None:
    code = (
        "import sys, maintenance_mode.pytest_plugin\n"
        "assert 'maintenance_mode.core' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- the docs ---------------------------------------------------------------------------------

_BLOCK = re.compile(r"(<!-- not run[^>]*-->\n)?```python\n(.*?)```", re.S)
DJANGO_CONFTEST = f"""
import os, sys
sys.path.insert(0, {str(APPS)!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
import django
django.setup()
"""


def _doc_examples() -> list[Any]:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    return [
        pytest.param(match[2], id=f"testing.md:{text[: match.start()].count(chr(10)) + 1}")
        for match in _BLOCK.finditer(text)
        if not match[1]
    ]


@pytest.mark.slow
@pytest.mark.parametrize("code", _doc_examples())
def test_docs_example_runs(
    code: str, isolated: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example in docs/testing.md is a test module: it runs, and its tests pass."""
    if "django" in code:
        isolated.makeconftest(DJANGO_CONFTEST)
        monkeypatch.setenv("TEST_DJANGO_DB", str(isolated.path / "db.sqlite3"))
        monkeypatch.setenv("MAINTENANCE_FILE", str(isolated.path / "maintenance.json"))
    isolated.makepyfile(test_example=code)
    result = isolated.runpytest_subprocess()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1, result.stdout.str()
    result.assert_outcomes(passed=outcomes["passed"])
