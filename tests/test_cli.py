"""The ``maintenance`` command, through ``main([...])`` (real processes: test_cli_deploy.py)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance_mode import control
from maintenance_mode.cli import main, parse_eta, parse_when
from maintenance_mode.state import ETARange, MaintenanceState, load_state, write_state_atomic

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_parsers_are_control_s() -> None:
    assert (parse_eta, parse_when) == (control.parse_eta, control.parse_when)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90m", NOW + timedelta(minutes=90), id="minutes"),
        pytest.param("2h", NOW + timedelta(hours=2), id="hours"),
        pytest.param("1d12h", NOW + timedelta(days=1, hours=12), id="days and hours"),
        pytest.param("45s", NOW + timedelta(minutes=5), id="seconds: rounded up to 5 minutes"),
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
    assert (code, out) == (0, f"Maintenance is OFF (nothing at {flag_path})\n")

    code, out, _ = run(
        capsys, "on", "--file", str(flag_path), "--reason", "DB upgrade", "--eta", "1h..2h",
        "--kind", "unplanned", "--allow", "/status",
    )  # fmt: skip
    assert code == 0
    assert out.startswith(f"Maintenance is ON (started): {flag_path}\n")
    assert "  reason:  DB upgrade\n" in out
    state = load_state(flag_path.read_bytes())
    assert state.reason == "DB upgrade"
    assert state.kind == "unplanned"
    assert isinstance(state.eta, ETARange)
    assert state.allow == ("/status",)
    assert state.started_at is not None
    assert flag_path.stat().st_mode & 0o777 == 0o644

    code, out, _ = run(capsys, "--file", str(flag_path), "status", "--json")
    doc = json.loads(out)
    assert (doc["on"], doc["phase"], doc["target"]) == (True, "on", str(flag_path))
    assert doc["state"]["reason"] == "DB upgrade"

    code, out, _ = run(capsys, "--file", str(flag_path), "off")
    assert code == 0
    assert out.startswith("Maintenance is OFF: ended at")
    ended = load_state(flag_path.read_bytes())  # the file now records the real end
    assert ended.ended_at is not None
    assert ended.expires_at == ended.ended_at
    assert ended.reason == "DB upgrade"
    code, out, _ = run(capsys, "--file", str(flag_path), "status", "--json")
    assert json.loads(out)["on"] is False
    code, out, _ = run(capsys, "--file", str(flag_path), "off")
    assert (code, out) == (0, f"Maintenance was already OFF: {flag_path}\n")
    code, out, _ = run(capsys, "--file", str(flag_path), "off", "--purge")
    assert (code, flag_path.exists()) == (0, False)
    assert out == f"Maintenance is OFF: removed {flag_path}\n"


def test_on_again_updates_without_a_gap(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = MaintenanceState(reason="one", started_at=NOW).with_update("begun", at=NOW)
    write_state_atomic(flag_path, first)
    code, out, _ = run(capsys, "--file", str(flag_path), "on", "--eta", "30m")
    assert code == 0
    assert "Maintenance is ON (updated)" in out
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
    assert err.startswith("maintenance: warning: ")
    assert "replaced by a new document" in err
    assert load_state(flag_path.read_bytes()).reason == "fixed"


def test_status_of_an_invalid_file_is_on_with_the_problem(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag_path.write_text("{broken")
    code, out, _ = run(capsys, "--file", str(flag_path), "status")
    assert code == 0
    assert out.startswith(f"Maintenance is ON: {flag_path}\n  problem: ")
    assert run(capsys, "--file", str(flag_path), "status", "--check")[0] == 0


# -- where: --file, --redis, the environment -------------------------------------------------


def test_file_from_environment(
    flag_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINTENANCE_FILE", str(flag_path))
    assert run(capsys, "on")[0] == 0
    assert flag_path.exists()


def test_the_default_is_control_s_default_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAINTENANCE_FILE", raising=False)
    monkeypatch.delenv("MAINTENANCE_REDIS", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "on", "--json")
    assert code == 0
    assert json.loads(out)["target"] == str(tmp_path / "maintenance.json")
    assert control.status(None).on  # the app's default flag is the same file


def test_both_environment_variables_are_an_error(
    flag_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINTENANCE_FILE", str(flag_path))
    monkeypatch.setenv("MAINTENANCE_REDIS", "redis://127.0.0.1:1/0")
    code, out, err = run(capsys, "on")
    assert (code, out) == (2, "")
    assert err.startswith("maintenance on: error: both MAINTENANCE_REDIS and MAINTENANCE_FILE")
    assert len(err.splitlines()) == 1
    assert not flag_path.exists()
    code, _, _ = run(capsys, "status", "--check")
    assert code == 2
    assert run(capsys, "--file", str(flag_path), "on")[0] == 0  # an explicit target wins


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--redis", "redis://127.0.0.1:1/0", "--file", "f.json", "on"],
            "give either --file or --redis, not both",
            id="file and redis",
        ),
        pytest.param(
            ["on", "--file", "f.json", "--redis-key", "k"],
            "--redis-key names a Redis key; it goes with --redis",
            id="key with a file",
        ),
        pytest.param(
            ["on", "--redis-key", "k"], "--redis-key needs --redis URL", id="key without redis"
        ),
        pytest.param(["--redis", "127.0.0.1:6379", "on"], "not a Redis URL", id="not a url"),
    ],
)
def test_target_mistakes(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv("MAINTENANCE_REDIS", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_redis_key_alone_uses_the_environment_url(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    free_port: Callable[[], int],
) -> None:
    monkeypatch.setenv("MAINTENANCE_REDIS", f"redis://127.0.0.1:{free_port()}/0")
    code, _, err = run(capsys, "status", "--redis-key", "site:flag")
    assert code == 1  # nothing listens there: a store error, named with the key
    assert err.startswith("maintenance: cannot read redis://127.0.0.1:")
    assert "key site:flag" in err


# -- usage mistakes and store errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["on", "--eta", "soon"], "eta: 'soon' is neither", id="bad eta"),
        pytest.param(["on", "--kind", "maybe"], "invalid choice: 'maybe'", id="bad kind"),
        pytest.param(["on", "--allow", "faq"], "allow: allow entry 'faq'", id="bad allow"),
        pytest.param(["on", "--reason", "x" * 5000], "invalid details: reason", id="long reason"),
        pytest.param(["on", "--eta", "1700000000"], "neither a duration", id="unix timestamp"),
        pytest.param(["on", "--eta", "0m"], "is zero", id="zero duration"),
        pytest.param(["on", "--eta", "2020-01-01T00:00Z"], "not in the future", id="past time"),
        pytest.param(["on", "--expires", "0m"], "is zero", id="zero expiry"),
        pytest.param(["on", "--secret", "short"], "secret: give at least 22", id="short secret"),
        pytest.param(["on", "--url", "https://x.example"], "add --secret", id="url alone"),
        pytest.param(["on", "--secret", "-q"], "--quiet would hide the secret", id="lost secret"),
        pytest.param(["on", "--url", "shop.example"], "not an http:// or https://", id="bad url"),
        pytest.param(["on", "--wait", "ftp://x"], "not an http:// or https:// URL", id="bad wait"),
        pytest.param(["on", "--timeout", "5"], "--timeout goes with --wait", id="timeout alone"),
        pytest.param(
            ["on", "--wait", "http://x", "--timeout", "0"], "not a number of seconds", id="t=0"
        ),
        pytest.param(["on", "--json", "--quiet"], "do not go together", id="json and quiet"),
        pytest.param(["status", "--check", "--json"], "--check prints nothing", id="check json"),
        pytest.param(["update", "   "], "the update is empty", id="blank update"),
        pytest.param(["update"], "required: text", id="no update text"),
        pytest.param(["launch"], "invalid choice: 'launch'", id="unknown command"),
        pytest.param([], "the following arguments are required: COMMAND", id="no command"),
        pytest.param(["demo", "--port", "99999"], "not a port number", id="bad port"),
        pytest.param(["status", "--wait", "http://x"], "unrecognized arguments", id="status wait"),
    ],
)
def test_usage_errors_are_one_line(
    flag_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "--file", str(flag_path), *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert len(err.splitlines()) == 1, err
    if argv[:1] == ["on"]:
        assert err.startswith("maintenance on: error: ")  # the verb's name, not the top level
    assert not flag_path.exists()


def test_update_when_off_is_refused(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--file", str(flag_path), "update", "hello")
    assert code == 2
    assert err.startswith("maintenance update: error: maintenance is not on")
    assert len(err.splitlines()) == 1
    assert not flag_path.exists()


def test_unwritable_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "maintenance.json"
    code, _, err = run(capsys, "--file", str(target), "on")
    assert code == 1
    assert err.startswith(f"maintenance: cannot lock {target}")
    assert len(err.strip().splitlines()) == 1


def test_schema_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert json.loads(out)["title"] == "MaintenanceState"
    assert json.loads(run(capsys, "schema", "--json")[1]) == json.loads(out)
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("maintenance ")


@pytest.mark.parametrize(
    "command", ["on", "off", "update", "schedule", "status", "schema", "demo", "preview"]
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert f"usage: maintenance {command}" in out


@pytest.mark.parametrize("command", ["on", "off", "update", "schedule"])
def test_every_writing_command_has_the_deploy_options(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(capsys, command, "--help")[1]
    for option in ("--json", "--quiet", "--wait URL", "--timeout SECONDS", "--file PATH"):
        assert option in out


def test_main_leaves_logging_alone(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    assert run(capsys, "--file", str(flag_path), "on")[0] == 0
    assert (list(root.handlers), root.level) == before


def test_demo_into_a_missing_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "maintenance.json"
    code, _, err = run(capsys, "demo", "--file", str(target), "--port", "0")
    assert code == 1
    assert err.strip() == f"maintenance demo: cannot write {target}: No such file or directory"


def test_demo_refuses_redis(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "demo", "--redis", "redis://127.0.0.1:1/0")
    assert code == 2
    assert "demo serves a flag file" in err


# -- deploy-grade output: --json, --quiet, status --check ----------------------------------


def test_json_on_every_verb(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = ["--file", str(flag_path)]
    steps: list[tuple[list[str], str, bool]] = [
        (["status", *f], "", False),
        (["on", *f, "--reason", "R"], "started", True),
        (["update", *f, "note"], "updated", True),
        (["schedule", *f, "--start", "3d", "--end", "1h"], "scheduled", True),
        (["schedule", *f, "--clear"], "cleared", True),
        (["off", *f], "ended", False),
        (["off", *f], "unchanged", False),
        (["off", *f, "--purge"], "purged", False),
    ]
    for argv, action, on in steps:
        code, out, err = run(capsys, *argv, "--json")
        assert (code, err) == (0, ""), argv
        doc = json.loads(out)
        assert doc.get("action", "") == action
        assert doc["on"] is on
        assert doc["target"] == str(flag_path)
        if action == "updated":
            assert [u["text"] for u in doc["state"]["updates"]] == ["note"]
            assert doc["warnings"] == []
        if action == "scheduled":
            assert doc["scheduled"]["start"] == doc["upcoming"][0]["start"]


def test_quiet_on_every_verb(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = ["--file", str(flag_path)]
    for argv in (
        ["on", *f, "--reason", "R", "--secret", "a-team-token-of-enough-length"],
        ["update", *f, "note"],
        ["schedule", *f, "--start", "2h", "--end", "1h"],  # short notice: no warning either
        ["schedule", *f, "--clear"],
        ["status", *f],
        ["off", *f],
        ["off", *f, "--purge"],
    ):
        assert run(capsys, *argv, "--quiet") == (0, "", ""), argv
        assert run(capsys, *argv[:1], "-q", *argv[1:])[0] == 0, argv
    code, out, err = run(capsys, "update", *f, "note", "-q")  # errors still speak
    assert (code, out) == (2, "")
    assert "maintenance is not on" in err


def test_status_check_answers_with_the_exit_code(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = ["--file", str(flag_path)]
    assert run(capsys, "status", "--check", *f) == (1, "", "")  # nothing there: off
    run(capsys, "on", *f)
    assert run(capsys, "status", "--check", *f) == (0, "", "")
    run(capsys, "off", *f)
    assert run(capsys, "status", "--check", *f) == (1, "", "")


def test_status_check_counts_a_window_in_force(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from maintenance_mode.state import Window

    start = datetime.now(UTC) - timedelta(minutes=5)
    window = Window(start=start, end=start + timedelta(hours=1))
    write_state_atomic(flag_path, MaintenanceState(windows=(window,)))
    assert run(capsys, "status", "--check", "--file", str(flag_path))[0] == 0
    later = Window(start=start + timedelta(days=3), end=start + timedelta(days=3, hours=1))
    write_state_atomic(flag_path, MaintenanceState(windows=(later,)))
    assert run(capsys, "status", "--check", "--file", str(flag_path))[0] == 1  # announced only


def test_status_check_is_2_on_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], free_port: Callable[[], int]
) -> None:
    code, out, err = run(capsys, "status", "--check", "--redis", f"redis://127.0.0.1:{free_port()}")
    assert (code, out) == (2, "")
    assert err.startswith("maintenance: cannot read redis://")
    assert run(capsys, "status", "--check", "--file", "")[0] == 2


# -- on --secret, --expires ----------------------------------------------------------------


def _bypass_url(out: str) -> str:
    (line,) = [line for line in out.splitlines() if "open " in line]
    return line.split("open ", 1)[1].split(" ", 1)[0]


def test_secret_is_made_printed_once_and_stored_as_a_hash(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "on", "--file", str(flag_path), "--secret")
    assert code == 0
    url = _bypass_url(out)
    assert url.startswith("/__maintenance__/")
    token = url.removeprefix("/__maintenance__/")
    assert len(token) >= 22
    stored = flag_path.read_text()
    assert token not in stored
    assert load_state(stored.encode()).bypass_sha256 == hashlib.sha256(token.encode()).hexdigest()
    out = run(capsys, "status", "--file", str(flag_path))[1]
    assert token not in out
    assert "a secret for this maintenance is set" in out


@pytest.mark.parametrize(
    ("extra", "origin"),
    [
        pytest.param(["--url", "https://shop.example.com/"], "https://shop.example.com", id="url"),
        pytest.param(["--url", "https://example.com/shop"], "https://example.com/shop", id="path"),
        pytest.param(
            ["--wait", "http://127.0.0.1:9/__maintenance__/status", "--timeout", "0.5"],
            "http://127.0.0.1:9",
            id="wait origin",
        ),
    ],
)
def test_secret_url_on_the_site(
    flag_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], origin: str
) -> None:
    token = "a-team-token-of-enough-length"
    argv = ["on", "--file", str(flag_path), "--secret", token, *extra]
    out = run(capsys, *argv)[1]
    assert _bypass_url(out) == f"{origin}/__maintenance__/{token}"
    flag_path.unlink()
    doc = json.loads(run(capsys, *argv, "--json")[1])
    assert (doc["secret"], doc["bypass_url"]) == (token, f"{origin}/__maintenance__/{token}")


def test_on_expires_echoes_the_time(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = datetime.now(UTC)
    code, out, _ = run(capsys, "--file", str(flag_path), "on", "--expires", "2h")
    assert code == 0
    expires = load_state(flag_path.read_bytes()).expires_at
    assert expires is not None
    assert timedelta(hours=1, minutes=59) < expires - before < timedelta(hours=2, minutes=1)
    # In UTC, with the local time before it when the machine's zone is another one.
    assert f"{expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in out.partition("  expires: ")[2]
    assert "(switches off by itself)" in out


# -- --wait, in process (the real servers are in test_cli_deploy.py) -----------------------


def test_wait_with_nothing_listening_fails_after_the_write(
    flag_path: Path, capsys: pytest.CaptureFixture[str], free_port: Callable[[], int]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    argv = ["on", "--file", str(flag_path), "--wait", url, "--timeout", "1", "-q"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith(
        f"maintenance on: the change is written, but {url}/__maintenance__/status did not "
        "serve the new state within 1s"
    )
    assert len(err.splitlines()) == 1
    assert control.status(flag_path).on  # written all the same


# -- over time: update, schedule -------------------------------------------------------------


def test_update_appends_without_a_gap(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--file", str(flag_path), "on", "--reason", "Disk swap")[0] == 0
    inode = flag_path.stat().st_ino
    code, out, _ = run(capsys, "--file", str(flag_path), "update", "Disks in", "--eta", "1h..2h")
    assert code == 0
    assert "Maintenance is ON (updated)" in out
    assert ": Disks in\n" in out
    state = load_state(flag_path.read_bytes())
    assert [u.text for u in state.updates] == ["Disks in"]
    assert isinstance(state.eta, ETARange)
    assert state.reason == "Disk swap"
    assert flag_path.stat().st_ino != inode  # replaced atomically, never missing


def test_schedule_a_window(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--file", str(flag_path), "schedule", "--start", "2030-06-01T10:00",
        "--end", "3h..5h", "--tz", "Europe/Paris", "--reason", "Payment switch",
        "--affected", "checkout", "--unaffected", "blog", "--announce", "72h", "--auto-end",
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    assert out.startswith(f"Window scheduled: {flag_path}\n")
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


def test_schedule_warns_of_short_notice_on_stderr(
    flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "schedule", "--file", str(flag_path), "--start", "3h", "--end", "1h"
    )
    assert code == 0
    assert out.startswith("Window scheduled")
    assert err.startswith("maintenance: warning: the window starts in 3 h 0 min")
    assert "less than 48 hours' notice" in err
    code, out, err = run(
        capsys, "schedule", "--file", str(flag_path), "--start", "3h", "--end", "1h", "--json"
    )
    assert "less than 48 hours' notice" in err
    assert "less than 48 hours' notice" in json.loads(out)["warnings"][0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--start", "2h"], "--start and --end are required", id="no end"),
        pytest.param(["--clear", "--start", "2h"], "it takes no --start", id="clear and start"),
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
    code, out, err = run(capsys, "--file", str(flag_path), "schedule", *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert err.startswith("maintenance schedule: error: ")
    assert len(err.splitlines()) == 1
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
    code, out, _ = run(capsys, "--file", str(flag_path), "off")
    assert code == 0
    assert "  1 upcoming window(s) kept" in out
    doc = load_state(flag_path.read_bytes())
    (window,) = doc.windows
    assert not evaluate(doc, datetime.now(UTC)).on
    later = evaluate(doc, window.start + timedelta(minutes=1))
    assert (later.on, later.phase) == (True, "active")
    assert later.state is not None
    assert later.state.reason == "later"
    assert later.state.updates == ()  # the earlier maintenance's timeline stays behind


# -- the static export (docs/proxies.md) --------------------------------------------------


def test_export_dir_follows_on_update_and_off(
    flag_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export"
    code, _, err = run(
        capsys, "--file", str(flag_path), "on", "--reason", "Disk swap", "--export", str(out)
    )
    assert (code, err) == (0, "")
    status = json.loads((out / "current" / "status.json").read_text())
    assert status["status"]["indicator"] == "maintenance"
    assert "Disk swap" in (out / "current" / "maintenance.en.html").read_text()
    assert (out / "maintenance.on").exists()

    run(capsys, "--file", str(flag_path), "update", "Halfway there", "--export", str(out))
    assert "Halfway there" in (out / "current" / "maintenance.txt").read_text()

    run(capsys, "--file", str(flag_path), "off", "--export", str(out))
    status = json.loads((out / "current" / "status.json").read_text())
    assert status["status"]["indicator"] == "none"  # a stale copy never shows a past outage
    assert not (out / "maintenance.on").exists()


def test_export_dir_from_the_environment(
    flag_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAINTENANCE_EXPORT_DIR", str(tmp_path / "env-export"))
    assert run(capsys, "--file", str(flag_path), "on", "-q")[0] == 0
    assert (tmp_path / "env-export" / "current" / "problem.json").exists()


def test_export_verb_writes_the_page_and_prints_a_proxy_snippet(
    flag_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from maintenance_mode import cli, export

    assert cli.PROXIES == export.PROXY_SERVERS
    out = tmp_path / "export"
    run(capsys, "--file", str(flag_path), "on", "--reason", "Moving racks")
    code, printed, _ = run(capsys, "--file", str(flag_path), "export", "--out", str(out))
    assert (code, printed) == (0, f"Exported the maintenance page to {out}\n")
    code, snippet, _ = run(
        capsys,
        "--file",
        str(flag_path),
        "export",
        "--out",
        str(out),
        "--proxy",
        "nginx",
        "--upstream",
        "127.0.0.1:9000",
    )
    assert code == 0
    assert "127.0.0.1:9000" in snippet
    assert str(out / "current") in snippet
    code, printed, _ = run(capsys, "--file", str(flag_path), "export", "--out", str(out), "--json")
    assert json.loads(printed)["on"] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(("--asset", "static"), "write PREFIX=DIR", id="asset without ="),
        pytest.param(("--options", "/nonexistent.json"), "cannot read a JSON object", id="options"),
        pytest.param(("--proxy", "iis"), "invalid choice", id="unknown proxy"),
    ],
)
def test_export_mistakes_are_one_line(
    flag_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    code, _, err = run(
        capsys, "--file", str(flag_path), "export", "--out", str(tmp_path / "o"), *extra
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err
