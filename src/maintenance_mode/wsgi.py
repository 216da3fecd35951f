"""PEP 3333 middleware: ``app = MaintenanceMiddleware(app, flag="maintenance.json")``.

It translates the engine's verdict and decides nothing itself. Pass-through
returns the inner iterable unchanged (so ``wsgi.file_wrapper`` and ``__len__``
keep working); the 503 never reads ``wsgi.input``; HEAD gets no body.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from time import monotonic
from typing import TYPE_CHECKING, Any, Unpack

# First: a clear error if django-maintenance-mode's files are mixed with ours.
import maintenance_mode._install  # noqa: F401

from .banner import BannerInjector, injectable, with_length
from .core import Maintenance, RequestInfo
from .settings import Options

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["MaintenanceMiddleware"]


class MaintenanceMiddleware:
    """Serve the maintenance page instead of ``app`` while the flag is up.

    Keyword options are documented in docs/options.md (``flag``, ``allow``,
    ``read_only``, ``bypass_ips``, ``trusted_proxies``, ``bypass_secret``,
    ``template_dir``, ``check_interval``, ``on_error``, ...).
    """

    def __init__(self, app: WSGIApplication, **options: Unpack[Options]) -> None:
        self.app = app
        self.maintenance = Maintenance(**options)
        self.maintenance.require_paths_only("maintenance_mode.wsgi")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        maintenance, app = self.maintenance, self.app  # a local ``app``: see asgi.py
        if (
            monotonic() < maintenance.off_until  # known to be off: the whole cost while off
            and environ.get("PATH_INFO") != maintenance.status_path
        ):
            return app(environ, start_response)
        snapshot = maintenance.poll()
        decision = maintenance.decide(
            snapshot, RequestInfo.from_wsgi(environ, maintenance.settings)
        )
        if decision.action == "pass":
            if decision.banner:
                method = environ.get("REQUEST_METHOD", "GET")
                return _with_banner(app, environ, start_response, decision.banner, method)
            return app(environ, start_response)
        if decision.action == "bypass":
            if maintenance.bypass_no_store:
                return app(environ, _no_store(start_response))
            return app(environ, start_response)
        response = decision.response
        if response is None:  # pragma: no cover - "respond" always carries a response
            return app(environ, start_response)
        start_response(response.status_line, list(response.headers))
        return [response.body] if response.body else []


class _WithBanner:
    """The app's body with the banner inserted, if its start_response said it may be.

    Only for pages that get a banner; everything else keeps the app's own iterable.
    Calls the inner ``close()`` exactly once.
    """

    def __init__(self, result: Iterable[bytes], banner: bytes, inject: list[bool]) -> None:
        self.result, self.banner, self.inject = result, banner, inject

    def __iter__(self) -> Iterator[bytes]:
        injector: BannerInjector | None = None
        for chunk in self.result:
            if injector is None and self.inject and self.inject[0]:
                injector = BannerInjector(self.banner)
            yield injector.feed(chunk) if injector is not None else chunk
        if injector is None and self.inject and self.inject[0]:
            injector = BannerInjector(self.banner)  # no chunk at all
        if injector is not None:
            tail = injector.finish()
            if tail:
                yield tail

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


def _with_banner(
    app: WSGIApplication,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    banner: bytes,
    method: str,
) -> Iterable[bytes]:
    inject: list[bool] = []

    def wrapped(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Any:
        length = injectable(int(status[:3]), headers, method)
        inject[:] = [length is not None]
        if length is not None:
            headers = with_length(headers, length + len(banner))
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    result = app(environ, wrapped)
    if inject and not inject[0]:
        return result  # already known not to be a page for the banner: the app's own iterable
    return _WithBanner(result, banner, inject)


def _no_store(start_response: StartResponse) -> StartResponse:
    """Keep a bypassed visitor's real page out of shared caches (exc_info forwarded)."""

    def wrapped(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Any:
        for name, _ in headers:
            if name.lower() == "cache-control":  # rare: only then filter
                headers = [(k, v) for k, v in headers if k.lower() != "cache-control"]
                break
        headers = [*headers, ("Cache-Control", "private, no-store")]
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    return wrapped
