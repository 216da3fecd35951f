"""Django end to end: gunicorn (WSGI, 4 workers) and uvicorn (ASGI, 2 workers), real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from conftest import Server, gunicorn_ready_config

pytestmark = pytest.mark.slow

APPS = Path(__file__).resolve().parent / "apps"
SECRET = "django-test-secret-0123456789"
INTERVAL = 0.5  # MAINTENANCE_CHECK_INTERVAL given to the servers
BOUND = INTERVAL + 1.0  # every worker must have converged by then


def env_for(flag: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "MAINTENANCE_FILE": str(flag),
        "MAINTENANCE_CHECK_INTERVAL": str(INTERVAL),
        "PYTHONPATH": str(APPS),
        "DJANGO_SETTINGS_MODULE": "django_project.settings",
        "TEST_DJANGO_DB": str(tmp_path / "db.sqlite3"),
        **extra,
    }


def manage(env: dict[str, str], *argv: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "maintenance", *argv],
        cwd=APPS,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


SERVERS = {
    "gunicorn-wsgi-4": (
        "gunicorn",
        4,
        lambda port, config: [
            sys.executable, "-m", "gunicorn", "-c", str(config), "-w", "4",
            "-b", f"127.0.0.1:{port}", "django_project.wsgi:application",
        ],
    ),
    "uvicorn-asgi-2": (
        "uvicorn",
        2,
        lambda port, config: [
            sys.executable, "-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1",
            "--port", str(port), "django_project.asgi:application",
        ],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SERVERS))
def test_django_under_real_servers(
    name: str, run_server: Callable[..., Server], flag_path: Path, tmp_path: Path
) -> None:
    kind, workers, argv = SERVERS[name]
    env = env_for(flag_path, tmp_path)
    config = gunicorn_ready_config(tmp_path)
    server = run_server(lambda port: argv(port, config), env=env, cwd=APPS, ready_path="/faq")
    server.ready_workers(kind, workers)  # every worker has loaded the app

    # Off: the app answers, from every worker (asked until each has answered).
    def ask() -> str:
        r = httpx.get(server.base + "/checkout", headers={"Connection": "close"})
        assert (r.status_code, r.text) == (200, "app:checkout")
        return r.headers["X-Worker-Pid"]

    assert set(server.reach_workers(server.pids, ask)) == server.pids

    # On, with the command line, while the server runs: every worker within the bound.
    manage(env, "on", "--reason", "Replacing the database", "--eta", "1h")
    time.sleep(BOUND)
    assert set(server.statuses("/checkout")) == {503}
    page = httpx.get(server.base + "/checkout")
    assert "Replacing the database" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["retry-after"].isdigit()
    problem = httpx.get(server.base + "/api/items", headers={"Accept": "application/json"})
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["reason"] == "Replacing the database"

    # What stays available: a lite path, a URL name, a decorated view; a 404 is still down.
    for path in ("/faq", "/contact", "/exempt"):
        assert httpx.get(server.base + path).status_code == 200, path
    assert httpx.get(server.base + "/no-such-page").status_code == 503

    # The team's bypass reaches the real app.
    r = httpx.get(server.base + "/checkout", headers={"X-Maintenance-Bypass": SECRET})
    assert (r.status_code, r.text) == (200, "app:checkout")
    assert r.headers["cache-control"] == "private, no-store"
    with httpx.Client(base_url=server.base) as browser:
        assert browser.get(f"/__maintenance__/{SECRET}").status_code == 303
        assert browser.get("/checkout").text == "app:checkout"

    # Off again: every worker is back within the bound.
    manage(env, "off")
    time.sleep(BOUND)
    assert set(server.statuses("/checkout")) == {200}


def test_django_mounted_under_script_name(
    run_server: Callable[..., Server], flag_path: Path, tmp_path: Path
) -> None:
    """gunicorn serving the project at /shop (SCRIPT_NAME): decorators and URL names still hold."""
    env = env_for(flag_path, tmp_path, SCRIPT_NAME="/shop")
    manage(env, "on", "--reason", "Mounted")
    server = run_server(
        lambda port: [
            sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
            "django_project.wsgi:application",
        ],
        env=env,
        cwd=APPS,
        ready_path="/shop/faq",
    )  # fmt: skip
    for path, status in (
        ("/shop/faq", 200),
        ("/shop/contact", 200),
        ("/shop/exempt", 200),
        ("/shop/checkout", 503),
    ):
        assert httpx.get(server.base + path).status_code == status, path
    redirect = httpx.get(server.base + f"/shop/__maintenance__/{SECRET}")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/shop/"
    assert "Path=/shop/" in redirect.headers["set-cookie"]
