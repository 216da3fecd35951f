"""The verbs of ``flask maintenance`` (on, update, schedule, off, status), loaded when the
command runs.

They register themselves on :data:`maintenance_mode.flask.maintenance_command` when its
group first lists or resolves a verb: their click options would cost every Flask worker
over a millisecond at start-up, for a command most never run in that process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click
from flask import current_app

from .core import Maintenance
from .flask import EXTENSION_KEY, _Failed, _Invalid, maintenance_command


def _engine() -> Maintenance:
    engine = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(engine, Maintenance):  # pragma: no cover - another extension's key
        raise _Failed(
            f"app.extensions[{EXTENSION_KEY!r}] is not maintenance-mode's engine; "
            "build the app with MaintenanceMode(app)"
        )
    return engine


def _flag(engine: Maintenance) -> Any:
    """The app's flag as the control layer takes it: its source, or its list of sources
    (the first writable one is used; an ``env:`` or callable flag is refused)."""
    sources = engine.sources
    return sources[0] if len(sources) == 1 else list(sources)


@contextmanager
def _errors() -> Iterator[None]:
    """The control layer's errors as one line: bad input exits 2, a failed read or write 1."""
    from .control import ControlError, InvalidChange

    try:
        yield
    except InvalidChange as exc:
        raise _Invalid(str(exc)) from None
    except ControlError as exc:
        raise _Failed(str(exc)) from None


def _http_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--wait`` and ``--url``: an http(s) address, checked before anything is written."""
    from ._verbs import http_url

    try:
        return None if value is None else http_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _secret(ctx: click.Context, param: click.Parameter, value: str | None) -> str | bool | None:
    """``--secret`` alone means "make one for me" (control's ``secret=True``)."""
    return True if value == "" else value


_Verbish = Callable[..., None]
_SECONDS = click.FloatRange(min=0, max=86400, min_open=True)


def _output(verb: _Verbish) -> _Verbish:
    """``--json`` and ``--quiet``, on every verb."""
    verb = click.option(
        "--quiet", "-q", is_flag=True, help="Print nothing on success (errors still do)."
    )(verb)
    return click.option(
        "--json", is_flag=True, help="Print the resulting state as JSON on stdout."
    )(verb)


def _writes(verb: _Verbish) -> _Verbish:
    """``--wait URL``, ``--timeout`` and ``--settle`` (then ``--json``, ``--quiet``), on the
    verbs that write."""
    verb = _output(verb)
    verb = click.option(
        "--component",
        multiple=True,
        metavar="NAME",
        help="Change only this component (partial maintenance, e.g. payments); repeat it for "
        "several with the same text.",
    )(verb)
    verb = click.option(
        "--settle",
        type=_SECONDS,
        metavar="SECONDS",
        help="How long every answer must show the new state; keep it above the app's "
        "check_interval (default: 2).",
    )(verb)
    verb = click.option(
        "--timeout",
        type=_SECONDS,
        metavar="SECONDS",
        help="Give up waiting after this long, with exit code 1 (default: 60).",
    )(verb)
    return click.option(
        "--wait",
        metavar="URL",
        callback=_http_url,
        help="After writing, poll the app's status document at URL (a site address means "
        "its status_path) until it serves the new state.",
    )(verb)


def _amends(verb: _Verbish) -> _Verbish:
    """``--apology [TEXT]``, ``--no-apology`` and ``--compensation TEXT`` (on, update, schedule)."""

    def amended(**options: Any) -> None:
        if options.pop("no_apology"):
            if options["apology"] is not None:
                raise _Invalid("--apology and --no-apology do not go together; give one")
            options["apology"] = False
        verb(**options)

    amended.__doc__, amended.__name__ = verb.__doc__, verb.__name__
    amended = click.option(
        "--compensation",
        metavar="TEXT",
        help="What visitors get for the trouble, e.g. 'a 10% voucher: SORRY10' ('' removes it).",
    )(amended)
    amended = click.option("--no-apology", is_flag=True, help="Remove the apology.")(amended)
    return click.option(
        "--apology",
        is_flag=False,
        flag_value="",
        default=None,
        callback=lambda ctx, param, value: True if value == "" else value,
        metavar="[TEXT]",
        help="Apologise on the page: the translated fixed sentence, or your own TEXT.",
    )(amended)


def _usage(verb: str, options: Mapping[str, Any]) -> None:
    from ._verbs import usage_problem

    problem = usage_problem(verb, options)
    if problem is not None:
        raise _Invalid(problem)


def _apply(verb: str, options: Mapping[str, Any]) -> None:
    """Check the options, make the change on the app's flag, print it, then ``--wait``."""
    from ._text import change_lines
    from ._verbs import bypass_base, change_json, make_change, status_url, wait_for
    from .control import ControlError

    _usage(verb, options)
    engine = _engine()
    wait: str | None = options["wait"]
    with _errors():
        if wait is not None:
            wait = status_url(wait, engine.settings.status_path)
        change = make_change(verb, _flag(engine), options)
    bypass = bypass_base(options, engine.settings.bypass_path)
    quiet = options["quiet"]
    if not quiet:
        for warning in change.warnings:
            click.echo(f"Warning: {warning}", err=True)
    if options["json"]:
        click.echo(change_json(change, bypass))
    elif not quiet:
        click.echo("\n".join(change_lines(change, bypass_path=bypass)))
    try:
        if engine.settings.export_dir is not None:  # keep the reverse proxy's copy in step
            from .export import after_change

            for warning in after_change(engine.settings, change):
                if not quiet:
                    click.echo(f"Warning: {warning}", err=True)
        if wait is not None:
            wait_for(wait, change, options)
    except ControlError as exc:
        raise _Failed(f"the change is written, but {exc}") from None
    if wait is not None and not (quiet or options["json"]):
        click.echo(f"The app at {wait} serves the new state.")


_KINDS = click.Choice(["planned", "unplanned"])


@maintenance_command.command("on", short_help="Turn maintenance on, or change its details.")
@click.option("--reason", help="What is happening and why, shown on the page.")
@click.option(
    "--read-only",
    is_flag=True,
    default=None,
    help="With --component: block only the component's writes (its pages keep working).",
)
@click.option("--message", help="A further sentence for visitors.")
@click.option(
    "--lang",
    metavar="TAG",
    help="The texts given (--reason, --message...) are in this language (fr, pt-BR); kept "
    "beside the default language's.",
)
@click.option(
    "--eta",
    metavar="WHEN",
    help="Expected end: a duration (2h, 90m), an ISO 8601 time with an offset, "
    "or a range of either (2h..4h).",
)
@click.option("--kind", type=_KINDS, help="Planned work or an incident.")
@click.option(
    "--expires",
    metavar="WHEN",
    help="Switch off by itself after this long (6h) or at this time, in case the deploy "
    "never does.",
)
@click.option(
    "--allow",
    multiple=True,
    metavar="PATH",
    help="An extra path that keeps working (repeatable), e.g. /status or /docs/.",
)
@click.option(
    "--secret",
    is_flag=False,
    flag_value="",
    default=None,
    callback=_secret,
    metavar="[TOKEN]",
    help="A bypass secret for this maintenance only (made for you when no TOKEN is given); "
    "prints the bypass URL once, stores only its hash.",
)
@click.option(
    "--url",
    metavar="BASE",
    callback=_http_url,
    help="The site's address, to print --secret's bypass URL in full.",
)
@_writes
@_amends
def _on(**options: Any) -> None:
    """Turn maintenance on, or change the details of the running one (no gap)."""
    _apply("on", options)


@maintenance_command.command("update", short_help="Add a progress note while on.")
@click.argument("text")
@click.option("--eta", metavar="WHEN", help="A new expected end (replaces the old one).")
@click.option(
    "--lang",
    metavar="TAG",
    help="TEXT translates the latest update into this language (fr, pt-BR); adds no new note.",
)
@_writes
@_amends
def _update(**options: Any) -> None:
    """Add a timestamped progress note (TEXT) to the running maintenance, with no gap."""
    _apply("update", options)


@maintenance_command.command("schedule", short_help="Plan a maintenance window.")
@click.option(
    "--start", metavar="WHEN", help="A duration from now (2d), or an ISO time (read in --tz)."
)
@click.option(
    "--end",
    metavar="WHEN",
    help="An ISO time, a duration from the start (4h), or a range of either (3h..5h).",
)
@click.option(
    "--tz",
    default="UTC",
    show_default=True,
    metavar="TZ",
    help="The IANA time zone for wall-clock times and the banner (Europe/Paris).",
)
@click.option("--reason", help="What will happen and why.")
@click.option("--message", help="A further sentence for visitors.")
@click.option("--kind", type=_KINDS, default="planned", show_default=True)
@click.option("--affected", multiple=True, metavar="PART", help="What will be down (repeatable).")
@click.option(
    "--unaffected", multiple=True, metavar="PART", help="What keeps working (repeatable)."
)
@click.option(
    "--announce",
    metavar="DURATION",
    help="Show the banner this long before the start (default: 48h).",
)
@click.option("--auto-end", is_flag=True, help="Switch off by itself at the (latest) end.")
@click.option("--clear", is_flag=True, help="Remove every window that has not started.")
@click.option(
    "--lang",
    metavar="TAG",
    help="The texts given (--reason, --affected...) translate the window already at --start "
    "into this language (fr, pt-BR); --end is then not needed.",
)
@_writes
@_amends
def _schedule(**options: Any) -> None:
    """Plan a window: the site stays up, with a banner from the announcement time, until
    the window starts; it then switches on by itself. It ends with 'flask maintenance off'
    (or at its end with --auto-end).
    """
    _apply("schedule", options)


@maintenance_command.command("off", short_help="Turn maintenance off.")
@click.option("--purge", is_flag=True, help="Delete the document instead, windows and all.")
@_writes
def _off(**options: Any) -> None:
    """Turn maintenance off. The document records the end; windows that have not started
    are kept."""
    _apply("off", options)


@maintenance_command.command("status", short_help="Show whether maintenance is on.")
@click.option(
    "--check",
    is_flag=True,
    help="Print nothing; exit 0 if maintenance is on (a window in force counts), "
    "1 if off, 2 on an error.",
)
@_output
def _status(**options: Any) -> None:
    """Show whether maintenance is on, with its details and the windows ahead."""
    from . import control
    from ._text import status_lines

    _usage("status", options)
    if options["check"]:
        try:
            found = control.status(_flag(_engine()))
        except (control.ControlError, click.ClickException):
            raise click.exceptions.Exit(2) from None
        raise click.exceptions.Exit(0 if found.on else 1)
    with _errors():
        engine = _engine()
        found = control.status(_flag(engine))
    if options["json"]:
        click.echo(json.dumps(found.to_json(), indent=2))
    elif not options["quiet"]:
        click.echo("\n".join(status_lines(found, known=engine.settings.components)))
