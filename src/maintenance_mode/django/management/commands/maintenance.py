"""``python manage.py maintenance on|off|status|schema``: the ``maintenance`` CLI, with the
flag file taken from ``settings.MAINTENANCE_MODE``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maintenance_mode.cli import main
from maintenance_mode.django import conf


def _flag_file() -> Any:
    try:
        path = conf.flag_file()
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc)) from None
    if path is None:
        raise CommandError(
            "settings.MAINTENANCE_MODE['flag'] is not a file (a callable or 'env:...'), "
            "so there is nothing for this command to switch; change your own store instead."
        )
    return path


class Command(BaseCommand):
    help = (
        "Switch maintenance mode on or off, or show it: the same sub-commands and flags as "
        "the 'maintenance' command (run 'manage.py maintenance --help')."
    )

    def run_from_argv(self, argv: list[str]) -> None:
        """Hand every argument to the maintenance CLI, so flags and --help are identical."""
        prog = f"{argv[0].rsplit('/', 1)[-1]} {argv[1]}"
        try:
            code = main(argv[2:], prog=prog, default_file=_flag_file())
        except CommandError as exc:
            self.stderr.write(f"CommandError: {exc}")
            sys.exit(1)
        if code:
            sys.exit(code)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "cli_args", nargs=argparse.REMAINDER, metavar="ARG", help="maintenance CLI arguments"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """``call_command("maintenance", "on", "--reason", "...")`` from Python."""
        argv = [*args, *(options.get("cli_args") or [])]
        code = main(argv, prog="manage.py maintenance", default_file=_flag_file())
        if code:
            raise CommandError(f"maintenance {' '.join(argv)} exited with {code}")
