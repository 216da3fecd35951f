"""Django system checks for ``MAINTENANCE_MODE`` and the middleware's place.

Stable ids: E001 invalid settings, E002 a staff bypass without Django's
authentication, W001 the app installed but the middleware missing, W002 the
middleware behind the cache middleware, W003 a flag file in a folder that does
not exist.

Leftovers of django-maintenance-mode (which also installs a package named
``maintenance_mode``; docs/django.md, "Moving from django-maintenance-mode"):
E003 its app entry ``"maintenance_mode"`` in INSTALLED_APPS, E004 its middleware,
E005 its context processor, E006 a URLconf that imports its modules (its ``urls``,
``views``, ``decorators``), W004 each ``MAINTENANCE_MODE_*`` setting (none is ours).
"""

from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from maintenance_mode.core import build_sources
from maintenance_mode.settings import Settings
from maintenance_mode.sources import FileFlag

from . import conf

MIDDLEWARE = "maintenance_mode.django.MaintenanceMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
FETCH_CACHE = "django.middleware.cache.FetchFromCacheMiddleware"

#: django-maintenance-mode's names, and what replaces each here.
PEER_APP = "maintenance_mode"
PEER_MIDDLEWARE = "maintenance_mode.middleware.MaintenanceModeMiddleware"
PEER_CONTEXT_PROCESSOR = "maintenance_mode.context_processors.maintenance_mode"
#: Its modules that do not exist here; a URLconf or view importing one fails.
PEER_MODULES = frozenset(
    f"maintenance_mode.{name}"
    for name in ("urls", "views", "decorators", "http", "backends", "utils", "io", "metadata")
)
MIGRATION = "docs/django.md, 'Moving from django-maintenance-mode'"
PEER_SETTINGS = {
    "MAINTENANCE_MODE_STATE_BACKEND": "'flag' (a file path, a redis:// URL or a callable)",
    "MAINTENANCE_MODE_STATE_BACKEND_FALLBACK_VALUE": "'on_error' ('serve' or 'maintenance')",
    "MAINTENANCE_MODE_STATE_FILE_NAME": "'flag' (the flag file's path)",
    "MAINTENANCE_MODE_STATE_FILE_PATH": "'flag' (the flag file's path)",
    "MAINTENANCE_MODE_CACHE_BACKEND": "'flag' (a callable reading your cache)",
    "MAINTENANCE_MODE_IGNORE_URLS": "'allow' (literal paths and prefixes) or 'allow_views'",
    "MAINTENANCE_MODE_IGNORE_ADMIN_SITE": "'allow_views': ['admin:*']",
    "MAINTENANCE_MODE_IGNORE_IP_ADDRESSES": "'bypass_ips' (addresses and CIDR networks)",
    "MAINTENANCE_MODE_GET_CLIENT_IP_ADDRESS": "'trusted_proxies'",
    "MAINTENANCE_MODE_IGNORE_STAFF": "'bypass_staff'",
    "MAINTENANCE_MODE_IGNORE_SUPERUSER": "'bypass_superuser'",
    "MAINTENANCE_MODE_IGNORE_AUTHENTICATED_USER": "no equivalent ('bypass_staff', 'bypass_secret')",
    "MAINTENANCE_MODE_IGNORE_ANONYMOUS_USER": "no equivalent",
    "MAINTENANCE_MODE_GET_AUTHENTICATED_USER": "no equivalent (request.user is read)",
    "MAINTENANCE_MODE_IGNORE_TESTS": "maintenance_mode.testing.override in your tests",
    "MAINTENANCE_MODE_LOGOUT_AUTHENTICATED_USER": "no equivalent",
    "MAINTENANCE_MODE_LOGOUT_STAFF_USER": "no equivalent",
    "MAINTENANCE_MODE_LOGOUT_SUPERUSER": "no equivalent",
    "MAINTENANCE_MODE_REDIRECT_URL": "no equivalent (the 503 page is served in place)",
    "MAINTENANCE_MODE_RESPONSE_TYPE": "no setting: content negotiation picks HTML, JSON or text",
    "MAINTENANCE_MODE_RETRY_AFTER": "'retry_after_default' (when the state has no ETA)",
    "MAINTENANCE_MODE_STATUS_CODE": "no equivalent (always 503)",
    "MAINTENANCE_MODE_TEMPLATE": "'template_dir' (a maintenance.html Jinja2 template)",
    "MAINTENANCE_MODE_GET_CONTEXT": "'site_name', 'contacts', 'links', 'brand' (page context)",
}


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate MAINTENANCE_MODE exactly as the middleware will, and where it sits."""
    messages: list[CheckMessage] = []
    try:
        options = conf.raw_options()
        checked = Settings.from_options(options)
        sources = build_sources(checked.flag, timeout=checked.callable_timeout)
    except (ValueError, TypeError) as exc:
        return [
            Error(
                str(exc).removeprefix("maintenance-mode: "),
                hint="Fix settings.MAINTENANCE_MODE; every key is documented in docs/options.md.",
                id="maintenance_mode.E001",
            )
        ]
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if (checked.bypass_staff or checked.bypass_superuser) and AUTH_MIDDLEWARE not in middleware:
        messages.append(
            Error(
                "bypass_staff/bypass_superuser need to know the user, but "
                f"{AUTH_MIDDLEWARE} is not in MIDDLEWARE.",
                hint="Add Django's SessionMiddleware and AuthenticationMiddleware, "
                "or turn the staff bypass off.",
                id="maintenance_mode.E002",
            )
        )
    if MIDDLEWARE not in middleware:
        messages.append(
            Warning(
                f"{MIDDLEWARE} is not in MIDDLEWARE, so maintenance mode never blocks anything.",
                hint=f"Add {MIDDLEWARE!r} to MIDDLEWARE, near the top.",
                id="maintenance_mode.W001",
            )
        )
    elif FETCH_CACHE in middleware and middleware.index(FETCH_CACHE) < middleware.index(MIDDLEWARE):
        messages.append(
            Warning(
                f"{MIDDLEWARE} comes after {FETCH_CACHE}: cached pages would be served "
                "while maintenance is on.",
                hint=f"Move {MIDDLEWARE!r} above {FETCH_CACHE!r} in MIDDLEWARE.",
                id="maintenance_mode.W002",
            )
        )
    for source in sources:
        if isinstance(source, FileFlag) and not source.path.parent.is_dir():
            messages.append(
                Warning(
                    f"the flag file's folder {source.path.parent} does not exist, so "
                    "'manage.py maintenance on' cannot create the flag there.",
                    hint="Create the folder or point 'flag' at one that exists.",
                    id="maintenance_mode.W003",
                )
            )
    return messages


@register(Tags.compatibility)
def check_peer_leftovers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report what django-maintenance-mode left in the settings: each of its entries
    either names a module that no longer exists or a setting nothing reads."""
    messages: list[CheckMessage] = []
    if PEER_APP in list(getattr(settings, "INSTALLED_APPS", None) or []):
        messages.append(
            Error(
                f"INSTALLED_APPS lists {PEER_APP!r}, django-maintenance-mode's app: this "
                "package's app (the manage.py command, the admin page, these checks) is "
                "'maintenance_mode.django'.",
                hint=f"Replace {PEER_APP!r} with 'maintenance_mode.django' in INSTALLED_APPS.",
                id="maintenance_mode.E003",
            )
        )
    if PEER_MIDDLEWARE in list(getattr(settings, "MIDDLEWARE", None) or []):
        messages.append(
            Error(
                f"MIDDLEWARE lists {PEER_MIDDLEWARE!r}, django-maintenance-mode's middleware, "
                "which this package does not have: every request would fail to import it.",
                hint=f"Replace it with {MIDDLEWARE!r}, first in MIDDLEWARE.",
                id="maintenance_mode.E004",
            )
        )
    for engine in getattr(settings, "TEMPLATES", None) or []:
        processors = (engine.get("OPTIONS") or {}).get("context_processors") or []
        if PEER_CONTEXT_PROCESSOR in processors:
            messages.append(
                Error(
                    f"TEMPLATES lists the context processor {PEER_CONTEXT_PROCESSOR!r} of "
                    "django-maintenance-mode, which this package does not have: every "
                    "rendered template would fail to import it.",
                    hint="Remove it; to show the state on your pages, use "
                    "'{% load maintenance %}{% maintenance_banner %}' "
                    f"or maintenance_mode.control.status() ({MIGRATION}).",
                    id="maintenance_mode.E005",
                )
            )
    urlconf_error = _peer_import_in_urlconf()
    if urlconf_error is not None:
        messages.append(
            Error(
                f"ROOT_URLCONF imports django-maintenance-mode's {urlconf_error}, which this "
                "package does not have.",
                hint="Remove include('maintenance_mode.urls') (use 'manage.py maintenance "
                "on/off' or the admin page) and use @maintenance_exempt from "
                f"maintenance_mode.django for @force_maintenance_mode_off ({MIGRATION}).",
                id="maintenance_mode.E006",
            )
        )
    for name in sorted(dir(settings)):
        if name.startswith("MAINTENANCE_MODE_"):
            instead = PEER_SETTINGS.get(name, "no equivalent")
            messages.append(
                Warning(
                    f"settings.{name} is django-maintenance-mode's and nothing reads it; "
                    f"here: {instead}.",
                    hint=f"Move it into MAINTENANCE_MODE or delete it ({MIGRATION}).",
                    id="maintenance_mode.W004",
                )
            )
    return messages


def _peer_import_in_urlconf() -> str | None:
    """The django-maintenance-mode module ROOT_URLCONF fails to import, if that is why it
    fails (Django's own URL checks report any other failure)."""
    urlconf = getattr(settings, "ROOT_URLCONF", None)
    if not isinstance(urlconf, str):
        return None
    try:
        importlib.import_module(urlconf)
    except ImportError as exc:
        if exc.name in PEER_MODULES:
            return repr(exc.name)
        if exc.name in {"maintenance_mode.core", "maintenance_mode.settings"}:
            return f"{exc.name!r} names ({exc})"
        return None
    except Exception:  # Django's URL checks report it
        return None
    return None
