"""The banner on the app's own pages: before a planned window, in read-only mode, after the end.

Rendering uses the same Jinja2 environment as the page (``banner.html``, overridable
in ``template_dir``). Injection is mechanics only, the same for every adapter: it
touches a response only when it is ``text/html`` with a known ``Content-Length``,
not compressed, not a HEAD, 204 or 304, inserts the banner once right after the
``<body>`` tag (or at the end when there is none), and fixes ``Content-Length``.
Anything else (streamed, compressed, JSON, files) passes through untouched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import i18n
from .settings import Brand

if TYPE_CHECKING:  # imported by load_banner_template: injecting needs no Jinja2
    from gettext import NullTranslations

    import jinja2

    from .render import ComponentView
    from .schedule import Banner  # with the document models: injecting needs neither
    from .state import Window

__all__ = [
    "DISMISS_COOKIE",
    "DISMISS_URL",
    "BannerInjector",
    "banner_context",
    "banner_id",
    "injectable",
    "insert",
    "load_banner_template",
    "with_length",
]

_BODY_TAG = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)
#: How much of a document we hold back while looking for ``<body>`` before giving up.
_SCAN_LIMIT = 64 * 1024
#: Stands for the dismiss link in a rendered banner; the engine puts the request's own
#: link in its place (it leads back to the page the visitor is on).
DISMISS_URL = "__mm_dismiss_url__"
#: The cookie that remembers which banner a visitor dismissed (the banner's :func:`banner_id`).
DISMISS_COOKIE = "maintenance_banner"
#: Languages written right to left (the banner's ``dir``).
_RTL = frozenset({"ar", "fa", "he", "iw", "ps", "sd", "ug", "ur", "yi", "dv", "ckb"})


def banner_id(banner: Banner, down: Sequence[ComponentView] = ()) -> str:
    """A short stable id of what the banner announces (its kind, window, end, components).

    A dismissal is remembered under it: a changed or new window, the start of the
    maintenance, its end or another set of components make a new id, so the banner returns.
    """
    window, state = banner.window, banner.state
    parts: list[object] = [banner.kind, banner.ended_at]
    if window is not None:
        parts += [window.start, window.end_earliest, window.end_latest]
    if state is not None:
        parts += [state.started_at, state.eta, state.reason]
    parts += [(c.name, c.eta_latest) for c in down]
    if banner.component is not None:  # a component's window ahead
        parts.append(banner.component)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def banner_context(
    banner: Banner,
    settings: Any,
    *,
    translations: NullTranslations | None = None,
    formatter: i18n.Formatter | None = None,
    lang: str = "en",
    component: ComponentView | None = None,
    down: Sequence[ComponentView] = (),
    up: Sequence[ComponentView] = (),
    dismiss_url: str | None = None,
    text_lang: str | None = None,
) -> dict[str, Any]:
    """What ``banner.html`` gets (documented in docs/templates.md).

    Times are exact and carry their zones: the window's own and UTC, formatted
    by Babel for the visitor's locale. ``down`` and ``up`` are the components
    under maintenance and those still working (partial maintenance), each down
    one with its expected end in the configured ``time_zones``. ``dismiss_url`` is the
    link that hides this banner for the visitor (None: no dismiss control).
    ``text_lang`` is the language of the operator's default texts: as on the page, each
    text (``texts``) is in ``lang`` where the operator gave it, else in the default
    language, whole, and ``text_lang_attrs`` then marks it `` lang="..."``.
    """
    if translations is None:
        from gettext import NullTranslations  # with the first banner: off, never loaded

        translations = NullTranslations()
    window = banner.window
    zones = _zones(getattr(settings, "time_zones", ()), window)
    fmt = formatter or i18n.Formatter(lang, zones, translations)
    tag = i18n.language_tag(lang)
    context: dict[str, Any] = {
        **i18n.jinja_gettext(translations),
        "kind": banner.kind,
        "lang": tag,
        "dir": "rtl" if tag.split("-")[0].lower() in _RTL else "ltr",
        "dismiss_url": dismiss_url,
        "site_name": settings.site_name,
        "brand": settings.brand,
        "window": window,
        "window_component": banner.component,
        "state": banner.state,
        "ended_at": banner.ended_at,
        "ended": fmt.moment(banner.ended_at) if banner.ended_at is not None else None,
        "ended_short": fmt.short(banner.ended_at) if banner.ended_at is not None else None,
        "ended_iso": _iso(banner.ended_at),
        "ended_message": settings.ended_message,
        "feedback_url": settings.feedback_url,
        "details_url": settings.contacts.status_page,
    }
    context.update(_components(settings, translations, lang, component, down, up))
    context.update(_texts(banner, lang, text_lang))
    if window is not None:
        context.update(
            when=fmt.span(window.start, window.end_latest),
            when_short=i18n.Formatter(lang, zones[:1], translations).span(
                window.start, window.end_latest
            ),
            start_iso=window.start.astimezone(UTC).isoformat(),
            end_iso=window.end_latest.astimezone(UTC).isoformat(),
            is_range=window.end_earliest != window.end_latest,
            end_earliest=fmt.moment(window.end_earliest),
        )
    return context


def _texts(banner: Banner, lang: str, text_lang: str | None) -> dict[str, Any]:
    """The operator's texts the banner shows, chosen per language like the page's
    (:func:`~maintenance_mode.render.operator_text`): the window's, or the state's."""
    from markupsafe import Markup

    from .render import operator_text  # loaded with the page's renderer by now

    source = banner.window if banner.kind == "upcoming" else banner.state
    if source is None:
        return {"texts": {}, "text_lang_attrs": {}}
    fallback = text_lang if text_lang and text_lang != i18n.language_tag(lang) else None
    window = banner.window if banner.kind == "upcoming" else None
    texts, langs, _ = operator_text(source, lang, fallback, window=window)
    attrs = {
        name: Markup(' lang="{}"').format(tag) if tag else Markup("") for name, tag in langs.items()
    }
    return {"texts": texts, "text_lang_attrs": attrs}


def _components(
    settings: Any,
    translations: NullTranslations,
    lang: str,
    component: ComponentView | None,
    down: Sequence[ComponentView],
    up: Sequence[ComponentView],
) -> dict[str, Any]:
    """The banner's partial-maintenance variables: each down component with its end."""
    ends: list[str | None] = [None] * len(down)
    isos: list[str | None] = [None] * len(down)
    if any(c.eta_latest is not None for c in down):
        names = getattr(settings, "time_zones", None) or ("UTC",)
        fmt = i18n.Formatter(lang, tuple(ZoneInfo(n) for n in names), translations)
        for index, part in enumerate(down):
            if part.eta_latest is not None:
                ends[index] = fmt.short(part.eta_latest)
                isos[index] = part.eta_latest.astimezone(UTC).isoformat()
    return {
        "component": component,
        "down": [
            {"name": c.name, "label": c.label, "link": c.link, "until": end, "until_iso": iso}
            for c, end, iso in zip(down, ends, isos, strict=True)
        ],
        "up": list(up),
    }


def _zones(configured: Iterable[str], window: Window | None) -> tuple[ZoneInfo, ...]:
    """The zones the banner's times are shown in, as on the page: the configured
    ``time_zones`` (the window's own added); else the window's own and UTC; else UTC."""
    names = list(dict.fromkeys(configured))
    if not names:
        own = window.timezone if window is not None else "UTC"
        names = ["UTC"] if own in ("UTC", "Etc/UTC") else [own, "UTC"]
    elif window is not None and window.timezone not in names:
        names.append(window.timezone)
    return tuple(ZoneInfo(name) for name in names)


def load_banner_template(env: jinja2.Environment) -> jinja2.Template:
    """``banner.html`` from the same loaders as the page, test-rendered for every kind."""
    import jinja2

    from .schedule import Banner
    from .state import MaintenanceState, Window

    now = datetime.now(UTC)
    sample = Window(start=now + timedelta(days=1), end=now + timedelta(days=1, hours=2))
    try:
        template = env.get_template("banner.html")
        for banner in (
            Banner("upcoming", window=sample),
            Banner("upcoming", window=sample, component="Sample"),
            Banner("ended", ended_at=now),
            Banner("read_only", state=MaintenanceState(reason="Sample")),
        ):
            template.render(banner_context(banner, _SampleSettings(), dismiss_url=DISMISS_URL))
        from .render import ComponentView  # the page's renderer is loaded by now

        down = (ComponentView("sample", "Sample", eta_latest=now), ComponentView("other", "Other"))
        up = (ComponentView("up", "Up", link="/up"),)
        for parts in ((), up):
            context = banner_context(Banner("components"), _SampleSettings(), down=down, up=parts)
            template.render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name
        raise ValueError(
            f"maintenance-mode: template {where}: line {exc.lineno}: {exc.message}"
        ) from None
    except Exception as exc:
        raise ValueError(
            f"maintenance-mode: banner.html failed to render a sample: {type(exc).__name__}: {exc}"
        ) from None
    return template


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


class _SampleSettings:
    site_name = "Sample"
    brand = Brand.model_construct()  # the defaults; no validator built at import
    ended_message = "Thanks"
    feedback_url = "https://example.com/feedback"

    class contacts:
        status_page = "https://status.example.com"


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (lower case), or None."""
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def injectable(status: int, headers: Iterable[tuple[str, str]], method: str) -> int | None:
    """The response's Content-Length if the banner may go in, else None."""
    if method == "HEAD" or status in (204, 304) or status < 200:
        return None
    headers = list(headers)
    content_type = (header_value(headers, "content-type") or "").lower()
    if not content_type.startswith("text/html"):
        return None
    if (header_value(headers, "content-encoding") or "identity").lower() != "identity":
        return None
    length = header_value(headers, "content-length")
    if length is None or not length.strip().isdigit():
        return None  # streamed: left untouched
    return int(length)


def with_length(headers: Iterable[tuple[str, str]], length: int) -> list[tuple[str, str]]:
    """The headers of a page that got the banner: its new length, and ``Vary: Accept-Language``
    (the banner is in the visitor's language, so shared caches must keep them apart)."""
    result = [
        (key, str(length)) if key.lower() == "content-length" else (key, value)
        for key, value in headers
    ]
    return add_vary(result)


def add_vary(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    for index, (key, value) in enumerate(headers):
        if key.lower() == "vary":
            if "accept-language" not in value.lower() and value.strip() != "*":
                headers[index] = (key, f"{value}, Accept-Language")
            return headers
    headers.append(("Vary", "Accept-Language"))
    return headers


def insert(document: bytes, banner: bytes) -> bytes | None:
    """``document`` with the banner after ``<body>``, or None if the tag is not there."""
    match = _BODY_TAG.search(document)
    if match is None:
        return None
    return document[: match.end()] + banner + document[match.end() :]


class BannerInjector:
    """Feeds body chunks through; inserts the banner exactly once (after ``<body>`` or at the end).

    Holds back at most the first 64 KiB of a document while looking for the tag.
    """

    def __init__(self, banner: bytes) -> None:
        self.banner = banner
        self.held = b""
        self.scanning = True  # still looking for <body>
        self.placed = False

    def feed(self, chunk: bytes) -> bytes:
        if not self.scanning:
            return chunk
        self.held += chunk
        inserted = insert(self.held, self.banner)
        if inserted is not None:
            self.scanning, self.placed, self.held = False, True, b""
            return inserted
        if len(self.held) > _SCAN_LIMIT:  # no <body> early on: it goes at the end instead
            out, self.held, self.scanning = self.held, b"", False
            return out
        return b""

    def finish(self) -> bytes:
        """What is left at the end of the body (with the banner if it is not placed yet)."""
        out, self.held = self.held, b""
        if not self.placed:
            out += self.banner
            self.placed = True
        self.scanning = False
        return out

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            out = self.feed(chunk)
            if out:
                yield out
        tail = self.finish()
        if tail:
            yield tail
