"""The maintenance control page in the Django admin, for people who don't use a shell.

It shows the state of the flag ``settings.MAINTENANCE_MODE`` names and offers on,
off, update (a progress note and a new ETA), schedule and clear, each one call to
:mod:`maintenance_mode.control` on that flag, like ``manage.py maintenance``.

Trust model: the page is an admin view (an active staff user, CSRF-protected,
never cached). Seeing it takes ``maintenance_mode.view_maintenance``, changing
anything ``maintenance_mode.change_maintenance`` (superusers have both). It is
exempt from maintenance itself (:func:`~maintenance_mode.core.maintenance_exempt`),
so staff who are logged in can turn maintenance off while the site serves the 503.

Django's admin autodiscovery registers it on ``admin.site``; a project with its
own ``AdminSite`` registers :class:`MaintenanceAdmin` there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from maintenance_mode import control
from maintenance_mode._text import change_lines, fmt, status_lines
from maintenance_mode.core import maintenance_exempt
from maintenance_mode.state import ETARange, MaintenanceState, Window

from . import conf
from .forms import FORMS, ControlForm, OnForm
from .models import Maintenance

__all__ = ["MaintenanceAdmin"]

logger = logging.getLogger("maintenance_mode")

TEMPLATE = "admin/maintenance_mode/maintenance/control.html"


class MaintenanceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One page at the model's changelist URL; nothing to add, list or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = maintenance_exempt(self.admin_site.admin_view(self.control_view))
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", view, name=name)]

    def control_view(self, request: HttpRequest) -> HttpResponse:
        """Show the state; on POST, make the change its ``action`` names and come back."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_change = self.has_change_permission(request)
        posted: ControlForm | None = None
        problem: str | None = None
        try:
            where: control.Store | None = conf.control_store()
        except (ValueError, control.ControlError) as exc:
            where, problem = None, str(exc)
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            form_class = FORMS.get(request.POST.get("action", ""))
            if form_class is None:
                return HttpResponseBadRequest("unknown action", content_type="text/plain")
            posted = form_class(request.POST, prefix=form_class.action)
            if where is not None and posted.is_valid():
                try:
                    change = posted.apply(where)
                except control.ControlError as exc:  # InvalidChange included
                    posted.add_error(None, str(exc))
                else:
                    self._announce(request, change)
                    try:
                        for warning in conf.export_after(change):
                            messages.warning(request, warning)
                    except control.ControlError as exc:
                        messages.error(request, f"The change is written, but {exc}")
                    return HttpResponseRedirect(request.path)
        status: control.Status | None = None
        if where is not None:
            try:
                status = control.status(where)
            except control.ControlError as exc:
                problem = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": "Maintenance mode",
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "can_change": can_change and where is not None,
            "problem": problem,
            "forms": self._forms(status, posted),
            "posted": posted.action if posted is not None else None,
            **_describe(status),
        }
        return TemplateResponse(request, TEMPLATE, context)

    @staticmethod
    def _forms(status: control.Status | None, posted: ControlForm | None) -> dict[str, Any]:
        """A form per action, the posted one (with its errors) in its place."""
        state = status.state if status is not None and status.on else None
        forms: dict[str, Any] = {}
        for action, form_class in FORMS.items():
            initial: dict[str, Any] = {}
            if form_class is OnForm and state is not None:  # edit the running details
                initial = {"reason": state.reason or "", "message": state.message or ""}
            forms[action] = form_class(prefix=action, initial=initial)
        if posted is not None:
            forms[posted.action] = posted
        return forms

    @staticmethod
    def _announce(request: HttpRequest, change: control.Change) -> None:
        head = change_lines(change)[0]
        messages.success(request, head)
        for warning in change.warnings:
            messages.warning(request, warning)
        logger.info(
            "maintenance %s from the admin by %s: %s",
            change.action,
            getattr(request.user, "get_username", lambda: "?")(),
            change.status.target,
        )


def _eta(state: MaintenanceState) -> str | None:
    if isinstance(state.eta, ETARange) and state.eta.earliest != state.eta.latest:
        return f"{fmt(state.eta.earliest)} to {fmt(state.eta.latest)}"
    return fmt(state.eta_latest) if state.eta is not None else None


def _window(window: Window) -> dict[str, Any]:
    end = (
        f"{fmt(window.end_earliest)} to {fmt(window.end_latest)}"
        if window.end_earliest != window.end_latest
        else fmt(window.end_latest)
    )
    return {
        "kind": window.kind,
        "timezone": window.timezone,
        "start": fmt(window.start),
        "end": end,
        "announce": fmt(window.announce_at),
        "auto_end": window.auto_end,
        "reason": window.reason,
        "affected": ", ".join(window.affected),
        "unaffected": ", ".join(window.unaffected),
    }


def _describe(status: control.Status | None) -> dict[str, Any]:
    """What the template shows of a status: text only, every time formatted as the CLI does."""
    if status is None:
        return {"status": None}
    state = status.state
    details: list[tuple[str, str]] = []
    updates: list[tuple[str, str]] = []
    if state is not None:
        details = [
            (label, value)
            for label, value in (
                ("Kind", state.kind),
                ("Reason", state.reason),
                ("Message", state.message),
                ("Started", fmt(state.started_at)),
                ("Expected end", _eta(state)),
                ("Switches off by itself", fmt(state.expires_at) if state.expires_at else None),
                ("Paths kept working", " ".join(state.allow)),
                ("Bypass secret", "set for this maintenance" if state.bypass_sha256 else None),
            )
            if value
        ]
        updates = [(fmt(u.at), u.text) for u in reversed(state.updates)]
    elif status.document is not None and status.document.ended_at is not None:
        details = [("Ended", fmt(status.document.ended_at))]
    return {
        "status": status,
        "headline": status_lines(status)[0],
        "details": details,
        "updates": updates,
        "windows": [_window(w) for w in status.upcoming],
    }


admin.site.register(Maintenance, MaintenanceAdmin)
