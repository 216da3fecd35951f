"""Languages of the page: gettext catalogs, Accept-Language negotiation, Babel formatting.

Catalogs are gettext files in ``<lang>/LC_MESSAGES/maintenance_mode.*``: the
packaged ones in ``maintenance_mode/locale/`` and, with the ``locale_dir``
option, your own in the same layout. A catalog of yours for a language we ship
overrides our strings one by one; a new language is added by dropping its file
in. English is the source language (the msgids).

Packaged catalogs ship compiled. The wheel holds one ``.mo`` per language (the
build hook, ``hatch_build.py``, checks and compiles the ``.po`` sources with
Babel) and no ``.po``; they are loaded as they are, nothing is compiled at run
time. A source checkout or an editable install has only the ``.po`` files: for
a language without a ``.mo`` (or whose ``.mo`` is older than its ``.po``, after
a manual ``pybabel compile`` and an edit), the ``.po`` is read, checked and
compiled in memory instead, so the checkout needs no build step and never
serves stale strings. Your own catalogs (``locale_dir``) are always ``.po``
files, read and checked the same way (no compile step for you either).

Babel, Jinja2, MarkupSafe and Werkzeug are imported inside the functions that use
them: a worker that never renders a page or a banner never loads them.

Trust model: catalogs are trusted like templates (a translation may hold
markup); every value a translation interpolates (site name, operator text,
formatted times) is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import io
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from ._records import FrozenRecord

if TYPE_CHECKING:  # imported where used: a worker that never renders never loads them
    from gettext import NullTranslations

    from babel import Locale
    from babel.support import Translations
    from jinja2.runtime import Context

__all__ = [
    "DOMAIN",
    "N_",
    "Catalogs",
    "Formatter",
    "load_catalogs",
    "negotiate_language",
    "packaged_locale_dir",
]

#: The gettext domain: catalogs are ``<lang>/LC_MESSAGES/maintenance_mode.po``.
DOMAIN: Final = "maintenance_mode"
#: The language of the msgids; always available, needs no catalog.
SOURCE_LOCALE: Final = "en"
_MAX_ACCEPT_LANGUAGE = 512
_PLACEHOLDER = r"%\((\w+)\)s"


@cache
def _re(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled at its first use: rendering needs these, a worker that is off
    never does (compiling them all at import cost about 2 ms of every start-up)."""
    return re.compile(pattern)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, with the page's locale."""
    return message


#: Strings the Python side translates (extracted with the ``N_`` keyword).
ZONE_TIME = N_("%(city)s time")
TIME_IN_ZONE = N_("%(time)s %(zone)s")
RANGE = N_("%(low)s to %(high)s")
DEFAULT_DETAIL = N_("The service is down for maintenance.")


def packaged_locale_dir() -> Path:
    """The catalogs shipped inside the package."""
    return Path(__file__).resolve().parent / "locale"


def packaged_locales() -> frozenset[str]:
    """The locale names of the packaged catalogs, and English (folder names: no Babel needed)."""
    return frozenset({SOURCE_LOCALE, *_catalog_files(packaged_locale_dir(), compiled=True)})


# -- catalogs ---------------------------------------------------------------------------


def _catalog_files(root: Path, *, compiled: bool = False) -> dict[str, Path]:
    """``{locale: path}`` for every ``<lang>/LC_MESSAGES/maintenance_mode.po`` under ``root``.

    With ``compiled`` (the packaged catalogs), a ``.mo`` is taken instead of its
    ``.po`` unless the ``.po`` is newer, and a ``.mo`` alone is enough.
    """
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for po in sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        found[po.parent.parent.name] = po
    if compiled:
        for mo in sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")):
            po = mo.with_suffix(".po")
            if not po.exists() or mo.stat().st_mtime_ns >= po.stat().st_mtime_ns:
                found[mo.parent.parent.name] = mo
    return found


def _canonical(name: str, where: Path | None = None) -> str:
    """A Babel locale identifier (``pt_BR``), or ValueError naming the file."""
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(name.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        at = f" ({where})" if where else ""
        raise ValueError(
            f"{name!r} is not a locale Babel knows{at}; name folders like 'fr', 'pt_BR'"
        ) from None


def _check_message(msgid: object, msgstr: str, where: str) -> None:
    """A translation must format with exactly the msgid's placeholders (never raise later)."""
    ids = tuple(msgid) if isinstance(msgid, tuple | list) else (str(msgid),)
    names = {name for text in ids for name in _re(_PLACEHOLDER).findall(text)}
    try:
        msgstr % dict.fromkeys(names, "x")
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(
            f"{where}: translation {msgstr!r} of {ids[0]!r} does not format "
            f"({type(exc).__name__}: {exc}); use only {sorted(names) or 'no'} placeholders "
            "and write a literal % as %%"
        ) from None


@lru_cache(maxsize=64)
def _read_catalog(path: Path, mtime_ns: int) -> Translations:
    """Parse, check and load one ``.po`` file (cached per file version)."""
    from babel.messages.mofile import write_mo  # only for .po files: not loaded from a wheel
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with path.open("rb") as fh:
        try:
            catalog = read_po(fh, domain=DOMAIN)
        except Exception as exc:  # babel raises assorted errors on broken files
            raise ValueError(f"{path}: not a readable .po file ({exc})") from None
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        for text in strings:
            if isinstance(text, str) and text:
                _check_message(message.id, text, f"{path}:{message.lineno}")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@lru_cache(maxsize=64)
def _read_compiled(path: Path, mtime_ns: int) -> Translations:
    """Load one packaged ``.mo`` file, checked when the wheel was built (cached per version)."""
    from babel.support import Translations

    with path.open("rb") as fh:
        try:
            return Translations(fh, domain=DOMAIN)
        except (OSError, struct.error) as exc:  # gettext's errors for a broken file
            raise ValueError(
                f"{path}: not a readable .mo file ({exc}); reinstall maintenance-mode"
            ) from None


def _load(path: Path) -> Translations:
    read = _read_compiled if path.suffix == ".mo" else _read_catalog
    return read(path, path.stat().st_mtime_ns)


class Catalogs(FrozenRecord):
    """The languages the page is offered in, and their translations."""

    __slots__ = __match_args__ = ("default", "available", "translations")

    default: str
    available: tuple[str, ...]
    translations: Mapping[str, NullTranslations]

    def __init__(
        self, default: str, available: tuple[str, ...], translations: Mapping[str, NullTranslations]
    ) -> None:
        init = object.__setattr__
        init(self, "default", default)
        init(self, "available", available)
        init(self, "translations", translations)

    def negotiate(self, accept_language: str | None) -> str:
        """The best offered locale for an ``Accept-Language`` header, else the default."""
        return negotiate_language(accept_language, self.available, self.default)


def load_catalogs(
    *, default: str, locale_dir: Path | None = None, only: Iterable[str] = ()
) -> Catalogs:
    """Read the packaged catalogs and those in ``locale_dir``; raise ValueError on mistakes."""
    packaged = {
        _canonical(k, p): p for k, p in _catalog_files(packaged_locale_dir(), compiled=True).items()
    }
    own = {_canonical(k, p): p for k, p in _catalog_files(locale_dir).items()} if locale_dir else {}
    names = sorted({SOURCE_LOCALE, *packaged, *own})
    wanted = [_canonical(name) for name in only]
    if wanted:
        missing = [name for name in wanted if name not in names]
        if missing:
            raise ValueError(
                f"no catalog for {', '.join(map(repr, missing))}; available: {', '.join(names)}"
                + ("" if locale_dir else " (add your own with locale_dir)")
            )
        names = wanted
    default = _canonical(default)
    if default not in names:
        raise ValueError(f"default locale {default!r} is not among {', '.join(names)}")
    from gettext import NullTranslations

    translations: dict[str, NullTranslations] = {}
    for name in names:
        chain: list[NullTranslations] = []
        for candidate in dict.fromkeys((name, name.split("_")[0])):  # pt_BR, then pt
            for source in (own, packaged):
                if candidate in source:
                    chain.append(_load(source[candidate]))
        head: NullTranslations = chain[0] if chain else NullTranslations()
        for fallback in chain[1:]:
            head.add_fallback(fallback)
        translations[name] = head
    return Catalogs(default=default, available=tuple(names), translations=translations)


@lru_cache(maxsize=512)
def _negotiate(header: str, available: tuple[str, ...], default: str) -> str:
    from babel.core import negotiate_locale as babel_negotiate
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    try:
        accepted = parse_accept_header(header, LanguageAccept)
    except ValueError:  # pragma: no cover - werkzeug tolerates junk
        return default
    preferred = [
        tag.replace("-", "_").lower() for tag, quality in accepted if quality > 0 and tag != "*"
    ]
    offered = {name.lower(): name for name in available}
    found = babel_negotiate(preferred, list(offered))
    return offered.get(found.lower(), default) if found else default


def negotiate_language(header: str | None, available: tuple[str, ...], default: str) -> str:
    """Babel negotiation over the tags of ``Accept-Language``, best quality first.

    ``fr-CA`` falls back to ``fr``; junk, ``*``, q=0 and headers longer than 512
    characters give ``default``. Results are cached (the header space is small).
    """
    if not header or len(header) > _MAX_ACCEPT_LANGUAGE:
        return default
    return _negotiate(header, available, default)


def language_tag(locale: str) -> str:
    """The BCP 47 tag for ``lang=`` and ``Content-Language`` (``pt_BR`` → ``pt-BR``)."""
    return locale.replace("_", "-")


# -- Jinja2 gettext callables -----------------------------------------------------------


def jinja_gettext(translations: NullTranslations) -> dict[str, Callable[..., str]]:
    """``gettext``/``ngettext``/``_`` for one render, with Jinja2's "newstyle" semantics.

    The translation is markup (trusted); the variables it interpolates are escaped.
    """
    from jinja2 import pass_context
    from markupsafe import Markup

    def _finish(context: Context, text: str, variables: Mapping[str, Any]) -> str:
        if context.eval_ctx.autoescape:
            return Markup(text) % variables  # noqa: S704 - catalogs are trusted like templates
        return text % variables

    @pass_context
    def gettext(context: Context, message: str, **variables: Any) -> str:
        return _finish(context, translations.gettext(message), variables)

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return _finish(context, translations.ngettext(singular, plural, num), variables)

    @pass_context
    def pgettext(context: Context, ctx: str, message: str, **variables: Any) -> str:
        return _finish(context, translations.pgettext(ctx, message), variables)

    return {"gettext": gettext, "ngettext": ngettext, "pgettext": pgettext, "_": gettext}


# -- formatting -------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _skeleton_pattern(locale: Locale, skeleton: str) -> str:
    """The locale's pattern for a skeleton (Babel's fuzzy match is slow: once per pair)."""
    from babel.dates import match_skeleton

    skeletons = locale.datetime_skeletons
    if skeleton not in skeletons:
        skeleton = match_skeleton(skeleton, skeletons) or skeleton
    return str(skeletons[skeleton])


def _format_skeleton(skeleton: str, value: datetime, zone: ZoneInfo, locale: Locale) -> str:
    from babel.dates import format_datetime

    return format_datetime(value, _skeleton_pattern(locale, skeleton), tzinfo=zone, locale=locale)


class Formatter:
    """Exact times in the configured zones, and durations, for one locale (Babel, CLDR).

    The first zone leads ("Friday, November 27, 2:00 PM Paris time"); the others
    follow in parentheses, with their date only when it differs.
    """

    def __init__(
        self,
        locale: str,
        zones: tuple[ZoneInfo, ...],
        translations: NullTranslations,
        *,
        now: datetime | None = None,
    ) -> None:
        from babel import Locale

        self.locale = Locale.parse(locale)
        self.zones = zones or (ZoneInfo("UTC"),)
        self.gettext = translations.gettext
        self.now = now or datetime.now(UTC)
        pattern = self.locale.time_formats["short"].pattern
        self._hm = "hm" if "h" in pattern or "K" in pattern else "Hm"
        self._glue = str(self.locale.datetime_formats["medium"])
        self._fallback = str(self.locale.interval_formats.get(None) or "{0} \u2013 {1}")

    # zones
    def zone_label(self, zone: ZoneInfo) -> str:
        """'Paris time', 'heure de Paris', 'UTC'."""
        if zone.key in {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu"}:
            return "UTC"
        from babel.dates import get_timezone_location

        city = get_timezone_location(zone, locale=self.locale, return_city=True)
        return self.gettext(ZONE_TIME) % {"city": city}

    def _date(self, value: datetime, zone: ZoneInfo, *, short: bool = False) -> str:
        local = value.astimezone(zone)
        skeleton = "MMMEd" if short else "MMMMEEEEd"
        if local.year != self.now.astimezone(zone).year:
            skeleton = "y" + skeleton
        return _format_skeleton(skeleton, local, zone, self.locale)

    def _time(self, value: datetime, zone: ZoneInfo) -> str:
        return _format_skeleton(self._hm, value, zone, self.locale)

    def _in_zone(self, text: str, zone: ZoneInfo) -> str:
        return self.gettext(TIME_IN_ZONE) % {"time": text, "zone": self.zone_label(zone)}

    def _datetime(self, value: datetime, zone: ZoneInfo, *, short: bool = False) -> str:
        return self._glue.replace("{1}", self._date(value, zone, short=short)).replace(
            "{0}", self._time(value, zone)
        )

    def _same_day(self, a: datetime, b: datetime, zone: ZoneInfo) -> bool:
        return a.astimezone(zone).date() == b.astimezone(zone).date()

    # public
    def moment(self, value: datetime) -> str:
        """One instant: the full date and time in the first zone, the time in the others."""
        first, *others = self.zones
        text = self._in_zone(self._datetime(value, first), first)
        extra = []
        for zone in others:
            same = value.astimezone(zone).date() == value.astimezone(first).date()
            shown = self._time(value, zone) if same else self._datetime(value, zone)
            extra.append(self._in_zone(shown, zone))
        return text + (f" ({'; '.join(extra)})" if extra else "")

    def span(self, start: datetime, end: datetime) -> str:
        """Two instants as a range, e.g. '10:00 AM - 2:00 PM Paris time (4:00 - 8:00 AM ...)'."""
        first, *others = self.zones
        text = self._in_zone(self._span(start, end, first, with_date=True), first)
        extra = []
        for zone in others:
            same = start.astimezone(zone).date() == start.astimezone(first).date()
            extra.append(self._in_zone(self._span(start, end, zone, with_date=not same), zone))
        return text + (f" ({'; '.join(extra)})" if extra else "")

    def _span(self, start: datetime, end: datetime, zone: ZoneInfo, *, with_date: bool) -> str:
        if self._same_day(start, end, zone):
            from babel.dates import format_interval

            times = format_interval(start, end, self._hm, tzinfo=zone, locale=self.locale)
            if not with_date:
                return times
            return self._glue.replace("{1}", self._date(start, zone)).replace("{0}", times)
        left = self._datetime(start, zone) if with_date else self._time(start, zone)
        return self._fallback.replace("{0}", left).replace("{1}", self._datetime(end, zone))

    def short(self, value: datetime) -> str:
        """The first zone only, short date: 'Fri, Nov 27, 2:00 PM Paris time' (timelines)."""
        first = self.zones[0]
        return self._in_zone(self._datetime(value, first, short=True), first)

    def duration(
        self, low: timedelta, high: timedelta | None = None, *, exact_minutes: bool = False
    ) -> str:
        """'45 minutes', '4 hours', '4 to 6 hours', '2 to 3 days' (rounded, never 0).

        Minutes go by fives unless ``exact_minutes``: a duration between two times
        the page shows (to the minute) then says exactly what they say.
        """
        from babel.numbers import format_decimal
        from babel.units import format_unit

        single = high is None
        high = low if high is None else high
        seconds = max(high.total_seconds(), low.total_seconds(), 60.0)
        if seconds < 90 * 60:
            unit, size, step = "duration-minute", 60.0, 1.0 if exact_minutes else 5.0
        elif seconds < 48 * 3600:
            unit, size, step = "duration-hour", 3600.0, 0.5 if seconds < 10 * 3600 else 1.0
        else:
            unit, size, step = "duration-day", 86400.0, 1.0

        def rounded(value: timedelta, up: bool) -> float:
            steps = value.total_seconds() / size / step
            amount = max(step, (math.ceil(steps - 1e-9) if up else math.floor(steps)) * step)
            return int(amount) if amount == int(amount) else amount

        hi = rounded(high, up=True)
        lo = hi if single else rounded(low, up=False)
        if lo >= hi:
            return format_unit(hi, unit, locale=self.locale)
        return self.gettext(RANGE) % {
            "low": format_decimal(lo, locale=self.locale),
            "high": format_unit(hi, unit, locale=self.locale),
        }


def zone_keys(zones: Iterable[ZoneInfo]) -> str:
    """The IANA names, space-separated (for the visitor's-own-zone script)."""
    return " ".join(zone.key for zone in zones)


# -- typography -------------------------------------------------------------------------

#: U+00A0, the no-break space (French: before ``:``, inside « »).
NBSP: Final = "\u00a0"
#: U+202F, the narrow no-break space (French: before ``;``, ``!``, ``?``).
NNBSP: Final = "\u202f"

#: Double quotes per language: (opening, closing); a language not listed is left alone.
_DOUBLE: Final = {
    "en": ("\u201c", "\u201d"),  # “…”
    "de": ("\u201e", "\u201c"),  # „…“
    "fr": ("\u00ab" + NBSP, NBSP + "\u00bb"),  # « … »
    "es": ("\u00ab", "\u00bb"),  # «…» (RAE: angular first)
}
#: An opening single quote per language (a closing one is the apostrophe, U+2019).
_SINGLE_OPEN: Final = {"en": "\u2018", "de": "\u201a", "fr": "\u2018", "es": "\u2018"}

# Protected spans become one character of Unicode plane 15 (private use): "glue" ones
# (tags) are transparent to the rules, "solid" ones (URLs, e-mail addresses, code,
# entities, <script>/<style>/<pre>/<code> elements) are never changed and count as symbols.
_GLUE_BASE, _SOLID_BASE, _SPAN = 0xF0000, 0xF8000, 0x8000
_GLUE = "[\U000f0000-\U000f7fff]*"
# Patterns are strings (flags inline), compiled at first use by _re.
_PLANE15 = "[\U000f0000-\U000ffffd]"
_SOLID = (
    r"(?i)`[^`\n]*`"  # code, as operators write it
    r"|\b(?:[a-z][a-z0-9+.-]*://|mailto:|tel:|www\.)[^\s<>\"`«»“”„\U000f0000-\U000ffffd]*"  # URLs
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
)
_RAW_ELEMENT = r"(?is)<(script|style|pre|code|kbd|samp|textarea)\b[^>]*>.*?</\1\s*>|<!--.*?-->"
_TAG = r"<[/!?]?[a-zA-Z][^>]*>"
_ENTITY = r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);"
#: Quotes as Jinja2, Django or MarkupSafe escape them (needed in attributes, not in text).
_QUOTE_ENTITY = r"&(?:#0*3[49]|#[xX]0*2[27]|quot|apos);"
_LANG_START = r"<([a-zA-Z][\w-]*)\b[^>]*?\slang=\"([^\"]*)\"[^>]*>"
#: After a letter (tags between allowed): where French wants its no-break spaces.
_WORD_END = rf"([^\W\d_]{_GLUE}|[»)\]]{_GLUE})"
_FR_RULES: Final = (
    (rf"[ \u2009\u202f]+(?={_GLUE}:)", NBSP),  # "Début :" (not 10:30, not URLs)
    (rf"{_WORD_END}:(?={_GLUE}(?:\s|$))", rf"\1{NBSP}:"),  # "Début:" too
    (rf"[ \u00a0\u2009]+(?={_GLUE}[;!?])", NNBSP),  # "Quoi ?" (narrow)
    (rf"{_WORD_END}([;!?])(?={_GLUE}(?:[\s»)!?.]|$))", rf"\1{NNBSP}\2"),
    ("«[ \u00a0\u2009\u202f]*", "«" + NBSP),  # « texte »
    ("[ \u00a0\u2009\u202f]*»", NBSP + "»"),
)


def _language(locale: str) -> str:
    return locale.replace("-", "_").split("_")[0].lower()


def _protect(text: str, spans: list[str], pattern: str, base: int) -> str:
    def hold(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return chr(base + len(spans) - 1)

    return _re(pattern).sub(hold, text)


def _restore(text: str, spans: list[str]) -> str:
    def back(match: re.Match[str]) -> str:
        code = ord(match.group(0))
        index = code - (_SOLID_BASE if code >= _SOLID_BASE else _GLUE_BASE)
        return spans[index]

    return _re(_PLANE15).sub(back, text)


def _rules(text: str, language: str) -> str:
    """Apply one language's rules to text whose protected spans are placeholders."""
    opening, closing = _DOUBLE[language]
    # Straight double quotes: opening at the start, after a space, a tag or an opening mark.
    text = re.sub(r'(^|[\s(\[{\u2014\u2013/\U000f0000-\U000f7fff-])"', rf"\1{opening}", text)
    text = text.replace('"', closing)
    # Apostrophes (l'heure, it's): after a letter or digit; an opening single quote otherwise.
    text = re.sub(rf"([^\W_]{_GLUE})'", "\\1\u2019", text)
    text = re.sub(r"(^|[\s(\[\U000f0000-\U000f7fff])'(?=\w)", rf"\1{_SINGLE_OPEN[language]}", text)
    text = text.replace("'", "\u2019")
    if language == "fr":
        for pattern, replacement in _FR_RULES:
            text = _re(pattern).sub(replacement, text)
    return text


def typeset(text: str, locale: str) -> str:
    """Plain ``text`` with the typography of ``locale``'s language (en, fr, de, es).

    All four: the typographic apostrophe (U+2019) for a straight one, and the
    language's quotation marks for straight double quotes (en “…”, de „…“,
    es «…», fr « … »). French follows the Imprimerie nationale's *Lexique des
    règles typographiques*: a narrow no-break space (U+202F) before ``;``, ``!``
    and ``?``, a no-break space (U+00A0) before ``:`` and inside « », whether the
    text had an ordinary space there or none after a word (a colon between
    digits, as in 10:30, is left alone). Spanish ``¿ ¡`` and German punctuation
    need nothing. URLs, e-mail addresses and `code` are never changed; other
    languages are returned as they are. Idempotent: a second pass changes nothing.
    """
    language = _language(locale)
    if language not in _DOUBLE or _re(_PLANE15).search(text):
        return text
    spans: list[str] = []
    held = _protect(text, spans, _SOLID, _SOLID_BASE)
    return _restore(_rules(held, language), spans)


def typeset_html(html: str, locale: str) -> str:
    """:func:`typeset` for the text of an HTML document, never its markup.

    Tags and their attributes (``href``, ``data-…``, ``aria-label``), entities,
    comments and the contents of ``script``, ``style``, ``pre``, ``code``,
    ``kbd``, ``samp`` and ``textarea`` are left exactly as they are; inline
    tags do not stop a rule (``<b>Note</b>:`` gets its space). An element with
    its own ``lang="…"`` (operator text in another language) is typeset in
    that language.
    """
    language = _language(locale)
    if _re(_PLANE15).search(html):
        return html
    spans: list[str] = []
    held = _protect(html, spans, _RAW_ELEMENT, _SOLID_BASE)
    held = _own_languages(held, spans, language)
    if language not in _DOUBLE:
        return _restore(held, spans)
    held = _protect(held, spans, _TAG, _GLUE_BASE)
    held = _re(_QUOTE_ENTITY).sub(
        lambda m: "'" if m.group(0)[-3:] in ("39;", "27;", "os;") else '"', held
    )
    held = _protect(held, spans, _ENTITY, _SOLID_BASE)
    held = _protect(held, spans, _SOLID, _SOLID_BASE)
    return _restore(_rules(held, language), spans)


def _own_languages(html: str, spans: list[str], page: str) -> str:
    """Typeset each element whose ``lang`` differs from the page's, and hold it as solid."""
    out: list[str] = []
    at = 0
    for start in _re(_LANG_START).finditer(html):
        if start.start() < at:
            continue  # inside an element already handled
        name, lang = start.group(1).lower(), start.group(2)
        if _language(lang) == page or name == "html":
            continue
        end = _element_end(html, name, start.end())
        if end is None:
            continue
        inner = typeset_html(_restore(html[start.end() : end], spans), lang)
        out += [html[at : start.end()], chr(_SOLID_BASE + len(spans))]
        spans.append(inner)
        at = end
    out.append(html[at:])
    return "".join(out)


def _element_end(html: str, name: str, begin: int) -> int | None:
    """Where the element ``name`` opened just before ``begin`` closes (nesting counted)."""
    depth = 0
    for tag in re.finditer(rf"<(/?){re.escape(name)}\b[^>]*>", html[begin:], re.IGNORECASE):
        if not tag.group(1):
            depth += 1
        elif depth == 0:
            return begin + tag.start()
        else:
            depth -= 1
    return None
