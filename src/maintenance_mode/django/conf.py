"""Read ``settings.MAINTENANCE_MODE`` in one place and turn it into core options."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from maintenance_mode.core import Maintenance
from maintenance_mode.settings import Settings

if TYPE_CHECKING:
    from maintenance_mode.control import Store

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
    """Core options from the settings, with the project's template folder found for it,
    and ``template_name`` turned into the core's ``page_renderer`` (:class:`ProjectPage`)."""
    result = raw_options()
    if result.get("template_dir") is None:
        found = project_template_dir()
        if found is not None:
            result["template_dir"] = found
    return _with_page(result)


def _with_page(result: dict[str, Any]) -> dict[str, Any]:
    """``template_name`` turned into the core's ``page_renderer`` (:class:`ProjectPage`)."""
    name = result.get("template_name")
    if name is not None and result.get("page_renderer") is None:
        if not isinstance(name, str) or not name:
            raise ValueError(
                "maintenance-mode: option 'template_name' must be a template name like "
                f"'maintenance.html' (got {name!r})"
            )
        result["page_renderer"] = ProjectPage(name)
    return result


class ProjectPage:
    """The maintenance page as a Django template of the project (``template_name``).

    Found by the project's own template loaders (``TEMPLATES``: ``DIRS``, apps'
    ``templates/``), so it can ``{% extends "base.html" %}`` and use ``{% static %}``.
    It gets the library page's context (docs/templates.md) as a plain dict, rendered
    outside any request (no context processors, no ``request``), with the page's
    language active for ``{% translate %}``. Loaded once here so a missing template or
    a syntax error stops start-up; looked up again per render (cached by the engine),
    so Django's own template caching applies.
    """

    def __init__(self, template_name: str) -> None:
        from django.template import TemplateDoesNotExist, TemplateSyntaxError
        from django.template.loader import get_template

        self.template_name = template_name
        try:
            get_template(template_name)
        except TemplateDoesNotExist:
            raise ValueError(
                f"maintenance-mode: option 'template_name': no template {template_name!r} "
                "in the project's template folders (TEMPLATES' DIRS, and apps' templates/ "
                "with APP_DIRS)"
            ) from None
        except TemplateSyntaxError as exc:
            raise ValueError(
                f"maintenance-mode: option 'template_name': {template_name!r}: {exc}"
            ) from None

    def __call__(self, context: Mapping[str, Any]) -> str:
        from django.template.loader import get_template
        from django.utils import translation

        with translation.override(context.get("lang")):
            return str(get_template(self.template_name).render(dict(context)))


_engines: list[Maintenance] = []


def register_engine(engine: Maintenance) -> None:
    """The middleware's engine, for the template tag (the latest one built wins)."""
    _engines[:] = [engine]


def current_engine() -> Maintenance | None:
    return _engines[0] if _engines else None


def control_flag() -> Any:
    """``MAINTENANCE_MODE["flag"]`` as :mod:`maintenance_mode.control` takes it.

    ``None`` (unset) means the default flag, as for the middleware. Raises
    ValueError or TypeError when the settings are invalid.
    """
    return Settings.from_options(raw_options()).flag


def export_after(change: Any) -> tuple[str, ...]:
    """Refresh the static export after ``change`` when ``export_dir`` is set (its warnings).

    Raises :class:`~maintenance_mode.control.ControlError` when the export fails.
    """
    raw = raw_options()
    settings = Settings.from_options(_with_page(raw) if raw.get("template_name") else raw)
    if settings.export_dir is None:
        return ()
    from maintenance_mode.export import after_change

    return after_change(settings, change)


def bypass_path() -> str:
    """Where a bypass token is opened (``bypass_path``), for the message after ``on --secret``."""
    return Settings.from_options(raw_options()).bypass_path


def control_store() -> Store:
    """The writable store behind the settings' ``flag``: what ``manage.py maintenance`` and
    the admin page change (the first writable entry of a list).

    Raises ValueError for invalid settings and :class:`~maintenance_mode.control.InvalidChange`
    for a flag nothing can write (``"env:NAME"``, a callable), each with a one-line message
    that names the setting.
    """
    from maintenance_mode import control

    try:
        flag = control_flag()
    except (ValueError, TypeError) as exc:
        message = str(exc).removeprefix("maintenance-mode: ")
        if not message.startswith(f"settings.{SETTING}"):
            message = f"settings.{SETTING}: {message}"
        raise ValueError(message) from None
    try:
        return control.store(flag)
    except control.InvalidChange as exc:
        raise control.InvalidChange(f"settings.{SETTING}['flag']: {exc}") from None
