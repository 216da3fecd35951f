"""Switch maintenance on, off or to a planned window in your own tests, for every engine at once.

::

    from maintenance_mode.testing import override

    def test_checkout_says_why(client):
        with override(reason="Database upgrade", eta="2h"):
            assert client.get("/checkout").status_code == 503
        assert client.get("/checkout").status_code == 200

An override stands in for what the flag sources answer, in every
:class:`~maintenance_mode.Maintenance` engine of the process (whatever adapter built
it and whatever ``flag`` it was given), including engines made while it is active.
Nothing is written anywhere: the real flag file, Redis key or callable is not asked
until the override ends, and then answers again at once. Requests pay nothing for
this: the engines read the override at check time only.

Overrides nest (the inner one wins; its end restores the outer one) and may be
entered and left from any thread. The ``on_change`` hooks do not fire when an
override starts or ends: a test suite must not post to the team's chat.

The pytest plugin (:mod:`maintenance_mode.pytest_plugin`) gives the same through
the ``maintenance`` fixture: a :class:`Controller`. docs/testing.md has examples.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

from pydantic import ValidationError

from . import core
from .control import ETA, When, parse_eta, parse_when
from .state import ETARange, MaintenanceState, Window, one_line

__all__ = ["Controller", "Kind", "Override", "make_window", "override"]

_Func = TypeVar("_Func", bound=Callable[..., Any])
Kind = Literal["planned", "unplanned"]

# -- the stack of overrides (process-wide) -------------------------------------------------


class _Layer:
    """One active override: what every engine answers while it is the innermost."""

    __slots__ = ("docs",)

    def __init__(self, docs: tuple[MaintenanceState, ...]) -> None:
        self.docs = docs


_lock = threading.Lock()
#: Active overrides, outermost first; the last one is what the engines answer.
_layers: list[_Layer] = []


def _apply() -> None:
    """Hand the innermost override (or none) to every engine; under ``_lock``."""
    core.set_override(_layers[-1].docs if _layers else None)


def _push(docs: tuple[MaintenanceState, ...]) -> _Layer:
    layer = _Layer(docs)
    with _lock:
        _layers.append(layer)
        _apply()
    return layer


def _replace(layer: _Layer, docs: tuple[MaintenanceState, ...]) -> None:
    """Change what an active override answers, keeping its place among the others."""
    with _lock:
        layer.docs = docs
        _apply()


def _pop(layer: _Layer) -> None:
    """End one override (not necessarily the innermost: threads may leave in any order)."""
    with _lock:
        try:
            _layers.remove(layer)
        except ValueError:  # already ended
            return
        _apply()


# -- building the answer -------------------------------------------------------------------


def _fail(message: str) -> ValueError:
    return ValueError(f"maintenance_mode.testing: {message}")


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail(f"{what} {value.isoformat()} has no time zone; give an aware datetime")
    return value


def _eta(value: ETA, now: datetime, what: str = "eta") -> datetime | ETARange:
    """An ETA (or a window's end) as the control API takes it, durations counted from ``now``;
    a datetime in the past is allowed (the overrun copy)."""
    if isinstance(value, str):
        try:
            return parse_eta(value, now=now)
        except ValueError as exc:
            raise _fail(f"{what}: {exc}") from None
    if isinstance(value, timedelta):
        return now + value
    if isinstance(value, datetime):
        return _aware(value, what)
    if isinstance(value, ETARange):
        return value
    raise TypeError(
        f"maintenance_mode.testing: {what} got {type(value).__name__}; give a datetime, an "
        "ETARange, a timedelta from now or text such as '2h' or '2h..4h'"
    )


def _state(data: dict[str, Any]) -> MaintenanceState:
    try:
        return MaintenanceState.model_validate(data)
    except ValidationError as exc:
        raise _fail(f"invalid details: {one_line(exc)}") from None


def make_window(
    *,
    start: When,
    end: ETA,
    reason: str | None = None,
    message: str | None = None,
    kind: Kind = "planned",
    affected: Sequence[str] = (),
    unaffected: Sequence[str] = (),
    announce: timedelta | None = None,
    auto_end: bool = False,
    timezone: str = "UTC",
    now: datetime | None = None,
) -> Window:
    """A planned window from times a test can write: ``start`` and ``end`` as the control API.

    ``start`` is an aware datetime, a timedelta from now, or text (``"2h"``, ISO 8601);
    ``end`` likewise, its durations counted from the start (``"2h..3h"`` is a range).
    ``announce`` is how long before the start the banner shows (48 hours by default).
    """
    now = now or datetime.now(UTC)
    try:
        if isinstance(start, str):
            start = parse_when(start, now=now)
        elif isinstance(start, timedelta):
            start = now + start
        elif not isinstance(start, datetime):
            raise TypeError(
                f"maintenance_mode.testing: start got {type(start).__name__}; give a datetime, "
                "a timedelta from now or text such as '2h'"
            )
        begin = _aware(start, "start")
        finish = _eta(end, begin, "end")
    except ValueError as exc:
        raise _fail(str(exc).removeprefix("maintenance_mode.testing: ")) from None
    try:
        return Window(
            start=begin,
            end=finish,
            timezone=timezone,
            kind=kind,
            reason=reason,
            message=message,
            affected=tuple(affected),
            unaffected=tuple(unaffected),
            announce_from=None if announce is None else begin - announce,
            auto_end=auto_end,
        )
    except ValidationError as exc:
        raise _fail(f"invalid window: {one_line(exc, whole='window')}") from None


class _Spec:
    """What an override says, validated once; the answer is built afresh at each start."""

    def __init__(
        self,
        on: bool | None,
        state: MaintenanceState | None,
        schedule: Window | Sequence[Window] | None,
        details: dict[str, Any],
    ) -> None:
        if on is not None and not isinstance(on, bool):
            raise TypeError(
                f"maintenance_mode.testing: on got {type(on).__name__}; give True or False"
            )
        given = {name for name, value in details.items() if value not in (None, ())}
        if state is not None and not isinstance(state, MaintenanceState):
            raise TypeError(
                f"maintenance_mode.testing: state got {type(state).__name__}; "
                "give a MaintenanceState"
            )
        windows: tuple[Window, ...] = ()
        if schedule is not None:
            if isinstance(schedule, Window):
                windows = (schedule,)
            elif isinstance(schedule, list | tuple):
                windows = tuple(schedule)
            if not windows or not all(isinstance(w, Window) for w in windows):
                raise TypeError(
                    "maintenance_mode.testing: schedule takes a Window or a list of Windows "
                    "(make one with make_window(start=..., end=...))"
                )
        named = given | ({"state"} if state is not None else set())
        named |= {"schedule"} if windows else set()
        if on is False and named:
            raise _fail(
                f"on=False takes no details (got {', '.join(sorted(named))}); "
                "leave them out, or use on=True"
            )
        if state is not None and named != {"state"}:
            raise _fail(
                f"give state= alone (got {', '.join(sorted(named))}): put the details in the "
                "MaintenanceState, or leave state= out"
            )
        self.on = on
        self.state = state
        self.windows = windows
        self.details = {name: value for name, value in details.items() if name in given}
        self.docs()  # validate now, where the override is written

    def docs(self) -> tuple[MaintenanceState, ...]:
        """What every source answers: nothing (off), or one document."""
        if self.on is False:
            return ()
        if self.state is not None:
            return (self.state,)
        now = datetime.now(UTC)
        data: dict[str, Any] = dict(self.details)
        if "eta" in data:
            data["eta"] = _eta(data["eta"], now)
        if self.windows:
            data["windows"] = sorted(self.windows, key=lambda w: w.start)
        if self.on or not self.windows:  # a schedule alone decides by itself when it is on
            data["started_at"] = now.replace(microsecond=0)
        return (_state(data),)


# -- the public API ------------------------------------------------------------------------


class Override:
    """An active or ready override: a context manager, and a decorator for sync and async tests.

    Made by :func:`override`. Each ``with`` block (or each call of a decorated
    function) is one override; its answer (``started_at``, an ETA given as a
    duration) is computed when it starts. Threads may each enter their own
    ``override(...)``, or call a decorated function, at the same time.
    """

    def __init__(self, spec: _Spec) -> None:
        self._spec = spec
        self._entered: list[_Layer] = []

    def __enter__(self) -> MaintenanceState | None:
        """Start it; returns the document every engine now sees (None for ``on=False``)."""
        docs = self._spec.docs()
        self._entered.append(_push(docs))
        return docs[0] if docs else None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._entered:
            _pop(self._entered.pop())

    def __call__(self, func: _Func) -> _Func:
        """Decorate a test (sync or async): the override lasts for each call."""
        if isinstance(func, type):
            raise TypeError(
                "maintenance_mode.testing: override() decorates functions, not classes; "
                "decorate the test methods, or enter it in setUp with self.enterContext(...)"
            )
        spec = self._spec
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with Override(spec):
                    return await func(*args, **kwargs)

            return cast(_Func, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with Override(spec):
                return func(*args, **kwargs)

        return cast(_Func, run)


def override(
    on: bool | None = None,
    *,
    reason: str | None = None,
    message: str | None = None,
    eta: ETA | None = None,
    kind: Kind | None = None,
    allow: Sequence[str] = (),
    state: MaintenanceState | None = None,
    schedule: Window | Sequence[Window] | None = None,
) -> Override:
    """Put every engine in the process into the state given, for a ``with`` block or a test.

    - ``override()`` or ``override(True, reason=..., eta=..., kind=..., message=...,
      allow=[...])``: maintenance on, since now, with those details;
    - ``override(False)``: off, whatever the real flag says;
    - ``override(state=MaintenanceState(...))``: exactly that document, as if a
      flag file held it (updates, ``expires_at``, a range ETA...);
    - ``override(schedule=window)`` (a :class:`~maintenance_mode.state.Window` or a
      list, see :func:`make_window`): the planned windows, which start, are announced
      and end by the clock as a real schedule does; with ``on=True``, on now as well.

    ``eta`` is an aware datetime (past ones too, for the "taking longer" copy), an
    ``ETARange``, a timedelta from now, or text (``"2h"``, ``"2h..4h"``, ISO 8601).
    Mistakes raise ``ValueError`` or ``TypeError`` here, not in the test's requests.
    """
    details: dict[str, Any] = {
        "reason": reason,
        "message": message,
        "eta": eta,
        "kind": kind,
        "allow": tuple(allow),
    }
    return Override(_Spec(on, state, schedule, details))


class Controller:
    """What the pytest fixture ``maintenance`` gives a test: switch every engine, any number
    of times; :meth:`reset` (called at the test's teardown) gives the real flag back.

    Each call replaces what the previous one set. An ``override`` block inside the
    test still wins over it while the block lasts.
    """

    def __init__(self) -> None:
        self._layer: _Layer | None = None

    def _set(self, spec: _Spec) -> tuple[MaintenanceState, ...]:
        docs = spec.docs()
        if self._layer is None:
            self._layer = _push(docs)
        else:
            _replace(self._layer, docs)
        return docs

    def on(
        self,
        reason: str | None = None,
        *,
        message: str | None = None,
        eta: ETA | None = None,
        kind: Kind | None = None,
        allow: Sequence[str] = (),
        state: MaintenanceState | None = None,
    ) -> MaintenanceState:
        """Maintenance on, since now, with these details (or exactly ``state``)."""
        details = {"reason": reason, "message": message, "eta": eta, "kind": kind}
        spec = _Spec(
            None if state is not None else True, state, None, {**details, "allow": tuple(allow)}
        )
        return self._set(spec)[0]  # on (or exactly ``state``): one document

    def off(self) -> None:
        """Maintenance off, whatever the real flag says."""
        self._set(_Spec(False, None, None, {}))

    def schedule(
        self,
        window: Window | None = None,
        *,
        start: When | None = None,
        end: ETA | None = None,
        reason: str | None = None,
        message: str | None = None,
        kind: Kind = "planned",
        affected: Sequence[str] = (),
        unaffected: Sequence[str] = (),
        announce: timedelta | None = None,
        auto_end: bool = False,
        timezone: str = "UTC",
    ) -> Window:
        """A planned window (``window``, or one made from ``start``, ``end`` and the details).

        It is announced, starts and ends by the clock, as a real schedule: ``start="1h"``
        shows the banner now (within the default 48 hours of announcement), ``start``
        in the past (an aware datetime) means it has started.
        """
        if window is None:
            if start is None or end is None:
                raise _fail("schedule() needs a Window, or start= and end=")
            window = make_window(
                start=start,
                end=end,
                reason=reason,
                message=message,
                kind=kind,
                affected=affected,
                unaffected=unaffected,
                announce=announce,
                auto_end=auto_end,
                timezone=timezone,
            )
        elif start is not None or end is not None:
            raise _fail("schedule() takes a Window or start= and end=, not both")
        self._set(_Spec(None, None, window, {}))
        return window

    def reset(self) -> None:
        """The real flag sources answer again (at once)."""
        layer, self._layer = self._layer, None
        if layer is not None:
            _pop(layer)
