"""The app Django finds for a leftover ``"maintenance_mode"`` in ``INSTALLED_APPS``.

That entry is django-maintenance-mode's; this package's app is
``"maintenance_mode.django"``. Without this module Django would install the bare
package as an app, and ``manage.py check`` would report nothing while the
``maintenance`` command and the system checks were missing. This config loads the
checks, and ``maintenance_mode.E003`` says to replace the entry.
"""

from __future__ import annotations

from django.apps import AppConfig


class LeftoverAppEntryConfig(AppConfig):
    name = "maintenance_mode"
    # Not "maintenance_mode" (the real app's label), so both entries load and the check
    # can say which one to keep.
    label = "maintenance_mode_leftover_entry"
    verbose_name = "Maintenance mode (leftover django-maintenance-mode entry)"

    def ready(self) -> None:
        from .django import checks  # noqa: F401  (registers the checks, E003 among them)
