"""The Django app: the system checks, the ``maintenance`` command and the admin page.

The admin page (:mod:`maintenance_mode.django.admin`) is registered by Django's admin
autodiscovery when ``django.contrib.admin`` is installed; its permissions belong to
the table-less :class:`~maintenance_mode.django.models.Maintenance` model.
"""

from __future__ import annotations

from django.apps import AppConfig


class MaintenanceModeConfig(AppConfig):
    name = "maintenance_mode.django"
    label = "maintenance_mode"
    verbose_name = "Maintenance mode"
    # The admin page's model has no table; naming its key type avoids models.W042.
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
