"""Django with ``bypass_staff``: a database outage while checking staff status is a 503.

The typical maintenance is a database upgrade. A request carrying any ``sessionid``
cookie makes the staff check load the session (and then the user) from the
database; with the database down that raises ``OperationalError``. It must mean
"not staff": the visitor gets the 503, never a 500, and the failure is logged
once, not once per request. Django's own test client, the real database session
backend and the test project's settings (tests/apps/django_project).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_setup import setup_django

setup_django()

from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends import db as db_sessions  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import OperationalError, connection  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

from maintenance_mode.state import MaintenanceState, write_state_atomic  # noqa: E402

BASE = dict(settings.MAINTENANCE_MODE)
STAFF = "outage-staff"
LOGGED = "could not read the user"


@pytest.fixture(scope="module", autouse=True)
def database() -> None:
    """The test project's database, with a staff user of our own (shared with test_django)."""
    call_command("migrate", verbosity=0, interactive=False)
    if not User.objects.filter(username=STAFF).exists():
        User.objects.create_user(STAFF, password="pw", is_staff=True)


@pytest.fixture
def options(flag_path: Path) -> Iterator[dict[str, Any]]:
    """Maintenance on, with the staff bypass."""
    write_state_atomic(flag_path, MaintenanceState(reason="Database upgrade"))
    values: dict[str, Any] = {
        **BASE,
        "flag": str(flag_path),
        "check_interval": 60,
        "bypass_staff": True,
    }
    with override_settings(MAINTENANCE_MODE=values):
        yield values


def database_down(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """A ``connection.execute_wrapper``: every query fails, as during a database upgrade."""
    raise OperationalError("could not connect to server: the database is being upgraded")


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if LOGGED in r.getMessage()]


@pytest.mark.parametrize("superuser", [False, True], ids=["bypass_staff", "bypass_superuser"])
def test_database_outage_during_the_staff_check_gives_the_503(
    options: dict[str, Any], caplog: pytest.LogCaptureFixture, superuser: bool
) -> None:
    if superuser:
        options.update(bypass_staff=False, bypass_superuser=True)
        User.objects.filter(username=STAFF).update(is_superuser=True)
    c = Client()  # raises what a view or middleware raises: a 500 would fail the test
    c.force_login(User.objects.get(username=STAFF))
    assert c.get("/checkout").status_code == 200  # the database works: bypassed

    with (
        caplog.at_level(logging.WARNING, logger="maintenance_mode"),
        connection.execute_wrapper(database_down),
    ):
        page = c.get("/checkout")
        problem = c.get("/api/items", HTTP_ACCEPT="application/json")
        head = c.head("/checkout")
    assert page.status_code == 503
    assert b"Database upgrade" in page.content
    assert page["Retry-After"].isdigit()
    assert problem.status_code == 503
    assert problem["Content-Type"] == "application/problem+json"
    assert (head.status_code, head.content) == (503, b"")
    assert len(logged(caplog)) == 1, logged(caplog)  # once, not once per request
    assert "OperationalError" in logged(caplog)[0]

    assert c.get("/checkout").status_code == 200  # back up: bypassed again
    User.objects.filter(username=STAFF).update(is_superuser=False)


def test_a_stale_session_cookie_during_an_outage(
    options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Any client can send a ``sessionid``: it must not turn the 503 into a 500 either."""
    c = Client()
    c.cookies[settings.SESSION_COOKIE_NAME] = "made-up-session-key-0123456789"
    with (
        caplog.at_level(logging.WARNING, logger="maintenance_mode"),
        connection.execute_wrapper(database_down),
    ):
        assert c.get("/checkout").status_code == 503
        assert c.get("/").status_code == 503
    assert len(logged(caplog)) == 1


@pytest.mark.anyio
async def test_async_database_outage_during_the_staff_check_gives_the_503(
    options: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = AsyncClient()
    await c.aforce_login(await sync_to_async(User.objects.get)(username=STAFF))
    assert (await c.get("/checkout")).status_code == 200

    def down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server: the database is being upgraded")

    async def adown(*args: Any, **kwargs: Any) -> Any:
        down()

    # Under ASGI the session is loaded in other threads (other connections): fail it there
    # (Django 5.0 has no async loader and goes through the sync one).
    monkeypatch.setattr(db_sessions.SessionStore, "_get_session_from_db", down)
    monkeypatch.setattr(db_sessions.SessionStore, "_aget_session_from_db", adown, raising=False)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        first = await c.get("/checkout")
        second = await c.get("/checkout", headers={"Accept": "text/plain"})
    assert (first.status_code, second.status_code) == (503, 503)
    assert b"Database upgrade" in second.content
    assert len(logged(caplog)) == 1, logged(caplog)
    monkeypatch.undo()
    assert (await c.get("/checkout")).status_code == 200
