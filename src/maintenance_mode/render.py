"""Turn a maintenance state into the bytes of a 503, in each negotiated form and language.

Pages are rendered by Jinja2 (autoescaped; operator text is data, never a
template) once per state, form and locale, then reused; per blocked request the
only work is picking a cached response. The page's inline script is allowed by
a ``'sha256-…'`` source in its Content-Security-Policy, computed from the
rendered body, so the CSP stays strict (``default-src 'none'``). Only scripts
the templates mark with the ``inline_script`` filter are hashed: a script that
reaches the body any other way (operator text a template printed with
``|safe``) stays blocked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo

from . import i18n

# The light half, loaded at start-up (core, adapters): re-exported here, its documented home.
from ._response import _CONTENT_TYPE, Response, Variant, _check_brand, negotiate
from ._response import CARD as CARD
from ._response import contrast as contrast
from .settings import Contacts, LocalizedLink, PageRenderer, Settings, https_origin
from .state import ETARange, MaintenanceState, ProgressUpdate, Window

if TYPE_CHECKING:  # Jinja2 is imported by the Renderer: a worker that never renders never loads it
    import jinja2
    import jinja2.bccache
    import jinja2.runtime

__all__ = [
    "ComponentView",
    "Renderer",
    "Response",
    "Variant",
    "default_template_dir",
    "negotiate",
]

logger = logging.getLogger("maintenance_mode")

#: Tight by default: inline and same-site CSS (the app's own stylesheet), same-site images.
#: HTML pages with inline scripts add ``script-src 'sha256-…'`` and ``connect-src 'self'``.
CSP: Final = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)


def default_template_dir() -> Path:
    """The packaged templates folder (inside the wheel, or the source tree's ``templates/``)."""
    packaged = Path(str(resources.files("maintenance_mode"))) / "templates"
    if packaged.is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "templates"
    if source_tree.is_dir():
        return source_tree
    raise RuntimeError(  # pragma: no cover - a broken install
        "maintenance-mode's default templates are missing; reinstall the package"
    )


def format_datetime(value: datetime | None) -> str:
    """An exact, unambiguous time for the plain page: '2026-11-27 14:00 UTC'.

    Never raises: a time with no UTC value in Python's range (which validation keeps
    out of documents, see :func:`maintenance_mode.state.check_time`) is shown with
    its own offset. The fallback page relies on that.
    """
    if value is None:
        return ""
    try:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except OverflowError:
        return value.strftime("%Y-%m-%d %H:%M UTC%z")


def next_update_due(state: MaintenanceState, every: float) -> datetime | None:
    """When an overrun page promises the next update: ``every`` seconds after the latest
    ETA or the latest update, whichever is later (None without an ETA)."""
    latest = state.eta_latest
    if latest is None:
        return None
    base = max((latest, *(update.at for update in state.updates)))
    try:
        return base + timedelta(seconds=every)
    except OverflowError:  # pragma: no cover - documents' times stay far from the limit
        return None


def _to_minute(value: datetime) -> datetime:
    """``value`` as the page shows it: to the minute (seconds dropped, as on a clock)."""
    return value.replace(second=0, microsecond=0)


def _isoformat(value: datetime | None) -> str:
    """ISO 8601 in UTC ('...Z'); like :func:`format_datetime`, never raises."""
    if value is None:
        return ""
    try:
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return value.isoformat()


@dataclass(frozen=True, slots=True)
class ComponentView:
    """One named component as pages and banners show it (partial maintenance).

    ``link`` is where a visitor can use the component (shown for the parts that
    still work); None when it has no page of its own. ``eta_earliest`` and
    ``eta_latest`` are a down component's expected end, which the banner shows.
    """

    name: str
    label: str
    link: str | None = None
    eta_earliest: datetime | None = None
    eta_latest: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered body and its fixed headers; Retry-After and Content-Length come per request.

    For the JSON form, ``body`` is the problem document without ``retry_after``,
    which :meth:`Maintenance.response` splices in as the first member.
    """

    variant: Variant
    body: bytes
    headers: tuple[tuple[str, str], ...]


def _sample_state(kind: Literal["planned", "unplanned"] = "unplanned") -> MaintenanceState:
    now = datetime.now(UTC)
    return MaintenanceState(
        kind=kind,
        reason="Sample reason",
        message="Sample message",
        started_at=now - timedelta(hours=1),
        eta=ETARange(earliest=now + timedelta(hours=1), latest=now + timedelta(hours=2)),
        updates=(ProgressUpdate(at=now, text="Sample update"),),
    )


def _active_window(state: MaintenanceState) -> Window | None:
    """The planned window this state was made from (its start and end), if any."""
    for window in state.windows:
        if window.start == state.started_at and window.end == state.eta:
            return window
    return None


#: The operator's texts a page shows, each a section of its own (see :func:`operator_text`).
TEXT_SECTIONS: Final = ("reason", "message", "affected", "unaffected", "apology", "compensation")


@dataclass(frozen=True, slots=True)
class UpdateView:
    """One progress update as the page shows it: ``text`` in the page's language when the
    operator gave one, else the default language's, then ``lang`` names that language."""

    at: datetime
    text: str
    lang: str | None = None

    @property
    def lang_attr(self) -> str:
        """`` lang="en"`` when the text is in the default language on another's page, else ""."""
        from markupsafe import Markup

        return Markup(' lang="{}"').format(self.lang) if self.lang else Markup("")


def labels_in(
    links: Mapping[str, str | LocalizedLink], locale: str, fallback_lang: str | None
) -> tuple[dict[str, str], dict[str, str | None]]:
    """``links`` (label to href) with each label in ``locale`` where the option gives one
    (:class:`~maintenance_mode.settings.LocalizedLink`), and each shown label's language:
    ``fallback_lang`` for a default-language label, None for one in ``locale``."""
    out: dict[str, str] = {}
    langs: dict[str, str | None] = {}
    for label, target in links.items():
        own = None
        if isinstance(target, LocalizedLink):
            own = target.labels.get(locale) or target.labels.get(locale.split("_")[0])
            target = target.href
        out[own or label] = target
        langs[own or label] = None if own else fallback_lang
    return out, langs


def operator_text(
    state: MaintenanceState | Window,
    locale: str,
    fallback_lang: str | None,
    updates: Sequence[ProgressUpdate] = (),
    window: Window | None = None,
) -> tuple[dict[str, Any], dict[str, str | None], list[UpdateView]]:
    """The operator's texts in ``locale`` where given, each section whole in one language.

    Per section (reason, message, affected, unaffected, apology, compensation, each
    update), the text of ``state.translations`` for the locale (``fr_CA`` falls back to
    ``fr``) if it has that section, else the default language's, whole: a section is
    never mixed. Returns the texts, each section's language (``fallback_lang`` for a
    default-language section on another language's page, else None) and the updates.
    ``state`` may be a window (the banner announcing it): its own texts and translations.
    """
    block = None
    if state.translations:
        block = state.translations.get(locale) or state.translations.get(locale.split("_")[0])
    texts: dict[str, Any] = {}
    langs: dict[str, str | None] = {}
    for name in TEXT_SECTIONS:
        own = getattr(block, name, None) if block is not None else None
        if name in {"affected", "unaffected"}:
            default: Any = getattr(window, name) if window is not None else ()
            if window is not None and window.translations:  # the window's own first
                mine = window.translations.get(locale) or window.translations.get(
                    locale.split("_")[0]
                )
                own = getattr(mine, name, None) if mine is not None else None
        else:
            default = getattr(state, name, None)
        if own is not None and (default is not True or name != "apology"):
            texts[name], langs[name] = own, None
        else:
            texts[name] = default
            langs[name] = fallback_lang if default and not isinstance(default, bool) else None
    notes = block.updates if block is not None else {}
    views = [
        UpdateView(u.at, notes[u.at]) if u.at in notes else UpdateView(u.at, u.text, fallback_lang)
        for u in updates
    ]
    return texts, langs, views


def _inline_script(context: jinja2.runtime.Context, code: str) -> str:
    """The ``inline_script`` filter (``pass_context``): lets the CSP allow this script (by its
    hash)."""
    registry = context.get("_inline_scripts")
    if isinstance(registry, list):
        registry.append(str(code))
    return code


def _origin(url: str | None) -> str | None:
    """The https origin of a logo or favicon on another host, for img-src.

    Rebuilt from the checked host and port (settings.https_origin), never copied
    from the URL's text, so nothing else can reach the header.
    """
    if not url or not url.lower().startswith("https://"):
        return None
    try:
        return https_origin(url)
    except ValueError:  # settings refuse it; a Brand built with model_construct may not
        return None


def csp_for(body: str, img_origins: tuple[str, ...] = (), allowed: Collection[str] = ()) -> str:
    """The page's Content-Security-Policy: hashes for its own inline scripts, nothing else.

    A ``<script>`` element of ``body`` gets a ``'sha256-…'`` source only when its
    whole text is one of ``allowed`` (what the templates passed through the
    ``inline_script`` filter) and it has no ``src``.
    """
    hashes = []
    wanted = set(allowed)
    for attrs, code in _SCRIPT.findall(body):
        if "src" in attrs.lower() or code not in wanted:
            continue  # external, or not the templates' own: stays blocked
        digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    parts = ["default-src 'none'"]
    if hashes:
        parts += [f"script-src {' '.join(dict.fromkeys(hashes))}", "connect-src 'self'"]
    parts += [
        "style-src 'self' 'unsafe-inline'",
        " ".join(("img-src 'self' data:", *img_origins)),
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(parts)


@lru_cache(maxsize=1)
def _compiled_templates() -> jinja2.BytecodeCache:
    """Compiled templates shared by every Renderer in the process (keyed by file and source).

    Each middleware instance builds its own Environment; without this, each would
    compile the same templates again (tens of milliseconds each). Made by the first
    Renderer, with Jinja2.
    """
    import jinja2

    class CompiledTemplates(jinja2.BytecodeCache):
        def __init__(self, limit: int = 256) -> None:
            self._store: dict[str, bytes] = {}
            self._limit = limit

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            data = self._store.get(bucket.key)
            if data is not None:
                bucket.bytecode_from_string(data)

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if len(self._store) >= self._limit:
                self._store.clear()
            self._store[bucket.key] = bucket.bytecode_to_string()

    return CompiledTemplates()


def _text_direction(locale: str) -> str:
    """``ltr`` or ``rtl`` for a locale (Babel's CLDR data)."""
    from babel import Locale

    return str(Locale.parse(locale).text_direction)


class Renderer:
    """Loads the templates and catalogs once and renders 503 bodies.

    Template and catalog mistakes surface at start-up as ``ValueError``.
    """

    def __init__(self, settings: Settings, *, check_brand: bool = True) -> None:
        import jinja2  # here, not at the top: only a process that renders pays for it

        self.settings = settings
        try:
            self.catalogs = i18n.load_catalogs(
                default=settings.default_locale,
                locale_dir=settings.locale_dir,
                only=settings.locales,
            )
        except ValueError as exc:
            raise ValueError(f"maintenance-mode: option 'locales'/'locale_dir': {exc}") from None
        self.text_locale = self.catalogs.default
        self.zones = tuple(ZoneInfo(name) for name in settings.time_zones)
        self.img_origins = tuple(
            dict.fromkeys(
                o
                for o in (_origin(settings.brand.logo_url), _origin(settings.brand.favicon_url))
                if o
            )
        )
        if check_brand:  # the engine checks at start-up, before it builds its Renderer
            _check_brand(settings.brand)
        default = jinja2.FileSystemLoader(default_template_dir())
        loaders: list[jinja2.BaseLoader] = []
        if settings.template_dir is not None:
            loaders.append(jinja2.FileSystemLoader(settings.template_dir))
        loaders += [default, jinja2.PrefixLoader({"default": default})]
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default_for_string=True),
            undefined=jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            extensions=["jinja2.ext.i18n"],
            bytecode_cache=_compiled_templates(),
        )
        self.env.policies["ext.i18n.trimmed"] = True
        # English until a render passes its own locale's gettext (banner.html uses these).
        self.env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
        self.env.filters["datetime"] = format_datetime
        self.env.filters["isoformat"] = _isoformat
        self.env.filters["inline_script"] = jinja2.pass_context(_inline_script)
        self.page_renderer: PageRenderer | None = settings.page_renderer
        if settings.template_name is not None and self.page_renderer is None:
            raise ValueError(
                f"maintenance-mode: option 'template_name' ({settings.template_name!r}) names a "
                "template of Django's or Flask's own loaders, and this middleware has none; "
                "use template_dir with a maintenance.html instead"
            )
        try:
            self.html = self.env.get_template("maintenance.html")
            self.text = self.env.get_template("maintenance.txt")
            # A sample render finds errors in extended or included templates too.
            for kind in ("unplanned", "planned"):
                sample = _sample_state(kind)
                for template in (self.html, self.text):
                    for overrun in (False, True):
                        template.render(self.context(sample, overrun=overrun))
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or exc.name
            raise ValueError(
                f"maintenance-mode: template {where}: line {exc.lineno}: {exc.message}"
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise ValueError(
                f"maintenance-mode: template {exc.name!r} not found in "
                + (f"{settings.template_dir} or " if settings.template_dir else "")
                + "the default templates"
            ) from None
        except Exception as exc:
            raise ValueError(
                f"maintenance-mode: a template failed to render a sample page: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales pages are offered in (the default first is not implied)."""
        return self.catalogs.available

    def negotiate_locale(self, accept_language: str | None) -> str:
        """The locale for an ``Accept-Language`` header (cached; the default for junk)."""
        return self.catalogs.negotiate(accept_language)

    def _zones(self, window: Window | None) -> tuple[ZoneInfo, ...]:
        zones = self.zones
        if window is not None and window.timezone not in {z.key for z in zones}:
            zones = (*zones, ZoneInfo(window.timezone))
        return zones or (ZoneInfo("UTC"),)

    def refresh_seconds(self, retry_after: int | None) -> int:
        """The no-JS ``<meta http-equiv="refresh">`` delay: Retry-After within the poll bounds."""
        s = self.settings
        wanted = s.retry_after_default if retry_after is None else retry_after
        return math.ceil(max(s.poll_interval, min(float(wanted), s.poll_max_interval)))

    def context(
        self,
        state: MaintenanceState,
        *,
        overrun: bool,
        locale: str | None = None,
        retry_after: int | None = None,
        now: datetime | None = None,
        component: ComponentView | None = None,
        down: Sequence[ComponentView] = (),
        up: Sequence[ComponentView] = (),
    ) -> dict[str, Any]:
        """Everything a template gets (documented in docs/templates.md).

        ``component`` is the part of the site this 503 is about (partial
        maintenance; ``state`` is then that component's own state), ``down`` the
        components under maintenance and ``up`` those still working.
        """
        from markupsafe import Markup

        s = self.settings
        locale = locale or self.catalogs.default
        translations = self.catalogs.translations[locale]
        now = now or datetime.now(UTC)
        window = _active_window(state)
        zones = self._zones(window)
        fmt = i18n.Formatter(locale, zones, translations, now=now)
        from .status import latest_updates  # with the first page: a worker left off never pays

        updates, earlier_updates = latest_updates(state, s.timeline_limit)
        started, earliest, latest = state.started_at, state.eta_earliest, state.eta_latest
        duration = None
        if (
            started is not None
            and earliest is not None
            and latest is not None
            and earliest > started
        ):
            # From the instants as shown (to the minute), so the window and the duration agree.
            shown = _to_minute(started)
            duration = fmt.duration(
                _to_minute(earliest) - shown, _to_minute(latest) - shown, exact_minutes=True
            )
        text_lang = i18n.language_tag(self.text_locale)
        fallback = None if text_lang == i18n.language_tag(locale) else text_lang
        texts, langs, update_views = operator_text(state, locale, fallback, updates, window)
        links, link_langs = labels_in(s.links, locale, fallback)
        contacts = s.contacts
        if contacts.social:  # social labels in the page's language too
            social, social_langs = labels_in(contacts.social, locale, fallback)
            contacts = contacts.model_copy(update={"social": social})
            link_langs = {**social_langs, **link_langs}
        groups, page_links = contact_groups(contacts, links)
        return {
            **i18n.jinja_gettext(translations),
            "site_name": s.site_name,
            "brand": s.brand,
            "tone": s.tone,
            "state": state,
            "kind": state.kind,
            **texts,  # reason, message, affected, unaffected, apology, compensation
            "text_langs": langs,
            "text_lang_attrs": {
                name: Markup(' lang="{}"').format(tag) if tag else Markup("")
                for name, tag in langs.items()
            },
            "started_at": started,
            "eta": state.eta,
            "eta_earliest": earliest,
            "eta_latest": latest,
            "eta_is_range": earliest != latest,
            "overrun": overrun,
            "duration": duration,
            "eta_revised": state.eta_revised_at is not None,
            "next_update": next_update_due(state, s.overrun_update_every) if overrun else None,
            "updates": update_views,
            "earlier_updates": earlier_updates,
            "window": window,
            "contacts": contacts,
            "links": list(links.items()),
            "label_lang_attrs": {
                label: Markup(' lang="{}"').format(tag) if tag else Markup("")
                for label, tag in link_langs.items()
            },
            "contact_groups": groups,
            "page_links": page_links,
            "status": 503,
            "locale": locale,
            "lang": i18n.language_tag(locale),
            "text_direction": _text_direction(locale),
            "text_lang": None if text_lang == i18n.language_tag(locale) else text_lang,
            "text_lang_attr": Markup("")
            if text_lang == i18n.language_tag(locale)
            else Markup(' lang="{}"').format(text_lang),
            "time_zones": zones,
            "zone_names": i18n.zone_keys(zones),
            "format_moment": fmt.moment,
            "format_span": fmt.span,
            "format_short": fmt.short,
            "format_duration": fmt.duration,
            "refresh_seconds": self.refresh_seconds(retry_after),
            "poll_interval": s.poll_interval,
            "poll_max_interval": s.poll_max_interval,
            **_component_context(component, down, up),
            "_inline_scripts": [],
        }

    def problem(
        self,
        state: MaintenanceState,
        *,
        overrun: bool,
        locale: str | None = None,
        component: ComponentView | None = None,
        down: Sequence[ComponentView] = (),
        up: Sequence[ComponentView] = (),
    ) -> dict[str, Any]:
        """The RFC 9457 problem document, with the page's facts as extension members.

        Field names and values are machine-stable (English, ISO 8601 UTC); ``detail``,
        ``reason``, ``message`` and the updates' texts follow the negotiated locale where
        the operator gave that language (else the default language's, whole).
        ``retry_after`` is added per request (see :class:`Page`).
        """
        s = self.settings
        locale = locale or self.catalogs.default
        from .status import latest_updates  # with the first page: a worker left off never pays

        updates, earlier_updates = latest_updates(state, s.timeline_limit)
        texts, _, views = operator_text(state, locale, None, updates)
        detail = self._detail(state, locale)[0]
        links = labels_in(s.links, locale, None)[0]
        contacts = s.contacts.model_dump(exclude_none=True)
        contacts["social"] = labels_in(s.contacts.social, locale, None)[0]
        if not contacts.get("social"):
            contacts.pop("social", None)
        return {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": detail,
            "kind": state.kind,
            "reason": texts["reason"],
            "message": texts["message"],
            "started_at": _isoformat(state.started_at) or None,
            "eta": None
            if state.eta is None
            else {
                "earliest": _isoformat(state.eta_earliest),
                "latest": _isoformat(state.eta_latest),
            },
            "overrun": overrun,
            "updates": [{"at": _isoformat(u.at), "text": u.text} for u in views],
            "earlier_updates": earlier_updates,
            "contacts": contacts,
            "links": [{"label": label, "href": href} for label, href in links.items()],
            **_component_problem(component, down, up),
        }

    def _detail(self, state: MaintenanceState, locale: str) -> tuple[str, str]:
        """problem+json's ``detail`` in ``locale`` and the language it is in (for
        ``Content-Language``): the reason, else the message, else the fixed sentence."""
        texts, langs, _ = operator_text(state, locale, i18n.language_tag(self.text_locale))
        for name in ("reason", "message"):
            if texts[name]:
                return texts[name], langs[name] or i18n.language_tag(locale)
        fixed = self.catalogs.translations[locale].gettext(i18n.DEFAULT_DETAIL)
        return fixed, i18n.language_tag(locale)

    def page(
        self,
        variant: Variant,
        state: MaintenanceState,
        *,
        overrun: bool,
        locale: str | None = None,
        retry_after: int | None = None,
        status_url: str | None = None,
        component: ComponentView | None = None,
        down: Sequence[ComponentView] = (),
        up: Sequence[ComponentView] = (),
        home_url: str = "/",
    ) -> Page:
        """Render one form of the 503 in one locale (once per state; the engine caches it).

        A template that fails at render time is logged and replaced by plain text:
        a designer's mistake must never turn the 503 into a 500.
        """
        locale = locale or self.catalogs.default
        language = i18n.language_tag(locale)
        if variant == "json":
            doc = self.problem(
                state, overrun=overrun, locale=locale, component=component, down=down, up=up
            )
            data = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            language = self._detail(state, locale)[1]  # the language ``detail`` is in
            return Page(variant, data.encode("utf-8"), _headers(_CONTENT_TYPE["json"], language))
        template = self.html if variant == "html" else self.text
        try:
            context = self.context(
                state,
                overrun=overrun,
                locale=locale,
                retry_after=retry_after,
                component=component,
                down=down,
                up=up,
            )
            context["status_url"] = status_url
            context["home_url"] = home_url
            text = self._body(template, variant, context)
        except Exception:
            logger.exception("template %s failed to render; sent plain text", template.name)
            text, variant, language = _fallback_text(state), "text", "en"
            context = {}
        if variant == "text" and not text.endswith("\n"):
            text += "\n"
        scripts = context.get("_inline_scripts", ())
        csp = csp_for(text, self.img_origins, scripts) if variant == "html" else CSP
        return Page(variant, text.encode("utf-8"), _headers(_CONTENT_TYPE[variant], language, csp))

    def _body(self, template: jinja2.Template, variant: Variant, context: dict[str, Any]) -> str:
        """The page's text: the project's own template (``page_renderer``) or ours, typeset
        for the locale (text nodes only: :func:`maintenance_mode.i18n.typeset_html`)."""
        locale = context["locale"]
        if variant != "html":
            return i18n.typeset(template.render(context), locale)
        text = self._project_page(context) if self.page_renderer is not None else None
        return i18n.typeset_html(template.render(context) if text is None else text, locale)

    def _project_page(self, context: dict[str, Any]) -> str | None:
        """The page from the project's template (``page_renderer``), or None when it fails.

        It gets the same context as ours plus ``page_script``: base.html's ``script`` block
        (the visitor's time zone and the reload), allowed by its hash like ours. Its CSP is
        the library's (:func:`csp_for`). A failure is one line on the ``maintenance_mode``
        logger, and the library's page is sent instead: never a 500.
        """
        from markupsafe import Markup

        assert self.page_renderer is not None  # for the type checker: the caller checked
        base = self.env.get_template("base.html")
        block = base.blocks.get("script")  # a base.html of your own may have none
        script = "".join(block(base.new_context(context))).strip() if block else ""
        context = {**context, "page_script": Markup(script)}  # noqa: S704 - our own template
        try:
            return self.page_renderer(context)
        except Exception as exc:
            logger.error(  # one line: the template's error, not a traceback of ours
                "template_name %r failed to render (%s: %s); sent the library's page instead",
                self.settings.template_name,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )
            return None


def _component_context(
    component: ComponentView | None, down: Sequence[ComponentView], up: Sequence[ComponentView]
) -> dict[str, Any]:
    """The template variables of partial maintenance (empty lists when the whole site is down)."""
    others = [c for c in down if component is None or c.name != component.name]
    return {
        "component": component,
        "down": list(down),
        "up": list(up),
        "also_down": others,
        "up_links": [c for c in up if c.link],
        "home_url": "/",
    }


def _component_problem(
    component: ComponentView | None, down: Sequence[ComponentView], up: Sequence[ComponentView]
) -> dict[str, Any]:
    """problem+json members of a component 503: what is down, what still works (else nothing)."""
    if component is None:
        return {}
    return {
        "component": {"name": component.name, "label": component.label},
        "also_down": [{"name": c.name, "label": c.label} for c in down if c.name != component.name],
        "still_working": [{"name": c.name, "label": c.label, "href": c.link} for c in up],
    }


def _headers(
    content_type: str, language: str = "en", csp: str = CSP
) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("Vary", "Accept, Accept-Language"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", csp),
        ("Referrer-Policy", "no-referrer"),
        ("Content-Language", language),
    )


def assemble(page: Page, retry_after: int) -> Response:
    """The complete 503 for one Retry-After value (cheap: no rendering)."""
    body = page.body
    if page.variant == "json":
        body = b'{"retry_after":%d,' % retry_after + body[1:]
    headers = (
        *page.headers,
        ("Content-Length", str(len(body))),
        ("Retry-After", str(retry_after)),
    )
    return Response(503, headers, body)


def _fallback_text(state: MaintenanceState) -> str:
    lines = ["Service unavailable: down for maintenance."]
    if state.reason:
        lines.append(state.reason)
    if state.eta_latest is not None:
        lines.append(f"Expected back by {format_datetime(state.eta_latest)}.")
    return "\n".join(lines) + "\n"


#: Network names for social links whose label is too short to tap or read alone ("X").
_NETWORKS: Final = {
    "x.com": "X",
    "twitter.com": "X",
    "bsky.app": "Bluesky",
    "linkedin.com": "LinkedIn",
    "facebook.com": "Facebook",
    "instagram.com": "Instagram",
    "github.com": "GitHub",
    "youtube.com": "YouTube",
    "threads.net": "Threads",
}


def social_label(label: str, href: str) -> str:
    """The network name and the handle ("X @acme"), so no social link reads as one letter."""
    from urllib.parse import urlsplit

    parts = urlsplit(href)
    host = (parts.hostname or "").removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    handle = segments[-1] if segments else ""
    if handle.startswith("@") and host not in _NETWORKS:
        handle = f"{handle}@{host}"  # a fediverse handle names its server
    elif handle:
        handle = "@" + handle.lstrip("@")
    name = label if len(label) > 1 else _NETWORKS.get(host, label)
    if handle and handle.lstrip("@").split("@")[0].lower() not in name.lower():
        return f"{name} {handle}"
    return name if len(name) > 1 else f"{name} ({host})"


def _same_link(href: str) -> str:
    """A link as compared for duplicates: scheme and host case, a trailing slash ignored."""
    head, sep, rest = href.partition("://")
    if sep:
        host, slash, path = rest.partition("/")
        href = f"{head.lower()}://{host.lower()}{slash}{path}"
    return href.rstrip("/") or "/"


def contact_groups(
    contacts: Contacts, links: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The contacts by purpose, and the ``links`` not already among them.

    Groups, in this order and each only when it has an item: ``urgent`` (the emergency
    phone), ``self_service`` (status page, FAQ, "get notified"), ``write`` (form, e-mail,
    phone) and ``social``. An item is ``{"kind", "href", "value"}``; ``value`` is the
    address or number shown, or a social link's label. A link seen once is not repeated.
    """
    seen: set[str] = set()

    def item(kind: str, href: str | None, value: str = "") -> list[dict[str, str]]:
        if not href or _same_link(href) in seen:
            return []
        seen.add(_same_link(href))
        return [{"kind": kind, "href": href, "value": value}]

    def tel(number: str | None) -> str | None:
        return None if number is None else "tel:" + re.sub(r"[^0-9+]", "", number)

    c = contacts
    groups = {
        "urgent": item("emergency_phone", tel(c.emergency_phone), c.emergency_phone or ""),
        "self_service": item("status_page", c.status_page)
        + item("faq", c.faq)
        + item("notify", c.notify),
        "write": item("form", c.form)
        + item("email", c.email and f"mailto:{c.email}", c.email or "")
        + item("phone", tel(c.phone), c.phone or ""),
        "social": [
            entry
            for label, href in labels_in(c.social, "", None)[0].items()  # plain hrefs
            for entry in item("social", href, social_label(label, href))
        ],
    }
    remaining = [(label, href) for label, href in links.items() if _same_link(href) not in seen]
    return [{"key": k, "items": v} for k, v in groups.items() if v], remaining
