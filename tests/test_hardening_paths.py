"""Hostile request paths never reach a non-lite route while maintenance is on.

Maintenance is ON with ``allow=["/faq", "/static/"]`` (plus the default health
paths). Every row of the tables goes through both adapters, four ways:

* ``asgi-httpx``: ``httpx.ASGITransport`` into a Starlette app under the ASGI
  middleware. httpx would normalise the URL (it resolves ``..`` and refuses
  control characters), so the request-target is handed over raw and parsed the
  way uvicorn's h11 protocol does (``raw_path``/``query_string`` split at the
  first ``?``, ``path`` percent-decoded as UTF-8 with replacement; raw bytes
  that h11 would refuse are decoded the same way, as a lenient server would).
* ``asgi-uvicorn``: the same app under a real uvicorn (h11), raw bytes on a socket.
* ``wsgi-call``: the WSGI middleware called in-process with the environ a PEP 3333
  server builds (``PATH_INFO`` percent-decoded to latin-1 code points).
* ``wsgi-wsgiref``: the same WSGI app under a real ``wsgiref`` server, raw bytes.

Every route of both apps answers ``app:<the path it routed on>``. The checks:
never a 500; a blocked row gets the maintenance page (or a 400 from a real
server's parser, which never reached the app); a body from the app always names
a path that the independent reference below calls lite. Then Hypothesis
generates paths and compares ``rules.app_path`` + ``PathRules.match`` (and the
adapters' verdicts) with that reference.
"""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from maintenance_mode import MaintenanceState, write_state_atomic
from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.core import RequestInfo
from maintenance_mode.rules import PathRules, app_path, wsgi_path
from maintenance_mode.settings import Settings
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

REASON = "Hardening: path table maintenance"
ALLOW = ("/faq", "/static/")
HEALTH = ("/health", "/healthz", "/livez", "/readyz")  # the default health_paths
PEER = ("198.51.100.1", 41000)

Headers = list[tuple[bytes, bytes]]

HYPOTHESIS = settings(max_examples=300, deadline=None, derandomize=True, database=None)


# -- the independent reference ---------------------------------------------------------------
#
# Written from the spec (STANDARDS.md 4.1, docs/options.md "allow"), not from rules.py:
# match on the app-relative decoded path; an exact entry admits itself only (not its
# trailing-slash form); a "/x/" entry admits "/x/" and anything below it (not "/x");
# reject anything ambiguous instead of normalising it.

_ENCODED_AMBIGUOUS = (b"%2f", b"%2e", b"%5c", b"%00")


def reference_app_path(path: str, root: str = "", raw: bytes | None = None) -> str | None:
    """The app-relative path the decision may use, or None if it must not be allowlisted."""
    if root:
        if path == root:
            path = "/"
        elif path[: len(root) + 1] == root + "/":
            path = path[len(root) :]
        else:
            return None  # outside the mount
    if raw is not None and any(marker in raw.lower() for marker in _ENCODED_AMBIGUOUS):
        return None
    if path[:1] != "/":
        return None
    for char in path:
        if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or char in "\\\ufffd":  # C0, DEL, C1
            return None
    segments = path[1:].split("/")
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            return None
        if segment == "" and index < len(segments) - 1:
            return None  # "//" somewhere
    return path


def reference_wsgi_app_path(path_info: str) -> str | None:
    """PATH_INFO carries UTF-8 bytes as latin-1 code points; anything else is not allowlisted."""
    try:
        raw = bytes(ord(char) for char in path_info)
        text = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return reference_app_path(text)


def reference_allowed(path: str | None, entries: Iterable[str] = (*ALLOW, *HEALTH)) -> bool:
    if path is None:
        return False
    for entry in entries:
        if entry == "/":
            if path == "/":
                return True
        elif entry.endswith("/"):
            if path.startswith(entry):
                return True
        elif path == entry:
            return True
    return False


def test_the_reference_itself() -> None:
    """The reference agrees with the documented examples (so it is worth comparing against)."""
    admitted = ["/faq", "/static/", "/static/app.css", "/health", "/healthz"]
    refused = ["/faqs", "/faq/x", "/FAQ", "/staticfoo", "/static/../x", "//faq", "/static//x"]
    refused += ["/faq/", "/static", "/healthz/", "/readyz/", "/health/x"]  # no implicit variants
    assert all(reference_allowed(reference_app_path(p)) for p in admitted)
    assert not any(reference_allowed(reference_app_path(p)) for p in refused)
    assert reference_app_path("/app/faq", "/app") == "/faq"
    assert reference_app_path("/application/faq", "/app") is None
    assert reference_app_path("/static/x", "", b"/static%2Fx") is None
    assert reference_wsgi_app_path("/caf\u00c3\u00a9") == "/caf\u00e9"
    assert reference_wsgi_app_path("/caf\u00e9") is None


# -- the two apps -----------------------------------------------------------------------------


async def echo(request: Request) -> PlainTextResponse:
    # scope["path"], never request.url: the URL is rebuilt from the Host header.
    return PlainTextResponse("app:" + request.scope["path"])


def make_asgi_app(flag: Path, **options: Any) -> Starlette:
    app = Starlette(routes=[Route("/{rest:path}", echo)])
    app.add_middleware(ASGIMaintenance, flag=flag, allow=list(ALLOW), **options)
    return app


def wsgi_echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = ("app:" + environ["PATH_INFO"]).encode("latin-1")
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def make_wsgi_app(flag: Path, **options: Any) -> WSGIMaintenance:
    return WSGIMaintenance(wsgi_echo, flag=flag, allow=list(ALLOW), **options)


@pytest.fixture(scope="module")
def flag_on(tmp_path_factory: pytest.TempPathFactory) -> Path:
    flag = tmp_path_factory.mktemp("paths") / "maintenance.json"
    write_state_atomic(flag, MaintenanceState(reason=REASON))
    return flag


@pytest.fixture(scope="module")
def asgi_app(flag_on: Path) -> Starlette:
    return make_asgi_app(flag_on)


@pytest.fixture(scope="module")
def wsgi_app(flag_on: Path) -> WSGIMaintenance:
    return make_wsgi_app(flag_on)


# -- four ways to send a raw request-target -----------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes


class RawTargetTransport(httpx.ASGITransport):
    """``httpx.ASGITransport`` that sends ``extensions["target"]`` as uvicorn (h11) parses it."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target: bytes = request.extensions["target"]
        raw_path, _, query = target.partition(b"?")
        # The ASGI spec: percent-escapes and UTF-8 decoded. For ASCII this is exactly what
        # uvicorn does; raw non-ASCII bytes (which h11 refuses) are decoded as a lenient
        # server would, invalid UTF-8 becoming U+FFFD.
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
        app = self.app

        async def as_uvicorn(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope = {**scope, "path": path, "raw_path": raw_path, "query_string": query}
            await app(scope, receive, send)

        self.app = as_uvicorn
        try:
            return await super().handle_async_request(request)
        finally:
            self.app = app


def send_asgi_httpx(app: Any, target: bytes, headers: Headers, root: str = "") -> Reply:
    async def go() -> Reply:
        transport = RawTargetTransport(app=app, root_path=root, client=PEER)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.request("GET", "/", headers=headers, extensions={"target": target})
        return Reply(r.status_code, r.content)

    return asyncio.run(go())


def wsgi_environ(
    target: bytes, headers: Headers, script_name: str = "", path_info: str | None = None
) -> dict[str, Any]:
    """The environ a PEP 3333 server (wsgiref) builds for this request-target."""
    path, _, query = target.decode("latin-1").partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": script_name,
        "PATH_INFO": unquote(path, "latin-1") if path_info is None else path_info,
        "QUERY_STRING": query,
        "REMOTE_ADDR": PEER[0],
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    seen: set[str] = set()
    for name, value in headers:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in seen else text  # servers join repeats
        seen.add(key)
    return environ


def call_wsgi(app: Any, environ: dict[str, Any]) -> Reply:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = status
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Reply(int(seen["status"].split()[0]), body)


def send_raw(port: int, target: bytes, headers: Headers) -> Reply:
    lines = [b"GET " + target + b" HTTP/1.1"]
    if not any(name.lower() == b"host" for name, _ in headers):
        lines.append(b"Host: testserver")
    lines += [name + b": " + value for name, value in headers]
    lines.append(b"Connection: close")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, separator, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert separator, f"no complete response to {target!r}"
    return Reply(int(head.split(b" ", 2)[1]), body)


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def uvicorn_port(asgi_app: Starlette) -> Iterator[int]:
    """A real uvicorn (h11) on 127.0.0.1 in a thread; any logged error fails the module."""
    errors = _ErrorLog()
    logging.getLogger("uvicorn.error").addHandler(errors)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(asgi_app, http="h11", lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    logging.getLogger("uvicorn.error").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def wsgiref_port(wsgi_app: WSGIMaintenance) -> Iterator[int]:
    server = make_server(
        "127.0.0.1", 0, wsgi_app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@dataclass
class Adapter:
    name: str
    family: str  # "asgi" or "wsgi"
    real_server: bool
    send: Callable[[bytes, Headers], Reply]


ADAPTERS = ["asgi-httpx", "asgi-uvicorn", "wsgi-call", "wsgi-wsgiref"]


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, asgi_app: Starlette, wsgi_app: Any) -> Adapter:
    name = request.param
    if name == "asgi-httpx":
        return Adapter(name, "asgi", False, lambda t, h: send_asgi_httpx(asgi_app, t, h))
    if name == "asgi-uvicorn":
        port = request.getfixturevalue("uvicorn_port")
        return Adapter(name, "asgi", True, lambda t, h: send_raw(port, t, h))
    if name == "wsgi-call":
        return Adapter(name, "wsgi", False, lambda t, h: call_wsgi(wsgi_app, wsgi_environ(t, h)))
    port = request.getfixturevalue("wsgiref_port")
    return Adapter(name, "wsgi", True, lambda t, h: send_raw(port, t, h))


def served_path(body: bytes, family: str) -> str | None:
    """The app-relative path the app routed on, decoded as the reference expects."""
    rest = body[len(b"app:") :]
    if family == "wsgi":  # the app echoed PATH_INFO, UTF-8 bytes carried as latin-1
        return reference_wsgi_app_path(rest.decode("latin-1"))
    return reference_app_path(rest.decode("utf-8"))


def check(reply: Reply, expect: str, adapter: Adapter, target: bytes) -> None:
    where = f"{adapter.name} {target!r}"
    assert reply.status != 500, f"{where}: 500"
    if reply.body.startswith(b"app:"):
        # Whatever happened, the app only ever ran for a lite path.
        assert reference_allowed(served_path(reply.body, adapter.family)), (where, reply.body)
    if expect == "lite":
        assert reply.status == 200, (where, reply.status, reply.body[:200])
        assert reply.body.startswith(b"app:"), where
    else:
        allowed = (503, 400) if adapter.real_server else (503,)
        assert reply.status in allowed, (where, reply.status, reply.body[:200])
        if reply.status == 503:
            assert REASON.encode() in reply.body, where
        assert not reply.body.startswith(b"app:"), where


def row(
    target: str | bytes,
    expect: str,
    reason: str,
    *,
    wsgi: str | None = None,
    wsgiref: str | None = None,
    headers: Headers | None = None,
) -> Any:
    """One case: ``expect`` for every adapter, unless ``wsgi`` (both WSGI ways) or
    ``wsgiref`` (the real wsgiref server only) says otherwise."""
    raw = target.encode("ascii") if isinstance(target, str) else target
    expects = dict.fromkeys(ADAPTERS, expect)
    if wsgi is not None:
        expects.update({"wsgi-call": wsgi, "wsgi-wsgiref": wsgi})
    if wsgiref is not None:
        expects["wsgi-wsgiref"] = wsgiref
    return pytest.param(raw, expects, headers or [], id=reason)


LITE, BLOCKED = "lite", "blocked"

PATH_ROWS = [
    # controls: the allowlist works at all
    row("/faq", LITE, "control: exact lite path"),
    row("/static/app.css", LITE, "control: under the lite prefix"),
    row("/checkout", BLOCKED, "control: an ordinary page"),
    row("/healthz", LITE, "control: a default health path"),
    # encoded dots and slashes
    row("/static/%2e%2e/checkout", BLOCKED, "encoded dot-dot segment"),
    row("/static/%2E%2E/checkout", BLOCKED, "upper-case encoded dot-dot"),
    row("/static/.%2e/checkout", BLOCKED, "half-encoded dot-dot"),
    row("/static/%2e/checkout", BLOCKED, "encoded single-dot segment"),
    row("/static%2f..%2fcheckout", BLOCKED, "encoded slashes around dot-dot"),
    row("/static%2F%2E%2E%2Fcheckout", BLOCKED, "everything encoded"),
    row(
        "/static%2Fcheckout",
        BLOCKED,
        "encoded slash: ASGI refuses it; WSGI cannot see it and routes /static/checkout",
        wsgi=LITE,
    ),
    row("/faq%2F", BLOCKED, "encoded trailing slash: ASGI refuses it; WSGI sees /faq/"),
    row("/faq%2f", BLOCKED, "lower-case encoded trailing slash"),
    row("/healthz%2F", BLOCKED, "encoded trailing slash on a health path"),
    row("/faq%2fadmin", BLOCKED, "encoded slash after an exact lite path"),
    row("/static/a%5c..%5c..%5ccheckout", BLOCKED, "encoded backslashes with dot-dot"),
    row("/static/..%5ccheckout", BLOCKED, "dot-dot then encoded backslash"),
    row("/static/%5C", BLOCKED, "upper-case encoded backslash"),
    row("/static/a\\..\\checkout", BLOCKED, "raw backslashes"),
    row("/fa%71", LITE, "encoded letter: the router also decodes it to /faq"),
    row("/%73tatic/app.css", LITE, "encoded letter in the prefix decodes to /static/"),
    row(
        "/static/%252e%252e/checkout",
        LITE,
        "double-encoded dots decode once to a literal '%2e%2e' name inside /static/",
    ),
    # dot segments
    row("/static/../checkout", BLOCKED, "dot-dot out of the prefix"),
    row("/static/./app.css", BLOCKED, "dot segment, even inside the prefix"),
    row("/static/x/../../checkout", BLOCKED, "two levels up"),
    row("/faq/..", BLOCKED, "trailing dot-dot"),
    row("/faq/.", BLOCKED, "trailing dot"),
    row("/./faq", BLOCKED, "leading dot segment"),
    row("/../faq", BLOCKED, "leading dot-dot"),
    row("/static/...", LITE, "three dots is an ordinary name"),
    row("/static/..;/checkout", LITE, "'..;' is a name, not a dot segment (no Tomcat-style strip)"),
    # doubled slashes
    # http.server (under wsgiref) itself collapses leading slashes, so the app routes /faq.
    row("//faq", BLOCKED, "leading double slash", wsgiref=LITE),
    row("///faq", BLOCKED, "triple slash", wsgiref=LITE),
    row("/static//checkout", BLOCKED, "double slash inside the prefix"),
    row("/faq//", BLOCKED, "double trailing slash"),
    row("//static/app.css", BLOCKED, "double slash before the prefix", wsgiref=LITE),
    # trailing slashes and boundaries
    # An entry means exactly what it says: a strict-slash router may send these elsewhere.
    row("/faq/", BLOCKED, "exact path with a trailing slash"),
    row("/static", BLOCKED, "prefix without its slash"),
    row("/healthz/", BLOCKED, "default health path with a trailing slash"),
    row("/readyz/", BLOCKED, "another default health path with a trailing slash"),
    row("/health/x", BLOCKED, "below a default health path"),
    row("/static/", LITE, "prefix itself"),
    row("/faq/x", BLOCKED, "exact entry admits no children"),
    row("/faqs", BLOCKED, "exact entry is not a string prefix"),
    row("/faq-admin", BLOCKED, "exact entry followed by a dash"),
    row("/staticfoo", BLOCKED, "prefix needs a segment boundary"),
    row("/static-admin/x", BLOCKED, "prefix followed by a dash"),
    row("/checkout/", BLOCKED, "non-lite page with a trailing slash"),
    # case and Unicode look-alikes
    row("/FAQ", BLOCKED, "upper case"),
    row("/Faq", BLOCKED, "title case"),
    row("/STATIC/app.css", BLOCKED, "upper-case prefix"),
    row("/%EF%BD%86%EF%BD%81%EF%BD%91", BLOCKED, "fullwidth faq"),
    row("/%EF%BD%93tatic/app.css", BLOCKED, "fullwidth s in the prefix"),
    row("/faq%CC%81", BLOCKED, "combining acute accent after faq"),
    row("/f%CC%B8aq", BLOCKED, "combining overlay inside faq"),
    row("/%C5%BFtatic/app.css", BLOCKED, "long s (NFKC folds it to s)"),
    row("/%D1%81tatic/app.css", BLOCKED, "Cyrillic es"),
    row("/faq%E2%80%8B", BLOCKED, "zero-width space"),
    row("/fa%E2%80%AEq", BLOCKED, "right-to-left override"),
    row("/static/caf%C3%A9.css", LITE, "real UTF-8 name under the prefix"),
    # ; parameters are literal
    row("/faq;jsessionid=1", BLOCKED, "path parameter on an exact path"),
    row("/faq;/", BLOCKED, "semicolon then slash"),
    row("/checkout;/faq", BLOCKED, "lite path after a semicolon"),
    row("/static;/app.css", BLOCKED, "semicolon on the prefix segment"),
    row("/static/app.css;v=1", LITE, "semicolon inside a child of the prefix"),
    # NUL and control characters
    row("/faq%00", BLOCKED, "encoded NUL"),
    row("/static/app.css%00.py", BLOCKED, "encoded NUL inside the prefix"),
    row("/static/%00/../checkout", BLOCKED, "NUL then dot-dot"),
    row("/faq%0d%0aX-Injected:%201", BLOCKED, "encoded CR LF"),
    row("/static/%0a", BLOCKED, "encoded LF under the prefix"),
    row("/faq%09", BLOCKED, "encoded tab"),
    row("/static/%7f", BLOCKED, "encoded DEL"),
    row("/static/%1b%5b31m", BLOCKED, "encoded terminal escape"),
    row(b"/static/\x00", BLOCKED, "raw NUL byte"),
    row(b"/static/\x01x", BLOCKED, "raw control byte"),
    row(b"/static/\x7f", BLOCKED, "raw DEL byte"),
    row(b"/faq\x1b", BLOCKED, "raw escape byte"),
    # invalid UTF-8
    row("/faq%FF", BLOCKED, "invalid UTF-8 byte"),
    row("/static/%FF", BLOCKED, "invalid UTF-8 under the prefix"),
    row("/static/%C3", BLOCKED, "truncated UTF-8 sequence"),
    row("/static/%C0%AE%C0%AE/checkout", BLOCKED, "overlong UTF-8 dots"),
    row("/static/%ED%A0%80", BLOCKED, "UTF-8 encoded surrogate"),
    row("/static/%F4%90%80%80", BLOCKED, "beyond U+10FFFF"),
    row(b"/static/\xff", BLOCKED, "raw invalid byte"),
    # the query string is never consulted
    row("/checkout?/faq", BLOCKED, "lite path as the whole query"),
    row("/checkout?next=/faq", BLOCKED, "lite path in a query value"),
    row("/checkout?%2Ffaq", BLOCKED, "encoded lite path in the query"),
    row("/checkout?path=/static/app.css", BLOCKED, "lite prefix in the query"),
    row("/faq?next=/checkout", LITE, "lite path with a query naming a page"),
    row("/checkout%3F/faq", BLOCKED, "encoded '?' stays in the path"),
    row("/faq%3F/checkout", BLOCKED, "encoded '?' after a lite path"),
    row("/faq%23/checkout", BLOCKED, "encoded '#' after a lite path"),
    row("/checkout#/faq", BLOCKED, "raw fragment sent to the server"),
    # Host-header and request-target tricks
    row("/checkout", BLOCKED, "Host with a path and '?'", headers=[(b"Host", b"x/faq?")]),
    row("/checkout", BLOCKED, "Host with a path and '#'", headers=[(b"Host", b"testserver/faq#")]),
    row("/checkout", BLOCKED, "Host that is a path", headers=[(b"Host", b"/faq")]),
    row("/checkout", BLOCKED, "Host with a port and path", headers=[(b"Host", b"t:80/static/")]),
    row("http://testserver/faq", BLOCKED, "absolute-form target naming a lite path"),
    row("http://faq/checkout", BLOCKED, "absolute-form with a lite-looking host"),
    row("testserver/faq", BLOCKED, "target without a leading slash"),
    row("*", BLOCKED, "asterisk-form target"),
    *(
        row("/checkout", BLOCKED, f"{name.decode()} header is ignored", headers=[(name, b"/faq")])
        for name in (
            b"X-Original-URL",
            b"X-Rewrite-URL",
            b"X-Forwarded-Prefix",
            b"X-Forwarded-Uri",
            b"X-Envoy-Original-Path",
            b"Script-Name",
            b"Path-Info",
            b"Referer",
        )
    ),
]


@pytest.mark.parametrize(("target", "expects", "headers"), PATH_ROWS)
def test_hostile_paths(
    adapter: Adapter, target: bytes, expects: dict[str, str], headers: Headers
) -> None:
    reply = adapter.send(target, headers)
    check(reply, expects[adapter.name], adapter, target)


# -- mount prefixes: ASGI root_path, WSGI SCRIPT_NAME -------------------------------------------

ROOT_ROWS = [
    pytest.param("/app", "/app/faq", LITE, id="lite path under the mount"),
    pytest.param("/app", "/app/static/app.css", LITE, id="lite prefix under the mount"),
    pytest.param("/app", "/app/checkout", BLOCKED, id="page under the mount"),
    pytest.param("/app", "/faq", BLOCKED, id="path outside the mount"),
    pytest.param("/app", "/application/faq", BLOCKED, id="mount must end on a segment"),
    pytest.param("/app", "/app", BLOCKED, id="the mount itself is the home page"),
    pytest.param("/app", "/app//faq", BLOCKED, id="double slash after the mount"),
    pytest.param("/app", "/app/../faq", BLOCKED, id="dot-dot out of the mount"),
    pytest.param("/app", "/app%2Ffaq", BLOCKED, id="encoded slash after the mount"),
    pytest.param("/app", "/APP/faq", BLOCKED, id="mount is case-sensitive"),
    pytest.param("/faq", "/faq/checkout", BLOCKED, id="mount named like a lite path"),
    pytest.param("/static", "/static/checkout", BLOCKED, id="mount named like the prefix"),
]


@pytest.mark.parametrize(("root", "target", "expect"), ROOT_ROWS)
def test_asgi_root_path(
    flag_on: Path, asgi_app: Starlette, root: str, target: str, expect: str
) -> None:
    reply = send_asgi_httpx(asgi_app, target.encode(), [], root=root)
    assert reply.status != 500
    if expect == LITE:
        assert reply.status == 200
        assert reply.body == b"app:" + target.encode()  # routed below the mount
    else:
        assert reply.status == 503, reply.body[:200]
        assert REASON.encode() in reply.body


SCRIPT_ROWS = [
    pytest.param("/app", "/faq", {}, LITE, id="lite PATH_INFO under a SCRIPT_NAME"),
    pytest.param("/app", "/checkout", {}, BLOCKED, id="page under a SCRIPT_NAME"),
    pytest.param("/faq", "/checkout", {}, BLOCKED, id="SCRIPT_NAME named like a lite path"),
    pytest.param("/static", "/checkout", {}, BLOCKED, id="SCRIPT_NAME named like the prefix"),
    pytest.param("", "/app/faq", {}, BLOCKED, id="mount not stripped by the server"),
    pytest.param("/app", "", {}, BLOCKED, id="empty PATH_INFO is the home page"),
    pytest.param("/app", "/../faq", {}, BLOCKED, id="dot-dot in PATH_INFO"),
    pytest.param(
        "/app", "/checkout", {"HTTP_SCRIPT_NAME": "/faq"}, BLOCKED, id="SCRIPT_NAME as a header"
    ),
    pytest.param(
        "/app", "/checkout", {"HTTP_PATH_INFO": "/faq"}, BLOCKED, id="PATH_INFO as a header"
    ),
    pytest.param("/app", "/checkout", {"RAW_URI": "/app/faq"}, BLOCKED, id="RAW_URI never admits"),
    pytest.param(
        "/app", "/checkout", {"REQUEST_URI": "/app/faq"}, BLOCKED, id="REQUEST_URI never admits"
    ),
]


@pytest.mark.parametrize(("script_name", "path_info", "extra", "expect"), SCRIPT_ROWS)
def test_wsgi_script_name(
    wsgi_app: WSGIMaintenance, script_name: str, path_info: str, extra: dict[str, str], expect: str
) -> None:
    environ = wsgi_environ(b"/", [], script_name=script_name, path_info=path_info)
    environ.update(extra)
    reply = call_wsgi(wsgi_app, environ)
    assert reply.status != 500
    if expect == LITE:
        assert (reply.status, reply.body) == (200, b"app:" + path_info.encode())
    else:
        assert reply.status == 503
        assert REASON.encode() in reply.body


# -- properties: the library against the reference -----------------------------------------------

TOKENS = st.sampled_from(
    [
        "faq", "static", "FAQ", "health", "healthz", "app.css", "x", "", ".", "..", "...",
        "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", "%5c", "%5C", "%00", "%0a", "%7f", "%FF",
        "%C3%A9", "%C3", "%EF%BD%86aq", "%3F", "%23", "%25", "%252e", "fa%71", "%66aq", ";",
        ";x=1", "%3B", "..;", "%20", "%", "%2", "\\",
    ]
)  # fmt: skip
ENCODED_BYTES = st.binary(max_size=3).map(lambda b: quote(b, safe=""))
PLAIN = st.text(alphabet="abfqst.;~-_%", max_size=4)
SEGMENT = st.lists(st.one_of(TOKENS, ENCODED_BYTES, PLAIN), max_size=3).map("".join)
#: Request-targets as sent on the wire (ASCII, with percent-encodings).
RAW_TARGETS = st.lists(SEGMENT, max_size=5).map(lambda segments: "/" + "/".join(segments))
ROOTS = st.sampled_from(["", "/app", "/faq", "/static"])
RULES = PathRules.compile((*ALLOW, *HEALTH))
SETTINGS = Settings()


@HYPOTHESIS
@given(target=RAW_TARGETS, root=ROOTS, mounted=st.booleans())
def test_asgi_paths_agree_with_reference(target: str, root: str, mounted: bool) -> None:
    raw = ((root if mounted else "") + target).encode("ascii")
    path = unquote(raw.decode("ascii"))  # what uvicorn puts in scope["path"]
    expected = reference_app_path(path, root, raw)
    assert app_path(path, root, raw) == expected
    assert RULES.match(app_path(path, root, raw)) is reference_allowed(expected)
    # What the engine reads: the check deferred until a rule names the path, same answer.
    scope = {"type": "http", "path": path, "raw_path": raw, "root_path": root, "headers": []}
    info = RequestInfo.from_asgi(scope, SETTINGS)
    assert info.checked_path() == expected
    assert info.checked_path() == expected  # the deferred check runs once, and sticks


@HYPOTHESIS
@given(target=RAW_TARGETS)
def test_wsgi_paths_agree_with_reference(target: str) -> None:
    path_info = unquote(target, "latin-1")  # what a PEP 3333 server puts in PATH_INFO
    expected = reference_wsgi_app_path(path_info)
    assert wsgi_path(path_info) == expected
    assert RULES.match(wsgi_path(path_info)) is reference_allowed(expected)
    info = RequestInfo.from_wsgi({"PATH_INFO": path_info}, SETTINGS)
    assert info.checked_path() == expected


@HYPOTHESIS
@given(text=st.text(max_size=40), root=ROOTS)
def test_any_decoded_path_agrees_with_reference(text: str, root: str) -> None:
    path = root + "/" + text
    expected = reference_app_path(path, root)
    assert app_path(path, root) == expected
    assert RULES.match(app_path(path, root)) is reference_allowed(expected)


@HYPOTHESIS
@given(text=st.text(max_size=40))
def test_any_path_info_agrees_with_reference(text: str) -> None:
    path_info = "/" + text.encode("utf-8", "surrogatepass").decode("latin-1")
    assert wsgi_path(path_info) == reference_wsgi_app_path(path_info)


@pytest.fixture(scope="module")
def verdict_apps(flag_on: Path) -> tuple[Starlette, WSGIMaintenance]:
    return make_asgi_app(flag_on), make_wsgi_app(flag_on)


def test_adapters_agree_with_reference(verdict_apps: tuple[Starlette, WSGIMaintenance]) -> None:
    """End to end: each adapter serves the app exactly when the reference says lite."""
    asgi, wsgi = verdict_apps

    @settings(HYPOTHESIS, max_examples=150)
    @given(target=RAW_TARGETS)
    def check_target(target: str) -> None:
        raw = target.encode("ascii")
        lite = reference_allowed(reference_app_path(unquote(target), "", raw))
        reply = send_asgi_httpx(asgi, raw, [])
        assert reply.status == (200 if lite else 503), (target, reply.status)
        wsgi_lite = reference_allowed(reference_wsgi_app_path(unquote(target, "latin-1")))
        reply = call_wsgi(wsgi, wsgi_environ(raw, []))
        assert reply.status == (200 if wsgi_lite else 503), (target, reply.status)

    check_target()
