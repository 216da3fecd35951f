"""The engine: polls the flag sources, decides pass / bypass / block, builds the 503.

Adapters (ASGI, WSGI, Django, Flask) call :meth:`Maintenance.poll` (or
:meth:`~Maintenance.apoll`) on every request, which while maintenance is off is
one clock read and one comparison, and only when it is on build a
:class:`RequestInfo` and ask :meth:`Maintenance.decide`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import monotonic, time_ns
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, Unpack
from urllib.parse import quote

from . import i18n
from ._records import FrozenRecord, Record
from ._response import Response, Variant, _check_brand, negotiate
from .banner import DISMISS_COOKIE, DISMISS_URL, banner_context, banner_id, load_banner_template
from .rules import (
    Networks,
    PathRules,
    ViewRules,
    client_key,
    sign_cookie,
    strip_root,
    token_matches,
    unambiguous,
    verify_cookie,
    wsgi_text_path,
)
from .settings import Options, Settings
from .sources import (
    CallableFlag,
    EnvFlag,
    FileFlag,
    FlagError,
    FlagSource,
    default_flag,
    default_redis_key,
)

if TYPE_CHECKING:
    import asyncio

    import jinja2

    from .claims import ClaimStore, Identity
    from .hooks import Event

    # Loaded where first needed: the renderer at the first page or banner, the document
    # models and the schedule at the first document. A worker that stays off loads neither.
    from .render import ComponentView, Page, Renderer
    from .schedule import Banner, Evaluation, Phase
    from .state import MaintenanceState, Window
    from .status import StatusParts

__all__ = [
    "Decision",
    "Maintenance",
    "RequestInfo",
    "Snapshot",
    "build_sources",
    "maintenance_component",
    "maintenance_exempt",
]

_View = TypeVar("_View", bound=Callable[..., Any])


def maintenance_exempt(view: _View) -> _View:
    """Keep a view available while maintenance is on (Django and Flask integrations).

    Works on any view function (for Django class-based views, decorate the result
    of ``as_view()``). The view is matched after routing, so a mount prefix
    (``SCRIPT_NAME``, ``FORCE_SCRIPT_NAME``) cannot break it.
    """
    view.maintenance_exempt = True  # type: ignore[attr-defined]
    return view


def maintenance_component(name: str) -> Callable[[_View], _View]:
    """Make a view part of the component ``name`` (Django, Flask and FastAPI integrations).

    While that component is under maintenance the view gets the component's 503,
    as its ``paths`` and ``views`` in the ``components`` option do; the rest of the
    site keeps working. Matched after routing, like :func:`maintenance_exempt`.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("maintenance_component takes a component's name, e.g. 'payments'")

    def mark(view: _View) -> _View:
        view.maintenance_component = name  # type: ignore[attr-defined]
        return view

    return mark


logger = logging.getLogger("maintenance_mode")

_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
#: A Cookie header longer than this is not parsed for the bypass cookie (servers cap ~8 KiB).
_MAX_COOKIE_HEADER: Final = 16 * 1024
#: Characters left as they are when a mount path goes into Location and a cookie Path.
_PATH_SAFE: Final = "/!$&'()*+,=:@-._~"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_SECOND_US: Final = 1_000_000
#: Distinct (Accept, Accept-Language, root) triples kept per state before the cache restarts.
_MAX_CACHED_RESPONSES: Final = 256
#: Open ends of the span in which a cached 503 stays exact (microseconds since the epoch).
_NEVER: Final = 1 << 62


#: How long a dismissed banner stays hidden (the id changes with the window anyway).
_DISMISS_MAX_AGE: Final = 30 * 24 * 3600
_DISMISS_MARK: Final = DISMISS_URL.encode("ascii")
#: Left as they are in the dismiss link and its redirect (no ``&``, quotes or ``\\``).
_LINK_SAFE: Final = "/!$()*+,=:@-._~"


def _dismissed(cookie_header: str, ident: str) -> bool:
    """Whether the Cookie header holds the dismiss cookie with the value ``ident``."""
    if len(cookie_header) > _MAX_COOKIE_HEADER:
        return False
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == DISMISS_COOKIE and value.strip('"') == ident:
            return True
    return False


def _digest_matches(digest: str, token: str) -> bool:
    """Whether ``token``'s SHA-256 is ``digest`` (a per-maintenance secret), in constant time."""
    if len(token) > 256:
        return False
    presented = hashlib.sha256(token.encode("latin-1", "replace")).hexdigest()
    return hmac.compare_digest(presented, digest)


def _micros(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the epoch (exact, like datetime arithmetic)."""
    return (moment - _EPOCH) // _MICROSECOND


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _now_micros() -> int:
    return time_ns() // 1000


def build_sources(flag: object, *, timeout: float = 2.0) -> tuple[FlagSource, ...]:
    """Turn the ``flag`` option into sources.

    Accepted: ``None`` (``$MAINTENANCE_REDIS``, else ``$MAINTENANCE_FILE``, else
    ``./maintenance.json``: :func:`maintenance_mode.control.default_flag`), a path,
    ``"env:NAME"``, a ``"redis://host:6379/0"`` URL (the ``redis`` extra), a callable,
    a :class:`FlagSource`, or a list of these (ON if any is ON; the first that is ON
    gives the details).
    """
    if flag is None:
        return (default_flag(),)
    if isinstance(flag, FlagSource):
        return (flag,)
    if isinstance(flag, str) and flag.startswith("env:"):
        return (EnvFlag(flag[4:]),)
    if isinstance(flag, str) and flag.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisFlag  # the optional extra, imported only when asked for

        return (RedisFlag(flag, default_redis_key()),)
    if isinstance(flag, str | os.PathLike):
        if not str(flag):
            raise ValueError("maintenance-mode: option 'flag' is an empty path")
        return (FileFlag(flag),)
    if callable(flag):
        return (CallableFlag(flag, timeout=timeout),)
    if isinstance(flag, Sequence) and not isinstance(flag, bytes):
        if not flag:
            raise ValueError("maintenance-mode: option 'flag' is an empty list; give at least one")
        return tuple(src for item in flag for src in build_sources(item, timeout=timeout))
    raise TypeError(
        f"maintenance-mode: option 'flag' got {type(flag).__name__}; use a path, 'env:NAME', "
        "a callable, a FlagSource, or a list of these"
    )


def _render_checked_lazily(settings: Settings) -> bool:
    """Whether the renderer may wait for the first page: our templates and catalogs only.

    Your own templates or catalogs (``template_dir``, ``locale_dir``) and locale names
    that are not exactly packaged ones are checked at start-up instead, by building it.
    """
    if settings.template_dir is not None or settings.locale_dir is not None:
        return False
    if settings.template_name is not None and settings.page_renderer is None:
        return False  # the Renderer refuses it: say so at start-up
    known = i18n.packaged_locales()
    return all(name in known for name in (settings.default_locale, *settings.locales))


class RequestInfo(Record):  # not frozen: a frozen __init__ costs ~12k instructions per request
    """What the decision needs from a request, read from the server's own fields only."""

    __slots__ = __match_args__ = (
        "method",
        "path",
        "root",
        "peer",
        "forwarded_for",
        "accept",
        "cookie",
        "token",
        "scheme",
        "accept_language",
        "verified",
        "raw_path",
    )

    method: str
    #: The app-relative path, or None when it is ambiguous or outside the mount (never
    #: allowlisted). Read through :meth:`checked_path` while ``verified`` is False.
    path: str | None
    #: The mount prefix (WSGI SCRIPT_NAME, ASGI root_path), for redirects and cookie paths.
    root: str
    peer: str | None
    forwarded_for: str | None
    accept: str | None
    cookie: str | None
    token: str | None
    scheme: str
    #: Picks the page's language (``Accept-Language``), only when the 503 is sent.
    accept_language: str | None
    #: False when ``path`` has not been checked for ambiguity yet (``from_asgi`` and
    #: ``from_wsgi`` defer that check until a rule names the path, which most never do).
    verified: bool
    #: The ASGI ``raw_path``, for the deferred check (encoded ``/`` or ``.``).
    raw_path: bytes | None

    def __init__(
        self,
        method: str,
        path: str | None,
        root: str,
        peer: str | None,
        forwarded_for: str | None = None,
        accept: str | None = None,
        cookie: str | None = None,
        token: str | None = None,
        scheme: str = "http",
        accept_language: str | None = None,
        verified: bool = True,
        raw_path: bytes | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.root = root
        self.peer = peer
        self.forwarded_for = forwarded_for
        self.accept = accept
        self.cookie = cookie
        self.token = token
        self.scheme = scheme
        self.accept_language = accept_language
        self.verified = verified
        self.raw_path = raw_path

    def checked_path(self) -> str | None:
        """``path`` once it is known to be unambiguous (None otherwise); runs the check once."""
        if not self.verified:
            self.verified = True
            if self.path is not None:
                self.path = unambiguous(self.path, self.raw_path)
        return self.path

    @classmethod
    def from_wsgi(cls, environ: Mapping[str, Any], settings: Settings) -> RequestInfo:
        """Read a PEP 3333 environ (``PATH_INFO`` is what the app routes on)."""
        get = environ.get
        # Positional: keyword arguments cost a dataclass __init__ twice as much here.
        return cls(
            get("REQUEST_METHOD", "GET"),
            wsgi_text_path(get("PATH_INFO", "") or "/"),
            _wsgi_text(get("SCRIPT_NAME", "")),
            get("REMOTE_ADDR"),
            get("HTTP_X_FORWARDED_FOR"),
            get("HTTP_ACCEPT"),
            get("HTTP_COOKIE"),
            get(_WSGI_KEYS.get(settings.bypass_header) or _wsgi_header_key(settings.bypass_header)),
            get("wsgi.url_scheme", "http"),
            get("HTTP_ACCEPT_LANGUAGE"),
            False,  # verified: the ambiguity check waits until a rule names the path
        )

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], settings: Settings) -> RequestInfo:
        """Read an ASGI HTTP or WebSocket scope (``path`` minus ``root_path``)."""
        wanted = _ASGI_HEADERS.get(settings.bypass_header) or _asgi_headers(settings.bypass_header)
        forwarded = accept = cookie = token = accept_language = None
        for name, value in scope.get("headers", ()):
            slot = wanted.get(name)
            if slot is None:
                continue
            text = value.decode("latin-1")
            if slot == _ACCEPT:
                accept = text
            elif slot == _ACCEPT_LANGUAGE:
                accept_language = text
            elif slot == _COOKIE:
                cookie = text if cookie is None else f"{cookie}; {text}"
            elif slot == _TOKEN:
                token = text
            else:
                forwarded = text if forwarded is None else f"{forwarded},{text}"
        client = scope.get("client")
        root = scope.get("root_path", "") or ""
        return cls(
            # A WebSocket handshake is not a safe read: read_only must not let it through.
            scope.get("method") or scope["type"].upper(),
            strip_root(scope.get("path", ""), root),
            root,
            client[0] if client else None,
            forwarded,
            accept,
            cookie,
            token,
            scope.get("scheme", "http"),
            accept_language,
            False,  # verified: the ambiguity check waits until a rule names the path
            scope.get("raw_path"),
        )


_ACCEPT, _ACCEPT_LANGUAGE, _COOKIE, _FORWARDED, _TOKEN = range(5)
#: ASGI header name -> what from_asgi keeps it as, per bypass header name.
_ASGI_HEADERS: dict[str, dict[bytes, int]] = {}


def _asgi_headers(bypass_header: str) -> dict[bytes, int]:
    wanted = {
        b"accept": _ACCEPT,
        b"accept-language": _ACCEPT_LANGUAGE,
        b"cookie": _COOKIE,
        b"x-forwarded-for": _FORWARDED,
    }
    wanted.setdefault(bypass_header.lower().encode("latin-1"), _TOKEN)
    _ASGI_HEADERS[bypass_header] = wanted
    return wanted


def _micros_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else _micros(moment)


def _wsgi_text(value: str) -> str:
    """A WSGI native string (UTF-8 bytes carried as latin-1) back to text, if it is UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeError:  # not latin-1 at all: not from a PEP 3333 server
        return value


#: Header name -> its WSGI environ key, made once per name.
_WSGI_KEYS: dict[str, str] = {}


def _wsgi_header_key(name: str) -> str:
    key = _WSGI_KEYS[name] = "HTTP_" + name.upper().replace("-", "_")
    return key


class Decision(FrozenRecord):
    """The core's verdict for one request."""

    __slots__ = __match_args__ = ("action", "response", "banner")

    action: Literal["pass", "bypass", "respond"]
    response: Response | None
    #: HTML to inject after ``<body>`` in the app's own text/html response (pass/bypass).
    banner: bytes | None

    def __init__(
        self,
        action: Literal["pass", "bypass", "respond"],
        response: Response | None = None,
        banner: bytes | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "action", action)
        init(self, "response", response)
        init(self, "banner", banner)


PASS: Final = Decision("pass")
BYPASS: Final = Decision("bypass")
#: What ``decide(..., render=False)`` answers when the answer needs a render first (a new
#: state, language or form): async adapters then call ``decide`` again in a worker thread.
DEFERRED: Final = Decision("respond")


_NO_RULES: Final = PathRules(frozenset(), ())
#: The Accept a request under ``json_paths`` is answered for (and cached under).
_PROBLEM_JSON: Final = "application/problem+json"


class Snapshot:
    """What the sources said at the last check: frozen except for its response cache.

    Compared by identity: an unchanged check keeps the same snapshot (and its caches).
    """

    __slots__ = (
        "_banner_ids",
        "_decisions",
        "_pages",
        "_responses",
        "allow",
        "banner",
        "checked_at",
        "component",
        "docs",
        "down",
        "eta_earliest_us",
        "eta_latest_us",
        "on",
        "phase",
        "read_only",
        "read_only_banner",
        "routes",
        "state",
        "views",
        "window",
    )

    on: bool
    state: MaintenanceState | None
    allow: PathRules
    checked_at: float
    phase: Phase
    banner: Banner | None
    #: The banner a read-only GET gets (option ``read_only_banner``): made with each
    #: snapshot that has a state, so that no request makes one.
    read_only_banner: Banner | None
    window: Window | None
    #: Every document the sources returned (the status endpoint lists their windows).
    docs: tuple[MaintenanceState, ...]
    #: The state's ETA bounds in microseconds since the epoch: Retry-After and the overrun
    #: test per request are then integer arithmetic, not time-zone-aware datetimes.
    eta_earliest_us: int | None
    eta_latest_us: int | None
    #: Partial maintenance while the site is up: each component under maintenance as a
    #: snapshot of its own (on, its state, its caches), by name; empty otherwise.
    down: Mapping[str, Snapshot]
    #: The down components' path rules, in the order of the ``components`` option.
    routes: tuple[tuple[PathRules, Snapshot], ...]
    #: For a component's snapshot: its name, and whether only its writes are blocked.
    component: str | None
    read_only: bool
    #: How pages and banners show the components: this one, those down, those up.
    views: tuple[ComponentView | None, tuple[ComponentView, ...], tuple[ComponentView, ...]]
    _decisions: dict[str, Decision]
    #: The banner's id (what a dismissal is remembered under), per banner kind.
    _banner_ids: dict[str, str]
    #: Rendered bodies per (variant, overrun, locale, root).
    _pages: dict[tuple[Variant, bool, str, str], Page]
    #: Per (Accept, Accept-Language, root) as sent: the span [from, until) in which the
    #: cached 503 is exact (same Retry-After second, same side of the latest ETA), and its
    #: GET and HEAD decisions.
    _responses: dict[tuple[str | None, str | None, str], tuple[int, int, Decision, Decision]]

    def __init__(
        self,
        on: bool,
        state: MaintenanceState | None = None,
        allow: PathRules = _NO_RULES,
        checked_at: float = 0.0,
        phase: Phase = "idle",
        banner: Banner | None = None,
        window: Window | None = None,
        docs: tuple[MaintenanceState, ...] = (),
        eta_earliest_us: int | None = None,
        eta_latest_us: int | None = None,
        down: Mapping[str, Snapshot] | None = None,
        routes: tuple[tuple[PathRules, Snapshot], ...] = (),
        component: str | None = None,
        read_only: bool = False,
        views: tuple[ComponentView | None, tuple[ComponentView, ...], tuple[ComponentView, ...]] = (
            None,
            (),
            (),
        ),
        read_only_banner: Banner | None = None,
    ) -> None:
        self.on = on
        self.state = state
        self.allow = allow
        self.checked_at = checked_at
        self.phase = phase
        self.banner = banner
        self.read_only_banner = read_only_banner
        self.window = window
        self.docs = docs
        self.eta_earliest_us = eta_earliest_us
        self.eta_latest_us = eta_latest_us
        self.down = {} if down is None else down
        self.routes = routes
        self.component = component
        self.read_only = read_only
        self.views = views
        self._decisions = {}
        self._banner_ids = {}
        self._pages = {}
        self._responses = {}


_OFF: Final = Snapshot(on=False)
_UNKNOWN: Final = object()

# -- process-wide overrides (maintenance_mode.testing) ------------------------------------

#: Every engine in the process, so that an override reaches them all (weak: engines go).
_engines: weakref.WeakSet[Maintenance] = weakref.WeakSet()
_engines_lock = threading.Lock()
#: What every engine uses instead of its sources' answers while a testing override is
#: active (``()``: off); None when none is. Read at check time only, never per request.
_override: tuple[MaintenanceState, ...] | None = None
#: Bumped at every change of ``_override``: a check that read the previous one runs again.
_override_generation = 0


def set_override(docs: tuple[MaintenanceState, ...] | None) -> None:
    """Make every engine answer ``docs`` instead of its sources (None: the sources again), now.

    The public face is :func:`maintenance_mode.testing.override`; this only swaps the
    answer and invalidates every engine's snapshot, so the next request checks again.
    """
    global _override, _override_generation
    with _engines_lock:
        _override = docs
        _override_generation += 1
        engines = list(_engines)
    for engine in engines:
        engine.invalidate()


def _after_fork() -> None:
    """In a forked worker, a warm-up thread of the parent's is gone: never wait for it."""
    for engine in list(_engines):
        engine._warm_lock = threading.Lock()
        engine._warming = engine._rendering is not None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class Maintenance:
    """The framework-neutral maintenance engine (one per middleware instance).

    Options are the keyword arguments documented in docs/options.md; they are
    validated here, so a mistake fails at start-up with a one-line message.
    """

    def __init__(self, **options: Unpack[Options]) -> None:
        self.settings = settings = Settings.from_options(options)
        self.sources = build_sources(settings.flag, timeout=settings.callable_timeout)
        # Sources awaited under ASGI: async ones, and those read off the loop (blocking, files).
        self._awaitable = any(src.is_async or src.offload for src in self.sources)
        self._bypass_ips = Networks(settings.bypass_ips)
        self._proxies = Networks(settings.trusted_proxies)
        self._secret = settings.secret_bytes
        self._base_allow = (*settings.health_paths, *settings.allow)
        self._views = ViewRules.compile(settings.allow_views)
        #: Partial maintenance: the known components, their paths and views, compiled once.
        self._components = settings.components
        self._component_paths = {
            name: PathRules.compile(part.paths) for name, part in settings.components.items()
        }
        self._component_views = tuple(
            (name, ViewRules.compile(part.views))
            for name, part in settings.components.items()
            if part.views
        )
        self._parts: dict[str, Evaluation] = {}
        self._json_paths = PathRules.compile(settings.json_paths)
        #: Where a WSGI environ (or Django's request.META) carries the bypass header.
        self.token_meta_key = _wsgi_header_key(settings.bypass_header)
        # Jinja2, Babel, templates and catalogs load when a state that needs a page or a
        # banner is first seen: at start-up in line, later in a background thread
        # (_warm_soon); never for a worker that only ever sees maintenance off.
        _check_brand(settings.brand)
        self._rendering: tuple[Renderer, jinja2.Template] | None = None  # the page, the banner
        self._warm_lock = threading.Lock()
        self._warming = self._starting = False
        if not _render_checked_lazily(settings):
            self._warm()  # your own templates or catalogs: their mistakes fail at start-up
        #: The on_change hooks, and the export_dir option's (it re-exports in every process).
        self._hooks: tuple[Any, ...] = settings.on_change
        if settings.export_dir is not None:
            from .export import follow

            self._hooks = (*self._hooks, follow(settings))
        #: Adapters skip the engine while off only if the path cannot be the status document.
        self.status_path = settings.status_path or "\x00"
        #: Where the banner's dismiss link goes (under the bypass path, the library's own).
        self._dismiss_prefix = settings.bypass_path + "dismiss/"
        #: The status document's clock-free entries for one snapshot, and its answers for
        #: one snapshot and second (the document's clock-dependent members change no faster).
        self._status_parts: tuple[Snapshot, StatusParts] | None = None
        self._status_cache: tuple[Snapshot, int, Decision, Decision] | None = None
        #: One render of a page at a time: concurrent requests for it wait, then reuse it.
        self._render_lock = threading.Lock()
        self._lock = threading.Lock()
        self._last: list[object] = [_UNKNOWN] * len(self.sources)
        self._snapshot = _OFF
        self._next_check = 0.0
        #: The fast path: while ``monotonic() < off_until`` maintenance is known to be off and
        #: adapters call the app straight away (0.0 whenever it is on or a check is due).
        self.off_until = 0.0
        self._checked = False  # no answer from the sources yet
        self._warned: dict[str, float] = {}
        #: When this process first saw maintenance on (for documents without started_at).
        self._on_since: datetime | None = None
        #: A document says on, but max_duration holds it off (``_on_since`` must stay).
        self._capped = False
        self._inflight: asyncio.Future[Snapshot] | None = None
        self._clock = _utcnow
        #: The last answer came from a testing override (its end is no transition either).
        self._overridden = False
        with _engines_lock:
            _engines.add(self)
        # Files and env vars: read now, so the first request is right (under ASGI the later
        # checks of a file still run off the event loop: FileFlag.offload).
        if not any(src.is_async or src.blocking for src in self.sources):
            self._starting = True  # a renderer this first answer needs loads here, in line
            try:
                self._refresh_sync()
            finally:
                self._starting = False

    @property
    def _clock(self) -> Callable[[], datetime]:
        """The wall clock (tests replace it); the 503 path reads it as integer microseconds."""
        return self._wall_clock

    @_clock.setter
    def _clock(self, clock: Callable[[], datetime]) -> None:
        self._wall_clock = clock
        self._real_clock = clock is _utcnow
        self._now_us: Callable[[], int] = (
            _now_micros if clock is _utcnow else (lambda: _micros(clock()))
        )

    # -- freshness ---------------------------------------------------------------------

    def poll(self) -> Snapshot:
        """The current snapshot; checks the sources at most once per ``check_interval``."""
        if monotonic() < self._next_check:
            return self._snapshot
        return self._refresh_sync()

    def fresh(self) -> Snapshot | None:
        """The current snapshot if no check is due, else None (then await :meth:`apoll`).

        Lets an async adapter skip making a coroutine on every request while on.
        """
        return self._snapshot if monotonic() < self._next_check else None

    async def apoll(self) -> Snapshot:
        """Like :meth:`poll`, awaiting async sources (with their timeout) when due."""
        if monotonic() < self._next_check:
            return self._snapshot
        if not self._awaitable or _override is not None:  # an override never awaits
            return self._refresh_sync()
        import asyncio  # here: a WSGI worker never awaits, and never loads it

        inflight = self._inflight
        if inflight is not None:  # another request is checking
            if self._checked:
                return self._snapshot  # keep serving the last answer meanwhile
            return await asyncio.shield(inflight)  # no answer yet: wait for the first one
        inflight = self._inflight = asyncio.get_running_loop().create_future()
        if self._checked:  # before the first answer, every request waits for it instead
            self._next_check = monotonic() + self.settings.check_interval
        try:
            generation = _override_generation
            results = []
            for index, source in enumerate(self.sources):
                try:
                    results.append(await source.aread())
                except Exception as exc:
                    results.append(self._on_error(index, source, exc))
                else:
                    self._last[index] = results[-1]
            if not self._checked:
                self._next_check = monotonic() + self.settings.check_interval
            return self._publish(results, None, generation)
        finally:
            self._inflight = None
            inflight.set_result(self._snapshot)

    def _refresh_sync(self) -> Snapshot:
        # Before the first answer other threads wait for it; afterwards they keep the last one.
        if not self._lock.acquire(blocking=not self._checked):
            return self._snapshot
        try:
            now = monotonic()
            if now < self._next_check:  # we waited while another thread got the answer
                return self._snapshot
            if self._checked:  # before the first answer, others wait on the lock instead
                self._next_check = now + self.settings.check_interval
            generation, override = _override_generation, _override
            results: list[MaintenanceState | None] = []
            if override is not None:  # maintenance_mode.testing: the sources are not asked
                results.extend(override)
            else:
                for index, source in enumerate(self.sources):
                    try:
                        result = source.read()
                    except Exception as exc:
                        result = self._on_error(index, source, exc)
                    else:
                        self._last[index] = result
                    results.append(result)
            if not self._checked:
                self._next_check = monotonic() + self.settings.check_interval
            return self._publish(results, override, generation)
        finally:
            self._lock.release()

    def _publish(
        self,
        results: list[MaintenanceState | None],
        override: tuple[MaintenanceState, ...] | None,
        generation: int,
    ) -> Snapshot:
        """:meth:`_install` the answer, knowing whether a testing override gave it."""
        if override is not None or self._overridden:
            # An override's start or end is no transition: _install takes it like a first
            # answer (logged; no on_change hook fires, nothing is claimed in the store).
            self._checked = False
        self._overridden = override is not None
        snapshot = self._install(results)
        if generation != _override_generation:  # an override began or ended meanwhile
            self.invalidate()
        return snapshot

    def _on_error(self, index: int, source: FlagSource, exc: Exception) -> MaintenanceState | None:
        from .state import MaintenanceState  # an error may come before any document

        policy = self.settings.on_error
        if isinstance(exc, FlagError):
            logger.warning("%s; on_error=%s", exc, policy)
        else:
            logger.error("flag %s failed; on_error=%s", source.describe(), policy, exc_info=exc)
        if policy == "maintenance":
            return MaintenanceState()
        if policy == "serve":
            return None
        last = self._last[index]
        return last if isinstance(last, MaintenanceState) else None

    def _install(self, results: Iterable[MaintenanceState | None]) -> Snapshot:
        """Evaluate the documents at the current time and publish the new snapshot."""
        first_check = not self._checked
        self._checked = True
        now = self._clock()
        docs = tuple(doc for doc in results if doc is not None)
        current = self._snapshot
        if docs:
            new, parts = self._from_docs(docs, now, current)
        else:  # no document: off, with nothing to announce (the schedule stays unloaded)
            self._capped = False
            new, parts = _OFF, {}
        self._snapshot = new
        # While the whole site is on, the components keep their last state (no transition).
        old_parts = self._parts
        if not new.on:
            self._parts = parts
        if not new.on:
            if not self._capped:  # off for real; held off by max_duration keeps counting
                self._on_since = None
        elif self._on_since is None:
            self._on_since = now
        started = (new.state.started_at if new.state is not None else None) or self._on_since
        started = started if new.on else None
        if started is not None and now - started >= timedelta(seconds=self.settings.warn_after):
            self._warn_once(
                "warn_after",
                "maintenance has served 503s since %s (over warn_after=%ss); search engines "
                "drop pages after a day or two of 503s",
                started.isoformat(),
                self.settings.warn_after,
            )
        # While it is off with nothing to announce, adapters may skip the engine entirely.
        self.off_until = self._next_check if not new.on and new.banner is None else 0.0
        if (new.on or new.banner is not None) and self._rendering is None:
            # The first 503 or banner must not wait for the imports. At start-up they load
            # here: a thread importing Jinja2, Babel and Werkzeug while the app still
            # imports its own modules can break the app's imports (a concurrent import of
            # one package fails in one of the threads: KeyError, ModuleNotFoundError).
            if self._starting:
                self._warm_quietly()
            else:
                self._warm_soon()
        if new is not current:
            self._transition(current, new, now, first_check)
            if not new.on and (old_parts or parts):
                self._transition_parts(old_parts, parts, now, first_check)
        return new

    def _from_docs(
        self, docs: tuple[MaintenanceState, ...], now: datetime, current: Snapshot
    ) -> tuple[Snapshot, dict[str, Evaluation]]:
        """The snapshot ``docs`` make at ``now`` (``current`` if unchanged), and the
        components they put under maintenance."""
        from .schedule import Banner

        found = self._evaluate(docs, now)
        # Partial maintenance: only with the components option, only while the site is up.
        parts = self._down(docs, now) if self._components and not found.on else {}
        if not parts and not found.on and found.banner is None and self._components:
            found = self._announce_part(docs, now, found)
        if (
            current.on == found.on
            and current.state == found.state
            and current.phase == found.phase
            and current.banner == (found.banner or (Banner("components") if parts else None))
            and current.docs == docs
            and (found.on or parts == self._parts)
        ):
            return current, parts  # unchanged: keep the rendered pages and decisions
        if parts:
            return self._partial(found, parts, docs), parts
        if not found.on and found.banner is None:
            return Snapshot(on=False, phase=found.phase, docs=docs), parts
        state = found.state
        return Snapshot(
            on=found.on,
            state=state,
            allow=PathRules.compile(
                (*self._base_allow, *(state.allow if state is not None else ()))
            ),
            checked_at=monotonic(),
            phase=found.phase,
            banner=found.banner,
            read_only_banner=Banner("read_only", state=state) if state is not None else None,
            window=found.window,
            docs=docs,
            eta_earliest_us=_micros_or_none(state.eta_earliest if state else None),
            eta_latest_us=_micros_or_none(state.eta_latest if state else None),
        ), parts

    def _down(self, docs: tuple[MaintenanceState, ...], now: datetime) -> dict[str, Evaluation]:
        """The known components under maintenance now (the first document that says so wins).

        Components the ``components`` option does not name are ignored.
        """
        from .schedule import evaluate_components

        back_for = timedelta(seconds=self.settings.ended_banner_for)
        down: dict[str, Evaluation] = {}
        for doc in docs:
            if not doc.components:
                continue
            for name, found in evaluate_components(doc, now, back_for=back_for).items():
                if found.on and name in self._components and name not in down:
                    down[name] = found
        return {name: down[name] for name in self._components if name in down}

    def _announce_part(
        self, docs: tuple[MaintenanceState, ...], now: datetime, found: Evaluation
    ) -> Evaluation:
        """``found`` with the banner announcing a component's window, if one is inside its
        announcement period (only while the site has no banner and no component is down)."""
        from dataclasses import replace

        from .schedule import Banner, announced_component

        ahead = announced_component(docs, self._components, now)
        if ahead is None:
            return found
        name, window = ahead
        label = self._components[name].label or name
        return replace(found, banner=Banner("upcoming", window=window, component=label))

    def _partial(
        self, found: Evaluation, parts: dict[str, Evaluation], docs: tuple[MaintenanceState, ...]
    ) -> Snapshot:
        """The site's snapshot while some components are down: one snapshot per component."""
        from .render import ComponentView  # only while a component is down
        from .schedule import Banner

        views = {
            name: ComponentView(
                name,
                part.label or name,
                part.href,
                parts[name].state.eta_earliest if name in parts else None,  # type: ignore[union-attr]
                parts[name].state.eta_latest if name in parts else None,  # type: ignore[union-attr]
            )
            for name, part in self._components.items()
        }
        down_views = tuple(views[name] for name in parts)
        up_views = tuple(view for name, view in views.items() if name not in parts)
        subs: dict[str, Snapshot] = {}
        routes = []
        for name, part in parts.items():
            state = part.state
            assert state is not None  # a component that is on has its details
            sub = subs[name] = Snapshot(
                on=True,
                state=state,
                allow=PathRules.compile((*self._base_allow, *state.allow)),
                checked_at=monotonic(),
                phase=part.phase,
                window=part.window,
                docs=docs,
                eta_earliest_us=_micros_or_none(state.eta_earliest),
                eta_latest_us=_micros_or_none(state.eta_latest),
                component=name,
                read_only=part.read_only,
                read_only_banner=Banner("read_only", state=state),
                views=(views[name], down_views, up_views),
            )
            if self._component_paths[name]:
                routes.append((self._component_paths[name], sub))
        return Snapshot(
            on=False,
            phase=found.phase,
            banner=found.banner or Banner("components"),
            window=found.window,
            docs=docs,
            checked_at=monotonic(),
            down=subs,
            routes=tuple(routes),
            views=(None, down_views, up_views),
        )

    def _transition_parts(
        self, old: dict[str, Evaluation], new: dict[str, Evaluation], now: datetime, first: bool
    ) -> None:
        """Tell the hooks about each component that went down, came back or got an update.

        Claimed like the site's transitions (one notification per change fleet-wide),
        in the store of the first source, under keys that name the component.
        """
        from .hooks import Event, fire  # at the first transition: a worker left off never pays

        events: list[Event] = []
        for name, part in new.items():
            before = old.get(name)
            if before is None:
                events.append(Event("started", now, part.state, part.window, component=name))
            elif (
                part.state is not None
                and before.state is not None
                and len(part.state.updates) > len(before.state.updates)
            ):
                events.append(Event("updated", now, part.state, part.window, component=name))
        for name, part in old.items():
            if name not in new:
                state = part.state
                expires = state.expires_at if state is not None else None
                ended: Literal["ended", "expired"] = (
                    # A window's planned auto-end is an end, as for the site (_end_of).
                    "expired"
                    if expires is not None and now >= expires and part.window is None
                    else "ended"
                )
                events.append(Event(ended, now, state, part.window, component=name))
        for event in events:
            logger.info("component %r: %s", event.component, event.name)
        if first or not events or not self._hooks:
            return
        from . import claims

        store = claims.store_for(self.sources[0]) if self.sources else None
        plan: dict[str, tuple[claims.ClaimStore | None, claims.Identity | None]] = {
            event.name: (store, None) for event in events
        }
        try:
            fire(self._hooks, events, claims.claimer(plan))
        except Exception:  # a hook must never reach a request
            logger.exception("on_change hooks could not be started")

    def _evaluate(self, docs: Iterable[MaintenanceState], now: datetime) -> Evaluation:
        """The first document that is on wins; otherwise the first one with a banner."""
        from .schedule import Evaluation, evaluate

        s = self.settings
        back_for = timedelta(seconds=s.ended_banner_for)
        evaluations = [evaluate(doc, now, back_for=back_for) for doc in docs]
        self._capped = False
        for found in evaluations:
            if not found.on:
                continue
            started = found.state.started_at if found.state is not None else None
            started = started or self._on_since  # a bare file, env var or callable
            limit = s.max_duration
            deadline = started + timedelta(seconds=limit) if limit and started else None
            if deadline is None or now < deadline:
                return found
            self._capped = True
            self._warn_once(
                "max_duration",
                "maintenance has been on since %s, longer than max_duration=%ss; "
                "serving the app again (switch it off, or raise max_duration)",
                deadline - timedelta(seconds=limit or 0),
                limit,
            )
        with_banner = [found for found in evaluations if found.banner is not None]
        if with_banner:
            return with_banner[0]
        waiting = (found for found in evaluations if not found.on and found.phase != "idle")
        return next(waiting, None) or Evaluation(on=False, phase="idle", state=None)

    #: The maintenance this process last saw on, for its end: where its transitions are
    #: claimed, and what tells it apart in its store when it has no start time.
    _seen: tuple[ClaimStore | None, Identity | None] = (None, None)

    def _transition(self, old: Snapshot, new: Snapshot, now: datetime, first: bool) -> None:
        """Log the change, an expiry and long outages; tell the on_change hooks (not at start).

        With hooks, each transition is claimed first in the store of the source that made
        it (:mod:`~maintenance_mode.claims`): one process of the fleet notifies it.
        """
        from .hooks import Event, fire  # at the first transition: a worker left off never pays

        state = new.state if new.state is not None else old.state
        hooks = self._hooks
        ended, seen = old.on and not new.on, self._seen
        identity: Identity | None = None
        store: ClaimStore | None = None
        if hooks:
            from . import claims  # only apps with hooks pay for it, and only at transitions

            origin = self._origin(new)
            store = claims.store_for(origin)
            bare = new.state if new.on and new.window is None else None
            if bare is not None and bare.started_at is None:
                identity = claims.Identity(origin, bare)  # e.g. a bare file's inode and mtime
            self._seen = (store, identity) if new.on else (None, None)
        events: list[Event] = []
        plan: dict[str, tuple[ClaimStore | None, Identity | None]] = {}
        if not old.on and new.on:
            events.append(Event("started", now, new.state, new.window))
            plan["started"] = (store, identity)
        elif ended:
            name = self._end_of(old, new, now)
            if name == "expired" and old.state is not None and old.state.expires_at:
                logger.warning(
                    "maintenance expired at %s (set with --expires); serving the app again",
                    old.state.expires_at.isoformat(),
                )
            events.append(Event(name, now, old.state, old.window))
            plan[name] = seen
        elif (
            new.on
            and old.state is not None
            and new.state is not None
            and len(new.state.updates) > len(old.state.updates)
        ):
            events.append(Event("updated", now, new.state, new.window))
            plan["updated"] = (store, identity)
        if new.phase == "announced" and old.phase != "announced":
            events.append(Event("announced", now, state, new.window))
            plan["announced"] = (store, None)
        if new.on != old.on:  # one line per process and change, not one per blocked request
            logger.info(
                "maintenance is %s (%s)",
                "on: serving 503s" if new.on else "off: serving the app",
                ", ".join(self.describe_sources()),
            )
        if not first and events:
            from .claims import claimer

            try:
                fire(hooks, events, claimer(plan))
            except Exception:  # e.g. no thread could start: a hook must never reach a request
                logger.exception("on_change hooks could not be started")

    def _origin(self, snapshot: Snapshot) -> FlagSource | None:
        """The source whose document made ``snapshot`` (its state or its window), if known."""
        window = snapshot.window
        for doc in snapshot.docs:
            if doc is snapshot.state or (window is not None and window in doc.windows):
                for source, last in zip(self.sources, self._last, strict=True):
                    if last is doc:
                        return source
                return None
        return None

    @staticmethod
    def _end_of(old: Snapshot, new: Snapshot, now: datetime) -> Literal["ended", "expired"]:
        """``expired`` when the maintenance reached its ``expires_at`` (``on --expires``).

        Any other end is ``ended``: ``off`` (it records ``ended_at``), a removed flag, a
        window's planned auto-end (taken over by hand or not), ``max_duration``.
        """
        state = old.state
        expires = state.expires_at if state is not None else None
        if state is None or expires is None or now < expires:
            return "ended"
        if any(doc.ended_at is not None and doc.ended_at < expires for doc in new.docs):
            return "ended"  # switched off before the expiry; this process saw both late
        if any(window.auto_end and window.end_latest == expires for window in state.windows):
            return "ended"
        return "expired"

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        """Log a warning at most once an hour per key (these describe lasting situations)."""
        last = self._warned.get(key)
        now = monotonic()
        if last is None or now - last >= 3600:
            self._warned[key] = now
            logger.warning(message, *args)

    # -- rendering, loaded when first needed -------------------------------------------

    @property
    def _renderer(self) -> Renderer:
        """The page renderer (Jinja2, Babel, templates, catalogs), built at first need."""
        return (self._rendering or self._warm())[0]

    def _warm(self) -> tuple[Renderer, jinja2.Template]:
        """Build the renderer and the banner template, once (thread-safe), and return them.

        The one warm-up: :meth:`_warm_soon` runs it in a thread when a state that needs a
        page or a banner is seen; an async adapter may run it off the event loop.
        """
        with self._warm_lock:
            if self._rendering is None:
                import werkzeug.http  # noqa: F401  (cookies and Accept, on the blocked path)

                from .render import Renderer

                renderer = Renderer(self.settings, check_brand=False)
                self._rendering = (renderer, load_banner_template(renderer.env))
            return self._rendering

    def _warm_soon(self) -> None:
        """Start :meth:`_warm` in a daemon thread (once): the first 503 finds it done or waits."""
        if self._warming:
            return
        self._warming = True
        threading.Thread(target=self._warm_quietly, name="maintenance-warm", daemon=True).start()

    def _warm_quietly(self) -> None:
        try:
            self._warm()
        except Exception:  # the request that needs it raises it again, in its own context
            logger.exception("maintenance-mode: could not load the page renderer")
            self._warming = False

    def invalidate(self) -> None:
        """Force a check on the next request (tests, or after writing the flag in-process)."""
        self._next_check = self.off_until = 0.0

    # -- the decision ------------------------------------------------------------------

    def decide(self, snapshot: Snapshot, request: RequestInfo, *, render: bool = True) -> Decision:
        """Pass, bypass (the team's own request), or respond (the 503 or the bypass redirect).

        The status document is answered whatever the state; a pass may carry the
        banner to inject into the app's own HTML page. With ``render=False`` an answer
        that needs a page or banner rendered first is :data:`DEFERRED` instead (an event
        loop then asks again from a worker thread: rendering never blocks it).
        """
        s = self.settings
        # The path is checked for ambiguity only when a rule names it (request.checked_path).
        path = request.path
        if path is not None and path == s.status_path and request.checked_path() is not None:
            return self._status_decision(snapshot, request.method == "HEAD")
        if path is not None and path.startswith(self._dismiss_prefix) and s.banner:
            return Decision("respond", self._dismiss_redirect(request))
        if not snapshot.on or snapshot.state is None:
            if snapshot.routes:  # partial maintenance: is this a down component's path?
                path = request.checked_path()
                for rules, part in snapshot.routes:
                    if rules.match(path):
                        return self.decide_part(snapshot, part, request, render=render)
            if snapshot.banner is None or request.method == "HEAD" or not s.banner:
                return PASS
            return self._with_banner(snapshot, snapshot.banner, request, render)
        # A secret for this maintenance only (`on --secret`): the document holds its SHA-256.
        digest = snapshot.state.bypass_sha256
        if (
            (self._secret is not None or digest is not None)
            and path is not None
            and path.startswith(s.bypass_path)
        ):
            path = request.checked_path()
            token = path[len(s.bypass_path) :] if path is not None else ""
            if self._secret is not None and token_matches(self._secret, token):
                cookie = sign_cookie(self._secret, s.bypass_cookie_max_age)
                return Decision("respond", self._bypass_redirect(request, cookie))
            if digest is not None and _digest_matches(digest, token):
                return Decision("respond", self._bypass_redirect(request, token))
        elif snapshot.allow.match(path) and request.checked_path() is not None:
            return PASS
        if (s.read_only or snapshot.read_only) and request.method in _SAFE_METHODS:
            banner = snapshot.read_only_banner  # there is one: the snapshot has a state
            if s.read_only_banner and s.banner and request.method != "HEAD" and banner is not None:
                return self._with_banner(snapshot, banner, request, render)
            return PASS
        if self._bypass_ips and self._bypass_ips.matches(
            client_key(request.peer, request.forwarded_for, self._proxies)
        ):
            return BYPASS
        if self._secret is not None or digest is not None:
            header = request.token
            if header is not None and (
                (self._secret is not None and token_matches(self._secret, header))
                or (digest is not None and _digest_matches(digest, header))
            ):
                return BYPASS
            if request.cookie and len(request.cookie) <= _MAX_COOKIE_HEADER:
                from werkzeug.http import parse_cookie  # loaded by _warm: a lookup here

                try:
                    value = parse_cookie(request.cookie).get(s.bypass_cookie_name)
                except ValueError:  # not UTF-8 (werkzeug decodes strictly): no bypass
                    value = None
                if value and (
                    (
                        self._secret is not None
                        and verify_cookie(self._secret, value, max_age=s.bypass_cookie_max_age)
                    )
                    or (digest is not None and _digest_matches(digest, value))
                ):
                    return BYPASS
        head = request.method == "HEAD"
        accept = request.accept
        if self._json_paths and self._json_paths.match(path) and request.checked_path() is not None:
            accept = _PROBLEM_JSON  # json_paths: an API's callers get JSON whatever they accept
        return self._blocked(snapshot, accept, head, request.accept_language, request.root, render)

    def _with_banner(
        self, snapshot: Snapshot, banner: Banner, request: RequestInfo, render: bool = True
    ) -> Decision:
        """A pass that carries the rendered banner (once per snapshot, kind and locale),
        or a plain pass when the visitor dismissed this very banner (its id in a cookie)."""
        ident = snapshot._banner_ids.get(banner.kind)
        if ident is None:
            ident = snapshot._banner_ids[banner.kind] = banner_id(banner, snapshot.views[1])
        if request.cookie and ident in request.cookie and _dismissed(request.cookie, ident):
            return PASS
        if not render and self._rendering is None:
            return DEFERRED  # the renderer is not loaded yet: not on an event loop
        locale = self._renderer.negotiate_locale(request.accept_language)
        key = f"{banner.kind}:{locale}"
        decision = snapshot._decisions.get(key)
        if decision is None:
            if not render:
                return DEFERRED
            html = self.render_banner(banner, locale, snapshot=snapshot, dismiss=True)
            decision = snapshot._decisions[key] = Decision("pass", banner=html) if html else PASS
        if decision.banner and _DISMISS_MARK in decision.banner:  # a link back to this page
            here = request.checked_path() or "/"
            link = f"{request.root.rstrip('/')}{self._dismiss_prefix}{ident}{here}"
            url = quote(link, safe=_LINK_SAFE, errors="surrogateescape").encode("ascii")
            return Decision("pass", banner=decision.banner.replace(_DISMISS_MARK, url))
        return decision

    def _dismiss_redirect(self, request: RequestInfo) -> Response:
        """303 back to the page the dismiss link was on, with the cookie that hides the banner.

        The link is ``<bypass_path>dismiss/<banner id>/<app path>``: the target is always
        this app's own path (leading slashes folded, so never another site), and an id that
        is not one is not stored.
        """
        from werkzeug.http import dump_cookie

        path = request.checked_path() or ""
        ident, _, back = path[len(self._dismiss_prefix) :].partition("/")
        root = quote(request.root.rstrip("/"), safe=_LINK_SAFE, errors="surrogateescape")
        here = quote("/" + back.lstrip("/\\"), safe=_LINK_SAFE, errors="surrogateescape")
        headers = [("Location", root + here)]
        if 8 <= len(ident) <= 64 and all(c in "0123456789abcdef" for c in ident):
            cookie = dump_cookie(
                DISMISS_COOKIE,
                ident,
                max_age=_DISMISS_MAX_AGE,
                path=root + "/",
                secure=request.scheme == "https",
                httponly=True,
                samesite="Lax",
            )
            headers.append(("Set-Cookie", cookie))
        headers += [
            ("Cache-Control", "no-store"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "0"),
        ]
        return Response(303, tuple(headers), b"")

    def render_banner(
        self,
        banner: Banner,
        locale: str | None = None,
        *,
        snapshot: Snapshot | None = None,
        dismiss: bool = False,
    ) -> bytes:
        """The banner's HTML (``banner.html``) in ``locale``; a failure is logged, never raised.

        ``snapshot`` gives the components under maintenance and those up (partial maintenance).
        With ``dismiss`` the dismiss link is a placeholder the engine fills in per request.
        """
        locale = locale or self._renderer.catalogs.default
        _, down, up = snapshot.views if snapshot is not None else (None, (), ())
        try:
            context = banner_context(
                banner,
                self.settings,
                translations=self._renderer.catalogs.translations[locale],
                lang=locale,
                down=down,
                up=up,
                dismiss_url=DISMISS_URL if dismiss else None,
                text_lang=i18n.language_tag(self._renderer.text_locale),
            )
            html = (self._rendering or self._warm())[1].render(context)
            return i18n.typeset_html(html, locale).encode("utf-8")
        except Exception:
            logger.exception("template banner.html failed to render; no banner sent")
            return b""

    def banner_html(self, accept_language: str | None = None) -> str:
        """The current banner as HTML, for the template helpers ("" when there is none).

        Reads the last check's answer (no check of its own: it runs inside a template,
        perhaps on an event loop); requests keep that answer fresh.
        """
        snapshot = self._snapshot
        banner = snapshot.banner
        s = self.settings
        if banner is None and snapshot.on and s.read_only and s.read_only_banner:
            banner = snapshot.read_only_banner
        if banner is None:
            return ""
        locale = self._renderer.negotiate_locale(accept_language)
        return self.render_banner(banner, locale, snapshot=snapshot).decode("utf-8")

    def status_response(self, snapshot: Snapshot, head: bool = False) -> Response:
        """The status document (200, no-store, CORS-readable), from the cache (see below)."""
        response = self._status_decision(snapshot, head).response
        assert response is not None  # the status decision always carries its response
        return response

    def _status_decision(self, snapshot: Snapshot, head: bool) -> Decision:
        """The status document's answer: built once per state and second, then reused.

        Its entries (the updates included) are encoded once per snapshot; each second
        only ``updated_at``, ``retry_after`` and the windows still to come are filled in,
        so a request costs a clock read and a comparison whatever the document holds.
        """
        # Seconds counted from the ETA's fraction: Retry-After holds for each whole one.
        eta = snapshot.eta_earliest_us if snapshot.on else None
        phase = eta % _SECOND_US if eta is not None else 0
        second = (self._now_us() - phase) // _SECOND_US
        cached = self._status_cache
        if cached is None or cached[0] is not snapshot or cached[1] != second:
            # Loaded by the first status request: a worker nobody polls never pays for it.
            from .status import status_body, status_headers, status_parts

            state = snapshot.state if snapshot.on else None
            parts = self._status_parts
            if parts is None or parts[0] is not snapshot:
                parts = self._status_parts = (
                    snapshot,
                    status_parts(
                        on=snapshot.on,
                        state=state,
                        docs=snapshot.docs,
                        components=[
                            (
                                name,
                                part.label,
                                sub.state if (sub := snapshot.down.get(name)) else None,
                            )
                            for name, part in self._components.items()
                        ],
                    ),
                )
            now = _EPOCH + timedelta(microseconds=second * _SECOND_US + phase)
            body = status_body(
                parts[1],
                site_name=self.settings.site_name,
                now=now,
                retry_after=self.retry_after(state, now) if state is not None else None,
            )
            response = Response(200, status_headers(body), body)
            cached = self._status_cache = (
                snapshot,
                second,
                Decision("respond", response),
                Decision("respond", response.without_body()),
            )
        return cached[3] if head else cached[2]

    def retry_after(self, state: MaintenanceState, now: datetime | None = None) -> int:
        """Seconds until the earliest ETA, clamped to the configured floor and cap."""
        s = self.settings
        eta = state.eta_earliest
        if eta is None:
            return max(s.retry_after_min, min(s.retry_after_default, s.retry_after_max))
        seconds = math.ceil((eta - (now or self._clock())).total_seconds())
        return max(s.retry_after_min, min(seconds, s.retry_after_max))

    def response(
        self,
        snapshot: Snapshot,
        variant: Variant,
        head: bool = False,
        *,
        accept_language: str | None = None,
        root: str = "",
    ) -> Response:
        """The 503 for one variant (its HEAD form when ``head``), in the negotiated language.

        Bodies are rendered once per state and locale (and once more when the latest
        ETA passes, for the "taking longer" copy). Requests go through :meth:`decide`,
        which also reuses the assembled response while its Retry-After holds.
        """
        locale = self._renderer.negotiate_locale(accept_language)
        entry = self._assemble(snapshot, variant, locale, root, self._now_us())
        assert entry is not None  # rendered when missing
        response = (entry[3] if head else entry[2]).response
        assert response is not None  # a 503 decision always carries its response
        return response

    def _blocked(
        self,
        snapshot: Snapshot,
        accept: str | None,
        head: bool,
        accept_language: str | None,
        root: str,
        render: bool = True,
    ) -> Decision:
        """The 503 decision: per request one clock read, one lookup and two comparisons.

        Keyed on the headers as sent, so a repeat visitor skips content and language
        negotiation too; the entry holds while its Retry-After second and overrun last.
        """
        now = time_ns() // 1000 if self._real_clock else self._now_us()
        key = (accept, accept_language, root)
        cache = snapshot._responses
        entry = cache.get(key)
        if entry is None or not entry[0] <= now < entry[1]:
            if not render and self._rendering is None:
                return DEFERRED  # the renderer is not loaded yet: not on an event loop
            locale = self._renderer.negotiate_locale(accept_language)
            built = self._assemble(snapshot, negotiate(accept), locale, root, now, render)
            if built is None:
                return DEFERRED
            entry = built
            if len(cache) >= _MAX_CACHED_RESPONSES:  # odd headers must not grow it for ever
                cache.clear()
            cache[key] = entry
        return entry[3] if head else entry[2]

    def _assemble(
        self,
        snapshot: Snapshot,
        variant: Variant,
        locale: str,
        root: str,
        now: int,
        render: bool = True,
    ) -> tuple[int, int, Decision, Decision] | None:
        """Build the 503 for ``now`` and the span of time in which it stays exact.

        None when the page is not rendered yet and ``render`` is False.
        """
        s = self.settings
        low, high = -_NEVER, _NEVER
        eta = snapshot.eta_earliest_us
        if eta is None:
            retry = max(s.retry_after_min, min(s.retry_after_default, s.retry_after_max))
        else:  # Retry-After is the ceiling of the seconds left, clamped (as retry_after())
            retry = -((now - eta) // _SECOND_US)
            if retry >= s.retry_after_max:
                retry, high = s.retry_after_max, eta - (s.retry_after_max - 1) * _SECOND_US
            elif retry <= s.retry_after_min:
                retry, low = s.retry_after_min, eta - s.retry_after_min * _SECOND_US
            else:
                low = eta - retry * _SECOND_US
                high = low + _SECOND_US
        latest = snapshot.eta_latest_us
        overrun = latest is not None and now > latest
        if latest is not None:  # the copy changes once the latest ETA has passed
            if overrun:
                low = max(low, latest + 1)
            else:
                high = min(high, latest + 1)
        page = snapshot._pages.get((variant, overrun, locale, root))
        if page is None and not render:
            return None
        if page is None:
            with self._render_lock:  # concurrent requests for it wait for one render
                page = self._render_page(snapshot, variant, overrun, locale, root, retry)
        from .render import assemble  # loaded with the page it assembles

        response = assemble(page, retry)
        head = response.without_body()
        return low, high, Decision("respond", response), Decision("respond", head)

    def _render_page(
        self,
        snapshot: Snapshot,
        variant: Variant,
        overrun: bool,
        locale: str,
        root: str,
        retry: int,
    ) -> Page:
        """Render one form of the 503 for ``snapshot`` (unless another thread just did)."""
        s = self.settings
        page = snapshot._pages.get((variant, overrun, locale, root))
        if page is None:
            from .state import MaintenanceState

            status_path = s.status_path
            # The page's "are we back?" check reads the status document under the same mount.
            status_url = (
                quote(root.rstrip("/"), safe=_PATH_SAFE, errors="surrogateescape") + status_path
                if status_path
                else None
            )
            page = snapshot._pages[variant, overrun, locale, root] = self._renderer.page(
                variant,
                snapshot.state or MaintenanceState(),
                overrun=overrun,
                locale=locale,
                retry_after=retry,
                status_url=status_url,
                component=snapshot.views[0],
                down=snapshot.views[1],
                up=snapshot.views[2],
            )
        return page

    def _bypass_redirect(self, request: RequestInfo, value: str) -> Response:
        """303 to the app's home with the bypass cookie (``value``); the token leaves the URL.

        With ``bypass_secret`` the cookie is signed and expiring; with a secret for this
        maintenance only, it is the token itself, worthless once the maintenance ends.
        """
        from werkzeug.http import dump_cookie

        s = self.settings
        home = quote(request.root.rstrip("/"), safe=_PATH_SAFE, errors="surrogateescape") + "/"
        cookie = dump_cookie(
            s.bypass_cookie_name,
            value,
            max_age=s.bypass_cookie_max_age,
            path=home,
            secure=s.bypass_cookie_secure,
            httponly=True,
            samesite="Lax",
        )
        headers = (
            ("Location", home),
            ("Set-Cookie", cookie),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "0"),
        )
        return Response(303, headers, b"")

    def decide_view(
        self,
        decision: Decision,
        *,
        view: object = None,
        view_name: str | None = None,
        is_static: bool = False,
        is_staff: bool = False,
        is_superuser: bool = False,
    ) -> Decision:
        """Second look at a blocked request once the framework has routed it.

        Django and Flask call this after routing: a view marked with
        :func:`maintenance_exempt` or listed in ``allow_views`` passes, the
        framework's own static-file view passes while ``allow_static`` is on (the
        page and lite routes may use the app's CSS and logo), and a staff or
        superuser visitor is bypassed when ``bypass_staff`` / ``bypass_superuser``
        is on. Anything but a 503 (the bypass redirect) is
        returned unchanged.
        """
        response = decision.response
        if decision.action != "respond" or response is None or response.status != 503:
            return decision
        s = self.settings
        if getattr(view, "maintenance_exempt", False) is True or self._views.match(view_name):
            return PASS
        if is_static and s.allow_static:
            return PASS
        if (s.bypass_staff and is_staff) or (s.bypass_superuser and is_superuser):
            return BYPASS
        return decision

    def decide_part(
        self, site: Snapshot, part: Snapshot, request: RequestInfo, *, render: bool = True
    ) -> Decision:
        """The decision for a request to a down component (``part``, one of ``site.down``).

        The component's own rules (its allow, bypass, ``read_only``) as for the whole site;
        a pass gets the site's banner naming the down components.
        """
        decision = self.decide(part, request, render=render)
        if (
            decision is PASS
            and site.banner is not None
            and request.method != "HEAD"
            and self.settings.banner
        ):
            return self._with_banner(site, site.banner, request, render)
        return decision

    @property
    def last_snapshot(self) -> Snapshot:
        """The last check's answer, without checking (for a second look after routing)."""
        return self._snapshot

    def part_for_view(
        self, snapshot: Snapshot, view: object, view_name: str | None
    ) -> Snapshot | None:
        """The down component a routed view belongs to (``@maintenance_component`` or the
        component's ``views``), or None; only asked while a component is down."""
        name = getattr(view, "maintenance_component", None)
        if isinstance(name, str):
            return snapshot.down.get(name)
        for name, rules in self._component_views:
            if rules.match(view_name):
                return snapshot.down.get(name)
        return None

    def decide_routed(
        self,
        snapshot: Snapshot,
        decision: Decision,
        request: RequestInfo,
        *,
        view: object = None,
        view_name: str | None = None,
        is_static: bool = False,
        is_staff: bool = False,
        is_superuser: bool = False,
        render: bool = True,
    ) -> Decision:
        """Second look at a passed request while components are down (after routing).

        A view of a down component gets that component's decision (then
        :meth:`decide_view`: exempt views, static files, staff); anything else keeps
        ``decision``. Costs nothing unless a component is down. ``render`` as for
        :meth:`decide` (:data:`DEFERRED` when a page must be rendered first).
        """
        if not snapshot.down or decision.action != "pass":
            return decision
        part = self.part_for_view(snapshot, view, view_name)
        if part is None:
            return decision
        found = self.decide_part(snapshot, part, request, render=render)
        return self.decide_view(
            found,
            view=view,
            view_name=view_name,
            is_static=is_static,
            is_staff=is_staff,
            is_superuser=is_superuser,
        )

    def require_paths_only(self, adapter: str) -> None:
        """Refuse options that need routing information the plain adapters do not have."""
        s = self.settings
        for name in ("allow_views", "bypass_staff", "bypass_superuser"):
            if getattr(s, name):
                raise ValueError(
                    f"maintenance-mode: option {name!r} needs the framework's routing or users, "
                    f"which {adapter} does not see; use maintenance_mode.django, "
                    "maintenance_mode.flask or maintenance_mode.fastapi, or list paths in "
                    "'allow'"
                )

    # -- for the CLI, tests and adapters --------------------------------------------------

    @property
    def bypass_no_store(self) -> bool:
        return self.settings.bypass_no_store

    def flag_file(self) -> Path | None:
        """The first flag file among the sources (what the framework commands write)."""
        return next((src.path for src in self.sources if isinstance(src, FileFlag)), None)

    def describe_sources(self) -> Sequence[str]:
        return [src.describe() for src in self.sources]
