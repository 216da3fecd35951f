"""Django integration: ``"maintenance_mode.django.MaintenanceMiddleware"`` in ``MIDDLEWARE``.

Configure it with one ``MAINTENANCE_MODE = {...}`` settings dict whose keys are
the core option names (docs/django.md). Add ``"maintenance_mode.django"`` to
``INSTALLED_APPS`` for the ``manage.py maintenance`` command and the system
checks (``maintenance_mode.E001`` ...).
"""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'maintenance_mode.django needs Django: pip install "maintenance-mode[django]"'
    ) from exc

# First: a clear error if django-maintenance-mode's files are mixed with ours.
import maintenance_mode._install  # noqa: F401
from maintenance_mode.core import maintenance_component, maintenance_exempt

from .middleware import MaintenanceMiddleware

__all__ = ["MaintenanceMiddleware", "maintenance_component", "maintenance_exempt"]
