"""The ``maintenance`` command, through ``main([...])``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance_mode.cli import main, parse_eta
from maintenance_mode.state import ETARange, MaintenanceState, load_state, write_state_atomic

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90m", NOW + timedelta(minutes=90), id="minutes"),
        pytest.param("2h", NOW + timedelta(hours=2), id="hours"),
        pytest.param("1d12h", NOW + timedelta(days=1, hours=12), id="days and hours"),
        pytest.param("45s", NOW + timedelta(seconds=45), id="seconds"),
        pytest.param(
            "2026-11-27T14:00+01:00", datetime(2026, 11, 27, 13, tzinfo=UTC), id="iso with offset"
        ),
        pytest.param("2026-11-27T14:00Z", datetime(2026, 11, 27, 14, tzinfo=UTC), id="iso zulu"),
        pytest.param(
            "2h..4h",
            ETARange(earliest=NOW + timedelta(hours=2), latest=NOW + timedelta(hours=4)),
            id="duration range",
        ),
        pytest.param(
            "2026-11-27T12:00Z/2026-11-27T14:00Z",
            ETARange(
                earliest=datetime(2026, 11, 27, 12, tzinfo=UTC),
                latest=datetime(2026, 11, 27, 14, tzinfo=UTC),
            ),
            id="iso interval",
        ),
    ],
)
def test_parse_eta(text: str, expected: object) -> None:
    assert parse_eta(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("2x", "neither a duration", id="unknown unit"),
        pytest.param("", "neither a duration", id="empty"),
        pytest.param("h", "neither a duration", id="unit alone"),
        pytest.param("2026-11-27T14:00", "has no time zone", id="naive"),
        pytest.param("4h..2h", "ends before it starts", id="reversed"),
        pytest.param("tomorrow", "neither a duration", id="word"),
    ],
)
def test_parse_eta_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_eta(text, now=NOW)


def test_on_status_off(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--file", str(flag_path), "status")
    assert (code, "OFF" in out) == (0, True)

    code, out, _ = run(
        capsys, "on", "--file", str(flag_path), "--reason", "DB upgrade", "--eta", "1h..2h",
        "--kind", "unplanned", "--allow", "/status",
    )  # fmt: skip
    assert code == 0
    assert "Maintenance is ON (started)" in out
    state = load_state(flag_path.read_bytes())
    assert state.reason == "DB upgrade"
    assert state.kind == "unplanned"
    assert isinstance(state.eta, ETARange)
    assert state.allow == ("/status",)
    assert state.started_at is not None
    assert flag_path.stat().st_mode & 0o777 == 0o644

    code, out, _ = run(capsys, "--file", str(flag_path), "status", "--json")
    doc = json.loads(out)
    assert doc["on"] is True
    assert doc["state"]["reason"] == "DB upgrade"

    code, out, _ = run(capsys, "--file", str(flag_path), "off")
    assert code == 0
    ended = load_state(flag_path.read_bytes())  # the file now records the real end
    assert ended.ended_at is not None
    assert ended.expires_at == ended.ended_at
    assert ended.reason == "DB upgrade"
    code, out, _ = run(capsys, "--file", str(flag_path), "status", "--json")
    assert json.loads(out)["on"] is False
    code, out, _ = run(capsys, "--file", str(flag_path), "off")
    assert code == 0
    assert "already OFF" in out
    code, out, _ = run(capsys, "--file", str(flag_path), "off", "--purge")
    assert (code, flag_path.exists()) == (0, False)


def test_on_again_updates_without_a_gap(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = MaintenanceState(reason="one", started_at=NOW).with_update("begun", at=NOW)
    write_state_atomic(flag_path, first)
    code, out, _ = run(capsys, "--file", str(flag_path), "on", "--eta", "30m")
    assert code == 0
    assert "updated" in out
    state = load_state(flag_path.read_bytes())
    assert state.reason == "one"  # kept
    assert state.started_at == NOW  # kept
    assert state.updates == first.updates  # kept
    assert state.eta is not None


def test_on_over_invalid_file_warns_and_stays_on(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_path.write_text("{broken")
    code, _, err = run(capsys, "--file", str(flag_path), "on", "--reason", "fixed")
    assert code == 0
    assert "warning" in err
    assert load_state(flag_path.read_bytes()).reason == "fixed"


def test_file_from_environment(
    flag_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINTENANCE_FILE", str(flag_path))
    assert run(capsys, "on")[0] == 0
    assert flag_path.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["on", "--eta", "soon"], "argument --eta: 'soon' is neither", id="bad eta"),
        pytest.param(["on", "--kind", "maybe"], "invalid choice: 'maybe'", id="bad kind"),
        pytest.param(["on", "--allow", "faq"], "--allow: allow entry 'faq'", id="bad allow"),
        pytest.param(["on", "--reason", "x" * 5000], "invalid details: reason", id="long reason"),
        pytest.param(["on", "--eta", "1700000000"], "neither a duration", id="unix timestamp"),
        pytest.param(["on", "--eta", "0m"], "not in the future", id="zero duration"),
        pytest.param(["on", "--eta", "2020-01-01T00:00Z"], "not in the future", id="past time"),
        pytest.param(["launch"], "invalid choice: 'launch'", id="unknown command"),
        pytest.param([], "the following arguments are required: COMMAND", id="no command"),
        pytest.param(["demo", "--port", "99999"], "not a port number", id="bad port"),
    ],
)
def test_usage_errors(
    flag_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "--file", str(flag_path), *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    if argv[:1] == ["on"]:
        assert "usage: maintenance on" in err  # the subcommand's usage, not the top level
    assert not flag_path.exists()


def test_unwritable_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "maintenance.json"
    code, _, err = run(capsys, "--file", str(target), "on")
    assert code == 1
    assert err.strip().startswith(f"maintenance: cannot write {target}")
    assert len(err.strip().splitlines()) == 1


def test_schema_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out)["title"] == "MaintenanceState"
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("maintenance ")


@pytest.mark.parametrize("command", ["on", "off", "status", "schema", "demo"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"usage: maintenance {command}" in out


def test_framework_commands_pass_their_file_and_name(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["on"], prog="manage.py maintenance", default_file=flag_path) == 0
    assert flag_path.exists()
    with pytest.raises(SystemExit):
        main(["on", "--help"], prog="manage.py maintenance", default_file=flag_path)
    assert "usage: manage.py maintenance on" in capsys.readouterr().out


def test_demo_into_a_missing_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "maintenance.json"
    code, _, err = run(capsys, "demo", "--file", str(target), "--port", "0")
    assert code == 1
    assert err.strip() == f"maintenance demo: cannot write {target}: No such file or directory"


# -- over time: update, expires, schedule ------------------------------------------------


def test_update_appends_without_a_gap(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--file", str(flag_path), "on", "--reason", "Disk swap")[0] == 0
    inode = flag_path.stat().st_ino
    code, out, _ = run(capsys, "--file", str(flag_path), "update", "Disks in", "--eta", "1h..2h")
    assert code == 0
    assert "Update added (1 in all)" in out
    state = load_state(flag_path.read_bytes())
    assert [u.text for u in state.updates] == ["Disks in"]
    assert isinstance(state.eta, ETARange)
    assert state.reason == "Disk swap"
    assert flag_path.stat().st_ino != inode  # replaced atomically, never missing


def test_update_when_off_is_one_line(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--file", str(flag_path), "update", "hello")
    assert code == 1
    assert err.strip().startswith("maintenance: maintenance is not on")
    assert not flag_path.exists()


def test_on_expires(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    assert run(capsys, "--file", str(flag_path), "on", "--expires", "2h")[0] == 0
    expires = load_state(flag_path.read_bytes()).expires_at
    assert expires is not None
    assert timedelta(hours=1, minutes=59) < expires - before < timedelta(hours=2, minutes=1)
    code, _, err = run(capsys, "--file", str(flag_path), "on", "--expires", "0m")
    assert code == 2
    assert "is zero" in err


def test_schedule_a_window(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--file", str(flag_path), "schedule", "--start", "2030-06-01T10:00",
        "--end", "3h..5h", "--tz", "Europe/Paris", "--reason", "Payment switch",
        "--affected", "checkout", "--unaffected", "blog", "--announce", "72h", "--auto-end",
    )  # fmt: skip
    assert code == 0, out
    doc = load_state(flag_path.read_bytes())
    assert doc.started_at is None  # a windows-only document: the site stays up
    (window,) = doc.windows
    assert window.start == datetime(2030, 6, 1, 8, 0, tzinfo=UTC)  # 10:00 Paris, summer time
    assert isinstance(window.end, ETARange)
    assert window.end.latest - window.start == timedelta(hours=5)
    assert window.announce_at == window.start - timedelta(hours=72)
    assert window.auto_end
    assert (window.affected, window.unaffected) == (("checkout",), ("blog",))
    code, out, _ = run(capsys, "--file", str(flag_path), "status", "--json")
    assert json.loads(out)["phase"] == "scheduled"
    code, out, _ = run(capsys, "--file", str(flag_path), "schedule", "--clear")
    assert not flag_path.exists()  # it held only windows: an empty document would mean ON


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--start", "2h"], "--start and --end are required", id="no end"),
        pytest.param(
            ["--start", "2020-01-01T10:00", "--end", "1h"], "not in the future", id="past"
        ),
        pytest.param(["--start", "soon", "--end", "1h"], "neither a duration", id="bad start"),
        pytest.param(["--start", "2h", "--end", "2h", "--tz", "Mars/Base"], "IANA", id="bad zone"),
        pytest.param(["--start", "2h", "--end", "1h..30m"], "ends before it starts", id="range"),
        pytest.param(
            ["--start", "2h", "--end", "2h", "--announce", "x"], "not a duration", id="ann"
        ),
    ],
)
def test_schedule_errors(
    flag_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "--file", str(flag_path), "schedule", *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not flag_path.exists()


def test_on_during_a_started_window_takes_it_over(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from maintenance_mode.state import Window

    start = datetime.now(UTC) - timedelta(minutes=5)
    window = Window(start=start, end=start + timedelta(hours=1), reason="Planned upgrade")
    write_state_atomic(flag_path, MaintenanceState(windows=(window,)))
    code, _, _ = run(capsys, "--file", str(flag_path), "update", "Halfway there")
    assert code == 0
    state = load_state(flag_path.read_bytes())
    assert state.started_at == window.start
    assert state.reason == "Planned upgrade"
    assert [u.text for u in state.updates] == ["Halfway there"]
    assert run(capsys, "--file", str(flag_path), "off")[0] == 0
    assert load_state(flag_path.read_bytes()).windows == ()  # the started window is done


def test_scheduling_on_a_bare_file_keeps_it_on(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from maintenance_mode.schedule import evaluate

    flag_path.write_text("")  # `touch`: maintenance is ON
    code, _, _ = run(capsys, "--file", str(flag_path), "schedule", "--start", "2d", "--end", "1h")
    assert code == 0
    doc = load_state(flag_path.read_bytes())
    assert doc.started_at is not None
    assert evaluate(doc, datetime.now(UTC)).on
    assert run(capsys, "--file", str(flag_path), "schedule", "--clear")[0] == 0
    assert evaluate(load_state(flag_path.read_bytes()), datetime.now(UTC)).on  # still ON


def test_on_over_a_touched_file_records_the_start(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_path.write_text("")
    assert run(capsys, "--file", str(flag_path), "on", "--reason", "x")[0] == 0
    assert load_state(flag_path.read_bytes()).started_at is not None


def test_windows_kept_by_off_still_start(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from maintenance_mode.schedule import evaluate

    assert run(capsys, "--file", str(flag_path), "on", "--reason", "now")[0] == 0
    argv = ["schedule", "--start", "2d", "--end", "1h", "--reason", "later"]
    assert run(capsys, "--file", str(flag_path), *argv)[0] == 0
    assert run(capsys, "--file", str(flag_path), "off")[0] == 0
    doc = load_state(flag_path.read_bytes())
    (window,) = doc.windows
    assert not evaluate(doc, datetime.now(UTC)).on
    later = evaluate(doc, window.start + timedelta(minutes=1))
    assert (later.on, later.phase) == (True, "active")
    assert later.state is not None
    assert later.state.reason == "later"
    assert later.state.updates == ()  # the earlier maintenance's timeline stays behind
