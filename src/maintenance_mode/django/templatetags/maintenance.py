"""``{% load maintenance %}{% maintenance_banner %}``: the banner inside your own layout.

For projects that set ``"banner": False`` (no injection) and place the same banner
themselves. Renders nothing when there is nothing to announce.
"""

from __future__ import annotations

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
