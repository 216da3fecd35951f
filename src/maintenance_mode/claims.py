"""Claims: one ``on_change`` notification per transition, however many processes see it.

Every worker process checks the flag on its own, so every process notices each
transition (a write, or the clock: a window's start, an auto-end, an expiry).
Before running the hooks, a process *claims* the transition in the store the flag
lives in, and only the process that made the claim runs them:

* a flag file: a file created exclusively (``O_CREAT | O_EXCL``) in a folder beside
  the flag (``.maintenance.json.events/`` for ``maintenance.json``); claims older
  than a day are removed;
* a Redis flag: ``SET <key>:events:<transition> NX EX 86400``.

Other sources (``env:``, callables, custom :class:`~maintenance_mode.FlagSource`)
belong to one process: nothing is claimed and each process notifies. When a claim
cannot be made (the workers may not write beside the flag, Redis is down), the
process notifies anyway and logs one warning: a notification twice beats none.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .sources import FileFlag, FlagSource
from .state import MaintenanceState, dump_state

if TYPE_CHECKING:
    from .hooks import Event

__all__ = [
    "CLAIM_TTL",
    "ClaimError",
    "ClaimStore",
    "FileClaims",
    "Identity",
    "RedisClaims",
    "claim",
    "claimer",
    "fingerprint",
    "store_for",
    "transition_id",
]

logger = logging.getLogger("maintenance_mode")

#: How long a claim is kept (seconds): a day, far longer than any process takes to notice.
CLAIM_TTL: Final = 86400
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ClaimError(Exception):
    """The store could not say whether the transition was claimed (one line, no traceback)."""


class ClaimStore(abc.ABC):
    """Where the transitions of one shared flag are claimed."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the claims live, for messages (no password)."""

    @abc.abstractmethod
    def claim(self, name: str) -> bool:
        """True if this call made the claim, False if another process had; else ClaimError."""


def _note(name: str) -> bytes:
    """What a claim holds: who made it and when (for whoever looks at the store)."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return f"{name} claimed by {socket.gethostname()} pid {os.getpid()} at {at}\n".encode()


class FileClaims(ClaimStore):
    """Claims as files in ``.<flag name>.events/`` beside a flag file.

    Each claim is created with ``O_CREAT | O_EXCL``, which exactly one process wins,
    on one host or on every host of a shared (NFS) folder. The folder is made on the
    first claim; claims older than ``ttl`` seconds are removed at each claim.
    """

    def __init__(self, flag_path: str | os.PathLike[str], *, ttl: float = CLAIM_TTL) -> None:
        path = Path(flag_path).absolute()
        self.folder = path.with_name(f".{path.name}.events")
        self.ttl = ttl

    def describe(self) -> str:
        return str(self.folder)

    def path_for(self, name: str) -> Path:
        """The claim file of transition ``name``: readable, and unique through a hash."""
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        return self.folder / f"{_UNSAFE.sub('_', name)[:100]}.{digest}.claim"

    def claim(self, name: str) -> bool:
        try:
            os.mkdir(self.folder, 0o755)  # never its parents: the flag's folder must exist
        except FileExistsError:
            pass
        except OSError as exc:
            raise ClaimError(f"cannot create {self.folder}: {exc.strerror}") from None
        self.sweep()
        path = self.path_for(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise ClaimError(f"cannot create {path}: {exc.strerror}") from None
        try:
            os.write(fd, _note(name))
        except OSError:
            pass  # the claim is the file itself; its note is only for people
        finally:
            os.close(fd)
        return True

    def sweep(self, now: float | None = None) -> int:
        """Remove claims older than ``ttl``; return how many (errors are ignored)."""
        now = time.time() if now is None else now
        removed = 0
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in entries:
            if not entry.name.endswith(".claim"):
                continue
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > self.ttl:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:  # removed by another process meanwhile, or not ours to remove
                continue
        return removed


class RedisClaims(ClaimStore):
    """Claims as Redis keys ``<flag key>:events:<transition>``, set with ``NX EX``.

    ``client`` is the flag source's own client (short timeouts, no retries).
    """

    def __init__(self, client: Any, key: str, where: str, *, ttl: int = CLAIM_TTL) -> None:
        self.client = client
        self.prefix = f"{key}:events:"
        self.where = where
        self.ttl = ttl

    def describe(self) -> str:
        return f"{self.where} (keys {self.prefix}*)"

    def claim(self, name: str) -> bool:
        try:
            made = self.client.set(self.prefix + name, _note(name), nx=True, ex=self.ttl)
        except Exception as exc:  # redis.RedisError, OSError, ...: the store cannot tell
            raise ClaimError(f"{type(exc).__name__}: {exc}") from None
        return bool(made)


def _redis_flag(source: FlagSource) -> bool:
    module = sys.modules.get("maintenance_mode.redis")  # no RedisFlag exists unless imported
    return module is not None and isinstance(source, module.RedisFlag)


def store_for(source: FlagSource | None) -> ClaimStore | None:
    """Where ``source``'s transitions are claimed; None for a per-process source."""
    if isinstance(source, FileFlag):
        return FileClaims(source.path)
    if source is not None and _redis_flag(source):
        redis_flag: Any = source
        return RedisClaims(redis_flag.client, redis_flag.key, source.describe())
    return None


def fingerprint(source: FlagSource | None, state: MaintenanceState) -> str | None:
    """What tells this document from the next one in its store, when it has no start time.

    The same in every process for the same document: a flag file's inode and
    modification time (a new ``touch`` after ``rm`` differs, even on the same inode),
    or a hash of a Redis document. None for per-process sources.
    """
    if isinstance(source, FileFlag):
        try:
            st = os.stat(source.path)
        except OSError:
            return None
        return f"file-{st.st_ino}-{st.st_mtime_ns}"
    if source is not None and _redis_flag(source):
        digest = hashlib.sha256(dump_state(state).encode("utf-8")).hexdigest()[:16]
        return f"doc-{digest}"
    return None


def transition_id(event: Event) -> str:
    """The name a transition is claimed under: its key, one for any end of a maintenance.

    ``ended`` and ``expired`` share a claim: a process that saw the expiry and one
    that only saw the ``off`` written later must not both announce the end.
    """
    name, _, rest = event.key.partition(":")
    return f"ended:{rest}" if name in ("ended", "expired") else event.key


_warned: set[str] = set()
_warned_lock = threading.Lock()


def claim(store: ClaimStore, name: str) -> bool:
    """Claim ``name`` in ``store``: True means notify. A failed claim notifies too.

    A store that cannot be written is warned about once per process; the
    transition is then notified by every process that sees it (at least once).
    """
    try:
        return store.claim(name)
    except ClaimError as exc:
        where = store.describe()
        with _warned_lock:
            first = where not in _warned
            _warned.add(where)
        if first:
            logger.warning(
                "on_change: cannot claim transitions in %s (%s); each process notifies them "
                "itself, so one may be notified more than once (let the app's user write "
                "there, or check the store)",
                where,
                exc,
            )
        return True


class Identity:
    """What tells a document without a start time apart in its store, found off the request.

    A flag file's inode and modification time come from ``stat``, which can hang on a
    stuck network mount, so it runs in a daemon thread as soon as the maintenance is
    seen on (while the file still exists, for its end later); the notifying thread
    waits for it. Other sources answer at once.
    """

    def __init__(self, source: FlagSource | None, state: MaintenanceState) -> None:
        self._done = threading.Event()
        self._value: str | None = None
        if not isinstance(source, FileFlag):
            self._find(source, state)
            return
        try:
            threading.Thread(
                target=self._find, args=(source, state), name="maintenance-mode-claim", daemon=True
            ).start()
        except RuntimeError:  # no thread could start: no fingerprint, never a stalled request
            self._done.set()

    def _find(self, source: FlagSource | None, state: MaintenanceState) -> None:
        try:
            self._value = fingerprint(source, state)
        finally:
            self._done.set()

    def value(self, timeout: float = 5.0) -> str | None:
        """The fingerprint, or None if there is none (or ``stat`` took over ``timeout`` s)."""
        self._done.wait(timeout)
        return self._value


def claimer(
    plan: Mapping[str, tuple[ClaimStore | None, Identity | None]],
) -> Callable[[Event, bool], tuple[Event, bool]]:
    """For one batch of events: each event completed, and whether this process notifies it.

    ``plan`` maps an event name to where it is claimed (None: a per-process source,
    always notified) and, for a document without a start time, its :class:`Identity`.
    With ``claim_it`` False (only :func:`~maintenance_mode.hooks.per_process` hooks),
    nothing is claimed.
    """

    def prepare(event: Event, claim_it: bool) -> tuple[Event, bool]:
        store, identity = plan.get(event.name, (None, None))
        if identity is not None:
            event = replace(event, fingerprint=identity.value())
        if not claim_it or store is None:
            return event, True
        return event, claim(store, transition_id(event))

    return prepare
