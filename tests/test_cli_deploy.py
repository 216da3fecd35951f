"""The ``maintenance`` command as deploy scripts run it: real processes, real servers.

Concurrent writers (``update`` and ``off`` racing, on a flag file and on a real
redis-server), ``status --check`` exit codes, ``--json`` and ``--quiet`` through the
console script, and ``--wait`` against ``gunicorn -w 2`` serving the WSGI middleware.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RedisServer, Server
from maintenance_mode import control

APPS = Path(__file__).parent / "apps"
#: The installed console script, beside the interpreter running the tests.
CONSOLE = str(Path(sys.executable).with_name("maintenance"))
MODULE = [sys.executable, "-m", "maintenance_mode"]


def cli(*argv: str, script: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``maintenance ARGV`` in a new process; its exit code and output."""
    command = [CONSOLE] if script else MODULE
    return subprocess.run(
        [*command, *argv], capture_output=True, text=True, timeout=timeout, check=False
    )


def spawn(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MODULE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


# -- writers racing ----------------------------------------------------------------------


@pytest.fixture(params=["file", "redis"])
def target(request: pytest.FixtureRequest, flag_path: Path) -> list[str]:
    """The CLI arguments naming a flag file, or a key on a real redis-server."""
    if request.param == "file":
        return ["--file", str(flag_path)]
    server: RedisServer = request.getfixturevalue("redis_server")
    return ["--redis", server.url]


def _store(target: list[str]) -> control.Store:
    option, value = target
    return control.FileStore(value) if option == "--file" else control.RedisStore(value)


def test_twenty_parallel_updates_keep_twenty_messages(target: list[str]) -> None:
    assert cli("on", *target, "--reason", "Parallel", "-q").returncode == 0
    procs = [spawn("update", *target, f"note {n}", "-q") for n in range(20)]
    results = [finish(proc) for proc in procs]
    assert [code for code, _, _ in results] == [0] * 20, results
    state = control.status(_store(target)).state
    assert state is not None
    assert sorted(u.text for u in state.updates) == sorted(f"note {n}" for n in range(20))


def test_off_racing_with_updates_always_ends_off(target: list[str]) -> None:
    where = _store(target)
    refused = 0
    trials = 20 if target[0] == "--file" else 10
    for trial in range(trials):
        control.on(where, reason=f"Trial {trial}")
        procs = [spawn("update", *target, f"{trial}/{n}", "-q") for n in range(2)]
        off = spawn("off", *target, "-q")
        procs += [spawn("update", *target, f"{trial}/{n}", "-q") for n in range(2, 4)]
        off_code, _, off_err = finish(off)
        results = [finish(proc) for proc in procs]
        assert (off_code, off_err) == (0, "")
        found = control.status(where)
        assert not found.on, f"trial {trial}: an update turned maintenance back on"
        kept = [u.text for u in (found.document.updates if found.document else ())]
        for n, (code, _, err) in enumerate(results):
            if code == 0:  # it ran before off: its note is in the ended document
                assert f"{trial}/{n}" in kept, (trial, n, kept)
            else:  # it ran after off: refused, never written
                refused += 1
                assert code == 2, err
                assert "maintenance is not on" in err
                assert len(err.splitlines()) == 1
                assert f"{trial}/{n}" not in kept
        control.off(where, purge=True)
    # Over the trials, some updates lost the race: the test did race them.
    assert 0 < refused < trials * 4


# -- exit codes and output, through the console script -------------------------------------


def test_status_check_exit_codes(flag_path: Path, free_port: Callable[[], int]) -> None:
    f = ["--file", str(flag_path)]
    off = cli("status", "--check", *f, script=True)
    assert (off.returncode, off.stdout, off.stderr) == (1, "", "")
    assert cli("on", *f, "-q", script=True).returncode == 0
    on = cli("status", "--check", *f, script=True)
    assert (on.returncode, on.stdout, on.stderr) == (0, "", "")
    bad = cli("status", "--check", "--redis", f"redis://127.0.0.1:{free_port()}/0", script=True)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("maintenance: cannot read redis://")
    assert "Traceback" not in bad.stderr
    assert cli("off", *f, "-q", script=True).returncode == 0
    assert cli("status", "--check", *f, script=True).returncode == 1


def test_json_parses_on_every_verb(target: list[str]) -> None:
    for argv in (
        ["status"],
        ["on", "--reason", "JSON", "--secret"],
        ["update", "a note"],
        ["schedule", "--start", "3d", "--end", "2h"],
        ["schedule", "--clear"],
        ["off"],
        ["off", "--purge"],
        ["status"],
    ):
        done = cli(*argv, *target, "--json", script=True)
        assert (done.returncode, done.stderr) == (0, ""), (argv, done.stderr)
        doc = json.loads(done.stdout)
        assert isinstance(doc["on"], bool)
        assert doc["target"].startswith(target[1])
    assert json.loads(cli("schema", script=True).stdout)["title"] == "MaintenanceState"


def test_quiet_prints_nothing(flag_path: Path) -> None:
    f = ["--file", str(flag_path)]
    for argv in (
        ["on", "--reason", "Quiet", "--secret=-a-team-token-of-enough-length", "--expires", "2h"],
        ["update", "a note"],
        ["schedule", "--start", "2h", "--end", "1h"],
        ["status"],
        ["off"],
    ):
        done = cli(*argv, *f, "--quiet", script=True)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), argv
    failed = cli("update", "late", *f, "--quiet", script=True)
    assert (failed.returncode, failed.stdout) == (2, "")
    assert failed.stderr.startswith("maintenance update: error: maintenance is not on")


def test_usage_mistake_in_a_real_process_is_one_line(flag_path: Path) -> None:
    done = cli("on", "--file", str(flag_path), "--eta", "soon", script=True)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("maintenance on: error: argument --eta: 'soon' is neither")
    assert len(done.stderr.splitlines()) == 1
    assert not flag_path.exists()


# -- --wait against a real server with two workers ---------------------------------------------


@pytest.fixture
def gunicorn_two_workers(
    run_server: Callable[..., Server], flag_path: Path
) -> Callable[[Path], Server]:
    """``gunicorn -w 2`` serving tests/apps/wait_app.py on a given flag file."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))

    def start(flag: Path) -> Server:
        return run_server(
            lambda port: [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "wait_app:app"],
            env={"MAINTENANCE_FILE": str(flag), "MAINTENANCE_REDIS": ""},
            cwd=APPS,
        )

    return start


def _every_worker(
    server: Server, path: str = "/", client: httpx.Client | None = None
) -> list[httpx.Response]:
    """Fresh-connection requests until both workers have answered (at most 400), then 40 more."""
    http = client or server.http
    answers: list[httpx.Response] = []

    def pids() -> set[str]:
        return {r.headers["X-Worker-Pid"] for r in answers}

    while len(pids()) < 2 and len(answers) < 400:
        answers.append(http.get(server.base + path, headers={"Connection": "close"}))
    assert len(pids()) == 2, "only one worker answered"
    more = [http.get(server.base + path, headers={"Connection": "close"}) for _ in range(40)]
    return [*answers, *more]


def test_wait_returns_once_both_workers_serve_the_new_state(
    gunicorn_two_workers: Callable[[Path], Server], flag_path: Path
) -> None:
    server = gunicorn_two_workers(flag_path)
    assert {r.status_code for r in _every_worker(server)} == {200}  # both workers saw "off"
    f = ["--file", str(flag_path)]

    began = time.monotonic()
    done = cli("on", *f, "--reason", "Deploying", "--wait", server.base, script=True)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began >= 2  # the settle period: no worker can still hold "off"
    assert done.stdout.endswith(
        f"The app at {server.base}/__maintenance__/status serves the new state.\n"
    )
    assert {r.status_code for r in _every_worker(server)} == {503}

    done = cli("update", "Migrated", *f, "--wait", server.base + "/__maintenance__/status", "-q")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    for answer in _every_worker(server, "/__maintenance__/status"):
        document: dict[str, list[dict[str, Any]]] = answer.json()
        (running,) = [*document["incidents"], *document["scheduled_maintenances"]]
        assert [u["body"] for u in running["incident_updates"]] == ["Migrated"]

    done = cli("off", *f, "--wait", server.base, "--json", script=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["action"] == "ended"
    assert {r.status_code for r in _every_worker(server)} == {200}


def test_secret_from_on_opens_the_site_on_every_worker(
    gunicorn_two_workers: Callable[[Path], Server], flag_path: Path
) -> None:
    server = gunicorn_two_workers(flag_path)
    done = cli("on", "--file", str(flag_path), "--secret", "--wait", server.base, "--json")
    assert done.returncode == 0, done.stderr
    url = json.loads(done.stdout)["bypass_url"]
    assert url.startswith(f"{server.base}/__maintenance__/")
    opened = httpx.get(url, follow_redirects=False)
    assert opened.status_code in (302, 303, 307)
    ((name, value),) = opened.cookies.items()  # Secure: sent by hand over plain HTTP
    with httpx.Client(headers={"Cookie": f"{name}={value}"}) as team:
        assert {r.status_code for r in _every_worker(server, client=team)} == {200}
    assert {r.status_code for r in _every_worker(server)} == {503}  # without it: the page


def test_wait_times_out_cleanly_when_the_app_never_switches(
    gunicorn_two_workers: Callable[[Path], Server], tmp_path: Path, flag_path: Path
) -> None:
    server = gunicorn_two_workers(tmp_path / "another-flag.json")
    began = time.monotonic()
    argv = ["on", "--file", str(flag_path), "--wait", server.base, "--timeout", "3"]
    done = cli(*argv, script=True)
    took = time.monotonic() - began
    assert done.returncode == 1
    assert done.stdout.startswith("Maintenance is ON (started)")  # the write itself succeeded
    assert done.stderr == (
        f"maintenance on: the change is written, but {server.base}/__maintenance__/status did "
        "not serve the new state within 3s (it still serves the old state); is the app running "
        "and does it read the same flag?\n"
    )
    assert 3 <= took < 60
    assert control.status(flag_path).on
