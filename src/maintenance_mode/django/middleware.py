"""The Django middleware: sync- and async-capable, translating the core's decisions.

The first look happens in ``__call__`` (paths, read-only, IP, secret). A request
the core would block is held, not answered, until ``process_view``: there Django
has resolved the view and authenticated the user, so a decorated view, an
allowlisted URL name or a staff bypass can still let it through. A held request
that never reaches ``process_view`` (a 404, another middleware answering) gets
the 503. So the order in ``MIDDLEWARE`` does not matter for the staff bypass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import patch_vary_headers

from maintenance_mode.banner import injectable, insert
from maintenance_mode.core import Decision, Maintenance, RequestInfo
from maintenance_mode.render import Response
from maintenance_mode.rules import app_path

from . import conf

__all__ = ["MaintenanceMiddleware"]

_HELD = "_maintenance_held"
_BYPASSED = "_maintenance_bypassed"
_BANNER = "_maintenance_banner"


def request_info(request: HttpRequest, maintenance: Maintenance) -> RequestInfo:
    """What the core needs, from Django's own routing view of the request."""
    meta = request.META
    path_info = request.path_info
    root = request.path[: len(request.path) - len(path_info)] if path_info else request.path
    return RequestInfo(
        method=request.method or "GET",
        path=app_path(path_info),
        root=root,
        peer=meta.get("REMOTE_ADDR"),
        forwarded_for=meta.get("HTTP_X_FORWARDED_FOR"),
        accept=meta.get("HTTP_ACCEPT"),
        cookie=meta.get("HTTP_COOKIE"),
        token=meta.get(maintenance.token_meta_key),
        scheme=request.scheme or "http",
        accept_language=meta.get("HTTP_ACCEPT_LANGUAGE"),
    )


def to_django(response: Response) -> HttpResponse:
    """The core's neutral response as an HttpResponse, headers exactly as given."""
    result = HttpResponse(response.body, status=response.status)
    for name, value in response.headers:
        if name.lower() == "set-cookie":
            result.cookies.load(value)  # Django sends cookies from here, not from headers
        else:
            result.headers[name] = value
    return result


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
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            # An async process_view, so Django adds no thread hop per request.
            self.process_view = self._aprocess_view  # type: ignore[method-assign,assignment]

    # -- sync ------------------------------------------------------------------------------

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        if (
            monotonic() < self.maintenance.off_until  # known to be off
            and request.path_info != self.maintenance.status_path
        ):
            return self.get_response(request)
        snapshot = self.maintenance.poll()
        early = self._first_look(request, snapshot)
        if early is not None:
            return early
        return self._finish(request, self.get_response(request))

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        held = request.__dict__.pop(_HELD, None)
        if held is None:
            return None
        user = getattr(request, "user", None) if self.needs_user else None
        return self._second_look(request, held, view, user)

    # -- async -----------------------------------------------------------------------------

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        if (
            monotonic() < self.maintenance.off_until  # known to be off
            and request.path_info != self.maintenance.status_path
        ):
            return await get_response(request)
        snapshot = await self.maintenance.apoll()
        early = self._first_look(request, snapshot)
        if early is not None:
            return early
        return self._finish(request, await get_response(request))

    async def _aprocess_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        held = request.__dict__.pop(_HELD, None)
        if held is None:
            return None
        user = None
        if self.needs_user and hasattr(request, "auser"):  # set by AuthenticationMiddleware
            user = await request.auser()
        return self._second_look(request, held, view, user)

    # -- shared ----------------------------------------------------------------------------

    def _first_look(self, request: HttpRequest, snapshot: Any) -> HttpResponse | None:
        decision = self.maintenance.decide(snapshot, request_info(request, self.maintenance))
        if decision.action == "bypass":
            setattr(request, _BYPASSED, True)
        elif decision.action == "pass" and decision.banner:
            request.__dict__[_BANNER] = decision.banner
        elif decision.action == "respond" and decision.response is not None:
            if decision.response.status != 503:  # the status document, the bypass redirect
                return to_django(decision.response)
            request.__dict__[_HELD] = decision
        return None

    def _second_look(
        self, request: HttpRequest, held: Decision, view: Callable[..., Any], user: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        decision = self.maintenance.decide_view(
            held,
            view=view,
            view_name=match.view_name if match is not None else None,
            is_static=_is_static(view),
            is_staff=bool(getattr(user, "is_staff", False)) and _active(user),
            is_superuser=bool(getattr(user, "is_superuser", False)) and _active(user),
        )
        if decision.action == "bypass":
            setattr(request, _BYPASSED, True)
            return None
        if decision.action == "pass" or decision.response is None:
            return None
        return to_django(decision.response)

    def _finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        held = request.__dict__.pop(_HELD, None)
        if held is not None and held.response is not None:
            return to_django(held.response)  # never reached a view: still down
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
    response.content = insert(response.content, banner) or response.content + banner
    patch_vary_headers(response, ("Accept-Language",))
    if response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))


#: Django's own static-file views (``static()`` URL patterns, ``runserver`` with staticfiles).
_STATIC_VIEWS = frozenset({"django.views.static.serve", "django.contrib.staticfiles.views.serve"})


def _is_static(view: Callable[..., Any]) -> bool:
    name = f"{getattr(view, '__module__', '')}.{getattr(view, '__name__', '')}"
    return name in _STATIC_VIEWS


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_active", False)) and bool(
        getattr(user, "is_authenticated", False)
    )
