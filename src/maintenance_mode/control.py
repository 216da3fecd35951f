"""Every change of maintenance state, in one public layer: on, off, update, schedule, status.

The ``maintenance`` CLI, ``manage.py maintenance``, ``flask maintenance``, the
Django admin page and users' own scripts all call these functions; none of them
writes the flag document itself. Each function takes the target first, in the
forms the ``flag`` option accepts for a writable store::

    from maintenance_mode import control

    control.on("/srv/shop/maintenance.json", reason="Database upgrade", eta="1h..2h")
    control.update("redis://10.0.0.5:6379/0", "Data migrated; restarting")
    control.off(None)  # None: $MAINTENANCE_REDIS, else $MAINTENANCE_FILE, else ./maintenance.json

Writers serialise, so none loses another's change: a flag file is changed under an
exclusive lock on a file beside it (``.maintenance.json.lock``), a Redis key in a
``WATCH``/``MULTI`` transaction. Every new document is validated before anything is
written; a refused change (:class:`InvalidChange`) or a failed write
(:class:`ControlError`) leaves the old document as it was.
"""

from __future__ import annotations

import abc
import errno
import hashlib
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, TypeAdapter, ValidationError

# First: a clear error if django-maintenance-mode's files are mixed with ours.
import maintenance_mode._install  # noqa: F401

from .rules import check_allow_entry
from .schedule import Phase, evaluate, evaluate_components, window_state
from .settings import _CLI_DURATION
from .sources import EnvFlag, FileFlag, FlagSource, default_flag, default_redis_key
from .state import (
    COMPONENT_NAME,
    MAX_STATE_BYTES,
    ComponentState,
    ETARange,
    MaintenanceState,
    ProgressUpdate,
    StateFileError,
    Window,
    dump_state,
    load_state,
    locale_key,
    one_line,
    write_state_atomic,
)

if TYPE_CHECKING:
    from .redis import RedisFlag

__all__ = [
    "MAX_WRITE_BYTES",
    "Action",
    "Change",
    "ControlError",
    "FileStore",
    "InvalidChange",
    "RedisStore",
    "Status",
    "Store",
    "Target",
    "clear_schedule",
    "default_flag",
    "off",
    "on",
    "parse_duration",
    "parse_eta",
    "parse_when",
    "round_eta",
    "schedule",
    "status",
    "store",
    "update",
    "wait",
]

#: How long a writer waits for another writer's lock before giving up.
LOCK_TIMEOUT = 10.0
#: Notice below which :func:`schedule` warns (the product brief: at least 48 hours).
MIN_NOTICE = timedelta(hours=48)
#: The largest document a writer leaves in the store: below the engine's
#: ``MAX_STATE_BYTES`` (64 KiB), with room for a hand edit. A change that would pass it
#: moves the oldest progress updates to the archive beside the document until the
#: document is at most three quarters of this size (so archiving happens in batches,
#: not on every update), keeping the reason, message, ETA, windows and latest updates.
MAX_WRITE_BYTES = 56 * 1024


class ControlError(Exception):
    """A change or a read could not be made (store unreachable, folder not writable, ...).

    The message is one line that says what is wrong and how to fix it.
    """


class InvalidChange(ControlError, ValueError):
    """The change itself is wrong (bad time, nothing to update, read-only flag, ...)."""


# -- times ---------------------------------------------------------------------------------

#: The duration grammar options share with the commands (``90m``, ``2h``, ``1d12h``).
_DURATION = _CLI_DURATION
_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
_NOT_A_TIME = (
    "{!r} is neither a duration (30m, 2h, 1d12h) nor an ISO 8601 time with an offset "
    "(2026-11-27T14:00+01:00)"
)
#: Durations longer than this are refused: no maintenance is planned a century ahead.
_MAX_DURATION = timedelta(days=36500)


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d12h``, ``45s``: a positive duration (ValueError otherwise)."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (30m, 2h, 1d12h)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        duration = _MAX_DURATION * 2
    if duration > _MAX_DURATION:
        raise ValueError(f"{text!r} is too long; give at most 36500d (100 years)")
    if not duration:
        raise ValueError(f"{text!r} is zero; give a positive duration")
    return duration


def _later(now: datetime, duration: timedelta, text: str) -> datetime:
    try:
        return now + duration
    except OverflowError:
        raise ValueError(f"{text!r} is too far in the future") from None


def parse_when(text: str, *, now: datetime) -> datetime:
    """A duration from ``now`` (``90m``, ``2h``, ``1d12h``) or an ISO 8601 time with an offset."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if text and match and any(match.groups()):
        return _later(now, parse_duration(text), text)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", text):  # no Unix timestamps, no bare dates
        raise ValueError(_NOT_A_TIME.format(text))
    try:
        return _AWARE.validate_python(text)
    except ValidationError as exc:
        if exc.errors()[0]["type"] == "timezone_aware":
            raise ValueError(
                f"{text!r} has no time zone; add an offset, e.g. 2026-11-27T14:00+01:00 or ...Z"
            ) from None
        raise ValueError(_NOT_A_TIME.format(text)) from None


def _when_in(text: str, zone: str, now: datetime) -> datetime:
    """A duration, an ISO time with offset, or a wall-clock ISO time read in ``zone``."""
    try:
        return parse_when(text, now=now)
    except ValueError as exc:
        if "too" in str(exc):  # too long / too far: a real duration, refused as such
            raise
        try:
            naive = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"{text!r} is neither a duration (2d, 90m) nor an ISO 8601 time "
                f"(2026-12-01T10:00, read in the time zone {zone})"
            ) from None
        return naive if naive.tzinfo is not None else naive.replace(tzinfo=ZoneInfo(zone))


def _range(text: str, one: Callable[[str], datetime]) -> datetime | ETARange:
    for sep in ("..", "/"):
        if sep in text:
            first, _, second = text.partition(sep)
            earliest, latest = one(first), one(second)
            if latest < earliest:
                raise ValueError(f"range {text!r} ends before it starts; write EARLIEST..LATEST")
            return ETARange(earliest=earliest, latest=latest)
    return one(text)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def round_eta(moment: datetime, now: datetime) -> datetime:
    """``moment`` rounded up to the clock's next 5 minutes (under two hours from ``now``)
    or 15 minutes (beyond): an ETA reckoned from a duration claims no false precision."""
    step = timedelta(minutes=5 if moment - now < timedelta(hours=2) else 15)
    excess = (moment - _EPOCH) % step
    if not excess:
        return moment
    try:
        return moment + (step - excess)
    except OverflowError:  # pragma: no cover - parse_duration caps durations far below this
        return moment


def parse_eta(
    text: str, *, now: datetime | None = None, rounded: bool = True
) -> datetime | ETARange:
    """``WHEN`` or a range ``WHEN..WHEN`` (or ``WHEN/WHEN``), e.g. ``2h..4h``; never in the past.

    A duration (``20m``) is reckoned from ``now`` and, when ``rounded``, rounded up by
    :func:`round_eta` (``20m`` at 14:42 is 15:05), so the page, the document and
    Retry-After all say the same honest time. A time given as such is kept exactly.
    """
    now = now or _now()

    def one(part: str) -> datetime:
        moment = parse_when(part, now=now)
        if rounded and _DURATION.fullmatch(part.strip()):
            return round_eta(moment, now)
        return moment

    eta = _range(text, one)
    earliest = eta.earliest if isinstance(eta, ETARange) else eta
    if earliest <= now:
        raise ValueError(f"{text!r} is not in the future; an ETA says when maintenance should end")
    return eta


#: An ETA: a time, a range, a duration from now, or text (``"2h"``, ``"2h..4h"``, ISO 8601).
ETA: TypeAlias = datetime | ETARange | timedelta | str
#: A moment: a time, a duration from now, or text (``"2d"``, ISO 8601).
When: TypeAlias = datetime | timedelta | str


def _eta(value: ETA, now: datetime, what: str = "eta") -> datetime | ETARange:
    rounded = what == "eta"  # an ETA from a duration is rounded up; an expiry is kept exact
    try:
        if isinstance(value, str):
            return parse_eta(value, now=now, rounded=rounded)
        if isinstance(value, timedelta):
            value = _later(now, value, str(value))
            value = round_eta(value, now) if rounded else value
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone; give an aware datetime")
        earliest = value.earliest if isinstance(value, ETARange) else value
        if earliest <= now:
            raise ValueError(f"{earliest.isoformat()} is not in the future")
        return value
    except ValueError as exc:
        raise InvalidChange(f"{what}: {exc}") from None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# -- stores --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    """What a store holds: a document, or nothing (None), and why it could not be read."""

    state: MaintenanceState | None
    #: Why the document present could not be used (it then means ON with default details).
    problem: str | None = None
    #: How many older updates this write moved to the archive, and where it is.
    moved: int = 0
    archive: str | None = None


class Store(abc.ABC):
    """A writable place for the flag document: a file or a Redis key."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the document lives, for messages (no password)."""

    @abc.abstractmethod
    def read(self) -> Current:
        """The document as the app would read it (same size cap and checks)."""

    @abc.abstractmethod
    def change(self, decide: Callable[[Current], MaintenanceState | _Keep | None]) -> Current:
        """Read, ``decide``, write, with no other writer in between; return what was written.

        ``decide`` may be called more than once (Redis retries on a concurrent write),
        so it must only compute. Returning :data:`KEEP` writes nothing.
        """

    def __str__(self) -> str:
        return self.describe()


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: Returned by a ``decide`` function: leave the store as it is.
KEEP = _Keep()


def _size(state: MaintenanceState) -> int:
    return len(dump_state(state).encode("utf-8"))


def _fit(new: MaintenanceState) -> tuple[MaintenanceState, tuple[ProgressUpdate, ...]]:
    """``new`` kept under :data:`MAX_WRITE_BYTES`, and the oldest updates moved out of it.

    Only updates move, oldest first, and never the latest one; the document counts
    them in ``archived_updates``. A document still larger than the app reads is refused.
    """
    if _size(new) <= MAX_WRITE_BYTES:
        return new, ()
    ordered = sorted(new.updates, key=lambda u: u.at)  # stable: equal times keep their order

    def without(count: int) -> MaintenanceState:
        gone = {u.at for u in ordered[:count]} - {u.at for u in ordered[count:]}
        texts = {  # a moved update's translations go with it
            tag: block.model_copy(
                update={"updates": {k: v for k, v in block.updates.items() if k not in gone}}
            )
            for tag, block in new.translations.items()
        }
        return new.model_copy(
            update={
                "updates": tuple(ordered[count:]),
                "archived_updates": new.archived_updates + count,
                "translations": texts,
            }
        )

    def fewest(limit: int) -> int:
        """The fewest updates to move for the document to fit ``limit``; at most all but one."""
        low, high = 0, max(len(ordered) - 1, 0)
        while low < high:
            middle = (low + high) // 2
            if _size(without(middle)) <= limit:
                high = middle
            else:
                low = middle + 1
        return low

    count = fewest(MAX_WRITE_BYTES * 3 // 4)
    if _size(without(count)) > MAX_WRITE_BYTES * 3 // 4:  # long texts: keep what fits the limit
        count = fewest(MAX_WRITE_BYTES)
    kept = without(count)
    if _size(kept) > MAX_STATE_BYTES:
        raise InvalidChange(
            f"the document would be {_size(kept)} bytes, more than the {MAX_STATE_BYTES} the app "
            "reads; shorten the reason, message or windows (maintenance schedule --clear)"
        )
    return kept, tuple(ordered[:count])


def _archive_lines(state: MaintenanceState, moved: Sequence[ProgressUpdate]) -> list[bytes]:
    """One JSON line per archived update, with the maintenance it belongs to."""
    started = _iso(state.started_at) if state.started_at else None
    return [
        json.dumps({"started_at": started, **u.model_dump(mode="json")}, ensure_ascii=False).encode(
            "utf-8"
        )
        + b"\n"
        for u in moved
    ]


def _decode(data: bytes, where: str) -> Current:
    if len(data) > MAX_STATE_BYTES:
        return Current(MaintenanceState(), f"{where} is larger than {MAX_STATE_BYTES} bytes")
    try:
        return Current(load_state(data))
    except StateFileError as exc:
        return Current(MaintenanceState(), f"{exc} ({where})")


class FileStore(Store):
    """A flag file, changed under an exclusive lock on ``.<name>.lock`` beside it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not str(path):
            raise InvalidChange("the flag file path is empty")
        self.path = Path(path).absolute()
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        #: Where older updates go (one JSON line each) to keep the document small.
        self.archive_path = self.path.with_name(f".{self.path.name}.archive.jsonl")

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> Current:
        """Like the engine: never blocks on a FIFO, never reads more than the size cap."""
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags)
        except FileNotFoundError:
            if os.path.lexists(self.path):
                return Current(MaintenanceState(), f"{self.path} is a dangling symlink")
            return Current(None)
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                return Current(None)
            return Current(MaintenanceState(), f"{self.path} cannot be read ({exc.strerror})")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return Current(MaintenanceState(), f"{self.path} is not a regular file")
            chunks: list[bytes] = []
            remaining = MAX_STATE_BYTES + 1
            while remaining > 0 and (chunk := os.read(fd, remaining)):
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError as exc:
            return Current(MaintenanceState(), f"{self.path} cannot be read ({exc.strerror})")
        finally:
            os.close(fd)
        return _decode(b"".join(chunks), str(self.path))

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            fd = os.open(
                self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644
            )
        except OSError as exc:
            raise ControlError(
                f"cannot lock {self.path}: {self.lock_path}: {exc.strerror}; check the folder "
                "exists and is writable by this user"
            ) from None
        try:
            _lock(fd, self.path)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def change(self, decide: Callable[[Current], MaintenanceState | _Keep | None]) -> Current:
        with self._locked():
            new = decide(self.read())
            if isinstance(new, _Keep):
                return self.read()
            if new is None:
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise ControlError(f"cannot remove {self.path}: {exc.strerror}") from None
                return Current(None)
            new, moved = _fit(new)
            if moved:  # first the archive: a failure in between duplicates, never loses
                self._append(_archive_lines(new, moved))
            try:
                write_state_atomic(self.path, new)
            except OSError as exc:
                raise ControlError(
                    f"cannot write {self.path}: {exc.strerror}; check the folder exists and "
                    "is writable by this user"
                ) from None
            return Current(new, moved=len(moved), archive=str(self.archive_path))

    def _append(self, lines: list[bytes]) -> None:
        """Append to the archive in one write, synced (the caller holds the lock)."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.archive_path, flags, 0o644)
            try:
                data = b"".join(lines)
                while data:
                    data = data[os.write(fd, data) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ControlError(
                f"cannot archive older updates to {self.archive_path}: {exc.strerror}; check "
                "the folder is writable by this user"
            ) from None


def _lock(fd: int, path: Path) -> None:
    """An exclusive lock on ``fd``, waiting at most :data:`LOCK_TIMEOUT` seconds."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        def attempt() -> None:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]

    else:

        def attempt() -> None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            attempt()
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ControlError(f"cannot lock {path}: {exc.strerror}") from None
        if time.monotonic() >= deadline:
            raise ControlError(
                f"another writer has held the lock on {path} for over {LOCK_TIMEOUT:g}s; "
                "try again (a stuck 'maintenance' process may hold it)"
            )
        time.sleep(0.01)


class RedisStore(Store):
    """A Redis key, changed in a ``WATCH``/``MULTI``/``EXEC`` transaction (retried on a race)."""

    def __init__(self, url: str, key: str | None = None, *, socket_timeout: float = 5.0) -> None:
        from .redis import redis_client

        self.url = url
        self.key = key or default_redis_key()
        try:
            self.client = redis_client(url, socket_timeout=socket_timeout)
        except (ImportError, ValueError) as exc:
            raise InvalidChange(str(exc).removeprefix("maintenance-mode: ")) from None

    @property
    def archive_key(self) -> str:
        """The list where older updates go (one JSON string each) to keep the value small."""
        return f"{self.key}:archive"

    def describe(self) -> str:
        from .redis import redacted

        return f"{redacted(self.url)} key {self.key}"

    def _get(self, client: Any) -> Current:
        if not client.exists(self.key):
            return Current(None)
        size = client.strlen(self.key)
        if size > MAX_STATE_BYTES:  # never download it: the app does not either
            return Current(
                MaintenanceState(), f"{self.describe()} is larger than {MAX_STATE_BYTES} bytes"
            )
        value = client.get(self.key)
        return Current(None) if value is None else _decode(bytes(value), self.describe())

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        import redis

        try:
            yield
        except (redis.RedisError, OSError) as exc:
            raise ControlError(f"cannot {what} {self.describe()}: {exc}") from None

    def read(self) -> Current:
        with self._errors("read"):
            return self._get(self.client)

    def change(self, decide: Callable[[Current], MaintenanceState | _Keep | None]) -> Current:
        import redis

        with self._errors("write"), self.client.pipeline() as pipe:
            for _ in range(100):
                try:
                    pipe.watch(self.key)  # type: ignore[no-untyped-call]
                    current = self._get(pipe)
                    new = decide(current)
                    if isinstance(new, _Keep):
                        pipe.unwatch()
                        return current
                    moved: tuple[ProgressUpdate, ...] = ()
                    if new is not None:
                        new, moved = _fit(new)
                    pipe.multi()
                    if new is None:
                        pipe.delete(self.key)
                    else:
                        if moved:
                            pipe.rpush(self.archive_key, *_archive_lines(new, moved))
                        pipe.set(self.key, dump_state(new).encode("utf-8"))
                    pipe.execute()
                    archive = f"{self.describe()}:archive"
                    return Current(new, moved=len(moved), archive=archive)
                except redis.WatchError:
                    time.sleep(secrets.randbelow(20) / 1000)  # another writer won: read again
            raise ControlError(f"{self.describe()} kept changing under 100 attempts; try again")


#: What the control functions take as their target: like the ``flag`` option, for stores
#: that can be written (a path, a ``redis://`` URL, ``None`` for the default, a
#: :class:`~maintenance_mode.FileFlag` or :class:`~maintenance_mode.redis.RedisFlag`,
#: a :class:`Store`, or a list whose first writable entry is used).
Target: TypeAlias = "str | os.PathLike[str] | FlagSource | Store | Sequence[Any] | None"


def store(flag: Target = None) -> Store:
    """The writable store behind ``flag``; :class:`InvalidChange` names a read-only one."""
    if isinstance(flag, Store):
        return flag
    if flag is None:
        try:
            flag = default_flag()
        except ValueError as exc:
            raise InvalidChange(str(exc).removeprefix("maintenance-mode: ")) from None
    if isinstance(flag, FileFlag):
        return FileStore(flag.path)
    if type(flag).__name__ == "RedisFlag" and hasattr(flag, "key"):
        source: RedisFlag = flag  # type: ignore[assignment]
        return RedisStore(source.url, source.key)
    if isinstance(flag, str) and flag.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(flag)
    if isinstance(flag, EnvFlag) or (isinstance(flag, str) and flag.startswith("env:")):
        name = f"env:{flag.name}" if isinstance(flag, EnvFlag) else flag
        raise InvalidChange(
            f"the flag {name!r} is an environment variable, which no command can change in a "
            "running app; set it and restart, or use a flag file or Redis"
        )
    if isinstance(flag, str | os.PathLike):
        return FileStore(flag)
    if isinstance(flag, Sequence) and not isinstance(flag, bytes):
        problems = []
        for item in flag:
            try:
                return store(item)
            except InvalidChange as exc:
                problems.append(str(exc))
        raise InvalidChange("no writable flag in the list: " + "; ".join(problems or ["empty"]))
    what = flag.describe() if isinstance(flag, FlagSource) else repr(flag)
    raise InvalidChange(
        f"the flag {what} is read-only here (a callable or custom source answers for itself); "
        "change your own store, or use a flag file or a redis:// URL"
    )


# -- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """What a flag document means now: on or off, the details, the windows ahead."""

    target: str
    on: bool
    phase: Phase
    #: The effective details while on (a started window's own), else None.
    state: MaintenanceState | None
    #: The document as stored (None when there is none).
    document: MaintenanceState | None
    #: The window behind the phase (active, announced or scheduled), if any.
    window: Window | None = None
    #: Why a document present could not be read (it then means ON with default details).
    problem: str | None = None
    at: datetime = field(default_factory=_now)
    #: Each component of the document, as its own status (``maintenance on --component``).
    components: dict[str, Status] = field(default_factory=dict)

    @property
    def upcoming(self) -> tuple[Window, ...]:
        """The windows that have not started, soonest first."""
        windows = self.document.windows if self.document is not None else ()
        return tuple(sorted((w for w in windows if w.start > self.at), key=lambda w: w.start))

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the operator should act on: the ETA has passed and no update came since,
        so visitors are left with a time that is no longer true."""
        state = self.state
        if not self.on or state is None or state.eta_latest is None:
            return ()
        eta = state.eta_latest
        if self.at <= eta or any(update.at > eta for update in state.updates):
            return ()
        minutes = max(1, int((self.at - eta).total_seconds() // 60))
        late = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
        return (
            f"the ETA passed {late} ago with no update since; post one, with a new estimate "
            "if you have it: maintenance update 'What is happening' --eta 30m",
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``maintenance status --json`` prints)."""

        def dump(model: Any) -> Any:
            return None if model is None else model.model_dump(mode="json")

        return {
            "target": self.target,
            "on": self.on,
            "phase": self.phase,
            "problem": self.problem,
            "warnings": list(self.warnings),
            "state": dump(self.state),
            "window": dump(self.window),
            "upcoming": [dump(w) for w in self.upcoming],
            "document": dump(self.document),
            "components": {name: c.to_json() for name, c in self.components.items()},
        }


def _status(where: Store, current: Current, now: datetime) -> Status:
    doc = current.state
    if doc is None:
        return Status(str(where), False, "idle", None, None, at=now)
    found = evaluate(doc, now)
    parts = {
        name: Status(
            f"{where} component {name!r}",
            one.on,
            one.phase,
            one.state,
            doc.components[name],
            one.window,
            at=now,
        )
        for name, one in evaluate_components(doc, now).items()
    }
    return Status(
        str(where),
        found.on,
        found.phase,
        found.state,
        doc,
        found.window,
        current.problem,
        now,
        parts,
    )


def status(flag: Target = None, *, now: datetime | None = None) -> Status:
    """Whether maintenance is on at ``flag`` now, with its details and windows."""
    where = store(flag)
    return _status(where, where.read(), now or _now())


# -- changing ------------------------------------------------------------------------------

#: What a change did, for messages and exit codes.
Action = Literal["started", "updated", "ended", "purged", "scheduled", "cleared", "unchanged"]


@dataclass(frozen=True)
class Change:
    """The result of a control call: what it did and the state it left."""

    action: Action
    status: Status
    #: The bypass token made by ``on(secret=...)``: shown once, stored only as a hash.
    secret: str | None = None
    #: The window ``schedule`` added.
    window: Window | None = None
    #: Things the caller should tell a human (short notice, an unreadable document replaced).
    warnings: tuple[str, ...] = ()
    #: The function that made it: ``on``, ``update``, ``off``, ``schedule``, ``clear_schedule``.
    verb: str = ""
    #: The component it changed (``component=``), or None for the whole site.
    component: str | None = None

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``--json`` prints on every command)."""
        out: dict[str, Any] = {"action": self.action, **self.status.to_json()}
        out["component"] = self.component
        if self.secret is not None:
            out["secret"] = self.secret
        if self.window is not None:
            out["scheduled"] = self.window.model_dump(mode="json")
        out["warnings"] = list(dict.fromkeys((*self.warnings, *self.status.warnings)))
        return out


def _validated(data: dict[str, Any]) -> MaintenanceState:
    try:
        return MaintenanceState.model_validate(data)
    except ValidationError as exc:
        raise InvalidChange(f"invalid details: {one_line(exc)}") from None
    except (OverflowError, ValueError) as exc:
        raise InvalidChange(f"invalid details: {exc}") from None


def _running(current: MaintenanceState | None, now: datetime) -> MaintenanceState | None:
    """The document of a maintenance that is on now, made explicit (``started_at`` set)."""
    if current is None:
        return None
    found = evaluate(current, now)
    if found.phase == "on":  # a bare or hand-written file: say since when, from now on
        return current if current.started_at else current.model_copy(update={"started_at": now})
    if found.phase == "active" and found.window is not None:
        return window_state(current, found.window)  # a started window, taken over by hand
    return None


_SECRET = re.compile(r"[A-Za-z0-9._~-]{22,256}")


def secret_digest(token: str) -> str:
    """The SHA-256 of a bypass token, as the flag document stores it (never the token)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _finish(
    verb: str, where: Store, action: Action, written: Current, now: datetime, **extra: Any
) -> Change:
    if written.moved:
        extra["warnings"] = (
            *extra.get("warnings", ()),
            f"moved {written.moved} older update{'s' if written.moved != 1 else ''} to "
            f"{written.archive} to keep the document under {MAX_WRITE_BYTES // 1024} KiB; "
            "the page shows the latest ones",
        )
    return Change(action, _status(where, written, now), verb=verb, **extra)


_COMPONENT = re.compile(COMPONENT_NAME)


def _component(name: str | None) -> str | None:
    """``name`` if it is a component's name (``payments``), else :class:`InvalidChange`."""
    if name is not None and not _COMPONENT.fullmatch(name):
        raise InvalidChange(
            f"component {name!r} is not a component name: use lower-case letters, digits, "
            "'_' and '-', starting with a letter or digit (e.g. 'payments')"
        )
    return name


Decide: TypeAlias = Callable[[Current], MaintenanceState | _Keep | None]


def _scoped(name: str | None, decide: Decide, read_only: bool | None = None) -> Decide:
    """``decide`` applied to one component's document inside the site's (None: the site).

    The component's details go through the same rules as the site's; removing the
    last component of a document that holds nothing else removes the document (a
    bare document would mean ON for the whole site).
    """
    if name is None:
        return decide

    def scoped(current: Current) -> MaintenanceState | _Keep | None:
        if current.problem is not None:
            raise InvalidChange(
                f"{current.problem}; changing component {name!r} would lose the details it "
                "cannot read. Fix or remove the document first"
            )
        doc = current.state
        part = doc.components.get(name) if doc is not None else None
        new = decide(Current(part.site_state() if part is not None else None))
        if new is KEEP:
            return KEEP
        parts = dict(doc.components) if doc is not None else {}
        if new is None:
            parts.pop(name, None)
        else:
            assert isinstance(new, MaintenanceState)
            keep = part.read_only if part is not None else False
            data = {**new.model_dump(), "read_only": keep if read_only is None else read_only}
            try:
                parts[name] = ComponentState.model_validate(data)
            except ValidationError as exc:
                raise InvalidChange(f"invalid details: {one_line(exc)}") from None
        if doc is None:
            return MaintenanceState(components=parts) if parts else None
        if (
            not parts
            and doc.started_at is None
            and doc.expires_at is None
            and doc.ended_at is None
            and not doc.windows
        ):
            return None  # nothing left: a bare document would mean ON
        return doc.model_copy(update={"components": parts})

    return scoped


#: The operator's texts ``on`` and ``update`` can give per language (see state.TextBlock).
_TEXT_FIELDS = ("reason", "message", "apology", "compensation")


def _lang(tag: str) -> str:
    """``tag`` as translations are keyed (``pt-br`` → ``pt_BR``), else :class:`InvalidChange`."""
    try:
        return locale_key(tag)
    except ValueError as exc:
        raise InvalidChange(f"lang: {exc}") from None


def _texts_in(
    lang: str | None,
    changes: dict[str, Any],
    translations: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """The per-language texts of a call, by normalised tag: ``translations``, plus (with
    ``lang``) the text fields of ``changes``, moved out of it (they are that language's)."""
    out: dict[str, dict[str, Any]] = {}
    for tag, block in (translations or {}).items():
        if not isinstance(block, Mapping):
            raise InvalidChange(
                f"translations[{tag!r}]: give the texts as a mapping, e.g. {{'reason': '...'}}"
            )
        out.setdefault(_lang(tag), {}).update(block)
    if lang is not None:
        own = {k: changes.pop(k) for k in _TEXT_FIELDS if isinstance(changes.get(k), str)}
        if not own:
            raise InvalidChange(
                "lang: give the text in that language too, e.g. --lang fr --reason '...'"
            )
        out.setdefault(_lang(lang), {}).update(own)
    return out


def _merged_texts(
    running: MaintenanceState, data: Mapping[str, Any], texts: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """``running``'s translations with ``texts`` written over them, and the warnings.

    A default-language text that changes makes its translations stale: they are
    dropped (unless this call gives them again) and a warning says so, so a visitor
    never reads the old text in another language.
    """
    out = {tag: block.model_dump() for tag, block in running.translations.items()}
    notes: list[str] = []
    for name in _TEXT_FIELDS:
        if data.get(name) == getattr(running, name, None):
            continue
        stale = sorted(t for t, b in out.items() if b.get(name) and name not in texts.get(t, {}))
        for tag in stale:
            out[tag][name] = None
        if stale:
            notes.append(
                f"dropped the {name} in {', '.join(stale)}: it translated the old text; "
                f"give it again with --lang {stale[0]} --{name} '...'"
            )
    for tag, block in texts.items():
        out[tag] = {**out.get(tag, {}), **block}
    return out, notes


def _note_texts(
    out: dict[str, Any],
    updates: Sequence[ProgressUpdate],
    at: datetime,
    lang: str | None,
    text: str,
    translations: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Translations ``out`` with an update's texts: with ``lang``, ``text`` translates the
    latest of ``updates``; else ``translations`` ({tag: text}) translate the new one at ``at``."""
    notes: dict[str, str] = {_lang(tag): note for tag, note in (translations or {}).items()}
    if lang is not None:
        if not updates:
            raise InvalidChange("there is no update to translate yet; add it first without --lang")
        at = max(u.at for u in updates)
        notes[lang] = text
    for tag, note in notes.items():
        block = out.setdefault(tag, {})
        block["updates"] = {**block.get("updates", {}), at: note}
    return out


def on(
    flag: Target = None,
    *,
    reason: str | None = None,
    message: str | None = None,
    eta: ETA | None = None,
    kind: Literal["planned", "unplanned"] | None = None,
    expires: When | None = None,
    allow: Sequence[str] = (),
    secret: str | bool | None = None,
    now: datetime | None = None,
    component: str | None = None,
    read_only: bool | None = None,
    apology: bool | str | None = None,
    compensation: str | None = None,
    lang: str | None = None,
    translations: Mapping[str, Mapping[str, Any]] | None = None,
) -> Change:
    """Turn maintenance on, or change the details of the one running (no gap).

    ``eta`` is when it should end (a range is best: ``"2h..4h"``); ``expires``
    switches it off by itself, in case the deploy script never does; ``allow``
    adds paths that keep working; ``secret=True`` makes a bypass token for this
    maintenance only (``str`` gives your own), returned once in :attr:`Change.secret`.
    ``component`` puts only that part of the site down (``"payments"``; the app's
    ``components`` option says what belongs to it); ``read_only`` then blocks only
    its writes. ``apology`` (``True``: the page's translated sentence, or your words)
    and ``compensation`` ("a 10% voucher: SORRY10") are shown when set; ``""`` or
    ``False`` removes them. With ``lang="fr"`` the texts given (reason, message,
    apology, compensation) are that language's, kept beside the default language's;
    ``translations={"fr": {"reason": ...}}`` gives several languages at once.
    """
    now = now or _now()
    _component(component)
    if read_only is not None and component is None:
        raise InvalidChange(
            "read_only is per component here (give a component); for the whole site use "
            "the read_only option"
        )
    changes: dict[str, Any] = {"kind": kind, "reason": reason, "message": message}
    changes = {name: value for name, value in changes.items() if value is not None}
    changes |= _amends(apology, compensation)
    texts = _texts_in(lang, changes, translations)
    if eta is not None:
        changes["eta"] = _eta(eta, now)
    if expires is not None:
        expires_at = _eta(_duration_or_when(expires), now, "expires")
        changes["expires_at"] = (
            expires_at if isinstance(expires_at, datetime) else expires_at.latest
        )
    try:
        extra_allow = tuple(check_allow_entry(entry) for entry in allow)
    except ValueError as exc:
        raise InvalidChange(f"allow: {exc}") from None
    token: str | None = None
    if secret is True:
        token = secrets.token_urlsafe(24)
    elif isinstance(secret, str):
        if not _SECRET.fullmatch(secret):
            raise InvalidChange(
                "secret: give at least 22 characters of A-Z a-z 0-9 . _ ~ - (or let one be made)"
            )
        token = secret
    if token is not None:
        changes["bypass_sha256"] = secret_digest(token)
    before: list[bool] = []
    notes: list[str] = []

    def decide(current: Current) -> MaintenanceState:
        running = _running(current.state, now)
        before[:] = [running is not None and current.problem is None]
        notes[:] = [f"{current.problem}; replaced by a new document"] if current.problem else []
        if running is None:  # start afresh, keeping the windows ahead and the components
            kept = current.state if current.state and not current.problem else None
            ahead = kept.windows if kept else ()
            running = MaintenanceState(
                started_at=now,
                windows=tuple(w for w in ahead if w.start > now),
                components=kept.components if kept else {},
            )
        data = {**running.model_dump(), **changes}
        data["translations"], dropped = _merged_texts(running, data, texts)
        notes.extend(dropped)
        if extra_allow:
            data["allow"] = tuple(dict.fromkeys((*running.allow, *extra_allow)))
        return _validated(data)

    where = store(flag)
    written = where.change(_scoped(component, decide, read_only))
    action: Action = "updated" if before and before[0] else "started"
    return _finish(
        "on", where, action, written, now, secret=token, warnings=tuple(notes), component=component
    )


def _amends(apology: bool | str | None, compensation: str | None) -> dict[str, Any]:
    """The apology and compensation fields a change sets (None: left as they are)."""
    out: dict[str, Any] = {}
    if apology is not None:
        out["apology"] = (apology.strip() or False) if isinstance(apology, str) else apology
    if compensation is not None:
        out["compensation"] = compensation.strip() or None
    return out


def _duration_or_when(value: When) -> ETA:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            return value
    return value


def update(
    flag: Target,
    text: str,
    *,
    eta: ETA | None = None,
    now: datetime | None = None,
    component: str | None = None,
    apology: bool | str | None = None,
    compensation: str | None = None,
    lang: str | None = None,
    translations: Mapping[str, str] | None = None,
) -> Change:
    """Add a timestamped progress note to the running maintenance (and optionally a new ETA).

    With ``component``, to that component's maintenance. ``apology`` and
    ``compensation`` change as in :func:`on`. With ``lang="fr"``, ``text`` is the
    French text of the latest update (no new note); ``translations={"fr": "..."}``
    gives the new note's text in other languages.
    """
    now = now or _now()
    _component(component)
    key = _lang(lang) if lang is not None else None
    amends = _amends(apology, compensation)
    own = {k: amends.pop(k) for k in _TEXT_FIELDS if key and isinstance(amends.get(k), str)}
    notes: list[str] = []
    new_eta = _eta(eta, now) if eta is not None else None
    if not text or not text.strip():
        raise InvalidChange("the update is empty; say what changed, e.g. 'Database migrated'")
    where = store(flag)

    def decide(current: Current) -> MaintenanceState:
        if current.problem is not None:
            raise InvalidChange(
                f"{current.problem}; the update would lose the details it cannot read. "
                "Replace the document with 'on' first"
            )
        running = _running(current.state, now)
        if running is None:
            what = f"component {component!r}" if component else "maintenance"
            raise InvalidChange(f"{what} is not on ({where}); nothing to update. Turn it on first")
        data = running.model_dump()
        if key is None:
            data["updates"] = [*running.updates, {"at": now, "text": text}]
        data |= amends
        texts, notes[:] = _merged_texts(running, data, {key: own} if key and own else {})
        data["translations"] = _note_texts(texts, running.updates, now, key, text, translations)
        if new_eta is not None:
            if running.eta is not None and new_eta != running.eta:
                data["eta_revised_at"] = now  # one time, not a history of estimates
            data["eta"] = new_eta
        return _validated(data)

    written = where.change(_scoped(component, decide))
    return _finish(
        "update", where, "updated", written, now, component=component, warnings=tuple(notes)
    )


def off(
    flag: Target = None,
    *,
    purge: bool = False,
    now: datetime | None = None,
    component: str | None = None,
) -> Change:
    """Turn maintenance off: the document records the end and keeps the windows ahead.

    ``purge=True`` removes the document (windows and all). A document that cannot be
    read (unreadable, too large, invalid) still means ON for the app, so it is
    replaced by one that records the end. With ``component``, only that component's
    maintenance ends (``purge``: its entry goes, windows and all); the site's and the
    other components' stay as they are.
    """
    now = now or _now()
    _component(component)
    where = store(flag)
    notes: list[str] = []
    result: list[Action] = []

    def decide(current: Current) -> MaintenanceState | _Keep | None:
        notes.clear()
        if current.state is None:
            result[:] = ["unchanged"]
            return KEEP
        if purge:
            result[:] = ["purged"]
            return None
        if current.problem is not None:
            notes.append(f"{current.problem}; replaced by a document that records the end")
            result[:] = ["ended"]
            return MaintenanceState(started_at=now, ended_at=now, expires_at=now)
        running = _running(current.state, now)
        if running is None:
            result[:] = ["unchanged"]
            return KEEP
        ahead = tuple(w for w in running.windows if w.start > now)
        # A passed expiry means "up" (and drives the "we're back" banner for ended_banner_for).
        result[:] = ["ended"]
        return running.model_copy(update={"windows": ahead, "ended_at": now, "expires_at": now})

    written = where.change(_scoped(component, decide))
    return _finish(
        "off", where, result[0], written, now, warnings=tuple(notes), component=component
    )


def schedule(
    flag: Target = None,
    *,
    start: When,
    end: ETA | None = None,
    timezone: str = "UTC",
    kind: Literal["planned", "unplanned"] = "planned",
    reason: str | None = None,
    message: str | None = None,
    affected: Sequence[str] = (),
    unaffected: Sequence[str] = (),
    announce: timedelta | str | None = None,
    auto_end: bool = False,
    now: datetime | None = None,
    component: str | None = None,
    apology: bool | str | None = None,
    compensation: str | None = None,
    lang: str | None = None,
    translations: Mapping[str, Mapping[str, Any]] | None = None,
) -> Change:
    """Plan a window: the banner shows from ``announce`` before ``start`` (default 48 hours),
    maintenance starts by itself at ``start`` and ends with :func:`off` (or at ``end``
    with ``auto_end``). Text times without an offset are read in ``timezone``; an
    ``end`` duration counts from the start. Less than 48 hours' notice gives a warning.
    With ``component``, the window takes only that component down. ``apology`` and
    ``compensation`` are shown while the window is on (see :func:`on`).
    ``translations={"fr": {"reason": ...}}`` gives the window's texts in other languages.
    With ``lang="fr"`` the texts given are that language's and go to the window already
    starting at ``start`` (schedule it in the default language first); ``end`` is then
    not needed and the window's other details stay as they are.
    """
    if lang is not None:
        return _translate_window(
            flag,
            start,
            timezone,
            lang,
            now or _now(),
            component,
            translations,
            {
                "reason": reason,
                "message": message,
                "affected": list(affected) or None,
                "unaffected": list(unaffected) or None,
                **_amends(apology, compensation),
            },
        )
    if end is None:
        raise InvalidChange("end: give when the window ends (an ISO time, 4h, or 3h..5h)")
    texts = _texts_in(None, {}, translations)
    now = now or _now()
    _component(component)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidChange(
            f"{timezone!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)"
        ) from None
    try:
        begin = _moment(start, timezone, now)
        finish = (
            _range(end, lambda p: _when_in(p, timezone, begin)) if isinstance(end, str) else end
        )
        if isinstance(finish, timedelta):
            finish = _later(begin, finish, str(finish))
        lead = parse_duration(announce) if isinstance(announce, str) else announce
    except ValueError as exc:
        raise InvalidChange(str(exc)) from None
    if begin <= now:
        raise InvalidChange(f"start {begin.isoformat()} is not in the future")
    window: dict[str, Any] = {
        "start": begin,
        "end": finish,
        "timezone": timezone,
        "kind": kind,
        "reason": reason,
        "message": message,
        "affected": list(affected),
        "unaffected": list(unaffected),
        "auto_end": auto_end,
        **_amends(apology, compensation),
        "translations": texts,
    }
    if lead is not None:
        try:
            window["announce_from"] = begin - lead
        except OverflowError:
            raise InvalidChange(f"announce {announce!r} is too long") from None

    def decide(current: Current) -> MaintenanceState:
        if current.problem is not None:
            raise InvalidChange(
                f"{current.problem}; scheduling would lose the details it cannot read. "
                "Fix or remove the document first"
            )
        # A document that means ON must keep meaning ON once it holds windows too.
        base = _running(current.state, now) or current.state or MaintenanceState()
        data = base.model_dump()
        data["windows"] = sorted([*data["windows"], window], key=lambda w: w["start"])
        return _validated(data)

    where = store(flag)
    written = where.change(_scoped(component, decide))
    doc = written.state
    if component is not None and doc is not None:
        doc = doc.components.get(component)
    added = next(w for w in (doc.windows if doc else ()) if w.start == begin)
    warnings = []
    if begin - now < MIN_NOTICE:
        warnings.append(
            f"the window starts in {_span(begin - now)}: visitors get less than 48 hours' notice "
            "(announce planned work at least 48 hours ahead, weeks for long outages)"
        )
    return _finish(
        "schedule",
        where,
        "scheduled",
        written,
        now,
        window=added,
        warnings=tuple(warnings),
        component=component,
    )


def _translate_window(
    flag: Target,
    start: When,
    timezone: str,
    lang: str,
    now: datetime,
    component: str | None,
    translations: Mapping[str, Mapping[str, Any]] | None,
    given: dict[str, Any],
) -> Change:
    """``schedule(lang=...)``: the texts given, in ``lang``, added to the window at ``start``."""
    own = {name: value for name, value in given.items() if value is not None}
    if not own or not isinstance(own.get("apology", ""), str):
        raise InvalidChange(
            "lang: give the window's text in that language too, e.g. --lang fr --reason '...'"
        )
    texts = _texts_in(None, {}, translations)
    texts.setdefault(_lang(lang), {}).update(own)
    try:
        ZoneInfo(timezone)
        begin = _moment(start, timezone, now)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidChange(str(exc)) from None
    found: list[Window] = []

    def decide(current: Current) -> MaintenanceState:
        if current.problem is not None or current.state is None:
            raise InvalidChange(current.problem or f"no window starts at {begin.isoformat()}")
        data = current.state.model_dump()
        for window in data["windows"]:
            if window["start"] == begin:
                merged = {**window["translations"]}
                for tag, block in texts.items():
                    merged[tag] = {**merged.get(tag, {}), **block}
                window["translations"] = merged
                break
        else:
            raise InvalidChange(
                f"lang: no window starts at {begin.isoformat()}; schedule it in the default "
                "language first, then give its translation with the same --start"
            )
        new = _validated(data)
        found[:] = [w for w in new.windows if w.start == begin]
        return new

    where = store(flag)
    written = where.change(_scoped(component, decide))
    return _finish(
        "schedule", where, "scheduled", written, now, window=found[0], component=component
    )


def _moment(value: When, zone: str, now: datetime) -> datetime:
    if isinstance(value, str):
        return _when_in(value, zone, now)
    if isinstance(value, timedelta):
        return _later(now, value, str(value))
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(zone))
    return value


def _span(delta: timedelta) -> str:
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min"


def clear_schedule(
    flag: Target = None, *, now: datetime | None = None, component: str | None = None
) -> Change:
    """Remove every window that has not started (a running maintenance stays as it is).

    With ``component``, that component's windows only.
    """
    now = now or _now()
    _component(component)
    where = store(flag)
    result: list[Action] = []

    def decide(current: Current) -> MaintenanceState | _Keep | None:
        doc = current.state
        if (
            doc is None
            or current.problem is not None
            or not any(w.start > now for w in doc.windows)
        ):
            result[:] = ["unchanged"]
            return KEEP
        base = _running(doc, now) or doc
        kept = tuple(w for w in base.windows if w.start <= now)
        result[:] = ["cleared"]
        if not kept and base.started_at is None and base.expires_at is None and not base.components:
            return None  # it held only windows: without them it would mean ON
        return base.model_copy(update={"windows": kept})

    written = where.change(_scoped(component, decide))
    return _finish("clear_schedule", where, result[0], written, now, component=component)


# -- waiting for the app -------------------------------------------------------------------


def _serves(document: dict[str, Any], expected: Status) -> bool:
    """Whether a status document (``status_path``) shows what ``expected`` says.

    The site is down for indicators other than ``none`` and ``minor`` (only components
    down); a component the document lists must show the same (up or down) as expected.
    """
    on = document.get("status", {}).get("indicator") not in (None, "none", "minor")
    if on != expected.on:
        return False
    if not on:
        listed = {c.get("id"): c.get("status") for c in document.get("components", ())}
        for name, part in expected.components.items():
            if name in listed and (listed[name] != "operational") != part.on:
                return False
    entries = [*document.get("incidents", ()), *document.get("scheduled_maintenances", ())]
    if expected.on and expected.state is not None:
        running = [e for e in entries if e.get("status") != "scheduled"]
        count = len(expected.state.updates)
        if not any(len(e.get("incident_updates", ())) == count for e in running):
            return False
    ahead = {_iso(w.start) for w in expected.upcoming}
    shown = {e.get("id") for e in entries if e.get("status") == "scheduled"}
    return ahead <= shown


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def wait(
    url: str,
    expected: Status | Change,
    *,
    timeout: float = 60.0,
    settle: float = 2.0,
    interval: float = 0.25,
) -> None:
    """Poll the app's status document at ``url`` until it serves ``expected``.

    Returns once every answer for ``settle`` seconds (more than the app's
    ``check_interval``, 1 s by default) showed the new state: each worker re-reads
    the flag before answering once its check interval has passed, so by then every
    worker serves it. Raises :class:`ControlError` after ``timeout`` seconds.
    """
    import urllib.request  # here: a worker importing this module never needs it

    want = expected.status if isinstance(expected, Change) else expected
    if not url.startswith(("http://", "https://")):
        raise InvalidChange(f"{url!r} is not an http:// or https:// URL of the status document")
    deadline = time.monotonic() + timeout
    since: float | None = None
    last = "no answer yet"
    while True:
        now = time.monotonic()
        try:
            ask = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
            limit = max(0.5, min(5.0, deadline - now))
            with urllib.request.urlopen(ask, timeout=limit) as answer:  # noqa: S310 - checked
                document = json.loads(answer.read(1 << 20))
            ok = isinstance(document, dict) and _serves(document, want)
            last = "it still serves the old state" if not ok else last
        except (OSError, ValueError) as exc:  # HTTPError and URLError are OSErrors
            ok, last = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            since = None
        elif since is None:
            since = now
        elif now - since >= settle:
            return
        if now >= deadline:
            raise ControlError(
                f"{url} did not serve the new state within {timeout:g}s ({last}); "
                "is the app running and does it read the same flag?"
            )
        time.sleep(interval)
