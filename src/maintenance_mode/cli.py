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
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

# First: a clear error if django-maintenance-mode's files are mixed with ours.
import maintenance_mode._install  # noqa: F401

from . import __version__, _verbs, control
from .control import ControlError, InvalidChange, parse_eta, parse_when

__all__ = ["main", "parse_eta", "parse_when"]

#: ``export.PROXY_SERVERS``, here so that building the parser does not import the renderer.
PROXIES = ("nginx", "caddy", "apache", "haproxy")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line: what is wrong, where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- argument types --------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return port


# -- the verbs -------------------------------------------------------------------------------


def _change(args: argparse.Namespace, where: control.Store) -> int:
    """Run a verb that writes: call control, print the result, then ``--wait`` for the app."""
    from ._text import change_lines

    change = _verbs.make_change(args.command, where, vars(args))
    if not args.quiet:
        for warning in change.warnings:
            print(f"{args.top}: warning: {warning}", file=sys.stderr)
    bypass = _verbs.bypass_base(vars(args), _verbs.BYPASS_PATH)
    if args.json:
        print(_verbs.change_json(change, bypass))
    elif not args.quiet:
        print("\n".join(change_lines(change, bypass_path=bypass)))
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
    url = _verbs.status_url(args.wait, _verbs.STATUS_PATH)
    sys.stdout.flush()
    try:
        _verbs.wait_for(url, change, vars(args))
    except ControlError as exc:
        print(f"{args.prog}: the change is written, but {exc}", file=sys.stderr)
        return 1
    if not (args.quiet or args.json):
        print(f"The app at {url} serves the new state.")
    return 0


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
    parser = _Parser(
        prog=prog,
        description="Switch maintenance mode on and off for apps wrapped by maintenance-mode.",
        parents=[target],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    verbs = _verbs.add_verbs(sub, prog=prog, target=target)
    for name in _verbs.WRITES:
        verbs[name].set_defaults(run=_change)
    verbs["status"].set_defaults(run=_status)

    exporting = sub.add_parser(
        "export",
        parents=[target, _Parser(add_help=False, parents=[_verbs.output_options()])],
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
    problem = _verbs.usage_problem(args.command, vars(args))
    if problem is not None:
        args.parser.error(problem)


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
