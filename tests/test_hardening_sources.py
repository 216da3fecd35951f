"""Flag sources that hang, stall or send too much: bounded, one call at a time, off the loop.

Each source is read at most once per check interval, but a read can still hang: a
sync callable waiting on a dead database, an async one that ignores cancellation, a
Redis server that trickles its reply, a flag file on a hung network mount. The rules
(docs/security.md, "Source errors, callables and clocks"):

* a read is waited for at most its bound (``callable_timeout``, ``2 * socket_timeout
  + 0.5`` for Redis, the file source's ``timeout``), then ``on_error`` applies;
* a call that is still running from an earlier check makes later checks fail at once:
  never more than one call in flight per source;
* under ASGI a blocking read runs in the source's own daemon thread, never on the event
  loop and never in the loop's default executor (the app's own ``to_thread`` and
  ``run_in_executor(None, ...)`` stay free);
* a Redis value is capped like the flag file: at most ``MAX_STATE_BYTES + 1`` bytes
  cross the network, and a larger one means ON with the default details.

Hangs are released by a watchdog in every test, so a regression fails the test instead
of hanging the suite.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from maintenance_mode import Maintenance, MaintenanceState
from maintenance_mode.redis import DEFAULT_KEY as KEY
from maintenance_mode.redis import RedisFlag
from maintenance_mode.sources import CallableFlag, FileFlag, FlagError
from maintenance_mode.state import MAX_STATE_BYTES, dump_state

if TYPE_CHECKING:
    from conftest import RedisServer

T = TypeVar("T")
TIMEOUT = 0.2  # callable_timeout in these tests
WATCHDOG = 5.0  # every hang ends after this, whatever the code under test does


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Source errors are logged by design; keep them out of the test output."""
    with caplog.at_level(logging.CRITICAL + 1, logger="maintenance_mode"):
        yield caplog


class Hang:
    """A blocking call that counts itself: how many run at once, and on which threads."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._watchdog = threading.Timer(WATCHDOG, self.release.set)
        self._watchdog.daemon = True
        self._watchdog.start()

    def __call__(self) -> bool:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.append(threading.current_thread().name)
        try:
            self.release.wait()
            return True
        finally:
            with self._lock:
                self.running -= 1

    def end(self) -> None:
        self.release.set()
        self._watchdog.cancel()


async def watched(awaitable: Awaitable[T]) -> T:
    """Await with the watchdog's patience: a hang fails the test instead of the suite."""
    try:
        return await asyncio.wait_for(awaitable, WATCHDOG)
    except TimeoutError:
        pytest.fail(f"still waiting after {WATCHDOG}s")


def run_on_new_loop(scenario: Callable[[], Any], release: Callable[[], None]) -> Any:
    """Run ``scenario()`` on a fresh loop; end the hang before the executor shuts down.

    (``asyncio.run`` would wait for a hung executor thread for ever, and so hang the
    suite instead of failing the test when the code under test regresses.)
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        release()
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


# -- item 2: a hung sync callable under ASGI ------------------------------------------------


def test_hung_sync_callable_under_asgi_leaves_the_default_executor_free(quiet: Any) -> None:
    hang = Hang()
    engine = Maintenance(flag=hang, on_error="maintenance", callable_timeout=TIMEOUT)
    executor_answers: list[int] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=2))
        for _ in range(10):  # more checks than the default executor has threads
            engine.invalidate()
            snapshot = await watched(engine.apoll())
            assert snapshot.on  # on_error="maintenance"
        # The app's own use of the default executor is not starved by the hung flag.
        try:
            executor_answers.append(
                await asyncio.wait_for(loop.run_in_executor(None, lambda: 42), 1.0)
            )
            executor_answers.append(await asyncio.wait_for(asyncio.to_thread(lambda: 43), 1.0))
        except TimeoutError:
            pytest.fail(f"the default executor is starved: {hang.running} flag calls hang in it")

    run_on_new_loop(scenario, hang.end)
    assert executor_answers == [42, 43]
    assert hang.peak == 1, f"{hang.peak} calls of the hung flag ran at once"
    assert len(hang.threads) == 1  # later checks failed at once instead of calling again
    assert hang.threads == ["maintenance-mode-flag"]  # its own thread, not asyncio_N


def test_sync_callable_under_asgi_recovers_once_the_hung_call_returns(quiet: Any) -> None:
    hang = Hang()
    source = CallableFlag(hang, timeout=TIMEOUT)

    async def scenario() -> None:
        with pytest.raises(FlagError, match="timed out"):
            await source.aread()
        with pytest.raises(FlagError, match="still running"):
            await source.aread()  # at once: the first call is still in flight
        hang.end()
        deadline = time.monotonic() + WATCHDOG
        while hang.running and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert await source.aread() == MaintenanceState()  # the slot is free again

    run_on_new_loop(scenario, hang.end)
    assert hang.peak == 1


# -- item 6: an async callable that swallows CancelledError -----------------------------------


class Stubborn:
    """An async flag that ignores every cancellation until released (or the watchdog fires)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0
        self.cancellations = 0
        self._watchdog = threading.Timer(WATCHDOG, self.release.set)
        self._watchdog.daemon = True
        self._watchdog.start()

    async def __call__(self) -> bool:
        self.calls += 1
        while not self.release.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                self.cancellations += 1  # swallowed: the call goes on
        return True

    def end(self) -> None:
        self.release.set()
        self._watchdog.cancel()


def test_async_callable_that_swallows_cancellation_is_abandoned_under_asgi(quiet: Any) -> None:
    stubborn = Stubborn()
    source = CallableFlag(stubborn, timeout=TIMEOUT)
    assert source.is_async

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(FlagError, match="timed out"):
            await source.aread()
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"waited {elapsed:.1f}s for a {TIMEOUT}s timeout"
        await asyncio.sleep(0.05)
        assert stubborn.cancellations >= 1  # it was asked to stop
        started = time.monotonic()
        with pytest.raises(FlagError, match="still running"):
            await source.aread()  # the abandoned call is still going: fail at once
        assert time.monotonic() - started < 1.0
        assert stubborn.calls == 1
        stubborn.end()
        await asyncio.sleep(0.1)  # the abandoned task finishes on its own
        assert await source.aread() == MaintenanceState()
        assert stubborn.calls == 2

    try:
        asyncio.run(scenario())
    finally:
        stubborn.end()


def test_async_callable_that_swallows_cancellation_is_abandoned_under_wsgi(quiet: Any) -> None:
    stubborn = Stubborn()
    engine = Maintenance(flag=stubborn, on_error="maintenance", callable_timeout=TIMEOUT)
    try:
        started = time.monotonic()
        assert engine.poll().on  # the first check times out: on_error="maintenance"
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"waited {elapsed:.1f}s for a {TIMEOUT}s timeout"
        engine.invalidate()
        started = time.monotonic()
        assert engine.poll().on
        assert time.monotonic() - started < 1.0  # still running: failed at once
        assert stubborn.calls == 1
    finally:
        stubborn.end()


def test_abandoned_task_on_a_closed_loop_does_not_block_the_next_loop(quiet: Any) -> None:
    stubborn = Stubborn()
    source = CallableFlag(stubborn, timeout=TIMEOUT)
    first = asyncio.new_event_loop()
    try:
        with pytest.raises(FlagError, match="timed out"):
            first.run_until_complete(source.aread())
    finally:
        first.close()  # closed with the abandoned task still pending: it can never end now
    stubborn.end()
    assert asyncio.run(source.aread()) == MaintenanceState()
    assert stubborn.calls == 2
    # The abandoned task can never end: let it go here, where asyncio's "destroyed but
    # pending" message is expected, not in whichever later test the collector runs in.
    del source, first
    with quiet.at_level(logging.CRITICAL + 1, logger="asyncio"):
        gc.collect()


def test_a_cancelled_check_cancels_the_async_call() -> None:
    """A request that goes away while it waits for the check also asks the call to stop."""
    seen: list[str] = []

    async def slow() -> bool:
        try:
            await asyncio.sleep(WATCHDOG)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return True

    source = CallableFlag(slow, timeout=WATCHDOG)

    async def scenario() -> None:
        check = asyncio.create_task(source.aread())
        await asyncio.sleep(0.1)
        check.cancel()
        with pytest.raises(asyncio.CancelledError):
            await check
        await asyncio.sleep(0.05)
        assert seen == ["cancelled"]  # now, not at the loop's shutdown

    asyncio.run(scenario())


# -- item 5: Redis under ASGI, bounded as a whole; the value's size capped -------------------


class TricklingServer:
    """Accepts connections and answers each with a reply that never ends, one byte per 0.3 s.

    Every single receive succeeds well within a 0.5 s socket timeout, so only a bound on
    the whole read can stop a client.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.connections = 0
        self.stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed by close()
                return
            self.connections += 1
            thread = threading.Thread(target=self._trickle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"+")  # a simple string reply whose line never ends
                while not self.stop.wait(0.3):
                    conn.sendall(b"x")
            except OSError:  # the client gave up
                return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def trickling() -> Iterator[TricklingServer]:
    server = TricklingServer()
    yield server
    server.close()


def test_redis_read_under_asgi_is_bounded_as_a_whole(trickling: TricklingServer) -> None:
    flag = RedisFlag(trickling.url, socket_timeout=0.5)
    bound = 2 * 0.5 + 0.5  # the same as under WSGI

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(FlagError, match="timed out"):
            await watched(flag.aread())
        elapsed = time.monotonic() - started
        assert elapsed < bound + 1.5, f"took {elapsed:.1f}s for a {bound}s bound"
        for _ in range(5):  # later checks while the first read still hangs: no pile-up
            started = time.monotonic()
            with pytest.raises(FlagError):
                await watched(flag.aread())
            assert time.monotonic() - started < 1.0

    run_on_new_loop(scenario, trickling.close)
    assert trickling.connections == 1


def test_redis_read_under_wsgi_is_bounded_as_a_whole(trickling: TricklingServer) -> None:
    flag = RedisFlag(trickling.url, socket_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FlagError, match="timed out"):
        flag.read()
    assert time.monotonic() - started < 3.0
    with pytest.raises(FlagError):
        flag.read()
    assert trickling.connections == 1


def _sent_by(server: RedisServer) -> int:
    """Bytes the server has written to its clients so far (INFO's own reply included)."""
    return int(server.client().info("stats")["total_net_output_bytes"])


@pytest.mark.parametrize("mode", ["read (WSGI)", "aread (ASGI)"])
def test_redis_huge_value_is_on_with_defaults_and_never_downloaded(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    redis_server.client().set(KEY, b'{"reason": "huge"}' + b" " * (4 * 1024 * 1024))
    flag = RedisFlag(redis_server.url)

    def read() -> MaintenanceState | None:
        return flag.read() if mode.startswith("read") else asyncio.run(flag.aread())

    with caplog.at_level(logging.WARNING, "maintenance_mode"):
        before = _sent_by(redis_server)
        for _ in range(3):  # every check
            assert read() == MaintenanceState()  # present: ON, with the default details
        sent = _sent_by(redis_server) - before
    assert sent < 3 * (MAX_STATE_BYTES + 4096), f"{sent} bytes crossed the network"
    assert len(caplog.records) == 1  # one warning, not one per check
    assert f"larger than {MAX_STATE_BYTES} bytes" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("size", "reason"),
    [
        pytest.param(MAX_STATE_BYTES, "At the limit", id="exactly the limit: parsed"),
        pytest.param(MAX_STATE_BYTES + 1, None, id="one byte over: defaults"),
    ],
)
def test_redis_value_size_limit_is_the_flag_file_limit(
    redis_server: RedisServer, quiet: Any, size: int, reason: str | None
) -> None:
    doc = dump_state(MaintenanceState(reason="At the limit")).encode()
    redis_server.client().set(KEY, doc + b" " * (size - len(doc)))
    flag = RedisFlag(redis_server.url)
    for state in (flag.read(), asyncio.run(RedisFlag(redis_server.url).aread())):
        assert state is not None
        assert state.reason == reason


def test_redis_absent_and_empty_keys_keep_their_meaning(redis_server: RedisServer) -> None:
    flag = RedisFlag(redis_server.url)
    assert flag.read() is None  # absent: OFF
    assert asyncio.run(flag.aread()) is None
    redis_server.client().set(KEY, b"")  # present but empty: ON with defaults
    assert flag.read() == MaintenanceState()
    assert asyncio.run(RedisFlag(redis_server.url).aread()) == MaintenanceState()
    redis_server.client().delete(KEY)
    redis_server.client().rpush(KEY, b"not a string")  # the wrong type: a source error
    with pytest.raises(FlagError, match="could not be read"):
        flag.read()


# -- item 10: the flag file's stat and read off the event loop -------------------------------


class HungMount(Hang):
    """``os.lstat`` of one path hangs (as on a hung NFS mount) while ``armed`` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = str(path)
        self.armed = threading.Event()


@pytest.fixture
def hung_mount(monkeypatch: pytest.MonkeyPatch, flag_path: Path) -> Iterator[HungMount]:
    hang = HungMount(flag_path)
    real_lstat = os.lstat

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if hang.armed.is_set() and os.fspath(path) == hang.path:
            hang()
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    yield hang
    hang.end()


def test_file_flag_check_under_asgi_never_blocks_the_event_loop(
    flag_path: Path, hung_mount: HungMount, quiet: Any
) -> None:
    flag_path.write_text('{"reason": "Before the mount hung"}')
    engine = Maintenance(flag=flag_path, check_interval=60)  # the file source's own bound (2 s)
    gaps: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async def scenario() -> None:
        assert (await engine.apoll()).on
        hung_mount.armed.set()
        stop = asyncio.Event()
        ticks = asyncio.create_task(ticker(stop))
        for _ in range(5):  # the first check waits for its bound, the others fail at once
            engine.invalidate()
            snapshot = await watched(engine.apoll())
            assert snapshot.on  # on_error="last_known": the state before the hang
            assert snapshot.state is not None
            assert snapshot.state.reason == "Before the mount hung"
        stop.set()
        await ticks

    run_on_new_loop(scenario, hung_mount.end)
    assert max(gaps) < 1.0, f"the event loop stood still for {max(gaps):.1f}s"
    assert hung_mount.peak == 1
    assert hung_mount.threads == ["maintenance-mode-file"]


def test_file_flag_aread_is_bounded_and_recovers(
    flag_path: Path, hung_mount: HungMount, quiet: Any
) -> None:
    flag_path.write_text("{}")
    source = FileFlag(flag_path, timeout=TIMEOUT)

    async def scenario() -> None:
        assert await source.aread() == MaintenanceState()
        hung_mount.armed.set()
        started = time.monotonic()
        with pytest.raises(FlagError, match="timed out"):
            await source.aread()
        assert time.monotonic() - started < 2.5
        with pytest.raises(FlagError, match="still running"):
            await source.aread()
        hung_mount.armed.clear()
        hung_mount.end()
        deadline = time.monotonic() + WATCHDOG
        while hung_mount.running and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        flag_path.unlink()
        assert await source.aread() is None  # the mount is back: the flag is gone, OFF

    run_on_new_loop(scenario, hung_mount.end)


def test_file_flag_engine_knows_its_state_before_the_first_request(flag_path: Path) -> None:
    """The file is read at construction, so even the first ASGI request sees no check due."""
    flag_path.write_text('{"reason": "Known at start"}')
    engine = Maintenance(flag=flag_path)
    snapshot = engine.fresh()
    assert snapshot is not None, "the flag file was not read at construction"
    assert snapshot.on
    assert snapshot.state is not None
    assert snapshot.state.reason == "Known at start"
    assert Maintenance(flag=[flag_path, "env:MAINTENANCE_TEST_UNSET"]).fresh() is not None


def test_file_flag_timeout_must_be_positive(flag_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        FileFlag(flag_path, timeout=0)
