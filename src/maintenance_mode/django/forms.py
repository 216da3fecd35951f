"""The admin page's forms: each one parses its fields and makes one control call.

Like the ``maintenance`` commands, they hold no write logic: the times are parsed
with control's own parsers (a mistake is a field error), and what control refuses
(:class:`~maintenance_mode.control.InvalidChange`) or fails to write
(:class:`~maintenance_mode.control.ControlError`) becomes a form error in the view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from maintenance_mode import control

__all__ = ["FORMS", "ClearForm", "ControlForm", "OffForm", "OnForm", "ScheduleForm", "UpdateForm"]

_WHEN_HELP = "A duration (2h, 90m), an ISO 8601 time with an offset (2026-12-05T14:00+01:00)"
_KINDS = [("planned", "Planned work"), ("unplanned", "Incident (unplanned)")]


def _parsed(value: str, parse: Callable[[str], object]) -> str | None:
    """The text as typed (control parses it again when it writes), or None when empty."""
    text = value.strip()
    if not text:
        return None
    try:
        parse(text)
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from None
    return text


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _text(**kwargs: Any) -> forms.CharField:
    return forms.CharField(required=False, strip=True, **kwargs)


def _area(rows: int = 2, **kwargs: Any) -> forms.CharField:
    return _text(widget=forms.Textarea(attrs={"rows": rows, "cols": 60}), **kwargs)


class ControlForm(forms.Form):
    """A form that stands for one control call on the project's flag."""

    #: The value of the hidden ``action`` field that picks this form.
    action = ""

    def apply(self, where: control.Store) -> control.Change:
        """Make this form's control call (every action's form overrides it; Django's form
        metaclass does not mix with ABCMeta, so the base refuses instead)."""
        raise NotImplementedError(f"{type(self).__name__} does not say what it applies")


class OnForm(ControlForm):
    action = "on"

    reason = _area(max_length=4000, help_text="What is happening and why, shown on the page.")
    message = _area(max_length=4000, help_text="A further sentence for visitors.")
    eta = _text(
        label="Expected end",
        help_text=_WHEN_HELP + ", or a range of either: 2h..4h. Empty: keep the current one.",
    )
    kind = forms.ChoiceField(
        choices=[("", "keep the current one (planned when new)"), *_KINDS], required=False
    )
    expires = _text(
        label="Switch off by itself after",
        help_text="A safety net in case nobody turns it off, e.g. 6h. Empty: none.",
    )

    def clean_eta(self) -> str | None:
        return _parsed(self.cleaned_data["eta"], control.parse_eta)

    def clean_expires(self) -> str | None:
        return _parsed(self.cleaned_data["expires"], _duration_or_eta)

    def apply(self, where: control.Store) -> control.Change:
        data = self.cleaned_data
        return control.on(
            where,
            reason=data["reason"] or None,
            message=data["message"] or None,
            eta=data["eta"],
            kind=data["kind"] or None,
            expires=data["expires"],
        )


def _duration_or_eta(text: str) -> object:
    try:
        return control.parse_duration(text)
    except ValueError:
        return control.parse_eta(text)


class UpdateForm(ControlForm):
    action = "update"

    text = forms.CharField(
        label="Progress note",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Timestamped and shown on the page, newest first.",
    )
    eta = _text(label="New expected end", help_text=_WHEN_HELP + ", or a range: 30m..1h.")

    def clean_eta(self) -> str | None:
        return _parsed(self.cleaned_data["eta"], control.parse_eta)

    def apply(self, where: control.Store) -> control.Change:
        return control.update(where, self.cleaned_data["text"], eta=self.cleaned_data["eta"])


class OffForm(ControlForm):
    action = "off"

    def apply(self, where: control.Store) -> control.Change:
        return control.off(where)


class ScheduleForm(ControlForm):
    action = "schedule"

    start = forms.CharField(
        help_text="A duration from now (7d), or an ISO time, e.g. 2026-12-05T10:00 "
        "(read in the time zone below)."
    )
    end = forms.CharField(
        help_text="A duration from the start (4h), an ISO time, or a range of either (3h..5h)."
    )
    timezone = forms.CharField(
        initial="UTC",
        label="Time zone",
        help_text="IANA name, e.g. Europe/Paris: times are read and shown in it.",
    )
    reason = _area(max_length=4000, help_text="What will happen and why.")
    message = _area(max_length=4000)
    kind = forms.ChoiceField(choices=_KINDS, initial="planned")
    affected = _area(rows=2, help_text="What will be down, one per line.")
    unaffected = _area(rows=2, help_text="What keeps working, one per line.")
    announce = _text(
        label="Announce", help_text="Show the banner this long before the start. Empty: 48h."
    )
    auto_end = forms.BooleanField(required=False, label="Switch off by itself at the (latest) end")

    def clean_announce(self) -> str | None:
        return _parsed(self.cleaned_data["announce"], control.parse_duration)

    def apply(self, where: control.Store) -> control.Change:
        data = self.cleaned_data
        return control.schedule(
            where,
            start=data["start"],
            end=data["end"],
            timezone=data["timezone"] or "UTC",
            kind=data["kind"],
            reason=data["reason"] or None,
            message=data["message"] or None,
            affected=_lines(data["affected"]),
            unaffected=_lines(data["unaffected"]),
            announce=data["announce"],
            auto_end=data["auto_end"],
        )


class ClearForm(ControlForm):
    action = "clear"

    def apply(self, where: control.Store) -> control.Change:
        return control.clear_schedule(where)


#: The form for each ``action`` a POST may carry.
FORMS: dict[str, type[ControlForm]] = {
    form.action: form for form in (OnForm, UpdateForm, OffForm, ScheduleForm, ClearForm)
}
