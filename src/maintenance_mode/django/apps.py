"""The Django app: registers the system checks and the ``maintenance`` command."""

from __future__ import annotations

from django.apps import AppConfig


class MaintenanceModeConfig(AppConfig):
    name = "maintenance_mode.django"
    label = "maintenance_mode"
    verbose_name = "Maintenance mode"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
