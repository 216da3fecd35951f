"""Flag sources: where "is maintenance on?" comes from.

A source answers with a :class:`MaintenanceState` (on, with details) or ``None``
(off), or raises :class:`FlagError` when it cannot tell; the engine then applies
the ``on_error`` policy. Sources are polled at most once per check interval by
the engine, never per request.
"""

from __future__ import annotations

import abc
import errno
import inspect
import logging
import os
import stat
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # imported where awaited: a WSGI worker (Flask, gunicorn) never loads it
    import asyncio
    import concurrent.futures  # imported where a callable flag runs: others never load it

    # The document models load with the first document: a worker that is off never needs them.
    from .state import MaintenanceState

__all__ = [
    "CallableFlag",
    "EnvFlag",
    "FileFlag",
    "FlagError",
    "FlagSource",
    "parse_switch",
]

logger = logging.getLogger("maintenance_mode")

#: The only words an on/off switch accepts (any case, surrounding blanks ignored).
TRUE_WORDS = frozenset({"1", "true", "on", "yes"})
FALSE_WORDS = frozenset({"0", "false", "off", "no"})

_T = TypeVar("_T")


class FlagError(Exception):
    """A source could not tell whether maintenance is on (the on_error policy decides)."""


class _Flight:
    """At most one call of a source in flight, in a daemon thread (or task) of its own.

    A thread cannot be cancelled, so a hung call keeps its thread; until it returns,
    starting another call fails at once with :class:`FlagError` (``on_error`` applies)
    instead of piling up threads. The calls never use an executor: under ASGI the event
    loop's default executor stays free for the application's own ``to_thread`` and
    ``run_in_executor(None, ...)`` calls, however long a flag hangs.
    """

    __slots__ = ("_lock", "_pending", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._pending: concurrent.futures.Future[Any] | asyncio.Task[Any] | None = None

    def _claim(self, source: FlagSource) -> None:
        """Refuse while an earlier call runs (the caller holds the lock)."""
        pending = self._pending
        if pending is None or pending.done():
            return
        import concurrent.futures

        if not isinstance(pending, concurrent.futures.Future) and pending.get_loop().is_closed():
            return  # its loop is gone, and the call with it
        raise FlagError(
            f"flag {source.describe()} is still running from an earlier check "
            f"(over {source.timeout:g}s); not starting another"
        )

    def thread(self, source: FlagSource, func: Callable[[], _T]) -> concurrent.futures.Future[_T]:
        """Start ``func()`` in a new daemon thread; its future (which cannot be cancelled)."""
        import concurrent.futures

        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()  # a waiter giving up must not free the slot

        def run() -> None:
            try:
                result = func()
            except BaseException as exc:  # handed to whoever waits (KeyboardInterrupt too)
                future.set_exception(exc)
            else:
                future.set_result(result)

        with self._lock:
            self._claim(source)
            self._pending = future
            try:
                threading.Thread(target=run, name=self.name, daemon=True).start()
            except RuntimeError as exc:  # e.g. "can't start new thread": free the slot
                self._pending = None
                raise FlagError(
                    f"flag {source.describe()} could not start a thread: {exc}"
                ) from None
        return future

    def task(
        self, source: FlagSource, func: Callable[[], Coroutine[Any, Any, _T]]
    ) -> asyncio.Task[_T]:
        """Start ``func()`` as a task on the running loop."""
        import asyncio

        with self._lock:
            self._claim(source)
            task = self._pending = asyncio.get_running_loop().create_task(func())
        task.add_done_callback(_retrieve)
        return task


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark an abandoned task's outcome as seen (asyncio logs unseen exceptions)."""
    if not task.cancelled():
        task.exception()


def _timed_out(source: FlagSource) -> FlagError:
    return FlagError(f"flag {source.describe()} timed out after {source.timeout:g}s")


def _wait(source: FlagSource, future: concurrent.futures.Future[_T]) -> _T:
    """The thread's result, waited for at most ``source.timeout`` (in the request's thread)."""
    import concurrent.futures

    done, _ = concurrent.futures.wait((future,), source.timeout)
    if not done:
        raise _timed_out(source)
    return future.result()


async def _await_thread(source: FlagSource, future: concurrent.futures.Future[_T]) -> _T:
    """The thread's result, awaited for at most ``source.timeout`` (the loop stays free)."""
    import asyncio

    waiter = asyncio.wrap_future(future)
    try:
        done, _ = await asyncio.wait((waiter,), timeout=source.timeout)
    finally:
        if not waiter.done():
            waiter.cancel()  # stop listening; the thread runs on (its future cannot be cancelled)
    if not done:
        raise _timed_out(source)
    return waiter.result()


async def _await_task(source: FlagSource, task: asyncio.Task[_T]) -> _T:
    """The task's result within ``source.timeout``; past it, cancel the task and leave it.

    Unlike ``asyncio.wait_for`` this never waits for the cancelled task, so a coroutine
    that swallows ``CancelledError`` cannot stretch the timeout; until it ends, the
    source's :class:`_Flight` makes later checks fail at once.
    """
    import asyncio

    try:
        done, _ = await asyncio.wait((task,), timeout=source.timeout)
    except asyncio.CancelledError:  # the request itself went away: ask the call to stop too
        task.cancel()
        raise
    if not done:
        task.cancel()  # ask it to stop, but do not wait for it
        raise _timed_out(source)
    return task.result()


_FLIGHTS_LOCK = threading.Lock()


class FlagSource(abc.ABC):
    """Base class for flag sources. Subclass and implement :meth:`read`.

    ``read`` returns the state when maintenance is on, ``None`` when it is off,
    and raises :class:`FlagError` when it cannot tell. Sources that may block
    (network, database) set ``blocking``; asynchronous ones set ``is_async`` and
    implement :meth:`aread`. Under ASGI the engine awaits :meth:`aread` for both
    (and for files, see ``offload``), so the event loop never waits on them: the
    :meth:`read` runs in the source's own daemon thread (never the loop's default
    executor), is waited for at most ``timeout`` seconds, and while a call hangs
    later checks fail at once instead of starting another one.
    """

    #: :meth:`aread` is a real coroutine (an async store).
    is_async: bool = False
    #: :meth:`read` may wait on the network or another service: the engine does not call it
    #: at construction (start-up never waits on it), and under ASGI only through :meth:`aread`.
    blocking: bool = False
    #: Seconds the engine waits for one read off the event loop before ``on_error`` applies.
    timeout: float = 2.0

    @abc.abstractmethod
    def read(self) -> MaintenanceState | None:
        """The state when maintenance is on, None when off; FlagError when it cannot tell."""

    async def aread(self) -> MaintenanceState | None:
        """Under ASGI: :meth:`read` in this source's own thread when ``offload``, else inline."""
        if self.offload:
            return await self._in_thread(self.read)
        return self.read()

    @property
    def offload(self) -> bool:
        """Under ASGI, run :meth:`read` off the event loop (through :meth:`aread`).

        True for blocking sources, and for files although they are read at construction
        (a ``stat`` on a hung network mount blocks as well).
        """
        return self.blocking

    def describe(self) -> str:
        return type(self).__name__

    # -- bounded calls, for subclasses ------------------------------------------------

    #: The helper threads' name is ``maintenance-mode-<_thread_name>`` (for thread dumps).
    _thread_name = "flag"
    _flight_slot: _Flight | None = None

    def _flight(self) -> _Flight:
        """This source's one-call-at-a-time slot (made on first use, whatever ``__init__`` did)."""
        flight = self._flight_slot
        if flight is None:
            with _FLIGHTS_LOCK:
                flight = self._flight_slot
                if flight is None:
                    flight = self._flight_slot = _Flight(f"maintenance-mode-{self._thread_name}")
        return flight

    def _bounded(self, func: Callable[[], _T]) -> _T:
        """``func()`` in this source's helper thread, waited for at most ``timeout`` (WSGI)."""
        return _wait(self, self._flight().thread(self, func))

    async def _in_thread(self, func: Callable[[], _T]) -> _T:
        """``func()`` in this source's helper thread, awaited for at most ``timeout`` (ASGI)."""
        return await _await_thread(self, self._flight().thread(self, func))


class FileFlag(FlagSource):
    """A flag file: present means ON; its optional JSON content adds the details.

    The engine calls :meth:`read` at most once per check interval; each call is a
    single ``stat`` (following symlinks, so Kubernetes' ``..data`` swap is seen)
    and the file is re-read only when ``(device, inode, mtime_ns, size)`` changed.
    Content that is empty, half-written, invalid, unreadable or not a regular file
    still means ON, with the default details and one warning per change: a torn
    write can never switch maintenance off. A dangling or looping symlink, or a
    parent folder we may not search, raises :class:`FlagError`.

    The engine reads the file once at construction, so the first request is right.
    Under ASGI each later check runs in a helper thread, waited for at most
    ``timeout`` seconds: a hung network mount stalls neither the event loop nor
    more than one thread (later checks fail at once until the ``stat`` returns).
    """

    #: Local and cheap, so not ``blocking``: read at construction (the state is known before
    #: the first request) and in the request's thread under WSGI. But a ``stat`` on a hung
    #: network mount blocks, so under ASGI the checks run off the event loop.
    offload = True
    _thread_name = "file"

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 2.0) -> None:
        if not timeout > 0:  # NaN too
            raise ValueError("flag file timeout must be a positive number of seconds")
        self.path = Path(path).absolute()
        self.timeout = timeout
        self._key: tuple[int, int, int, int] | None = None
        self._state: MaintenanceState | None = None

    def describe(self) -> str:
        return f"file {self.path}"

    def read(self) -> MaintenanceState | None:
        path = self.path
        try:
            # lstat first: an absent flag (the usual case while off) costs one system call.
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                try:
                    st = os.stat(path)  # follow the link (Kubernetes' ..data swap)
                except FileNotFoundError:
                    raise FlagError(f"flag file {path} is a dangling symlink") from None
        except FileNotFoundError:
            self._key = self._state = None
            return None
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:  # a parent is a plain file: the flag cannot exist
                self._key = self._state = None
                return None
            raise FlagError(f"cannot stat flag file {path}: {exc.strerror}") from None
        key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._key and self._state is not None:
            return self._state
        state, self._key = self._load(st, key)
        self._state = state
        return state

    def _load(
        self, st: os.stat_result, key: tuple[int, int, int, int]
    ) -> tuple[MaintenanceState | None, tuple[int, int, int, int] | None]:
        from .state import MAX_STATE_BYTES, MaintenanceState, StateFileError, load_state

        path = self.path
        if not stat.S_ISREG(st.st_mode):
            logger.warning(
                "flag file %s is not a regular file; maintenance is ON with defaults", path
            )
            return MaintenanceState(), key
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            if os.path.lexists(path):  # a symlink whose target went mid-swap (..data renamed)
                raise FlagError(
                    f"flag file {path} changed while it was read (a symlink swap?); "
                    "reading it again at the next check"
                ) from None
            return None, None  # removed between stat and open: that is OFF
        except OSError as exc:
            logger.warning(
                "flag file %s exists but cannot be read (%s); maintenance is ON with defaults",
                path,
                exc.strerror,
            )
            return MaintenanceState(), key
        try:
            fst = os.fstat(fd)
            key = (fst.st_dev, fst.st_ino, fst.st_mtime_ns, fst.st_size)
            if not stat.S_ISREG(fst.st_mode):
                logger.warning(
                    "flag file %s is not a regular file; maintenance is ON with defaults", path
                )
                return MaintenanceState(), key
            chunks: list[bytes] = []
            remaining = MAX_STATE_BYTES + 1
            while remaining > 0:
                chunk = os.read(fd, remaining)
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            logger.warning(
                "flag file %s could not be read (%s); maintenance is ON with defaults",
                path,
                exc.strerror,
            )
            return MaintenanceState(), key
        finally:
            os.close(fd)
        try:
            return load_state(b"".join(chunks)), key
        except StateFileError as exc:
            logger.warning("%s (%s); maintenance is ON with default details", exc, path)
            return MaintenanceState(), key


def parse_switch(value: str, *, what: str) -> bool:
    """Parse an on/off word strictly; raise ValueError naming the accepted words."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{what} is {value!r}; use one of 1/0, true/false, on/off, yes/no (any case)")


class EnvFlag(FlagSource):
    """An environment variable with a strict on/off vocabulary, read once at start-up.

    A process cannot see another process change its environment, so this never
    updates without a restart (use a file or callable to flip a running app).
    Unset or blank means OFF; an unknown word raises ValueError at construction.
    """

    def __init__(self, name: str = "MAINTENANCE_MODE", *, environ: Mapping[str, str] | None = None):
        if not name or "=" in name:
            raise ValueError(f"environment variable name {name!r} is not valid")
        self.name = name
        raw = (os.environ if environ is None else environ).get(name, "")
        self.on = bool(raw.strip()) and parse_switch(raw, what=f"environment variable {name}")
        self._state: MaintenanceState | None = None
        if self.on:
            from .state import MaintenanceState

            self._state = MaintenanceState()

    def describe(self) -> str:
        return f"env {self.name}={'on' if self.on else 'off'}"

    def read(self) -> MaintenanceState | None:
        return self._state


StateCallable = Callable[[], "bool | MaintenanceState | Awaitable[bool | MaintenanceState]"]


class CallableFlag(FlagSource):
    """Any function, sync or async, returning ``True``/``False`` or a :class:`MaintenanceState`.

    Plug in your own store (a database row, a cache key, an HTTP document). The
    engine calls it at most once per check interval and caches the answer. Any
    other return type (``None``, ``"false"``, ``0``) is an error, never truthiness.

    Every call is waited for at most ``timeout`` seconds, and never more than one
    runs at a time: while a call that timed out still runs, later checks fail at
    once (``on_error`` applies). A sync function runs in a helper thread of its own
    (under ASGI, never the event loop or its default executor). Under ASGI an async
    function runs as a task that is cancelled at the timeout and then left to end
    on its own, so one that ignores cancellation cannot stretch the timeout; under
    WSGI it runs in its own event loop in the helper thread.
    """

    def __init__(self, func: Callable[[], Any], *, timeout: float = 2.0) -> None:
        if not callable(func):
            raise TypeError(f"flag callable must be callable, got {type(func).__name__}")
        if not timeout > 0:  # NaN too
            raise ValueError("callable timeout must be a positive number of seconds")
        self.func = func
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__  # objects with an async __call__
        )
        self.blocking = not self.is_async  # unknown code: keep it off the event loop

    def describe(self) -> str:
        return f"callable {getattr(self.func, '__qualname__', repr(self.func))}"

    def _check(self, value: object) -> MaintenanceState | None:
        if value is False:
            return None
        from .state import MaintenanceState  # loaded by now unless this is the first True

        if value is True:
            return MaintenanceState()
        if isinstance(value, MaintenanceState):
            return value
        raise FlagError(
            f"flag callable {self.describe()} returned {type(value).__name__} {value!r:.40}; "
            "it must return True, False or a MaintenanceState"
        )

    def _call(self) -> object:
        try:
            return self.func()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            raise FlagError(f"flag {self.describe()} raised {type(exc).__name__}: {exc}") from exc

    def _call_to_end(self) -> object:
        """In the helper thread: call; an awaitable result runs in its own event loop."""
        value = self._call()
        if not inspect.isawaitable(value):
            return value
        awaitable = value
        import asyncio

        async def bounded() -> object:  # asks the coroutine to stop at the timeout
            return await asyncio.wait_for(awaitable, self.timeout)

        try:
            return asyncio.run(bounded())
        except TimeoutError:
            raise _timed_out(self) from None
        except (FlagError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            raise FlagError(f"flag {self.describe()} raised {type(exc).__name__}: {exc}") from exc

    def read(self) -> MaintenanceState | None:
        """Under WSGI: the function runs in a helper thread, waited for at most ``timeout``."""
        return self._check(self._bounded(self._call_to_end))

    async def aread(self) -> MaintenanceState | None:
        """Under ASGI: a task (async) or a helper thread (sync), bounded, one at a time."""
        if not self.is_async:
            return self._check(await self._in_thread(self._call_to_end))
        task = self._flight().task(self, self._acall)
        return self._check(await _await_task(self, task))

    async def _acall(self) -> object:
        value = self._call()
        if inspect.isawaitable(value):
            try:
                return await value
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                raise FlagError(
                    f"flag {self.describe()} raised {type(exc).__name__}: {exc}"
                ) from exc
        return value


def default_redis_key() -> str:
    """``$MAINTENANCE_REDIS_KEY``, else ``maintenance_mode:state`` (app and commands alike)."""
    from .redis import DEFAULT_KEY

    return os.environ.get("MAINTENANCE_REDIS_KEY", "").strip() or DEFAULT_KEY


def default_flag() -> FlagSource:
    """The flag used when none is given, for the app and every command alike (also
    :func:`maintenance_mode.control.default_flag`; here, so a worker need not load control).

    ``$MAINTENANCE_REDIS`` (a Redis URL; key ``$MAINTENANCE_REDIS_KEY``, else
    ``maintenance_mode:state``), else ``$MAINTENANCE_FILE``, else ``maintenance.json``
    in the working directory. Setting both variables is an error: one would be ignored.
    """
    url = os.environ.get("MAINTENANCE_REDIS", "").strip()
    file = os.environ.get("MAINTENANCE_FILE", "").strip()
    if url and file:
        raise ValueError(
            "maintenance-mode: both MAINTENANCE_REDIS and MAINTENANCE_FILE are set; "
            "unset one (the app and the commands read the same one)"
        )
    if url:
        from .redis import RedisFlag

        return RedisFlag(url, default_redis_key())
    from .settings import default_flag_path

    return FileFlag(default_flag_path())
