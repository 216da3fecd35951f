"""The ``maintenance`` command: a thin shell over :mod:`maintenance_mode.control`.

Each verb parses its arguments, calls one control function and prints the result
(the lines of :mod:`maintenance_mode._text`, or ``--json``); it reads and writes no
flag document itself. Exit codes: 0 success, 1 a store or I/O failure
(:class:`~maintenance_mode.control.ControlError`, or ``--wait`` timing out), 2 a
usage mistake or a refused change (:class:`~maintenance_mode.control.InvalidChange`).
``status --check`` answers with its exit code instead: 0 on, 1 off, 2 an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from . import __version__, control
from .control import Change, ControlError, InvalidChange, parse_eta, parse_when

__all__ = ["main", "parse_eta", "parse_when"]

#: Where the app serves its status document and bypass URLs by default
#: (the ``status_path`` and ``bypass_path`` options).
STATUS_PATH = "/__maintenance__/status"
BYPASS_PATH = "/__maintenance__/"
#: ``export.PROXY_SERVERS``, here so that building the parser does not import the renderer.
PROXIES = ("nginx", "caddy", "apache", "haproxy")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line: what is wrong, where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- argument types --------------------------------------------------------------------------


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def _status_url(text: str) -> str:
    """``--wait``: the status document's URL; a bare site address gets its default path."""
    url = _http_url(text)
    parts = urlsplit(url)
    if parts.path in ("", "/") and not parts.query:
        return f"{parts.scheme}://{parts.netloc}{STATUS_PATH}"
    return url


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 < s <= 86400)")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


# -- the verbs -------------------------------------------------------------------------------


def _on(args: argparse.Namespace, where: control.Store) -> Change:
    return control.on(
        where,
        reason=args.reason,
        message=args.message,
        eta=args.eta,
        kind=args.kind,
        expires=args.expires,
        allow=args.allow or (),
        secret=args.secret,
    )


def _update(args: argparse.Namespace, where: control.Store) -> Change:
    return control.update(where, args.text, eta=args.eta)


def _off(args: argparse.Namespace, where: control.Store) -> Change:
    return control.off(where, purge=args.purge)


def _schedule(args: argparse.Namespace, where: control.Store) -> Change:
    if args.clear:
        return control.clear_schedule(where)
    return control.schedule(
        where,
        start=args.start,
        end=args.end,
        timezone=args.tz,
        kind=args.kind or "planned",
        reason=args.reason,
        message=args.message,
        affected=args.affected or (),
        unaffected=args.unaffected or (),
        announce=args.announce,
        auto_end=args.auto_end,
    )


def _bypass_base(args: argparse.Namespace) -> str:
    """Where a bypass secret is opened: ``--url``, else ``--wait``'s origin, else a bare path."""
    base = getattr(args, "url", None)
    if base is None and getattr(args, "wait", None):
        parts = urlsplit(args.wait)
        base = f"{parts.scheme}://{parts.netloc}"
    return (base or "").rstrip("/") + BYPASS_PATH


def _print_change(args: argparse.Namespace, change: Change) -> None:
    from ._text import change_lines

    if not args.quiet:
        for warning in change.warnings:
            print(f"{args.top}: warning: {warning}", file=sys.stderr)
    if args.json:
        out = change.to_json()
        if change.secret is not None:
            out["bypass_url"] = _bypass_base(args) + change.secret
        print(json.dumps(out, indent=2))
    elif not args.quiet:
        print("\n".join(change_lines(change, bypass_path=_bypass_base(args))))


def _change(
    verb: Callable[[argparse.Namespace, control.Store], Change],
) -> Callable[[argparse.Namespace, control.Store], int]:
    """Run a verb that writes: call control, print the result, then ``--wait`` for the app."""

    def run(args: argparse.Namespace, where: control.Store) -> int:
        change = verb(args, where)
        _print_change(args, change)
        if args.export is not None:
            from .export import export

            try:
                result = export(args.export, flag=change.status)
            except ControlError as exc:
                print(f"{args.prog}: the change is written, but {exc}", file=sys.stderr)
                return 1
            for warning in result.warnings:
                print(f"{args.top}: warning: {warning}", file=sys.stderr)
        if args.wait is None:
            return 0
        sys.stdout.flush()
        try:
            control.wait(args.wait, change, timeout=args.timeout, settle=args.settle)
        except ControlError as exc:
            print(f"{args.prog}: the change is written, but {exc}", file=sys.stderr)
            return 1
        if not (args.quiet or args.json):
            print(f"The app at {args.wait} serves the new state.")
        return 0

    return run


def _status(args: argparse.Namespace, where: control.Store) -> int:
    from ._text import status_lines

    found = control.status(where)
    if args.check:
        return 0 if found.on else 1
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
    elif not args.quiet:
        print("\n".join(status_lines(found)))
    return 0


def _export(args: argparse.Namespace, where: control.Store) -> int:
    from . import export

    options = None
    if args.options is not None:
        try:
            options = json.loads(args.options.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidChange(
                f"--options {args.options}: cannot read a JSON object ({exc})"
            ) from None
        if not isinstance(options, dict):
            raise InvalidChange(f"--options {args.options}: must hold a JSON object of options")
    assets = {}
    for entry in args.asset:
        prefix, sep, folder = entry.partition("=")
        if not sep or not folder:
            raise InvalidChange(f"--asset {entry!r}: write PREFIX=DIR, e.g. /static/=/srv/static")
        assets[prefix] = folder
    result = export.export(args.out, flag=where, settings=options, assets=assets)
    for warning in result.warnings:
        print(f"{args.top}: warning: {warning}", file=sys.stderr)
    if args.proxy is not None:
        snippet = export.proxy_snippet(
            args.proxy,
            out_dir=args.out,
            upstream=args.upstream,
            mode=args.mode,
            settings=options,
            listen=args.listen,
            server_name=args.server_name,
            trigger=args.trigger,
        )
        print(snippet, end="")
    elif args.json:
        print(json.dumps(result.to_json(), indent=2))
    elif not args.quiet:
        print(f"Exported the {'maintenance' if result.on else 'operational'} page to {args.out}")
    return 0


def _schema(args: argparse.Namespace, where: None) -> int:
    from .state import MaintenanceState

    print(json.dumps(MaintenanceState.model_json_schema(), indent=2))
    return 0


def _demo(args: argparse.Namespace, where: control.Store) -> int:
    from .demo import run_demo

    if not isinstance(where, control.FileStore):
        raise InvalidChange(
            f"demo serves a flag file, not {where}; drop --redis (or unset $MAINTENANCE_REDIS)"
        )
    return run_demo(host=args.host, port=args.port, flag_path=where.path)


def _preview(args: argparse.Namespace, where: None) -> int:
    from .preview import run

    return run(args, Path())


# -- the parser ------------------------------------------------------------------------------


def build_parser(prog: str = "maintenance") -> argparse.ArgumentParser:
    """The ``maintenance`` command's parser (every verb, its options and help)."""
    target = _Parser(add_help=False)
    target.add_argument(
        "--file",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the flag file (default: $MAINTENANCE_FILE, else ./maintenance.json)",
    )
    target.add_argument(
        "--redis",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="the document under a Redis key instead, e.g. redis://127.0.0.1:6379/0 "
        "(default: $MAINTENANCE_REDIS; needs the redis extra)",
    )
    target.add_argument(
        "--redis-key",
        default=argparse.SUPPRESS,
        metavar="KEY",
        help="the Redis key (default: $MAINTENANCE_REDIS_KEY, else maintenance_mode:state)",
    )
    output = _Parser(add_help=False)
    output.add_argument(
        "--json", action="store_true", help="print the resulting state as JSON on stdout"
    )
    output.add_argument(
        "--quiet", "-q", action="store_true", help="print nothing on success (errors still do)"
    )
    waiting = _Parser(add_help=False)
    waiting.add_argument(
        "--wait",
        type=_status_url,
        metavar="URL",
        help="after writing, poll the app's status document at URL (a site address means "
        f"its {STATUS_PATH}) until it serves the new state",
    )
    waiting.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up waiting after this long, with exit code 1 (default: 60)",
    )
    waiting.add_argument(
        "--settle",
        type=_seconds,
        metavar="SECONDS",
        help="how long every answer must show the new state; keep it above the app's "
        "check_interval (default: 2)",
    )

    waiting.add_argument(
        "--export",
        type=Path,
        metavar="DIR",
        default=os.environ.get("MAINTENANCE_EXPORT_DIR") or None,
        help="after writing, refresh the static export in DIR for the reverse proxy "
        "(default: $MAINTENANCE_EXPORT_DIR; see 'maintenance export')",
    )

    parser = _Parser(
        prog=prog,
        description="Switch maintenance mode on and off for apps wrapped by maintenance-mode.",
        parents=[target],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    writes = [target, output, waiting]

    on = sub.add_parser(
        "on",
        parents=writes,
        help="turn maintenance on, or update its details while on (no gap)",
        description="Turn maintenance on (or change the details of a running maintenance).",
    )
    on.add_argument("--reason", help="what is happening and why, shown on the page")
    on.add_argument("--message", help="a further sentence for visitors")
    on.add_argument(
        "--eta",
        metavar="WHEN",
        help="expected end: a duration (2h, 90m), an ISO 8601 time with offset, "
        "or a range of either (2h..4h)",
    )
    on.add_argument("--kind", choices=["planned", "unplanned"], help="planned work or an incident")
    on.add_argument(
        "--expires",
        metavar="WHEN",
        help="switch off by itself after this long (2h) or at this time, in case the deploy "
        "never does",
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
        help="a bypass secret for this maintenance only (made for you when no TOKEN is given); "
        "prints the bypass URL once, stores only its hash",
    )
    on.add_argument(
        "--url",
        type=_http_url,
        metavar="BASE",
        help="the site's address, to print --secret's bypass URL in full",
    )
    on.set_defaults(run=_change(_on))

    update = sub.add_parser(
        "update",
        parents=writes,
        help="add a timestamped progress note (and optionally a new ETA) while on",
        description="Add a progress update to the running maintenance, with no gap.",
    )
    update.add_argument("text", help="the update, e.g. 'Database migrated; restarting'")
    update.add_argument("--eta", metavar="WHEN", help="a new expected end")
    update.set_defaults(run=_change(_update))

    schedule = sub.add_parser(
        "schedule",
        parents=writes,
        help="plan a maintenance window (announced ahead, starts by itself)",
        description="Add a planned window. The site stays up, with a banner from the "
        "announcement time, until the window starts; it then switches on by itself. It ends "
        "with 'maintenance off' (or at the end with --auto-end).",
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
        "--tz", default="UTC", metavar="TZ", help="IANA zone for times and the banner"
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
        metavar="DURATION",
        help="show the banner this long before the start (default: 48h)",
    )
    schedule.add_argument(
        "--auto-end", action="store_true", help="switch off by itself at the (latest) end"
    )
    schedule.add_argument(
        "--clear", action="store_true", help="remove every window that has not started"
    )
    schedule.set_defaults(run=_change(_schedule))

    off = sub.add_parser(
        "off",
        parents=writes,
        help="turn maintenance off (the document records the end; upcoming windows stay)",
        description="Turn maintenance off. The document records the end; windows that have "
        "not started are kept.",
    )
    off.add_argument(
        "--purge", action="store_true", help="delete the document instead, windows and all"
    )
    off.set_defaults(run=_change(_off))

    status = sub.add_parser(
        "status",
        parents=[target, output],
        help="show whether maintenance is on (--check: answer with the exit code)",
        description="Show whether maintenance is on, with its details and the windows ahead.",
    )
    status.add_argument(
        "--check",
        action="store_true",
        help="print nothing; exit 0 if maintenance is on (a window in force counts), "
        "1 if off, 2 on an error",
    )
    status.set_defaults(run=_status)

    exporting = sub.add_parser(
        "export",
        parents=[target, output],
        help="write the static page for the reverse proxy (--proxy: print its configuration)",
        description="Write the maintenance response for the current state into DIR (the page "
        "in every language, problem+json, text, the status document), for a reverse proxy "
        "to serve when the app cannot. With --proxy, print that server's configuration.",
    )
    exporting.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder")
    exporting.add_argument(
        "--options",
        type=Path,
        metavar="FILE",
        help="a JSON object of the middleware's options (default: those of the last export)",
    )
    exporting.add_argument(
        "--asset",
        action="append",
        default=[],
        metavar="PREFIX=DIR",
        help="inline site images under PREFIX from DIR, e.g. /static/=/srv/shop/static",
    )
    exporting.add_argument("--proxy", choices=PROXIES, help="print this server's snippet")
    exporting.add_argument(
        "--mode",
        choices=["fallback", "proxy-side"],
        default="fallback",
        help="fallback: only when the app cannot answer; proxy-side: also while the flag "
        "is on (default: fallback)",
    )
    exporting.add_argument(
        "--upstream", default="127.0.0.1:8000", metavar="HOST:PORT", help="the app server"
    )
    exporting.add_argument(
        "--listen", default="80", metavar="[ADDRESS:]PORT", help="where the proxy listens"
    )
    exporting.add_argument("--server-name", metavar="NAME", help="the site's host name")
    exporting.add_argument(
        "--trigger",
        type=Path,
        metavar="FILE",
        help="proxy-side mode's switch file (default: the export's maintenance.on)",
    )
    exporting.set_defaults(run=_export)

    schema = sub.add_parser(
        "schema",
        help="print the flag document's JSON Schema",
        description="Print the JSON Schema of the flag document.",
    )
    schema.add_argument("--json", action="store_true", help="accepted; the schema is JSON")
    schema.set_defaults(run=_schema, store=False)

    demo = sub.add_parser(
        "demo",
        parents=[target],
        help="run a demo site behind the middleware on 127.0.0.1",
        description="Serve a small demo site wrapped by the middleware, maintenance on at start.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    demo.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    demo.set_defaults(run=_demo)

    from .preview import add_parser as add_preview

    add_preview(sub, _port)
    sub.choices["preview"].set_defaults(run=_preview, store=False)
    for name, verb in sub.choices.items():
        verb.set_defaults(parser=verb, prog=f"{prog} {name}", top=prog)
    return parser


def _check(args: argparse.Namespace) -> None:
    """Combinations argparse cannot express: each is a usage error, never silently ignored."""
    fail = args.parser.error
    if getattr(args, "json", False) and getattr(args, "quiet", False):
        fail("--json and --quiet do not go together; --json prints the state, --quiet nothing")
    if getattr(args, "check", False) and (args.json or args.quiet):
        fail("--check prints nothing already; drop --json/--quiet")
    if getattr(args, "wait", None) is None:
        for name in ("timeout", "settle"):
            if getattr(args, name, None) is not None:
                fail(f"--{name} goes with --wait URL")
    else:
        args.timeout = 60.0 if args.timeout is None else args.timeout
        args.settle = 2.0 if args.settle is None else args.settle
    if getattr(args, "secret", None) is True and args.quiet:
        fail("--quiet would hide the secret made for you; drop --quiet, add --json, or give TOKEN")
    if getattr(args, "url", None) is not None and args.secret is None:
        fail("--url gives the address for the bypass URL of --secret; add --secret")
    if args.command == "schedule":
        if args.clear and (args.start is not None or args.end is not None):
            fail("--clear removes the windows ahead; it takes no --start or --end")
        if not args.clear and (args.start is None or args.end is None):
            fail("--start and --end are required (or --clear)")


def _store(args: argparse.Namespace) -> control.Store:
    """``--file`` or ``--redis`` (with ``--redis-key``), else :func:`control.default_flag`."""
    file = getattr(args, "file", None)
    url = getattr(args, "redis", None)
    key = getattr(args, "redis_key", None)
    if file is not None and url is not None:
        args.parser.error("give either --file or --redis, not both")
    if file is not None:
        if key is not None:
            args.parser.error("--redis-key names a Redis key; it goes with --redis, not --file")
        return control.FileStore(file)
    if url is None and key is not None:
        url = os.environ.get("MAINTENANCE_REDIS", "").strip() or None
        if url is None:
            args.parser.error("--redis-key needs --redis URL (or $MAINTENANCE_REDIS)")
    if url is not None:
        return control.RedisStore(url, key)
    return control.store(None)


def main(argv: Sequence[str] | None = None, *, prog: str = "maintenance") -> int:
    """Entry point of the ``maintenance`` console script; returns the exit code.

    ``main()`` (the console script, ``python -m maintenance_mode``) also routes library
    warnings to stderr as ``maintenance: warning: ...``; ``main([...])`` configures no
    logging, so calling it from Python or tests leaves the process's logging alone.
    """
    if argv is None and not logging.getLogger().handlers:
        logging.basicConfig(format=f"{prog}: warning: %(message)s")
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        _check(args)
    except SystemExit as exc:  # --help, --version and usage mistakes
        return _code(exc)
    checking = getattr(args, "check", False)
    try:
        where = _store(args) if getattr(args, "store", True) else None
        code: int = args.run(args, where)
    except SystemExit as exc:  # a usage mistake found late (parser.error), or preview's
        return _code(exc)
    except InvalidChange as exc:
        print(f"{args.prog}: error: {exc}", file=sys.stderr)
        return 2
    except ControlError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2 if checking else 1
    except BrokenPipeError:  # e.g. `maintenance status | head`: the reader left, that's fine
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return code


def _code(exc: SystemExit) -> int:
    if isinstance(exc.code, str):  # SystemExit("maintenance: ...") from preview
        print(exc.code, file=sys.stderr)
        return 1
    return 0 if exc.code is None else int(exc.code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
