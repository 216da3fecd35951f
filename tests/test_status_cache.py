"""The status document is built once per state and second, then served from a cache (issue 20)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from maintenance_mode import Maintenance, MaintenanceState
from maintenance_mode.core import RequestInfo
from maintenance_mode.render import Response
from maintenance_mode.state import ETARange, ProgressUpdate, Window

T0 = datetime(2026, 11, 27, 9, 0, 0, 250_000, tzinfo=UTC)
STATUS = "/__maintenance__/status"


def status(m: Maintenance, method: str = "GET") -> Response:
    decision = m.decide(m.poll(), RequestInfo(method, STATUS, "", "203.0.113.5"))
    assert decision.response is not None
    return decision.response


def doc(updates: int) -> MaintenanceState:
    return MaintenanceState(
        reason="Upgrade",
        started_at=T0 - timedelta(hours=1),
        eta=ETARange(earliest=T0 + timedelta(hours=1), latest=T0 + timedelta(hours=2)),
        updates=tuple(
            ProgressUpdate(at=T0 - timedelta(minutes=n), text=f"Note {n}.") for n in range(updates)
        ),
    )


def test_the_same_response_is_reused_within_a_second() -> None:
    current = [doc(600)]
    m = Maintenance(flag=lambda: current[0], check_interval=3600)
    clock = [T0]
    m._clock = lambda: clock[0]
    first = status(m)
    clock[0] = T0 + timedelta(milliseconds=700)  # the same second
    again = status(m)
    assert again is first
    etag = dict(first.headers)["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{16}"', etag)
    head = status(m, "HEAD")
    assert head.body == b""
    assert dict(head.headers) == dict(first.headers)


def test_clock_dependent_members_refresh_each_second() -> None:
    m = Maintenance(flag=lambda: doc(3), check_interval=3600)
    clock = [T0]
    m._clock = lambda: clock[0]
    first = status(m)
    clock[0] = T0 + timedelta(milliseconds=999)  # the same second, counted from the ETA's
    assert status(m) is first
    clock[0] = T0 + timedelta(seconds=1)
    later = status(m)
    assert later is not first
    a, b = json.loads(first.body), json.loads(later.body)
    assert a["page"]["updated_at"] == "2026-11-27T09:00:00.250000Z"
    assert b["page"]["updated_at"] == "2026-11-27T09:00:01.250000Z"
    # The Retry-After a 503 sends at that moment (the ETA is 10:00:00.25).
    assert a["retry_after"] == 3600 == m.retry_after(doc(3), T0)
    assert b["retry_after"] == 3599
    assert dict(first.headers)["ETag"] != dict(later.headers)["ETag"]
    # Everything else is the same, entries and all.
    assert a["scheduled_maintenances"] == b["scheduled_maintenances"]


def test_a_state_change_rebuilds_it() -> None:
    current: list[MaintenanceState | bool] = [doc(3)]
    m = Maintenance(flag=lambda: current[0], check_interval=3600)
    m._clock = lambda: T0
    first = status(m)
    current[0] = doc(4)
    m.invalidate()
    changed = status(m)
    assert changed is not first
    entry = json.loads(changed.body)["scheduled_maintenances"][0]
    assert len(entry["incident_updates"]) == 4
    current[0] = False
    m.invalidate()
    assert json.loads(status(m).body)["status"]["indicator"] == "none"


def test_an_upcoming_window_leaves_the_list_once_it_starts() -> None:
    start = T0 + timedelta(seconds=2)
    planned = MaintenanceState(windows=(Window(start=start, end=start + timedelta(hours=1)),))
    m = Maintenance(flag=lambda: planned, check_interval=3600)
    clock = [T0]
    m._clock = lambda: clock[0]
    assert len(json.loads(status(m).body)["scheduled_maintenances"]) == 1
    clock[0] = start + timedelta(seconds=1)  # same snapshot (no check due), a later second
    assert json.loads(status(m).body)["scheduled_maintenances"] == []


def test_each_engine_keeps_its_own_document() -> None:
    """Two middlewares while off share the engine's idle snapshot, not their documents."""
    a = Maintenance(flag=lambda: None, site_name="A")
    b = Maintenance(flag=lambda: None, site_name="B")
    assert json.loads(status(a).body)["page"]["name"] == "A"
    assert json.loads(status(b).body)["page"]["name"] == "B"
