"""The ``maintenance`` command: flip the flag file from a shell or a deploy script.

Every write is atomic (temp file, fsync, rename, mode 0644), so a running app
never sees half a document. A usage mistake gets a one-line message and exit
code 2; a file-system error a one-line message and exit code 1.

With ``--redis URL`` (or ``$MAINTENANCE_REDIS``) the same document is read from
and written to a Redis key instead (``SET``, ``DEL`` for ``off --purge``), for
apps whose ``flag`` is a :class:`~maintenance_mode.redis.RedisFlag`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from . import __version__
from .rules import check_allow_entry
from .schedule import evaluate, window_state
from .settings import default_flag_path
from .sources import FileFlag, FlagError, FlagSource
from .state import (
    ETARange,
    MaintenanceState,
    StateFileError,
    Window,
    dump_state,
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


@dataclass(frozen=True)
class RedisTarget:
    """Where ``--redis`` puts the document: a Redis URL and key."""

    url: str
    key: str

    def __str__(self) -> str:
        from .redis import redacted

        return f"{redacted(self.url)} key {self.key}"

    def client(self) -> Any:
        from .redis import redis_client

        try:
            return redis_client(self.url, socket_timeout=5.0)
        except (ImportError, ValueError) as exc:
            raise SystemExit(f"maintenance: {exc}") from None


#: Where a command reads and writes the document: a flag file, or a Redis key.
Target = Path | RedisTarget


def _redis_call(target: RedisTarget, what: str, method: str, *args: Any) -> Any:
    import redis

    try:
        return getattr(target.client(), method)(*args)
    except (redis.RedisError, OSError) as exc:
        raise SystemExit(f"maintenance: cannot {what} {target}: {exc}") from None


def _source(target: Target) -> FlagSource:
    """The source an app would read, for ``status``."""
    if isinstance(target, RedisTarget):
        from .redis import RedisFlag

        try:
            return RedisFlag(target.url, target.key, socket_timeout=5.0)
        except (ImportError, ValueError) as exc:
            raise SystemExit(f"maintenance: {exc}") from None
    return FileFlag(target)


def _read_existing(path: Target) -> MaintenanceState | None:
    """The document at the target, None if absent; invalid content warns."""
    if isinstance(path, RedisTarget):
        data = _redis_call(path, "read", "get", path.key)
        if data is None:
            return None
    else:
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


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _validated(args: argparse.Namespace, data: dict[str, Any]) -> MaintenanceState:
    try:
        return MaintenanceState.model_validate(data)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        args.parser.error(f"invalid details: {msg}")  # exits with status 2
        raise  # pragma: no cover - parser.error never returns


def _running(current: MaintenanceState | None, now: datetime) -> MaintenanceState | None:
    """The document of a maintenance that is on now, made explicit (``started_at`` set)."""
    if current is None:
        return None
    found = evaluate(current, now)
    if found.phase == "on":  # a bare or hand-written file: say since when, from now on
        return current if current.started_at else current.model_copy(update={"started_at": now})
    if found.phase == "active" and found.window is not None:
        return window_state(current, found.window)  # a started window, taken over by hand
    return None


def _cmd_on(args: argparse.Namespace, path: Target) -> int:
    now = _now()
    current = _read_existing(path)
    running = _running(current, now)
    if running is None:  # start afresh, keeping the windows still ahead
        ahead = tuple(w for w in (current.windows if current else ()) if w.start > now)
        running = MaintenanceState(started_at=now, windows=ahead)
    changes: dict[str, object] = {}
    for name in ("kind", "reason", "message", "eta"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.allow:
        changes["allow"] = tuple(dict.fromkeys((*running.allow, *args.allow)))
    if args.expires is not None:
        changes["expires_at"] = now + args.expires
    state = _validated(args, {**running.model_dump(), **changes})
    _write(path, state)
    verb = "updated" if current is not None and _running(current, now) else "started"
    print(f"Maintenance is ON ({verb}): {path}")
    _print_state(state)
    return 0


def _cmd_update(args: argparse.Namespace, path: Target) -> int:
    now = _now()
    running = _running(_read_existing(path), now)
    if running is None:
        raise SystemExit(
            f"maintenance: maintenance is not on ({path}); nothing to update. "
            "Start it with 'maintenance on'"
        )
    data = running.model_dump()
    data["updates"] = [*running.updates, {"at": now, "text": args.text}]
    if args.eta is not None:
        data["eta"] = args.eta
    state = _validated(args, data)
    _write(path, state)
    print(f"Update added ({len(state.updates)} in all): {path}")
    _print_state(state)
    return 0


def _cmd_schedule(args: argparse.Namespace, path: Target) -> int:
    now = _now()
    existing = _read_existing(path)
    # A document that means ON must keep meaning ON once it holds windows too.
    current = _running(existing, now) or existing or MaintenanceState()
    if args.clear:
        kept = tuple(w for w in current.windows if w.start <= now)
        if existing is None:
            print(f"No windows to clear: no flag file at {path}")
        elif not kept and current.started_at is None and current.expires_at is None:
            _write(path, None)  # it held only windows: without them it would mean ON
            print(f"Upcoming windows cleared: removed {path}")
        else:
            _write(path, current.model_copy(update={"windows": kept}))
            print(f"Upcoming windows cleared: {path}")
        return 0
    if args.start is None or args.end is None:
        args.parser.error("--start and --end are required (or --clear)")
    try:
        start = _when_in(args.start, args.tz, now)
        end = _eta_in(args.end, args.tz, start)
    except ValueError as exc:
        args.parser.error(str(exc))
    window: dict[str, Any] = {
        "start": start,
        "end": end,
        "timezone": args.tz,
        "kind": args.kind or "planned",
        "reason": args.reason,
        "message": args.message,
        "affected": args.affected or [],
        "unaffected": args.unaffected or [],
        "auto_end": args.auto_end,
    }
    if args.announce is not None:
        window["announce_from"] = start - args.announce
    if start <= now:
        args.parser.error(f"--start {args.start!r} is not in the future")
    data = current.model_dump()
    data["windows"] = sorted([*data["windows"], window], key=lambda w: w["start"])
    state = _validated(args, data)
    _write(path, state)
    added = next(w for w in state.windows if w.start == start)
    print(f"Window scheduled: {path}")
    _print_window(added, now)
    if _running(state, now) is None:
        print(
            "The site stays up until the window starts; the banner shows from "
            f"{_fmt(added.announce_at)}."
        )
    return 0


def _when_in(text: str, zone: str, now: datetime) -> datetime:
    """A duration, an ISO time with offset, or a wall-clock ISO time in ``zone``."""
    try:
        return parse_when(text, now=now)
    except ValueError:
        try:
            naive = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"{text!r} is neither a duration (2d, 90m) nor an ISO 8601 time "
                f"(2026-12-01T10:00, read in --tz {zone})"
            ) from None
        if naive.tzinfo is not None:
            return naive
        return naive.replace(tzinfo=ZoneInfo(zone))


def _eta_in(text: str, zone: str, start: datetime) -> datetime | ETARange:
    """``--end``: like ``--start`` (durations count from the start), or a range A..B."""
    for sep in ("..", "/"):
        if sep in text:
            first, _, second = text.partition(sep)
            earliest, latest = _when_in(first, zone, start), _when_in(second, zone, start)
            if latest < earliest:
                raise ValueError(f"--end {text!r} ends before it starts; write EARLIEST..LATEST")
            return ETARange(earliest=earliest, latest=latest)
    return _when_in(text, zone, start)


def _zone_arg(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)"
        ) from None
    return text


def _duration_arg(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (30m, 2h, 1d12h)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not duration:
        raise argparse.ArgumentTypeError(f"{text!r} is zero; give a positive duration")
    return duration


def _write(path: Target, state: MaintenanceState | None) -> None:
    """Store the document at the target; ``None`` removes it (the flag file or the key)."""
    if isinstance(path, RedisTarget):
        if state is None:
            _redis_call(path, "delete", "delete", path.key)
        else:
            _redis_call(path, "write", "set", path.key, dump_state(state).encode())
        return
    if state is None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SystemExit(f"maintenance: cannot remove {path}: {exc.strerror}") from None
        return
    try:
        write_state_atomic(path, state)
    except OSError as exc:
        raise SystemExit(
            f"maintenance: cannot write {path}: {exc.strerror}; check the folder exists "
            "and is writable (or pass --file)"
        ) from None


def _cmd_off(args: argparse.Namespace, path: Target) -> int:
    now = _now()
    current = _read_existing(path)
    running = _running(current, now)
    if current is None or (running is None and not args.purge):
        ahead = [w for w in (current.windows if current else ()) if w.start > now]
        kept = f"; {len(ahead)} upcoming window(s) kept" if ahead else ""
        print(f"Maintenance was already OFF: {path}{kept}")
        return 0
    if args.purge:
        _write(path, None)
        print(f"Maintenance is OFF: removed {path}")
        return 0
    if running is None:  # pragma: no cover - handled above; keeps type checkers informed
        return 0
    still_ahead = tuple(w for w in running.windows if w.start > now)
    # The file now records the real end; a passed expiry means "up" (and drives the
    # "we're back" banner for ended_banner_for seconds).
    ended = running.model_copy(update={"windows": still_ahead, "ended_at": now, "expires_at": now})
    _write(path, ended)
    print(f"Maintenance is OFF: ended at {_fmt(now)}; {path} records the end")
    if still_ahead:
        print(f"  {len(still_ahead)} upcoming window(s) kept")
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


def _print_window(window: Window, now: datetime) -> None:
    when = "active" if window.start <= now else "upcoming"
    print(f"  window ({when}, {window.kind}): {window.timezone}")
    print(f"    start:    {_fmt(window.start)}")
    if window.end_earliest != window.end_latest:
        print(f"    end:      {_fmt(window.end_earliest)} to {_fmt(window.end_latest)}")
    else:
        print(f"    end:      {_fmt(window.end_latest)}")
    print(f"    announce: {_fmt(window.announce_at)}" + ("  (auto-end)" if window.auto_end else ""))
    if window.reason:
        print(f"    reason:   {window.reason}")
    if window.affected:
        print(f"    affected: {', '.join(window.affected)}")
    if window.unaffected:
        print(f"    still up: {', '.join(window.unaffected)}")


_PHASE_TEXT = {
    "on": "ON",
    "active": "ON (a planned window has started)",
    "announced": "OFF (a window is announced)",
    "scheduled": "OFF (a window is scheduled)",
    "ended": "OFF (ended recently)",
    "idle": "OFF",
}


def _cmd_status(args: argparse.Namespace, path: Target) -> int:
    now = _now()
    try:
        doc = _source(path).read()
    except FlagError as exc:
        raise SystemExit(f"maintenance: {exc}") from None
    found = evaluate(doc, now) if doc is not None else None
    on = found is not None and found.on
    if args.json:
        out: dict[str, Any] = {"on": on, "phase": found.phase if found else "idle"}
        if isinstance(path, RedisTarget):
            out["redis"] = str(path)
        else:
            out["file"] = str(path)
        if found is not None and found.state is not None:
            out["state"] = found.state.model_dump(mode="json")
        if doc is not None:
            out["document"] = doc.model_dump(mode="json")
        print(json.dumps(out, indent=2))
        return 0
    if doc is None or found is None:
        where = (
            f"no document at {path}" if isinstance(path, RedisTarget) else f"no flag file at {path}"
        )
        print(f"Maintenance is OFF ({where})")
        return 0
    print(f"Maintenance is {_PHASE_TEXT[found.phase]}: {path}")
    if found.state is not None:
        _print_state(found.state)
    elif doc.ended_at is not None:
        print(f"  ended:   {_fmt(doc.ended_at)}")
    for window in sorted(doc.windows, key=lambda w: w.start):
        if window.start > now or found.window == window:
            _print_window(window, now)
    return 0


def _cmd_schema(args: argparse.Namespace, path: Target) -> int:
    print(json.dumps(MaintenanceState.model_json_schema(), indent=2))
    return 0


def _cmd_demo(args: argparse.Namespace, path: Target) -> int:
    from .demo import run_demo

    if isinstance(path, RedisTarget):
        raise SystemExit("maintenance: demo serves a flag file; drop --redis ($MAINTENANCE_REDIS)")
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
    file_opt.add_argument(
        "--redis",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="use the document in Redis instead of a file, e.g. redis://127.0.0.1:6379/0 "
        "(default: $MAINTENANCE_REDIS; needs the redis extra)",
    )
    file_opt.add_argument(
        "--redis-key",
        default=argparse.SUPPRESS,
        metavar="KEY",
        help="the Redis key (default: $MAINTENANCE_REDIS_KEY, else maintenance_mode:state)",
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
        "--expires",
        type=_duration_arg,
        metavar="DURATION",
        help="switch off by itself after this long (e.g. 2h), in case the deploy never does",
    )
    on.add_argument(
        "--allow",
        action="append",
        metavar="PATH",
        help="an extra path that keeps working (repeatable), e.g. /status or /docs/",
    )
    on.set_defaults(func=_cmd_on, parser=on)

    update = sub.add_parser(
        "update",
        parents=[file_opt],
        help="add a timestamped progress note (and optionally a new ETA) while on",
        description="Add a progress update to the running maintenance, with no gap.",
    )
    update.add_argument("text", help="the update, e.g. 'Database migrated; restarting'")
    update.add_argument("--eta", type=_eta_arg, metavar="WHEN", help="a new expected end")
    update.set_defaults(func=_cmd_update, parser=update)

    schedule = sub.add_parser(
        "schedule",
        parents=[file_opt],
        help="plan a maintenance window (announced ahead, starts by itself)",
        description="Add a planned window to the flag file. The site stays up, with a "
        "banner from the announcement time, until the window starts; it then switches on "
        "by itself. It ends with 'maintenance off' (or at the end with --auto-end).",
    )
    schedule.add_argument(
        "--start", metavar="WHEN", help="a duration from now (2d), or an ISO time (read in --tz)"
    )
    schedule.add_argument(
        "--end",
        metavar="WHEN",
        help="an ISO time, a duration from the start (4h), or a range of either (3h..5h)",
    )
    schedule.add_argument(
        "--tz", type=_zone_arg, default="UTC", help="IANA zone for times and the banner"
    )
    schedule.add_argument("--reason", help="what will happen and why")
    schedule.add_argument("--message", help="a further sentence for visitors")
    schedule.add_argument("--kind", choices=["planned", "unplanned"], help="default: planned")
    schedule.add_argument(
        "--affected", action="append", metavar="PART", help="what will be down (repeatable)"
    )
    schedule.add_argument(
        "--unaffected", action="append", metavar="PART", help="what keeps working (repeatable)"
    )
    schedule.add_argument(
        "--announce",
        type=_duration_arg,
        metavar="DURATION",
        help="show the banner this long before the start (default: 48h)",
    )
    schedule.add_argument(
        "--auto-end", action="store_true", help="switch off by itself at the (latest) end"
    )
    schedule.add_argument(
        "--clear", action="store_true", help="remove every window that has not started"
    )
    schedule.set_defaults(func=_cmd_schedule, parser=schedule)

    off = sub.add_parser(
        "off",
        parents=[file_opt],
        help="turn maintenance off (the file records the end; upcoming windows stay)",
    )
    off.add_argument(
        "--purge", action="store_true", help="delete the flag file instead, windows and all"
    )
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

    from .preview import add_parser as add_preview

    add_preview(sub, _port)
    return parser


def _target(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    default_file: str | os.PathLike[str] | None,
) -> Target:
    """--redis, else --file, else $MAINTENANCE_REDIS, else the default flag file."""
    url = getattr(args, "redis", None)
    file = getattr(args, "file", None)
    if url is not None and file is not None:
        parser.error("give either --file or --redis, not both")
    if url is None and file is None:
        url = os.environ.get("MAINTENANCE_REDIS", "").strip() or None
    if url is not None:
        key = getattr(args, "redis_key", None) or os.environ.get("MAINTENANCE_REDIS_KEY", "")
        return RedisTarget(url, key.strip() or "maintenance_mode:state")
    return Path(file or default_file or default_flag_path()).absolute()


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
    path = _target(args, parser, default_file)
    if not logging.getLogger().handlers:  # warnings read like the CLI's own messages
        logging.basicConfig(format=f"{prog}: warning: %(message)s")
    if args.command == "on" and args.allow:
        try:
            args.allow = [check_allow_entry(entry) for entry in args.allow]
        except ValueError as exc:
            args.parser.error(f"--allow: {exc}")
    try:
        result: int = args.func(args, path)
    except BrokenPipeError:  # e.g. `maintenance status | head`: the reader left, that's fine
        sys.stderr.close()
        return 0
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
