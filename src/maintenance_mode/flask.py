"""The Flask extension: ``MaintenanceMode(app)`` or ``ext.init_app(app)`` in an app factory.

Options are the core's (docs/options.md), read from ``app.config["MAINTENANCE_MODE"]``,
a dict whose keys are the option names. Keyword options given to the constructor are
defaults that this dict overrides key by key, so one extension object can serve
several apps (an app factory) with per-app settings.

How it hooks in, and why (see docs/flask.md):

- a ``before_request`` hook, moved to the front of the app's own hooks, so the 503 is
  answered before any of the app's hooks touch a database; it runs after Flask's URL
  matching, which gives the endpoint for ``allow_views`` and ``@maintenance_exempt``.
  While maintenance is off it is one clock read and one comparison (``off_until``);
- an ``after_request`` hook, moved to run after the app's own, which puts back the
  core's exact 503 (a hook that sets ``Cache-Control`` cannot make it cacheable) and
  marks a bypassed visitor's real page ``Cache-Control: private, no-store``;
- a ``flask maintenance`` command: the ``maintenance`` CLI on the app's flag file.

Like the other adapters it decides nothing: it reads the request, asks
:class:`~maintenance_mode.core.Maintenance`, and translates the answer. Flask's own
static-file views (the app's ``static`` endpoint and every blueprint's ``<name>.static``)
are reported to the core as static, which lets them through while ``allow_static`` is on
(the default): the page may show the app's logo, and lite routes use its CSS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any, Final, Unpack

try:
    import click
    import flask.globals
    from flask import Flask, current_app, has_request_context, request
    from flask import Response as FlaskResponse
    from flask.cli import with_appcontext
    from markupsafe import Markup
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'maintenance_mode.flask needs Flask: pip install "maintenance-mode[flask]"'
    ) from exc


from . import cli
from .banner import injectable, insert
from .core import Decision, Maintenance, RequestInfo, Snapshot, maintenance_exempt
from .render import Response
from .settings import Options

#: The request context's own variable (Flask >= 2.2), read by _request(); None if renamed.
_CV_REQUEST: Any = getattr(flask.globals, "_cv_request", None)

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue

__all__ = ["CONFIG_KEY", "EXTENSION_KEY", "MaintenanceMode", "maintenance_exempt"]

#: The ``app.config`` key holding the options dict.
CONFIG_KEY: Final = "MAINTENANCE_MODE"
#: The ``app.extensions`` key holding the app's :class:`Maintenance` engine.
EXTENSION_KEY: Final = "maintenance_mode"
#: The endpoint of Flask's static-file view (blueprints: ``<name>.static``).
STATIC_VIEW: Final = "static"
#: Where the before_request hook leaves a bypass or a 503 for the after_request hook.
_ENVIRON_KEY: Final = "maintenance_mode.decision"
#: Set on the Flask responses built from the core's, so they are recognised cheaply.
_MARK: Final = "maintenance_mode_response"
#: Options Flask cannot honour: it has no notion of staff or superusers.
_USER_OPTIONS: Final = ("bypass_staff", "bypass_superuser")


class MaintenanceMode:
    """Maintenance mode for a Flask app.

    ``MaintenanceMode(app, **options)``, or ``ext = MaintenanceMode(**options)`` then
    ``ext.init_app(app)``. Keyword options are defaults; ``app.config["MAINTENANCE_MODE"]``
    overrides them key by key. Everything is validated in :meth:`init_app`, so a bad
    option stops the app at start-up with the core's one-line ``ValueError``.

    Trust model: the same as the core's (docs/options.md, "Bypass in detail"). The
    client address is ``REMOTE_ADDR`` as the WSGI server gives it; if you run
    Werkzeug's ``ProxyFix``, it has already rewritten it from ``X-Forwarded-For``, so
    only configure ``trusted_proxies`` when you do not.
    """

    def __init__(self, app: Flask | None = None, **options: Unpack[Options]) -> None:
        self.options: Mapping[str, Any] = dict(options)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's engine from its config and register the hooks and the command."""
        engine = Maintenance(**_options(app, self.options))
        app.extensions[EXTENSION_KEY] = engine
        # {{ maintenance_banner() }}: the banner inside the app's own layout.
        app.jinja_env.globals["maintenance_banner"] = lambda: Markup(  # noqa: S704 - autoescaped
            engine.banner_html(
                request.headers.get("Accept-Language") if has_request_context() else None
            )
        )

        def before_request() -> ResponseReturnValue | None:
            if (
                monotonic() < engine.off_until  # known to be off: the whole cost while off
                and _request().path != engine.status_path
            ):
                return None
            return _check(app, engine, engine.poll())

        def after_request(response: FlaskResponse) -> FlaskResponse:
            if monotonic() < engine.off_until and _MARK not in response.__dict__:
                # Known to be off, and not a 503 of ours: nothing to do (a page bypassed
                # just before the flag went down needs no private mark any more).
                return response
            decision: Decision | None = _request().environ.pop(_ENVIRON_KEY, None)
            if decision is None:
                return response
            return _finish(app, engine, decision, response)

        # First of the app's before_request hooks, last of its after_request hooks.
        app.before_request(before_request)
        _move(app.before_request_funcs[None], before_request, 0)
        app.after_request(after_request)
        _move(app.after_request_funcs[None], after_request, 0)
        app.cli.add_command(maintenance_command)


def _request() -> Any:
    """The current request object, without Flask's ``request`` proxy.

    Reading an attribute through the proxy cost about 8,000 CPU instructions (callgrind),
    most of the extension's work on a request while maintenance is off.
    """
    if _CV_REQUEST is not None:
        return _CV_REQUEST.get().request
    return request._get_current_object()  # type: ignore[attr-defined]  # pragma: no cover


def _options(app: Flask, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor's defaults overridden by the app's config, plus Flask's conventions."""
    config = app.config.get(CONFIG_KEY, {})
    if not isinstance(config, Mapping):
        raise TypeError(
            f"maintenance-mode: app.config[{CONFIG_KEY!r}] must be a dict of options "
            f"(got {type(config).__name__}); see docs/flask.md"
        )
    options = {**defaults, **config}
    for name in _USER_OPTIONS:
        if options.get(name):
            raise ValueError(
                f"maintenance-mode: option {name!r} needs users that Flask does not have; "
                "use 'bypass_ips' or 'bypass_secret' for the team"
            )
    if "template_dir" not in options and app.template_folder is not None:
        folder = Path(app.root_path, app.template_folder, "maintenance_mode")
        if folder.is_dir():
            options["template_dir"] = folder
    return options


def _move(funcs: list[Any], func: Any, index: int) -> None:
    funcs.remove(func)
    funcs.insert(index, func)


def _is_static(app: Flask, endpoint: str | None, view: object) -> bool:
    """Flask's own static-file views: the app's ``static`` and every blueprint's ``.static``.

    The app's view is a lambda Flask registers only when it has a static folder; a
    blueprint's is its bound ``send_static_file``.
    """
    if endpoint == STATIC_VIEW:
        return app.has_static_folder
    return (
        endpoint is not None
        and endpoint.endswith("." + STATIC_VIEW)
        and getattr(view, "__name__", "") == "send_static_file"
    )


def _check(app: Flask, engine: Maintenance, snapshot: Snapshot) -> FlaskResponse | None:
    """Maintenance is on: ask the core, then translate its answer."""
    current = _request()
    environ = current.environ
    decision = engine.decide(snapshot, RequestInfo.from_wsgi(environ, engine.settings))
    if decision.action == "respond":
        endpoint = current.endpoint
        view = app.view_functions.get(endpoint) if endpoint is not None else None
        decision = engine.decide_view(
            decision, view=view, view_name=endpoint, is_static=_is_static(app, endpoint, view)
        )
    if decision.action == "pass" and not decision.banner:
        return None
    environ[_ENVIRON_KEY] = decision  # for the after_request hook
    if decision.action != "respond" or decision.response is None:
        return None  # the real view runs
    return _to_flask(app, decision.response)


def _finish(
    app: Flask, engine: Maintenance, decision: Decision, response: FlaskResponse
) -> FlaskResponse:
    if decision.action == "respond" and decision.response is not None:
        # The app's after_request hooks have run on the 503 (or the bypass redirect):
        # send the core's response as it is.
        return _to_flask(app, decision.response)
    if decision.action == "pass":  # with a banner for the page
        if decision.banner and not response.is_streamed and not response.direct_passthrough:
            _inject(response, decision.banner)
        return response
    if engine.bypass_no_store:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _inject(response: FlaskResponse, banner: bytes) -> None:
    """Put the banner into a complete text/html page (see maintenance_mode.banner)."""
    body = response.get_data()
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    if injectable(response.status_code, headers, request.method) is None:
        return
    response.set_data(insert(body, banner) or body + banner)
    response.vary.add("Accept-Language")


def _to_flask(app: Flask, response: Response) -> FlaskResponse:
    """The core's status, headers and body, unchanged.

    The body goes in as a list: given bytes, Werkzeug would recompute Content-Length,
    and a HEAD answer (empty body, the GET's Content-Length) would claim 0.
    """
    translated = app.response_class(
        [response.body] if response.body else [],
        status=response.status_line,
        headers=list(response.headers),
    )
    setattr(translated, _MARK, True)
    return translated


@click.command(
    "maintenance",
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    },
    add_help_option=False,
    short_help="Switch maintenance mode on and off (the maintenance CLI).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@with_appcontext
def maintenance_command(ctx: click.Context, args: tuple[str, ...]) -> None:
    """The ``maintenance`` command on this app's flag file; see ``flask maintenance --help``."""
    engine = current_app.extensions[EXTENSION_KEY]
    if not isinstance(engine, Maintenance):  # pragma: no cover - another extension's key
        raise click.UsageError(f"app.extensions[{EXTENSION_KEY!r}] is not maintenance-mode's")
    prog = "flask maintenance"
    path = engine.flag_file()
    if path is None and _needs_file(args):
        sources = ", ".join(engine.describe_sources())
        click.echo(
            f"{prog}: this app's flag is not a file ({sources}); "
            "switch maintenance where that flag is set",
            err=True,
        )
        ctx.exit(1)
    try:
        code = cli.main(list(args), prog=prog, default_file=path)
    except SystemExit as exc:  # argparse (usage, --help) and the CLI's one-line errors
        if isinstance(exc.code, str):
            click.echo(exc.code, err=True)
            code = 1
        else:
            code = exc.code or 0
    ctx.exit(code)


def _needs_file(args: Sequence[str]) -> bool:
    """Whether the command line reads or writes a flag file (help, --version, schema do not).

    An explicit ``--file`` counts too: writing a file the app does not watch would
    silently do nothing.
    """
    if not args or any(arg in ("-h", "--help", "--version") for arg in args):
        return False
    words = iter(args)
    for arg in words:
        if arg == "--file":
            next(words, None)
        elif not arg.startswith("-"):
            return arg != "schema"
    return True
