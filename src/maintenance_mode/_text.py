"""Human-readable lines for a control result, shared by every shell (CLI, manage.py, flask).

Shells print these; they compute nothing. Times are shown in the machine's local
zone with UTC beside them, so an operator in any zone reads them right.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from .control import Change, Status
from .state import ETARange, MaintenanceState, Window

__all__ = ["change_lines", "fmt", "status_lines"]

_PHASE = {
    "on": "ON",
    "active": "ON (a planned window has started)",
    "announced": "OFF (a window is announced)",
    "scheduled": "OFF (a window is scheduled)",
    "ended": "OFF (ended recently)",
    "idle": "OFF",
}


def fmt(value: datetime | None) -> str:
    """``2026-12-04 17:00 CET (16:00 UTC)``, or ``-``."""
    if value is None:
        return "-"
    local = value.astimezone()
    utc = value.astimezone(UTC)
    if local.utcoffset() == utc.utcoffset():
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M %Z} ({utc:%Y-%m-%d %H:%M} UTC)"


def _state(state: MaintenanceState) -> list[str]:
    lines = [f"  kind:    {state.kind}"]
    if state.reason:
        lines.append(f"  reason:  {state.reason}")
    if state.message:
        lines.append(f"  message: {state.message}")
    lines.append(f"  started: {fmt(state.started_at)}")
    if isinstance(state.eta, ETARange) and state.eta.earliest != state.eta.latest:
        lines.append(f"  eta:     {fmt(state.eta.earliest)} to {fmt(state.eta.latest)}")
    elif state.eta is not None:
        lines.append(f"  eta:     {fmt(state.eta_latest)}")
    if state.expires_at is not None:
        lines.append(f"  expires: {fmt(state.expires_at)} (switches off by itself)")
    if state.allow:
        lines.append(f"  allow:   {' '.join(state.allow)}")
    if state.bypass_sha256:
        lines.append("  bypass:  a secret for this maintenance is set")
    lines.extend(f"  update:  {fmt(u.at)}: {u.text}" for u in state.updates)
    if state.translations:  # the languages the operator's texts are given in, besides the default
        lines.append(f"  languages: default, {', '.join(sorted(state.translations))}")
    return lines


def _window(window: Window, now: datetime) -> list[str]:
    when = "active" if window.start <= now else "upcoming"
    end = (
        f"{fmt(window.end_earliest)} to {fmt(window.end_latest)}"
        if window.end_earliest != window.end_latest
        else fmt(window.end_latest)
    )
    lines = [
        f"  window ({when}, {window.kind}): {window.timezone}",
        f"    start:    {fmt(window.start)}",
        f"    end:      {end}",
        f"    announce: {fmt(window.announce_at)}" + ("  (auto-end)" if window.auto_end else ""),
    ]
    if window.reason:
        lines.append(f"    reason:   {window.reason}")
    if window.affected:
        lines.append(f"    affected: {', '.join(window.affected)}")
    if window.unaffected:
        lines.append(f"    still up: {', '.join(window.unaffected)}")
    return lines


def _components(status: Status, known: Collection[str] | None) -> list[str]:
    """One block per component: ``Component payments is ON`` with its details and windows."""
    lines: list[str] = []
    for name, part in status.components.items():
        flags = " (read-only: only its writes are blocked)" if _read_only(part) else ""
        lines.append(f"Component {name} is {_PHASE[part.phase]}{flags}")
        if known is not None and name not in known:
            lines.append(
                f"  warning: {name!r} is not in the app's components option; the app ignores it"
            )
        if part.state is not None:
            lines.extend(_state(part.state))
        elif part.document is not None and part.document.ended_at is not None:
            lines.append(f"  ended:   {fmt(part.document.ended_at)}")
        for window in part.upcoming:
            lines.extend(_window(window, part.at))
    return lines


def _read_only(part: Status) -> bool:
    return bool(getattr(part.document, "read_only", False))


def status_lines(status: Status, *, known: Collection[str] | None = None) -> list[str]:
    """``Maintenance is ON: <where>`` and the details, the windows ahead, the components.

    ``known`` (the app's ``components`` option, when the shell has it) flags the
    components the app would ignore.
    """
    if status.document is None:
        return [f"Maintenance is OFF (nothing at {status.target})"]
    lines = [f"Maintenance is {_PHASE[status.phase]}: {status.target}"]
    if status.problem:
        lines.append(f"  problem: {status.problem} (the app serves the 503 with default details)")
    if status.state is not None:
        lines.extend(_state(status.state))
        lines.extend(f"  warning: {warning}" for warning in status.warnings)
    elif status.document.ended_at is not None:
        lines.append(f"  ended:   {fmt(status.document.ended_at)}")
    if status.window is not None and status.window.start <= status.at:
        lines.extend(_window(status.window, status.at))
    for window in status.upcoming:
        lines.extend(_window(window, status.at))
    lines.extend(_components(status, known))
    return lines


def change_lines(change: Change, *, bypass_path: str = "/__maintenance__/") -> list[str]:
    """What a change did, then the state it left (as :func:`status_lines`)."""
    s = change.status
    if change.component is not None:
        return _component_change(change)
    head = {
        "started": f"Maintenance is ON (started): {s.target}",
        "updated": f"Maintenance is ON (updated): {s.target}",
        "ended": f"Maintenance is OFF: ended at {fmt(s.at)}; {s.target} records the end",
        "purged": f"Maintenance is OFF: removed {s.target}",
        "scheduled": f"Window scheduled: {s.target}",
        "cleared": f"Upcoming windows cleared: {s.target}",
        "unchanged": f"Nothing to change: {s.target}",
    }[change.action]
    lines = [head]
    if change.action in ("started", "updated") and s.state is not None:
        lines.extend(_state(s.state))
    elif change.action == "scheduled" and change.window is not None:
        lines.extend(_window(change.window, s.at))
        if not s.on:
            lines.append(
                "The site stays up until the window starts; the banner shows from "
                f"{fmt(change.window.announce_at)}."
            )
    elif change.action == "unchanged" and change.verb == "clear_schedule":
        lines[0] = f"No windows to clear: {s.target}"
    elif change.action == "unchanged" and not s.on:
        lines[0] = f"Maintenance was already OFF: {s.target}"
    if change.action in ("ended", "unchanged") and s.upcoming:
        lines.append(f"  {len(s.upcoming)} upcoming window(s) kept")
    if change.secret is not None:
        lines.append(
            f"  bypass URL: open {bypass_path}{change.secret} on the site to get a bypass cookie "
            "(valid for this maintenance only; shown once)"
        )
    return lines


def _component_change(change: Change) -> list[str]:
    """What a change to one component did, then every component's state."""
    s, name = change.status, change.component
    head = {
        "started": f"Component {name} is ON (started): {s.target}",
        "updated": f"Component {name} is ON (updated): {s.target}",
        "ended": f"Component {name} is OFF: ended at {fmt(s.at)}; {s.target} records the end",
        "purged": f"Component {name} is OFF: removed from {s.target}",
        "scheduled": f"Window scheduled for component {name}: {s.target}",
        "cleared": f"Upcoming windows of component {name} cleared: {s.target}",
        "unchanged": f"Nothing to change for component {name}: {s.target}",
    }[change.action]
    lines = [head]
    if change.action == "scheduled" and change.window is not None:
        lines.extend(_window(change.window, s.at))
    lines.extend(_components(s, None))
    if s.on:
        lines.append("Note: the whole site is under maintenance, which wins over components")
    return lines
