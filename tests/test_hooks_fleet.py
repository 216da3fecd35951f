"""One notification per change, fleet-wide (issue 14).

Every process checks the flag on its own and notices each transition; before its
on_change hooks run, it claims the transition in the flag's store
(``maintenance_mode.claims``), and only the claimer notifies. Here: the claim stores
themselves, engines of one process sharing a flag (as workers share it), and real
servers: ``gunicorn -w 4`` on a flag file, and two gunicorn servers sharing a Redis
flag, whose webhook posts to a receiver on loopback. Each transition, from a write or
from the clock, must arrive exactly once.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RedisServer, Server, gunicorn_ready_config
from maintenance_mode import control
from maintenance_mode.claims import (
    CLAIM_TTL,
    FileClaims,
    RedisClaims,
    claim,
    store_for,
    transition_id,
)
from maintenance_mode.core import Maintenance
from maintenance_mode.hooks import Event, per_process
from maintenance_mode.redis import RedisFlag
from maintenance_mode.sources import FileFlag
from maintenance_mode.state import MaintenanceState, Window, write_state_atomic

APPS = Path(__file__).parent / "apps"
CHECK_INTERVAL = 0.25  # as configured in apps/hooks_app.py
#: After every process has noticed a transition, how long a second notification gets
#: to show up before the count is taken (claims and posts take milliseconds).
SETTLE = 2.0
T0 = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------


class Calls:
    """What in-process hooks received, with a way to wait for it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.changed = threading.Condition()

    def hook(self, event: Event) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def names(self) -> list[str]:
        with self.changed:
            return [event.name for event in self.events]

    def settled(self, count: int, timeout: float = 10.0) -> list[str]:
        """The names once ``count`` calls have come, plus a pause for any extra one."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.events) >= count, timeout)
        time.sleep(0.5)
        return self.names()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def workers(flag: object, clock: Clock, count: int, **options: Any) -> list[Maintenance]:
    """``count`` engines on one flag, as the workers of a server have (one clock), each
    past its first check (the state found then is no transition)."""
    engines = []
    for _ in range(count):
        engine = Maintenance(flag=flag, check_interval=3600, **options)
        engine._clock = clock
        engines.append(engine)
    check(engines, clock, clock.now)
    return engines


def check(engines: list[Maintenance], clock: Clock, when: datetime) -> None:
    """Every engine checks the flag at ``when``."""
    clock.now = when
    for engine in engines:
        engine.invalidate()
        engine.poll()


# -- the claim stores --------------------------------------------------------------------


def test_a_file_claim_is_made_once(flag_path: Path) -> None:
    claims = FileClaims(flag_path)
    assert claims.folder == flag_path.parent / ".maintenance.json.events"
    assert claims.claim("started:2030-06-01T12:00:00+00:00") is True
    assert claims.claim("started:2030-06-01T12:00:00+00:00") is False
    assert claims.claim("ended:2030-06-01T12:00:00+00:00") is True  # another transition
    (made,) = [p for p in claims.folder.iterdir() if p.name.startswith("started")]
    assert made.name.endswith(".claim")
    assert "claimed by" in made.read_text()


def test_one_process_of_many_wins_a_file_claim(flag_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from maintenance_mode.claims import FileClaims\n"
        "while time.time() < float(sys.argv[2]):\n"
        "    pass\n"
        "print(FileClaims(sys.argv[1]).claim('started:2030-06-01T12:00:00+00:00'))\n"
    )
    go = str(time.time() + 3)  # all start together, once every interpreter is up
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(flag_path), go], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    answers = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert sorted(answers) == ["False"] * 7 + ["True"], answers


def test_stale_claims_are_removed(flag_path: Path) -> None:
    claims = FileClaims(flag_path)
    assert claims.claim("started:old")
    assert claims.claim("started:new")
    stale = claims.path_for("started:old")
    two_days_ago = time.time() - 2 * CLAIM_TTL
    os.utime(stale, (two_days_ago, two_days_ago))
    other = claims.folder / "notes.txt"  # not a claim: never touched
    other.write_text("keep")
    os.utime(other, (two_days_ago, two_days_ago))
    assert claims.sweep() == 1
    assert not stale.exists()
    assert claims.path_for("started:new").exists()
    assert other.exists()
    assert claims.claim("started:old") is True  # a day later, the name is free again


def test_a_claim_that_cannot_be_written_notifies_with_one_warning(
    flag_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The tests may run as root, whom permissions do not stop: a plain file where the
    # claims folder should be makes every claim fail the same way (ENOTDIR).
    blocked = flag_path.parent / ".maintenance.json.events"
    blocked.write_text("not a folder")
    store = FileClaims(flag_path)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        assert claim(store, "started:a") is True
        assert claim(store, "started:a") is True  # still notifies: twice beats never
        assert claim(store, "ended:a") is True
    warnings = [r for r in caplog.records if "cannot claim" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert str(blocked) in warnings[0].getMessage()


def test_redis_claims_expire_in_a_day_and_fall_back_when_redis_is_down(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    source = RedisFlag(redis_server.url, "shop:maintenance")
    store = store_for(source)
    assert isinstance(store, RedisClaims)
    assert store.claim("started:2030-06-01T12:00:00+00:00") is True
    assert store.claim("started:2030-06-01T12:00:00+00:00") is False
    client = redis_server.client()
    key = "shop:maintenance:events:started:2030-06-01T12:00:00+00:00"
    assert 0 < client.ttl(key) <= CLAIM_TTL
    client.close()
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        assert claim(store, "ended:2030-06-01T12:00:00+00:00") is True
        assert claim(store, "ended:2030-06-01T12:00:00+00:00") is True
    warnings = [r for r in caplog.records if "cannot claim" in r.getMessage()]
    assert len(warnings) == 1, caplog.text


def test_per_process_sources_have_no_claim_store(flag_path: Path) -> None:
    assert isinstance(store_for(FileFlag(flag_path)), FileClaims)
    engine = Maintenance(flag=lambda: False)
    assert store_for(engine.sources[0]) is None
    assert store_for(Maintenance(flag="env:NO_SUCH_MAINTENANCE_VAR").sources[0]) is None
    assert store_for(None) is None


WINDOW = Window(start=T0, end=T0 + timedelta(hours=2))


@pytest.mark.parametrize(
    ("event", "key"),
    [
        pytest.param(
            Event("started", T0, MaintenanceState(started_at=T0)),
            "started:2030-06-01T12:00:00+00:00",
            id="started by hand",
        ),
        pytest.param(
            Event("started", T0, MaintenanceState(), WINDOW),
            "started:2030-06-01T12:00:00+00:00",
            id="started by a window",
        ),
        pytest.param(
            Event(
                "updated",
                T0,
                MaintenanceState(started_at=T0).with_update("Half way", at=T0),
            ),
            "updated:2030-06-01T12:00:00+00:00:1",
            id="updated",
        ),
        pytest.param(
            Event("expired", T0, MaintenanceState(started_at=T0)),
            "expired:2030-06-01T12:00:00+00:00",
            id="expired",
        ),
        pytest.param(
            Event("ended", T0, MaintenanceState(), fingerprint="file-12-34"),
            "ended:file-12-34",
            id="a bare file ended",
        ),
        pytest.param(Event("started", T0, MaintenanceState()), "started:-", id="per process"),
        pytest.param(
            Event("announced", T0, None, WINDOW),
            "announced:2030-06-01T12:00:00+00:00",
            id="announced",
        ),
    ],
)
def test_event_keys(event: Event, key: str) -> None:
    assert event.key == key
    assert event.to_json()["key"] == key


def test_an_expiry_and_an_end_share_one_claim() -> None:
    state = MaintenanceState(started_at=T0)
    assert transition_id(Event("expired", T0, state)) == transition_id(Event("ended", T0, state))
    assert transition_id(Event("started", T0, state)) != transition_id(Event("ended", T0, state))


# -- engines sharing a flag, in one process ---------------------------------------------------


def test_workers_sharing_a_flag_file_notify_each_transition_once(flag_path: Path) -> None:
    calls = Calls()
    clock = Clock(T0)
    engines = workers(flag_path, clock, 4, on_change=[calls.hook])
    control.on(flag_path, reason="Database upgrade", now=T0)
    check(engines, clock, T0 + timedelta(seconds=1))
    assert calls.settled(1) == ["started"]
    control.update(flag_path, "Half way", now=T0 + timedelta(minutes=5))
    check(engines, clock, T0 + timedelta(minutes=5, seconds=1))
    assert calls.settled(2) == ["started", "updated"]
    control.off(flag_path, now=T0 + timedelta(minutes=10))
    check(engines, clock, T0 + timedelta(minutes=10, seconds=1))
    assert calls.settled(3) == ["started", "updated", "ended"]
    assert [e.key for e in calls.events] == [
        "started:2030-06-01T12:00:00+00:00",
        "updated:2030-06-01T12:00:00+00:00:1",
        "ended:2030-06-01T12:00:00+00:00",
    ]


def test_an_expiry_is_expired_once_even_if_some_workers_only_see_the_off(
    flag_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls()
    clock = Clock(T0)
    early, late = workers(flag_path, clock, 2, on_change=[calls.hook])
    control.on(flag_path, reason="Deploy", expires="1h", now=T0)
    check([early, late], clock, T0 + timedelta(minutes=1))
    assert calls.settled(1) == ["started"]
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        check([early], clock, T0 + timedelta(hours=1, minutes=1))  # it saw the expiry
    assert "maintenance expired at" in caplog.text
    control.off(flag_path, now=T0 + timedelta(hours=2))  # the deploy script ends it late
    check([late], clock, T0 + timedelta(hours=2, seconds=1))  # it only saw the off
    assert calls.settled(2) == ["started", "expired"]


def test_off_before_the_expiry_is_ended(flag_path: Path) -> None:
    calls = Calls()
    clock = Clock(T0)
    engines = workers(flag_path, clock, 2, on_change=[calls.hook])
    control.on(flag_path, expires="1h", now=T0)
    check(engines, clock, T0 + timedelta(minutes=1))
    assert calls.settled(1) == ["started"]
    control.off(flag_path, now=T0 + timedelta(minutes=30))
    # Noticed after the expiry time: still an end by hand, the document says when.
    check(engines, clock, T0 + timedelta(hours=3))
    assert calls.settled(2) == ["started", "ended"]


def test_a_window_starts_and_auto_ends_once_by_the_clock(flag_path: Path) -> None:
    calls = Calls()
    clock = Clock(T0 - timedelta(days=3))
    engines = workers(flag_path, clock, 3, on_change=[calls.hook])
    control.schedule(flag_path, start=T0, end=timedelta(hours=2), auto_end=True, now=clock.now)
    check(engines, clock, T0 - timedelta(days=1))  # inside the 48-hour announcement
    assert calls.settled(1) == ["announced"]
    check(engines, clock, T0 + timedelta(minutes=1))
    assert calls.settled(2) == ["announced", "started"]
    check(engines, clock, T0 + timedelta(hours=2, minutes=1))
    assert calls.settled(3) == ["announced", "started", "ended"]  # a planned end, not expired
    assert {e.key.partition(":")[2] for e in calls.events} == {T0.isoformat()}


def test_a_bare_flag_file_is_told_apart_by_inode_and_mtime(flag_path: Path) -> None:
    calls = Calls()
    clock = Clock(T0)
    engines = workers(flag_path, clock, 2, on_change=[calls.hook])
    flag_path.touch()
    check(engines, clock, T0)
    assert calls.settled(1) == ["started"]
    flag_path.unlink()
    check(engines, clock, T0 + timedelta(seconds=1))
    assert calls.settled(2) == ["started", "ended"]
    first = calls.events[0].key.partition(":")[2]
    assert first.startswith("file-")
    assert calls.events[1].key == f"ended:{first}"
    time.sleep(0.01)  # a new modification time, even if the inode number is reused
    flag_path.touch()
    check(engines, clock, T0 + timedelta(seconds=2))
    assert calls.settled(3) == ["started", "ended", "started"]  # a new maintenance
    assert calls.events[2].key != calls.events[0].key


def test_per_process_sources_notify_in_every_process(flag_path: Path) -> None:
    calls = Calls()
    switch = [False]
    clock = Clock(T0)
    engines = workers(lambda: switch[0], clock, 3, on_change=[calls.hook])
    switch[0] = True
    check(engines, clock, T0 + timedelta(seconds=1))
    assert calls.settled(3) == ["started"] * 3
    assert not list(flag_path.parent.iterdir())  # nothing claimed anywhere


def test_per_process_hooks_run_in_every_process_next_to_claimed_ones(flag_path: Path) -> None:
    people, local = Calls(), Calls()
    clock = Clock(T0)
    engines = workers(flag_path, clock, 3, on_change=[people.hook, per_process(local.hook)])
    flag_path.touch()  # a bare file: even the per-process hooks get its full key
    check(engines, clock, T0)
    assert local.settled(3) == ["started"] * 3
    assert people.settled(1) == ["started"]
    assert {event.key for event in local.events} == {people.events[0].key}
    assert people.events[0].key.startswith("started:file-")
    with pytest.raises(TypeError, match="needs a callable"):
        per_process(5)  # type: ignore[arg-type]


def test_unwritable_claims_fall_back_to_every_process(
    flag_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (flag_path.parent / ".maintenance.json.events").write_text("not a folder")
    calls = Calls()
    clock = Clock(T0)
    engines = workers(flag_path, clock, 2, on_change=[calls.hook])
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        write_state_atomic(flag_path, MaintenanceState(started_at=T0))
        check(engines, clock, T0)
        assert calls.settled(2) == ["started", "started"]
    assert caplog.text.count("cannot claim") == 1  # once per process and store


def test_no_hooks_no_claims(flag_path: Path) -> None:
    clock = Clock(T0)
    engines = workers(flag_path, clock, 2)
    control.on(flag_path, now=T0)
    check(engines, clock, T0)
    assert not (flag_path.parent / ".maintenance.json.events").exists()


# -- real servers ----------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on loopback that records each POSTed event."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.arrived:
                    receiver.posts.append(json.loads(body))
                    receiver.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, name: str) -> list[dict[str, Any]]:
        with self.arrived:
            return [post for post in self.posts if post["event"] == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0) -> None:
        """Until ``count`` ``name`` events have arrived (the exact count is checked after)."""
        with self.arrived:
            arrived = self.arrived.wait_for(
                lambda: sum(p["event"] == name for p in self.posts) >= count, timeout
            )
        assert arrived, f"fewer than {count} {name!r} webhooks in {timeout}s: {self.posts}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    yield hooks
    hooks.close()


def gunicorn(
    run_server: Callable[..., Server], tmp_path: Path, env: dict[str, str], count: int
) -> Server:
    """``gunicorn -w count hooks_app:app``, every worker ready."""
    config = gunicorn_ready_config(tmp_path)
    server = run_server(
        lambda port: [
            *(sys.executable, "-m", "gunicorn", "-c", str(config)),
            *("-w", str(count), "-b", f"127.0.0.1:{port}", "hooks_app:app"),
        ],
        env={"PYTHONPATH": str(APPS), **env},
        ready_path="/probe",
    )
    server.ready_workers("gunicorn", count)
    return server


def noticed(
    servers: list[Server], on: bool, phase: str | None = None, timeout: float = 60.0
) -> None:
    """Until every worker of every server has checked the flag and sees ``on`` (and ``phase``).

    Each answer of ``/probe`` comes after that worker's own check (when one is due);
    concurrent probes on fresh connections reach every worker, bounded by time.
    """
    pending = {(server.base, pid) for server in servers for pid in server.pids}
    deadline = time.monotonic() + timeout
    headers = {"Connection": "close"}
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:

        def probe(base: str) -> tuple[str, dict[str, Any]]:
            return base, client.get(base + "/probe", headers=headers).json()

        while pending:
            if time.monotonic() > deadline:
                pytest.fail(f"workers {sorted(pending)} never saw on={on} {phase} in {timeout}s")
            bases = [server.base for server in servers] * 4
            for base, answer in pool.map(probe, bases):
                if answer["on"] is on and phase in (None, answer["phase"]):
                    pending.discard((base, answer["pid"]))
            time.sleep(CHECK_INTERVAL / 5)


def settle() -> None:
    """A few check intervals more, for any second notification to arrive if there were one."""
    time.sleep(SETTLE)


@pytest.mark.slow
def test_gunicorn_workers_post_each_change_once(
    run_server: Callable[..., Server], receiver: Receiver, flag_path: Path, tmp_path: Path
) -> None:
    env = {"MAINTENANCE_FILE": str(flag_path), "HOOK_URL": receiver.url}
    server = gunicorn(run_server, tmp_path, env, 4)
    noticed([server], on=False)

    change = control.on(flag_path, reason="Database upgrade")
    noticed([server], on=True)
    receiver.wait_for("started")
    settle()
    (started,) = receiver.of("started")
    assert started["state"]["reason"] == "Database upgrade"
    running = change.status.state
    assert running is not None
    assert running.started_at is not None
    assert started["key"] == f"started:{running.started_at.isoformat()}"

    control.off(flag_path)
    noticed([server], on=False)
    receiver.wait_for("ended")
    settle()
    assert len(receiver.of("ended")) == 1
    assert [post["event"] for post in receiver.posts] == ["started", "ended"]
    assert any(flag_path.parent.joinpath(".maintenance.json.events").iterdir())


@pytest.mark.slow
def test_gunicorn_workers_post_a_scheduled_start_once(
    run_server: Callable[..., Server], receiver: Receiver, flag_path: Path, tmp_path: Path
) -> None:
    env = {"MAINTENANCE_FILE": str(flag_path), "HOOK_URL": receiver.url}
    server = gunicorn(run_server, tmp_path, env, 4)
    noticed([server], on=False)

    # Every worker sees the window announced, then start by the clock: nothing is written
    # at the start, and each worker goes from off to on by itself.
    change = control.schedule(flag_path, start=timedelta(seconds=10), end="1h", reason="Upgrade")
    assert change.window is not None
    before_start = (change.window.start - datetime.now(UTC)).total_seconds()
    noticed([server], on=False, phase="announced", timeout=before_start)
    noticed([server], on=True)
    receiver.wait_for("started")
    settle()
    (started,) = receiver.of("started")
    assert started["key"] == f"started:{change.window.start.isoformat()}"
    assert started["window"]["reason"] == "Upgrade"
    # The 48-hour announcement began at once, also notified once.
    assert [post["event"] for post in receiver.posts] == ["announced", "started"]


@pytest.mark.slow
def test_two_servers_sharing_a_redis_flag_post_each_change_once(
    run_server: Callable[..., Server],
    receiver: Receiver,
    redis_server: RedisServer,
    tmp_path: Path,
) -> None:
    env = {"MAINTENANCE_REDIS": redis_server.url, "HOOK_URL": receiver.url}
    servers = [gunicorn(run_server, tmp_path, env, 2) for _ in range(2)]
    noticed(servers, on=False)

    control.on(redis_server.url, reason="Database upgrade")
    noticed(servers, on=True)
    receiver.wait_for("started")
    settle()
    assert len(receiver.of("started")) == 1

    control.off(redis_server.url)
    noticed(servers, on=False)
    receiver.wait_for("ended")
    settle()
    assert len(receiver.of("ended")) == 1

    change = control.schedule(redis_server.url, start=timedelta(seconds=10), end="1h")
    assert change.window is not None
    before_start = (change.window.start - datetime.now(UTC)).total_seconds()
    noticed(servers, on=False, phase="announced", timeout=before_start)
    noticed(servers, on=True)
    receiver.wait_for("started", count=2)
    settle()
    starts = receiver.of("started")
    assert [post["key"] for post in starts][1:] == [f"started:{change.window.start.isoformat()}"]
    events = [post["event"] for post in receiver.posts]
    assert events == ["started", "ended", "announced", "started"]
    client = redis_server.client()
    claims = sorted(key.decode() for key in client.keys("maintenance_mode:state:events:*"))
    client.close()
    assert len(claims) == 4, claims  # started, ended, announced, started
