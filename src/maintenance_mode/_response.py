"""What the engine needs of rendering at start-up and per request: the response, the form.

:mod:`maintenance_mode.render` (Jinja2, the page's views, the state models) loads only
when a page is first needed; it re-exports these names, so they keep their home there.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

from ._records import FrozenRecord

if TYPE_CHECKING:
    from .settings import Brand

logger = logging.getLogger("maintenance_mode")

Variant = Literal["html", "json", "text"]

#: In order of preference when the client rates several alike: ``*/*`` gets problem+json,
#: ``text/*`` plain text, and HTML only a client that names ``text/html`` (a browser).
_MEDIA: Final[dict[str, Variant]] = {
    "application/problem+json": "json",
    "application/json": "json",
    "text/plain": "text",
    "text/html": "html",
}
_OFFERED: Final = list(_MEDIA)
_CONTENT_TYPE: Final[dict[Variant, str]] = {
    "html": "text/html; charset=utf-8",
    "json": "application/problem+json",
    "text": "text/plain; charset=utf-8",
}
_MAX_ACCEPT = 1024
_STATUS_LINES: Final = {200: "200 OK", 303: "303 See Other", 503: "503 Service Unavailable"}


class Response(FrozenRecord):
    """A framework-neutral response: adapters only translate it.

    Built once per state and Retry-After value, so the ASGI form of the headers
    (lower-case latin-1 bytes) is prepared here too, not per request. Immutable,
    equal and hashed by status, headers and body.
    """

    __slots__ = ("adapter_data", "body", "headers", "raw_headers", "status")
    __match_args__ = ("status", "headers", "body")

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...]
    #: What an adapter prepares once per Response (Django: its checked header store); it
    #: lives and dies with the Response, which the engine replaces as the state moves on.
    adapter_data: dict[str, Any]

    def __init__(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
        raw = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)
        init = object.__setattr__
        init(self, "status", status)
        init(self, "headers", headers)
        init(self, "body", body)
        init(self, "raw_headers", raw)
        init(self, "adapter_data", {})

    @property
    def status_line(self) -> str:
        return _STATUS_LINES[self.status]

    def without_body(self) -> Response:
        """The HEAD form: same headers (Content-Length included), empty body."""
        return Response(self.status, self.headers, b"")


@lru_cache(maxsize=256)
def negotiate(accept: str | None) -> Variant:
    """Pick the 503's form from an Accept header: HTML for a browser, JSON for other clients.

    A browser navigation names ``text/html`` (every browser's navigation Accept does),
    so it gets the page. No Accept, ``*/*`` (curl, ``fetch()``, requests, httpx) or a
    preference for JSON gets problem+json (RFC 9457); ``text/plain`` when that is
    preferred. A header too large or matching nothing offered gets HTML, for a person.
    """
    if accept is None or not accept.strip():
        return "json"
    if len(accept) > _MAX_ACCEPT:
        return "html"
    from werkzeug.datastructures import MIMEAccept  # once per distinct header (cached)
    from werkzeug.http import parse_accept_header

    try:
        parsed = parse_accept_header(accept, MIMEAccept)
        # Media-type parameters (``application/json; charset=utf-8``) do not change
        # which form is meant, but Werkzeug only matches a type named without them.
        bare = MIMEAccept([(value.split(";", 1)[0].strip(), q) for value, q in parsed])
        best = bare.best_match(_OFFERED, default="text/html")
    except ValueError:  # pragma: no cover - werkzeug tolerates junk, but never 500 on it
        return "html"
    return _MEDIA.get(best, "html")


def _luminance(color: str) -> float:
    hexa = color.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(ch * 2 for ch in hexa)
    channels = [int(hexa[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG 2.1 contrast ratio of two hex colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


#: The card colours of the default stylesheet (light, dark): brand colours are checked on them.
CARD: Final = ("#ffffff", "#1a1f27")


def _check_brand(brand: Brand) -> None:
    """Warn (once, at start-up) about brand colours too faint to read (WCAG AA: 4.5:1)."""
    for name, color, card in (
        ("accent", brand.accent, CARD[0]),
        ("accent_dark", brand.accent_dark, CARD[1]),
    ):
        ratio = contrast(color, card)
        if ratio < 4.5:
            logger.warning(
                "brand.%s %s has a contrast of %.1f:1 on the page's card (%s); links in that "
                "colour are hard to read (WCAG AA needs 4.5:1)",
                name,
                color,
                ratio,
                card,
            )
