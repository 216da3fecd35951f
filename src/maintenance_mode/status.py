"""The machine-readable status document, shaped as a subset of Statuspage's ``summary.json``.

Served at ``status_path`` (default ``/__maintenance__/status``) whether maintenance
is on or off, to everyone, never cached, readable cross-origin: uptime monitors
and the maintenance page's own "are we back?" check read it.

``status.indicator`` is ``none`` while the site is up, ``minor`` while it is up but
components are down (partial maintenance: each component's own ``status`` says which),
``maintenance`` (planned) or ``major`` (unplanned) while the whole site is down.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .schedule import window_state
from .settings import STATUS_UPDATES_MAX
from .state import MaintenanceState, ProgressUpdate, Window

__all__ = [
    "StatusParts",
    "latest_updates",
    "status_body",
    "status_document",
    "status_headers",
    "status_parts",
]


#: The last two answers of :func:`latest_updates`: every form and language rendered for one
#: state (the snapshot's own object, so ``is`` finds it) makes one selection.
_latest: list[tuple[MaintenanceState, int, tuple[ProgressUpdate, ...], int]] = []


def latest_updates(state: MaintenanceState, limit: int) -> tuple[list[ProgressUpdate], int]:
    """The ``limit`` newest updates, newest first, and how many earlier ones there are.

    The earlier ones include those the writers archived beside the flag document
    (``archived_updates``). Linear in the updates, never a full sort, and made once per
    state: a long incident's page costs what a short one's does.
    """
    for last in _latest:
        if last[0] is state and last[1] == limit:
            return list(last[2]), last[3]
    # Updates posted within one second share ``at``: the later in the document is newer.
    newest = heapq.nlargest(limit, enumerate(state.updates), key=lambda pair: (pair[1].at, pair[0]))
    shown = [update for _, update in newest]
    earlier = len(state.updates) - len(shown) + state.archived_updates
    _latest[:] = [(state, limit, tuple(shown), earlier), *_latest[:1]]  # page and status
    return shown, earlier


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; never raises (see render.format_datetime)."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return value.isoformat()


def _entry(
    state: MaintenanceState, status: str, *, window: Window | None, name_default: str
) -> dict[str, Any]:
    # The newest STATUS_UPDATES_MAX updates; ``earlier_updates`` counts the rest.
    shown, earlier = latest_updates(state, STATUS_UPDATES_MAX)
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
        "incident_updates": [
            {"body": u.text, "created_at": _iso(u.at), "status": status} for u in shown
        ],
        "earlier_updates": earlier,
    }
    if window is not None:
        entry["affected"] = list(window.affected)
        entry["unaffected"] = list(window.unaffected)
    return entry


@dataclass(frozen=True, slots=True)
class StatusParts:
    """What the document says that does not depend on the clock, encoded once per state.

    The engine keeps it per snapshot, and per second only fills in ``updated_at``,
    ``retry_after`` and which windows are still to come (:func:`status_body`).
    """

    on: bool
    #: The entries as JSON text, comma-joined: the unplanned one, the planned one that is on.
    incidents: str
    active: str
    #: Windows not started yet, in the order listed: (start, entry as JSON text).
    upcoming: tuple[tuple[datetime, str], ...]
    #: The ``components`` member's items as JSON text, comma-joined (partial maintenance).
    components: str = ""
    #: The site's ``status`` member while only components are down (else None): Statuspage's
    #: ``minor`` indicator and a description naming them (the site itself is up).
    partial: tuple[str, str] | None = None


#: A component as the status document lists it: name, label, and its state while down.
ComponentStatus = tuple[str, str, "MaintenanceState | None"]


def component_status(state: MaintenanceState | None) -> str:
    """Statuspage's word for a component: ``operational`` while it is up,
    ``under_maintenance`` while planned work has it down, ``major_outage`` for an
    unplanned one (``kind: unplanned``, an incident)."""
    if state is None:
        return "operational"
    return "major_outage" if state.kind == "unplanned" else "under_maintenance"


def status_parts(
    *,
    on: bool,
    state: MaintenanceState | None,
    docs: Sequence[MaintenanceState],
    components: Sequence[ComponentStatus] = (),
) -> StatusParts:
    """Build and encode every entry of the document (once per state change).

    ``components`` are the site's known components (the ``components`` option) with
    their state while down: they are listed with Statuspage's status words, their
    maintenance and their windows ahead are entries naming them in ``components``.
    """
    incidents = active = ""
    if on and state is not None:
        active_window = next(
            (w for doc in docs for w in doc.windows if w.start == state.started_at), None
        )
        entry = _entry(state, "in_progress", window=active_window, name_default="Maintenance")
        if state.kind == "unplanned":
            entry["status"] = "investigating"
            entry["impact"] = "major"
            incidents = _text(entry)
        else:
            active = _text(entry)
    upcoming = tuple(
        (
            window.start,
            _text(
                _entry(
                    window_state(doc, window),
                    "scheduled",
                    window=window,
                    name_default="Planned maintenance",
                )
            ),
        )
        for doc in docs
        for window in sorted(doc.windows, key=lambda w: w.start)
    )
    if not components:
        return StatusParts(on, incidents, active, upcoming)
    listed = []
    actives = [active] if active else []
    troubles = [incidents] if incidents else []
    ahead = list(upcoming)
    down_labels: list[str] = []
    outage = False
    for name, label, down in components:
        status = component_status(None if on else down)
        listed.append(_text({"id": name, "name": label or name, "status": status}))
        if down is not None and not on:
            down_labels.append(label or name)
            outage = outage or down.kind == "unplanned"
            entry = _entry(down, "in_progress", window=None, name_default="Maintenance")
            entry["components"] = [name]
            if down.kind == "unplanned":
                entry.update(status="investigating", impact="major")
                troubles.append(_text(entry))
            else:
                actives.append(_text(entry))
        for doc in docs:
            part = doc.components.get(name)
            if part is None:
                continue
            for window in sorted(part.windows, key=lambda w: w.start):
                entry = _entry(
                    window_state(part, window),
                    "scheduled",
                    window=window,
                    name_default="Planned maintenance",
                )
                entry["components"] = [name]
                ahead.append((window.start, _text(entry)))
    partial = None
    if down_labels:
        what = "Partial outage" if outage else "Partial maintenance"
        partial = ("minor", f"{what}: {', '.join(down_labels)}")
    return StatusParts(
        on, ",".join(troubles), ",".join(actives), tuple(ahead), ",".join(listed), partial
    )


def status_body(
    parts: StatusParts, *, site_name: str, now: datetime, retry_after: int | None
) -> bytes:
    """The encoded document at ``now``: the clock-dependent members around the cached entries."""
    on = parts.on
    if on:
        indicator = "major" if parts.incidents else "maintenance"
        description = "Under maintenance"
    else:  # up; "minor" while components are down (partial maintenance)
        indicator, description = parts.partial or ("none", "All systems operational")
    head = _text(
        {
            "page": {"name": site_name or None, "updated_at": _iso(now)},
            "status": {"indicator": indicator, "description": description},
            "retry_after": retry_after if on else None,
        }
    )
    planned = [parts.active] if parts.active else []
    planned += [text for start, text in parts.upcoming if start > now]
    maintenances = ",".join(planned)
    listed = f'"components":[{parts.components}],' if parts.components else ""
    tail = f'{listed}"incidents":[{parts.incidents}],"scheduled_maintenances":[{maintenances}]}}'
    return f"{head[:-1]},{tail}".encode()


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
    parts = status_parts(on=on, state=state, docs=docs)
    document: dict[str, Any] = json.loads(
        status_body(parts, site_name=site_name, now=now, retry_after=retry_after)
    )
    return document


def status_headers(body: bytes) -> tuple[tuple[str, str], ...]:
    """no-store, readable from any origin (a public, read-only document), JSON.

    The ETag (a hash of the body) lets a monitor tell two readings apart cheaply.
    """
    etag = hashlib.blake2b(body, digest_size=8).hexdigest()
    return (
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("ETag", f'"{etag}"'),
        ("Access-Control-Allow-Origin", "*"),
        ("X-Content-Type-Options", "nosniff"),
    )


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def encode(document: dict[str, Any]) -> bytes:
    """The document as compact UTF-8 JSON (as served)."""
    return _text(document).encode("utf-8")
