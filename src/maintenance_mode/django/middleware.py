"""The Django middleware: sync- and async-capable, translating the core's decisions.

The first look happens in ``__call__`` (paths, read-only, IP, secret). A request
the core would block gets a second look at its view: a decorated view, an
allowlisted URL name or Django's static-file view can still let it through.

By default that look happens in ``__call__`` too, for blocked requests only:
the middleware resolves ``request.path_info`` itself (with ``request.urlconf``
if a middleware before it set one, else ``ROOT_URLCONF``). A request it lets
through goes on; anything else (a URL that does not resolve included) gets the
503 at once, and nothing after this middleware runs. The instance then has no
``process_view``, so Django calls nothing of it after routing.

With ``bypass_staff`` or ``bypass_superuser`` (the user is known only after
``AuthenticationMiddleware``), or with ``LocaleMiddleware`` in ``MIDDLEWARE``
(the URL may depend on the language it activates), the instance gets a
``process_view`` and a blocked request is held until it: there Django has
resolved the view and authenticated the user. A held request that never reaches
``process_view`` (a 404, another middleware answering) gets the 503. So the
order in ``MIDDLEWARE`` does not matter for the staff bypass. Reading the user
loads the session and the user from the database; when that fails (the database
being upgraded is the typical maintenance), the visitor is not staff: the 503 is
served, and the failure is logged at most once an hour.

The 503 comes from the core's cached :class:`~maintenance_mode.render.Response`;
its headers are checked by Django once per ``Response`` and copied per request
(:class:`_Pages`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any, Final, Literal

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.cookie import SimpleCookie
from django.http.response import ResponseHeaders
from django.urls import get_resolver

from maintenance_mode._response import Response
from maintenance_mode.banner import injectable, insert
from maintenance_mode.core import DEFERRED, Decision, Maintenance, RequestInfo

from . import conf

__all__ = ["MaintenanceMiddleware"]

logger = logging.getLogger("maintenance_mode")

_HELD = "_maintenance_held"
_BYPASSED = "_maintenance_bypassed"
_BANNER = "_maintenance_banner"


def request_info(request: HttpRequest, maintenance: Maintenance) -> RequestInfo:
    """What the core needs, from Django's own routing view of the request."""
    get = request.META.get
    path_info = request.path_info
    path = request.path
    # Positional, and the path's ambiguity check deferred until a rule names it (as in
    # RequestInfo.from_wsgi): both are measurable on every blocked request.
    return RequestInfo(
        request.method or "GET",
        path_info,
        path[: len(path) - len(path_info)] if path_info else path,
        get("REMOTE_ADDR"),
        get("HTTP_X_FORWARDED_FOR"),
        get("HTTP_ACCEPT"),
        get("HTTP_COOKIE"),
        get(maintenance.token_meta_key),
        request.scheme or "http",
        get("HTTP_ACCEPT_LANGUAGE"),
        False,
    )


def to_django(response: Response) -> HttpResponse:
    """The core's neutral response as an HttpResponse, headers exactly as given.

    Every header goes through Django's checks: the reference for :class:`_Pages`,
    and what the status document and the bypass redirect (built per request) use.
    """
    result = HttpResponse(response.body, status=response.status)
    for name, value in response.headers:
        if name.lower() == "set-cookie":
            result.cookies.load(value)  # Django sends cookies from here, not from headers
        else:
            result.headers[name] = value
    return result


#: What ``HttpResponse.__init__`` leaves in the instance (Django 5): the fast path copies
#: them and replaces the four mutable ones. Another set means Django changed: slow path.
_RESPONSE_ATTRS: Final = frozenset(
    {
        "headers",
        "_charset",
        "_resource_closers",
        "_handler_class",
        "cookies",
        "closed",
        "status_code",
        "_reason_phrase",
        "_container",
    }
)
_FRESH: Final = frozenset({"headers", "cookies", "_resource_closers", "_container"})

#: What :class:`_Pages` keeps on each Response (``Response.adapter_data["django"]``): the
#: HttpResponse's immutable attributes, its checked header store (``ResponseHeaders._store``:
#: lower-case name -> (name, value)) and the Set-Cookie values; False where Django's
#: internals differ from what the copy relies on.
_Prepared = tuple[dict[str, Any], dict[str, tuple[str, str]], tuple[str, ...]]


def _copyable(reference: HttpResponse) -> tuple[dict[str, Any], dict[str, tuple[str, str]]] | None:
    """The parts of ``reference`` a copy is made of, or None if Django's internals differ."""
    attrs = vars(reference)
    headers = vars(reference.headers)
    store = headers.get("_store")
    if attrs.keys() != _RESPONSE_ATTRS or headers.keys() != {"_store"}:
        return None
    if not isinstance(store, dict):
        return None
    return {k: v for k, v in attrs.items() if k not in _FRESH}, store


class _Pages:
    """HttpResponses for the core's cached Responses, headers checked once per Response.

    The core reuses one Response per state, variant, language and Retry-After
    value. So :func:`to_django` (every header checked by Django) runs once per
    Response, and each request gets a copy of what it built: a new instance with
    the same attributes, a copy of the header store, its own cookies, closers and
    content. That relies on Django's private attributes (``_RESPONSE_ATTRS``,
    ``ResponseHeaders._store``): they are checked here, and where they differ
    every request takes :func:`to_django`; tests/test_django_fastpath.py pins both.
    Cookies are loaded per request, since Django sends them from ``cookies``.
    """

    __slots__ = ()

    def __call__(self, response: Response) -> HttpResponse:
        entry = response.adapter_data.get("django")
        if entry is None:
            entry = self.prepare(response)
        if entry is False:
            return to_django(response)
        headers = ResponseHeaders.__new__(ResponseHeaders)
        headers._store = entry[1].copy()
        cookies = SimpleCookie()
        for cookie in entry[2]:
            cookies.load(cookie)
        result = HttpResponse.__new__(HttpResponse)
        result.__dict__.update(
            entry[0],
            headers=headers,
            cookies=cookies,
            _resource_closers=[],
            _container=[response.body],
        )
        return result

    def prepare(self, response: Response) -> _Prepared | Literal[False]:
        """Check the headers once (through :func:`to_django`) and keep them on the Response."""
        parts = _copyable(to_django(response))
        entry: _Prepared | Literal[False] = False
        if parts is not None:
            cookies = tuple(v for k, v in response.headers if k.lower() == "set-cookie")
            entry = (*parts, cookies)
        response.adapter_data["django"] = entry
        return entry


class MaintenanceMiddleware:
    """Serve the maintenance page instead of the view while the flag is up."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        try:
            self.maintenance = Maintenance(**conf.options())
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(str(exc)) from None
        conf.register_engine(self.maintenance)
        self.no_store = self.maintenance.bypass_no_store
        self.needs_user = self.maintenance.settings.bypass_staff or (
            self.maintenance.settings.bypass_superuser
        )
        self.pages = _Pages()
        #: (resolver, path_info) -> (view, URL name) of blocked requests: while maintenance is
        #: on, most visitors ask for a few URLs, and their view is only looked at, never run.
        self.views: dict[tuple[object, str], tuple[Callable[..., Any] | None, str | None]] = {}
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        #: Hold a blocked request until process_view, or resolve its URL here (no process_view,
        #: so Django calls nothing of ours after routing). Holding is needed for the user, and
        #: when LocaleMiddleware may activate the language the URL patterns depend on.
        self.hold = self.needs_user or _LOCALE in settings.MIDDLEWARE
        if self.hold:
            # An async process_view in async mode, so Django adds no thread hop per request.
            self.process_view = self._aprocess_view if self.async_mode else self._process_view
        #: When reading a user last failed and was logged (monotonic), for the hourly limit.
        self._user_failure_logged: float | None = None

    # -- sync ------------------------------------------------------------------------------

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        # A local ``get_response``: ``self.get_response(...)`` is a method lookup CPython
        # cannot specialise for an instance attribute (a type lookup per request).
        maintenance, get_response = self.maintenance, self.get_response
        if (
            monotonic() < maintenance.off_until  # known to be off
            and request.path_info != maintenance.status_path
        ):
            return get_response(request)
        snapshot = maintenance.poll()
        early = self._first_look(request, snapshot)
        if early is _AS_IS:  # a plain pass: nothing to do to the response
            return get_response(request)
        if early is _PRIVATE:  # bypassed: the real page, kept out of shared caches
            response = get_response(request)
            response.headers["Cache-Control"] = "private, no-store"
            return response
        if early is _FINISH:
            return self._finish(request, get_response(request))
        assert not isinstance(early, _Look)  # for the type checker: the three are handled
        return early

    def _process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        """``process_view`` on the instance only while :attr:`hold` (see ``__init__``)."""
        held = request.__dict__.pop(_HELD, None)
        if held is None:
            return None
        user = getattr(request, "user", None) if self.needs_user else None
        return self._second_look(request, held, view, _view_name(request), user)

    # -- async -----------------------------------------------------------------------------

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        maintenance = self.maintenance
        if (
            monotonic() < maintenance.off_until  # known to be off
            and request.path_info != maintenance.status_path
        ):
            return await get_response(request)
        snapshot = maintenance.fresh() or await maintenance.apoll()
        info = request_info(request, maintenance)
        decision = self._decide(request, snapshot, info, False)
        if decision is DEFERRED:  # a page or banner to render first: not on the event loop
            decision = await asyncio.to_thread(self._decide, request, snapshot, info, True)
        early = self._look(request, decision)
        if early is _AS_IS:  # a plain pass: nothing to do to the response
            return await get_response(request)
        if early is _PRIVATE:  # bypassed: the real page, kept out of shared caches
            response = await get_response(request)
            response.headers["Cache-Control"] = "private, no-store"
            return response
        if early is _FINISH:
            return self._finish(request, await get_response(request))
        assert not isinstance(early, _Look)  # for the type checker: the three are handled
        return early

    async def _aprocess_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        held = request.__dict__.pop(_HELD, None)
        if held is None:
            return None
        user = None
        if self.needs_user and hasattr(request, "auser"):  # set by AuthenticationMiddleware
            try:
                user = await request.auser()
            except Exception as exc:  # the session or user table is unavailable: not staff
                self._user_failed(exc)
        return self._second_look(request, held, view, _view_name(request), user)

    # -- shared ----------------------------------------------------------------------------

    def _first_look(self, request: HttpRequest, snapshot: Any) -> HttpResponse | _Look:
        """An early answer (the 503, the status document, the bypass redirect), or what is
        left to do to the view's response (:class:`_Look`)."""
        info = request_info(request, self.maintenance)
        return self._look(request, self._decide(request, snapshot, info, True))

    def _decide(
        self, request: HttpRequest, snapshot: Any, info: RequestInfo, render: bool
    ) -> Decision:
        """The core's decision, a down component's view included; with ``render`` False,
        :data:`~maintenance_mode.core.DEFERRED` when a page or banner must be rendered
        first (the async path then decides again in a worker thread)."""
        decision = self.maintenance.decide(snapshot, info, render=render)
        if snapshot.down and decision.action == "pass":  # a view of a down component?
            decision = self._component_look(request, snapshot, decision, info, render)
        return decision

    def _look(self, request: HttpRequest, decision: Decision) -> HttpResponse | _Look:
        """What to do with ``decision``: an early answer, or what is left after the view."""
        action = decision.action
        if action == "pass":
            if decision.banner:
                request.__dict__[_BANNER] = decision.banner
                return _FINISH
            return _AS_IS
        if action == "bypass":
            return _PRIVATE if self.no_store else _AS_IS
        response = decision.response
        if response is None:  # pragma: no cover - "respond" always carries a response
            return _AS_IS
        if response.status != 503:  # the status document, the bypass redirect
            return to_django(response)  # built per request: nothing to reuse
        if self.hold:
            request.__dict__[_HELD] = decision
            return _FINISH
        early = self._resolved_look(request, decision, response)
        return _AS_IS if early is None else early

    def _component_look(
        self,
        request: HttpRequest,
        snapshot: Any,
        decision: Decision,
        info: RequestInfo,
        render: bool = True,
    ) -> Decision:
        """While a component is down: the view this URL resolves to, if it belongs to one
        (``@maintenance_component`` or the component's ``views``), gets its decision."""
        view, view_name = self._resolve(request)
        if view is None:
            return decision
        return self.maintenance.decide_routed(
            snapshot,
            decision,
            info,
            view=view,
            view_name=view_name,
            is_static=_is_static(view),
            render=render,
        )

    def _resolve(self, request: HttpRequest) -> tuple[Callable[..., Any] | None, str | None]:
        """The view and URL name Django will route ``request`` to (remembered per URL)."""
        resolver = get_resolver(getattr(request, "urlconf", None))
        key = (resolver, request.path_info)
        found = self.views.get(key)
        if found is None:
            try:
                match = resolver.resolve(request.path_info)
            except Exception:  # Resolver404, or a URLconf that fails: no view
                found = (None, None)
            else:
                found = (match.func, match.view_name)
            if len(self.views) >= _VIEWS_KEPT:  # odd URLs must not grow it for ever
                self.views.clear()
            self.views[key] = found
        return found

    def _resolved_look(
        self, request: HttpRequest, held: Decision, page: Response
    ) -> HttpResponse | None:
        """The second look without process_view: resolve the URL here, as Django will."""
        # As BaseHandler.resolve_request: request.urlconf, else ROOT_URLCONF.
        resolver = get_resolver(getattr(request, "urlconf", None))
        key = (resolver, request.path_info)
        found = self.views.get(key)
        if found is None:
            try:
                match = resolver.resolve(request.path_info)
            except Exception:  # Resolver404, or a URLconf that fails: no view, so still down
                found = (None, None)
            else:
                found = (match.func, match.view_name)
            if len(self.views) >= _VIEWS_KEPT:  # odd URLs must not grow it for ever
                self.views.clear()
            self.views[key] = found
        view, view_name = found
        if view is None:
            return self._unavailable(page)
        return self._second_look(request, held, view, view_name, None)

    def _second_look(
        self,
        request: HttpRequest,
        held: Decision,
        view: Callable[..., Any],
        view_name: str | None,
        user: Any,
    ) -> HttpResponse | None:
        is_staff = is_superuser = False
        if user is not None:
            try:  # a lazy request.user loads the session and the user here
                is_staff = bool(getattr(user, "is_staff", False)) and _active(user)
                is_superuser = bool(getattr(user, "is_superuser", False)) and _active(user)
            except Exception as exc:  # e.g. DatabaseError during a database upgrade: not staff
                self._user_failed(exc)
                is_staff = is_superuser = False
        decision = self.maintenance.decide_view(
            held,
            view=view,
            view_name=view_name,
            is_static=_is_static(view),
            is_staff=is_staff,
            is_superuser=is_superuser,
        )
        if decision.action == "bypass":
            setattr(request, _BYPASSED, True)
            return None
        if decision.action == "pass" or decision.response is None:
            return None
        return self._unavailable(decision.response)

    def _user_failed(self, exc: Exception) -> None:
        """Log that the user could not be read, at most once an hour (not once per request)."""
        now = monotonic()
        last = self._user_failure_logged
        if last is not None and now - last < 3600:
            return
        self._user_failure_logged = now
        logger.warning(
            "bypass_staff/bypass_superuser: could not read the user (%s: %s); such requests "
            "are treated as not staff and get the 503 (logged at most once an hour)",
            type(exc).__name__,
            exc,
            exc_info=exc,
        )

    def _unavailable(self, page: Response) -> HttpResponse:
        """The maintenance 503, marked as logged so Django's handler does not log it again.

        Django logs every 5xx as an error on ``django.request`` (with ``ADMINS``, an
        email each); during maintenance that is one per visitor. The engine logs the
        start and the end instead.
        """
        response = self.pages(page)
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    def _finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        held = request.__dict__.pop(_HELD, None)
        if held is not None and held.response is not None:
            return self._unavailable(held.response)  # never reached a view: still down
        if self.no_store and getattr(request, _BYPASSED, False):
            response.headers["Cache-Control"] = "private, no-store"
        banner = request.__dict__.pop(_BANNER, None)
        if banner and isinstance(response, HttpResponse):
            _inject(request, response, banner)
        return response


def _inject(request: HttpRequest, response: HttpResponse, banner: bytes) -> None:
    """Put the banner into a complete text/html page (see maintenance_mode.banner)."""
    headers = list(response.items())
    if not response.has_header("Content-Length"):  # Django sets it late; the body is complete
        headers.append(("Content-Length", str(len(response.content))))
    if injectable(response.status_code, headers, request.method or "GET") is None:
        return
    from django.utils.cache import patch_vary_headers  # with the first banner

    response.content = insert(response.content, banner) or response.content + banner
    patch_vary_headers(response, ("Accept-Language",))
    if response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))


class _Look:
    """What the first look leaves to do once the view has answered (else: its own answer).

    Module-level instances compared with ``is``: an Enum member's lookup costs more here.
    """

    __slots__ = ("meaning",)

    def __init__(self, meaning: str) -> None:
        self.meaning = meaning


_AS_IS: Final = _Look("the view's response as it is")
_FINISH: Final = _Look("a banner, or a held request: see _finish")
_PRIVATE: Final = _Look("bypassed: Cache-Control: private, no-store")


#: Distinct URLs whose view is remembered before that memory restarts.
_VIEWS_KEPT: Final = 512

#: Its request phase activates the language that i18n_patterns and translated routes match.
_LOCALE = "django.middleware.locale.LocaleMiddleware"


def _view_name(request: HttpRequest) -> str | None:
    match = request.resolver_match
    return match.view_name if match is not None else None


#: Django's own static-file views (``static()`` URL patterns, ``runserver`` with staticfiles).
_STATIC_VIEWS = frozenset({"django.views.static.serve", "django.contrib.staticfiles.views.serve"})


def _is_static(view: Callable[..., Any]) -> bool:
    name = f"{getattr(view, '__module__', '')}.{getattr(view, '__name__', '')}"
    return name in _STATIC_VIEWS


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_active", False)) and bool(
        getattr(user, "is_authenticated", False)
    )
