"""``maintenance schedule --lang`` and the refused ``--apology --no-apology`` pair.

Through the installed ``maintenance`` script (a real subprocess), reading the
document it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MAINTENANCE = Path(sys.executable).with_name("maintenance")


def _cli(flag: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAINTENANCE), "--file", str(flag), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _window(flag: Path) -> dict[str, object]:
    windows = json.loads(flag.read_text())["windows"]
    assert len(windows) == 1, windows  # a translation adds no second window
    window: dict[str, object] = windows[0]
    return window


def test_schedule_lang_translates_the_window_at_start(flag_path: Path) -> None:
    start = "2031-03-01T09:00:00+00:00"
    done = _cli(
        flag_path, "schedule", "--start", start, "--end", "2h",
        "--reason", "Database upgrade", "--affected", "Checkout",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = _cli(
        flag_path, "schedule", "--start", start, "--lang", "fr",
        "--reason", "Mise à niveau de la base", "--affected", "Paiement",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = _cli(flag_path, "schedule", "--start", start, "--lang", "de", "--reason", "Umbau")
    assert done.returncode == 0, done.stderr
    window = _window(flag_path)
    assert window["reason"] == "Database upgrade"
    assert window["affected"] == ["Checkout"]
    translations = window["translations"]
    assert isinstance(translations, dict)
    assert translations["fr"]["reason"] == "Mise à niveau de la base"
    assert translations["fr"]["affected"] == ["Paiement"]
    assert translations["de"]["reason"] == "Umbau"


def test_schedule_lang_mistakes_are_one_line(flag_path: Path) -> None:
    done = _cli(flag_path, "schedule", "--start", "2031-03-01T09:00:00+00:00", "--end", "2h")
    assert done.returncode == 0, done.stderr
    no_window = _cli(
        flag_path, "schedule", "--start", "2031-03-02T09:00:00+00:00", "--lang", "fr",
        "--reason", "Mise à jour",
    )  # fmt: skip
    assert no_window.returncode != 0
    assert "no window starts at 2031-03-02T09:00:00+00:00" in no_window.stderr
    assert len(no_window.stderr.strip().splitlines()) == 1, no_window.stderr
    no_start = _cli(flag_path, "schedule", "--lang", "fr", "--reason", "Mise à jour")
    assert no_start.returncode != 0
    assert "--lang translates the window at --start" in no_start.stderr
    assert "Traceback" not in no_window.stderr + no_start.stderr


def test_apology_and_no_apology_together_are_refused(flag_path: Path) -> None:
    for verb in ("on", "update"):
        args = ("update", "note") if verb == "update" else ("on",)
        done = _cli(flag_path, *args, "--apology", "--no-apology")
        assert done.returncode == 2
        assert "--no-apology: not allowed with argument --apology" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not flag_path.exists()  # nothing written


def test_control_schedule_takes_translations_for_a_new_window(flag_path: Path) -> None:
    from maintenance_mode import control

    change = control.schedule(
        flag_path,
        start="2031-03-01T09:00:00+00:00",
        end="2h",
        reason="Upgrade",
        translations={"fr-FR": {"reason": "Mise à jour", "affected": ["Paiement"]}},
    )
    assert change.window is not None
    assert change.window.translations["fr_FR"].reason == "Mise à jour"
    french = _window(flag_path)["translations"]["fr_FR"]  # type: ignore[index]
    assert french["reason"] == "Mise à jour"
    assert french["affected"] == ["Paiement"]
