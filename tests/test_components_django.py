"""Partial maintenance under Django: component paths, URL names and the decorator (issue 16)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from django_setup import setup_django

os.environ.setdefault("TEST_DJANGO_DB", str(Path(tempfile.mkdtemp(prefix="mm-dj-")) / "db.sqlite3"))
setup_django()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from maintenance_mode import control  # noqa: E402
from maintenance_mode.django import maintenance_component  # noqa: E402

HTML = "<!doctype html><html><head><title>app</title></head><body><p>app page</p></body></html>"


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HTML, content_type="text/html; charset=utf-8")


@maintenance_component("payments")
def _cart(request: HttpRequest) -> HttpResponse:
    return _view(request)


urlpatterns = [
    path("pay/now", _view, name="pay-now"),
    path("checkout", _view, name="checkout"),
    path("cart", _cart, name="cart"),
    path("about", _view, name="about"),
]

COMPONENTS = {
    "payments": {"label": "Payments and checkout", "paths": ["/pay/"], "views": ["checkout"]},
    "search": {"label": "Site search", "paths": ["/search"]},
}


def _options(flag: Path) -> dict[str, object]:
    return {
        **settings.MAINTENANCE_MODE,
        "flag": str(flag),
        "components": COMPONENTS,
        "check_interval": 0.001,
    }


def test_django_components_by_path_url_name_and_decorator(flag_path: Path) -> None:
    eta = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    control.on(flag_path, component="payments", reason="Provider switch", eta=eta)
    with override_settings(ROOT_URLCONF=__name__, MAINTENANCE_MODE=_options(flag_path)):
        client = Client()
        for url in ("/pay/now", "/checkout", "/cart"):
            response = client.get(url, HTTP_ACCEPT="text/html")
            assert response.status_code == 503, url
            assert "Provider switch" in response.content.decode()
            assert 3000 <= int(response["Retry-After"]) <= 3600
        about = client.get("/about", HTTP_ACCEPT="text/html")
        assert about.status_code == 200
        assert "Payments and checkout" in about.content.decode()
        status = client.get("/__maintenance__/status").json()
        assert [c["status"] for c in status["components"]] == ["under_maintenance", "operational"]
        control.on(flag_path, reason="Whole site")  # the site wins over components
        response = client.get("/about", HTTP_ACCEPT="application/problem+json")
        assert response.status_code == 503
        assert response.json()["reason"] == "Whole site"
        control.off(flag_path)
        control.off(flag_path, component="payments")
        assert client.get("/cart").status_code == 200


def test_django_command_component_round_trip(flag_path: Path, capsys: object) -> None:
    with override_settings(MAINTENANCE_MODE=_options(flag_path)):
        call_command("maintenance", "on", "--component", "search", "--reason", "Re-indexing")
        call_command("maintenance", "on", "--component", "uploads", "--reason", "Unknown")
        doc = control.status(flag_path)
        assert doc.components["search"].state is not None
        assert doc.components["search"].state.reason == "Re-indexing"
        from io import StringIO

        out = StringIO()
        call_command("maintenance", "status", stdout=out)
        text = out.getvalue()
        assert "Component search is ON" in text
        assert "'uploads' is not in the app's components option" in text
        call_command("maintenance", "off", "--component", "search", stdout=StringIO())
        assert not control.status(flag_path).components["search"].on


@pytest.fixture(scope="module")
def users() -> Iterator[None]:
    """A staff user and a visitor in this module's SQLite file (TEST_DJANGO_DB, set above)."""
    from django.contrib.auth.models import User
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    made = []  # the database may be shared with another module's (one Django setup per run)
    for name, staff in (("staff", True), ("visitor", False)):
        if not User.objects.filter(username=name).exists():
            made.append(User.objects.create_user(name, password="pw", is_staff=staff).pk)
    yield
    User.objects.filter(pk__in=made).delete()
    connections.close_all()


@pytest.mark.parametrize(
    ("username", "extra", "status"),
    [
        pytest.param("staff", {"bypass_staff": True}, 200, id="staff bypass"),
        pytest.param("visitor", {"bypass_staff": True}, 503, id="non-staff"),
        pytest.param(None, {"bypass_staff": True}, 503, id="anonymous"),
        pytest.param("staff", {}, 503, id="staff bypass off"),
        pytest.param("staff", {"bypass_superuser": True}, 503, id="staff is not superuser"),
    ],
)
def test_django_staff_bypass_applies_to_components(
    users: None, flag_path: Path, username: str | None, extra: dict[str, object], status: int
) -> None:
    """bypass_staff lets staff into a down component (by path, URL name and decorator) as it
    does into a site under maintenance; everyone else gets the component's 503."""
    from django.contrib.auth.models import User

    control.on(flag_path, component="payments", reason="Provider switch")
    with override_settings(
        ROOT_URLCONF=__name__, MAINTENANCE_MODE={**_options(flag_path), **extra}
    ):
        client = Client()
        if username:
            client.force_login(User.objects.get(username=username))
        for url in ("/pay/now", "/checkout", "/cart"):
            response = client.get(url, HTTP_ACCEPT="text/html")
            assert response.status_code == status, url
            if status == 200:
                assert response["Cache-Control"] == "private, no-store"
            else:
                assert "Provider switch" in response.content.decode()


@pytest.mark.anyio
async def test_django_async_renders_off_the_event_loop(
    flag_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ASGI the first 503 page and banner of a state are rendered in a worker thread
    (as the ASGI adapter does), never on the event loop that serves every request."""
    import threading

    from django.test import AsyncClient

    from maintenance_mode.core import Maintenance

    loop_thread = threading.get_ident()
    threads: list[tuple[str, int]] = []
    page, banner = Maintenance._render_page, Maintenance.render_banner

    def render_page(self: Maintenance, *args: Any, **kwargs: Any) -> Any:
        threads.append(("page", threading.get_ident()))
        return page(self, *args, **kwargs)

    def render_banner(self: Maintenance, *args: Any, **kwargs: Any) -> Any:
        threads.append(("banner", threading.get_ident()))
        return banner(self, *args, **kwargs)

    monkeypatch.setattr(Maintenance, "_render_page", render_page)
    monkeypatch.setattr(Maintenance, "render_banner", render_banner)
    control.on(flag_path, component="payments", reason="Provider switch")
    with override_settings(ROOT_URLCONF=__name__, MAINTENANCE_MODE=_options(flag_path)):
        client = AsyncClient()
        for url in ("/cart", "/pay/now"):  # by decorator (after routing), by path
            response = await client.get(url, headers={"Accept": "text/html"})
            assert response.status_code == 503, url
            assert "Provider switch" in response.content.decode()
        about = await client.get("/about", headers={"Accept": "text/html"})
        assert about.status_code == 200
        assert "Payments and checkout" in about.content.decode()
        control.on(flag_path, reason="Whole site")
        response = await client.get("/about", headers={"Accept": "text/html"})
        assert response.status_code == 503
        assert "Whole site" in response.content.decode()
    assert {kind for kind, _ in threads} == {"page", "banner"}
    assert all(ident != loop_thread for _, ident in threads), threads


@pytest.mark.anyio
async def test_django_async_staff_bypass_applies_to_components(
    users: None, flag_path: Path
) -> None:
    """Under ASGI too: staff pass into a down component's views, visitors get its 503."""
    from asgiref.sync import sync_to_async
    from django.contrib.auth.models import User
    from django.test import AsyncClient

    control.on(flag_path, component="payments", reason="Provider switch")
    options = {**_options(flag_path), "bypass_staff": True}
    with override_settings(ROOT_URLCONF=__name__, MAINTENANCE_MODE=options):
        visitor, staff = AsyncClient(), AsyncClient()
        await staff.aforce_login(await sync_to_async(User.objects.get)(username="staff"))
        for url in ("/pay/now", "/checkout", "/cart"):
            assert (await visitor.get(url)).status_code == 503, url
            response = await staff.get(url)
            assert response.status_code == 200, url
            assert response["Cache-Control"] == "private, no-store"
