"""The FastAPI (and Starlette) integration: ``MaintenanceMode(app, **options)``.

What it adds to the plain ASGI middleware (:mod:`maintenance_mode.asgi`):

- the options are validated by the call itself, so a mistake stops the import of the
  app module with the core's one-line ``ValueError``, whatever the server's lifespan
  setting (``add_middleware`` only validates when Starlette builds its stack);
- a blocked request gets a second look after routing, as under Django and Flask:
  an endpoint marked with :func:`maintenance_exempt`, a route whose name is listed
  in ``allow_views`` (``"health"``, ``"legacy:*"`` for routes of a sub-app mounted
  with ``name="legacy"``) and, while ``allow_static`` is on, a ``StaticFiles`` mount
  answer as usual;
- ``allow_docs=True`` keeps the app's own ``openapi_url``, ``docs_url``, ``redoc_url``
  and Swagger UI OAuth2 redirect reachable.

How the second look routes: the middleware is the outermost of the app's own, so it
answers before sessions, authentication or database middleware run. For a request it
would block, it asks the app's routes, in the router's order and with each route's
own ``matches()``, which route the router will pick (FastAPI's included routers are
flattened with ``fastapi.routing.iter_route_contexts`` where FastAPI has it). A path
no route matches, or that a middleware between this one and the router rewrites,
keeps the 503 (it fails closed). The answer is remembered per method and path while
maintenance is on; a request while maintenance is off never routes twice.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Iterable, Iterator
from typing import Any, Final, Unpack

from starlette.applications import Starlette
from starlette.routing import Match
from starlette.staticfiles import StaticFiles

from ._types import ASGIApp, Receive, Scope, Send
from .asgi import MaintenanceMiddleware as _AsgiMiddleware
from .core import Decision, Maintenance, RequestInfo, maintenance_component, maintenance_exempt
from .settings import Options

__all__ = ["MaintenanceMode", "maintenance_component", "maintenance_exempt"]

#: Options this integration cannot honour: FastAPI has no notion of staff or superusers.
_USER_OPTIONS: Final = ("bypass_staff", "bypass_superuser")
#: The app attributes ``allow_docs`` reads (FastAPI's own; each may be None).
_DOCS_ATTRIBUTES: Final = (
    "openapi_url",
    "docs_url",
    "redoc_url",
    "swagger_ui_oauth2_redirect_url",
)
#: Distinct (type, method, root_path, path) whose route is remembered before that memory restarts.
_ROUTES_KEPT: Final = 512
#: How deep mounted apps are followed.
_MAX_DEPTH: Final = 16

#: (endpoint, route name, is a StaticFiles mount) of a routed request; None: no route.
_Found = tuple[object, str | None, bool] | None


class MaintenanceMode:
    """Maintenance mode for a FastAPI or Starlette app: ``MaintenanceMode(app, **options)``.

    Call it after your own ``add_middleware`` calls (it adds its middleware with
    ``add_middleware``, so the last one added runs first) and before the app serves.
    Keyword options are the core's (docs/options.md), plus ``allow_docs``. Everything is
    validated here: a bad option raises the core's one-line ``ValueError``.
    The engine is :attr:`maintenance` (for ``banner_html()``).

    Trust model: the core's (docs/options.md, "Bypass in detail"); the client address
    is ``scope["client"]`` as the server gives it.
    """

    def __init__(
        self, app: Starlette, *, allow_docs: bool = False, **options: Unpack[Options]
    ) -> None:
        if not isinstance(app, Starlette):
            raise TypeError(
                "maintenance-mode: MaintenanceMode(app) needs a FastAPI or Starlette app "
                f"(got {type(app).__name__}); wrap other ASGI apps with "
                "maintenance_mode.asgi.MaintenanceMiddleware"
            )
        for name in _USER_OPTIONS:
            if options.get(name):
                raise ValueError(
                    f"maintenance-mode: option {name!r} needs users that FastAPI does not "
                    "have; use 'bypass_ips' or 'bypass_secret' for the team"
                )
        if allow_docs:
            allow: object = options.get("allow", ())
            if isinstance(allow, str):  # "a, b c", as the core reads it
                allow = [part for part in re.split(r"[\s,]+", allow) if part]
            if isinstance(allow, list | tuple):  # else the core reports the mistake
                options["allow"] = [*allow, *docs_paths(app)]
        self.app = app
        self.maintenance = Maintenance(**options)
        app.add_middleware(_Middleware, maintenance=self.maintenance, routed=app)


def docs_paths(app: Starlette) -> list[str]:
    """The app's API documentation paths: those of its settings that are not None."""
    if not all(hasattr(app, name) for name in _DOCS_ATTRIBUTES):
        raise ValueError(
            "maintenance-mode: allow_docs needs a FastAPI app (this app has no docs_url); "
            "list the paths to keep in 'allow' instead"
        )
    openapi, docs, redoc, oauth2_redirect = (getattr(app, name) for name in _DOCS_ATTRIBUTES)
    if not docs:
        oauth2_redirect = None  # FastAPI adds the OAuth2 redirect only with the Swagger UI
    return [
        path for path in (openapi, docs, redoc, oauth2_redirect) if isinstance(path, str) and path
    ]


class _Middleware(_AsgiMiddleware):
    """The ASGI middleware with a second look after routing (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, maintenance: Maintenance, routed: Starlette) -> None:
        # Not the parent's __init__: the options were validated by MaintenanceMode, and
        # allow_views is honoured here.
        self.app = app
        self.maintenance = maintenance
        self.routed = routed
        self.found: dict[tuple[str, str, str, str], _Found] = {}

    def _act(
        self, scope: Scope, receive: Receive, send: Send, decision: Decision
    ) -> Awaitable[None]:
        """A blocked request gets the second look after routing, then the parent acts."""
        response = decision.response
        if decision.action == "respond" and response is not None and response.status == 503:
            found = self._route(scope)
            if found is not None:
                endpoint, name, is_static = found
                decision = self.maintenance.decide_view(
                    decision, view=endpoint, view_name=name, is_static=is_static
                )
        elif decision.action == "pass" and self.maintenance.last_snapshot.down:
            decision = self._component_look(scope, decision)
        return super()._act(scope, receive, send, decision)

    def _component_look(self, scope: Scope, decision: Decision) -> Decision:
        """While a component is down: does the routed endpoint belong to it (by name or
        ``@maintenance_component``)? Then that component decides."""
        found = self._route(scope)
        if found is None:
            return decision
        endpoint, name, is_static = found
        maintenance = self.maintenance
        return maintenance.decide_routed(
            maintenance.last_snapshot,
            decision,
            RequestInfo.from_asgi(scope, maintenance.settings),
            view=endpoint,
            view_name=name,
            is_static=is_static,
        )

    def _route(self, scope: Scope) -> _Found:
        """The route the router will pick for ``scope`` (remembered per method and path)."""
        key = (
            scope["type"],
            scope.get("method", ""),
            scope.get("root_path", ""),
            scope.get("path", ""),
        )
        if key in self.found:
            return self.found[key]
        try:
            found = resolve(self.routed.routes, scope)
        except Exception:  # a route whose matching fails: no route, so still down
            found = None
        if len(self.found) >= _ROUTES_KEPT:  # odd URLs must not grow it for ever
            self.found.clear()
        self.found[key] = found
        return found


def resolve(routes: Iterable[Any], scope: Scope) -> _Found:
    """The endpoint, route name and static-ness the router will pick for ``scope``.

    Each route's own ``matches()`` runs on a copy of the scope, in the router's order; a
    full match wins over an earlier partial one (a 405), as in Starlette's router.
    """
    probe = dict(scope)
    if isinstance(probe.get("fastapi"), dict):
        probe["fastapi"] = dict(probe["fastapi"])  # FastAPI's matching writes into it
    return _resolve(routes, probe, "", 0)


def _resolve(routes: Iterable[Any], scope: Scope, prefix: str, depth: int) -> _Found:
    partial: tuple[Any, Scope] | None = None
    for route in _flat(routes):
        match, child = route.matches(scope)
        if match is Match.FULL:
            return _leaf(route, {**scope, **child}, child, prefix, depth)
        if match is Match.PARTIAL and partial is None:
            partial = (route, child)
    if partial is not None:
        route, child = partial
        return _leaf(route, {**scope, **child}, child, prefix, depth)
    return None


def _leaf(route: Any, scope: Scope, child: Scope, prefix: str, depth: int) -> _Found:
    endpoint = child.get("endpoint", getattr(route, "endpoint", None))
    name = getattr(route, "name", None)
    if isinstance(endpoint, StaticFiles):
        return endpoint, _join(prefix, name), True
    inner = getattr(route, "routes", None)  # a mounted app or a Host with routes
    if inner and depth < _MAX_DEPTH:
        return _resolve(inner, scope, prefix + (f"{name}:" if name else ""), depth + 1)
    return endpoint, _join(prefix, name), False


def _join(prefix: str, name: str | None) -> str | None:
    return None if name is None else prefix + name


def _flat(routes: Iterable[Any]) -> Iterator[Any]:
    """Routes in the router's order; FastAPI's included routers as their effective routes."""
    routing = sys.modules.get("fastapi.routing")
    contexts = getattr(routing, "iter_route_contexts", None) if routing is not None else None
    if contexts is None:
        yield from routes
    else:
        yield from contexts(list(routes))
