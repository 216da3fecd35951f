"""End to end: a real Flask app (tests/apps/flask_app.py) under ``gunicorn -w 4``, real HTTP.

Maintenance is toggled from outside while the server runs, with ``flask maintenance``
and the ``maintenance`` CLI, exactly as ops would; every worker must act on it within
the app's check_interval (0.5 s) plus one second, with no restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import Server, gunicorn_ready_config

pytestmark = pytest.mark.slow

APPS = Path(__file__).parent / "apps"
WORKERS = 4
CHECK_INTERVAL = 0.5  # as configured in flask_app.py
BOUND = CHECK_INTERVAL + 1.0
SECRET = "e2e-flask-secret-0123456789"  # flask_app.BYPASS_SECRET
REASON = "Upgrading the order database"


def run_cli(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *argv],
        env={**os.environ, **env},
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def workers(server: Server, http: httpx.Client, path: str = "/whoami") -> dict[str, set[str]]:
    """Worker PID → the bodies it answered, over fresh connections (one request each).

    Asks until every ready worker (``server.pids``) has answered, bounded by time: the
    kernel picks the accepting worker, so a fixed count of requests could miss one.
    """
    seen: dict[str, set[str]] = {}

    def ask() -> str:
        r = http.get(path)
        assert r.status_code == 200, r.text
        pid = r.headers["X-Worker-Pid"]
        seen.setdefault(pid, set()).add(r.text.strip())
        return pid

    server.reach_workers(server.pids, ask)
    return seen


def wait_until(deadline: float) -> None:
    time.sleep(max(0.0, deadline - time.monotonic()))


@pytest.fixture
def env(flag_path: Path) -> dict[str, str]:
    """What the server and the commands share: the flag file, and the app on the path."""
    return {"MAINTENANCE_FILE": str(flag_path), "PYTHONPATH": str(APPS)}


@pytest.fixture
def server(run_server: Callable[..., Server], env: dict[str, str], tmp_path: Path) -> Server:
    """gunicorn with every worker ready: each has loaded the app (its log line says so)."""
    config = gunicorn_ready_config(tmp_path)
    server = run_server(
        lambda port: [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(config),
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "flask_app:app",
        ],
        env=env,
        ready_path="/whoami",
    )
    server.ready_workers("gunicorn", WORKERS)
    return server


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    """Every request on a fresh connection, so that they spread over the workers."""
    with httpx.Client(base_url=server.base, headers={"Connection": "close"}, timeout=5) as client:
        yield client


def test_flask_under_gunicorn(
    server: Server, http: httpx.Client, env: dict[str, str], flag_path: Path
) -> None:
    # Off: the app answers, on every worker.
    seen = workers(server, http, "/")
    assert set(seen) == server.pids, seen
    assert all(bodies == {"the real shop"} for bodies in seen.values())

    # On, with `flask maintenance` while the server runs.
    out = run_cli(
        [
            "-m",
            "flask",
            "--app",
            "flask_app",
            "maintenance",
            "on",
            "--reason",
            REASON,
            "--eta",
            "1h",
        ],
        env,
    )
    toggled = time.monotonic()
    assert f"Maintenance is ON (started): {flag_path}" in out.stdout
    wait_until(toggled + BOUND)
    assert server.statuses("/", requests=40) == [503] * 40
    seen = workers(server, http)  # an exempt view: each worker's own view of the flag
    assert set(seen) == server.pids, seen
    assert all(bodies == {"on"} for bodies in seen.values()), seen

    # The page, the JSON for API clients, and HEAD over real HTTP.
    page = http.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    assert 3500 <= int(page.headers["Retry-After"]) <= 3900  # 1h, rounded up to 5 minutes
    assert REASON in page.text
    assert "E2E Shop" in page.text
    problem = http.get("/", headers={"Accept": "application/json"})
    assert problem.status_code == 503
    assert problem.headers["Content-Type"] == "application/problem+json"
    doc = json.loads(problem.content)
    assert (doc["status"], doc["detail"]) == (503, REASON)
    assert doc["retry_after"] == int(problem.headers["Retry-After"])
    head = http.head("/", headers={"Accept": "text/html"})
    assert head.status_code == 503
    assert head.content == b""
    assert head.headers["Content-Length"] == str(len(page.content))

    # A lite route, and the secret bypass by header and by the secret URL's cookie.
    lite = http.get("/lite")
    assert (lite.status_code, lite.text) == (200, "lite\n")
    real = http.get("/", headers={"X-Maintenance-Bypass": SECRET})
    assert (real.status_code, real.text) == (200, "the real shop\n")
    assert real.headers["Cache-Control"] == "private, no-store"
    with httpx.Client(base_url=server.base, timeout=5) as browser:
        redirect = browser.get(f"/__maintenance__/{SECRET}")
        assert redirect.status_code == 303
        assert redirect.headers["Location"] == "/"
        assert "HttpOnly" in redirect.headers["Set-Cookie"]
        real = browser.get("/")
        assert (real.status_code, real.text) == (200, "the real shop\n")
        assert real.headers["Cache-Control"] == "private, no-store"
    assert http.get("/").status_code == 503  # no cookie, no bypass

    # Off again, with the `maintenance` CLI on the same file.
    out = run_cli(["-m", "maintenance_mode", "off", "--file", str(flag_path)], env)
    toggled = time.monotonic()
    assert out.stdout.startswith("Maintenance is OFF: ended at ")
    wait_until(toggled + BOUND)
    assert server.statuses("/", requests=40) == [200] * 40
    seen = workers(server, http)
    assert set(seen) == server.pids, seen
    assert all(bodies == {"off"} for bodies in seen.values()), seen
