"""``manage.py maintenance``: a native Django command over maintenance_mode.control.

In-process through ``call_command`` (``stdout=``, ``CommandError`` and its
``returncode``), and as a real ``manage.py`` process (Django's own options, exit
codes); a Redis flag driven by the command while a Django app under gunicorn
serves from the same Redis.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_setup import APPS, PROJECT_ENV, serve_project, setup_django

DOCS = Path(__file__).resolve().parents[1] / "docs"
setup_django()

from django.conf import settings  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402
from django.test import override_settings  # noqa: E402

from conftest import RedisServer, Server  # noqa: E402

BASE = dict(settings.MAINTENANCE_MODE)
ANSI = "\x1b["


@pytest.fixture
def options(flag_path: Path) -> Iterator[dict[str, Any]]:
    """MAINTENANCE_MODE for this test with the flag in tmp (mutate to change the flag)."""
    values: dict[str, Any] = {**BASE, "flag": str(flag_path)}
    with override_settings(MAINTENANCE_MODE=values):
        yield values


def run(*argv: str, **kwargs: Any) -> tuple[str, str]:
    """``call_command("maintenance", ...)``: what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("maintenance", *argv, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def document(flag: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(flag.read_text())
    return data


# -- call_command ---------------------------------------------------------------------------


def test_call_command_writes_to_the_stdout_it_is_given(
    options: dict[str, Any], flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = run("on", reason="Upgrading the database", eta="1h..2h", kind="unplanned")
    assert out.startswith(f"Maintenance is ON (started): {flag_path}\n"), out
    assert "  reason:  Upgrading the database\n" in out
    assert err == ""
    assert document(flag_path)["reason"] == "Upgrading the database"
    assert document(flag_path)["kind"] == "unplanned"

    out, _ = run("update", "Tables migrated", eta="30m")
    assert out.startswith("Maintenance is ON (updated)")
    assert [u["text"] for u in document(flag_path)["updates"]] == ["Tables migrated"]

    out, _ = run("status")
    assert out.startswith(f"Maintenance is ON: {flag_path}")
    assert "Tables migrated" in out

    out, _ = run("off")
    assert out.startswith("Maintenance is OFF: ended at")
    assert document(flag_path)["ended_at"]
    out, _ = run("off")
    assert out.startswith("Maintenance was already OFF")
    out, _ = run("off", purge=True)  # removes the document that recorded the end
    assert not flag_path.exists()
    assert capsys.readouterr() == ("", "")  # nothing went to the process's own streams


def test_call_command_takes_command_line_arguments_too(
    options: dict[str, Any], flag_path: Path
) -> None:
    run("on", "--reason", "Deploying", "--eta", "2h", "--allow", "/status", "--allow", "/docs/")
    assert document(flag_path)["allow"] == ["/status", "/docs/"]
    run("on", "--message", "Orders are paused.")  # while on: only what is given changes
    doc = document(flag_path)
    assert (doc["reason"], doc["message"]) == ("Deploying", "Orders are paused.")


def test_json_quiet_and_verbosity_zero(options: dict[str, Any], flag_path: Path) -> None:
    out, _ = run("on", reason="JSON", json=True)
    printed = json.loads(out)
    assert (printed["action"], printed["on"], printed["target"]) == (
        "started",
        True,
        str(flag_path),
    )
    assert printed["state"]["reason"] == "JSON"
    assert json.loads(run("status", "--json")[0])["phase"] == "on"
    assert run("update", "Quiet note", quiet=True) == ("", "")
    assert run("update", "Silent note", verbosity=0) == ("", "")
    assert run("status", "-v", "0") == ("", "")
    assert len(document(flag_path)["updates"]) == 2
    assert json.loads(run("off", "--json")[0])["action"] == "ended"


def test_status_check_from_python(options: dict[str, Any]) -> None:
    with pytest.raises(CommandError) as off:
        run("status", check=True)
    assert off.value.returncode == 1
    run("on")
    assert run("status", "--check") == ("", "")
    options["flag"] = "env:MAINTENANCE_FOR_NOBODY"
    with pytest.raises(CommandError) as broken:
        run("status", check=True)
    assert broken.value.returncode == 2


def test_schedule_warns_on_short_notice_and_clears(
    options: dict[str, Any], flag_path: Path
) -> None:
    out, err = run(
        "schedule",
        start="1d",
        end="2h..3h",
        tz="Europe/Paris",
        reason="Moving the database",
        affected=["checkout"],
        unaffected=["blog"],
    )
    assert out.startswith("Window scheduled")
    assert "affected: checkout" in out
    assert err.startswith("Warning: the window starts in 24 h 0 min")
    assert document(flag_path)["windows"][0]["timezone"] == "Europe/Paris"
    _, err = run("schedule", "--start", "10d", "--end", "4h", "--announce", "7d", "--auto-end")
    assert err == ""  # ten days' notice: no warning
    assert len(document(flag_path)["windows"]) == 2
    out, _ = run("schedule", clear=True)
    assert out.startswith("Upcoming windows cleared")
    assert not flag_path.exists()  # it held only windows


def test_secret_prints_the_bypass_url_and_stores_only_a_hash(
    options: dict[str, Any], flag_path: Path
) -> None:
    options["bypass_path"] = "/let-me-in/"
    out, _ = run("on", "--secret")
    token = re.search(r"open /let-me-in/(\S+) on the site", out)
    assert token, out
    doc = flag_path.read_text()
    assert token[1] not in doc
    assert json.loads(doc)["bypass_sha256"] == hashlib.sha256(token[1].encode()).hexdigest()
    mine = "my-own-token-0123456789-abc"
    out, _ = run("on", secret=mine)
    assert f"/let-me-in/{mine}" in out
    assert document(flag_path)["bypass_sha256"] == hashlib.sha256(mine.encode()).hexdigest()


def test_url_gives_the_bypass_url_in_full(options: dict[str, Any]) -> None:
    """The same --url as the maintenance command: the full URL, in the text and the JSON."""
    options["bypass_path"] = "/let-me-in/"
    mine = "my-own-token-0123456789-abc"
    out, _ = run("on", "--secret", mine, "--url", "https://shop.example/")
    assert f"https://shop.example/let-me-in/{mine}" in out
    out, _ = run("on", "--secret", mine, "--url", "https://shop.example", "--json")
    assert json.loads(out)["bypass_url"] == f"https://shop.example/let-me-in/{mine}"


def test_wait_on_a_site_address_polls_its_status_path(
    options: dict[str, Any], free_port: Callable[[], int]
) -> None:
    """A bare site address means the project's status_path (nothing listens: the wait fails)."""
    options["status_path"] = "/ops/maintenance-status"
    site = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError) as raised:
        run("on", "--wait", site, "--timeout", "1", "--settle", "0.5")
    assert raised.value.returncode == 1
    assert f"{site}/ops/maintenance-status did not serve the new state" in str(raised.value)


def test_a_list_flag_drives_its_first_writable_entry(
    options: dict[str, Any], flag_path: Path
) -> None:
    options["flag"] = ["env:MAINTENANCE_FOR_NOBODY", lambda: False, str(flag_path)]
    run("on", reason="From the list")
    assert document(flag_path)["reason"] == "From the list"


def _invalid_flag() -> bool:
    return False


ERRORS = [
    pytest.param({}, ("on",), {"eta": "tomorrow"}, 2, "eta: 'tomorrow' is neither", id="eta kwarg"),
    pytest.param({}, ("on", "--eta", "tomorrow"), {}, 2, "argument --eta: 'tomorrow'", id="eta"),
    pytest.param({}, ("on", "--eta", "2020-01-01T00:00Z"), {}, 2, "not in the future", id="past"),
    pytest.param({}, ("on", "--kind", "bad"), {}, 2, "invalid choice", id="kind"),
    pytest.param({}, ("on", "--expires", "0m"), {}, 2, "argument --expires", id="expires"),
    pytest.param({}, ("on", "--secret", "short"), {}, 2, "secret: give at least 22", id="secret"),
    pytest.param({}, ("on",), {"allow": ["/*"]}, 2, "allow:", id="allow"),
    pytest.param({}, ("on",), {"reason": "x" * 4001}, 2, "at most 4000", id="too long"),
    pytest.param({}, ("update", "Still here"), {}, 2, "maintenance is not on", id="update off"),
    pytest.param({}, ("update", "  "), {}, 2, "the update is empty", id="empty update"),
    pytest.param({}, ("schedule", "--start", "1d"), {}, 2, "--start and --end", id="no end"),
    pytest.param(
        {}, ("schedule", "--clear", "--start", "1d"), {}, 2, "it takes no --start", id="clear+start"
    ),
    pytest.param(
        {}, ("schedule", "--start", "1d", "--end", "2h", "--tz", "Mars/Base"), {}, 2,
        "not an IANA time zone", id="tz",
    ),
    pytest.param({}, ("off", "--wait", "ftp://x"), {}, 2, "argument --wait", id="wait url"),
    pytest.param({}, ("off",), {"wait": "localhost:8000"}, 2, "not an http", id="wait kwarg"),
    pytest.param({}, ("off", "--timeout", "0"), {}, 2, "argument --timeout", id="timeout"),
    pytest.param({}, ("on", "--json", "-q"), {}, 2, "do not go together", id="json+quiet"),
    pytest.param({}, ("off", "--settle", "5"), {}, 2, "--settle goes with --wait", id="settle"),
    pytest.param({}, ("on", "--url", "https://shop.example"), {}, 2, "add --secret", id="url"),
    pytest.param({}, ("frobnicate",), {}, 1, "invalid choice: 'frobnicate'", id="unknown verb"),
    pytest.param(
        {"flag": "env:MAINTENANCE_SWITCH"}, ("on",), {}, 2,
        "settings.MAINTENANCE_MODE['flag']: the flag 'env:MAINTENANCE_SWITCH' is an environment "
        "variable, which no command can change in a running app",
        id="env flag",
    ),
    pytest.param(
        {"flag": _invalid_flag}, ("status",), {}, 2, "is read-only here", id="callable flag"
    ),
    pytest.param(
        {"flag": "/nonexistent-folder/maintenance.json"}, ("on",), {}, 1,
        "check the folder exists and is writable", id="no folder",
    ),
    pytest.param({"flg": "x"}, ("status",), {}, 2, "did you mean 'flag'", id="bad settings"),
]  # fmt: skip


@pytest.mark.parametrize(("settings_change", "argv", "kwargs", "code", "message"), ERRORS)
def test_bad_input_is_a_command_error(
    options: dict[str, Any],
    flag_path: Path,
    settings_change: dict[str, Any],
    argv: tuple[str, ...],
    kwargs: dict[str, Any],
    code: int,
    message: str,
) -> None:
    options.update(settings_change)
    with pytest.raises(CommandError) as raised:
        run(*argv, **kwargs)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)  # one line
    assert raised.value.returncode == code
    assert not flag_path.exists()  # nothing written


def test_settings_that_are_not_a_dict(flag_path: Path) -> None:
    with override_settings(MAINTENANCE_MODE=True), pytest.raises(CommandError) as raised:
        run("on")
    assert "looks like django-maintenance-mode's switch" in str(raised.value)
    assert raised.value.returncode == 2


def test_no_logging_configuration(options: dict[str, Any]) -> None:
    """The command never calls logging.basicConfig: the project's logging stays its own."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    run("on", reason="Logging")
    run("status")
    run("off")
    assert (list(root.handlers), root.level) == before


def _docs_examples() -> list[pytest.ParameterSet]:
    text = (DOCS / "django.md").read_text(encoding="utf-8")
    blocks = re.finditer(r"```python\n(.*?)```", text, re.S)
    return [
        pytest.param(block[1], id=f"django.md:{text[: block.start()].count(chr(10)) + 1}")
        for block in blocks
        if "call_command(" in block[1]
    ]


@pytest.mark.parametrize("code", _docs_examples())
def test_docs_call_command_examples_run(
    code: str, options: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(code, "<docs/django.md>", "exec"), {"__name__": "docs_example"})
    expected = [m[1] for m in re.finditer(r"#\s*prints?:?\s*(.+)$", code, re.M)]
    out = capsys.readouterr().out
    for line in expected:
        assert line.strip() in out, (line, out)


def test_docs_have_call_command_examples() -> None:
    assert len(_docs_examples()) >= 2


# -- manage.py, a real process -----------------------------------------------------------------


def manage_env(flag: Path | str, **extra: str) -> dict[str, str]:
    """This process's environment for ``manage.py`` on ``flag`` (no DJANGO_COLORS of ours)."""
    env = {**os.environ, **PROJECT_ENV, "TEST_DJANGO_FLAG": str(flag), **extra}
    env.pop("DJANGO_COLORS", None)
    return env


def manage(
    *argv: str, flag: Path | str, cwd: Path = APPS, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(APPS / "manage.py"), "maintenance", *argv],
        cwd=cwd,
        env=manage_env(flag, **(extra or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def on_a_terminal(*argv: str, flag: Path) -> str:
    """``manage.py maintenance ...`` with its stdout on a pseudo-terminal: what it printed."""
    import pty

    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, str(APPS / "manage.py"), "maintenance", *argv],
        cwd=APPS,
        env=manage_env(flag, TERM="xterm"),
        stdout=follower,
        stderr=subprocess.PIPE,
    ) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0
    os.close(leader)
    return b"".join(chunks).decode()


@pytest.mark.slow
def test_manage_py_takes_djangos_own_options(flag_path: Path, tmp_path: Path) -> None:
    quiet = manage("status", "--settings=django_project.settings", "-v", "0", flag=flag_path)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    before_verb = manage(
        "-v", "0", "--settings", "django_project.settings", "status", flag=flag_path
    )
    assert (before_verb.returncode, before_verb.stdout, before_verb.stderr) == (0, "", "")

    # On a terminal Django colours the output, unless --no-color; --force-color colours a pipe.
    assert manage("on", "--reason", "Colours", "--quiet", flag=flag_path).returncode == 0
    assert on_a_terminal("status", flag=flag_path).startswith(ANSI)
    plain = on_a_terminal("status", "--no-color", flag=flag_path)
    assert plain.startswith("Maintenance is ON: ")
    assert ANSI not in plain
    coloured = manage("status", "--force-color", flag=flag_path)
    assert coloured.returncode == 0, coloured.stderr
    assert coloured.stdout.startswith(ANSI)
    assert "Colours" in coloured.stdout
    both = manage("status", "--force-color", "--no-color", flag=flag_path)
    assert "can't be used together" in both.stderr

    # --pythonpath: a settings module found nowhere else, with a flag of its own.
    (tmp_path / "elsewhere").mkdir()
    other = tmp_path / "other.json"
    (tmp_path / "elsewhere" / "ops_settings.py").write_text(
        "from django_project.settings import *  # noqa: F403\n"
        f"MAINTENANCE_MODE = {{**MAINTENANCE_MODE, 'flag': {str(other)!r}}}  # noqa: F405\n"
    )
    moved = manage(
        "on",
        "--reason",
        "Elsewhere",
        "--settings=ops_settings",
        f"--pythonpath={tmp_path / 'elsewhere'}",
        flag=flag_path,
        cwd=tmp_path,
    )
    assert moved.returncode == 0, moved.stderr
    assert document(other)["reason"] == "Elsewhere"
    assert document(flag_path)["reason"] == "Colours"  # untouched

    helped = manage("on", "--help", flag=flag_path)
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: manage.py maintenance on")
    for option in ("--eta WHEN", "--secret [TOKEN]", "--wait URL", "--json", "--settings"):
        assert option in helped.stdout, option
    listed = subprocess.run(
        [sys.executable, str(APPS / "manage.py"), "help", "maintenance"],
        cwd=APPS,
        env={**os.environ, "PYTHONPATH": str(APPS)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    for verb in ("on", "update", "schedule", "off", "status"):
        assert re.search(rf"^    {verb} ", listed.stdout, re.M), verb
    assert "Exit codes: 0 done" in listed.stdout


@pytest.mark.slow
def test_manage_py_exit_codes(flag_path: Path, tmp_path: Path) -> None:
    def check(flag: Path | str = flag_path) -> tuple[int, str, str]:
        done = manage("status", "--check", flag=flag)
        return done.returncode, done.stdout, done.stderr

    assert check() == (1, "", "")  # off: nothing printed
    assert manage("on", "--quiet", flag=flag_path).returncode == 0
    assert check() == (0, "", "")
    assert check("env:MAINTENANCE_FOR_NOBODY") == (2, "", "")
    assert check("redis://127.0.0.1:1/0") == (2, "", "")  # unreachable: an error, not "off"

    usage = manage("on", "--eta", "later", flag=flag_path)
    assert usage.returncode == 2
    assert usage.stderr.startswith("usage: manage.py maintenance on")
    assert "argument --eta: 'later' is neither" in usage.stderr
    assert manage("off", "--quiet", flag=flag_path).returncode == 0

    refused = manage("update", "Still migrating", flag=flag_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("CommandError: maintenance is not on")
    assert refused.stderr.count("\n") == 1
    traced = manage("update", "Still migrating", "--traceback", flag=flag_path)
    assert traced.returncode != 0
    assert "Traceback" in traced.stderr
    assert "maintenance is not on" in traced.stderr

    failed = manage("on", flag=tmp_path / "missing" / "maintenance.json")
    assert failed.returncode == 1
    assert failed.stderr.startswith("CommandError: cannot lock")
    env_flag = manage("on", flag="env:MAINTENANCE_SWITCH")
    assert env_flag.returncode == 2
    assert "is an environment variable" in env_flag.stderr
    assert "Traceback" not in env_flag.stderr


# -- Redis: the command and a running app on the same key ---------------------------------------


@pytest.mark.slow
def test_command_drives_a_redis_flag_that_a_running_app_follows(
    redis_server: RedisServer, run_server: Callable[..., Server], tmp_path: Path
) -> None:
    url = redis_server.url
    env = {
        "TEST_DJANGO_FLAG": url,
        "MAINTENANCE_CHECK_INTERVAL": "0.5",
        "TEST_DJANGO_DB": str(tmp_path / "db.sqlite3"),
    }
    server = serve_project(run_server, env)
    assert set(server.statuses("/checkout", requests=10)) == {200}
    status_url = f"{server.base}/__maintenance__/status"

    # `on --wait` returns once the app serves the new state: every worker answers 503 at once.
    on = manage(
        "on", "--reason", "Replacing the database", "--eta", "1h",
        "--wait", status_url, "--timeout", "60", flag=url,
    )  # fmt: skip
    assert on.returncode == 0, on.stderr
    assert f"The app at {status_url} serves the new state." in on.stdout
    assert set(server.statuses("/checkout", requests=20)) == {503}
    assert "Replacing the database" in server.http.get(server.base + "/checkout").text
    stored = json.loads(redis_server.client().get("maintenance_mode:state") or b"{}")
    assert stored["reason"] == "Replacing the database"

    checked = manage("status", "--check", flag=url)
    assert (checked.returncode, checked.stdout) == (0, "")
    shown = json.loads(manage("status", "--json", flag=url).stdout)
    assert shown["on"] is True
    assert shown["target"].startswith("redis://127.0.0.1:")

    # call_command on the same Redis, from this process; then a list whose first entry is
    # read-only: the command drives the Redis entry.
    with override_settings(MAINTENANCE_MODE={**BASE, "flag": ["env:NOBODY", url]}):
        out, _ = run("update", "Data migrated; restarting", wait=status_url)
    assert "serves the new state" in out
    assert "Data migrated; restarting" in server.http.get(server.base + "/checkout").text

    off = manage("off", "--wait", status_url, flag=url)
    assert off.returncode == 0, off.stderr
    assert set(server.statuses("/checkout", requests=20)) == {200}
    assert server.http.get(server.base + "/checkout").text == "app:checkout"
    assert manage("status", "--check", flag=url).returncode == 1

    # A Redis that went away: a one-line failure (exit 1), and --check says "error".
    redis_server.stop()
    down = manage("on", flag=url)
    assert down.returncode == 1
    assert down.stderr.startswith("CommandError: cannot write redis://127.0.0.1:")
    assert down.stderr.count("\n") == 1
    assert manage("status", "--check", flag=url).returncode == 2


def test_wait_that_times_out_fails_with_exit_code_1(
    options: dict[str, Any], flag_path: Path, free_port: Callable[[], int]
) -> None:
    """The change is written; --wait then says the app never served it (nothing listens)."""
    url = f"http://127.0.0.1:{free_port()}/__maintenance__/status"
    with pytest.raises(CommandError) as raised:
        run("on", reason="Nobody listens", wait=url, timeout=1.0)
    assert raised.value.returncode == 1
    assert f"{url} did not serve the new state within 1s" in str(raised.value)
    assert document(flag_path)["reason"] == "Nobody listens"


def test_the_command_refreshes_the_static_export(options: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "export"
    options["export_dir"] = str(out)
    run("on", "--reason", "Django says")
    status = json.loads((out / "current" / "status.json").read_text())
    assert status["status"]["indicator"] == "maintenance"
    assert "Django says" in (out / "current" / "maintenance.txt").read_text()
    run("off")
    status = json.loads((out / "current" / "status.json").read_text())
    assert status["status"]["indicator"] == "none"


def test_a_secret_made_for_you_is_refused_when_nothing_would_show_it(
    options: dict[str, Any], flag_path: Path
) -> None:
    for quiet in (("--quiet",), ("-v", "0")):
        with pytest.raises(CommandError, match="would hide the secret") as caught:
            run("on", "--secret", *quiet)
        assert caught.value.returncode == 2
    assert not flag_path.exists()
    out, _ = run("on", "--secret", "-v", "0", "--json")  # --json shows it
    assert json.loads(out)["secret"]
