"""Django system checks for ``MAINTENANCE_MODE`` and the middleware's place.

Stable ids: E001 invalid settings, E002 a staff bypass without Django's
authentication, W001 the app installed but the middleware missing, W002 the
middleware behind the cache middleware, W003 a flag file in a folder that does
not exist.
"""

from __future__ import annotations

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
