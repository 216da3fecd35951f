"""The public control layer (``maintenance_mode.control``): every change of state."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from maintenance_mode import control
from maintenance_mode.control import ControlError, InvalidChange
from maintenance_mode.core import Maintenance, RequestInfo, build_sources
from maintenance_mode.redis import RedisFlag
from maintenance_mode.sources import FileFlag
from maintenance_mode.state import ETARange, MaintenanceState, load_state, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware

if TYPE_CHECKING:
    from conftest import RedisServer

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def read(path: Path) -> MaintenanceState:
    return load_state(path.read_bytes())


# -- on / update / off / schedule on a file -------------------------------------------------


def test_on_update_off_round_trip(flag_path: Path) -> None:
    change = control.on(flag_path, reason="DB upgrade", eta="1h..2h", kind="unplanned", now=NOW)
    assert (change.action, change.status.on, change.status.phase) == ("started", True, "on")
    doc = read(flag_path)
    assert doc.started_at == NOW
    assert doc.eta == ETARange(earliest=NOW + timedelta(hours=1), latest=NOW + timedelta(hours=2))

    change = control.update(flag_path, "Tables migrated", eta="30m", now=NOW + timedelta(minutes=5))
    assert change.action == "updated"
    doc = read(flag_path)
    assert [u.text for u in doc.updates] == ["Tables migrated"]
    assert doc.eta == NOW + timedelta(minutes=35)
    assert doc.reason == "DB upgrade"  # an update keeps the details

    later = NOW + timedelta(minutes=20)
    change = control.off(flag_path, now=later)
    assert (change.action, change.status.on) == ("ended", False)
    assert read(flag_path).ended_at == later
    assert control.off(flag_path, now=later).action == "unchanged"


def test_on_while_on_keeps_started_at_and_merges_allow(flag_path: Path) -> None:
    control.on(flag_path, reason="one", allow=["/faq/"], now=NOW)
    change = control.on(flag_path, message="two", allow=["/contact"], now=NOW + timedelta(hours=1))
    doc = read(flag_path)
    assert change.action == "updated"
    assert (doc.started_at, doc.reason, doc.message) == (NOW, "one", "two")
    assert doc.allow == ("/faq/", "/contact")


def test_expires_accepts_a_duration_and_is_reported(flag_path: Path) -> None:
    change = control.on(flag_path, expires="2h", now=NOW)
    assert change.status.state is not None
    assert change.status.state.expires_at == NOW + timedelta(hours=2)
    assert control.status(flag_path, now=NOW + timedelta(hours=3)).on is False


def test_schedule_warns_on_short_notice_and_clear_removes_only_windows_ahead(
    flag_path: Path,
) -> None:
    far = control.schedule(flag_path, start="3d", end="4h", reason="upgrade", now=NOW)
    assert far.warnings == ()
    assert far.window is not None
    assert far.window.start == NOW + timedelta(days=3)
    assert far.status.on is False
    near = control.schedule(
        flag_path, start="2026-11-27T18:00", end="2h..3h", timezone="Europe/Paris", now=NOW
    )
    assert near.window is not None
    assert near.window.start == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # Paris is UTC+1
    assert any("48 hours" in w for w in near.warnings)
    assert len(near.status.upcoming) == 2

    assert control.clear_schedule(flag_path, now=NOW).action == "cleared"
    assert not flag_path.exists()  # it held only windows: without them it would mean ON
    assert control.clear_schedule(flag_path, now=NOW).action == "unchanged"


def test_off_keeps_windows_ahead_and_purge_removes_everything(flag_path: Path) -> None:
    control.schedule(flag_path, start="3d", end="4h", now=NOW)
    control.on(flag_path, now=NOW)
    change = control.off(flag_path, now=NOW + timedelta(minutes=1))
    assert len(change.status.upcoming) == 1
    assert control.off(flag_path, purge=True, now=NOW).action == "purged"
    assert not flag_path.exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda f: control.on(f, eta="2x"), "neither a duration", id="bad eta"),
        pytest.param(lambda f: control.on(f, eta="-1h"), "neither a duration", id="negative"),
        pytest.param(
            lambda f: control.on(f, eta=NOW - timedelta(hours=1)), "not in the future", id="past"
        ),
        pytest.param(lambda f: control.on(f, eta=datetime(2030, 1, 1)), "no time zone", id="naive"),
        pytest.param(lambda f: control.on(f, eta="9999999d"), "too long", id="huge duration"),
        pytest.param(
            lambda f: control.on(f, eta="9999-12-31T23:00-05:00"),
            "out of range",
            id="eta past the year 9997",
        ),
        pytest.param(lambda f: control.on(f, expires="9999999d"), "too long", id="huge expiry"),
        pytest.param(
            lambda f: control.schedule(f, start="9999999d", end="2h"), "too long", id="huge start"
        ),
        pytest.param(
            lambda f: control.schedule(f, start="1d", end="2h", announce="99999999d"),
            "too long",
            id="huge announcement",
        ),
        pytest.param(lambda f: control.on(f, allow=["faq"]), "allow", id="bad allow"),
        pytest.param(lambda f: control.on(f, secret="short"), "22 characters", id="weak secret"),
        pytest.param(lambda f: control.update(f, "x"), "not on", id="update while off"),
        pytest.param(lambda f: control.update(f, "  "), "empty", id="empty update"),
        pytest.param(
            lambda f: control.schedule(f, start="1d", end="2h", timezone="Mars/Olympus"),
            "IANA",
            id="bad zone",
        ),
        pytest.param(
            lambda f: control.schedule(f, start="2020-01-01T00:00Z", end="2h"),
            "not in the future",
            id="start in the past",
        ),
        pytest.param(
            lambda f: control.schedule(f, start="1d", end="1d..2h"),
            "ends before it starts",
            id="reversed range",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    flag_path: Path, call: Callable[[Path], object], message: str
) -> None:
    with pytest.raises(InvalidChange, match=message) as caught:
        call(flag_path)
    assert "\n" not in str(caught.value)
    assert not flag_path.exists()


def test_a_refused_change_leaves_the_document_as_it_was(flag_path: Path) -> None:
    control.on(flag_path, reason="kept", now=NOW)
    before = flag_path.read_bytes()
    with pytest.raises(InvalidChange):
        control.on(flag_path, reason="x" * 5000)  # longer than the model allows
    assert flag_path.read_bytes() == before


@pytest.mark.parametrize(
    "flag",
    [
        pytest.param("env:MAINTENANCE_MODE", id="env var"),
        pytest.param(lambda: True, id="callable"),
        pytest.param([lambda: True, "env:X"], id="list without a writable flag"),
    ],
)
def test_read_only_flags_get_a_clear_error(flag: object) -> None:
    with pytest.raises(InvalidChange, match=r"environment variable|read-only|no writable"):
        control.on(flag)  # type: ignore[arg-type]


def test_a_list_uses_its_first_writable_flag(flag_path: Path) -> None:
    change = control.on(["env:MAINTENANCE_MODE", str(flag_path)], now=NOW)
    assert change.status.target == str(flag_path)
    assert isinstance(control.store(FileFlag(flag_path)), control.FileStore)


# -- documents the app would not read -------------------------------------------------------


def test_a_fifo_does_not_hang_and_off_replaces_it(tmp_path: Path) -> None:
    fifo = tmp_path / "maintenance.json"
    os.mkfifo(fifo)
    found = control.status(fifo)
    assert (found.on, found.problem) == (True, f"{fifo} is not a regular file")
    change = control.off(fifo, now=NOW)
    assert change.action == "ended"
    assert change.warnings
    assert control.status(fifo, now=NOW + timedelta(seconds=1)).on is False


def test_purge_removes_a_document_it_cannot_read(tmp_path: Path) -> None:
    fifo = tmp_path / "maintenance.json"
    os.mkfifo(fifo)
    assert control.off(fifo, purge=True).action == "purged"
    assert not fifo.exists()


def test_a_symlink_to_dev_zero_is_read_with_the_size_cap(tmp_path: Path) -> None:
    link = tmp_path / "maintenance.json"
    link.symlink_to("/dev/zero")
    assert control.status(link).problem == f"{link} is not a regular file"
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (70 * 1024))
    assert "larger than" in (control.status(big).problem or "")


def test_invalid_document_update_refuses_and_off_replaces(flag_path: Path) -> None:
    """Invalid content means ON for the app: update refuses, off replaces it."""
    flag_path.write_text("{not json")
    assert control.status(flag_path).on is True
    with pytest.raises(InvalidChange, match="not valid JSON"):
        control.update(flag_path, "lost?")
    change = control.off(flag_path)
    assert change.action == "ended"
    assert "not valid JSON" in change.warnings[0]
    assert control.status(flag_path).on is False


def test_unwritable_folder_is_a_control_error(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="cannot lock") as caught:
        control.on(tmp_path / "missing" / "maintenance.json")
    assert not isinstance(caught.value, InvalidChange)


# -- serialised writers --------------------------------------------------------------------


def _parallel(count: int, work: Callable[[int], object]) -> None:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # collected and re-raised in the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_parallel_updates_to_a_file_keep_every_message(flag_path: Path) -> None:
    control.on(flag_path)
    _parallel(20, lambda i: control.update(flag_path, f"note {i}"))
    assert sorted(u.text for u in read(flag_path).updates) == sorted(f"note {i}" for i in range(20))


def test_parallel_updates_to_redis_keep_every_message(redis_server: RedisServer) -> None:
    url = redis_server.url
    control.on(url)
    _parallel(20, lambda i: control.update(url, f"note {i}"))
    raw = redis_server.client().get("maintenance_mode:state")
    assert raw is not None
    assert sorted(u.text for u in load_state(raw).updates) == sorted(f"note {i}" for i in range(20))


def test_off_racing_updates_on_redis_always_ends_off(redis_server: RedisServer) -> None:
    url = redis_server.url
    refused: list[str] = []
    for _ in range(10):
        control.on(url)

        def work(i: int) -> None:
            if i == 0:
                control.off(url)
            else:
                try:
                    control.update(url, f"note {i}")
                except InvalidChange as exc:  # came after off: refused, never turned it on
                    refused.append(str(exc))

        _parallel(8, work)
        assert control.status(url).on is False
        assert all("not on" in message for message in refused)


def test_redis_store_reads_the_app_key_and_caps_size(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.set("other", b" " * (70 * 1024))
    found = control.status(RedisFlag(redis_server.url, "other"))
    assert found.on is True
    assert "larger than" in (found.problem or "")
    assert control.status(redis_server.url).on is False


def test_unreachable_redis_is_a_control_error(free_port: Callable[[], int]) -> None:
    with pytest.raises(ControlError, match="cannot write"):
        control.on(f"redis://127.0.0.1:{free_port()}/0")


# -- one default for the app and every command ----------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("MAINTENANCE_FILE", "MAINTENANCE_REDIS", "MAINTENANCE_REDIS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_default_flag_is_the_same_for_the_app_and_control(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("MAINTENANCE_FILE", str(tmp_path / "m.json"))
    (source,) = build_sources(None)
    assert isinstance(source, FileFlag)
    assert source.path == tmp_path / "m.json"
    assert control.store(None).describe() == str(tmp_path / "m.json")

    clean_env.delenv("MAINTENANCE_FILE")
    clean_env.setenv("MAINTENANCE_REDIS", "redis://127.0.0.1:1/0")
    clean_env.setenv("MAINTENANCE_REDIS_KEY", "shop:maintenance")
    (source,) = build_sources(None)
    assert isinstance(source, RedisFlag)
    assert source.key == "shop:maintenance"
    assert control.store(None).describe() == "redis://127.0.0.1:1/0 key shop:maintenance"
    (source,) = build_sources("redis://127.0.0.1:1/0")
    assert isinstance(source, RedisFlag)
    assert source.key == "shop:maintenance"


def test_both_default_variables_set_is_an_error(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("MAINTENANCE_FILE", str(tmp_path / "m.json"))
    clean_env.setenv("MAINTENANCE_REDIS", "redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="both MAINTENANCE_REDIS and MAINTENANCE_FILE"):
        build_sources(None)
    with pytest.raises(InvalidChange, match="both MAINTENANCE_REDIS and MAINTENANCE_FILE"):
        control.status(None)


# -- a secret for this maintenance only ------------------------------------------------------


def _engine(flag_path: Path) -> Maintenance:
    return Maintenance(flag=flag_path, check_interval=0.01, bypass_cookie_secure=False)


def _request(path: str = "/", **fields: Any) -> RequestInfo:
    return RequestInfo("GET", path, "", "203.0.113.9", **fields)


def test_secret_token_is_stored_hashed_and_bypasses_this_maintenance_only(
    flag_path: Path,
) -> None:
    change = control.on(flag_path, secret=True)
    token = change.secret
    assert token is not None
    assert len(token) >= 22
    assert token not in flag_path.read_text()
    assert read(flag_path).bypass_sha256 == hashlib.sha256(token.encode()).hexdigest()

    engine = _engine(flag_path)
    snapshot = engine.poll()
    assert engine.decide(snapshot, _request()).action == "respond"  # the 503
    redirect = engine.decide(snapshot, _request(f"/__maintenance__/{token}")).response
    assert redirect is not None
    assert redirect.status == 303
    cookie = dict(redirect.headers)["Set-Cookie"]
    assert cookie.startswith(f"maintenance_bypass={token};")
    assert "HttpOnly" in cookie
    with_cookie = _request(cookie=f"maintenance_bypass={token}")
    assert engine.decide(snapshot, with_cookie).action == "bypass"
    assert engine.decide(snapshot, _request(token=token)).action == "bypass"
    other = "y" if token.endswith("x") else "x"  # a random token may end in "x" (1 in 64)
    wrong = _request(f"/__maintenance__/{token[:-1]}{other}")
    assert engine.decide(snapshot, wrong).response.status == 503  # type: ignore[union-attr]

    control.off(flag_path)
    control.on(flag_path)  # the next maintenance: the old token is worthless
    engine.invalidate()
    snapshot = engine.poll()
    assert engine.decide(snapshot, with_cookie).response.status == 503  # type: ignore[union-attr]


def test_own_secret_token_is_accepted(flag_path: Path) -> None:
    token = "a-long-enough-token-for-tests-0123"
    assert control.on(flag_path, secret=token).secret == token
    engine = _engine(flag_path)
    assert engine.decide(engine.poll(), _request(token=token)).action == "bypass"


# -- waiting for the app ---------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(flag_path: Path) -> Iterator[str]:
    """A real HTTP server (wsgiref, threaded per request) running the middleware."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the app"]

    server: WSGIServer = make_server(
        "127.0.0.1",
        0,
        MaintenanceMiddleware(app, flag=flag_path, check_interval=0.2),
        handler_class=_Quiet,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/__maintenance__/status"
    server.shutdown()
    server.server_close()


def test_wait_returns_once_the_app_serves_the_change(flag_path: Path, served: str) -> None:
    control.wait(served, control.status(flag_path), timeout=10, settle=0.3)
    change = control.on(flag_path, reason="deploy")
    control.wait(served, change, timeout=10, settle=0.3)
    change = control.update(flag_path, "halfway")
    control.wait(served, change, timeout=10, settle=0.3)
    import urllib.request

    with urllib.request.urlopen(served) as answer:
        document = json.loads(answer.read())
    assert document["scheduled_maintenances"][0]["incident_updates"][0]["body"] == "halfway"


def test_wait_fails_clearly_when_the_app_never_switches(tmp_path: Path, served: str) -> None:
    change = control.on(tmp_path / "another.json")  # the app reads another flag
    with pytest.raises(ControlError, match="did not serve the new state within 1s"):
        control.wait(served, change, timeout=1, settle=0.3)
    with pytest.raises(InvalidChange, match="not an http"):
        control.wait("ftp://x", change)


def test_write_state_atomic_still_works_beside_the_lock(flag_path: Path) -> None:
    """Hand-written documents (write_state_atomic) and control share one file."""
    write_state_atomic(flag_path, MaintenanceState(reason="by hand", started_at=NOW))
    change = control.update(flag_path, "from control", now=NOW + timedelta(minutes=1))
    assert change.status.state is not None
    assert change.status.state.reason == "by hand"
    assert json.loads(flag_path.read_text())["updates"][0]["text"] == "from control"
