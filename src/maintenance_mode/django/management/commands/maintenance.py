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
from collections.abc import Iterator
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
from maintenance_mode._verbs import (
    add_verbs,
    bypass_base,
    change_json,
    make_change,
    status_url,
    usage_problem,
    wait_for,
)
from maintenance_mode.django import conf
from maintenance_mode.settings import Settings

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
        declared = add_verbs(
            verbs,
            prog="manage.py maintenance",
            target=None,
            formatter_class=DjangoHelpFormatter,
        )
        hide = argparse.SUPPRESS  # unset unless given here: the main parser holds the defaults
        for sub in declared.values():  # Django's own options, after the verb too
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

    # -- running ---------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        verb: str = options["verb"]
        as_json = bool(options.get("json"))
        # -v 0 counts as --quiet, except beside --json (asked for explicitly, it prints).
        quiet = bool(options.get("quiet")) or (options["verbosity"] == 0 and not as_json)
        problem = usage_problem(verb, {**options, "quiet": quiet})
        if problem is not None:
            raise CommandError(problem, returncode=INVALID)
        if verb == "status":
            self._status(check=bool(options.get("check")), quiet=quiet, as_json=as_json)
            return
        where = _store()
        settings = Settings.from_options(conf.raw_options())  # valid: _store() read them
        wait: str | None = options.get("wait")
        with _errors():
            if wait is not None:  # checked before anything is written (call_command skips types)
                wait = status_url(wait, settings.status_path)
            change = make_change(verb, where, options)
        self._report(
            change, quiet=quiet, as_json=as_json, bypass=bypass_base(options, settings.bypass_path)
        )
        try:
            for warning in conf.export_after(change):
                if not quiet:
                    self.stderr.write(f"Warning: {warning}")
        except control.ControlError as exc:
            raise CommandError(f"the change is written, but {exc}", returncode=FAILED) from None
        if wait is not None:
            with _errors():
                wait_for(wait, change, options)
            if not quiet and not as_json:
                self.stdout.write(f"The app at {wait} serves the new state.")

    def _report(self, change: control.Change, *, quiet: bool, as_json: bool, bypass: str) -> None:
        if quiet:
            return
        if as_json:
            self.stdout.write(change_json(change, bypass))
        else:
            head, *rest = change_lines(change, bypass_path=bypass)
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
        known = Settings.from_options(conf.raw_options()).components  # valid: _store() read them
        head, *rest = status_lines(found, known=known)
        self.stdout.write(head, self.style.WARNING if found.on else self.style.SUCCESS)
        for line in rest:
            self.stdout.write(line)
