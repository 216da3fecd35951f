"""Long timelines: the page, its text form and the problem+json show the latest updates
(``timeline_limit``) and count the earlier ones; the status document carries at most 50
(issue 20). The 503's size does not grow with the updates beyond those shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from maintenance_mode import Maintenance, MaintenanceState
from maintenance_mode.core import RequestInfo
from maintenance_mode.settings import STATUS_UPDATES_MAX
from maintenance_mode.state import ProgressUpdate

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ACCEPT = {"html": "text/html", "text": "text/plain", "json": "application/problem+json"}


def state(count: int, archived: int = 0) -> MaintenanceState:
    """``count`` updates, a minute apart, posted out of order (the newest is ``Note <count-1>``)."""
    order = list(range(count))
    order = order[1::2] + order[::2]
    updates = tuple(ProgressUpdate(at=T0 + timedelta(minutes=n), text=f"Note {n}.") for n in order)
    return MaintenanceState(reason="Database upgrade", updates=updates, archived_updates=archived)


def engine(doc: MaintenanceState, **options: Any) -> Maintenance:
    return Maintenance(flag=lambda: doc, locales=["en", "fr", "de", "es"], **options)


def body(m: Maintenance, variant: str, lang: str = "en", path: str = "/") -> bytes:
    info = RequestInfo("GET", path, "", "203.0.113.5", accept=ACCEPT.get(variant, variant))
    info.accept_language = lang
    decision = m.decide(m.poll(), info)
    assert decision.response is not None
    return decision.response.body


@pytest.mark.parametrize("variant", ["html", "text"])
def test_the_page_shows_the_latest_updates_and_counts_the_rest(variant: str) -> None:
    m = engine(state(12, archived=3))
    page = body(m, variant).decode()
    shown = [n for n in range(12) if f"Note {n}." in page]
    assert shown == [7, 8, 9, 10, 11]  # the newest five (the default timeline_limit)
    assert page.index("Note 11.") < page.index("Note 7.")  # newest first
    assert "10 earlier updates" in page  # 7 not shown + 3 archived beside the document


def test_the_problem_json_shows_the_latest_and_counts_the_rest() -> None:
    m = engine(state(12), timeline_limit=3)
    problem = json.loads(body(m, "json"))
    assert [u["text"] for u in problem["updates"]] == ["Note 11.", "Note 10.", "Note 9."]
    assert problem["earlier_updates"] == 9


def test_updates_posted_within_one_second_show_the_latest_posted() -> None:
    """A deploy script posting notes quickly gives them one ``at``: document order decides."""
    updates = tuple(ProgressUpdate(at=T0, text=f"Note {n}.") for n in range(8))
    m = engine(MaintenanceState(reason="Database upgrade", updates=updates), timeline_limit=3)
    problem = json.loads(body(m, "json"))
    assert [u["text"] for u in problem["updates"]] == ["Note 7.", "Note 6.", "Note 5."]
    assert problem["earlier_updates"] == 5


@pytest.mark.parametrize(
    ("lang", "one", "many"),
    [
        ("en", "1 earlier update", "2 earlier updates"),
        ("fr", "1 mise à jour antérieure", "2 mises à jour antérieures"),
        ("de", "1 frühere Meldung", "2 frühere Meldungen"),
        ("es", "1 actualización anterior", "2 actualizaciones anteriores"),
    ],
)
def test_the_count_is_translated_with_its_plural(lang: str, one: str, many: str) -> None:
    assert one in body(engine(state(6)), "html", lang).decode()
    assert many in body(engine(state(7)), "text", lang).decode()


def test_no_count_when_every_update_is_shown() -> None:
    page = body(engine(state(5)), "html").decode()
    assert "Note 0." in page
    assert "earlier update" not in page


def test_a_banner_never_carries_the_timeline() -> None:
    """The read-only banner (the one shown while on) names the reason, never the updates."""
    m = engine(state(1000), read_only=True, read_only_banner=True)
    m.poll()
    html = m.banner_html()
    assert "Database upgrade" in html
    assert "Note" not in html


@pytest.mark.parametrize("variant", ["html", "text", "json"])
def test_the_503_size_does_not_grow_beyond_the_shown_updates(variant: str) -> None:
    sizes = [len(body(engine(state(n)), variant)) for n in (10, 1000)]
    # Only the count's digits and the shown updates' dates differ (before: 10 kB -> 98 kB).
    assert abs(sizes[1] - sizes[0]) <= 64, sizes


def test_the_status_document_carries_at_most_fifty_updates() -> None:
    m = engine(state(1000, archived=5))
    doc = json.loads(body(m, "json", path="/__maintenance__/status"))
    (entry,) = doc["scheduled_maintenances"]
    assert len(entry["incident_updates"]) == STATUS_UPDATES_MAX == 50
    assert entry["incident_updates"][0]["body"] == "Note 999."
    assert entry["earlier_updates"] == 1000 - 50 + 5


@pytest.mark.parametrize("value", [0, -1, 51, "five"])
def test_timeline_limit_is_validated(value: object) -> None:
    with pytest.raises(ValueError, match="option 'timeline_limit'"):
        Maintenance(flag=lambda: None, timeline_limit=value)  # type: ignore[arg-type]
