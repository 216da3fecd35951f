"""Every benchmarked variant, built by name: ``build("starlette:off", workdir)``.

A name is ``<app>:<variant>``. Apps: ``raw-asgi``, ``starlette``, ``fastapi`` (ASGI);
``raw-wsgi``, ``flask``, ``django`` (WSGI). Each answers ``GET /hello`` with
``hello``, as lean as the framework allows. Variants:

- ``bare``: the app alone; ``floor``: behind a do-nothing pass-through middleware;
- ``off``, ``on-html``, ``on-json``: behind ours with maintenance off / on (the 503
  negotiated as HTML or problem+JSON); ``allow``: on, with ``/hello`` allowlisted;
  ``bypass``: on, the request carries the bypass secret header;
- ``decide-allow``, ``decide-bypass``, ``decide-503`` (raw apps only): not an app but
  one decision, ``decide(snapshot, RequestInfo.from_*(request))``, for the target
  "allowlisted and bypassed requests cost no more than the off path plus one decision";
- ``ext-off``, ``ext-on-html`` (flask): the Flask extension instead of the WSGI middleware,
  and ``ext-floor``, its own floor: a do-nothing ``before_request``/``after_request`` pair;
- peers, imported only in the peers' virtualenv: ``fastapi:fm-*`` (fastapi-maintenance,
  its default env backend and its file backend) and ``django:dmm-*``
  (django-maintenance-mode, which installs a package also named ``maintenance_mode``);
- ``scaling:*`` (scaling.py): the bare ASGI middleware with no other rules, off, or with
  ``net<N>`` (N ``bypass_ips`` networks) or ``allow<N>`` (N ``allow`` prefixes), then
  ``-blocked`` / ``-blocked6`` (an IPv4 / IPv6 client, blocked), ``-bypassed`` (the client
  is the last network) or nothing (the allowlisted path is the last prefix); ``upd<N>``
  (N updates in the flag document) then ``-status`` (the status document), ``-blocked`` or
  ``-render-html|text|json`` (one re-render of the 503 of a fresh state: a call); ``conc<N>``
  then ``-bare|off|blocked``: BATCH requests, N in flight at once (a call, see _in_flight).

All of ours share one realistic configuration: two allowlisted paths and a bypass
secret, with the library's default check interval (``BENCH_CHECK_INTERVAL`` overrides it).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import BYPASS_HEADER, CLIENT, PATH, SECRET, Variant, asgi_scope, wsgi_environ

ASGI_APPS = ("raw-asgi", "starlette", "fastapi")
WSGI_APPS = ("raw-wsgi", "flask", "django")
OURS = ("bare", "floor", "off", "on-html", "on-json", "allow", "bypass")
DECIDE = ("decide-allow", "decide-bypass", "decide-503")
FLASK_EXT = ("ext-floor", "ext-off", "ext-on-html")
FASTAPI_PEER = ("fm-env-off", "fm-env-on", "fm-file-off", "fm-file-on", "fm-allow", "fm-bypass")
DJANGO_PEER = ("dmm-off", "dmm-on-html", "dmm-on-json", "dmm-allow", "dmm-bypass")


def ours_names() -> list[str]:
    """Every variant of ours (runs in the project's own virtualenv)."""
    names = [f"{app}:{v}" for app in (*ASGI_APPS, *WSGI_APPS) for v in OURS]
    names += [f"{app}:{v}" for app in ("raw-asgi", "raw-wsgi", "django") for v in DECIDE]
    if importlib.util.find_spec("flask") is not None:
        names += [f"flask:{v}" for v in FLASK_EXT]
    return names


def peer_names() -> list[str]:
    """The peers and the bare apps and floors they are compared with, in their own process."""
    return [
        "fastapi:bare",
        "fastapi:floor",
        *(f"fastapi:{v}" for v in FASTAPI_PEER),
        "django:bare",
        "django:floor",
        *(f"django:{v}" for v in DJANGO_PEER),
    ]


def expected_status(label: str) -> int:
    return 503 if "-on" in f"-{label}" and not label.startswith("decide") else 200


def request_kind(label: str) -> str:
    if label.endswith("json"):
        return "json"
    if label in {"bypass", "fm-bypass", "decide-bypass"}:
        return "bypass"
    return "html"


def check_interval() -> float | None:
    value = os.environ.get("BENCH_CHECK_INTERVAL")
    return float(value) if value else None


# -- the bare apps and the floors -------------------------------------------------------------


async def raw_asgi_hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


def raw_wsgi_hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


class ASGIPassThrough:
    """The physical floor of any ASGI middleware: the cheapest pass-through there is.

    ``app`` is read into a local, as ours does: ``self.app(...)`` compiles to a method
    lookup that CPython cannot specialise for an instance attribute (about 300-500
    instructions more per request, most of it a type lookup).
    """

    def __init__(self, app: Any, **options: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self.app
        await app(scope, receive, send)


class WSGIPassThrough:
    """The physical floor of any WSGI middleware (``app`` a local: see ASGIPassThrough)."""

    def __init__(self, app: Any, **options: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        app = self.app
        return app(environ, start_response)


class DjangoPassThrough:
    """The floor of a Django middleware (sync, like the WSGI handler calls it; a local
    ``get_response``: see ASGIPassThrough)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        get_response = self.get_response
        return get_response(request)


def starlette_app(middleware: list[Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> Any:
        return PlainTextResponse("hello")

    return Starlette(routes=[Route(PATH, hello)], middleware=middleware)


def fastapi_app(decorate: Callable[[Any], Any] | None = None) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    async def hello() -> Any:  # no response model: the Response goes out as it is
        return PlainTextResponse("hello")

    app.get(PATH, response_model=None)(decorate(hello) if decorate is not None else hello)
    return app


def flask_app() -> Any:
    from flask import Flask

    app = Flask("bench")

    @app.get(PATH)
    def hello() -> str:
        return "hello"

    return app


# -- Django (settings.configure in this process, like the test project) ----------------------

_DJANGO_FLAVOR: list[str] = []
#: False: INSTALLED_APPS leaves ours out (the footprint of a bare Django worker).
DJANGO_APP = [True]
#: The peer's switch is a state file, set per variant by its before() hook.
_PEER_SETTINGS = {"MAINTENANCE_MODE": None, "MAINTENANCE_MODE_STATE_FILE_PATH": ""}


def _installed_is_peer() -> bool:
    """Whether ``maintenance_mode`` here is django-maintenance-mode (found without importing it)."""
    spec = importlib.util.find_spec("maintenance_mode")
    if spec is None or not spec.submodule_search_locations:
        return False
    return not any((Path(p) / "django").is_dir() for p in spec.submodule_search_locations)


def django_setup() -> str:
    """Configure Django once; returns "ours" or "peer" (which maintenance_mode is installed)."""
    if _DJANGO_FLAVOR:
        return _DJANGO_FLAVOR[0]
    import django
    from django.conf import settings

    flavor = "peer" if _installed_is_peer() else "ours"
    apps = ["maintenance_mode"] if flavor == "peer" else ["maintenance_mode.django"]
    if importlib.util.find_spec("maintenance_mode") is None or not DJANGO_APP[0]:
        apps = []
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        ROOT_URLCONF="_django_urls",
        INSTALLED_APPS=apps,
        MIDDLEWARE=[],
        DATABASES={},
        TEMPLATES=[
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
        ],
        **(_PEER_SETTINGS if flavor == "peer" else {}),
    )
    django.setup()
    if flavor == "peer":
        importlib.import_module("maintenance_mode.settings")  # its defaults, after configure
    _DJANGO_FLAVOR.append(flavor)
    return flavor


def django_handler(middleware: list[str], **overrides: Any) -> Any:
    django_setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    with override_settings(MIDDLEWARE=middleware, **overrides):
        return WSGIHandler()


# -- ours -------------------------------------------------------------------------------------


def _ours_flag(workdir: Path, on: bool) -> Path:
    if not on:
        return workdir / "ours-absent.json"
    path = workdir / "ours-on.json"
    if not path.exists():
        from maintenance_mode import ETARange, MaintenanceState, write_state_atomic

        now = datetime.now(UTC).replace(microsecond=0)
        write_state_atomic(
            path,
            MaintenanceState(
                reason="Database upgrade",
                message="We are moving to a bigger database. Orders are safe.",
                started_at=now,
                eta=ETARange(earliest=now + timedelta(hours=1), latest=now + timedelta(hours=2)),
            ),
        )
    return path


def ours_options(label: str, workdir: Path) -> dict[str, Any]:
    on = label not in {"off", "ext-off"}
    options: dict[str, Any] = {
        "flag": _ours_flag(workdir, on),
        "allow": ["/faq", "/static/", *([PATH] if label.endswith("allow") else [])],
        "bypass_secret": SECRET,
    }
    if (interval := check_interval()) is not None:
        options["check_interval"] = interval
    return options


#: What "loaded" variants keep alive: ours built, off, but not in the request's path.
_LOADED: list[Any] = []


def _loaded(group: str, workdir: Path, floor: bool = False) -> Any:
    """The bare app (``floor``: behind the pass-through) in a process that has also imported
    and built ours (off), unused.

    Over HTTP, it tells a per-request cost of ours from what a bigger process costs
    whatever it runs (more modules, a bigger heap for the garbage collector).
    """
    app = _bare(group, floor)
    from maintenance_mode.core import Maintenance

    if group in ASGI_APPS:
        import maintenance_mode.asgi
    elif group == "django":
        import maintenance_mode.django.middleware
    else:
        import maintenance_mode.wsgi  # noqa: F401
    _LOADED.append(Maintenance(**ours_options("off", workdir)))
    return app


def _ours(group: str, label: str, workdir: Path) -> Any:
    """The app of ``group`` behind ours (``label`` in OURS minus bare/floor)."""
    options = ours_options(label, workdir)
    if group == "django":
        options["flag"] = str(options["flag"])
        return django_handler(
            ["maintenance_mode.django.MaintenanceMiddleware"], MAINTENANCE_MODE=options
        )
    if label.startswith("ext-"):
        from maintenance_mode.flask import MaintenanceMode

        MaintenanceMode(app := flask_app(), **options)
        return app
    if group in ASGI_APPS:
        from maintenance_mode.asgi import MaintenanceMiddleware
    else:
        from maintenance_mode.wsgi import MaintenanceMiddleware  # type: ignore[assignment]
    return _wrapped(group, MaintenanceMiddleware, options)


def _wrapped(group: str, middleware: Any, options: dict[str, Any]) -> Any:
    """The app of ``group`` (not Django) behind an ASGI or WSGI ``middleware`` class, or alone."""
    if group in ("raw-asgi", "raw-wsgi"):
        hello = raw_asgi_hello if group == "raw-asgi" else raw_wsgi_hello
        return middleware(hello, **options) if middleware else hello
    if group == "starlette":
        from starlette.middleware import Middleware

        return starlette_app([Middleware(middleware, **options)] if middleware else [])
    app = fastapi_app() if group == "fastapi" else flask_app()
    if middleware and group == "fastapi":
        app.add_middleware(middleware, **options)
    elif middleware:
        app.wsgi_app = middleware(app.wsgi_app, **options)
    return app


def _no_hook() -> None:
    return None


def _same_response(response: Any) -> Any:
    return response


def _bare(group: str, floor: bool | str) -> Any:
    if group == "django":
        return django_handler(["_variants.DjangoPassThrough"] if floor else [])
    if floor == "hooks":  # flask
        app = flask_app()
        app.before_request(_no_hook)
        app.after_request(_same_response)
        return app
    floor_class = ASGIPassThrough if group in ASGI_APPS else WSGIPassThrough
    return _wrapped(group, floor_class if floor else None, {})


def _decision(group: str, label: str, workdir: Path) -> Callable[[], object]:
    """One decision of ours for the request ``label`` names, as a plain callable, as the
    middlewares make it: ``decide(snapshot, info(request))``, ``info`` the adapter's own
    (``RequestInfo.from_asgi``/``from_wsgi``, or the Django middleware's ``request_info``)."""
    from maintenance_mode.core import Maintenance, RequestInfo

    which = {"decide-allow": "allow", "decide-bypass": "bypass", "decide-503": "on-html"}[label]
    kind = request_kind(label)
    info: Callable[[Any, Any], Any]
    request: Any
    if group == "django":
        django_setup()
        from django.core.handlers.wsgi import WSGIRequest

        from maintenance_mode.django.middleware import request_info as info

        options = ours_options(which, workdir)
        maintenance = Maintenance(**options | {"flag": str(options["flag"])})
        request, arg = WSGIRequest(dict(wsgi_environ(kind))), maintenance  # type: ignore[arg-type]
    else:
        maintenance = _ours(group, which, workdir).maintenance
        asgi = group == "raw-asgi"
        request = (asgi_scope if asgi else wsgi_environ)(kind)  # type: ignore[arg-type]
        info, arg = (RequestInfo.from_asgi if asgi else RequestInfo.from_wsgi), maintenance.settings
    snapshot, decide = maintenance.poll(), maintenance.decide

    def one() -> object:
        return decide(snapshot, info(request, arg))

    wanted = {"decide-allow": "pass", "decide-bypass": "bypass", "decide-503": "respond"}[label]
    if (action := one().action) != wanted:  # type: ignore[attr-defined]
        raise SystemExit(f"benchmark {group}:{label}: the decision is {action!r}, not {wanted!r}")
    return one


def _networks(count: int, *, including: str | None = None) -> list[str]:
    """``count`` networks of four kinds (IPv4 /24 and /32, IPv6 /64 and /128), none of them
    the client's, the last one ``including`` when given."""
    found = []
    for i in range(count - (including is not None)):
        n = i // 4
        found.append(
            (
                f"10.{n // 256}.{n % 256}.0/24",
                f"198.18.{n // 256}.{n % 256}",
                f"2001:db8:{n:x}::/64",
                f"2001:db8:ffff::{n:x}",
            )[i % 4]
        )
    return [*found, including] if including is not None else found


def _scaling(name: str, label: str, workdir: Path) -> Variant:
    """``scaling:net100-blocked6`` and the like (see the module's docstring)."""
    from maintenance_mode.asgi import MaintenanceMiddleware

    match = re.fullmatch(r"(off|net|allow|upd|conc)(\d*)-?([\w-]*)", label)
    if match is None:
        raise SystemExit(f"unknown benchmark variant {name!r}")
    rules, count, request = match.groups()
    path = {"allow": "/static/css/app.css", "status": "/__maintenance__/status"}
    scope = asgi_scope("html", path.get(request or rules, PATH))
    if request == "blocked6":
        scope["client"] = ("2001:db8:fff0::7", 50000)
    options: dict[str, Any] = {"flag": _ours_flag(workdir, rules != "off" and request != "off")}
    if rules == "net":
        inside = f"{CLIENT}/32" if request == "bypassed" else None
        options["bypass_ips"] = _networks(int(count), including=inside)
    elif rules == "allow":
        options["allow"] = [*(f"/section-{i}/" for i in range(int(count) - 1)), "/static/"]
    elif rules == "upd":  # the on document plus N updates, a minute apart
        doc = json.loads(options["flag"].read_text())
        at = "2026-12-01T{:02}:{:02}:00Z".format
        doc["updates"] = [{"at": at(i // 60, i % 60), "text": f"S{i}"} for i in range(int(count))]
        options["flag"] = workdir / f"ours-upd{count}.json"
        options["flag"].write_text(json.dumps(doc))
    if (interval := check_interval()) is not None:
        options["check_interval"] = interval
    app = MaintenanceMiddleware(raw_asgi_hello, **options)
    expect = 503 if request.startswith("blocked") else 200
    if request.startswith("render-"):  # as after a state change: no page rendered yet
        engine: Any = app.maintenance
        snap, form = engine.poll(), request[7:]
        return Variant(name, "call", lambda: snap._pages.clear() or engine.response(snap, form))
    if rules == "conc":
        one, loop = _in_flight(raw_asgi_hello if request == "bare" else app, scope, int(count))
        if (statuses := one()) != [expect] * BATCH:
            loop.close()
            raise SystemExit(f"benchmark {name}: statuses {set(statuses)}, not {expect}")
        return Variant(name, "call", one, keep=loop)
    return Variant(name, "asgi", app, scope, expect)


#: Requests per call of a ``scaling:conc<N>`` variant.
BATCH = 100


def _in_flight(app: Any, scope: Any, inflight: int) -> tuple[Callable[[], list[int]], Any]:
    """A call of BATCH requests, ``inflight`` at a time (asyncio.gather; each ``send`` of a
    response start yields once, so all are in flight at once), returning their statuses."""
    import asyncio

    loop, statuses = asyncio.new_event_loop(), []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
            await asyncio.sleep(0)

    async def groups() -> None:
        for _ in range(BATCH // inflight):
            await asyncio.gather(*(app(dict(scope), receive, send) for _ in range(inflight)))

    def one() -> list[int]:
        statuses.clear()
        loop.run_until_complete(groups())
        return statuses

    return one, loop


# -- the peers ---------------------------------------------------------------------------------


def _peer_file(workdir: Path, on: bool) -> Path:
    path = workdir / ("peer-on.txt" if on else "peer-off.txt")
    if not path.exists():
        path.write_text("1" if on else "0")
    return path


def _fastapi_peer(label: str, workdir: Path) -> Any:
    from fastapi_maintenance import MaintenanceModeMiddleware, force_maintenance_mode_off
    from fastapi_maintenance.backends import EnvVarBackend, LocalFileBackend

    os.environ.pop("FASTAPI_MAINTENANCE_MODE", None)  # its default variable: unset is off
    os.environ["BENCH_FM_ON"] = "1"
    on = not label.endswith("-off")
    backend: Any
    if label.startswith("fm-file"):
        backend = LocalFileBackend(str(_peer_file(workdir, on)))
    else:
        backend = EnvVarBackend("BENCH_FM_ON") if on else EnvVarBackend()
    app = fastapi_app(force_maintenance_mode_off if label == "fm-allow" else None)
    options: dict[str, Any] = {"backend": backend}
    if label == "fm-bypass":

        def exempt(request: Any) -> bool:
            return bool(request.headers.get(BYPASS_HEADER) == SECRET)

        options["exempt_handler"] = exempt
    app.add_middleware(MaintenanceModeMiddleware, **options)
    return app


def _django_peer(label: str, workdir: Path) -> tuple[Any, Callable[[], None]]:
    if django_setup() != "peer":
        raise SystemExit("django-maintenance-mode variants run in the peers' virtualenv only")
    from django.conf import settings

    state_file = str(_peer_file(workdir, label != "dmm-off"))
    response_type = "json" if label.endswith("json") else "html"
    ignore_urls = (rf"^{PATH}$",) if label == "dmm-allow" else None
    ignore_ips = (rf"^{CLIENT.replace('.', '[.]')}$",) if label == "dmm-bypass" else None

    def before() -> None:  # its settings are global and read on every request
        settings.MAINTENANCE_MODE_STATE_FILE_PATH = state_file
        settings.MAINTENANCE_MODE_RESPONSE_TYPE = response_type
        settings.MAINTENANCE_MODE_IGNORE_URLS = ignore_urls
        settings.MAINTENANCE_MODE_IGNORE_IP_ADDRESSES = ignore_ips

    before()
    handler = django_handler(["maintenance_mode.middleware.MaintenanceModeMiddleware"])
    return handler, before


# -- the registry ------------------------------------------------------------------------------


def build(name: str, workdir: Path) -> Variant:
    """The variant called ``name``; files it needs are made in ``workdir``."""
    group, label = name.split(":", 1)
    if group == "scaling":
        return _scaling(name, label, workdir)
    kind = "asgi" if group in ASGI_APPS else "wsgi"
    request_of = asgi_scope if kind == "asgi" else wsgi_environ
    request = request_of(request_kind(label))  # type: ignore[arg-type]
    before = None
    if label in {"bare", "floor"}:
        app = _bare(group, label == "floor")
    elif label in {"loaded", "loaded-floor"}:
        app = _loaded(group, workdir, floor=label == "loaded-floor")
    elif label == "ext-floor":
        app = _bare(group, "hooks")
    elif label in DECIDE:
        return Variant(name, "call", _decision(group, label, workdir))
    elif label.startswith("fm-"):
        app = _fastapi_peer(label, workdir)
    elif label.startswith("dmm-"):
        app, before = _django_peer(label, workdir)
    elif label in OURS or label in FLASK_EXT:
        app = _ours(group, label, workdir)
    else:
        raise SystemExit(f"unknown benchmark variant {name!r}")
    return Variant(name, kind, app, request, expected_status(label), before)


def build_all(names: Iterable[str], workdir: Path) -> list[Variant]:
    return [build(name, workdir) for name in names]
