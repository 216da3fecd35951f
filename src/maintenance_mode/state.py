"""The maintenance state document: what the flag file holds and what the page shows.

On/off is *presence* (a flag file that exists, an env var that says on, a callable
that returns a state); this document only carries the details. pydantic validates
it at the edges (file load, CLI, callables); the hot path sees a frozen copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .rules import check_allow_entry

__all__ = [
    "DEFAULT_ANNOUNCE",
    "ETARange",
    "MaintenanceState",
    "ProgressUpdate",
    "StateFileError",
    "Window",
    "dump_state",
    "load_state",
    "write_state_atomic",
]

#: Largest flag file we read; anything longer is treated as invalid content (still ON).
MAX_STATE_BYTES = 64 * 1024

_Text = Annotated[str, Field(max_length=4000)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ETARange(_Model):
    """An estimated end as a range: "between 14:00 and 16:00". Both ends time-zone aware."""

    earliest: AwareDatetime
    latest: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.latest < self.earliest:
            raise ValueError("eta.latest must not be before eta.earliest")
        return self


class ProgressUpdate(_Model):
    """One timestamped note on the timeline ("Database migrated, restarting services")."""

    at: AwareDatetime
    text: Annotated[str, Field(min_length=1, max_length=4000)]


_Part = Annotated[str, Field(min_length=1, max_length=200)]
#: How long before a window's start the banner appears when ``announce_from`` is not given.
DEFAULT_ANNOUNCE = timedelta(hours=48)


class Window(_Model):
    """A planned maintenance window: announced ahead, switched on at ``start`` by itself.

    Ending is explicit (``maintenance off``) unless ``auto_end`` is set; after the
    latest end the page says it is taking longer than planned.
    """

    start: AwareDatetime
    end: AwareDatetime | ETARange
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    kind: Literal["planned", "unplanned"] = "planned"
    reason: _Text | None = None
    message: _Text | None = None
    affected: tuple[_Part, ...] = ()
    unaffected: tuple[_Part, ...] = ()
    announce_from: AwareDatetime | None = None
    auto_end: bool = False

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. 'Europe/Paris', 'UTC')"
            ) from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        earliest = self.end.earliest if isinstance(self.end, ETARange) else self.end
        if earliest <= self.start:
            raise ValueError("a window must end after it starts")
        if self.announce_from is not None and self.announce_from > self.start:
            raise ValueError("announce_from must not be after the window's start")
        return self

    @property
    def end_earliest(self) -> datetime:
        return self.end.earliest if isinstance(self.end, ETARange) else self.end

    @property
    def end_latest(self) -> datetime:
        return self.end.latest if isinstance(self.end, ETARange) else self.end

    @property
    def announce_at(self) -> datetime:
        """When the banner starts (``announce_from``, default 48 hours before the start)."""
        return self.announce_from or self.start - DEFAULT_ANNOUNCE


class MaintenanceState(_Model):
    """The flag file's document: the details of a maintenance, and planned windows.

    Presence means ON. Only two kinds of valid content say the site is up: a
    document holding only windows that have not started (no ``started_at``), and
    a passed ``expires_at``.
    """

    version: Literal[1] = 1
    kind: Literal["planned", "unplanned"] = "planned"
    reason: _Text | None = None
    message: _Text | None = None
    started_at: AwareDatetime | None = None
    eta: AwareDatetime | ETARange | None = None
    updates: tuple[ProgressUpdate, ...] = ()
    allow: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()
    expires_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    #: SHA-256 (hex) of a bypass token for this maintenance only (``on --secret``);
    #: the token itself is never stored.
    bypass_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None

    @field_validator("allow")
    @classmethod
    def _allow_paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_allow_entry(path) for path in value)

    @property
    def eta_earliest(self) -> datetime | None:
        """The earliest estimated end, or None when no ETA is known."""
        return self.eta.earliest if isinstance(self.eta, ETARange) else self.eta

    @property
    def eta_latest(self) -> datetime | None:
        """The latest estimated end (equal to the earliest for a point ETA)."""
        return self.eta.latest if isinstance(self.eta, ETARange) else self.eta

    def with_update(self, text: str, *, at: datetime | None = None) -> MaintenanceState:
        """Return a copy with one more progress update appended (validated)."""
        update = ProgressUpdate(at=at or datetime.now(UTC), text=text)
        return self.model_validate({**self.model_dump(), "updates": [*self.updates, update]})


class StateFileError(ValueError):
    """The flag file exists but its content is not a valid state document."""


def _one_line(error: ValidationError) -> str:
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "document"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def load_state(data: bytes | str) -> MaintenanceState:
    """Parse a flag file's content. Empty content gives the default state.

    Raises StateFileError with a one-line message on anything invalid; callers
    decide what that means (the file source keeps maintenance ON).
    """
    if isinstance(data, bytes):
        if len(data) > MAX_STATE_BYTES:
            raise StateFileError(f"flag file is larger than {MAX_STATE_BYTES} bytes")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StateFileError(f"flag file is not UTF-8 ({exc.reason})") from None
    if not data.strip():
        return MaintenanceState()
    try:
        raw: Any = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise StateFileError(f"flag file is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise StateFileError('flag file must hold a JSON object, e.g. {"reason": "..."}')
    try:
        return MaintenanceState.model_validate(raw)
    except ValidationError as exc:
        raise StateFileError(f"invalid flag file: {_one_line(exc)}") from None
    except RecursionError:
        raise StateFileError("flag file JSON is nested too deeply") from None


def dump_state(state: MaintenanceState) -> str:
    """Serialise a state as the flag file's JSON (stable key order, trailing newline)."""
    return state.model_dump_json(indent=2, exclude_defaults=False) + "\n"


def write_state_atomic(path: str | os.PathLike[str], state: MaintenanceState) -> Path:
    """Write the flag file so readers never see a partial document.

    Temp file in the same folder, fsync, chmod 0644 (workers may run as another
    user), then os.replace. Returns the absolute path written.
    """
    target = Path(path).absolute()
    data = dump_state(state).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable; not every platform can open a directory
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target
