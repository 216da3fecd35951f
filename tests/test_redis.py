"""The Redis flag source and ``maintenance --redis``, against a real ``redis-server``.

Each test starts its own ``redis-server`` on a free port of 127.0.0.1 (no
persistence) and stops it afterwards; .ci/run installs the Debian package when it
is missing. The fleet test runs two uvicorn servers with two workers each and
measures how long a toggle takes to reach every worker.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from maintenance_mode.cli import main
from maintenance_mode.core import Maintenance, build_sources
from maintenance_mode.redis import RedisFlag, redacted
from maintenance_mode.sources import FlagError
from maintenance_mode.state import MaintenanceState, dump_state

if TYPE_CHECKING:
    from conftest import RedisServer, Server

APPS = Path(__file__).parent / "apps"
KEY = "maintenance_mode:state"


def _doc(**fields: object) -> bytes:
    return dump_state(MaintenanceState.model_validate(fields)).encode()


# -- the source ----------------------------------------------------------------------


def test_absent_key_is_off_and_present_key_is_on(redis_server: RedisServer) -> None:
    flag = RedisFlag(redis_server.url)
    assert flag.read() is None
    redis_server.client().set(KEY, _doc(reason="Moving to a new database"))
    state = flag.read()
    assert state is not None
    assert state.reason == "Moving to a new database"
    redis_server.client().set(KEY, b"")  # empty, like an empty flag file: ON with defaults
    assert flag.read() == MaintenanceState()
    redis_server.client().delete(KEY)
    assert flag.read() is None


def test_invalid_content_is_on_with_one_warning_per_change(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    flag = RedisFlag(redis_server.url, "custom:key")
    redis_server.client().set("custom:key", b"{not json")
    with caplog.at_level(logging.WARNING, "maintenance_mode"):
        assert flag.read() == MaintenanceState()
        assert flag.read() == MaintenanceState()
        assert len(caplog.records) == 1
        redis_server.client().set("custom:key", b'{"kind": "sideways"}')
        assert flag.read() == MaintenanceState()
        assert len(caplog.records) == 2
        redis_server.client().set("custom:key", b"x" * (70 * 1024))
        assert flag.read() == MaintenanceState()
    assert len(caplog.records) == 3
    assert "custom:key" in caplog.records[0].getMessage()


def test_unreachable_redis_raises_flag_error_quickly(free_port: Callable[[], int]) -> None:
    flag = RedisFlag(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2)
    with pytest.raises(FlagError, match="could not be read"):
        flag.read()


def test_hung_redis_is_bounded_by_the_timeout() -> None:
    """A server that accepts connections but never answers cannot hang a request."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes handshakes; nobody ever replies
        port = listener.getsockname()[1]
        flag = RedisFlag(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(FlagError):
            flag.read()
        assert time.monotonic() - started < 1.0


def test_password_is_redacted_in_messages() -> None:
    assert redacted("redis://user:s3cret@db:6379/0") == "redis://user:***@db:6379/0"
    assert redacted("redis://:s3cret@db/0") == "redis://:***@db/0"
    assert "s3cret" not in RedisFlag("redis://:s3cret@127.0.0.1:1/0").describe()


def test_flag_url_string_builds_a_redis_source(redis_server: RedisServer) -> None:
    (source,) = build_sources(redis_server.url)
    assert isinstance(source, RedisFlag)
    assert source.blocking
    with pytest.raises(ValueError, match="not a Redis URL"):
        RedisFlag("http://127.0.0.1:6379/0")


# -- the engine: on_error and recovery -----------------------------------------------


def test_outage_keeps_last_known_logs_once_per_check_and_recovers(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Maintenance(flag=RedisFlag(redis_server.url, socket_timeout=0.2), check_interval=60)
    assert not engine.poll().on
    redis_server.client().set(KEY, _doc(reason="Upgrade"))
    engine.invalidate()
    assert engine.poll().on
    redis_server.stop()
    with caplog.at_level(logging.WARNING, "maintenance_mode"):
        engine.invalidate()
        for _ in range(50):  # many requests, one check: one log line, never an exception
            assert engine.poll().on
        assert len(caplog.records) == 1
        assert "on_error=last_known" in caplog.records[0].getMessage()
        engine.invalidate()
        assert engine.poll().on
        assert len(caplog.records) == 2
    redis_server.start()  # same port, empty: the key is gone, so OFF
    engine.invalidate()
    assert not engine.poll().on
    redis_server.client().set(KEY, _doc(reason="Again"))
    engine.invalidate()
    snapshot = engine.poll()
    assert snapshot.on
    assert snapshot.state is not None
    assert snapshot.state.reason == "Again"


@pytest.mark.parametrize(("policy", "on"), [("maintenance", True), ("serve", False)])
def test_outage_follows_other_policies(free_port: Callable[[], int], policy: str, on: bool) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    engine = Maintenance(flag=url, on_error=policy, check_interval=60)  # type: ignore[arg-type]
    assert engine.poll().on is on


@pytest.mark.anyio
async def test_async_poll_runs_the_read_off_the_loop(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Maintenance(flag=RedisFlag(redis_server.url, socket_timeout=0.2), check_interval=60)
    redis_server.client().set(KEY, _doc(reason="Async"))
    assert (await engine.apoll()).on
    redis_server.stop()
    engine.invalidate()
    with caplog.at_level(logging.WARNING, "maintenance_mode"):
        assert (await engine.apoll()).on
    assert len(caplog.records) == 1


# -- the CLI -------------------------------------------------------------------------


def test_cli_on_update_status_off_purge(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = redis_server.url
    client = redis_server.client()
    assert main(["--redis", url, "on", "--reason", "Fleet upgrade"]) == 0
    assert "Maintenance is ON (started)" in capsys.readouterr().out
    doc = json.loads(client.get(KEY) or b"")
    assert doc["reason"] == "Fleet upgrade"
    assert main(["--redis", url, "update", "Half way there"]) == 0
    assert main(["status", "--redis", url, "--json"]) == 0
    out = capsys.readouterr().out
    status = json.loads(out[out.index("{\n") :])
    assert status["on"] is True
    assert status["target"] == f"{url} key {KEY}"
    assert status["state"]["updates"][0]["text"] == "Half way there"
    assert main(["--redis", url, "off"]) == 0
    doc = json.loads(client.get(KEY) or b"")
    assert doc["ended_at"] is not None  # off records the end, like the flag file
    assert main(["--redis", url, "status"]) == 0
    assert "  ended:" in capsys.readouterr().out
    assert main(["--redis", url, "off", "--purge"]) == 0
    assert client.get(KEY) is None
    assert main(["--redis", url, "status"]) == 0
    assert capsys.readouterr().out.endswith(f"Maintenance is OFF (nothing at {url} key {KEY})\n")


def test_cli_takes_the_url_and_key_from_the_environment(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINTENANCE_REDIS", redis_server.url)
    monkeypatch.setenv("MAINTENANCE_REDIS_KEY", "site:flag")
    assert main(["on"]) == 0
    assert redis_server.client().exists("site:flag")
    assert main(["off", "--purge"]) == 0
    assert not redis_server.client().exists("site:flag")


def test_cli_redis_errors_are_one_line(
    free_port: Callable[[], int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--redis", f"redis://127.0.0.1:{free_port()}/0", "on"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("maintenance: cannot write redis://127.0.0.1")
    assert len(err.splitlines()) == 1
    assert main(["--redis", "127.0.0.1:6379", "on"]) == 2
    assert "not a Redis URL" in capsys.readouterr().err
    assert main(["--redis", "redis://127.0.0.1:1/0", "--file", str(tmp_path / "f.json"), "on"]) == 2
    assert "either --file or --redis" in capsys.readouterr().err


# -- the fleet: two servers, two workers each, one Redis -----------------------------

CHECK_INTERVAL = 0.5  # as configured in tests/apps/redis_app.py
BOUND = CHECK_INTERVAL + 1.0


def _uvicorn(port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", "redis_app:app", "--port", str(port)),
        *("--workers", "2", "--no-access-log", "--app-dir", str(APPS)),
    ]


def _probe(server: Server) -> tuple[int, bool]:
    response = server.http.get(server.base + "/probe", headers={"Connection": "close"})
    assert response.status_code == 200, response.text
    data = response.json()
    return int(data["pid"]), bool(data["on"])


def _worker_pids(server: Server, workers: int = 2, timeout: float = 20.0) -> set[int]:
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(pids) < workers and time.monotonic() < deadline:
        pids.add(_probe(server)[0])
    assert len(pids) == workers, f"saw workers {pids} of {server.base}"
    return pids


def _time_until_all(
    servers: list[Server], pids: set[int], on: bool, started: float
) -> dict[int, float]:
    """Seconds from ``started`` until each worker (by pid) reported ``on``."""
    reached: dict[int, float] = {}
    deadline = started + BOUND + 5  # measure past the bound, then assert on it
    while set(reached) != pids and time.monotonic() < deadline:
        for server in servers:
            pid, seen = _probe(server)
            if seen is on and pid not in reached:
                reached[pid] = time.monotonic() - started
    assert set(reached) == pids, f"workers never saw on={on}: {pids - set(reached)}"
    return reached


@pytest.mark.slow
def test_fleet_follows_one_command_and_survives_a_redis_outage(
    redis_server: RedisServer, run_server: Callable[..., Server]
) -> None:
    env = {"REDIS_URL": redis_server.url}
    servers = [run_server(_uvicorn, env=env) for _ in range(2)]
    pids: set[int] = set()
    for server in servers:
        pids |= _worker_pids(server)
        assert set(server.statuses("/", requests=10)) == {200}
    assert len(pids) == 4
    cli = [sys.executable, "-m", "maintenance_mode", "--redis", redis_server.url]
    figures: dict[str, float] = {}

    def toggle(name: str, *args: str, on: bool) -> None:
        before = time.monotonic()
        subprocess.run([*cli, *args], check=True, capture_output=True)
        written = time.monotonic()  # the key is set once the command returns
        figures[f"{name} (CLI run)"] = written - before
        figures[name] = max(_time_until_all(servers, pids, on, written).values())

    toggle("on", "on", "--reason", "Fleet upgrade", on=True)
    for server in servers:
        assert set(server.statuses("/", requests=10)) == {503}

    # Redis goes away: every worker keeps its last known state (ON) and keeps serving.
    saved = redis_server.client().get(KEY)
    assert saved is not None
    redis_server.stop()
    down = time.monotonic()
    time.sleep(CHECK_INTERVAL * 4)
    for server in servers:
        assert set(server.statuses("/", requests=10)) == {503}
        assert all(_probe(server)[1] for _ in range(6))
    # Redis is back with its data (as with persistence); the operator switches off.
    redis_server.start()
    redis_server.client().set(KEY, saved)
    down = time.monotonic() - down
    toggle("off after the outage", "off", on=False)
    for server in servers:
        assert set(server.statuses("/", requests=10)) == {200}
    toggle("on again", "on", on=True)
    # The propagation itself, from a write whose moment is known exactly.
    client = redis_server.client()
    direct: list[float] = []
    for _ in range(4):
        for on in (False, True):
            written = time.monotonic()
            client.set(KEY, saved) if on else client.delete(KEY)
            direct.append(max(_time_until_all(servers, pids, on, written).values()))
    figures["SET/DEL to last worker, mean"] = sum(direct) / len(direct)
    figures["SET/DEL to last worker, max"] = max(direct)

    print(
        f"\nfleet propagation (2 uvicorn servers x 2 workers, check_interval {CHECK_INTERVAL}s, "
        "to the last worker): "
        + ", ".join(f"{name} {value:.2f}s" for name, value in figures.items())
    )
    for name, value in figures.items():
        if "CLI" not in name:
            assert value <= BOUND, f"{name}: {value:.2f}s > {BOUND}s"
    for server in servers:
        lines = [line for line in server.stop().splitlines() if "could not be read" in line]
        assert lines  # the outage was logged ...
        # ... at most once per check per worker (not per request)
        assert len(lines) <= 2 * (down / CHECK_INTERVAL + 2), lines
