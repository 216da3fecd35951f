"""The middleware's options: one typed, validated model shared by every adapter.

The same names are the keyword arguments of ``maintenance_mode.asgi`` and
``maintenance_mode.wsgi``'s ``MaintenanceMiddleware`` and the keys of the
framework settings. Invalid values raise ``ValueError`` with a one-line message
at construction, never at request time.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypedDict
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from .rules import Networks, check_allow_entry
from .sources import FlagSource

if TYPE_CHECKING:
    from pydantic import SerializationInfo, TypeAdapter
    from pydantic.json_schema import JsonSchemaValue

    from .state import MaintenanceState  # loaded with the first document, not with the options

__all__ = [
    "DEFAULT_FLAG_FILE",
    "Brand",
    "Component",
    "Contacts",
    "Duration",
    "FlagSpec",
    "LocalizedLink",
    "OnError",
    "Options",
    "Settings",
    "default_flag_path",
]

#: The flag file used when neither ``flag`` nor ``$MAINTENANCE_FILE`` says otherwise.
DEFAULT_FLAG_FILE = "maintenance.json"

OnError = Literal["last_known", "maintenance", "serve"]

#: At least 22 characters of a 66-symbol alphabet: over 128 bits, as in 16 random bytes.
# Patterns checked only when their option is given: strings for re.fullmatch (and re's
# cache), so that an import compiles none of them.
_BYPASS_CHARS = r"[A-Za-z0-9._~-]{22,256}"
_HEADER_NAME = r"[A-Za-z0-9-]{1,64}"
_COOKIE_NAME = r"[A-Za-z0-9_.-]{1,64}"
_VIEW_NAME = r"[\w.:-]{1,200}(?<![.:])|[\w.:-]{1,200}[.:]\*"


def default_flag_path() -> Path:
    """``$MAINTENANCE_FILE`` if set, else ``maintenance.json`` in the working directory."""
    return Path(os.environ.get("MAINTENANCE_FILE") or DEFAULT_FLAG_FILE).absolute()


def _words(value: object) -> object:
    """Let ops pass 'a, b c' where a list is expected (env vars, CLI flags)."""
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[\s,]+", value) if part)
    return value


def safe_href(value: str) -> str:
    """Allow only https:, mailto:, tel: and site-relative links on the page."""
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith(("https://", "mailto:", "tel:")) or (
        text.startswith("/") and not text.startswith("//")
    ):
        if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in text):
            raise ValueError(f"link {value!r} contains a control character or backslash")
        return text
    raise ValueError(
        f"link {value!r} must start with 'https://', 'mailto:', 'tel:' or '/' (a path on this site)"
    )


_DAY = 24 * 3600
#: The most updates the status document carries (newest first); the page shows fewer.
STATUS_UPDATES_MAX = 50
#: The CLI's durations (``maintenance_mode.control.parse_duration``): '90m', '2h', '1d12h'.
#: Not imported from there: ``control`` costs more to import than a worker's whole budget,
#: and tests/test_options_vocabulary.py holds both to the same answers.
_CLI_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_NOT_A_DURATION = (
    "{!r:.60} is not a duration: give seconds (3600), the CLI's '90m', '2h', '1d12h', "
    "or ISO 8601 'PT2H', 'P1D'"
)


@cache
def _iso_durations() -> TypeAdapter[timedelta]:
    from pydantic import TypeAdapter  # only when an ISO 8601 duration is given

    return TypeAdapter(timedelta)


def _span(seconds: float) -> str:
    """``5400`` -> ``1h30m``: a whole number of seconds the way the CLI writes it."""
    left, parts = int(seconds), []
    for unit, size in (("d", _DAY), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _limit(seconds: int) -> str:
    """``86400 seconds (1d)``; ``1 second``."""
    if seconds >= 60:
        return f"{seconds} seconds ({_span(seconds)})"
    return f"{seconds} second" if seconds == 1 else f"{seconds} seconds"


def _number(seconds: float) -> str:
    """``31536000`` rather than ``3.1536e+07``; ``90.000005`` rather than ``90``."""
    if isinstance(seconds, int) or (seconds.is_integer() and abs(seconds) < 1e15):
        return str(int(seconds))
    return repr(seconds)


def _text_seconds(text: str) -> float:
    """Seconds from ``"3600"``, ``"1.5"``, ``"2h"``, ``"1d12h"``, ``"PT2H"`` or ``"P1D"``."""
    try:
        return float(text)  # seconds, as integers always were
    except ValueError:
        pass
    if text.startswith("P"):
        if re.search(r"[0-9.,][YM]", text.partition("T")[0]):
            raise ValueError(
                f"{text!r:.60}: years and months have no fixed length; give days, like 'P30D'"
            )
        try:
            return _iso_durations().validate_python(text).total_seconds()
        except ValidationError:
            raise ValueError(_NOT_A_DURATION.format(text)) from None
    match = _CLI_DURATION.fullmatch(text) if len(text) <= 64 else None
    if not text or match is None:
        raise ValueError(_NOT_A_DURATION.format(text))
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    return total if total < 10**15 else math.inf


def _seconds(
    low: int, high: int, *, whole: bool = True, above_low: bool = False
) -> BeforeValidator:
    """A before-validator: seconds (int or float), a duration string or a ``timedelta``.

    The result is a number of seconds in ``low..high`` (above ``low`` if ``above_low``),
    an ``int`` if ``whole``; other types are left for pydantic to refuse.
    """

    def check(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(_NOT_A_DURATION.format(value))
        if isinstance(value, str):
            seconds = _text_seconds(value.strip())
        elif isinstance(value, timedelta):
            seconds = value.total_seconds()
        elif isinstance(value, int | float):
            seconds = value
        else:
            return value
        if math.isnan(seconds):
            raise ValueError("is not a number of seconds")
        if above_low and seconds <= low:
            raise ValueError(f"must be more than {_limit(low)}, not {_number(seconds)}")
        if seconds < low:
            raise ValueError(f"must be at least {_limit(low)}, not {_number(seconds)}")
        if seconds > high:
            shown = "" if math.isinf(seconds) else f", not {_number(seconds)}"
            raise ValueError(f"must be at most {_limit(high)}{shown}")
        if not whole:
            return float(seconds)
        if seconds != int(seconds):
            raise ValueError(f"must be whole seconds, not {_number(seconds)}")
        return int(seconds)

    return BeforeValidator(check)


#: What a duration option accepts: seconds (``int``; ``float`` where fractions count), a
#: string of the CLI's (``"90m"``, ``"2h"``, ``"1d12h"``) or ISO 8601 (``"PT2H"``,
#: ``"P1D"``), or a ``timedelta``. The validated value is seconds, as a number.
Duration = int | float | str | timedelta


def _network_text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """``10.0.0.0/8``; an IPv4-mapped network keeps its dotted form (``::ffff:10.0.0.0/104``)."""
    mapped = ipaddress.IPv6Network("::ffff:0:0/96")
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(mapped):
        v4 = ipaddress.IPv4Address(int(network.network_address) & 0xFFFFFFFF)
        return f"::ffff:{v4}/{network.prefixlen}"
    return network.with_prefixlen


Words = Annotated[tuple[str, ...], BeforeValidator(_words)]
Href = Annotated[str, BeforeValidator(lambda v: safe_href(v) if isinstance(v, str) else v)]


class LocalizedLink(BaseModel):
    """A link whose label is given per language, where ``links`` and ``contacts.social``
    take a plain href: ``{"href": "/help", "labels": {"fr": "Aide", "de": "Hilfe"}}``.

    The key it sits under is the default language's label; a visitor whose language has
    no label here reads that one.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )

    href: Href
    labels: Mapping[str, Annotated[str, Field(min_length=1, max_length=200)]] = {}

    @field_validator("labels")
    @classmethod
    def _tags(cls, value: Mapping[str, str]) -> dict[str, str]:
        from .state import locale_key

        return {locale_key(tag): label for tag, label in value.items()}


#: A link's target: an href, or an href with its label per language.
LinkTarget = Href | LocalizedLink


class _OnUse:
    """Marks an option (``Annotated[T, _ON_USE]``) whose validator is built when a value is
    first given: :class:`Settings`' own validator then leaves out the nested models.

    Building their schemas with Settings' would cost every worker about 2 ms at start-up,
    for options most never give (``contacts``, ``brand``, ``links``, ``components``). A
    ``TypeAdapter`` of the same type validates, dumps and describes (JSON Schema) the value,
    so errors (pydantic prefixes them with the option's name), dumps and schema are those
    of the inline schema.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        adapters: list[TypeAdapter[Any]] = []

        def adapter() -> TypeAdapter[Any]:
            if not adapters:
                from pydantic import TypeAdapter

                adapters.append(TypeAdapter(source))
            return adapters[0]

        def dump(value: object, info: SerializationInfo) -> object:
            return adapter().dump_python(
                value,
                mode="json" if info.mode_is_json() else "python",
                by_alias=info.by_alias,
                exclude_unset=info.exclude_unset,
                exclude_defaults=info.exclude_defaults,
                exclude_none=info.exclude_none,
                round_trip=info.round_trip,
            )

        def json_schema(schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
            return handler(adapter().core_schema)

        return core_schema.no_info_plain_validator_function(
            lambda value: adapter().validate_python(value),
            serialization=core_schema.plain_serializer_function_ser_schema(dump, info_arg=True),
            metadata={"pydantic_js_functions": [json_schema]},
        )


_ON_USE = _OnUse()


class Contacts(BaseModel):
    """How visitors reach a human while the site is down; each shown only when set."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )

    email: Annotated[str, Field(pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+$")] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ().-]{3,32}$")] | None = None
    emergency_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ().-]{3,32}$")] | None = None
    form: Href | None = None
    status_page: Href | None = None
    #: Self-service: the FAQ or help centre, shown with the status page.
    faq: Href | None = None
    #: Self-service: where visitors sign up to be told when the site is back.
    notify: Href | None = None
    #: Social or community links, label to https: link ("Mastodon": "https://...").
    #: The page adds the handle from the link to a label that lacks it ("X @acme").
    #: A value may be a :class:`LocalizedLink` (the label per language).
    social: Mapping[Annotated[str, Field(min_length=1, max_length=100)], LinkTarget] = {}


_DATA_IMAGE = (
    r"data:image/(?:png|jpeg|gif|webp|avif|svg\+xml)(?:;[\w.+-]+=[\w.+-]+)*(?:;base64)?,"
    r"[A-Za-z0-9+/=%._~!$&'()*,;:@?-]*"
)
_MAX_DATA_IMAGE = 64 * 1024


#: What an https image URL must not contain anywhere: its origin goes into the page's
#: Content-Security-Policy header, where whitespace, ';' and ',' separate directives and
#: sources, and quotes mark keywords. Percent-encode them in a path or query.
_NOT_IN_HEADER_URL = r"[\x00-\x20\x7f-\x9f\"'`;,<>\\]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
#: A host as it may appear in a CSP source: DNS labels (IDNs in their xn-- form), or an
#: IPv6 literal in brackets; an optional port. No user name or password.
_NETLOC = rf"(?P<host>(?:{_LABEL}\.)*{_LABEL}|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"


def https_origin(url: str) -> str:
    """The origin (``https://host[:port]``) of an https URL that is one well-formed URL.

    Raises ValueError for anything that could not go into a header as a single
    CSP source: whitespace, quotes, ``;`` or ``,`` anywhere in the URL, control
    characters, user info, a host that is not a DNS name or an IP literal, or a
    bad port.
    """
    if not url.lower().startswith("https://"):
        raise ValueError(f"{url!r:.80} is not an https:// URL")
    if re.search(_NOT_IN_HEADER_URL, url) or not url.isascii():
        raise ValueError(
            f"{url!r:.80} must be one URL: no spaces, quotes, ';', ',' or control characters "
            "(percent-encode them in the path), and an ASCII host (xn-- for IDNs)"
        )
    found = re.fullmatch(_NETLOC, urlsplit(url).netloc)
    if found is None or int(found["port"] or 443) > 65535:
        raise ValueError(
            f"{url!r:.80} must name a host and an optional port (like "
            "'https://cdn.example.com/logo.svg'), with no user name or password"
        )
    port = f":{found['port']}" if found["port"] else ""
    return f"https://{found['host'].lower()}{port}"


def image_href(value: str) -> str:
    """A logo or favicon: https:, a path on this site, or a data: image URI (at most 64 KiB).

    An https URL's origin goes into the Content-Security-Policy header, so it must
    be one well-formed URL (:func:`https_origin`).
    """
    text = value.strip()
    if text[:5].lower() == "data:":
        if len(text) > _MAX_DATA_IMAGE:
            raise ValueError(f"data: URI is longer than {_MAX_DATA_IMAGE} characters")
        if not re.fullmatch(_DATA_IMAGE, text):
            raise ValueError(
                f"{value[:40]!r}... is not a data: image URI "
                "(data:image/png|jpeg|gif|webp|avif|svg+xml, base64 or percent-encoded)"
            )
        return text
    if text.lower().startswith(("mailto:", "tel:")):
        raise ValueError(f"image {value!r} must be 'https://...', '/path' or 'data:image/...'")
    try:
        href = safe_href(text)
    except ValueError:
        raise ValueError(
            f"image {value!r} must be 'https://...', '/path' or 'data:image/...'"
        ) from None
    if href.lower().startswith("https://"):
        https_origin(href)
    return href


def _color(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value.strip()):
        raise ValueError(f"{value!r} is not a hex colour like '#2456c7' or '#fff'")
    return value.strip() if isinstance(value, str) else value


def _font(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"""[\w ,'"-]{1,300}""", value):
        raise ValueError(
            f"{value!r:.60} is not a font stack: font names, quotes, commas and hyphens only, "
            "e.g. 'Inter, system-ui, sans-serif'"
        )
    return value


ImageHref = Annotated[str, BeforeValidator(lambda v: image_href(v) if isinstance(v, str) else v)]
Color = Annotated[str, BeforeValidator(_color)]
Font = Annotated[str, BeforeValidator(_font)]
Tone = Literal["friendly", "neutral"]


class Brand(BaseModel):
    """How the page looks like the company's own site; the name is ``site_name``."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )

    logo_url: ImageHref | None = None
    #: The logo's text alternative; defaults to ``site_name``.
    logo_alt: Annotated[str, Field(max_length=200)] | None = None
    logo_height: Annotated[int, Field(ge=16, le=160)] = 40
    favicon_url: ImageHref | None = None
    accent: Color = "#2456c7"
    accent_dark: Color = "#9bb8ff"
    background: Color = "#f3f4f7"
    background_dark: Color = "#111419"
    font: Font = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


#: Renders the HTML page from its template context (docs/templates.md, "Your framework's
#: own template"): what the Django and Flask integrations build from ``template_name``.
PageRenderer = Callable[[Mapping[str, Any]], str]

#: A transition callback: ``hook(event)`` (see maintenance_mode.hooks.Event).
Hook = Callable[[Any], object]

_OneFlag = (
    str
    | os.PathLike[str]
    | FlagSource
    | Callable[[], "bool | MaintenanceState"]
    | Callable[[], Awaitable["bool | MaintenanceState"]]
)
#: What ``flag`` accepts: a path, ``"env:NAME"``, a callable, a source, or a list of them.
FlagSpec = _OneFlag | Sequence[_OneFlag] | None


_COMPONENT_NAME = r"[a-z0-9][a-z0-9_-]{0,63}"


class Component(BaseModel):
    """One named part of the site for partial maintenance (an entry of ``components``).

    ``paths`` are prefixes matched like ``allow``; ``views`` are view names matched
    like ``allow_views`` (Django, Flask, FastAPI). ``link`` is where visitors reach
    it while it is up (default: its first path).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    label: Annotated[str, Field(max_length=200)] = ""
    paths: Words = ()
    views: Words = ()
    link: Href | None = None

    @field_validator("paths")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_allow_entry(entry) for entry in value)

    @field_validator("views")
    @classmethod
    def _views(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return Settings._views(value)

    @property
    def href(self) -> str | None:
        """The link shown while the component is up: ``link``, else its first path."""
        return self.link or (self.paths[0] if self.paths else None)


def _component_names(value: object) -> object:
    if isinstance(value, Mapping):
        for name in value:
            if not isinstance(name, str) or not re.fullmatch(_COMPONENT_NAME, name):
                raise ValueError(
                    f"{name!r} is not a component name: use lower-case letters, digits, '_' "
                    "and '-', starting with a letter or digit (e.g. 'payments')"
                )
    return value


class Options(TypedDict, total=False):
    """The keyword options of every adapter, for type checkers (defaults: :class:`Settings`)."""

    flag: FlagSpec
    allow: str | Sequence[str]
    health_paths: str | Sequence[str]
    read_only: bool
    bypass_ips: str | Sequence[str]
    trusted_proxies: str | Sequence[str]
    bypass_secret: str | None
    bypass_header: str
    bypass_path: str
    bypass_cookie_name: str
    bypass_cookie_max_age: Duration
    bypass_cookie_secure: bool
    bypass_no_store: bool
    allow_views: str | Sequence[str]
    json_paths: str | Sequence[str]
    allow_static: bool
    bypass_staff: bool
    bypass_superuser: bool
    template_dir: str | os.PathLike[str] | None
    template_name: str | None
    page_renderer: PageRenderer | None
    check_interval: Duration
    on_error: OnError
    callable_timeout: Duration
    retry_after_default: Duration
    retry_after_min: Duration
    retry_after_max: Duration
    site_name: str
    contacts: Contacts | Mapping[str, str]
    links: Mapping[str, str | LocalizedLink | Mapping[str, Any]]
    brand: Brand | Mapping[str, Any]
    tone: Tone
    time_zones: str | Sequence[str]
    default_locale: str
    locales: str | Sequence[str]
    locale_dir: str | os.PathLike[str] | None
    poll_interval: Duration
    poll_max_interval: Duration
    timeline_limit: int
    status_path: str | None
    banner: bool
    read_only_banner: bool
    ended_banner_for: Duration
    ended_message: str | None
    feedback_url: str | None
    max_duration: Duration | None
    warn_after: Duration
    overrun_update_every: Duration
    on_change: Hook | Sequence[Hook] | None
    export_dir: str | os.PathLike[str] | None
    components: Mapping[str, Component | Mapping[str, Any]]


class Settings(BaseModel):
    """Every option, validated. See docs/options.md for each one's meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    flag: Any = None
    allow: Words = ()
    health_paths: Words = ("/health", "/healthz", "/livez", "/readyz")
    read_only: bool = False
    bypass_ips: Words = ()
    trusted_proxies: Words = ()
    bypass_secret: str | None = None
    bypass_header: str = "X-Maintenance-Bypass"
    bypass_path: str = "/__maintenance__/"
    bypass_cookie_name: str = "maintenance_bypass"
    bypass_cookie_max_age: Annotated[int, _seconds(60, 7 * _DAY)] = 12 * 3600
    bypass_cookie_secure: bool = True
    bypass_no_store: bool = True
    allow_views: Words = ()
    #: Paths whose 503 is always problem+json, whatever the Accept (same matching as allow).
    json_paths: Words = ()
    allow_static: bool = True
    bypass_staff: bool = False
    bypass_superuser: bool = False
    template_dir: Path | None = None
    #: Django and Flask: the page as a template of the framework's own loaders (they turn it
    #: into ``page_renderer``; the plain middlewares have no such loaders).
    template_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    #: The seam under ``template_name``: renders the page's context to HTML (render.py).
    page_renderer: Any = None
    check_interval: Annotated[float, _seconds(0, 3600, whole=False, above_low=True)] = 1.0
    on_error: OnError = "last_known"
    callable_timeout: Annotated[float, _seconds(0, 60, whole=False, above_low=True)] = 2.0
    retry_after_default: Annotated[int, _seconds(0, 7 * _DAY)] = 300
    # The floor never exceeds the cap (checked in _retry_limits).
    retry_after_min: Annotated[int, _seconds(0, 30 * _DAY)] = 60
    retry_after_max: Annotated[int, _seconds(1, 30 * _DAY)] = _DAY
    site_name: Annotated[str, Field(max_length=200)] = ""
    contacts: Annotated[Contacts, _ON_USE] = Contacts.model_construct()
    #: Label to href; a value may be a :class:`LocalizedLink` (the label per language).
    links: Annotated[
        Mapping[Annotated[str, Field(min_length=1, max_length=200)], LinkTarget], _ON_USE
    ] = {}
    brand: Annotated[Brand, _ON_USE] = Brand.model_construct()
    tone: Tone = "friendly"
    time_zones: Words = ()
    default_locale: str = "en"
    locales: Words = ()
    locale_dir: Path | None = None
    poll_interval: Annotated[float, _seconds(1, 3600, whole=False)] = 10.0
    poll_max_interval: Annotated[float, _seconds(1, _DAY, whole=False)] = 120.0
    #: Updates shown on the page and the problem+json (the rest are counted, not shown).
    timeline_limit: Annotated[int, Field(ge=1, le=STATUS_UPDATES_MAX)] = 5
    status_path: str | None = "/__maintenance__/status"
    banner: bool = True
    read_only_banner: bool = False
    ended_banner_for: Annotated[int, _seconds(0, 30 * _DAY)] = 0
    ended_message: Annotated[str, Field(max_length=1000)] | None = None
    feedback_url: Href | None = None
    # At most a year: flag documents' times leave room for that (state.LATEST_TIME).
    max_duration: Annotated[int, _seconds(60, 365 * _DAY)] | None = None
    warn_after: Annotated[int, _seconds(60, 365 * _DAY)] = 48 * 3600
    #: Once the ETA has passed, the page promises the next update within this (from the
    #: ETA or the latest update, whichever is later).
    overrun_update_every: Annotated[int, _seconds(60, 7 * _DAY)] = 30 * 60
    on_change: Any = ()
    #: Where the static export for the reverse proxy is kept in step (maintenance_mode.export).
    export_dir: Path | None = None
    #: Named parts of the site that go down on their own (partial maintenance).
    components: Annotated[Mapping[str, Component], _ON_USE, BeforeValidator(_component_names)] = {}

    @field_validator("export_dir")
    @classmethod
    def _export_dir(cls, value: Path | None) -> Path | None:
        if value is None or str(value) in ("", "."):
            return None
        if not value.is_absolute():
            raise ValueError(
                f"{str(value)!r} must be an absolute path (the app, the commands and the web "
                "server each have their own working directory), like '/srv/maintenance-export'"
            )
        if value.exists() and not value.is_dir():
            raise ValueError(f"{str(value)!r} exists and is not a directory")
        return value

    @field_validator("status_path")
    @classmethod
    def _status_path(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        entry = check_allow_entry(value)
        if entry.endswith("/"):
            raise ValueError(f"{value!r} must be an exact path, like '/__maintenance__/status'")
        return entry

    @field_validator("on_change")
    @classmethod
    def _hooks(cls, value: object) -> tuple[Hook, ...]:
        if value is None:
            return ()
        if callable(value):
            return (value,)
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a callable or a list of callables, got {value!r:.60}")
        hooks = tuple(value)
        for hook in hooks:
            if not callable(hook):
                raise ValueError(f"hooks must be callables taking one event, got {hook!r:.60}")
        return hooks

    @field_validator("allow", "health_paths", "json_paths")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_allow_entry(entry) for entry in value)

    @field_validator("allow_views")
    @classmethod
    def _views(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.fullmatch(_VIEW_NAME, name):
                raise ValueError(
                    f"{name!r} is not a view name: use a Django URL name ('faq', 'admin:index'), "
                    "a Flask endpoint ('faq', 'blog.index'), or a namespace ('admin:*', 'blog.*')"
                )
        return value

    @field_validator("bypass_ips", "trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        Networks(value)  # raises ValueError naming the bad entry
        for entry in value:  # '10.0.0.1/8': the network, or the one address?
            text = entry.strip()
            try:
                ipaddress.ip_network(text)  # strict: no host bits set
            except ValueError:
                try:
                    meant = ipaddress.ip_network(text, strict=False)
                except ValueError:  # not ipaddress's notation, yet Networks took it
                    continue
                raise ValueError(
                    f"{entry!r} has host bits set; write the network as "
                    f"'{_network_text(meant)}', or '{text.partition('/')[0]}' for that one address"
                ) from None
        return value

    @field_validator("bypass_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None  # unset or empty: no secret bypass at all
        if not re.fullmatch(_BYPASS_CHARS, value):
            raise ValueError(
                "must be 22 to 256 characters from A-Z a-z 0-9 . _ ~ - (128 bits or more) "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
            )
        return value

    @field_validator("bypass_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not re.fullmatch(_HEADER_NAME, value):
            raise ValueError(f"{value!r} is not an HTTP header name (letters, digits and '-')")
        return value

    @field_validator("bypass_cookie_name")
    @classmethod
    def _cookie(cls, value: str) -> str:
        if not re.fullmatch(_COOKIE_NAME, value):
            raise ValueError(f"{value!r} is not a cookie name (letters, digits, '_', '.', '-')")
        return value

    @field_validator("bypass_path")
    @classmethod
    def _bypass_path(cls, value: str) -> str:
        entry = check_allow_entry(value)
        if not entry.endswith("/") or entry == "/":
            raise ValueError(f"{value!r} must be a path ending in '/', like '/__maintenance__/'")
        return entry

    @field_validator("template_dir", "locale_dir")
    @classmethod
    def _template_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a directory")
        return value

    @field_validator("page_renderer")
    @classmethod
    def _page_renderer(cls, value: object) -> object:
        if value is not None and not callable(value):
            raise ValueError(
                "must be a callable taking the page's context (a dict) and returning its HTML"
            )
        return value

    @field_validator("time_zones")
    @classmethod
    def _zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"{name!r} is not an IANA time zone (e.g. 'Europe/Paris', 'America/New_York')"
                ) from None
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _retry_limits(self) -> Self:
        if self.retry_after_min > self.retry_after_max:
            raise ValueError(
                f"retry_after_min ({self.retry_after_min}) must not be above "
                f"retry_after_max ({self.retry_after_max}); lower the one or raise the other"
            )
        return self

    @model_validator(mode="after")
    def _poll(self) -> Self:
        if self.poll_max_interval < self.poll_interval:
            raise ValueError(
                f"poll_max_interval ({self.poll_max_interval:g}) must not be below "
                f"poll_interval ({self.poll_interval:g})"
            )
        return self

    @property
    def secret_bytes(self) -> bytes | None:
        return None if self.bypass_secret is None else self.bypass_secret.encode("ascii")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Settings:
        """Validate keyword options; raise ValueError with one line per mistake."""
        try:
            return cls.model_validate(dict(options))
        except ValidationError as exc:
            raise ValueError(_explain(exc)) from None


def _explain(error: ValidationError) -> str:
    messages = []
    for err in error.errors(include_url=False):
        loc = [str(part) for part in err["loc"] if part not in ("[key]", "")]
        name = ".".join(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            nested: dict[str, type[BaseModel]] = {"contacts": Contacts, "brand": Brand}
            model = Component if loc[0] == "components" else nested.get(loc[0], Settings)
            known = list(model.model_fields)
            import difflib  # only for a mistake: not at every start-up

            close = difflib.get_close_matches(loc[-1], known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            messages.append(f"unknown option {name!r}; {hint}")
        elif not loc:  # a check across several options
            messages.append(msg)
        else:
            value = err.get("input")
            shown = "" if isinstance(value, dict | Settings) else f" (got {value!r:.60})"
            messages.append(f"option {name!r}: {msg}{shown}")
    return "maintenance-mode: " + "; ".join(messages)
