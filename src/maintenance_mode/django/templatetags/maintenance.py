"""``{% load maintenance %}``: the banner inside your own layout, and the page's times.

``{% maintenance_banner %}`` is for projects that set ``"banner": False`` (no
injection) and place the same banner themselves; it renders nothing when there is
nothing to announce. ``{% maintenance_time %}`` formats a time of the page in a
project template given as ``template_name`` (docs/django.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from maintenance_mode.django import conf

register = template.Library()


@register.simple_tag(takes_context=True)
def maintenance_banner(context: template.Context) -> SafeString:
    engine = conf.current_engine()
    request = context.get("request")
    language = request.META.get("HTTP_ACCEPT_LANGUAGE") if request is not None else None
    html = engine.banner_html(language) if engine is not None else ""
    return mark_safe(html)  # noqa: S308 - rendered by the library's autoescaped template


@register.simple_tag(takes_context=True)
def maintenance_time(
    context: template.Context,
    value: datetime | None,
    end: datetime | None = None,
    short: bool = False,
) -> str:
    """A time of the maintenance page (``started_at``, ``eta_latest``, ``update.at``) as the
    library's page shows it: in the configured zones and the page's language; with ``end``,
    a range; with ``short=True``, the short form of the timeline. Empty outside the page."""
    if value is None:
        return ""
    name = "format_span" if end is not None else "format_short" if short else "format_moment"
    formatter: Any = context.get(name)
    if not callable(formatter):
        return ""
    return str(formatter(value, end) if end is not None else formatter(value))
