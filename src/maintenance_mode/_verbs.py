"""What every ``maintenance`` shell shares: the verbs on, update, schedule, off and status.

One place declares their argparse options (the standalone ``maintenance`` command and
``manage.py maintenance``), the combinations of options every shell refuses, and the one
:mod:`~maintenance_mode.control` call each verb stands for; ``flask maintenance`` (click)
uses all but the declarations. A shell keeps only what is its own: where the flag is and
how it prints.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import control
from .control import Change, InvalidChange
from .state import locale_key

#: Where the app serves its status document and bypass URLs by default
#: (the ``status_path`` and ``bypass_path`` options).
STATUS_PATH = "/__maintenance__/status"
BYPASS_PATH = "/__maintenance__/"
#: The verbs that write, each the control call :func:`make_change` makes.
WRITES = ("on", "update", "schedule", "off")


# -- values ----------------------------------------------------------------------------------


def http_url(text: str) -> str:
    """``--wait`` and ``--url``: an http(s) address (InvalidChange otherwise)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidChange(f"{text!r} is not an http:// or https:// URL")
    return text


def status_url(url: str, status_path: str | None) -> str:
    """``--wait``'s URL: the app's status document; a bare site address gets ``status_path``."""
    parts = urlsplit(http_url(url))
    if parts.path not in ("", "/") or parts.query:
        return url
    if status_path is None:
        raise InvalidChange(
            "this app serves no status document (its status_path is None) for --wait; "
            "set status_path, or give the full URL of one"
        )
    return f"{parts.scheme}://{parts.netloc}{status_path}"


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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 < s <= 86400)")
    return value


# -- the options -----------------------------------------------------------------------------


def output_options() -> argparse.ArgumentParser:
    """The parent parser of ``--json`` and ``--quiet``, which every verb takes."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--json", action="store_true", help="print the resulting state as JSON on stdout"
    )
    output.add_argument(
        "--quiet", "-q", action="store_true", help="print nothing on success (errors still do)"
    )
    return output


def add_verbs(
    verbs: Any,
    *,
    prog: str,
    target: argparse.ArgumentParser | None,
    **parser_options: Any,
) -> dict[str, argparse.ArgumentParser]:
    """Declare ``on``, ``update``, ``schedule``, ``off`` and ``status`` on ``verbs`` (what
    ``add_subparsers()`` returns); returns their parsers by name.

    ``target`` is the standalone command's parent parser that says where the flag is
    (``--file``, ``--redis``...); with it the verbs that write also take ``--export DIR``,
    and a bare ``--wait`` site means :data:`STATUS_PATH`. A framework's command gives
    ``None``: its settings say all that. ``parser_options`` go to every verb's parser.
    """
    output = output_options()
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--wait",
        type=_checked(http_url),
        metavar="URL",
        help="after writing, poll the app's status document at URL (a site address means "
        f"its {STATUS_PATH if target else 'status_path'}) until it serves the new state",
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
    if target is not None:
        waiting.add_argument(
            "--export",
            type=Path,
            metavar="DIR",
            default=os.environ.get("MAINTENANCE_EXPORT_DIR") or None,
            help="after writing, refresh the static export in DIR for the reverse proxy "
            "(default: $MAINTENANCE_EXPORT_DIR; see 'maintenance export')",
        )
    reads = [output] if target is None else [target, output]
    scoped = argparse.ArgumentParser(add_help=False)
    scoped.add_argument(
        "--component",
        action="append",
        metavar="NAME",
        help="change only this component (partial maintenance, e.g. payments; the app's "
        "components option says what belongs to it); repeat it for several with the same text",
    )
    amends = argparse.ArgumentParser(add_help=False)
    sorry = amends.add_mutually_exclusive_group()  # both: refused, as the Flask group does
    sorry.add_argument(
        "--apology",
        nargs="?",
        const=True,
        metavar="TEXT",
        help="apologise on the page: the translated fixed sentence, or your own TEXT",
    )
    sorry.add_argument(
        "--no-apology", dest="apology", action="store_false", help="remove the apology"
    )
    amends.add_argument(
        "--compensation",
        metavar="TEXT",
        help="what visitors get for the trouble, e.g. 'a 10%% voucher: SORRY10' ('' removes it)",
    )
    writes = [*reads, waiting, scoped]

    def verb(name: str, parents: list[argparse.ArgumentParser], **helps: str) -> Any:
        return verbs.add_parser(name, parents=parents, **helps, **parser_options)

    on = verb(
        "on",
        [*writes, amends],
        help="turn maintenance on, or update its details while on (no gap)",
        description="Turn maintenance on (or change the details of a running maintenance).",
    )
    on.add_argument("--reason", help="what is happening and why, shown on the page")
    on.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="with --component: block only the component's writes (its pages keep working)",
    )
    on.add_argument("--message", help="a further sentence for visitors")
    on.add_argument(
        "--lang",
        type=_checked(locale_key),
        metavar="TAG",
        help="the texts given (--reason, --message...) are in this language (fr, pt-BR); "
        "kept beside the default language's, shown to visitors who read it",
    )
    on.add_argument(
        "--eta",
        type=_checked(control.parse_eta),
        metavar="WHEN",
        help="expected end: a duration (2h, 90m), an ISO 8601 time with offset, "
        "or a range of either (2h..4h)",
    )
    on.add_argument("--kind", choices=["planned", "unplanned"], help="planned work or an incident")
    on.add_argument(
        "--expires",
        type=_checked(_expiry),
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
        type=_checked(http_url),
        metavar="BASE",
        help="the site's address, to print --secret's bypass URL in full",
    )

    update = verb(
        "update",
        [*writes, amends],
        help="add a timestamped progress note (and optionally a new ETA) while on",
        description="Add a progress update to the running maintenance, with no gap.",
    )
    update.add_argument("text", help="the update, e.g. 'Database migrated; restarting'")
    update.add_argument(
        "--eta", type=_checked(control.parse_eta), metavar="WHEN", help="a new expected end"
    )
    update.add_argument(
        "--lang",
        type=_checked(locale_key),
        metavar="TAG",
        help="TEXT translates the latest update into this language (fr, pt-BR); adds no new note",
    )

    schedule = verb(
        "schedule",
        [*writes, amends],
        help="plan a maintenance window (announced ahead, starts by itself)",
        description="Add a planned window. The site stays up, with a banner from the "
        "announcement time, until the window starts; it then switches on by itself. It ends "
        f"with '{prog} off' (or at the end with --auto-end).",
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
        type=_checked(control.parse_duration),
        metavar="DURATION",
        help="show the banner this long before the start (default: 48h)",
    )
    schedule.add_argument(
        "--auto-end", action="store_true", help="switch off by itself at the (latest) end"
    )
    schedule.add_argument(
        "--clear", action="store_true", help="remove every window that has not started"
    )
    schedule.add_argument(
        "--lang",
        type=_checked(locale_key),
        metavar="TAG",
        help="the texts given (--reason, --affected...) translate the window already at "
        "--start into this language (fr, pt-BR); --end is then not needed",
    )

    off = verb(
        "off",
        writes,
        help="turn maintenance off (the document records the end; upcoming windows stay)",
        description="Turn maintenance off. The document records the end; windows that have "
        "not started are kept.",
    )
    off.add_argument(
        "--purge", action="store_true", help="delete the document instead, windows and all"
    )

    status = verb(
        "status",
        reads,
        help="show whether maintenance is on (--check: answer with the exit code)",
        description="Show whether maintenance is on, with its details and the windows ahead.",
    )
    status.add_argument(
        "--check",
        action="store_true",
        help="print nothing; exit 0 if maintenance is on (a window in force counts), "
        "1 if off, 2 on an error",
    )
    return {"on": on, "update": update, "schedule": schedule, "off": off, "status": status}


# -- checking and running --------------------------------------------------------------------


def usage_problem(verb: str, options: Mapping[str, Any]) -> str | None:
    """What is wrong with a combination of options that the parser cannot refuse, or None.

    Every shell refuses these, in these words, before anything is read or written.
    """
    given = options.get
    if given("json") and given("quiet"):
        return "--json and --quiet do not go together; --json prints the state, --quiet nothing"
    if given("check") and (given("json") or given("quiet")):
        return "--check prints nothing already; drop --json/--quiet"
    if given("wait") is None:
        for name in ("timeout", "settle"):
            if given(name) is not None:
                return f"--{name} goes with --wait URL"
    if given("secret") is True and given("quiet"):  # the token would never be shown
        return "--quiet would hide the secret made for you; drop --quiet, add --json, or give TOKEN"
    if given("url") is not None and given("secret") is None:
        return "--url gives the address for the bypass URL of --secret; add --secret"
    if given("read_only") and not given("component"):
        return "--read-only goes with --component; for the whole site use the read_only option"
    if verb == "schedule":
        given_times = given("start") is not None or given("end") is not None
        if given("clear") and given_times:
            return "--clear removes the windows ahead; it takes no --start or --end"
        if given("lang") and (given("clear") or given("start") is None):
            return "--lang translates the window at --start: give its --start (no --clear)"
        if not given("clear") and not given("lang") and None in (given("start"), given("end")):
            return "--start and --end are required (or --clear)"
    return None


def make_change(verb: str, flag: control.Target, options: Mapping[str, Any]) -> Change:
    """The control call a verb that writes stands for, with the options a shell parsed.

    With several ``--component``, one call per component (the last change is returned;
    its status shows every component).
    """
    names: list[str | None] = list(options.get("component") or [None])
    change: Change | None = None
    notes: list[str] = []
    for name in names:
        change = _one_change(verb, flag, options, name)
        notes.extend(change.warnings)
    assert change is not None  # at least one name (None: the whole site)
    return replace(change, warnings=tuple(dict.fromkeys(notes)))


def _one_change(
    verb: str, flag: control.Target, options: Mapping[str, Any], component: str | None
) -> Change:
    given = options.get
    if verb == "on":
        return control.on(
            flag,
            reason=given("reason"),
            message=given("message"),
            eta=given("eta"),
            kind=given("kind"),
            expires=given("expires"),
            allow=given("allow") or (),
            secret=given("secret"),
            component=component,
            read_only=given("read_only") or None,
            apology=given("apology"),
            compensation=given("compensation"),
            lang=given("lang"),
        )
    if verb == "update":
        return control.update(
            flag,
            options["text"],
            eta=given("eta"),
            component=component,
            apology=given("apology"),
            compensation=given("compensation"),
            lang=given("lang"),
        )
    if verb == "off":
        return control.off(flag, purge=bool(given("purge")), component=component)
    if verb != "schedule":
        raise ValueError(f"{verb!r} is not a verb that writes; give one of {WRITES}")
    if given("clear"):
        return control.clear_schedule(flag, component=component)
    return control.schedule(
        flag,
        start=options["start"],
        end=given("end"),
        timezone=given("tz") or "UTC",
        kind=given("kind") or "planned",
        reason=given("reason"),
        message=given("message"),
        affected=given("affected") or (),
        unaffected=given("unaffected") or (),
        announce=given("announce"),
        auto_end=bool(given("auto_end")),
        component=component,
        apology=given("apology"),
        compensation=given("compensation"),
        lang=given("lang"),
    )


def bypass_base(options: Mapping[str, Any], bypass_path: str) -> str:
    """Where a bypass secret is opened: under ``--url``, else ``--wait``'s site, else a path."""
    site = options.get("url") or ""
    if not site and options.get("wait"):
        parts = urlsplit(options["wait"])
        site = f"{parts.scheme}://{parts.netloc}"
    return site.rstrip("/") + bypass_path


def change_json(change: Change, bypass: str) -> str:
    """``--json`` after a change; after ``on --secret`` with the URL that opens it."""
    out = change.to_json()
    if change.secret is not None:
        out["bypass_url"] = bypass + change.secret
    return json.dumps(out, indent=2)


def wait_for(url: str, change: Change, options: Mapping[str, Any]) -> None:
    """``--wait``: :func:`control.wait` with the ``--timeout`` and ``--settle`` given."""
    given = {name: options[name] for name in ("timeout", "settle") if options.get(name)}
    control.wait(url, change, **given)
