"""Overrun: once the ETA passes the page keeps saying something true, and the operator is told."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance_mode import control
from maintenance_mode.cli import main
from maintenance_mode.render import Renderer, next_update_due
from maintenance_mode.settings import Settings
from maintenance_mode.state import MaintenanceState, ProgressUpdate, load_state

T0 = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
ETA = T0 + timedelta(hours=1)


def page(state: MaintenanceState, *, overrun: bool, locale: str = "en", **options: object) -> str:
    renderer = Renderer(Settings.model_validate(options))
    html = renderer.page("html", state, overrun=overrun, locale=locale).body.decode()
    text = renderer.page("text", state, overrun=overrun, locale=locale).body.decode()
    return html + "\n----\n" + text


def test_overrun_promises_the_next_update_from_the_eta() -> None:
    body = page(MaintenanceState(started_at=T0, eta=ETA), overrun=True)
    assert body.count("This is taking longer than we planned.") == 2
    assert body.count("We will post the next update here by:") == 2
    assert "3:30" in body  # 30 minutes (the default) after the 3:00 PM ETA


def test_the_promise_moves_on_with_each_update() -> None:
    late_note = ProgressUpdate(at=ETA + timedelta(minutes=20), text="Still copying data")
    state = MaintenanceState(started_at=T0, eta=ETA, updates=(late_note,))
    assert next_update_due(state, 1800) == ETA + timedelta(minutes=50)
    body = page(state, overrun=True, overrun_update_every="1h")
    assert "4:20" in body  # an hour after the 3:20 update


def test_no_promise_before_the_eta() -> None:
    body = page(MaintenanceState(started_at=T0, eta=ETA), overrun=False)
    assert "next update" not in body
    assert "Expected back" in body or "Maintenance window" in body


def test_a_revised_eta_says_we_now_expect(flag_path: Path) -> None:
    control.on(flag_path, reason="Upgrade", eta=ETA, now=T0)
    first = load_state(flag_path.read_bytes())
    assert first.eta_revised_at is None
    control.update(flag_path, "Slower than hoped", eta="45m", now=ETA + timedelta(minutes=2))
    state = load_state(flag_path.read_bytes())
    assert state.eta_revised_at == ETA + timedelta(minutes=2)
    assert state.eta_latest == ETA + timedelta(minutes=50)  # 3:47 rounded up to 3:50
    body = page(state, overrun=False)
    assert body.count("We now expect to be back") == 2
    assert "3:50" in body
    assert "Expected back" not in body
    french = page(state, overrun=False, locale="fr")
    assert "Retour désormais prévu" in french


def test_an_update_without_a_new_eta_is_not_a_revision(flag_path: Path) -> None:
    control.on(flag_path, reason="Upgrade", eta=ETA, now=T0)
    control.update(flag_path, "Halfway", now=T0 + timedelta(minutes=30))
    assert load_state(flag_path.read_bytes()).eta_revised_at is None


@pytest.mark.parametrize(
    ("locale", "promise"),
    [
        pytest.param("fr", "Nous publierons la prochaine mise à jour ici", id="fr"),
        pytest.param("es", "Publicaremos la próxima actualización aquí", id="es"),
        pytest.param("de", "Das nächste Update veröffentlichen wir hier", id="de"),
    ],
)
def test_the_overrun_lines_are_translated(locale: str, promise: str) -> None:
    body = page(MaintenanceState(started_at=T0, eta=ETA), overrun=True, locale=locale)
    assert promise in body
    assert "We will post" not in body


def test_the_option_is_checked() -> None:
    with pytest.raises(ValueError, match="overrun_update_every"):
        Settings.model_validate({"overrun_update_every": 10})
    assert Settings.model_validate({"overrun_update_every": "1h"}).overrun_update_every == 3600


def test_status_warns_once_the_eta_has_passed_with_no_update(flag_path: Path) -> None:
    control.on(flag_path, reason="Upgrade", eta=ETA, now=T0)
    assert control.status(flag_path, now=ETA - timedelta(minutes=1)).warnings == ()
    late = control.status(flag_path, now=ETA + timedelta(minutes=25))
    (warning,) = late.warnings
    assert "the ETA passed 25 min ago with no update" in warning
    assert late.to_json()["warnings"] == [warning]
    control.update(flag_path, "Still copying", now=ETA + timedelta(minutes=26))
    assert control.status(flag_path, now=ETA + timedelta(minutes=27)).warnings == ()


def test_the_cli_prints_the_warning(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    control.on(flag_path, reason="Upgrade", eta=past + timedelta(hours=1), now=past)
    assert main(["--file", str(flag_path), "status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\n  warning: the ETA passed 6\d min ago with no update since", out)
    assert main(["--file", str(flag_path), "status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["warnings"]) == 1
