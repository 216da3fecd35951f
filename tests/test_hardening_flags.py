"""Flag faults through the engine: each follows the documented policy, none blocks or leaks.

The policy (docs/flag-file.md, docs/options.md ``on_error``):

* a flag path that *exists* but is unusable (unreadable, a directory, a FIFO, a
  device, huge, sparse, invalid or deeply nested JSON) means ON with the default
  details: presence is the switch, content only decorates;
* a source that cannot tell (a dangling or looping symlink, a path that cannot be
  ``stat``-ed, a callable that raises, times out or returns the wrong type) is a
  source error, and ``on_error`` decides: ``last_known`` (the last good answer,
  OFF before any), ``maintenance`` (ON, defaults) or ``serve`` (OFF).

Every poll here runs with a deadline (a FIFO or a device must never block a
request), open file descriptors are counted before and after many polls, and
concurrent rewrites and ConfigMap-style symlink swaps run under concurrent readers.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

import maintenance_mode.sources as sources_module
from maintenance_mode import Maintenance, MaintenanceState, write_state_atomic
from maintenance_mode.core import RequestInfo
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

T = TypeVar("T")
POLICIES = ["last_known", "maintenance", "serve"]
BEFORE = MaintenanceState(reason="before the fault")


def within(seconds: float, func: Callable[[], T]) -> T:
    """Run ``func`` in a thread and fail (instead of hanging the suite) if it takes longer."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for more than {seconds}s"
    assert time.monotonic() - started < seconds
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def fresh_poll(engine: Maintenance) -> Any:
    """Force a check of the sources now (as the first request after the interval would)."""
    engine.invalidate()
    return within(1.0, engine.poll)


def open_fds(flag_path: Path) -> int:
    """Descriptors open on the flag's folder or what it points to (other tests' come and go)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        count += target.startswith(str(flag_path.parent)) or target == "/dev/zero"
    return count


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.CRITICAL + 1, logger="maintenance_mode"):
        yield caplog


# -- the path exists but is unusable: ON with defaults, whatever the policy ----------------------


def make_unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_text('{"reason": "secret details"}')
    path.chmod(0)
    if os.geteuid() == 0:  # root ignores the mode: make open() fail as it would for a user
        real_open = os.open

        def denied(file: Any, *args: Any, **kwargs: Any) -> int:
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(sources_module.os, "open", denied)


def make_directory(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path.mkdir()


def make_fifo(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.mkfifo(path)


def make_dev_zero(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path.symlink_to("/dev/zero")


def make_sparse(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with path.open("wb") as fh:
        fh.write(b'{"reason": "sparse"}')
        fh.truncate(10 * 1024**3)  # 10 GB, no blocks


def writer_of(data: bytes) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def make(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        path.write_bytes(data)

    return make


NESTED = 20_000
PRESENT_BUT_UNUSABLE = [
    pytest.param(make_unreadable, id="unreadable file"),
    pytest.param(make_directory, id="a directory"),
    pytest.param(make_fifo, id="a FIFO with no writer"),
    pytest.param(make_dev_zero, id="symlink to /dev/zero"),
    pytest.param(make_sparse, id="10 GB sparse file"),
    pytest.param(writer_of(b"x" * (64 * 1024 + 1)), id="one byte over 64 KiB"),
    pytest.param(writer_of(b'{"reason": "half'), id="torn JSON"),
    pytest.param(writer_of(b"\xff\xfe{}"), id="not UTF-8"),
    pytest.param(writer_of(b'\xef\xbb\xbf{"reason": "bom"}'), id="UTF-8 byte-order mark"),
    pytest.param(writer_of(b"\x00" * 100), id="NUL bytes"),
    pytest.param(writer_of(b"[" * 60_000), id="60 000 nested arrays"),
    pytest.param(writer_of(b'{"a":' * 12_000 + b"1" + b"}" * 12_000), id="12 000 nested objects"),
    pytest.param(
        writer_of(b'{"reason": "x", "allow": ' + b"[" * NESTED + b"]" * NESTED + b"}"),
        id="deep nesting inside a field",
    ),
    pytest.param(writer_of(b'{"version": 1' + b"0" * 5000 + b"}"), id="5000-digit integer"),
    pytest.param(writer_of(b'{"reason": 1e999999}'), id="infinite float"),
    pytest.param(writer_of(b"null"), id="JSON null"),
    pytest.param(writer_of(b'["reason"]'), id="JSON array"),
    pytest.param(writer_of(b'{"kind": "off"}'), id="no field can switch it off"),
    pytest.param(writer_of(b'{"eta": "2026-11-27T10:00:00"}'), id="naive datetime"),
    pytest.param(writer_of(b'{"allow": ["/*"]}'), id="allow entry admitting everything"),
]


@pytest.mark.parametrize("make", PRESENT_BUT_UNUSABLE)
def test_present_but_unusable_is_on_with_defaults(
    flag_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    quiet: pytest.LogCaptureFixture,
    make: Callable[[Path, pytest.MonkeyPatch], None],
) -> None:
    make(flag_path, monkeypatch)
    for policy in POLICIES:  # not a source error: the policy does not matter
        engine = within(2.0, lambda p=policy: Maintenance(flag=flag_path, on_error=p))  # type: ignore[misc]
        for _ in range(3):
            snapshot = fresh_poll(engine)
            assert snapshot.on, policy
            assert snapshot.state == MaintenanceState()
            assert snapshot.allow.match("/checkout") is False


def test_reads_are_bounded(flag_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: Any) -> None:
    """A 10 GB sparse flag file costs one read of at most 64 KiB + 1 bytes."""
    make_sparse(flag_path, monkeypatch)
    read_sizes: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read_sizes.append(len(data))
        return data

    monkeypatch.setattr(sources_module.os, "read", counting_read)
    engine = Maintenance(flag=flag_path)
    assert fresh_poll(engine).on
    assert sum(read_sizes) <= 64 * 1024 + 1


# A FIFO or a device that appears between the stat and the open (a swap, a race, a lie):
# the open must not block (O_NONBLOCK) and the fstat must refuse it (S_ISREG on the fd).
def stat_says_regular(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_stat = os.stat
    counter = iter(range(1, 10**9))

    def lying_stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        st = real_stat(path, *args, **kwargs)
        if Path(path) != target:
            return st
        n = next(counter)  # a new key every time, so every poll opens the path again
        return SimpleNamespace(
            st_mode=stat.S_IFREG | 0o644, st_dev=st.st_dev, st_ino=n, st_mtime_ns=n, st_size=10
        )

    monkeypatch.setattr(sources_module.os, "stat", lying_stat)


@pytest.mark.parametrize("make", [make_fifo, make_dev_zero], ids=["FIFO", "/dev/zero"])
def test_special_file_behind_a_regular_stat_is_refused_by_fstat(
    flag_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: Any, make: Any
) -> None:
    make(flag_path, monkeypatch)
    stat_says_regular(flag_path, monkeypatch)
    engine = within(2.0, lambda: Maintenance(flag=flag_path))
    before = open_fds(flag_path)
    for _ in range(200):
        snapshot = fresh_poll(engine)
        assert snapshot.on
        assert snapshot.state == MaintenanceState()
    assert open_fds(flag_path) == before


def test_fifo_never_blocks_a_request(flag_path: Path, quiet: Any) -> None:
    os.mkfifo(flag_path)

    def inner(environ: Any, start_response: Any) -> list[bytes]:
        raise AssertionError("maintenance is on")

    app = WSGIMaintenance(inner, flag=flag_path, check_interval=0.001)

    def one_request() -> str:
        seen: dict[str, str] = {}
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()}
        app(environ, lambda status, headers, exc_info=None: seen.setdefault("status", status))
        return seen["status"]

    for _ in range(50):
        time.sleep(0.002)
        assert within(1.0, one_request).startswith("503")


# -- the source cannot tell: on_error decides ---------------------------------------------------


def dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.json")


def looping(path: Path) -> None:
    other = path.parent / "loop-b.json"
    other.symlink_to(path)
    path.symlink_to(other)


def unstatable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent folder the process may not search (root ignores chmod, so simulate EACCES)."""

    def refusing(real: Callable[..., Any]) -> Callable[..., Any]:
        def denied(p: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(p) == path:
                raise PermissionError(13, "Permission denied", str(p))
            return real(p, *args, **kwargs)

        return denied

    # Both: an unsearchable parent makes lstat() and stat() fail alike.
    monkeypatch.setattr(sources_module.os, "lstat", refusing(os.lstat))
    monkeypatch.setattr(sources_module.os, "stat", refusing(os.stat))


def expected_after_error(policy: str, before: MaintenanceState | None) -> MaintenanceState | None:
    if policy == "maintenance":
        return MaintenanceState()
    if policy == "serve":
        return None
    return before  # last_known: the last good answer, OFF before any


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("was_on", [False, True], ids=["was off", "was on"])
@pytest.mark.parametrize("fault", ["dangling symlink", "looping symlink", "cannot stat"])
def test_file_source_errors_follow_on_error(
    flag_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    quiet: Any,
    fault: str,
    was_on: bool,
    policy: str,
) -> None:
    if was_on:
        write_state_atomic(flag_path, BEFORE)
    engine = Maintenance(flag=flag_path, on_error=policy)  # type: ignore[arg-type]
    assert fresh_poll(engine).on is was_on
    flag_path.unlink(missing_ok=True)
    if fault == "dangling symlink":
        dangling(flag_path)
    elif fault == "looping symlink":
        looping(flag_path)
    else:
        flag_path.touch()
        unstatable(flag_path, monkeypatch)
    want = expected_after_error(policy, BEFORE if was_on else None)
    before = open_fds(flag_path)
    for _ in range(30):
        snapshot = fresh_poll(engine)
        assert snapshot.on is (want is not None)
        assert snapshot.state == want
    assert open_fds(flag_path) == before


def test_source_errors_are_logged_not_raised(
    flag_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dangling(flag_path)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        engine = Maintenance(flag=flag_path, on_error="maintenance")
        assert fresh_poll(engine).on
    messages = [r.getMessage() for r in caplog.records]
    assert any("dangling symlink" in m and "on_error=maintenance" in m for m in messages)


def test_no_fd_leak_over_many_changing_reads(flag_path: Path, quiet: Any) -> None:
    """Every content change opens the file once; 150 changes leave no descriptor behind."""
    engine = Maintenance(flag=flag_path)
    contents = [b'{"reason": "a"}', b"garbage", b"", b"[" * 60_000, b'{"reason": "b"}']
    before = open_fds(flag_path)
    for i in range(150):
        flag_path.write_bytes(contents[i % len(contents)])
        os.utime(flag_path, ns=(i * 10**9, i * 10**9))  # a new key even within one mtime tick
        assert fresh_poll(engine).on
        if i % 7 == 0:
            flag_path.unlink()
            assert not fresh_poll(engine).on
    assert open_fds(flag_path) == before


# -- concurrency: rewrites and symlink swaps under concurrent readers ---------------------------


class Budget:
    """Keep a writer going for ``seconds`` *and* ``at_least`` iterations, at most 10 s.

    On a slow disk or a busy machine the time alone may allow too few writes to mean much.
    """

    def __init__(self, seconds: float, *, at_least: int) -> None:
        self.started = time.monotonic()
        self.seconds = seconds
        self.at_least = at_least

    def __call__(self, done: int) -> bool:
        elapsed = time.monotonic() - self.started
        return elapsed < 10 and (elapsed < self.seconds or done < self.at_least)


def run_readers(
    engine: Maintenance, stop: threading.Event, threads: int = 4
) -> tuple[list[tuple[bool, str | None]], list[BaseException]]:
    seen: list[tuple[bool, str | None]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        local: list[tuple[bool, str | None]] = []
        try:
            while not stop.is_set():
                snapshot = engine.poll()
                local.append((snapshot.on, snapshot.state.reason if snapshot.state else None))
                time.sleep(0)  # a request does some I/O; let the writer run too
        except BaseException as exc:
            errors.append(exc)
        seen.extend(local)

    def async_reader() -> None:
        async def loop() -> None:
            while not stop.is_set():
                snapshot = await engine.apoll()
                seen.append((snapshot.on, snapshot.state.reason if snapshot.state else None))
                await asyncio.sleep(0)

        try:
            asyncio.run(loop())
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=reader) for _ in range(threads)]
    workers.append(threading.Thread(target=async_reader))
    for worker in workers:
        worker.start()
    stop.wait()
    for worker in workers:
        worker.join(timeout=5)
        assert not worker.is_alive()
    return seen, errors


def test_atomic_rewrites_under_concurrent_readers(flag_path: Path, quiet: Any) -> None:
    """write_state_atomic in a loop: readers never see OFF, a torn document or an exception."""
    states = [MaintenanceState(reason="one"), MaintenanceState(reason="two")]
    write_state_atomic(flag_path, states[0])
    engine = Maintenance(flag=flag_path, check_interval=0.0001)
    stop = threading.Event()
    writes = 0

    def writer() -> None:
        nonlocal writes
        busy = Budget(0.6, at_least=20)
        while busy(writes):
            write_state_atomic(flag_path, states[writes % 2])
            writes += 1
        stop.set()

    before = open_fds(flag_path)
    thread = threading.Thread(target=writer)
    thread.start()
    seen, errors = run_readers(engine, stop)
    thread.join()
    assert not errors, errors
    assert writes >= 20
    assert len(seen) > 100
    assert {on for on, _ in seen} == {True}  # never OFF
    assert {reason for _, reason in seen} == {"one", "two"}  # never torn, both seen
    assert open_fds(flag_path) == before


def test_in_place_rewrites_never_switch_off(flag_path: Path, quiet: Any) -> None:
    """Even a careless writer (truncate, then write) cannot flip maintenance off."""
    flag_path.write_text('{"reason": "one"}')
    engine = Maintenance(flag=flag_path, check_interval=0.0001)
    stop = threading.Event()

    def writer() -> None:
        busy = Budget(0.5, at_least=20)
        n = 0
        while busy(n):
            with flag_path.open("w") as fh:  # truncates: a reader may see it empty or torn
                fh.write(json.dumps({"reason": ["one", "two"][n % 2]}))
            n += 1
        stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen, errors = run_readers(engine, stop)
    thread.join()
    assert not errors, errors
    assert {on for on, _ in seen} == {True}
    assert {reason for _, reason in seen} <= {"one", "two", None}  # None: defaults, still ON


def test_configmap_symlink_swaps_under_concurrent_readers(tmp_path: Path, quiet: Any) -> None:
    """Kubernetes' atomic writer: flag -> ..data/flag, ..data swapped by rename, old dir removed."""
    volume = tmp_path / "volume"
    volume.mkdir()

    def publish(n: int, reason: str) -> None:
        folder = volume / f"..2026_11_27_{n:06d}"
        folder.mkdir()
        write_state_atomic(folder / "maintenance.json", MaintenanceState(reason=reason))
        old = os.readlink(volume / "..data") if (volume / "..data").is_symlink() else None
        (volume / "..data_tmp").symlink_to(folder.name)
        os.replace(volume / "..data_tmp", volume / "..data")
        if old is not None:
            shutil.rmtree(volume / old)

    publish(0, "swap 0")
    flag = volume / "maintenance.json"
    flag.symlink_to("..data/maintenance.json")
    engine = Maintenance(flag=flag, check_interval=0.0001)
    stop = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        busy = Budget(0.6, at_least=20)
        while busy(swaps):
            swaps += 1
            publish(swaps, f"swap {swaps % 3}")
        stop.set()

    thread = threading.Thread(target=swapper)
    thread.start()
    seen, errors = run_readers(engine, stop)
    thread.join()
    assert not errors, errors
    assert swaps >= 20
    assert {on for on, _ in seen} == {True}
    assert {reason for _, reason in seen} <= {"swap 0", "swap 1", "swap 2"}
    final = fresh_poll(engine)
    assert final.state is not None
    assert final.state.reason == f"swap {swaps % 3}"
    flag.unlink()  # the key removed from the ConfigMap: OFF
    assert not fresh_poll(engine).on


# -- callables: raise, wrong type, hang ----------------------------------------------------------


class Switch:
    """A callable flag that answers ``BEFORE`` until told to fail in a given way."""

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.failing = False
        self.release = threading.Event()

    def __call__(self) -> object:
        if not self.failing:
            return BEFORE
        if self.fault == "raises":
            raise ConnectionError("store down")
        if self.fault == "hangs":
            self.release.wait(30)
            return True
        return {"None": None, "str": "false", "int": 1, "dict": {"on": True}}[self.fault]


class AsyncSwitch(Switch):
    async def __call__(self) -> object:  # type: ignore[override]
        if self.failing and self.fault == "hangs":
            await asyncio.sleep(30)
        return super().__call__()


FAULTS = ["raises", "None", "str", "int", "dict"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("mode", ["poll (WSGI)", "apoll (ASGI)"])
def test_callable_errors_follow_on_error(quiet: Any, mode: str, fault: str, policy: str) -> None:
    switch = Switch(fault)
    engine = Maintenance(flag=switch, on_error=policy)  # type: ignore[arg-type]

    def check() -> Any:
        engine.invalidate()
        if mode.startswith("poll"):
            return within(1.0, engine.poll)
        return within(1.0, lambda: asyncio.run(engine.apoll()))

    assert check().state == BEFORE
    switch.failing = True
    want = expected_after_error(policy, BEFORE)
    for _ in range(3):
        snapshot = check()
        assert snapshot.on is (want is not None)
        assert snapshot.state == want


def test_keyboard_interrupt_propagates_and_releases_the_lock() -> None:
    calls = 0

    def flag() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyboardInterrupt
        return True

    engine = Maintenance(flag=flag)
    with pytest.raises(KeyboardInterrupt):
        engine.poll()
    engine.invalidate()
    assert within(1.0, engine.poll).on  # the lock was released


TIMEOUT = 0.2


@pytest.mark.parametrize("policy", ["maintenance", "serve"])
def test_hanging_async_callable_times_out_under_asgi(quiet: Any, policy: str) -> None:
    switch = AsyncSwitch("hangs")
    engine = Maintenance(flag=switch, on_error=policy, callable_timeout=TIMEOUT)  # type: ignore[arg-type]
    assert asyncio.run(engine.apoll()).state == BEFORE
    switch.failing = True
    engine.invalidate()
    started = time.monotonic()
    snapshot = within(TIMEOUT + 1.0, lambda: asyncio.run(engine.apoll()))
    assert time.monotonic() - started < TIMEOUT + 0.5
    assert snapshot.state == expected_after_error(policy, BEFORE)


@pytest.mark.parametrize("policy", ["maintenance", "serve"])
def test_hanging_async_callable_times_out_under_wsgi(quiet: Any, policy: str) -> None:
    switch = AsyncSwitch("hangs")
    engine = Maintenance(flag=switch, on_error=policy, callable_timeout=TIMEOUT)  # type: ignore[arg-type]
    assert within(1.0, engine.poll).state == BEFORE
    switch.failing = True
    engine.invalidate()
    snapshot = within(TIMEOUT + 1.0, engine.poll)
    assert snapshot.state == expected_after_error(policy, BEFORE)


@pytest.mark.parametrize("policy", ["maintenance", "serve"])
def test_hanging_sync_callable_times_out_under_asgi(quiet: Any, policy: str) -> None:
    switch = Switch("hangs")
    engine = Maintenance(flag=switch, on_error=policy, callable_timeout=TIMEOUT)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(engine.apoll()).state == BEFORE
        switch.failing = True
        engine.invalidate()
        started = time.monotonic()
        snapshot = loop.run_until_complete(engine.apoll())
        assert time.monotonic() - started < TIMEOUT + 0.5
        assert snapshot.state == expected_after_error(policy, BEFORE)
    finally:
        switch.release.set()  # the worker thread cannot be cancelled; let it finish
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


@pytest.mark.parametrize("policy", ["maintenance", "serve"])
def test_hanging_sync_callable_times_out_under_wsgi(quiet: Any, policy: str) -> None:
    """Under WSGI a sync callable runs in a helper thread, waited for callable_timeout."""
    switch = Switch("hangs")
    engine = Maintenance(flag=switch, on_error=policy, callable_timeout=TIMEOUT)  # type: ignore[arg-type]
    try:
        assert within(1.0, engine.poll).state == BEFORE
        switch.failing = True
        engine.invalidate()
        started = time.monotonic()
        snapshot = within(TIMEOUT + 0.5, engine.poll)
        assert time.monotonic() - started < TIMEOUT + 0.3
        assert snapshot.state == expected_after_error(policy, BEFORE)
        # The hung call still holds its thread: the next check fails at once, no pile-up.
        engine.invalidate()
        started = time.monotonic()
        snapshot = within(1.0, engine.poll)
        assert time.monotonic() - started < TIMEOUT
        assert snapshot.state == expected_after_error(policy, BEFORE)
    finally:
        switch.release.set()


def test_hanging_sync_callable_before_the_first_answer_blocks_no_request(quiet: Any) -> None:
    """Concurrent WSGI requests waiting for the very first answer are released by the timeout."""
    switch = Switch("hangs")
    switch.failing = True
    engine = Maintenance(flag=switch, on_error="maintenance", callable_timeout=TIMEOUT)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(engine.poll())) for _ in range(5)]
    try:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT + 1.0)
            assert not thread.is_alive(), "a request is still blocked"
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert [snapshot.on for snapshot in results] == [True] * 5  # on_error="maintenance"
    finally:
        switch.release.set()


# -- a wall-clock jump: Retry-After stays within [floor, cap] -----------------------------------

JUMPS = [
    pytest.param(timedelta(days=-365 * 100), id="100 years back"),
    pytest.param(timedelta(days=-1), id="a day back"),
    pytest.param(timedelta(seconds=-1), id="a second back"),
    pytest.param(timedelta(0), id="no jump"),
    pytest.param(timedelta(hours=1, minutes=59), id="just before the ETA"),
    pytest.param(timedelta(hours=3), id="past the latest ETA"),
    pytest.param(timedelta(days=365 * 100), id="100 years ahead"),
]


@pytest.mark.parametrize("jump", JUMPS)
@pytest.mark.parametrize(
    "eta",
    [
        pytest.param("point", id="point ETA"),
        pytest.param("range", id="ETA range"),
        pytest.param("none", id="no ETA"),
        # The ends of what a document may hold (state.check_time); beyond them, see
        # tests/test_hardening_times.py.
        pytest.param("year 9997", id="ETA at the end of year 9997"),
        pytest.param("year 1970", id="ETA at the start of 1970"),
    ],
)
def test_wall_clock_jump_keeps_retry_after_in_bounds(
    flag_path: Path, jump: timedelta, eta: str
) -> None:
    now = datetime.now(UTC)
    etas: dict[str, Any] = {
        "point": (now + timedelta(hours=2)).isoformat(),
        "range": {
            "earliest": (now + timedelta(hours=1)).isoformat(),
            "latest": (now + timedelta(hours=2)).isoformat(),
        },
        "none": None,
        "year 9997": "9997-12-31T23:59:59+00:00",
        "year 1970": "1970-01-01T00:00:00+00:00",
    }
    flag_path.write_text(json.dumps({"reason": "clock", "eta": etas[eta]}))
    engine = Maintenance(flag=flag_path)
    engine._clock = lambda: now + jump  # the engine's wall clock; intervals use time.monotonic
    snapshot = fresh_poll(engine)
    assert snapshot.state is not None
    assert snapshot.state.reason == "clock"
    s = engine.settings
    for accept in ("text/html", "application/problem+json", "text/plain"):
        request = RequestInfo(method="GET", path="/checkout", root="", peer=None, accept=accept)
        decision = engine.decide(snapshot, request)
        assert decision.response is not None
        assert decision.response.status == 503
        (value,) = [v for k, v in decision.response.headers if k == "Retry-After"]
        assert value.isdigit()
        assert 0 <= s.retry_after_min <= int(value) <= s.retry_after_max
        if accept == "application/problem+json":
            assert json.loads(decision.response.body)["retry_after"] == int(value)
        (length,) = [v for k, v in decision.response.headers if k == "Content-Length"]
        assert int(length) == len(decision.response.body)


def test_clock_jump_back_and_forth_rebuilds_the_cached_response(flag_path: Path) -> None:
    """The response cache is keyed by Retry-After: a jump back after a jump ahead is seen."""
    now = datetime.now(UTC)
    write_state_atomic(flag_path, MaintenanceState(eta=now + timedelta(hours=2)))
    engine = Maintenance(flag=flag_path)
    request = RequestInfo(method="GET", path="/", root="", peer=None)
    values = []
    for jump in (timedelta(0), timedelta(days=30), timedelta(days=-30), timedelta(0)):
        engine._clock = lambda jump=jump: now + jump  # type: ignore[misc]
        response = engine.decide(fresh_poll(engine), request).response
        assert response is not None
        values.append(dict(response.headers)["Retry-After"])
    assert values == ["7200", "60", "86400", "7200"]
