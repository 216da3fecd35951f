"""``python manage.py maintenance on|off|update|schedule|status``: switch maintenance mode on
the flag ``settings.MAINTENANCE_MODE["flag"]`` names (a file, Redis, or the default).

A thin shell over :mod:`maintenance_mode.control`: it parses arguments, calls
control and prints (:mod:`maintenance_mode._text`). The verbs and flags are the
``maintenance`` command's; Django's own options (``--settings``, ``-v``,
``--no-color``, ...) work before or after the verb. Exit codes: 0 done, 1 the
flag could not be read or written (or ``--wait`` timed out), 2 a mistake in the
command or the settings (nothing written); ``status --check``: 0 on, 1 off, 2 an
error. From ``call_command`` a failure is a :class:`CommandError` whose
``returncode`` is that code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from maintenance_mode import control
from maintenance_mode._text import change_lines, status_lines
from maintenance_mode.django import conf

#: The exit codes of every ``maintenance`` shell.
FAILED = 1
INVALID = 2


class _Quiet(CommandError):
    """An outcome ``status --check`` reports by its exit code alone (nothing printed when
    run from the command line; a :class:`CommandError` with that ``returncode`` from Python)."""


class _VerbParser(CommandParser):
    """A verb's parser: a mistake in its options exits 2 from the command line (argparse)
    and is a :class:`CommandError` with ``returncode`` 2 from ``call_command``."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            super().error(message)
        raise CommandError(f"Error: {message}", returncode=INVALID)


def _checked(parse: Callable[[str], object]) -> Callable[[str], str]:
    """An argparse ``type`` that refuses what ``parse`` refuses and keeps the text as given,
    so a mistake is named with its option (``argument --eta: ...``) before anything runs."""

    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return check


def _expiry(text: str) -> object:
    try:
        return control.parse_duration(text)
    except ValueError:
        return control.parse_eta(text)


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise control.InvalidChange(
            f"{text!r} is not an http:// or https:// URL of the app's status document "
            "(e.g. http://127.0.0.1:8000/__maintenance__/status)"
        )
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


@contextmanager
def _errors() -> Iterator[None]:
    """Control's errors as one-line CommandErrors with the CLI's exit codes."""
    try:
        yield
    except control.InvalidChange as exc:
        raise CommandError(str(exc), returncode=INVALID) from None
    except control.ControlError as exc:
        raise CommandError(str(exc), returncode=FAILED) from None


def _store() -> control.Store:
    """The store the settings' flag names; invalid settings are a mistake (exit code 2)."""
    try:
        with _errors():
            return conf.control_store()
    except (ValueError, TypeError) as exc:  # MAINTENANCE_MODE itself (conf's message)
        raise CommandError(str(exc), returncode=INVALID) from None


class Command(BaseCommand):
    help = (
        "Switch maintenance mode on and off on the flag settings.MAINTENANCE_MODE names "
        "(a file or Redis): on, update, schedule, off, status. "
        "Run 'manage.py maintenance COMMAND --help' for each one's options. "
        "Exit codes: 0 done; 1 the flag could not be read or written, or --wait timed out; "
        "2 a mistake in the command or the settings (nothing written). "
        "status --check: 0 on, 1 off, 2 an error."
    )
    # An incident tool must not be stopped by an unrelated app's system check;
    # MAINTENANCE_MODE itself is validated before anything is written.
    requires_system_checks: tuple[str, ...] = ()

    _exit_silently = False

    def run_from_argv(self, argv: list[str]) -> None:
        self._exit_silently = True
        super().run_from_argv(argv)

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            result: str | None = super().execute(*args, **options)
        except _Quiet as exc:
            if self._exit_silently:
                sys.exit(exc.returncode)
            raise
        return result

    # -- arguments -------------------------------------------------------------------------

    def add_arguments(self, parser: CommandParser) -> None:
        verbs = parser.add_subparsers(
            dest="verb",
            metavar="COMMAND",
            required=True,
            title="commands",
            parser_class=_VerbParser,
        )
        self._add_on(verbs)
        self._add_update(verbs)
        self._add_schedule(verbs)
        self._add_off(verbs)
        self._add_status(verbs)

    @staticmethod
    def _verb(verbs: Any, name: str, *, help: str, description: str) -> CommandParser:
        """A verb's parser, which also takes Django's own options (after the verb too)."""
        sub: CommandParser = verbs.add_parser(
            name, help=help, description=description, formatter_class=DjangoHelpFormatter
        )
        hide = argparse.SUPPRESS  # unset unless given here: the main parser holds the defaults
        sub.add_argument(
            "-v",
            "--verbosity",
            type=int,
            choices=[0, 1, 2, 3],
            default=hide,
            help="0 prints nothing on success (as --quiet); 1, 2 and 3 print the result",
        )
        sub.add_argument("--settings", default=hide, help="the settings module to use")
        sub.add_argument("--pythonpath", default=hide, help="a folder to add to sys.path")
        sub.add_argument(
            "--traceback", action="store_true", default=hide, help="raise on CommandError"
        )
        sub.add_argument(
            "--no-color", action="store_true", default=hide, help="don't colorize the output"
        )
        sub.add_argument(
            "--force-color", action="store_true", default=hide, help="colorize the output"
        )
        return sub

    @staticmethod
    def _output(sub: CommandParser) -> None:
        """``--json`` and ``--quiet``, on every verb."""
        sub.add_argument("--json", action="store_true", help="print the resulting state as JSON")
        sub.add_argument(
            "--quiet", action="store_true", help="print nothing on success (errors still do)"
        )

    def _waiting(self, sub: CommandParser) -> None:
        """``--wait URL`` and ``--timeout SECONDS`` (and the output options)."""
        sub.add_argument(
            "--wait",
            type=_checked(_url),
            metavar="URL",
            help="after writing, poll the running app's status document at URL "
            "(e.g. http://127.0.0.1:8000/__maintenance__/status) until every worker "
            "serves the new state",
        )
        sub.add_argument(
            "--timeout",
            type=_seconds,
            default=60.0,
            metavar="SECONDS",
            help="how long --wait waits before it fails with exit code 1 (default: 60)",
        )
        self._output(sub)

    def _add_on(self, verbs: Any) -> None:
        on = self._verb(
            verbs,
            "on",
            help="turn maintenance on, or change its details while on (no gap)",
            description="Turn maintenance on, or change the details of the running one "
            "(no gap). Options you leave out keep their values.",
        )
        on.add_argument("--reason", help="what is happening and why, shown on the page")
        on.add_argument("--message", help="a further sentence for visitors")
        on.add_argument(
            "--eta",
            type=_checked(control.parse_eta),
            metavar="WHEN",
            help="expected end: a duration (2h, 90m), an ISO 8601 time with an offset, "
            "or a range of either (2h..4h)",
        )
        on.add_argument(
            "--kind", choices=["planned", "unplanned"], help="planned work or an incident"
        )
        on.add_argument(
            "--expires",
            type=_checked(_expiry),
            metavar="DURATION",
            help="switch off by itself after this long (e.g. 6h), in case the deploy never does",
        )
        on.add_argument(
            "--allow",
            action="append",
            metavar="PATH",
            help="an extra path that keeps working (repeatable), e.g. /status or /docs/",
        )
        on.add_argument(
            "--secret",
            nargs="?",
            const=True,
            metavar="TOKEN",
            help="a bypass secret for this maintenance only (made for you without TOKEN); "
            "prints the bypass URL once. Only its hash is stored.",
        )
        self._waiting(on)

    def _add_update(self, verbs: Any) -> None:
        update = self._verb(
            verbs,
            "update",
            help="add a timestamped progress note (and optionally a new ETA) while on",
            description="Add a timestamped progress note to the running maintenance.",
        )
        update.add_argument("text", help="the note, e.g. 'Database migrated; restarting'")
        update.add_argument(
            "--eta",
            type=_checked(control.parse_eta),
            metavar="WHEN",
            help="a new expected end (replaces the old one)",
        )
        self._waiting(update)

    def _add_schedule(self, verbs: Any) -> None:
        schedule = self._verb(
            verbs,
            "schedule",
            help="plan a maintenance window (announced ahead, on by itself at its start)",
            description="Add a planned window. The site stays up, with a banner from the "
            "announcement, until the window starts; it then switches on by itself. It ends "
            "with 'manage.py maintenance off' (or by itself at its end with --auto-end).",
        )
        schedule.add_argument(
            "--start",
            metavar="WHEN",
            help="a duration from now (2d), or an ISO time (read in --tz)",
        )
        schedule.add_argument(
            "--end",
            metavar="WHEN",
            help="an ISO time, a duration from the start (4h), or a range of either (3h..5h)",
        )
        schedule.add_argument(
            "--tz",
            default="UTC",
            metavar="TZ",
            help="the IANA time zone for wall-clock times and the banner (default: UTC)",
        )
        schedule.add_argument("--reason", help="what will happen and why")
        schedule.add_argument("--message", help="a further sentence for visitors")
        schedule.add_argument(
            "--kind", choices=["planned", "unplanned"], default="planned", help="default: planned"
        )
        schedule.add_argument(
            "--affected", action="append", metavar="PART", help="what will be down (repeatable)"
        )
        schedule.add_argument(
            "--unaffected", action="append", metavar="PART", help="what keeps working (repeatable)"
        )
        schedule.add_argument(
            "--announce",
            type=_checked(control.parse_duration),
            metavar="DURATION",
            help="show the banner this long before the start (default: 48h)",
        )
        schedule.add_argument(
            "--auto-end", action="store_true", help="switch off by itself at the (latest) end"
        )
        schedule.add_argument(
            "--clear",
            action="store_true",
            help="remove every window that has not started (no --start/--end)",
        )
        self._waiting(schedule)

    def _add_off(self, verbs: Any) -> None:
        off = self._verb(
            verbs,
            "off",
            help="turn maintenance off (the document records the end; upcoming windows stay)",
            description="Turn maintenance off. The document records the end and keeps the "
            "windows still ahead.",
        )
        off.add_argument(
            "--purge", action="store_true", help="delete the document instead, windows and all"
        )
        self._waiting(off)

    def _add_status(self, verbs: Any) -> None:
        status = self._verb(
            verbs,
            "status",
            help="show whether maintenance is on, its details and the windows ahead",
            description="Show whether maintenance is on, its details and the windows ahead.",
        )
        status.add_argument(
            "--check",
            action="store_true",
            help="print nothing; exit 0 if maintenance is on (a started window counts), "
            "1 if it is off, 2 on an error",
        )
        self._output(status)

    # -- running ---------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        verb: str = options["verb"]
        quiet = bool(options.get("quiet")) or options["verbosity"] == 0
        as_json = bool(options.get("json"))
        if verb == "status":
            self._status(check=bool(options.get("check")), quiet=quiet, as_json=as_json)
            return
        wait: str | None = options.get("wait")
        if wait is not None:
            with _errors():
                _url(wait)  # checked before anything is written (call_command skips types)
        where = _store()
        with _errors():
            change = self._change(verb, where, options)
        self._report(change, quiet=quiet, as_json=as_json)
        try:
            for warning in conf.export_after(change):
                if not quiet:
                    self.stderr.write(f"Warning: {warning}")
        except control.ControlError as exc:
            raise CommandError(f"the change is written, but {exc}", returncode=FAILED) from None
        if wait is not None:
            with _errors():
                control.wait(wait, change, timeout=float(options.get("timeout") or 60.0))
            if not quiet and not as_json:
                self.stdout.write(f"The app at {wait} serves the new state.")

    @staticmethod
    def _change(verb: str, where: control.Store, options: dict[str, Any]) -> control.Change:
        """The one control call a verb stands for."""
        if verb == "on":
            return control.on(
                where,
                reason=options.get("reason"),
                message=options.get("message"),
                eta=options.get("eta"),
                kind=options.get("kind"),
                expires=options.get("expires"),
                allow=options.get("allow") or (),
                secret=options.get("secret"),
            )
        if verb == "update":
            return control.update(where, options["text"], eta=options.get("eta"))
        if verb == "off":
            return control.off(where, purge=bool(options.get("purge")))
        if verb != "schedule":  # pragma: no cover - argparse allows only the verbs above
            raise control.InvalidChange(f"unknown command {verb!r}")
        start, end = options.get("start"), options.get("end")
        if options.get("clear"):
            if start is not None or end is not None:
                raise control.InvalidChange(
                    "--clear removes the upcoming windows; give it without --start/--end"
                )
            return control.clear_schedule(where)
        if start is None or end is None:
            raise control.InvalidChange("--start and --end are required (or --clear)")
        return control.schedule(
            where,
            start=start,
            end=end,
            timezone=options.get("tz") or "UTC",
            kind=options.get("kind") or "planned",
            reason=options.get("reason"),
            message=options.get("message"),
            affected=options.get("affected") or (),
            unaffected=options.get("unaffected") or (),
            announce=options.get("announce"),
            auto_end=bool(options.get("auto_end")),
        )

    def _report(self, change: control.Change, *, quiet: bool, as_json: bool) -> None:
        if quiet:
            return
        if as_json:
            self.stdout.write(json.dumps(change.to_json(), indent=2))
        else:
            lines = change_lines(change)
            if change.secret is not None:  # the bypass URL under this project's bypass_path
                lines = change_lines(change, bypass_path=conf.bypass_path())
            head, *rest = lines
            self.stdout.write(head, self.style.SUCCESS if change.changed else self.style.NOTICE)
            for line in rest:
                self.stdout.write(line)
        for warning in change.warnings:
            self.stderr.write(f"Warning: {warning}", self.style.WARNING)

    def _status(self, *, check: bool, quiet: bool, as_json: bool) -> None:
        if check:
            try:
                found = control.status(_store())
            except (control.ControlError, CommandError) as exc:
                raise _Quiet(str(exc), returncode=INVALID) from None
            if not found.on:
                raise _Quiet(f"maintenance is off ({found.target})", returncode=FAILED)
            return
        where = _store()
        with _errors():
            found = control.status(where)
        if quiet:
            return
        if as_json:
            self.stdout.write(json.dumps(found.to_json(), indent=2))
            return
        head, *rest = status_lines(found)
        self.stdout.write(head, self.style.WARNING if found.on else self.style.SUCCESS)
        for line in rest:
            self.stdout.write(line)
