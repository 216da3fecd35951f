"""The Django integration in-process: Django's test client, override_settings, system checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import BROWSER_ACCEPT
from django_setup import APPS, setup_django

os.environ["TEST_DJANGO_DB"] = str(Path(tempfile.mkdtemp(prefix="mm-django-")) / "db.sqlite3")
setup_django()

from asgiref.sync import iscoroutinefunction  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

from maintenance_mode.django import MaintenanceMiddleware  # noqa: E402
from maintenance_mode.django.checks import check_settings  # noqa: E402
from maintenance_mode.state import MaintenanceState, write_state_atomic  # noqa: E402

SECRET = settings.MAINTENANCE_MODE["bypass_secret"]
BASE = dict(settings.MAINTENANCE_MODE)


@pytest.fixture(scope="module", autouse=True)
def database() -> Iterator[None]:
    """A fresh SQLite file (TEST_DJANGO_DB, set above) with a staff user and a visitor."""
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    User.objects.create_user("staff", password="pw", is_staff=True)
    User.objects.create_user("visitor", password="pw")
    yield
    connections.close_all()


@pytest.fixture
def options(flag_path: Path) -> Iterator[dict[str, Any]]:
    """MAINTENANCE_MODE for this test, flag in tmp; mutate before making a client."""
    values: dict[str, Any] = {**BASE, "flag": str(flag_path), "check_interval": 60}
    with override_settings(MAINTENANCE_MODE=values):
        yield values


def turn_on(flag: Path, **details: Any) -> None:
    write_state_atomic(flag, MaintenanceState(reason="Database upgrade", **details))


def client(**options: Any) -> Client:
    """A fresh handler, so the middleware is built from the current settings."""
    if options:
        settings.MAINTENANCE_MODE.update(options)
    return Client()


def test_off_passes_untouched(options: dict[str, Any]) -> None:
    r = client().get("/checkout")
    assert r.status_code == 200
    assert r.content == b"app:checkout"
    assert r["Cache-Control"] == "public, max-age=60"


def test_on_serves_the_503_forms(options: dict[str, Any], flag_path: Path) -> None:
    turn_on(flag_path)
    c = client()
    page = c.get("/checkout", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert page.status_code == 503
    assert page["Content-Type"] == "text/html; charset=utf-8"
    assert page["Cache-Control"] == "no-store"
    assert page["Vary"] == "Accept, Accept-Language"
    assert page["Retry-After"].isdigit()
    assert b"Database upgrade" in page.content
    assert b"Django Test Shop" in page.content
    problem = c.get("/api/items", HTTP_ACCEPT="application/json")
    assert problem["Content-Type"] == "application/problem+json"
    assert json.loads(problem.content)["reason"] == "Database upgrade"
    text = c.get("/", HTTP_ACCEPT="text/plain")
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    anything = c.get("/checkout", HTTP_ACCEPT="*/*")
    assert anything["Content-Type"] == "application/problem+json"
    head = c.head("/checkout", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert head.status_code == 503
    assert head.content == b""
    assert head["Content-Length"] == str(len(page.content))


@pytest.mark.parametrize(
    ("path", "extra", "status"),
    [
        pytest.param("/faq", {}, 200, id="allowlisted path"),
        pytest.param("/contact", {}, 200, id="allowlisted URL name"),
        pytest.param("/exempt", {}, 200, id="decorated view"),
        pytest.param("/checkout", {}, 503, id="ordinary view"),
        pytest.param("/no-such-page", {}, 503, id="a 404 is still down"),
        pytest.param("/checkout?next=/faq", {}, 503, id="query string never helps"),
        pytest.param("/faq", {"SCRIPT_NAME": "/shop"}, 200, id="path under SCRIPT_NAME"),
        pytest.param("/contact", {"SCRIPT_NAME": "/shop"}, 200, id="URL name under SCRIPT_NAME"),
        pytest.param("/exempt", {"SCRIPT_NAME": "/shop"}, 200, id="decorator under SCRIPT_NAME"),
        pytest.param("/checkout", {"SCRIPT_NAME": "/shop"}, 503, id="blocked under SCRIPT_NAME"),
    ],
)
def test_keeping_views_available(
    options: dict[str, Any], flag_path: Path, path: str, extra: dict[str, str], status: int
) -> None:
    turn_on(flag_path)
    response = client().get(path, **extra)
    assert response.status_code == status
    if status == 200:
        assert response.content.startswith(b"app:")


@override_settings(FORCE_SCRIPT_NAME="/shop")
def test_force_script_name(options: dict[str, Any], flag_path: Path) -> None:
    turn_on(flag_path)
    c = client()
    assert c.get("/contact").status_code == 200
    assert c.get("/exempt").status_code == 200
    redirect = c.get(f"/__maintenance__/{SECRET}")
    assert redirect.status_code == 303
    assert redirect["Location"] == "/shop/"
    assert redirect.cookies["maintenance_bypass"]["path"] == "/shop/"


def test_secret_bypass(options: dict[str, Any], flag_path: Path) -> None:
    turn_on(flag_path)
    c = client()
    r = c.get("/checkout", HTTP_X_MAINTENANCE_BYPASS=SECRET)
    assert (r.status_code, r.content) == (200, b"app:checkout")
    assert r["Cache-Control"] == "private, no-store"
    assert c.get("/checkout", HTTP_X_MAINTENANCE_BYPASS="wrong").status_code == 503
    redirect = c.get(f"/__maintenance__/{SECRET}")
    assert redirect.status_code == 303
    assert redirect["Location"] == "/"
    assert redirect["Referrer-Policy"] == "no-referrer"
    r = c.get("/checkout")  # the client keeps the cookie
    assert (r.status_code, r.content) == (200, b"app:checkout")


@pytest.mark.parametrize(
    ("username", "options_update", "status"),
    [
        pytest.param("staff", {"bypass_staff": True}, 200, id="staff bypass"),
        pytest.param("visitor", {"bypass_staff": True}, 503, id="non-staff"),
        pytest.param(None, {"bypass_staff": True}, 503, id="anonymous"),
        pytest.param("staff", {}, 503, id="staff bypass off"),
        pytest.param("staff", {"bypass_superuser": True}, 503, id="staff is not superuser"),
    ],
)
def test_staff_bypass(
    options: dict[str, Any],
    flag_path: Path,
    username: str | None,
    options_update: dict[str, Any],
    status: int,
) -> None:
    turn_on(flag_path)
    c = client(**options_update)
    if username:
        c.force_login(User.objects.get(username=username))
    r = c.get("/checkout")
    assert r.status_code == status
    if status == 200:
        assert r["Cache-Control"] == "private, no-store"


def test_admin_kept_reachable_on_purpose(options: dict[str, Any], flag_path: Path) -> None:
    turn_on(flag_path)
    assert client().get("/admin/login/").status_code == 503
    c = client(allow_views=["admin:*"], bypass_staff=True)
    assert c.get("/admin/login/").status_code == 200
    c.force_login(User.objects.get(username="staff"))
    assert c.get("/checkout").status_code == 200  # staff log in through the admin, then browse


def test_read_only(options: dict[str, Any], flag_path: Path) -> None:
    turn_on(flag_path)
    c = client(read_only=True)
    assert c.get("/checkout").status_code == 200
    assert c.post("/checkout").status_code == 503


def test_project_templates_restyle_the_page(
    options: dict[str, Any], flag_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "templates" / "maintenance_mode"
    folder.mkdir(parents=True)
    (folder / "maintenance.html").write_text(
        '{% extends "default/maintenance.html" %}{% block heading %}<h1>Our brand</h1>'
        "{% endblock %}"
    )
    turn_on(flag_path)
    templates = [{**settings.TEMPLATES[0], "DIRS": [tmp_path / "templates"]}]
    with override_settings(TEMPLATES=templates):
        body = client().get("/", HTTP_ACCEPT=BROWSER_ACCEPT).content
    assert b"<h1>Our brand</h1>" in body
    assert b"Database upgrade" in body


# -- async (ASGI Django) -------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_client(options: dict[str, Any], flag_path: Path) -> None:
    c = AsyncClient()
    assert (await c.get("/checkout")).status_code == 200
    turn_on(flag_path)
    c = AsyncClient()
    assert (await c.get("/checkout")).status_code == 503
    assert (await c.get("/exempt")).status_code == 200
    assert (await c.get("/contact")).status_code == 200
    assert (await c.get("/no-such-page")).status_code == 503
    r = await c.get("/checkout", headers={"X-Maintenance-Bypass": SECRET})
    assert r.status_code == 200
    assert r["Cache-Control"] == "private, no-store"


@pytest.mark.anyio
async def test_async_staff_bypass(options: dict[str, Any], flag_path: Path) -> None:
    from asgiref.sync import sync_to_async

    turn_on(flag_path)
    settings.MAINTENANCE_MODE["bypass_staff"] = True
    c = AsyncClient()
    await c.aforce_login(await sync_to_async(User.objects.get)(username="staff"))
    assert (await c.get("/checkout")).status_code == 200


def test_both_modes_without_adaptation(options: dict[str, Any]) -> None:
    def sync_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert not iscoroutinefunction(MaintenanceMiddleware(sync_view))
    assert iscoroutinefunction(MaintenanceMiddleware(async_view))
    options["bypass_staff"] = True  # with it (or LocaleMiddleware), the instance has one
    sync_mw = MaintenanceMiddleware(sync_view)
    async_mw = MaintenanceMiddleware(async_view)
    assert not iscoroutinefunction(sync_mw)
    assert not iscoroutinefunction(sync_mw.process_view)
    assert iscoroutinefunction(async_mw)
    assert iscoroutinefunction(async_mw.process_view)  # Django adds no sync_to_async hop


# -- configuration errors and system checks ------------------------------------------------


def test_bad_settings_fail_at_start(options: dict[str, Any]) -> None:
    settings.MAINTENANCE_MODE["check_intervall"] = 1
    with pytest.raises(ImproperlyConfigured, match="did you mean 'check_interval'"):
        MaintenanceMiddleware(lambda request: HttpResponse())


MW = "maintenance_mode.django.MaintenanceMiddleware"
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
CACHE = "django.middleware.cache.FetchFromCacheMiddleware"


@pytest.mark.parametrize(
    ("maintenance_mode", "middleware", "ids"),
    [
        pytest.param(None, None, [], id="valid"),
        pytest.param({"on_error": "panic"}, None, ["maintenance_mode.E001"], id="bad option"),
        pytest.param("on", None, ["maintenance_mode.E001"], id="not a dict"),
        pytest.param(True, None, ["maintenance_mode.E001"], id="django-maintenance-mode's switch"),
        pytest.param(
            {"bypass_staff": True}, [MW], ["maintenance_mode.E002"], id="staff without auth"
        ),
        pytest.param(None, [AUTH], ["maintenance_mode.W001"], id="middleware missing"),
        pytest.param(None, [CACHE, MW], ["maintenance_mode.W002"], id="behind the cache"),
        pytest.param(None, [MW, CACHE], [], id="before the cache"),
        pytest.param(
            {"flag": "/nonexistent-dir/maintenance.json"},
            None,
            ["maintenance_mode.W003"],
            id="flag folder missing",
        ),
    ],
)
def test_system_checks(
    options: dict[str, Any], maintenance_mode: Any, middleware: list[str] | None, ids: list[str]
) -> None:
    overrides: dict[str, Any] = {}
    if maintenance_mode is not None:
        overrides["MAINTENANCE_MODE"] = (
            {**options, **maintenance_mode}
            if isinstance(maintenance_mode, dict)
            else maintenance_mode
        )
    if middleware is not None:
        overrides["MIDDLEWARE"] = middleware
    with override_settings(**overrides):
        found = [message.id for message in check_settings()]
    assert found == ids


# -- manage.py maintenance -----------------------------------------------------------------


def test_call_command(
    options: dict[str, Any], flag_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("maintenance", "on", "--reason", "Migrating", "--eta", "2h")
    assert json.loads(flag_path.read_text())["reason"] == "Migrating"
    call_command("maintenance", "status")
    assert "Maintenance is ON" in capsys.readouterr().out
    call_command("maintenance", "off")
    assert json.loads(flag_path.read_text())["ended_at"]  # the file records the real end
    call_command("maintenance", "off", "--purge")
    assert not flag_path.exists()


def manage(*argv: str, flag: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "maintenance", *argv],
        cwd=APPS,
        env={**os.environ, "MAINTENANCE_FILE": str(flag), "PYTHONPATH": str(APPS)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_manage_py_has_the_cli_flags(flag_path: Path) -> None:
    helped = manage("on", "--help", flag=flag_path)
    assert helped.returncode == 0
    assert "usage: manage.py maintenance on" in helped.stdout
    assert "--eta WHEN" in helped.stdout
    on = manage("on", "--reason", "Deploy", "--eta", "30m", flag=flag_path)
    assert on.returncode == 0, on.stderr
    assert json.loads(flag_path.read_text())["reason"] == "Deploy"
    bad = manage("on", "--eta", "later", flag=flag_path)
    assert bad.returncode == 2
    assert "argument --eta" in bad.stderr
    assert "Traceback" not in bad.stderr
    status = manage("status", "--json", flag=flag_path)
    assert json.loads(status.stdout)["on"] is True
    assert manage("off", flag=flag_path).returncode == 0
    assert json.loads(manage("status", "--json", flag=flag_path).stdout)["on"] is False


def test_static_views_stay_reachable(
    options: dict[str, Any], flag_path: Path, tmp_path: Path
) -> None:
    """Django's own static-file view (static() URL patterns) serves the page's CSS and logo."""
    from django.urls import path as url
    from django.views.static import serve

    (tmp_path / "site.css").write_text("body{}")
    urlconf = type(
        "urls",
        (),
        {"urlpatterns": [url("assets/<path:path>", serve, {"document_root": tmp_path})]},
    )
    turn_on(flag_path)
    with override_settings(ROOT_URLCONF=urlconf):
        served = client().get("/assets/site.css")
        assert served.status_code == 200
        served.close()  # a FileResponse: close its file
        assert client(allow_static=False).get("/assets/site.css").status_code == 503


def test_banner_tag_and_injection_while_a_window_is_announced(
    options: dict[str, Any], flag_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from django.template import engines

    from maintenance_mode.state import Window

    start = datetime.now(UTC) + timedelta(hours=5)
    window = Window(start=start, end=start + timedelta(hours=2), reason="Card provider switch")
    write_state_atomic(flag_path, MaintenanceState(windows=(window,)))
    c = client()
    admin = c.get("/admin/login/")  # a real HTML page of the project
    assert admin.status_code == 200
    assert admin.content.count(b"data-nosnippet") == 1
    assert b"Card provider switch" in admin.content
    assert c.get("/checkout").content == b"app:checkout"  # text/plain: untouched
    assert c.get("/__maintenance__/status").json()["scheduled_maintenances"]
    tag = engines["django"].from_string("{% load maintenance %}{% maintenance_banner %}")
    assert "Card provider switch" in tag.render({})
