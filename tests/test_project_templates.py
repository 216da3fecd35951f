"""The page as the project's own template: Django's loaders and Flask's app loader
(``template_name``), with the library's context, CSP and fallback (issue 18)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from django_setup import setup_django

os.environ.setdefault(
    "TEST_DJANGO_DB", str(Path(tempfile.mkdtemp(prefix="mm-django-")) / "db.sqlite3")
)
setup_django()

from django.conf import settings  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from conftest import Server  # noqa: E402
from django_setup import serve_project  # noqa: E402
from maintenance_mode.core import Maintenance  # noqa: E402
from maintenance_mode.django import MaintenanceMiddleware  # noqa: E402
from maintenance_mode.flask import MaintenanceMode  # noqa: E402
from maintenance_mode.state import MaintenanceState, ProgressUpdate, write_state_atomic  # noqa: E402

REASON = "Database upgrade: it's nearly done"
#: What a browser sends when it navigates.
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.DOTALL)


def turn_on(flag: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    write_state_atomic(
        flag,
        MaintenanceState(
            reason=REASON,
            started_at=now - timedelta(minutes=30),
            eta=now + timedelta(hours=2),
            updates=(ProgressUpdate(at=now, text="Backups are complete."),),
        ),
    )


def assert_library_csp(body: str, csp: str) -> None:
    """The library's CSP: same-site styles and images, only its own inline script by hash."""
    scripts = SCRIPT.findall(body)
    assert len(scripts) == 1, scripts
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "img-src 'self' data:" in csp
    assert "unsafe-eval" not in csp


# -- Django ------------------------------------------------------------------------------------


@pytest.fixture
def django_options(flag_path: Path) -> Any:
    values: dict[str, Any] = {
        **settings.MAINTENANCE_MODE,
        "flag": str(flag_path),
        "check_interval": 60,
        "contacts": {"email": "help@shop.example"},
        "template_name": "shop/maintenance.html",
    }
    with override_settings(MAINTENANCE_MODE=values):
        yield values


def test_django_template_extends_the_project_base(
    django_options: dict[str, Any], flag_path: Path
) -> None:
    turn_on(flag_path)
    page = Client().get("/checkout", HTTP_ACCEPT=HTML)
    assert page.status_code == 503
    assert page["Content-Type"] == "text/html; charset=utf-8"
    assert page["Retry-After"].isdigit()
    body = page.content.decode()
    assert '<header class="shop-header">' in body  # from the project's base.html
    assert 'href="/static/shop.css"' in body  # {% static %}
    assert '<main class="shop-maintenance">' in body
    assert "Database upgrade: it\u2019s nearly done" in body  # operator text, typeset
    assert "We\u2019ll be back soon" in body  # the template's own prose, typeset
    assert 'href="mailto:help@shop.example"' in body
    assert '<p class="eta">Expected back: ' in body  # {% maintenance_time %}
    assert "UTC" in body.split('<p class="eta">')[1].split("</p>")[0]
    assert "Backups are complete." in body
    assert_library_csp(body, page["Content-Security-Policy"])
    # The other forms stay the library's own.
    problem = Client().get("/checkout", HTTP_ACCEPT="application/problem+json")
    assert problem["Content-Type"] == "application/problem+json"
    text = Client().get("/checkout", HTTP_ACCEPT="text/plain")
    assert "shop-header" not in text.content.decode()


def test_django_template_gets_the_page_language(
    django_options: dict[str, Any], flag_path: Path
) -> None:
    turn_on(flag_path)
    body = Client().get("/checkout", HTTP_ACCEPT=HTML, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="fr">' in body
    assert 'lang="en"' in body  # the operator's text is English: marked as such


def test_django_broken_template_falls_back_to_the_library_page(
    django_options: dict[str, Any], flag_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    django_options["template_name"] = "shop/broken.html"
    turn_on(flag_path)
    with caplog.at_level(logging.ERROR, logger="maintenance_mode"):
        page = Client().get("/checkout", HTTP_ACCEPT=HTML)
    assert page.status_code == 503
    body = page.content.decode()
    assert "shop-header" not in body
    assert 'class="badge"' in body  # the library's page
    assert "Database upgrade" in body
    assert_library_csp(body, page["Content-Security-Policy"])
    lines = [r.getMessage() for r in caplog.records if "template_name" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("template_name 'shop/broken.html' failed to render (NoReverseMatch")
    assert "\n" not in lines[0]
    assert all(r.exc_info is None for r in caplog.records)


def test_django_missing_template_stops_start_up(django_options: dict[str, Any]) -> None:
    django_options["template_name"] = "shop/nope.html"
    with pytest.raises(ImproperlyConfigured, match=r"no template 'shop/nope\.html'"):
        MaintenanceMiddleware(lambda request: HttpResponse())


def test_template_name_needs_a_framework_loader(flag_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'template_name'.*use template_dir"):
        Maintenance(flag=str(flag_path), template_name="maintenance.html")
    with pytest.raises(ValueError, match="'page_renderer': must be a callable"):
        Maintenance(flag=str(flag_path), page_renderer="maintenance.html")  # type: ignore[arg-type]


@pytest.mark.slow
def test_django_template_under_gunicorn(run_server: Any, flag_path: Path, tmp_path: Path) -> None:
    turn_on(flag_path)
    server: Server = serve_project(
        run_server,
        {
            "MAINTENANCE_FILE": str(flag_path),
            "TEST_DJANGO_DB": str(tmp_path / "db.sqlite3"),
            "TEST_DJANGO_TEMPLATE_NAME": "shop/maintenance.html",
        },
    )
    page = httpx.get(server.base + "/checkout", headers={"Accept": HTML}, timeout=10)
    assert page.status_code == 503
    assert '<header class="shop-header">' in page.text
    assert 'href="/static/shop.css"' in page.text
    assert "Database upgrade: it\u2019s nearly done" in page.text
    assert_library_csp(page.text, page.headers["Content-Security-Policy"])


# -- Flask -------------------------------------------------------------------------------------

LAYOUT = """<!doctype html>
<html lang="{% block lang %}en{% endblock %}">
<head><meta charset="utf-8"><title>Flask Shop</title>
<link rel="stylesheet" href="{{ url_for('static', filename='shop.css') }}"></head>
<body><header class="flask-header">Flask Shop</header>{% block body %}{% endblock %}</body>
</html>
"""
PAGE = """{% extends "layout.html" %}
{% block lang %}{{ lang }}{% endblock %}
{% block body %}
<main class="flask-maintenance">
<h1>{{ _("We'll be back soon") }}</h1>
{% if reason %}<p class="reason"{{ text_lang_attr }}>{{ reason }}</p>{% endif %}
{% if eta_latest %}
<p class="eta">{{ _("Expected back") }}: {{ format_moment(eta_latest) }}</p>
{% endif %}
</main>
{{ page_script }}
{% endblock %}
"""
BROKEN = """{% extends "layout.html" %}
{% block body %}<a href="{{ url_for('no_such_view') }}">{{ reason }}</a>{% endblock %}
"""


def flask_app(tmp_path: Path, flag_path: Path, template_name: str) -> Flask:
    templates, static = tmp_path / "templates", tmp_path / "static"
    templates.mkdir()
    static.mkdir()
    (static / "shop.css").write_text("body { color: #123; }")
    (templates / "layout.html").write_text(LAYOUT)
    (templates / "shop_maintenance.html").write_text(PAGE)
    (templates / "broken.html").write_text(BROKEN)
    app = Flask("flask_shop", root_path=str(tmp_path))
    app.config["MAINTENANCE_MODE"] = {
        "flag": str(flag_path),
        "check_interval": 60,
        "template_name": template_name,
    }
    app.add_url_rule("/checkout", "checkout", lambda: "app:checkout")
    MaintenanceMode(app)
    return app


def test_flask_template_extends_the_app_layout(tmp_path: Path, flag_path: Path) -> None:
    turn_on(flag_path)
    app = flask_app(tmp_path, flag_path, "shop_maintenance.html")
    page = app.test_client().get("/checkout", headers={"Accept": HTML, "Accept-Language": "fr"})
    assert page.status_code == 503
    body = page.get_data(as_text=True)
    assert '<header class="flask-header">' in body  # the app's layout.html
    assert 'href="/static/shop.css"' in body  # url_for('static')
    assert '<html lang="fr">' in body
    assert "Nous sommes de retour" not in body  # the designer's own string, untranslated
    assert "We\u2019ll be back soon" in body
    assert "Retour prévu\u00a0: " in body  # our catalog, French typography
    assert "Database upgrade: it\u2019s nearly done" in body
    assert_library_csp(body, page.headers["Content-Security-Policy"])
    # The static file the page links is still served while maintenance is on.
    static = app.test_client().get("/static/shop.css")
    assert static.status_code == 200
    static.close()


@pytest.mark.parametrize(
    ("template_name", "error"),
    [
        pytest.param("broken.html", "BuildError", id="fails while rendering"),
        pytest.param("nope.html", "TemplateNotFound", id="missing"),
    ],
)
def test_flask_broken_template_falls_back(
    tmp_path: Path,
    flag_path: Path,
    caplog: pytest.LogCaptureFixture,
    template_name: str,
    error: str,
) -> None:
    turn_on(flag_path)
    app = flask_app(tmp_path, flag_path, template_name)
    with caplog.at_level(logging.ERROR, logger="maintenance_mode"):
        page = app.test_client().get("/checkout", headers={"Accept": HTML})
    assert page.status_code == 503
    body = page.get_data(as_text=True)
    assert "flask-header" not in body
    assert 'class="badge"' in body
    lines = [r.getMessage() for r in caplog.records if "template_name" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(f"template_name {template_name!r} failed to render ({error}")
