"""The maintenance control page in the Django admin.

In-process with Django's test client (permissions, CSRF, form errors, the
control calls it makes), then end to end: a real headless Chromium against the
test project under gunicorn, logging in as staff, switching maintenance on,
posting an update and switching it off, while visitors get the 503.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_setup import APPS, PROJECT_ENV, serve_project, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from conftest import Server  # noqa: E402

BASE = dict(settings.MAINTENANCE_MODE)
PAGE = "/admin/maintenance_mode/maintenance/"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"


def _user(
    name: str, *, staff: bool = True, superuser: bool = False, perms: tuple[str, ...] = ()
) -> Any:
    user, _ = User.objects.get_or_create(
        username=f"mm-admin-{name}", defaults={"is_staff": staff, "is_superuser": superuser}
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="maintenance_mode", codename__in=perms)
    )
    return user


@pytest.fixture(scope="module")
def users() -> Iterator[dict[str, Any]]:
    """Users of every kind, in the project's database (migrated: that creates the permissions)."""
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    yield {
        "root": _user("root", superuser=True),
        "ops": _user("ops", perms=("view_maintenance", "change_maintenance")),
        "viewer": _user("viewer", perms=("view_maintenance",)),
        "staff": _user("staff"),
        "visitor": _user("visitor", staff=False, perms=("change_maintenance",)),
    }
    connections.close_all()


@pytest.fixture
def options(flag_path: Path) -> Iterator[dict[str, Any]]:
    values: dict[str, Any] = {**BASE, "flag": str(flag_path), "check_interval": 0.001}
    with override_settings(MAINTENANCE_MODE=values):
        yield values


def client(user: Any, **kwargs: Any) -> Client:
    browser = Client(**kwargs)
    if user is not None:
        browser.force_login(user)
    return browser


def text(response: Any) -> str:
    body: str = response.content.decode()
    return body


def document(flag: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(flag.read_text())
    return data


# -- permissions, CSRF ---------------------------------------------------------------------------


def test_the_admin_index_links_to_the_page(users: dict[str, Any], options: Any) -> None:
    for name in ("root", "ops", "viewer"):
        index = client(users[name]).get("/admin/")
        assert index.status_code == 200
        assert f'href="{PAGE}"' in text(index), name
        assert "Maintenance switch" in text(index)
    assert f'href="{PAGE}"' not in text(client(users["staff"]).get("/admin/"))


def test_permissions(users: dict[str, Any], options: Any, flag_path: Path) -> None:
    on = {"action": "on", "on-reason": "Nope"}
    # Anonymous and non-staff users are sent to the admin's login, and nothing changes.
    for user in (None, users["visitor"]):
        for answer in (client(user).get(PAGE), client(user).post(PAGE, on)):
            assert answer.status_code == 302
            assert answer["Location"].startswith("/admin/login/?next=")
    # Staff without the permission: 403.
    assert client(users["staff"]).get(PAGE).status_code == 403
    assert client(users["staff"]).post(PAGE, on).status_code == 403
    # View permission: the state, no forms, and a POST is refused.
    seen = client(users["viewer"]).get(PAGE)
    assert seen.status_code == 200
    assert "Maintenance is OFF" in text(seen)
    assert 'name="action"' not in text(seen)
    assert "Can change maintenance switch" in text(seen)
    assert client(users["viewer"]).post(PAGE, on).status_code == 403
    assert not flag_path.exists()
    # Change permission (or a superuser): the forms.
    for name in ("ops", "root"):
        assert 'value="on"' in text(client(users[name]).get(PAGE))


def test_csrf_is_required(users: dict[str, Any], options: Any, flag_path: Path) -> None:
    strict = client(users["root"], enforce_csrf_checks=True)
    refused = strict.post(PAGE, {"action": "on", "on-reason": "No token"})
    assert refused.status_code == 403
    assert "CSRF" in text(refused)
    assert not flag_path.exists()
    token = strict.get(PAGE).cookies["csrftoken"].value
    accepted = strict.post(
        PAGE, {"action": "on", "on-reason": "Token", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302
    assert document(flag_path)["reason"] == "Token"


def test_never_cached(users: dict[str, Any], options: Any) -> None:
    cache = client(users["ops"]).get(PAGE)["Cache-Control"]
    assert "no-cache" in cache
    assert "private" in cache


# -- the changes ---------------------------------------------------------------------------------


def test_on_update_schedule_clear_off(users: dict[str, Any], options: Any, flag_path: Path) -> None:
    ops = client(users["ops"])
    done = ops.post(
        PAGE,
        {
            "action": "on",
            "on-reason": "Upgrading the database",
            "on-message": "Orders are paused.",
            "on-eta": "1h..2h",
            "on-kind": "unplanned",
            "on-expires": "6h",
        },
        follow=True,
    )
    assert done.redirect_chain == [(PAGE, 302)]
    page = text(done)
    assert "Maintenance is ON (started)" in page  # the message
    assert 'data-on="true"' in page
    assert "Upgrading the database" in page
    doc = document(flag_path)
    assert (doc["reason"], doc["kind"], doc["message"]) == (
        "Upgrading the database",
        "unplanned",
        "Orders are paused.",
    )
    assert doc["eta"]["earliest"] < doc["eta"]["latest"]
    assert doc["expires_at"]
    # While on, the "on" form edits the running details, pre-filled.
    assert "Save the details" in page
    assert "Upgrading the database</textarea>" in page

    done = ops.post(
        PAGE,
        {"action": "update", "update-text": "Tables migrated", "update-eta": "30m"},
        follow=True,
    )
    assert "Maintenance is ON (updated)" in text(done)
    assert "Tables migrated" in text(done)
    assert [u["text"] for u in document(flag_path)["updates"]] == ["Tables migrated"]

    done = ops.post(
        PAGE,
        {
            "action": "schedule",
            "schedule-start": "10d",
            "schedule-end": "2h..3h",
            "schedule-timezone": "Europe/Paris",
            "schedule-kind": "planned",
            "schedule-reason": "Moving to a new server",
            "schedule-affected": "checkout\norder history\n",
            "schedule-unaffected": "blog",
            "schedule-announce": "7d",
            "schedule-auto_end": "on",
        },
        follow=True,
    )
    assert "Window scheduled" in text(done)
    window = document(flag_path)["windows"][0]
    assert window["affected"] == ["checkout", "order history"]
    assert (window["timezone"], window["auto_end"]) == ("Europe/Paris", True)
    assert "Moving to a new server" in text(done)

    done = ops.post(PAGE, {"action": "clear"}, follow=True)
    assert "Upcoming windows cleared" in text(done)
    assert document(flag_path)["windows"] == []

    done = ops.post(PAGE, {"action": "off"}, follow=True)
    assert "Maintenance is OFF: ended at" in text(done)
    assert 'data-on="false"' in text(done)
    assert document(flag_path)["ended_at"]


def test_short_notice_is_a_warning(users: dict[str, Any], options: Any) -> None:
    done = client(users["ops"]).post(
        PAGE,
        {"action": "schedule", "schedule-start": "1d", "schedule-end": "2h",
         "schedule-timezone": "UTC", "schedule-kind": "planned"},
        follow=True,
    )  # fmt: skip
    assert 'class="warning"' in text(done)
    assert "less than 48 hours" in text(done)


BAD = [
    pytest.param({"action": "on", "on-eta": "tomorrow"}, "is neither a duration", id="eta"),
    pytest.param({"action": "on", "on-eta": "2020-01-01T00:00Z"}, "not in the future", id="past"),
    pytest.param({"action": "on", "on-expires": "0m"}, "is zero", id="expires"),
    pytest.param({"action": "on", "on-kind": "bad"}, "Select a valid choice", id="kind"),
    pytest.param({"action": "on", "on-reason": "x" * 4001}, "at most 4000", id="long reason"),
    pytest.param({"action": "update", "update-text": "Hi"}, "maintenance is not on", id="off"),
    pytest.param({"action": "update", "update-text": ""}, "This field is required", id="empty"),
    pytest.param(
        {"action": "schedule", "schedule-start": "1d", "schedule-end": "2h",
         "schedule-timezone": "Mars/Base", "schedule-kind": "planned"},
        "is not an IANA time zone", id="tz",
    ),
    pytest.param(
        {"action": "schedule", "schedule-start": "yesterday", "schedule-end": "2h",
         "schedule-timezone": "UTC", "schedule-kind": "planned"},
        "is neither a duration", id="start",
    ),
    pytest.param(
        {"action": "schedule", "schedule-end": "2h", "schedule-timezone": "UTC",
         "schedule-kind": "planned"},
        "This field is required", id="no start",
    ),
    pytest.param(
        {"action": "schedule", "schedule-start": "2d", "schedule-end": "2h",
         "schedule-timezone": "UTC", "schedule-kind": "planned", "schedule-announce": "soon"},
        "is not a duration", id="announce",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "error"), BAD)
def test_bad_input_is_a_form_error(
    users: dict[str, Any], options: Any, flag_path: Path, data: dict[str, str], error: str
) -> None:
    answer = client(users["ops"]).post(PAGE, data)
    assert answer.status_code == 200
    page = text(answer).replace("&#x27;", "'")
    assert error in page
    assert 'class="errorlist' in page or 'class="errornote"' in page
    assert not flag_path.exists()


def test_a_failed_write_is_shown_not_a_500(users: dict[str, Any], options: Any) -> None:
    options["flag"] = "/nonexistent-folder/maintenance.json"
    answer = client(users["ops"]).post(PAGE, {"action": "on", "on-reason": "x"})
    assert answer.status_code == 200
    assert "check the folder exists and is writable" in text(answer)


@pytest.mark.parametrize(
    ("flag", "error"),
    [
        pytest.param("env:MAINTENANCE_SWITCH", "is an environment variable", id="env"),
        pytest.param("redis://127.0.0.1:1/0", "cannot read redis://127.0.0.1:1/0", id="redis"),
    ],
)
def test_a_flag_it_cannot_use_is_explained(
    users: dict[str, Any], options: Any, flag: str, error: str
) -> None:
    options["flag"] = flag
    for answer in (
        client(users["ops"]).get(PAGE),
        client(users["ops"]).post(PAGE, {"action": "on", "on-reason": "x"}),
    ):
        assert answer.status_code == 200
        assert 'id="mm-problem"' in text(answer)
        assert error in text(answer)


def test_unknown_action(users: dict[str, Any], options: Any) -> None:
    assert client(users["ops"]).post(PAGE, {"action": "explode"}).status_code == 400


def test_the_page_works_while_the_site_is_down(
    users: dict[str, Any], options: Any, flag_path: Path
) -> None:
    ops = client(users["ops"])
    ops.post(PAGE, {"action": "on", "on-reason": "Down"})
    assert ops.get("/").status_code == 503
    assert ops.get("/admin/").status_code == 503  # the rest of the admin is down too
    assert ops.get(PAGE).status_code == 200
    assert ops.post(PAGE, {"action": "off"}).status_code == 302
    assert ops.get("/").status_code == 200


def test_login_during_maintenance_with_allow_views(users: dict[str, Any], options: Any) -> None:
    """What docs/django.md recommends so staff can still log in while the site is down."""
    options["allow_views"] = [*options["allow_views"], "admin:login"]
    client(users["root"]).post(PAGE, {"action": "on"})
    assert Client().get("/admin/login/").status_code == 200
    assert Client().get("/").status_code == 503


# -- end to end: Chromium, gunicorn ------------------------------------------------------------

DJANGO_ENV = {**PROJECT_ENV, "MAINTENANCE_CHECK_INTERVAL": "0.5"}

USERS_SCRIPT = """
from django.contrib.auth.models import Permission, User
ops = User.objects.create_user("ops", password="ops-password-1", is_staff=True)
ops.user_permissions.set(Permission.objects.filter(
    content_type__app_label="maintenance_mode",
    codename__in=["view_maintenance", "change_maintenance"]))
User.objects.create_user("visitor", password="visitor-password-1")
"""


@pytest.fixture
def shop(run_server: Callable[..., Server], flag_path: Path, tmp_path: Path) -> tuple[Server, Path]:
    """The test project under gunicorn (2 workers), its own database with two users."""
    env = {**DJANGO_ENV, "TEST_DJANGO_FLAG": str(flag_path), "TEST_DJANGO_DB": str(tmp_path / "db")}
    for argv in (["migrate", "-v", "0"], ["shell", "-c", USERS_SCRIPT]):
        done = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=APPS,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    return serve_project(run_server, env), flag_path


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Any]:
    from test_browser import CHROMIUM, Browser, _require

    _require(CHROMIUM, "Chromium", "python3 dev.py test installs it")
    browser = Browser(tmp_path / "chromium-profile")
    yield browser
    browser.close()


class Tab:
    """A browser tab in its own context (its own cookies), with form helpers."""

    def __init__(self, browser: Any) -> None:
        from test_browser import Page

        context = browser.call("Target.createBrowserContext")["browserContextId"]
        target = browser.call("Target.createTarget", url="about:blank", browserContextId=context)
        session = browser.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)[
            "sessionId"
        ]
        self.page = Page(browser, target["targetId"], session)

    def goto(self, url: str) -> None:
        self.page.goto(url)
        # A new tab's own about:blank load can be the load event goto() saw, and a
        # loaded machine can take longer than goto() waits: wait for the page itself.
        page = self.page
        assert page.wait_for(
            lambda: page.evaluate(
                "location.href !== 'about:blank' && document.readyState === 'complete'"
            ),
            30,
        ), f"{url} did not load"

    def submit(self, script: str) -> int:
        """Run ``script`` (which submits a form); the status of the page it led to."""
        page = self.page
        loads = len(page.own_events("Page.loadEventFired"))
        seen = len(page.own_events("Network.responseReceived"))
        page.evaluate(script)
        assert page.wait_for(lambda: len(page.own_events("Page.loadEventFired")) > loads, 30)
        documents = [
            e["response"]["status"]
            for e in page.own_events("Network.responseReceived")[seen:]
            if e.get("type") == "Document"
        ]
        status: int = documents[-1]
        return status

    def fill(self, form: str, **fields: str) -> str:
        """JavaScript that fills ``fields`` of the form ``#mm-<form>`` and clicks its button."""
        sets = "".join(
            f"f.querySelector('[name={form}-{name}]').value = {json.dumps(value)};"
            for name, value in fields.items()
        )
        return (
            f"(() => {{ const f = document.getElementById('mm-{form}'); {sets} "
            "f.querySelector('[type=submit]').click(); })()"
        )

    def login(self, base: str, username: str, password: str) -> int:
        self.goto(f"{base}/admin/login/?next={PAGE}")
        # goto() can return on the previous document of this tab, still complete while the
        # navigation commits: wait for the login form itself.
        page = self.page
        assert page.wait_for(
            lambda: page.evaluate("!!document.getElementById('id_username')"), 30
        ), "the admin login form did not load"
        return self.submit(
            f"document.getElementById('id_username').value = {json.dumps(username)};"
            f"document.getElementById('id_password').value = {json.dumps(password)};"
            "document.querySelector('#login-form [type=submit]').click();"
        )

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = self.page.evaluate(
            "(() => { const s = document.getElementById('mm-state');"
            " return s ? {on: s.dataset.on, text: document.body.innerText,"
            " path: location.pathname} : {on: null, text: document.body.innerText,"
            " path: location.pathname}; })()"
        )
        return found


def _until(condition: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.slow
def test_staff_switch_maintenance_in_a_real_browser(
    shop: tuple[Server, Path], chromium: Any
) -> None:
    server, flag = shop
    base = server.base
    ops = Tab(chromium)

    assert ops.login(base, "ops", "ops-password-1") == 200
    state = ops.state()
    assert (state["path"], state["on"]) == (PAGE, "false"), state
    assert "Maintenance is OFF" in state["text"]

    # On, with a reason: the page says so, the flag file holds it, visitors get the 503.
    assert ops.submit(ops.fill("on", reason="Upgrading the database", eta="1h..2h")) == 200
    state = ops.state()
    assert state["on"] == "true", state["text"]
    assert "Maintenance is ON (started)" in state["text"]
    assert "Upgrading the database" in state["text"]
    assert document(flag)["reason"] == "Upgrading the database"
    assert _until(lambda: httpx.get(base + "/checkout").status_code == 503)
    assert "Upgrading the database" in httpx.get(base + "/checkout").text

    # A progress update, with a new ETA, while the site is down (the page stays reachable).
    assert ops.submit(ops.fill("update", text="Tables migrated; restarting", eta="30m")) == 200
    state = ops.state()
    assert "Tables migrated; restarting" in state["text"]
    assert [u["text"] for u in document(flag)["updates"]] == ["Tables migrated; restarting"]
    assert _until(lambda: "Tables migrated" in httpx.get(base + "/checkout").text)
    ops.page.viewport(1280, mobile=False)
    ops.page.screenshot(ARTIFACTS / "django-admin-control.png")  # for a human to look at

    # A mistake is a form error on the page, not a 500, and nothing is written.
    before = flag.read_bytes()
    assert ops.submit(ops.fill("update", text="Soon", eta="tomorrow")) == 200
    assert "'tomorrow' is neither a duration" in ops.state()["text"]
    assert flag.read_bytes() == before

    # A POST without the CSRF token is refused.
    refused = ops.submit(
        "(() => { const f = document.getElementById('mm-update');"
        " f.querySelector('[name=csrfmiddlewaretoken]').remove();"
        " f.querySelector('[name=update-text]').value = 'forged';"
        " f.querySelector('[type=submit]').click(); })()"
    )
    assert refused == 403
    assert "CSRF" in ops.state()["text"]
    assert flag.read_bytes() == before

    # Off: the page says so, the file records the end, visitors get the site back.
    ops.goto(base + PAGE)
    assert ops.submit(ops.fill("off")) == 200
    state = ops.state()
    assert state["on"] == "false"
    assert "Maintenance is OFF: ended at" in state["text"]
    assert document(flag)["ended_at"]
    assert _until(lambda: httpx.get(base + "/checkout").status_code == 200)

    # A user who is not staff is refused (sent back to the login form), and changes nothing.
    visitor = Tab(chromium)
    assert visitor.login(base, "visitor", "visitor-password-1") == 200
    state = visitor.state()
    assert state["path"] == "/admin/login/"
    assert "correct username and password for a staff account" in state["text"]
    visitor.goto(base + PAGE)
    assert visitor.state()["path"] == "/admin/login/"
    assert document(flag)["ended_at"]
