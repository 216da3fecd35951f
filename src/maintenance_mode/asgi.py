"""Pure ASGI middleware: ``app = MaintenanceMiddleware(app, flag="maintenance.json")``.

Works with any ASGI 3 app and with Starlette/FastAPI's
``app.add_middleware(MaintenanceMiddleware, ...)``. It translates the engine's
verdict and decides nothing itself. ``lifespan`` and unknown scope types pass
through untouched; while down, a WebSocket handshake is refused with a real 503
where the server offers the ``websocket.http.response`` extension, else with a
close before accept (which servers answer with HTTP 403).

It sees paths only: for FastAPI and Starlette apps, :mod:`maintenance_mode.fastapi`
adds the second look after routing (``@maintenance_exempt``, ``allow_views``). Built
around an app whose routes carry ``@maintenance_exempt`` markers, this middleware warns
once, when it is built.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Iterable
from time import monotonic
from typing import Any, Unpack

# First: a clear error if django-maintenance-mode's files are mixed with ours.
import maintenance_mode._install  # noqa: F401

from ._response import Response
from ._types import ASGIApp, Message, Receive, Scope, Send
from .banner import BannerInjector, injectable, with_length
from .core import DEFERRED, Decision, Maintenance, RequestInfo, Snapshot
from .settings import Options

__all__ = ["MaintenanceMiddleware"]

_NO_STORE = (b"cache-control", b"private, no-store")


class MaintenanceMiddleware:
    """Serve the maintenance page instead of ``app`` while the flag is up.

    Keyword options are documented in docs/options.md (``flag``, ``allow``,
    ``read_only``, ``bypass_ips``, ``trusted_proxies``, ``bypass_secret``,
    ``template_dir``, ``check_interval``, ``on_error``, ...).
    """

    def __init__(self, app: ASGIApp, **options: Unpack[Options]) -> None:
        self.app = app
        self.maintenance = Maintenance(**options)
        self.maintenance.require_paths_only("maintenance_mode.asgi")
        _warn_unhonoured(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        maintenance, app = self.maintenance, self.app
        # Known to be off: the whole cost while off. A path that contains the status path
        # (a mounted one ends with it) asks the engine; ``in`` costs less than endswith().
        # ``app`` is a local because ``self.app(...)`` compiles to a method lookup, which
        # CPython cannot specialise for an instance attribute: a type lookup per request.
        if monotonic() < maintenance.off_until and maintenance.status_path not in scope.get(
            "path", ""
        ):
            await app(scope, receive, send)
        else:
            await self._decide(scope, receive, send)

    def _decide(
        self, scope: Scope, receive: Receive, send: Send, snapshot: Snapshot | None = None
    ) -> Awaitable[None]:
        """Everything but the known-off path: the awaitable that acts on the engine's decision.

        Kept out of ``__call__`` so that coroutine stays small (its frame is allocated per
        request, and each local and stack slot here would grow it), and a plain function so
        that a request while on makes no second coroutine.
        """
        maintenance, app = self.maintenance, self.app
        if scope["type"] != "http" and scope["type"] != "websocket":
            return app(scope, receive, send)
        if snapshot is None:
            snapshot = maintenance.fresh()
            if snapshot is None:  # a check is due: await it, then decide
                return self._polled(scope, receive, send)
        info = RequestInfo.from_asgi(scope, maintenance.settings)
        decision = maintenance.decide(snapshot, info, render=False)
        if decision is DEFERRED:  # a page or banner to render first: not on the event loop
            return self._rendered(scope, receive, send, snapshot, info)
        return self._act(scope, receive, send, decision)

    async def _rendered(
        self, scope: Scope, receive: Receive, send: Send, snapshot: Snapshot, info: RequestInfo
    ) -> None:
        """Decide in a worker thread (it renders), so requests in flight are not held up."""
        decision = await asyncio.to_thread(self.maintenance.decide, snapshot, info)
        await self._act(scope, receive, send, decision)

    def _act(
        self, scope: Scope, receive: Receive, send: Send, decision: Decision
    ) -> Awaitable[None]:
        """The awaitable that carries out ``decision`` for this request."""
        maintenance, app = self.maintenance, self.app
        if decision.action == "pass":
            if decision.banner and scope["type"] == "http":
                send = _with_banner(send, decision.banner, scope.get("method", "GET"))
            return app(scope, receive, send)
        if decision.action == "bypass":
            return app(scope, receive, _no_store(send) if maintenance.bypass_no_store else send)
        response = decision.response
        if response is None:  # pragma: no cover - "respond" always carries a response
            return app(scope, receive, send)
        if scope["type"] == "websocket":
            return _refuse_websocket(scope, receive, send, response)
        return _respond(send, response)

    async def _polled(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = await self.maintenance.apoll()
        await self._decide(scope, receive, send, snapshot)


def _warn_unhonoured(app: object) -> None:
    """Warn, once when the middleware is built, about ``@maintenance_exempt`` endpoints.

    This middleware sees paths only, so such a marker does nothing here. The app's routes
    are looked for below it (Starlette's middleware and apps keep the next one in ``.app``,
    a router its ``.routes``); nothing of this runs per request.
    """
    inner: object = app
    for _ in range(32):
        routes = getattr(inner, "routes", None)
        if isinstance(routes, list):
            break
        inner = getattr(inner, "app", None)
        if inner is None:
            return
    else:
        return
    marked = sorted(set(_marked(routes, 0)))
    if marked:
        shown = ", ".join(marked[:5]) + (f" and {len(marked) - 5} more" if len(marked) > 5 else "")
        warnings.warn(
            f"maintenance-mode: @maintenance_exempt on {shown} has no effect under "
            "maintenance_mode.asgi, which sees paths only; use "
            "maintenance_mode.fastapi.MaintenanceMode(app, ...) or list the paths in 'allow'",
            UserWarning,
            stacklevel=3,
        )
    parts = sorted(set(_marked(routes, 0, "maintenance_component")))
    if parts:
        shown = ", ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
        warnings.warn(
            f"maintenance-mode: @maintenance_component on {shown} has no effect under "
            "maintenance_mode.asgi, which sees paths only; use "
            "maintenance_mode.fastapi.MaintenanceMode(app, ...) or list the paths in the "
            "component's 'paths'",
            UserWarning,
            stacklevel=3,
        )


def _marked(routes: Iterable[Any], depth: int, mark: str = "maintenance_exempt") -> Iterable[str]:
    """The paths of the endpoints marked with ``mark`` among ``routes`` and the apps
    mounted there (``maintenance_exempt``: True; ``maintenance_component``: a name)."""
    for route in routes:
        endpoint = getattr(route, "endpoint", None)
        value = getattr(endpoint, mark, None)
        if value is True or (mark == "maintenance_component" and isinstance(value, str)):
            yield str(getattr(route, "path", getattr(endpoint, "__name__", "?")))
        inner = getattr(route, "routes", None)
        if inner and depth < 8:
            yield from _marked(inner, depth + 1, mark)
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None and depth < 8:
            yield from _marked(getattr(included, "routes", ()), depth + 1, mark)


def _no_store(send: Send) -> Send:
    """Keep a bypassed visitor's real page out of shared caches.

    A plain function that returns ``send``'s awaitable: no coroutine of its own per message.
    """

    def wrapped(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            for name, _ in headers:
                if name.lower() == b"cache-control":  # rare: only then filter
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    break
            message = {**message, "headers": [*headers, _NO_STORE]}
        return send(message)

    return wrapped


def _with_banner(send: Send, banner: bytes, method: str) -> Send:
    """Insert the banner into an HTML response with a known length (see banner.py)."""
    held: Message | None = None  # the original start, in case no body message follows
    grown: Message | None = None  # the same start with the banner's length and Vary
    injector: BannerInjector | None = None

    async def wrapped(message: Message) -> None:
        nonlocal held, grown, injector
        kind = message["type"]
        if kind == "http.response.start":
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]]
            length = injectable(message["status"], headers, method)
            if length is None:
                await send(message)
                return
            held, injector = message, BannerInjector(banner)
            raw = with_length(headers, length + len(banner))
            grown = {
                **message,
                "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in raw],
            }
            return
        if held is not None:  # sent once a body message shows the body is ours to change
            start = grown if kind == "http.response.body" and grown is not None else held
            if start is held:  # e.g. http.response.pathsend: the body is not ours to change
                injector = None
            held = grown = None
            await send(start)
        if kind == "http.response.body" and injector is not None:
            body = injector.feed(message.get("body", b""))
            if not message.get("more_body", False):
                body += injector.finish()
                injector = None
            message = {**message, "body": body}
        await send(message)

    return wrapped


async def _respond(send: Send, response: Response) -> None:
    try:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})
    except OSError:  # the client went away; nothing left to tell it
        return


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # already disconnected
    try:
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": response.raw_headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await send({"type": "websocket.close", "code": 1013, "reason": ""})
    except OSError:
        return
