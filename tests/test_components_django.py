"""Partial maintenance under Django: component paths, URL names and the decorator (issue 16)."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
