"""``flask maintenance``: the click group over maintenance_mode.control, on the app's own flag.

Real processes first: the venv's ``flask`` run on tests/apps/flask_app.py against a flag
file and a real redis-server, and a Flask app under gunicorn on the same Redis following
``flask maintenance on`` and ``off``. Then in process, through ``app.test_cli_runner()``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from flask import Flask

from conftest import RedisServer, Server
from maintenance_mode import MaintenanceState, load_state, write_state_atomic
from maintenance_mode.flask import MaintenanceMode
from maintenance_mode.state import Window

APPS = Path(__file__).parent / "apps"
FLASK = Path(sys.executable).with_name("flask")  # the venv's own `flask` script
REDIS_KEY = "maintenance_mode:state"
REASON = "Upgrading the order database"
CHECK_INTERVAL = 0.5  # flask_app.py's
STATUS_PATH = "/__maintenance__/status"


# -- real processes: the venv's `flask` on tests/apps/flask_app.py -------------------------


def app_env(**extra: str) -> dict[str, str]:
    """The environment of a command or server: no default flag leaks in from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAINTENANCE_", "FLASK_"))}
    return {**env, "PYTHONPATH": str(APPS), **extra}


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app flask_app maintenance ARGS``, as ops type it."""
    return subprocess.run(
        [str(FLASK), "--app", "flask_app", "maintenance", *args],
        env=env,
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
    return result.stdout


@pytest.fixture
def file_env(flag_path: Path) -> dict[str, str]:
    """flask_app.py's flag set in its config (Flask's prefixed variables) to a file."""
    return app_env(FLASK_MAINTENANCE_MODE__flag=str(flag_path))


@pytest.fixture
def redis_env(redis_server: RedisServer) -> dict[str, str]:
    """flask_app.py's flag set in its config to the real redis-server's URL."""
    return app_env(FLASK_MAINTENANCE_MODE__flag=redis_server.url)


def redis_state(redis_server: RedisServer) -> MaintenanceState | None:
    client = redis_server.client()
    try:
        data = client.get(REDIS_KEY)
    finally:
        client.close()
    return None if data is None else load_state(data)


@pytest.mark.parametrize("where", ["config", "MAINTENANCE_FILE"])
def test_on_status_off_on_a_flag_file(flag_path: Path, where: str) -> None:
    env = (
        app_env(FLASK_MAINTENANCE_MODE__flag=str(flag_path))
        if where == "config"
        else app_env(MAINTENANCE_FILE=str(flag_path))
    )
    out = ok(flask(env, "on", "--reason", REASON, "--eta", "1h..2h", "--kind", "unplanned"))
    assert out.startswith(f"Maintenance is ON (started): {flag_path}\n")
    assert f"  reason:  {REASON}\n" in out
    state = load_state(flag_path.read_bytes())
    assert (state.reason, state.kind) == (REASON, "unplanned")

    assert flask(env, "status", "--check").returncode == 0
    out = ok(flask(env, "status"))
    assert out.startswith(f"Maintenance is ON: {flag_path}\n")

    out = ok(flask(env, "off"))
    assert out.startswith("Maintenance is OFF: ended at ")
    assert load_state(flag_path.read_bytes()).ended_at is not None
    check = flask(env, "status", "--check")
    assert (check.returncode, check.stdout, check.stderr) == (1, "", "")


def test_on_update_off_on_a_redis_flag(
    redis_server: RedisServer, redis_env: dict[str, str]
) -> None:
    out = ok(flask(redis_env, "on", "--reason", REASON, "--eta", "2h"))
    assert out.startswith(f"Maintenance is ON (started): {redis_server.url} key {REDIS_KEY}\n")
    state = redis_state(redis_server)
    assert state is not None
    assert state.reason == REASON

    ok(flask(redis_env, "update", "Data migrated; restarting"))
    state = redis_state(redis_server)
    assert state is not None
    assert [u.text for u in state.updates] == ["Data migrated; restarting"]

    status = json.loads(ok(flask(redis_env, "status", "--json")))
    assert (status["on"], status["phase"]) == (True, "on")
    assert status["target"] == f"{redis_server.url} key {REDIS_KEY}"
    assert status["state"]["reason"] == REASON
    assert flask(redis_env, "status", "--check").returncode == 0

    change = json.loads(ok(flask(redis_env, "off", "--json")))
    assert (change["action"], change["on"]) == ("ended", False)
    assert flask(redis_env, "status", "--check").returncode == 1
    ok(flask(redis_env, "off", "--purge", "--quiet"))
    assert redis_state(redis_server) is None


def test_status_check_exit_codes(redis_server: RedisServer, redis_env: dict[str, str]) -> None:
    def check() -> tuple[int, str, str]:
        result = flask(redis_env, "status", "--check")
        return result.returncode, result.stdout, result.stderr

    assert check() == (1, "", "")  # nothing in Redis: off
    ok(flask(redis_env, "schedule", "--start", "3d", "--end", "2h", "--quiet"))
    assert check() == (1, "", "")  # a window ahead is not maintenance yet
    ok(flask(redis_env, "on", "--quiet"))
    assert check() == (0, "", "")
    redis_server.stop()
    assert check() == (2, "", "")  # the flag cannot be read: an error, silently


def test_json_output_parses(file_env: dict[str, str]) -> None:
    change = json.loads(ok(flask(file_env, "on", "--reason", REASON, "--secret", "--json")))
    assert (change["action"], change["on"], change["phase"]) == ("started", True, "on")
    assert change["state"]["reason"] == REASON
    assert len(change["secret"]) >= 22
    assert change["state"]["bypass_sha256"] != change["secret"]  # only the hash is stored
    update = json.loads(ok(flask(file_env, "update", "Halfway", "--eta", "1h", "--json")))
    assert update["action"] == "updated"
    assert [u["text"] for u in update["state"]["updates"]] == ["Halfway"]
    scheduled = json.loads(
        ok(flask(file_env, "schedule", "--start", "3d", "--end", "2h..4h", "--json"))
    )
    assert scheduled["action"] == "scheduled"
    assert scheduled["scheduled"]["timezone"] == "UTC"
    status = json.loads(ok(flask(file_env, "status", "--json")))
    assert status["on"] is True
    assert len(status["upcoming"]) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("on", "--eta", "tomorrow"), "'tomorrow' is neither a duration", id="eta"),
        pytest.param(
            ("on", "--eta", "2026-11-27T14:00"), "'2026-11-27T14:00' has no time zone", id="naive"
        ),
        pytest.param(("on", "--allow", "faq"), "allow entry 'faq' must be a path", id="allow"),
        pytest.param(("on", "--kind", "maybe"), "'maybe' is not one of", id="kind"),
        pytest.param(("on", "--secret", "short"), "at least 22 characters", id="secret"),
        pytest.param(("on", "--expires", "soon"), "expires:", id="expires"),
        pytest.param(("on", "--wait", "127.0.0.1:8000"), "is not an http://", id="wait URL"),
        pytest.param(("on", "--timeout", "0"), "'--timeout'", id="timeout"),
        pytest.param(("on", "--reasn", "x"), "--reasn", id="typo"),
        pytest.param(("restart",), "No such command 'restart'", id="verb"),
        pytest.param(("update",), "Missing argument 'TEXT'", id="no text"),
        pytest.param(("update", "x"), "maintenance is not on", id="update while off"),
        pytest.param(("schedule", "--start", "3d"), "--start and --end are required", id="end"),
        pytest.param(
            ("schedule", "--start", "3d", "--end", "2h", "--tz", "Mars/Base"),
            "'Mars/Base' is not an IANA time zone",
            id="tz",
        ),
        pytest.param(
            ("schedule", "--start", "2020-01-01T10:00", "--end", "2h"),
            "is not in the future",
            id="past",
        ),
        pytest.param(
            ("schedule", "--clear", "--start", "3d"), "it takes no --start or --end", id="clear"
        ),
        pytest.param(("on", "--json", "--quiet"), "do not go together", id="json quiet"),
        pytest.param(("status", "--check", "--json"), "--check prints nothing", id="check json"),
        pytest.param(("off", "--timeout", "5"), "--timeout goes with --wait URL", id="no wait"),
        pytest.param(("on", "--url", "https://shop.example"), "add --secret", id="url"),
        pytest.param(("on", "--file", "x.json"), "takes no --file", id="--file"),
        pytest.param(("schema",), "run 'maintenance schema'", id="schema"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    file_env: dict[str, str], flag_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = flask(file_env, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert not flag_path.exists()  # nothing written


def test_store_failure_is_one_line_and_exit_1(redis_server: RedisServer) -> None:
    redis_env = app_env(FLASK_MAINTENANCE_MODE__flag=redis_server.url)
    redis_server.stop()
    result = flask(redis_env, "on", "--reason", REASON)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: cannot write {redis_server.url} key {REDIS_KEY}: ")
    assert len(result.stderr.splitlines()) == 1

    missing = app_env(FLASK_MAINTENANCE_MODE__flag="/nonexistent/dir/maintenance.json")
    result = flask(missing, "on")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot lock /nonexistent/dir/maintenance.json: ")
    assert len(result.stderr.splitlines()) == 1


def test_help_lists_every_verb(file_env: dict[str, str], flag_path: Path) -> None:
    out = ok(flask(file_env, "--help"))
    assert out.startswith("Usage: flask maintenance [OPTIONS] COMMAND [ARGS]...")
    commands = out.split("Commands:\n")[1]
    for verb in ("on", "off", "update", "schedule", "status"):
        assert f"\n  {verb} " in "\n" + commands
    assert f"This app's flag:\n  file {flag_path}" in out
    assert ok(flask(file_env, "-h")) == out
    assert "maintenance  Switch maintenance mode on and off." in ok(
        subprocess.run(
            [str(FLASK), "--app", "flask_app", "--help"],
            env=file_env,
            cwd=APPS,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    )


# -- a Flask app under gunicorn on the same Redis -----------------------------------------


@pytest.mark.slow
def test_a_running_app_follows_the_command_on_redis(
    run_server: Callable[..., Server], redis_server: RedisServer, redis_env: dict[str, str]
) -> None:
    server = run_server(
        lambda port: [
            *(sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"),
            "flask_app:app",
        ],
        env=redis_env,
        ready_path="/whoami",
    )
    assert server.statuses("/", requests=10) == [200] * 10

    ok(flask(redis_env, "on", "--reason", REASON, "--eta", "1h"))
    first = server.wait_for("/", 503, timeout=30)
    assert first.status_code == 503
    assert REASON in first.text
    time.sleep(CHECK_INTERVAL + 1.0)  # every worker has re-read the flag by now
    assert server.statuses("/", requests=20) == [503] * 20

    # --wait returns once the app's status document serves the new state on every worker
    # (a bare site address means the app's own status_path).
    out = ok(flask(redis_env, "off", "--wait", server.base, "--timeout", "60"))
    assert out.splitlines()[-1] == f"The app at {server.base}{STATUS_PATH} serves the new state."
    assert server.statuses("/", requests=20) == [200] * 20
    page = httpx.get(server.base + "/", timeout=5)
    assert (page.status_code, page.text) == (200, "the real shop\n")


# -- in process: app.test_cli_runner() ------------------------------------------------------


def make_app(flag: Any, **config: Any) -> Flask:
    app = Flask("shop")
    app.config["MAINTENANCE_MODE"] = {"flag": flag, **config}

    @app.get("/")
    def index() -> str:
        return "the shop"

    MaintenanceMode(app)
    return app


def invoke(app: Flask, *args: str) -> Result:
    result: Result = app.test_cli_runner().invoke(args=["maintenance", *args])
    assert "Traceback" not in result.output
    return result


def test_the_app_serves_what_the_command_wrote(flag_path: Path) -> None:
    app = make_app(str(flag_path))
    client = app.test_client()
    assert client.get("/").status_code == 200
    result = invoke(app, "on", "--reason", REASON, "--eta", "2h")
    assert result.exit_code == 0, result.output
    app.extensions["maintenance_mode"].invalidate()
    page = client.get("/")
    assert page.status_code == 503
    assert REASON in page.text
    assert invoke(app, "off").exit_code == 0
    app.extensions["maintenance_mode"].invalidate()
    assert client.get("/").text == "the shop"


def test_on_secret_prints_a_bypass_url_the_app_honours(flag_path: Path) -> None:
    app = make_app(str(flag_path), bypass_path="/let-me-in/", bypass_cookie_secure=False)
    token = "a-token-for-this-maintenance-0123"
    result = invoke(app, "on", "--secret", token)
    assert result.exit_code == 0, result.output
    assert f"  bypass URL: open /let-me-in/{token} on the site" in result.stdout
    assert token not in flag_path.read_text()  # only its hash is stored

    result = invoke(app, "on", "--secret")  # a new token, made for this maintenance
    made = result.stdout.split("open /let-me-in/")[1].split()[0]
    assert len(made) >= 22
    assert made != token
    app.extensions["maintenance_mode"].invalidate()
    client = app.test_client()
    assert client.get("/").status_code == 503
    assert client.get(f"/let-me-in/{token}").status_code == 503  # the old token is gone
    redirect = client.get(f"/let-me-in/{made}")
    assert redirect.status_code == 303
    assert client.get("/").text == "the shop"  # the cookie bypasses


def test_json_bypass_url_from_url_or_wait(flag_path: Path, free_port: Callable[[], int]) -> None:
    app = make_app(str(flag_path))
    token = "a-token-for-this-maintenance-0123"
    result = invoke(app, "on", "--secret", token, "--url", "https://shop.example/", "--json")
    assert result.exit_code == 0, result.output
    change = json.loads(result.stdout)
    assert change["bypass_url"] == f"https://shop.example/__maintenance__/{token}"

    # Nothing serves --wait's address: the change is made, the wait fails with exit code 1.
    site = f"http://127.0.0.1:{free_port()}"
    result = invoke(app, "on", "--secret", "--wait", site, "--timeout", "1", "--json")
    assert result.exit_code == 1
    made = json.loads(result.stdout)["bypass_url"]
    assert made.startswith(f"{site}/__maintenance__/")
    assert result.stderr.startswith(
        f"Error: the change is written, but {site}{STATUS_PATH} did not serve the new state"
    )
    assert len(result.stderr.splitlines()) == 1


def test_wait_needs_a_status_document(flag_path: Path) -> None:
    app = make_app(str(flag_path), status_path=None)
    result = invoke(app, "on", "--wait", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "this app serves no status document" in result.stderr
    assert not flag_path.exists()


def test_update_schedule_clear_and_purge(flag_path: Path) -> None:
    app = make_app(str(flag_path))
    assert invoke(app, "on", "--allow", "/faq", "--expires", "6h").exit_code == 0
    result = invoke(app, "update", "Database migrated", "--eta", "30m..1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Maintenance is ON (updated): {flag_path}\n")
    assert "update:  " in result.stdout
    assert "Database migrated" in result.stdout
    state = load_state(flag_path.read_bytes())
    assert state.allow == ("/faq",)
    assert state.expires_at is not None

    result = invoke(
        app,
        *("schedule", "--start", "1d", "--end", "3h..5h", "--tz", "Europe/Paris"),
        *("--reason", "Moving payments", "--affected", "checkout", "--unaffected", "blog"),
        *("--announce", "72h", "--kind", "planned", "--auto-end"),
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Window scheduled: {flag_path}\n")
    assert "less than 48 hours' notice" in result.stderr  # a warning, on stderr
    window = load_state(flag_path.read_bytes()).windows[0]
    assert (window.timezone, window.affected, window.unaffected) == (
        "Europe/Paris",
        ("checkout",),
        ("blog",),
    )
    assert window.auto_end
    assert window.announce_from == window.start - timedelta(hours=72)

    result = invoke(  # --lang translates the window at --start, like the other shells
        app,
        *("schedule", "--start", str(window.start.isoformat()), "--lang", "fr-fr"),
        *("--reason", "Migration des paiements", "--affected", "paiement"),
    )
    assert result.exit_code == 0, result.output
    french = load_state(flag_path.read_bytes()).windows[0].translations["fr_FR"]
    assert (french.reason, french.affected) == ("Migration des paiements", ("paiement",))
    result = invoke(app, "schedule", "--lang", "fr", "--reason", "Migration")
    assert result.exit_code == 2
    assert "--lang translates the window at --start: give its --start" in result.stderr

    result = invoke(app, "schedule", "--clear")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Upcoming windows cleared: {flag_path}")
    assert load_state(flag_path.read_bytes()).windows == ()

    result = invoke(app, "off", "--purge")
    assert result.stdout.startswith(f"Maintenance is OFF: removed {flag_path}")
    assert not flag_path.exists()
    result = invoke(app, "off")
    assert (result.exit_code, result.stdout) == (0, f"Maintenance was already OFF: {flag_path}\n")


def test_quiet_prints_nothing(flag_path: Path) -> None:
    app = make_app(str(flag_path))
    for args in (
        ("on", "--reason", REASON, "--secret", "a-long-enough-token-of-our-own-42", "--quiet"),
        ("update", "note", "--quiet"),
        ("schedule", "--start", "3d", "--end", "2h", "--quiet"),
        ("status", "--quiet"),
        ("off", "--quiet"),
    ):
        result = invoke(app, *args)
        assert (result.exit_code, result.stdout, result.stderr) == (0, "", ""), args
    assert load_state(flag_path.read_bytes()).ended_at is not None


def test_a_started_window_counts_as_on(flag_path: Path) -> None:
    now = datetime.now(UTC)
    window = Window(start=now - timedelta(hours=1), end=now + timedelta(hours=1), reason="Moving")
    write_state_atomic(flag_path, MaintenanceState(windows=(window,)))
    app = make_app(str(flag_path))
    assert invoke(app, "status", "--check").exit_code == 0
    result = invoke(app, "status")
    assert result.stdout.startswith(
        f"Maintenance is ON (a planned window has started): {flag_path}"
    )


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        pytest.param("env:SHOP_MAINTENANCE", "'env:SHOP_MAINTENANCE' is an environment", id="env"),
        pytest.param(lambda: False, "is read-only here", id="callable"),
        pytest.param(["env:SHOP_MAINTENANCE", lambda: False], "no writable flag", id="list"),
    ],
)
def test_a_flag_no_command_can_change_is_refused(
    flag: object, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_MAINTENANCE", raising=False)
    app = make_app(flag)
    for args in (("on", "--reason", "X"), ("off",), ("update", "x"), ("status",)):
        result = invoke(app, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("Error: ")
        assert message in lines[0]
    result = invoke(app, "status", "--check")
    assert (result.exit_code, result.output) == (2, "")
    assert invoke(app, "--help").exit_code == 0


def test_a_list_writes_its_first_writable_flag(flag_path: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.json"
    app = make_app(["env:SHOP_MAINTENANCE", str(flag_path), str(second)])
    assert invoke(app, "on", "--reason", REASON).exit_code == 0
    assert load_state(flag_path.read_bytes()).reason == REASON
    assert not second.exists()


def test_each_app_uses_its_own_flag(tmp_path: Path) -> None:
    """One extension object, two apps (an app factory): each command writes its app's flag."""
    ext = MaintenanceMode()
    apps = []
    for name in ("a", "b"):
        app = Flask(name)
        app.config["MAINTENANCE_MODE"] = {"flag": str(tmp_path / f"{name}.json")}
        ext.init_app(app)
        apps.append(app)
    assert invoke(apps[1], "on").exit_code == 0
    assert (tmp_path / "b.json").exists()
    assert not (tmp_path / "a.json").exists()


@pytest.mark.parametrize("verb", ["on", "off", "update", "schedule", "status"])
def test_every_verb_has_help(flag_path: Path, verb: str) -> None:
    result = invoke(make_app(str(flag_path)), verb, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert f" maintenance {verb} [OPTIONS]" in result.stdout.splitlines()[0]
    for flag in ("--json", "--quiet"):
        assert flag in result.stdout
    assert ("--wait URL" in result.stdout) == (verb != "status")
    assert not flag_path.exists()


def test_no_logging_configuration(flag_path: Path) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    app = make_app(str(flag_path))
    for args in (("on",), ("status",), ("on", "--eta", "bad"), ("off",)):
        invoke(app, *args)
    assert (root.handlers, root.level) == (handlers, level)
