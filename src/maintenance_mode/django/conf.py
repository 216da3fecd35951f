"""Read ``settings.MAINTENANCE_MODE`` in one place and turn it into core options."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from maintenance_mode.core import Maintenance, build_sources
from maintenance_mode.settings import Settings
from maintenance_mode.sources import FileFlag

SETTING = "MAINTENANCE_MODE"
#: A project restyles the page with Jinja2 templates in ``<a templates dir>/maintenance_mode/``.
TEMPLATE_SUBDIR = "maintenance_mode"


def raw_options() -> dict[str, Any]:
    """The settings dict as given; raises ValueError if it is not a dict."""
    value = getattr(settings, SETTING, {})
    if value is None or isinstance(value, bool):
        raise ValueError(
            f"maintenance-mode: settings.{SETTING} = {value!r} looks like "
            "django-maintenance-mode's switch; here it is a dict of options, and "
            "maintenance is switched with 'manage.py maintenance on/off' "
            "(see docs/django.md, 'Coming from django-maintenance-mode')"
        )
    if not isinstance(value, Mapping):
        raise ValueError(
            f"maintenance-mode: settings.{SETTING} must be a dict of options, "
            f"got {type(value).__name__}"
        )
    return dict(value)


def project_template_dir() -> Path | None:
    """``maintenance_mode/`` in a template folder Django searches, if it holds a page."""
    candidates: list[Path] = []
    for engine in getattr(settings, "TEMPLATES", []):
        candidates += [Path(d) for d in engine.get("DIRS", [])]
        if engine.get("APP_DIRS"):
            from django.template.utils import get_app_template_dirs

            candidates += [Path(d) for d in get_app_template_dirs("templates")]
    for folder in candidates:
        found = folder / TEMPLATE_SUBDIR
        if any((found / name).is_file() for name in ("maintenance.html", "banner.html")):
            return found
    return None


def options() -> dict[str, Any]:
    """Core options from the settings, with the project's template folder found for it."""
    result = raw_options()
    if result.get("template_dir") is None:
        found = project_template_dir()
        if found is not None:
            result["template_dir"] = found
    return result


_engines: list[Maintenance] = []


def register_engine(engine: Maintenance) -> None:
    """The middleware's engine, for the template tag (the latest one built wins)."""
    _engines[:] = [engine]


def current_engine() -> Maintenance | None:
    return _engines[0] if _engines else None


def flag_file() -> Path | None:
    """The flag file the settings name (what ``manage.py maintenance`` writes)."""
    checked = Settings.from_options(raw_options())
    sources = build_sources(checked.flag, timeout=checked.callable_timeout)
    return next((src.path for src in sources if isinstance(src, FileFlag)), None)
