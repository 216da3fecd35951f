"""The test project (tests/apps/django_project) for the in-process Django tests.

A test module calls :func:`setup_django` before it imports anything from Django.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Server

#: The test apps' folder: the Django project, manage.py, the Flask and FastAPI apps.
APPS = Path(__file__).resolve().parent / "apps"
#: What a process (manage.py, gunicorn) needs in its environment to run the test project.
PROJECT_ENV = {"PYTHONPATH": str(APPS), "DJANGO_SETTINGS_MODULE": "django_project.settings"}


def setup_django() -> None:
    """Put the test project on ``sys.path`` and set Django up with its settings (once per
    process; the database is a SQLite file in a new temporary folder unless
    ``$TEST_DJANGO_DB`` names one)."""
    import django

    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    os.environ.setdefault(
        "TEST_DJANGO_DB", str(Path(tempfile.mkdtemp(prefix="mm-django-")) / "db.sqlite3")
    )
    django.setup()


def serve_project(run_server: Callable[..., Server], env: dict[str, str]) -> Server:
    """The test project under gunicorn (2 workers) with ``env`` added, once it serves /faq."""
    return run_server(
        lambda port: [
            *(sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"),
            "django_project.wsgi:application",
        ],
        env={**PROJECT_ENV, **env},
        cwd=APPS,
        ready_path="/faq",
    )
