"""Maintenance over time: what a flag document means at a given moment.

The flag document is read when it changes; this module turns it into the
current phase at every check (once per ``check_interval``), so a window starts,
is announced and (with ``auto_end``) ends by itself, with no cron and no restart.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from .state import ComponentState, MaintenanceState, Window

__all__ = [
    "Banner",
    "Evaluation",
    "Phase",
    "announced_component",
    "evaluate",
    "evaluate_components",
]

#: ``on``: switched on by hand (or by a callable, env var, bare flag file);
#: ``active``: a planned window has started; ``announced``: a window is ahead and
#: inside its announcement period; ``scheduled``: ahead, not yet announced;
#: ``ended``: switched off, within the "we're back" period; ``idle``: nothing.
Phase = Literal["on", "active", "announced", "scheduled", "ended", "idle"]


@dataclass(frozen=True, slots=True)
class Banner:
    """What the banner on the app's own pages says: a window ahead, or the end of one."""

    #: ``components``: the site is up and some components are down (the evaluation's
    #: ``down`` names them).
    kind: Literal["upcoming", "ended", "read_only", "components"]
    window: Window | None = None
    ended_at: datetime | None = None
    state: MaintenanceState | None = None
    #: ``upcoming`` for a component's window: the component's label (None: the site's).
    component: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A document at one moment: on or not, the effective details, and the banner."""

    on: bool
    phase: Phase
    state: MaintenanceState | None
    banner: Banner | None = None
    #: The window that made this phase (active, announced or scheduled), if any.
    window: Window | None = None
    #: For a component: its ``read_only`` (only its writes are blocked).
    read_only: bool = False


def _upcoming(doc: MaintenanceState, now: datetime) -> list[Window]:
    return sorted((w for w in doc.windows if w.start > now), key=lambda w: w.start)


def _active(doc: MaintenanceState, now: datetime, *, after: datetime | None) -> Window | None:
    """A started window (not auto-ended); only those starting at or after ``after`` if given."""
    for window in doc.windows:
        if after is not None and window.start < after:
            continue
        if window.start <= now and not (window.auto_end and now >= window.end_latest):
            return window
    return None


def window_state(doc: MaintenanceState, window: Window) -> MaintenanceState:
    """The details a started window shows: the window's own, with the document's timeline."""
    return MaintenanceState(
        kind=window.kind,
        reason=window.reason or doc.reason,
        message=window.message or doc.message,
        apology=window.apology or doc.apology,
        compensation=window.compensation or doc.compensation,
        started_at=window.start,
        eta=window.end,
        updates=tuple(u for u in doc.updates if u.at >= window.start),
        allow=doc.allow,
        windows=doc.windows,
        # Taken over by hand (`on`, `update`), an auto-ending window still ends by itself.
        expires_at=window.end_latest if window.auto_end else None,
        bypass_sha256=doc.bypass_sha256,
        archived_updates=doc.archived_updates,
        components=doc.components if type(doc) is MaintenanceState else {},
        translations=_window_translations(doc, window),
    )


def _window_translations(doc: MaintenanceState, window: Window) -> dict[str, Any]:
    """Per language, the window's own texts over the document's (the notes stay the document's)."""
    # A text the window gives in the default language is translated by the window only.
    mine = {"reason", "message"} - {n for n in ("reason", "message") if not getattr(window, n)}
    out: dict[str, Any] = {
        tag: block.model_dump(exclude=mine) for tag, block in doc.translations.items()
    }
    for tag, block in window.translations.items():
        own = {k: v for k, v in block.model_dump(exclude={"updates"}).items() if v is not None}
        out[tag] = {**out.get(tag, {}), **own}
    return out


def evaluate(
    doc: MaintenanceState, now: datetime, *, back_for: timedelta = timedelta(0)
) -> Evaluation:
    """What ``doc`` means at ``now``.

    Presence means ON, except for two kinds of valid content: a passed
    ``expires_at`` (the "we're back" banner follows for ``back_for`` after
    ``ended_at``), and a document of windows only (no ``started_at``) none of
    which has started, or whose started windows have ended by themselves.
    """
    upcoming = _upcoming(doc, now)
    announced = next((w for w in upcoming if now >= w.announce_at), None)
    expired = doc.expires_at is not None and now >= doc.expires_at
    # A document of components only (no start of its own) leaves the site up.
    bare = not doc.windows and not (doc.components and type(doc) is MaintenanceState)
    if not expired and (doc.started_at is not None or bare):
        return Evaluation(on=True, phase="on", state=doc)
    # After an end (or expiry), only windows that start later can switch it on again.
    active = _active(doc, now, after=doc.expires_at if expired else None)
    if active is not None:
        return Evaluation(on=True, phase="active", state=window_state(doc, active), window=active)
    if announced is not None:
        banner = Banner("upcoming", window=announced)
        return Evaluation(on=False, phase="announced", state=None, banner=banner, window=announced)
    ended_at = doc.ended_at or (doc.expires_at if expired else None)
    if ended_at is not None and now < ended_at + back_for:
        return Evaluation(
            on=False, phase="ended", state=None, banner=Banner("ended", ended_at=ended_at)
        )
    if upcoming:
        return Evaluation(on=False, phase="scheduled", state=None, window=upcoming[0])
    return Evaluation(on=False, phase="idle", state=None)


def announced_component(
    docs: Iterable[MaintenanceState], names: Container[str], now: datetime
) -> tuple[str, Window] | None:
    """The soonest component window (of a component in ``names``) inside its announcement
    period, with its component's name: the banner announces it as it does the site's."""
    found: tuple[str, Window] | None = None
    for doc in docs:
        for name, component in doc.components.items():
            if name not in names:
                continue
            for window in component.windows:
                if window.start > now >= window.announce_at and (
                    found is None or window.start < found[1].start
                ):
                    found = (name, window)
    return found


def evaluate_components(
    doc: MaintenanceState, now: datetime, *, back_for: timedelta = timedelta(0)
) -> dict[str, Evaluation]:
    """Each component of ``doc`` at ``now`` (:func:`evaluate` on its own document).

    A component's window starts, is announced and ends by itself, and its
    ``expires_at`` ends it, independently of the site and of the other components.
    """
    found: dict[str, Evaluation] = {}
    for name, component in doc.components.items():
        one = evaluate(component, now, back_for=back_for)
        if one.on and one.state is not None and one.state is not component:
            # A started window: its details, as a component (read_only kept).
            one = Evaluation(
                on=True,
                phase=one.phase,
                state=ComponentState.model_validate(
                    {**one.state.model_dump(), "read_only": component.read_only}
                ),
                window=one.window,
                read_only=component.read_only,
            )
        elif one.on:
            one = Evaluation(
                on=True, phase=one.phase, state=one.state, read_only=component.read_only
            )
        found[name] = one
    return found
