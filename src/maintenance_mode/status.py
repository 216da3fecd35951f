"""The machine-readable status document, shaped as a subset of Statuspage's ``summary.json``.

Served at ``status_path`` (default ``/__maintenance__/status``) whether maintenance
is on or off, to everyone, never cached, readable cross-origin: uptime monitors
and the maintenance page's own "are we back?" check read it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .schedule import window_state
from .state import MaintenanceState, Window

__all__ = ["status_document", "status_headers"]


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; never raises (see render.format_datetime)."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return value.isoformat()


def _updates(state: MaintenanceState, status: str) -> list[dict[str, Any]]:
    return [
        {"body": u.text, "created_at": _iso(u.at), "status": status}
        for u in sorted(state.updates, key=lambda u: u.at, reverse=True)
    ]


def _entry(
    state: MaintenanceState, status: str, *, window: Window | None, name_default: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": _iso(window.start if window is not None else state.started_at) or "now",
        "name": state.reason or name_default,
        "status": status,
        "impact": "maintenance",
        "scheduled_for": _iso(window.start if window is not None else state.started_at),
        # The state's own ETA first: `update --eta` during a window moves the end.
        "scheduled_until": _iso(
            state.eta_latest or (window.end_latest if window is not None else None)
        ),
        "incident_updates": _updates(state, status),
    }
    if window is not None:
        entry["affected"] = list(window.affected)
        entry["unaffected"] = list(window.unaffected)
    return entry


def status_document(
    *,
    site_name: str,
    on: bool,
    state: MaintenanceState | None,
    docs: list[MaintenanceState],
    now: datetime,
    retry_after: int | None,
) -> dict[str, Any]:
    """The current state, the active and upcoming windows, and the updates."""
    maintenances: list[dict[str, Any]] = []
    incidents: list[dict[str, Any]] = []
    if on and state is not None:
        active_window = next(
            (w for doc in docs for w in doc.windows if w.start == state.started_at), None
        )
        entry = _entry(state, "in_progress", window=active_window, name_default="Maintenance")
        if state.kind == "unplanned":
            entry["status"] = "investigating"
            entry["impact"] = "major"
            incidents.append(entry)
        else:
            maintenances.append(entry)
    for doc in docs:
        for window in sorted(doc.windows, key=lambda w: w.start):
            if window.start > now:
                maintenances.append(
                    _entry(
                        window_state(doc, window),
                        "scheduled",
                        window=window,
                        name_default="Planned maintenance",
                    )
                )
    return {
        "page": {"name": site_name or None, "updated_at": _iso(now)},
        "status": {
            "indicator": ("major" if incidents else "maintenance") if on else "none",
            "description": "Under maintenance" if on else "All systems operational",
        },
        "retry_after": retry_after if on else None,
        "incidents": incidents,
        "scheduled_maintenances": maintenances,
    }


def status_headers(body: bytes) -> tuple[tuple[str, str], ...]:
    """no-store, readable from any origin (a public, read-only document), JSON."""
    return (
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("Access-Control-Allow-Origin", "*"),
        ("X-Content-Type-Options", "nosniff"),
    )


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
