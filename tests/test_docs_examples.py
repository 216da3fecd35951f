"""Every Python example in the docs and the README runs, and prints what its comments say.

Examples are fragments of a user's app, so each runs with the names such a fragment
assumes, and no more: ``app`` (a Flask app when the example is about Flask, a FastAPI
app for FastAPI, else a bare ASGI app), ``application`` (a bare WSGI app),
``MaintenanceMiddleware`` (the ASGI one), ``MaintenanceMode`` (the framework's), ``os``
and ``secret``. A Django ``settings.py`` fragment runs with ``BASE_DIR``,
``INSTALLED_APPS`` and ``MIDDLEWARE``, and the ``MAINTENANCE_MODE`` it defines is then
validated by the real options model. A block preceded by ``<!-- not run: REASON -->``
is only compiled; the reason is required. The pages' server paths (``/srv/...``) are
moved into a temporary folder, so nothing is written outside it.

The ``maintenance ...`` commands of the shell blocks run too, block by block in a fresh
folder, on a flag file there (their ``--file``/``--redis`` is replaced). Commands that
serve or wait (``demo``, ``preview``, ``--wait``) or sit in a block marked
``<!-- not run: REASON -->`` are only parsed; a synopsis, or a command with a shell
variable's value, is left alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import textwrap
from pathlib import Path
from typing import Any

import pytest

from maintenance_mode.cli import build_parser, main
from maintenance_mode.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
_BLOCK = re.compile(r"(<!-- not run([^>]*)-->\n)?^([ ]*)```python\n(.*?)^\3```", re.S | re.M)
_EXPECTED = re.compile(r"^\s*print\(.*\)\s+#\s(.+)$")


def _blocks(skipped: bool) -> list[pytest.ParameterSet]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            if bool(match[1]) != skipped:
                continue
            where = f"{page.name}:{text[: match.start()].count(chr(10)) + 1}"
            code = textwrap.dedent(match[4])
            found.append(pytest.param(code, (match[2] or "").strip(" :"), id=where))
    return found


def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the examples only build apps")


def _wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _namespace(code: str, tmp_path: Path) -> dict[str, Any]:
    """The names the fragment assumes from the app around it."""
    from maintenance_mode.asgi import MaintenanceMiddleware

    names: dict[str, Any] = {
        "__name__": "docs_example",
        "os": os,
        "secret": "s" * 32,
        "app": _asgi_app,
        "application": _wsgi_app,
        "MaintenanceMiddleware": MaintenanceMiddleware,
        "BASE_DIR": tmp_path,
        "INSTALLED_APPS": ["django.contrib.admin", "django.contrib.auth"],
        "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware"],
        "read_flag_from_db": lambda: False,  # the user's own flag callables named on the pages
        "from_redis": lambda: False,
    }
    if "flask" in code.lower() or "app.config[" in code or ".wsgi_app" in code:
        from flask import Flask

        from maintenance_mode.flask import MaintenanceMode

        names.update(app=Flask("docs_example"), MaintenanceMode=MaintenanceMode)
    elif any(word in code.lower() for word in ("fastapi", "starlette", "add_middleware")):
        from fastapi import FastAPI

        from maintenance_mode.fastapi import MaintenanceMode as FastAPIMode

        names.update(app=FastAPI(), MaintenanceMode=FastAPIMode)
    return names


@pytest.mark.parametrize(("code", "reason"), _blocks(skipped=False))
def test_example_runs(
    code: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "maintenance_templates").mkdir()  # the template_dir the examples name
    monkeypatch.setenv("MAINTENANCE_BYPASS_SECRET", "s" * 32)
    for name in ("MAINTENANCE_FILE", "MAINTENANCE_REDIS", "MAINTENANCE_REDIS_KEY"):
        monkeypatch.delenv(name, raising=False)
    code = code.replace("/srv/", f"{tmp_path}/srv/")
    names = _namespace(code, tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<docs>", "exec"), names)
    if "MAINTENANCE_MODE" in names:  # a Django settings fragment: the real options model
        options = names["MAINTENANCE_MODE"]
        Settings.from_options(options)
        if options.get("bypass_staff") or options.get("bypass_superuser"):
            views = options.get("allow_views", ())
            assert {"admin:*", "admin:login"} & set(views) or options.get("bypass_secret"), (
                "staff need a way to log in while the site is down"
            )
    expected = [m[1] for line in code.splitlines() if (m := _EXPECTED.match(line))]
    printed = out.getvalue().splitlines()
    assert len(printed) == len(expected), printed
    for got, want in zip(printed, expected, strict=True):
        prefix = want.split("...", 1)[0].rstrip()
        assert got == want if "..." not in want else got.startswith(prefix), (got, want)


@pytest.mark.parametrize(("code", "reason"), _blocks(skipped=True))
def test_example_not_run_says_why_and_compiles(code: str, reason: str) -> None:
    assert reason, "write <!-- not run: REASON --> before a block that cannot run"
    compile(code, "<docs>", "exec")


def test_no_example_carries_a_date_that_expires() -> None:
    """Commands and calls in the docs use durations, not dates that will pass."""
    stale = re.compile(r"(--(start|eta|end|expires)[ =]|start=|eta=)[\"']?20\d\d-")
    found = [
        f"{page.name}:{number}"
        for page in PAGES
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if stale.search(line)
    ]
    assert not found, found


_SHELL = re.compile(
    r"(<!-- not run([^>]*)-->\n)?^([ ]*)```(?:sh|bash|shell|console)\n(.*?)^\3```", re.S | re.M
)
#: Options whose value names something outside the example (a server, another flag).
_ELSEWHERE = {"--file", "--redis", "--redis-key"}


def _commands(code: str) -> list[list[str]]:
    """The arguments of every ``maintenance ...`` command in a shell block, in order."""
    found = []
    for line in re.sub(r"\\\n\s*", " ", code).splitlines():
        lexer = shlex.shlex(line.strip().removeprefix("$ "), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set("&|;<>()"):  # the end of one command
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value maintenance
                    words.pop(0)
                if words[:1] == ["maintenance"]:
                    found.append(words[1:])
                words = []
            else:
                words.append(token)
    return found


def _shell_blocks() -> list[pytest.ParameterSet]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in _SHELL.finditer(text):
            if commands := _commands(match[4]):
                where = f"{page.name}:{text[: match.start()].count(chr(10)) + 1}"
                found.append(pytest.param(commands, bool(match[1]), id=where))
    return found


def _without(args: list[str], options: set[str]) -> list[str]:
    kept, skip = [], False
    for word in args:
        if skip:
            skip = False
        elif word in options:
            skip = True
        elif word.split("=", 1)[0] not in options:
            kept.append(word)
    return kept


@pytest.mark.parametrize(("commands", "parse_only"), _shell_blocks())
def test_shell_example_runs(
    commands: list[list[str]],
    parse_only: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("MAINTENANCE_FILE", "MAINTENANCE_REDIS", "MAINTENANCE_REDIS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MAINTENANCE_EXPORT_DIR", raising=False)
    (tmp_path / "shop-options.json").write_text('{"site_name": "Acme Shop"}')
    flag = str(tmp_path / "maintenance.json")
    for args in commands:
        args = [word.replace("/srv/", f"{tmp_path}/srv/") for word in args]
        if any(re.fullmatch(r"\[.*|.*\]|[A-Z][A-Z_]+|.*\$.*", word) for word in args):
            continue  # a synopsis (`[--mode proxy-side]`, `URL`) or a shell variable's value
        serves_or_waits = args[:1] in (["demo"], ["preview"]) or "--wait" in args
        if parse_only or serves_or_waits or "--help" in args:
            with pytest.raises(SystemExit) if "--help" in args else contextlib.nullcontext():
                build_parser().parse_args(args)  # not run here: the arguments parse
            continue
        code = main(["--file", flag, *_without(args, _ELSEWHERE)])
        output = capsys.readouterr()
        wanted = (0, 1) if "--check" in args or args[:1] == ["status"] else (0,)
        assert code in wanted, (args, output.err.strip())


@pytest.mark.parametrize(
    ("accept", "variant"),
    [
        pytest.param("text/html,application/xhtml+xml,*/*;q=0.8", "html", id="a browser"),
        pytest.param("*/*", "json", id="plain curl"),
        pytest.param(None, "json", id="no Accept"),
        pytest.param("text/plain", "text", id="asks for text"),
    ],
)
def test_negotiation_is_as_the_readme_says(accept: str | None, variant: str) -> None:
    """README and options.md: HTML for browsers, JSON for `*/*` or none, text when asked."""
    from maintenance_mode.render import negotiate

    assert negotiate(accept) == variant
