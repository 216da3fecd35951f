"""Flag sources: where "is maintenance on?" comes from.

A source answers with a :class:`MaintenanceState` (on, with details) or ``None``
(off), or raises :class:`FlagError` when it cannot tell; the engine then applies
the ``on_error`` policy. Sources are polled at most once per check interval by
the engine, never per request.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import errno
import inspect
import logging
import os
import stat
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from .state import MAX_STATE_BYTES, MaintenanceState, StateFileError, load_state

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


class FlagError(Exception):
    """A source could not tell whether maintenance is on (the on_error policy decides)."""


class FlagSource(abc.ABC):
    """Base class for flag sources. Subclass and implement :meth:`read`.

    ``read`` returns the state when maintenance is on, ``None`` when it is off,
    and raises :class:`FlagError` when it cannot tell. Sources that may block
    (network, database) set ``blocking``; asynchronous ones set ``is_async``
    and implement :meth:`aread`. Under ASGI the engine awaits :meth:`aread`
    for both, so the event loop never waits on them.
    """

    #: :meth:`aread` is a real coroutine (an async store).
    is_async: bool = False
    #: :meth:`read` may block; under ASGI it must not run on the event loop.
    blocking: bool = False

    @abc.abstractmethod
    def read(self) -> MaintenanceState | None:
        """The state when maintenance is on, None when off; FlagError when it cannot tell."""

    async def aread(self) -> MaintenanceState | None:
        """Under ASGI: a blocking :meth:`read` runs in a worker thread, others inline."""
        if self.blocking:
            return await asyncio.to_thread(self.read)
        return self.read()

    def describe(self) -> str:
        return type(self).__name__


class FileFlag(FlagSource):
    """A flag file: present means ON; its optional JSON content adds the details.

    The engine calls :meth:`read` at most once per check interval; each call is a
    single ``stat`` (following symlinks, so Kubernetes' ``..data`` swap is seen)
    and the file is re-read only when ``(device, inode, mtime_ns, size)`` changed.
    Content that is empty, half-written, invalid, unreadable or not a regular file
    still means ON, with the default details and one warning per change: a torn
    write can never switch maintenance off. A dangling or looping symlink, or a
    parent folder we may not search, raises :class:`FlagError`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
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
        self._state = MaintenanceState() if self.on else None

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
    Async functions are awaited with ``timeout`` seconds; under ASGI a sync
    function runs in a worker thread so it cannot block the event loop.
    """

    def __init__(self, func: Callable[[], Any], *, timeout: float = 2.0) -> None:
        if not callable(func):
            raise TypeError(f"flag callable must be callable, got {type(func).__name__}")
        if timeout <= 0:
            raise ValueError("callable timeout must be a positive number of seconds")
        self.func = func
        self.timeout = timeout
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__  # objects with an async __call__
        )
        self.blocking = not self.is_async  # unknown code: keep it off the event loop
        self._pending: concurrent.futures.Future[object] | None = None

    def describe(self) -> str:
        return f"callable {getattr(self.func, '__qualname__', repr(self.func))}"

    def _check(self, value: object) -> MaintenanceState | None:
        if value is True:
            return MaintenanceState()
        if value is False:
            return None
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

    def _call_bounded(self) -> object:
        """The sync function in a helper thread, waited for at most ``timeout`` seconds.

        A thread cannot be cancelled, so a hung call keeps its thread; until it
        returns, later checks fail at once (on_error applies) instead of piling up.
        """
        pending = self._pending
        if pending is not None and not pending.done():
            raise FlagError(
                f"flag {self.describe()} is still running from an earlier check "
                f"(over {self.timeout}s)"
            )
        future: concurrent.futures.Future[object] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(self._call())
            except BaseException as exc:  # handed to the waiting request thread
                future.set_exception(exc)

        self._pending = future
        threading.Thread(target=run, name="maintenance-mode-flag", daemon=True).start()
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise FlagError(f"flag {self.describe()} timed out after {self.timeout}s") from None

    def read(self) -> MaintenanceState | None:
        """Under WSGI: sync functions run off the request thread with the timeout."""
        value = self._call() if self.is_async else self._call_bounded()
        if inspect.isawaitable(value):
            awaitable = value

            async def bounded() -> object:
                return await asyncio.wait_for(awaitable, self.timeout)

            try:
                value = asyncio.run(bounded())
            except TimeoutError:
                raise FlagError(f"flag {self.describe()} timed out after {self.timeout}s") from None
            except FlagError:
                raise
            except Exception as exc:
                raise FlagError(
                    f"flag {self.describe()} raised {type(exc).__name__}: {exc}"
                ) from exc
        return self._check(value)

    async def aread(self) -> MaintenanceState | None:
        try:
            if self.is_async:
                value = await asyncio.wait_for(self._acall(), self.timeout)
            else:
                value = await asyncio.wait_for(asyncio.to_thread(self._call), self.timeout)
        except TimeoutError:
            raise FlagError(f"flag {self.describe()} timed out after {self.timeout}s") from None
        return self._check(value)

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
