"""The model behind the admin page's permissions: unmanaged, so it has no table and
needs no migration (Django creates its two permissions after ``migrate``). It exists
only with ``django.contrib.admin`` installed: a project without the admin has no use
for it, and its workers need not load Django's model layer for it."""

from __future__ import annotations

from django.apps import apps

if apps.is_installed("django.contrib.admin"):
    from django.db import models

    class Maintenance(models.Model):
        """The maintenance switch in the admin, never stored or queried.

        ``maintenance_mode.view_maintenance`` lets a staff user see the state on the
        admin page; ``maintenance_mode.change_maintenance`` lets them turn maintenance
        on and off, post updates and plan windows. Superusers have both.
        """

        class Meta:
            managed = False
            default_permissions = ("view", "change")
            verbose_name = "maintenance switch"
            verbose_name_plural = "maintenance switch"

        def __str__(self) -> str:
            return "maintenance switch"
