"""The ``maintenance`` command: flip the flag file from a shell or a deploy script.

Every write is atomic (temp file, fsync, rename, mode 0644), so a running app
never sees half a document. A usage mistake gets a one-line message and exit
code 2; a file-system error a one-line message and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from . import __version__
from .rules import check_allow_entry
from .settings import default_flag_path
from .sources import FileFlag, FlagError
from .state import (
    ETARange,
    MaintenanceState,
    StateFileError,
    load_state,
    write_state_atomic,
)

__all__ = ["main", "parse_eta", "parse_when"]

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def parse_when(text: str, *, now: datetime) -> datetime:
    """A duration from now (``90m``, ``2h``, ``1d12h``) or an ISO 8601 time with an offset."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if text and match and any(match.groups()):
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return now + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", text):  # no Unix timestamps, no bare dates
        raise ValueError(
            f"{text!r} is neither a duration (30m, 2h, 1d12h) "
            "nor an ISO 8601 time with an offset (2026-11-27T14:00+01:00)"
        )
    try:
        return _AWARE.validate_python(text)
    except ValidationError as exc:
        kind = exc.errors()[0]["type"]
        if kind == "timezone_aware":
            raise ValueError(
                f"{text!r} has no time zone; add an offset, e.g. 2026-11-27T14:00+01:00 or ...Z"
            ) from None
        raise ValueError(
            f"{text!r} is neither a duration (30m, 2h, 1d12h) "
            "nor an ISO 8601 time with an offset (2026-11-27T14:00+01:00)"
        ) from None


def parse_eta(text: str, *, now: datetime | None = None) -> datetime | ETARange:
    """``WHEN`` or a range ``WHEN..WHEN`` (or ``WHEN/WHEN``), e.g. ``2h..4h``; never in the past."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    eta = _parse_eta(text, now)
    earliest = eta.earliest if isinstance(eta, ETARange) else eta
    if earliest <= now:
        raise ValueError(f"{text!r} is not in the future; an ETA says when maintenance should end")
    return eta


def _parse_eta(text: str, now: datetime) -> datetime | ETARange:
    for sep in ("..", "/"):
        if sep in text:
            first, _, second = text.partition(sep)
            earliest, latest = parse_when(first, now=now), parse_when(second, now=now)
            if latest < earliest:
                raise ValueError(f"range {text!r} ends before it starts; write EARLIEST..LATEST")
            return ETARange(earliest=earliest, latest=latest)
    return parse_when(text, now=now)


def _eta_arg(text: str) -> datetime | ETARange:
    try:
        return parse_eta(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fmt(value: datetime | None) -> str:
    if value is None:
        return "-"
    local = value.astimezone()
    utc = value.astimezone(UTC)
    if local.utcoffset() == utc.utcoffset():
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M %Z} ({utc:%Y-%m-%d %H:%M} UTC)"


def _read_existing(path: Path) -> MaintenanceState | None:
    """The state in an existing flag file, None if absent; invalid content warns."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SystemExit(f"maintenance: cannot read {path}: {exc.strerror}") from None
    try:
        return load_state(data)
    except StateFileError as exc:
        print(f"maintenance: warning: {exc}; starting from fresh details", file=sys.stderr)
        return MaintenanceState()


def _cmd_on(args: argparse.Namespace, path: Path) -> int:
    now = datetime.now(UTC).replace(microsecond=0)
    current = _read_existing(path)
    base = current or MaintenanceState(started_at=now)
    changes: dict[str, object] = {}
    if current is not None and current.started_at is None:
        changes["started_at"] = now
    for name in ("kind", "reason", "message", "eta"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.allow:
        changes["allow"] = tuple(dict.fromkeys((*base.allow, *args.allow)))
    try:
        state = MaintenanceState.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        args.parser.error(f"invalid details: {msg}")
    _write(path, state)
    print(f"Maintenance is ON ({'updated' if current else 'started'}): {path}")
    _print_state(state)
    return 0


def _write(path: Path, state: MaintenanceState) -> None:
    try:
        write_state_atomic(path, state)
    except OSError as exc:
        raise SystemExit(
            f"maintenance: cannot write {path}: {exc.strerror}; check the folder exists "
            "and is writable (or pass --file)"
        ) from None


def _cmd_off(args: argparse.Namespace, path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        print(f"Maintenance was already OFF: no flag file at {path}")
        return 0
    except OSError as exc:
        raise SystemExit(f"maintenance: cannot remove {path}: {exc.strerror}") from None
    print(f"Maintenance is OFF: removed {path}")
    return 0


def _print_state(state: MaintenanceState) -> None:
    print(f"  kind:    {state.kind}")
    if state.reason:
        print(f"  reason:  {state.reason}")
    if state.message:
        print(f"  message: {state.message}")
    print(f"  started: {_fmt(state.started_at)}")
    if state.eta is not None:
        if isinstance(state.eta, ETARange) and state.eta.earliest != state.eta.latest:
            print(f"  eta:     {_fmt(state.eta.earliest)} to {_fmt(state.eta.latest)}")
        else:
            print(f"  eta:     {_fmt(state.eta_latest)}")
    if state.allow:
        print(f"  allow:   {' '.join(state.allow)}")
    for update in state.updates:
        print(f"  update:  {_fmt(update.at)}: {update.text}")


def _cmd_status(args: argparse.Namespace, path: Path) -> int:
    try:
        state = FileFlag(path).read()
    except FlagError as exc:
        raise SystemExit(f"maintenance: {exc}") from None
    if args.json:
        doc = {"on": state is not None, "file": str(path)}
        if state is not None:
            doc["state"] = state.model_dump(mode="json")
        print(json.dumps(doc, indent=2))
    elif state is None:
        print(f"Maintenance is OFF (no flag file at {path})")
    else:
        print(f"Maintenance is ON: {path}")
        _print_state(state)
    return 0


def _cmd_schema(args: argparse.Namespace, path: Path) -> int:
    print(json.dumps(MaintenanceState.model_json_schema(), indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace, path: Path) -> int:
    from .demo import run_demo

    return run_demo(host=args.host, port=args.port, flag_path=path)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


def build_parser(
    prog: str = "maintenance", default_file: str | os.PathLike[str] | None = None
) -> argparse.ArgumentParser:
    file_opt = argparse.ArgumentParser(add_help=False)
    file_opt.add_argument(
        "--file",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PATH",
        help=f"the flag file (default: {default_file})"
        if default_file is not None
        else "the flag file (default: $MAINTENANCE_FILE, else ./maintenance.json)",
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Switch maintenance mode on and off for apps wrapped by maintenance-mode.",
        parents=[file_opt],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    on = sub.add_parser(
        "on",
        parents=[file_opt],
        help="turn maintenance on, or update its details while on (no gap)",
        description="Turn maintenance on (or update the details of a running maintenance).",
    )
    on.add_argument("--reason", help="what is happening and why, shown on the page")
    on.add_argument("--message", help="a further sentence for visitors")
    on.add_argument(
        "--eta",
        type=_eta_arg,
        metavar="WHEN",
        help="expected end: a duration (2h, 90m), an ISO 8601 time with offset, "
        "or a range of either (2h..4h)",
    )
    on.add_argument("--kind", choices=["planned", "unplanned"], help="planned work or an incident")
    on.add_argument(
        "--allow",
        action="append",
        metavar="PATH",
        help="an extra path that keeps working (repeatable), e.g. /status or /docs/",
    )
    on.set_defaults(func=_cmd_on, parser=on)

    off = sub.add_parser("off", parents=[file_opt], help="turn maintenance off")
    off.set_defaults(func=_cmd_off)

    status = sub.add_parser("status", parents=[file_opt], help="show whether maintenance is on")
    status.add_argument("--json", action="store_true", help="print machine-readable JSON")
    status.set_defaults(func=_cmd_status)

    schema = sub.add_parser("schema", help="print the flag file's JSON Schema")
    schema.set_defaults(func=_cmd_schema)

    demo = sub.add_parser(
        "demo",
        parents=[file_opt],
        help="run a demo site behind the middleware on 127.0.0.1",
        description="Serve a small demo site wrapped by the middleware, maintenance on at start.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    demo.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    prog: str = "maintenance",
    default_file: str | os.PathLike[str] | None = None,
) -> int:
    """Entry point of the ``maintenance`` console script; returns the exit code.

    Framework commands (``manage.py maintenance``, ``flask maintenance``) call it
    with their own ``prog`` and the flag file their settings name.
    """
    parser = build_parser(prog, default_file)
    args = parser.parse_args(argv)
    chosen = getattr(args, "file", None) or default_file or default_flag_path()
    path = Path(chosen).absolute()
    if not logging.getLogger().handlers:  # warnings read like the CLI's own messages
        logging.basicConfig(format=f"{prog}: warning: %(message)s")
    if args.command == "on" and args.allow:
        try:
            args.allow = [check_allow_entry(entry) for entry in args.allow]
        except ValueError as exc:
            args.parser.error(f"--allow: {exc}")
    result: int = args.func(args, path)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
