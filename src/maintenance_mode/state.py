"""The maintenance state document: what the flag file holds and what the page shows.

On/off is *presence* (a flag file that exists, an env var that says on, a callable
that returns a state); this document only carries the details. pydantic validates
it at the edges (file load, CLI, callables); the hot path sees a frozen copy.

Every time in a document lies between :data:`EARLIEST_TIME` and
:data:`LATEST_TIME` (UTC): such a time can be shown in any time zone, and moved by
any delay the engine adds (the 48-hour announcement, the "we're back" period,
``max_duration``), without leaving Python's datetime range. Times outside it are
refused with a one-line message (:func:`check_time`), so rendering never fails on
a document that validation accepted.
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
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from .rules import check_allow_entry

__all__ = [
    "COMPONENT_NAME",
    "DEFAULT_ANNOUNCE",
    "EARLIEST_TIME",
    "LATEST_TIME",
    "ComponentState",
    "ETARange",
    "MaintenanceState",
    "ProgressUpdate",
    "StateFileError",
    "TextBlock",
    "Window",
    "check_time",
    "dump_state",
    "load_state",
    "one_line",
    "time_after",
    "write_state_atomic",
]

#: Largest flag file we read; anything longer is treated as invalid content (still ON).
MAX_STATE_BYTES = 64 * 1024

_Text = Annotated[str, Field(max_length=4000)]
#: A component's name (``payments``, ``search``): lower-case letters, digits, ``_`` and ``-``.
COMPONENT_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ComponentName = Annotated[str, Field(pattern=COMPONENT_NAME)]

#: The earliest time a document may hold (UTC): the Unix epoch.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
#: The latest time a document may hold (UTC): the end of the year 9997. What is left of
#: Python's range (two years) covers any UTC offset (under a day) plus every delay the
#: engine adds to a document's time (``max_duration`` and ``warn_after``: at most a
#: year; the "we're back" period: 30 days), so every accepted time can be shown anywhere.
LATEST_TIME = datetime(9997, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_RANGE = "times must lie between 1970-01-01 and 9997-12-31 (UTC)"


def check_time(value: datetime) -> datetime:
    """``value`` if a flag document may hold it, else ``ValueError`` with a one-line message.

    Accepted: time-zone-aware times whose UTC value lies between
    :data:`EARLIEST_TIME` and :data:`LATEST_TIME`. Naive times are refused too.
    Every model time field runs this; the CLI calls it on the times it computes.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no time zone; add an offset such as +00:00")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00: its UTC value is past year 9999
        utc = None
    if utc is None or not EARLIEST_TIME <= utc <= LATEST_TIME:
        raise ValueError(f"{value.isoformat()} is out of range; {_RANGE}")
    return value


def time_after(base: datetime, delta: timedelta | None = None, **parts: int) -> datetime:
    """``base`` plus a delay (``delta``, or ``days=``, ``hours=``, ``minutes=``, ``seconds=``).

    The result is checked with :func:`check_time`; a delay too large for Python
    (``9999999d``) raises the same ``ValueError``, never ``OverflowError``.
    """
    try:
        moved = base + (delta if delta is not None else timedelta(**parts))
    except OverflowError:
        shown = str(delta) if delta is not None else ", ".join(f"{k}={v}" for k, v in parts.items())
        raise ValueError(f"{base.isoformat()} plus {shown} is out of range; {_RANGE}") from None
    return check_time(moved)


#: A time in a document: time-zone aware, within :data:`EARLIEST_TIME`..:data:`LATEST_TIME`.
Time = Annotated[AwareDatetime, AfterValidator(check_time)]


class _Model(BaseModel):
    # defer_build: validators are built at the first document, not at import (a worker
    # that never reads one, maintenance off and no flag file, never pays for them).
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )


class ETARange(_Model):
    """An estimated end as a range: "between 14:00 and 16:00". Both ends time-zone aware."""

    earliest: Time
    latest: Time

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.latest < self.earliest:
            raise ValueError("eta.latest must not be before eta.earliest")
        return self


class ProgressUpdate(_Model):
    """One timestamped note on the timeline ("Database migrated, restarting services")."""

    at: Time
    text: Annotated[str, Field(min_length=1, max_length=4000)]


def _time_or_range(value: object) -> str:
    return "range" if isinstance(value, dict | ETARange) else "time"


#: An ETA or a window's end: one time, or a range (an object). The shape picks the branch,
#: so a mistake is reported once, for that branch (the tags never show in messages).
_TimeOrRange = Annotated[
    Annotated[Time, Tag("time")] | Annotated[ETARange, Tag("range")],
    Discriminator(_time_or_range),
]
_UNION_TAGS = frozenset({"time", "range"})

_Part = Annotated[str, Field(min_length=1, max_length=200)]
#: How long before a window's start the banner appears when ``announce_from`` is not given.
DEFAULT_ANNOUNCE = timedelta(hours=48)


#: The most languages a document may carry translations for (``translations``).
MAX_TRANSLATIONS = 16


def locale_key(tag: str) -> str:
    """A language tag as translations are keyed: Babel's form (``fr``, ``pt_BR``).

    ``pt-BR``, ``pt_br`` and ``PT-br`` give ``pt_BR``; anything Babel does not know
    raises ``ValueError`` with a one-line message.
    """
    from babel import Locale, UnknownLocaleError  # only when a document has translations

    text = tag.strip()
    try:
        if not text or len(text) > 35:
            raise ValueError
        return str(Locale.parse(text.replace("-", "_")))
    except (ValueError, TypeError, UnknownLocaleError):
        raise ValueError(
            f"{tag[:40]!r} is not a language tag Babel knows; use e.g. 'fr', 'de', 'pt-BR'"
        ) from None


class TextBlock(_Model):
    """The operator's texts in one language (an entry of ``translations``).

    A field left out (None) is shown in the default language, whole: a page never
    mixes two languages within one section. ``updates`` holds the notes' texts,
    keyed by the ``at`` of the update they translate.
    """

    reason: _Text | None = None
    message: _Text | None = None
    affected: tuple[_Part, ...] | None = None
    unaffected: tuple[_Part, ...] | None = None
    apology: _Text | None = None
    compensation: _Text | None = None
    updates: Annotated[
        dict[Time, Annotated[str, Field(min_length=1, max_length=4000)]], Field(max_length=200)
    ] = {}


def _translations(value: object) -> object:
    """``translations`` with its language tags normalised (``pt-br`` → ``pt_BR``), at most
    :data:`MAX_TRANSLATIONS` of them."""
    if not isinstance(value, dict):
        return value
    if len(value) > MAX_TRANSLATIONS:
        raise ValueError(f"at most {MAX_TRANSLATIONS} languages; drop the ones no visitor reads")
    out: dict[str, object] = {}
    for tag, block in value.items():
        key = locale_key(tag) if isinstance(tag, str) else tag
        if key in out:
            raise ValueError(f"{tag!r} names the same language as another key ({key!r})")
        out[key] = block
    return out


#: Per language, the operator's texts (``{"fr": {"reason": "..."}}``): see :class:`TextBlock`.
Translations = Annotated[dict[str, TextBlock], BeforeValidator(_translations)]


class Window(_Model):
    """A planned maintenance window: announced ahead, switched on at ``start`` by itself.

    Ending is explicit (``maintenance off``) unless ``auto_end`` is set; after the
    latest end the page says it is taking longer than planned.
    """

    start: Time
    end: _TimeOrRange
    timezone: Annotated[str, Field(max_length=64)] = "UTC"
    kind: Literal["planned", "unplanned"] = "planned"
    reason: _Text | None = None
    message: _Text | None = None
    affected: tuple[_Part, ...] = ()
    unaffected: tuple[_Part, ...] = ()
    announce_from: Time | None = None
    auto_end: bool = False
    #: The window's apology and compensation (see :class:`MaintenanceState`).
    apology: bool | _Text = False
    compensation: _Text | None = None
    #: The window's texts in other languages (reason, message, affected, unaffected).
    translations: Translations = {}

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
    started_at: Time | None = None
    eta: _TimeOrRange | None = None
    updates: tuple[ProgressUpdate, ...] = ()
    #: How many older updates the writers moved to the archive beside the document
    #: (``maintenance_mode.control.MAX_WRITE_BYTES``); the page may say "N earlier updates".
    archived_updates: Annotated[int, Field(ge=0)] = 0
    allow: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()
    expires_at: Time | None = None
    ended_at: Time | None = None
    #: When the operator last gave a new ETA (``update --eta``): the page then says
    #: "we now expect", not the first estimate's "expected back".
    eta_revised_at: Time | None = None
    #: An apology on the page: ``True`` for the translated fixed sentence, or the
    #: operator's own words (``on --apology``); ``False``/unset shows none.
    apology: bool | _Text = False
    #: What visitors get for the trouble ("a 10% voucher: SORRY10"), shown when set.
    compensation: _Text | None = None
    #: SHA-256 (hex) of a bypass token for this maintenance only (``on --secret``);
    #: the token itself is never stored.
    bypass_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    #: The operator's texts in other languages, by locale (``fr``, ``pt_BR``); the fields
    #: above are the default language's. See :class:`TextBlock`.
    translations: Translations = {}

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

    #: Named parts of the site under maintenance of their own (partial maintenance): each
    #: holds the same details as the site. Whole-site maintenance wins over them.
    components: dict[_ComponentName, ComponentState] = {}

    def with_update(self, text: str, *, at: datetime | None = None) -> Self:
        """Return a copy with one more progress update appended (validated)."""
        update = ProgressUpdate(at=at or datetime.now(UTC), text=text)
        return self.model_validate({**self.model_dump(), "updates": [*self.updates, update]})


class ComponentState(MaintenanceState):
    """One component's maintenance (``payments``): the site's fields, scoped to it.

    Its presence in :attr:`MaintenanceState.components` means ON, with the same two
    exceptions as the site's document (windows only, a passed ``expires_at``).
    ``read_only`` blocks only the component's writes (its reads keep working).
    """

    read_only: bool = False

    @field_validator("components")
    @classmethod
    def _flat(cls, value: dict[str, ComponentState]) -> dict[str, ComponentState]:
        if value:
            raise ValueError("a component cannot hold components of its own")
        return value

    def site_state(self) -> MaintenanceState:
        """The same details as a site document (what the page and the status document take)."""
        return MaintenanceState.model_validate(self.model_dump(exclude={"read_only"}))


# No MaintenanceState.model_rebuild() here: it would build the validators at import;
# with defer_build the forward reference to ComponentState resolves at the first document.


class StateFileError(ValueError):
    """The flag file exists but its content is not a valid state document."""


def one_line(error: ValidationError, *, whole: str = "document") -> str:
    """A validation error of a document as one line: ``field.path: message; ...``.

    Without pydantic's union tags and "Value error, " prefixes, so the CLI and the
    flag file's warning read alike. ``whole`` names an error of the model itself.
    """
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if p not in _UNION_TAGS) or whole
        parts.append(f"{loc}: {str(err['msg']).removeprefix('Value error, ')}")
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
        raise StateFileError(f"invalid flag file: {one_line(exc)}") from None
    except RecursionError:
        raise StateFileError("flag file JSON is nested too deeply") from None


def dump_state(state: MaintenanceState) -> str:
    """Serialise a state as the flag file's JSON (stable key order, trailing newline)."""
    # Without components, the document reads as it did before partial maintenance existed.
    skip: dict[str, Any] = {} if state.components else {"components": True}
    # Likewise without translations when there are none.
    if not state.translations:
        skip["translations"] = True
    if state.windows and not any(w.translations for w in state.windows):
        skip["windows"] = {"__all__": {"translations"}}
    return state.model_dump_json(indent=2, exclude_defaults=False, exclude=skip or None) + "\n"


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
