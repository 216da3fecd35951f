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
- a ``flask maintenance`` click group (on, off, update, schedule, status): a thin shell
  over :mod:`maintenance_mode.control`, on the flag the app itself reads.

Like the other adapters it decides nothing: it reads the request, asks
:class:`~maintenance_mode.core.Maintenance`, and translates the answer. Flask's own
static-file views (the app's ``static`` endpoint and every blueprint's ``<name>.static``)
are reported to the core as static, which lets them through while ``allow_static`` is on
(the default): the page may show the app's logo, and lite routes use its CSS.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any, Final, Unpack

try:
    import click
    import flask.globals
    from flask import Flask, current_app, has_app_context, has_request_context, request
    from flask import Response as FlaskResponse
    from flask.cli import AppGroup
    from markupsafe import Markup
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'maintenance_mode.flask needs Flask: pip install "maintenance-mode[flask]"'
    ) from exc


# First: a clear error if django-maintenance-mode's files are mixed with ours.
import maintenance_mode._install  # noqa: F401

from ._response import Response
from .banner import injectable, insert
from .core import (
    Decision,
    Maintenance,
    RequestInfo,
    Snapshot,
    maintenance_component,
    maintenance_exempt,
)
from .settings import Options

#: The request context's own variable (Flask >= 2.2), read by _request(); None if renamed.
_CV_REQUEST: Any = getattr(flask.globals, "_cv_request", None)

if TYPE_CHECKING:
    from flask.typing import ResponseReturnValue


__all__ = [
    "CONFIG_KEY",
    "EXTENSION_KEY",
    "MaintenanceMode",
    "maintenance_component",
    "maintenance_exempt",
]

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
    template_name = options.get("template_name")
    if template_name is not None and options.get("page_renderer") is None:
        if not isinstance(template_name, str) or not template_name:
            raise ValueError(
                "maintenance-mode: option 'template_name' must be a template name like "
                f"'maintenance.html' (got {template_name!r})"
            )
        options["page_renderer"] = AppPage(app, template_name)
    return options


class AppPage:
    """The maintenance page as a template of the app's own Jinja2 loader (``template_name``).

    Looked up by ``app.jinja_env`` (the app's ``templates/`` and its blueprints'), so it
    can ``{% extends "layout.html" %}`` and use ``url_for('static', ...)``; it gets the
    library page's context (docs/templates.md) plus the app's template globals. Rendered
    inside the request that first needs it (a test request context when there is none),
    then cached by the engine for every visitor: it must not depend on the request.
    A missing template is found at that first render: logged, and the library's page
    is sent instead.
    """

    def __init__(self, app: Flask, template_name: str) -> None:
        self.app = app
        self.template_name = template_name

    def __call__(self, context: Mapping[str, Any]) -> str:
        template = self.app.jinja_env.get_template(self.template_name)
        if has_request_context():
            return template.render(context)
        with self.app.test_request_context():
            return template.render(context)


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
    info = RequestInfo.from_wsgi(environ, engine.settings)
    decision = engine.decide(snapshot, info)
    if decision.action == "respond":
        endpoint = current.endpoint
        view = app.view_functions.get(endpoint) if endpoint is not None else None
        decision = engine.decide_view(
            decision, view=view, view_name=endpoint, is_static=_is_static(app, endpoint, view)
        )
    elif snapshot.down and decision.action == "pass":  # a view of a down component?
        endpoint = current.endpoint
        view = app.view_functions.get(endpoint) if endpoint is not None else None
        decision = engine.decide_routed(
            snapshot,
            decision,
            info,
            view=view,
            view_name=endpoint,
            is_static=_is_static(app, endpoint, view),
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


# -- flask maintenance ------------------------------------------------------------------------
#
# A thin shell over maintenance_mode.control: it parses the arguments, calls control on the
# app's own flag, and prints maintenance_mode._text's lines. The group is here; its verbs
# (maintenance_mode._flask_verbs), control and _text load when the command runs, so a
# worker that never runs it does not load them.


class _Failed(click.ClickException):
    """A read or write failed: one line on stderr (``Error: ...``), exit code 1."""

    exit_code = 1


class _Invalid(_Failed):
    """A mistake in the command (nothing is written): one line, exit code 2."""

    exit_code = 2


#: The standalone CLI's target options and its verbs that are not app-specific.
_OTHER_TARGETS: Final = ("--file", "--redis", "--redis-key")
_OTHER_VERBS: Final = ("schema", "demo", "preview")

#: click's "no verb given: here is the help" (click >= 8.2), which stays as click shows it.
_HELP_ERRORS: tuple[type[Exception], ...] = tuple(
    kind for kind in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if kind is not None
)


def _one_line(ctx: click.Context, exc: click.UsageError) -> click.ClickException:
    """click's usage error as one line, exit code 2 (not the usage block above it)."""
    if isinstance(exc, _HELP_ERRORS):
        return exc
    path = (exc.ctx or ctx).command_path
    if isinstance(exc, click.NoSuchOption) and exc.option_name in _OTHER_TARGETS:
        return _Invalid(
            f"{path} changes the flag this app reads and takes no {exc.option_name}; "
            f"for another flag, use the maintenance command: maintenance ... {exc.option_name}"
        )
    return _Invalid(f"{exc.format_message()} (see '{path} --help')")


class _Verb(click.Command):
    """A verb of ``flask maintenance``: a usage mistake is one line, exit code 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(ctx, exc) from None


class _Group(AppGroup):
    """The ``flask maintenance`` group: one-line usage errors, and the app's flag in ``--help``."""

    command_class = _Verb

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _one_line(ctx, exc) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:  # an unknown verb
            if args and args[0] in _OTHER_VERBS:
                raise _Invalid(
                    f"{args[0]!r} is a verb of the maintenance command, not of "
                    f"{ctx.command_path}: run 'maintenance {args[0]}'"
                ) from None
            raise _one_line(ctx, exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        _load_verbs()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        _load_verbs()
        return super().get_command(ctx, cmd_name)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        engine = current_app.extensions.get(EXTENSION_KEY) if has_app_context() else None
        if isinstance(engine, Maintenance):
            with formatter.section("This app's flag"):
                for source in engine.describe_sources():  # unwrapped: a path stays whole
                    formatter.write(f"{'':>{formatter.current_indent}}{source}\n")


@click.group(
    "maintenance",
    cls=_Group,
    short_help="Switch maintenance mode on and off.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
def maintenance_command() -> None:
    """Switch maintenance mode on and off for this app, on the flag the app reads.

    The flag is the app's MAINTENANCE_MODE "flag": a file or a redis:// URL (by
    default $MAINTENANCE_REDIS, else $MAINTENANCE_FILE, else ./maintenance.json).
    Every worker follows within the app's check_interval, with no restart.

    \b
    Exit codes: 0 done; 1 the flag could not be read or written, or --wait
    timed out; 2 a mistake in the command (nothing is written).
    status --check: 0 on, 1 off, 2 an error.
    """


def _load_verbs() -> None:
    """Register the verbs (maintenance_mode._flask_verbs) on the group, the first time."""
    from . import _flask_verbs  # noqa: F401
