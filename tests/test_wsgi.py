"""The WSGI adapter, through the real protocol.

Server-backed cases talk HTTP to a threaded ``wsgiref`` server on 127.0.0.1
port 0. Every case that uses the ``mode`` fixture runs twice: "plain", and
"validated" with both the middleware and the inner app wrapped in
``wsgiref.validate.validator`` (the outside judge of PEP 3333; its warnings are
errors here). Cases that check object identity run without the validator,
because it wraps the iterable.
"""

from __future__ import annotations

import gc
import http.client
import io
import json
import logging
import re
import socket
import socketserver
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import FileWrapper, setup_testing_defaults
from wsgiref.validate import validator

import pytest

from conftest import BROWSER_ACCEPT
from maintenance_mode.rules import sign_cookie
from maintenance_mode.state import MaintenanceState, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CHECK_INTERVAL = 0.05
SECRET = "wsgi-test-secret-0123456789"
REASON = "Upgrading the <database> & search"
REASON_HTML = "Upgrading the &lt;database&gt; &amp; search"
APP_CACHE_CONTROL = "public, max-age=600"
DEFAULT_DETAIL = "The service is down for maintenance."


# -- the inner apps ------------------------------------------------------------------------


def inner_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Says which request it served (and echoes the request body), cacheable on purpose."""
    method = environ["REQUEST_METHOD"]
    body = f"app {method} {environ['PATH_INFO']}".encode("latin-1")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        body += b" " + environ["wsgi.input"].read(length)
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", APP_CACHE_CONTROL),
        ],
    )
    return [] if method == "HEAD" else [body]


class Boom(Exception):
    """An application error (a subclass, so it can be weakly referenced)."""


def erroring_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Starts a 200, fails before any byte is sent, and replaces it with its own 500."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", APP_CACHE_CONTROL)])
    try:
        raise Boom("template failed")
    except Boom:
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", APP_CACHE_CONTROL)],
            sys.exc_info(),
        )
    return [b"app error page"]


def writing_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Uses the legacy ``write`` callable returned by start_response, then iterates."""
    write = start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    write(b"written, ")
    return [b"then iterated"]


def must_not_run(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    raise AssertionError("the inner app was called for a request the middleware must answer")


# -- a real server -------------------------------------------------------------------------


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = False
    block_on_close = True  # server_close() joins every request thread


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes


@dataclass
class RawReply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Site:
    mw: MaintenanceMiddleware
    port: int

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        # http.client sends a bytes body in the same write as the headers, so the
        # server has read it off the socket even when the app never does (no RST).
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def raw(self, request: bytes) -> RawReply:
        """Send bytes, read every byte until the server closes: nothing is hidden."""
        chunks = []
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, separator, body = b"".join(chunks).partition(b"\r\n\r\n")
        assert separator, "no end of headers"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = [(name, value.strip()) for name, _, value in (x.partition(":") for x in lines)]
        return RawReply(int(status_line.split()[1]), headers, body)


@pytest.fixture(params=["plain", "validated"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def flag(tmp_path: Path) -> Path:
    return tmp_path / "maintenance.json"


@pytest.fixture
def wrap(mode: str, flag: Path) -> Callable[..., tuple[MaintenanceMiddleware, WSGIApp]]:
    """Build (middleware, outermost app), under the validator in "validated" mode."""

    def build(inner: WSGIApp = inner_app, **options: Any) -> tuple[MaintenanceMiddleware, WSGIApp]:
        options.setdefault("flag", flag)
        options.setdefault("check_interval", CHECK_INTERVAL)
        if mode == "validated":
            mw = MaintenanceMiddleware(validator(inner), **options)
            return mw, validator(mw)
        mw = MaintenanceMiddleware(inner, **options)
        return mw, mw

    return build


@pytest.fixture
def serve(
    wrap: Callable[..., tuple[MaintenanceMiddleware, WSGIApp]],
) -> Iterator[Callable[..., Site]]:
    """Start the wrapped app on a real threaded server; all are shut down after the test."""
    running: list[tuple[WSGIServer, threading.Thread]] = []

    def start(inner: WSGIApp = inner_app, **options: Any) -> Site:
        mw, app = wrap(inner, **options)
        server = make_server(
            "127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()
        running.append((server, thread))
        return Site(mw, server.server_port)

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def turn_on(flag: Path, **details: Any) -> None:
    details.setdefault("reason", REASON)
    write_state_atomic(flag, MaintenanceState(**details))


# -- in-process calls ----------------------------------------------------------------------


@dataclass
class Result:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None


def environ_for(
    path: str = "/", method: str = "GET", extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "REMOTE_ADDR": "192.0.2.10",
        **(extra or {}),
    }
    setup_testing_defaults(environ)
    return environ


def call(app: WSGIApp, environ: dict[str, Any]) -> Result:
    """Drive one request the way a server does: start_response, iterate, close."""
    seen: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return written.append

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Result(seen["status"], list(seen["headers"]), b"".join(written) + body)


def set_cookie_parts(header: str) -> tuple[str, str, dict[str, str]]:
    """Split a Set-Cookie value into name, value and {lower-case attribute: value}."""
    first, *attributes = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    attrs = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        attrs[key.lower()] = val
    return name, value, attrs


# -- off, and the 503 itself ---------------------------------------------------------------


def test_off_the_inner_app_answers_untouched(serve: Callable[..., Site]) -> None:
    site = serve()
    reply = site.request("GET", "/checkout?step=2")
    assert reply.status == 200
    assert reply.body == b"app GET /checkout"
    assert reply.headers.get_all("Cache-Control") == [APP_CACHE_CONTROL]
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert reply.headers["Retry-After"] is None
    assert reply.headers["Vary"] is None

    posted = site.request(
        "POST", "/checkout", {"Content-Type": "application/x-www-form-urlencoded"}, b"qty=2"
    )
    assert (posted.status, posted.body) == (200, b"app POST /checkout qty=2")


def test_on_answers_503_html_with_the_maintenance_headers(
    serve: Callable[..., Site], flag: Path
) -> None:
    turn_on(flag)
    site = serve()
    reply = site.request("GET", "/checkout", {"Accept": BROWSER_ACCEPT})
    assert reply.status == 503
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers.get_all("Retry-After") == ["300"]
    assert reply.headers.get_all("Cache-Control") == ["no-store"]
    assert reply.headers.get_all("Vary") == ["Accept, Accept-Language"]
    assert reply.headers["Content-Length"] == str(len(reply.body))
    page = reply.body.decode("utf-8")
    assert REASON_HTML in page  # operator text is autoescaped
    assert REASON not in page
    assert not reply.body.startswith(b"app ")


@pytest.mark.parametrize(
    ("eta", "low", "high"),
    [
        pytest.param(None, 300, 300, id="no ETA: the default"),
        pytest.param(timedelta(hours=2), 7190, 7200, id="ETA in two hours"),
        pytest.param(timedelta(hours=-1), 60, 60, id="ETA already passed: the floor"),
        pytest.param(timedelta(days=30), 86400, 86400, id="far ETA: capped at a day"),
    ],
)
def test_retry_after_is_whole_seconds_from_the_eta(
    serve: Callable[..., Site], flag: Path, eta: timedelta | None, low: int, high: int
) -> None:
    turn_on(flag, eta=None if eta is None else datetime.now(UTC) + eta)
    reply = serve().request("GET", "/")
    assert reply.status == 503
    value = reply.headers["Retry-After"]
    assert re.fullmatch(r"[0-9]+", value), value
    assert low <= int(value) <= high


@pytest.mark.parametrize(
    ("accept", "variant"),
    [
        pytest.param(None, "json", id="no Accept"),
        pytest.param("text/html,application/xhtml+xml,*/*;q=0.8", "html", id="a browser"),
        pytest.param(BROWSER_ACCEPT, "html", id="chromium navigation"),
        pytest.param("*/*", "json", id="anything (curl)"),
        pytest.param("application/json", "json", id="json"),
        pytest.param("application/problem+json", "json", id="problem+json"),
        pytest.param("text/plain", "text", id="plain text"),
        pytest.param("text/plain;q=0.5, application/json", "json", id="json preferred by q"),
        pytest.param("image/png", "html", id="nothing offered matches: html"),
    ],
)
def test_on_negotiates_the_503_body(
    serve: Callable[..., Site], flag: Path, accept: str | None, variant: str
) -> None:
    turn_on(flag)
    reply = serve().request("GET", "/", {"Accept": accept} if accept else {})
    assert reply.status == 503
    assert reply.headers["Vary"] == "Accept, Accept-Language"
    assert reply.headers["Cache-Control"] == "no-store"
    content_type = reply.headers["Content-Type"]
    if variant == "json":
        assert content_type == "application/problem+json"
        problem = json.loads(reply.body)
        assert problem["status"] == 503
        assert problem["reason"] == REASON
        assert problem["detail"] == REASON
        assert problem["retry_after"] == int(reply.headers["Retry-After"])
    elif variant == "text":
        assert content_type == "text/plain; charset=utf-8"
        assert REASON in reply.body.decode("utf-8")  # plain text is not HTML-escaped
        assert b"<html" not in reply.body.lower()
    else:
        assert content_type == "text/html; charset=utf-8"
        assert REASON_HTML in reply.body.decode("utf-8")


@pytest.mark.parametrize(
    "accept",
    [
        pytest.param("text/html", id="html"),
        pytest.param("application/json", id="json"),
        pytest.param("text/plain", id="text"),
    ],
)
def test_head_gets_the_get_headers_and_not_one_body_byte(
    serve: Callable[..., Site], flag: Path, accept: str
) -> None:
    turn_on(flag)
    site = serve()
    request = "{} /checkout HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {}\r\nConnection: close\r\n\r\n"
    get = site.raw(request.format("GET", accept).encode("ascii"))
    head = site.raw(request.format("HEAD", accept).encode("ascii"))
    assert (get.status, head.status) == (503, 503)
    assert len(get.body) > 0
    assert head.body == b""
    assert dict(head.headers)["Content-Length"] == str(len(get.body))

    def comparable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return sorted((k.lower(), v) for k, v in headers if k.lower() != "date")

    assert comparable(head.headers) == comparable(get.headers)


# -- what still passes while on ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "passes"),
    [
        pytest.param("/faq", True, id="exact path"),
        pytest.param("/faq/", False, id="an exact path admits no trailing slash"),
        pytest.param("/faq?lang=de", True, id="exact path with a query"),
        pytest.param("/faq/more", False, id="an exact path admits no children"),
        pytest.param("/faqs", False, id="exact path plus letters"),
        pytest.param("/FAQ", False, id="case matters"),
        pytest.param("/static/app.css", True, id="under a prefix"),
        pytest.param("/static/css/app.css", True, id="deep under a prefix"),
        pytest.param("/static", False, id="a prefix does not admit its bare form"),
        pytest.param("/staticfoo", False, id="prefix ends on a segment boundary"),
        pytest.param("/static/../checkout", False, id="dot segment"),
        pytest.param("/static/%2e%2e/checkout", False, id="percent-encoded dot segment"),
        pytest.param("/faq%00", False, id="control character"),
        pytest.param("/checkout?x=/faq", False, id="query naming an allowed path"),
        pytest.param("/checkout?next=/static/app.css", False, id="query naming a prefix"),
        pytest.param("/caf%C3%A9", True, id="non-ASCII path recovered from latin-1"),
        pytest.param("/caf%E9", False, id="invalid UTF-8 is never allowlisted"),
        pytest.param("/health", True, id="default health path"),
        pytest.param("/status", True, id="extra path from the flag file"),
        pytest.param("/", False, id="home is not allowlisted"),
    ],
)
def test_allowlist_matches_the_path_only(
    serve: Callable[..., Site], flag: Path, path: str, passes: bool
) -> None:
    turn_on(flag, allow=("/status",))
    site = serve(allow=("/faq", "/static/", "/café"))
    reply = site.request("GET", path)
    if passes:
        assert reply.status == 200
        assert reply.body.startswith(b"app GET /")
        assert reply.headers["Cache-Control"] == APP_CACHE_CONTROL  # a pass, not a bypass
    else:
        assert reply.status == 503
        assert not reply.body.startswith(b"app ")


@pytest.mark.parametrize(
    ("method", "passes"),
    [
        pytest.param("GET", True, id="GET"),
        pytest.param("HEAD", True, id="HEAD"),
        pytest.param("OPTIONS", True, id="OPTIONS"),
        pytest.param("POST", False, id="POST"),
        pytest.param("PUT", False, id="PUT"),
        pytest.param("PATCH", False, id="PATCH"),
        pytest.param("DELETE", False, id="DELETE"),
    ],
)
def test_read_only_lets_safe_methods_through(
    serve: Callable[..., Site], flag: Path, method: str, passes: bool
) -> None:
    turn_on(flag)
    site = serve(read_only=True)
    body = b"qty=2" if method in {"POST", "PUT", "PATCH"} else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    reply = site.request(method, "/cart", headers, body)
    if passes:
        assert reply.status == 200
        assert reply.body == (b"" if method == "HEAD" else f"app {method} /cart".encode())
        assert reply.headers["Retry-After"] is None
    else:
        assert reply.status == 503
        assert reply.headers["Retry-After"] == "300"
        assert not reply.body.startswith(b"app ")


# -- bypass --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "headers", "bypassed"),
    [
        pytest.param(
            {"bypass_secret": SECRET}, {"X-Maintenance-Bypass": SECRET}, True, id="right token"
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            {"x-maintenance-bypass": SECRET},
            True,
            id="header names are case-insensitive",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            {"X-Maintenance-Bypass": "wrong-token-0123456789"},
            False,
            id="wrong token",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            {"X-Maintenance-Bypass": SECRET[:-1]},
            False,
            id="a prefix of the secret",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            {"X-Maintenance-Bypass": SECRET + "x"},
            False,
            id="the secret plus one character",
        ),
        pytest.param(
            {"bypass_secret": SECRET}, {"X-Maintenance-Bypass": ""}, False, id="empty token"
        ),
        pytest.param({"bypass_secret": SECRET}, {}, False, id="no header"),
        pytest.param(
            {}, {"X-Maintenance-Bypass": SECRET}, False, id="no secret configured: no bypass"
        ),
        pytest.param(
            {"bypass_secret": SECRET, "bypass_header": "X-Let-Me-In"},
            {"X-Let-Me-In": SECRET},
            True,
            id="custom header",
        ),
        pytest.param(
            {"bypass_secret": SECRET, "bypass_header": "X-Let-Me-In"},
            {"X-Maintenance-Bypass": SECRET},
            False,
            id="custom header: the default one no longer works",
        ),
    ],
)
def test_bypass_by_header(
    serve: Callable[..., Site],
    flag: Path,
    options: dict[str, Any],
    headers: dict[str, str],
    bypassed: bool,
) -> None:
    turn_on(flag)
    reply = serve(**options).request("GET", "/account", headers)
    if bypassed:
        assert reply.status == 200
        assert reply.body == b"app GET /account"
        # the app's own "public, max-age=600" is replaced, not joined
        assert reply.headers.get_all("Cache-Control") == ["private, no-store"]
    else:
        assert reply.status == 503
        assert reply.headers.get_all("Cache-Control") == ["no-store"]


def test_bypass_keeps_the_apps_cache_control_when_told_to(
    serve: Callable[..., Site], flag: Path
) -> None:
    turn_on(flag)
    site = serve(bypass_secret=SECRET, bypass_no_store=False)
    reply = site.request("GET", "/account", {"X-Maintenance-Bypass": SECRET})
    assert reply.status == 200
    assert reply.headers.get_all("Cache-Control") == [APP_CACHE_CONTROL]


@pytest.mark.parametrize(
    ("options", "secure", "max_age"),
    [
        pytest.param({}, True, "43200", id="defaults"),
        pytest.param(
            {"bypass_cookie_secure": False, "bypass_cookie_max_age": 600},
            False,
            "600",
            id="plain-http cookie, ten minutes",
        ),
    ],
)
def test_secret_url_sets_a_cookie_that_bypasses(
    serve: Callable[..., Site],
    flag: Path,
    options: dict[str, Any],
    secure: bool,
    max_age: str,
) -> None:
    turn_on(flag)
    site = serve(bypass_secret=SECRET, **options)
    redirect = site.request("GET", f"/__maintenance__/{SECRET}")
    assert redirect.status == 303
    assert redirect.headers["Location"] == "/"
    assert redirect.headers["Cache-Control"] == "no-store"
    assert redirect.body == b""
    (set_cookie,) = redirect.headers.get_all("Set-Cookie")
    name, value, attrs = set_cookie_parts(set_cookie)
    assert name == "maintenance_bypass"
    assert SECRET not in set_cookie
    assert "httponly" in attrs
    assert attrs["samesite"] == "Lax"
    assert attrs["path"] == "/"
    assert attrs["max-age"] == max_age
    assert ("secure" in attrs) is secure

    bypassed = site.request("GET", "/account", {"Cookie": f"theme=dark; {name}={value}"})
    assert bypassed.status == 200
    assert bypassed.body == b"app GET /account"
    assert bypassed.headers.get_all("Cache-Control") == ["private, no-store"]
    assert site.request("GET", "/account").status == 503


def _flip_last(value: str) -> str:
    return value[:-1] + ("1" if value[-1] == "0" else "0")


def _extend_expiry(value: str) -> str:
    expires, _, mac = value.partition(".")
    return f"{int(expires) + 3600}.{mac}"


@pytest.mark.parametrize(
    ("mutate", "bypassed"),
    [
        pytest.param(lambda value: value, True, id="as issued"),
        pytest.param(_flip_last, False, id="tampered signature"),
        pytest.param(_extend_expiry, False, id="tampered expiry"),
        pytest.param(
            lambda value: sign_cookie(b"another-secret-0123456789", 3600),
            False,
            id="signed with another secret",
        ),
        pytest.param(
            lambda value: sign_cookie(SECRET.encode(), 60, now=time.time() - 3600),
            False,
            id="expired",
        ),
        pytest.param(lambda value: value.partition(".")[0], False, id="no signature"),
        pytest.param(lambda value: "junk", False, id="junk"),
    ],
)
def test_only_an_untampered_unexpired_cookie_bypasses(
    serve: Callable[..., Site], flag: Path, mutate: Callable[[str], str], bypassed: bool
) -> None:
    turn_on(flag)
    site = serve(bypass_secret=SECRET)
    redirect = site.request("GET", f"/__maintenance__/{SECRET}")
    name, value, _ = set_cookie_parts(redirect.headers["Set-Cookie"])
    reply = site.request("GET", "/account", {"Cookie": f"{name}={mutate(value)}"})
    assert reply.status == (200 if bypassed else 503)


@pytest.mark.parametrize(
    ("options", "path", "redirects"),
    [
        pytest.param(
            {"bypass_secret": SECRET},
            f"/__maintenance__/{SECRET}?next=https://evil.example/",
            True,
            id="query ignored: still home, never an open redirect",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            "/__maintenance__/wrong-token-0123456789",
            False,
            id="wrong token",
        ),
        pytest.param(
            {"bypass_secret": SECRET}, f"/__maintenance__/{SECRET}/", False, id="trailing slash"
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            f"/shop/__maintenance__/{SECRET}",
            False,
            id="not at the app root",
        ),
        pytest.param({}, f"/__maintenance__/{SECRET}", False, id="no secret configured"),
    ],
)
def test_secret_url_redirects_only_for_the_exact_secret(
    serve: Callable[..., Site], flag: Path, options: dict[str, Any], path: str, redirects: bool
) -> None:
    turn_on(flag)
    reply = serve(**options).request("GET", path)
    if redirects:
        assert reply.status == 303
        assert reply.headers["Location"] == "/"
        assert reply.headers["Set-Cookie"] is not None
    else:
        assert reply.status == 503
        assert reply.headers["Set-Cookie"] is None


@pytest.mark.parametrize(
    ("options", "headers", "bypassed"),
    [
        pytest.param({"bypass_ips": ("127.0.0.1",)}, {}, True, id="peer address listed"),
        pytest.param({"bypass_ips": ("127.0.0.0/8",)}, {}, True, id="peer inside a CIDR"),
        pytest.param({"bypass_ips": ("10.0.0.0/8",)}, {}, False, id="peer not listed"),
        pytest.param(
            {"bypass_ips": ("10.0.0.0/8",)},
            {"X-Forwarded-For": "10.1.2.3"},
            False,
            id="spoofed X-Forwarded-For without trusted proxies",
        ),
        pytest.param(
            {"bypass_ips": ("10.0.0.0/8",)},
            {"X-Real-IP": "10.1.2.3", "Forwarded": "for=10.1.2.3"},
            False,
            id="other forwarding headers are ignored",
        ),
        pytest.param(
            {"bypass_ips": ("10.0.0.0/8",), "trusted_proxies": ("127.0.0.1",)},
            {"X-Forwarded-For": "10.1.2.3"},
            True,
            id="X-Forwarded-For from a trusted proxy",
        ),
        pytest.param(
            {"bypass_ips": ("127.0.0.1",), "trusted_proxies": ("127.0.0.1",)},
            {"X-Forwarded-For": "203.0.113.9"},
            False,
            id="behind a trusted proxy the client counts, not the proxy",
        ),
    ],
)
def test_bypass_by_client_address(
    serve: Callable[..., Site],
    flag: Path,
    options: dict[str, Any],
    headers: dict[str, str],
    bypassed: bool,
) -> None:
    turn_on(flag)
    reply = serve(**options).request("GET", "/account", headers)
    if bypassed:
        assert reply.status == 200
        assert reply.body == b"app GET /account"
        assert reply.headers.get_all("Cache-Control") == ["private, no-store"]
    else:
        assert reply.status == 503


# -- mounted under a SCRIPT_NAME (in-process) ----------------------------------------------


@pytest.mark.parametrize(
    ("script_name", "path_info", "passes"),
    [
        pytest.param("/shop", "/faq", True, id="PATH_INFO is matched"),
        pytest.param("/shop", "/static/app.css", True, id="PATH_INFO under a prefix"),
        pytest.param("/faq", "/checkout", False, id="an allowlisted SCRIPT_NAME admits nothing"),
        pytest.param("/shop", "/shop/faq", False, id="SCRIPT_NAME is not stripped twice"),
    ],
)
def test_mounted_app_matches_path_info(
    wrap: Callable[..., tuple[MaintenanceMiddleware, WSGIApp]],
    flag: Path,
    script_name: str,
    path_info: str,
    passes: bool,
) -> None:
    turn_on(flag)
    _, app = wrap(allow=("/faq", "/static/"))
    result = call(app, environ_for(path_info, extra={"SCRIPT_NAME": script_name}))
    if passes:
        assert result.status == "200 OK"
        assert result.body == f"app GET {path_info}".encode()
    else:
        assert result.status.startswith("503 ")


_LATIN1_CAFE = "/café".encode().decode("latin-1")  # how a server hands over /caf%C3%A9


@pytest.mark.parametrize(
    ("script_name", "location"),
    [
        pytest.param("", "/", id="not mounted"),
        pytest.param("/shop", "/shop/", id="mounted"),
        pytest.param("/a/b", "/a/b/", id="mounted two deep"),
        pytest.param(
            "/my shop",
            "/my%20shop/",
            id="space in the mount point",
        ),
        pytest.param(
            _LATIN1_CAFE,
            "/caf%C3%A9/",
            id="non-ASCII mount point",
        ),
    ],
)
def test_mounted_bypass_redirect_goes_to_the_mount_root(
    wrap: Callable[..., tuple[MaintenanceMiddleware, WSGIApp]],
    flag: Path,
    script_name: str,
    location: str,
) -> None:
    turn_on(flag)
    _, app = wrap(bypass_secret=SECRET)
    environ = environ_for(f"/__maintenance__/{SECRET}", extra={"SCRIPT_NAME": script_name})
    result = call(app, environ)
    assert result.status == "303 See Other"
    assert result.header("Location") == location
    _, _, attrs = set_cookie_parts(result.header("Set-Cookie") or "")
    assert attrs["path"] == location


# -- PEP 3333 details (in-process) ---------------------------------------------------------


class SizedBody:
    """A custom iterable with ``__len__`` (servers may use it for Content-Length)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def __len__(self) -> int:
        return len(self.chunks)

    def close(self) -> None:
        self.closed = True


def _file_wrapper(environ: dict[str, Any]) -> Any:
    return environ["wsgi.file_wrapper"](io.BytesIO(b"file body"), 4)


def _sized(environ: dict[str, Any]) -> Any:
    return SizedBody([b"sized ", b"body"])


@pytest.mark.parametrize(
    "make_body",
    [
        pytest.param(_file_wrapper, id="wsgi.file_wrapper"),
        pytest.param(_sized, id="iterable with __len__"),
    ],
)
@pytest.mark.parametrize(
    ("on", "options", "path", "extra"),
    [
        pytest.param(False, {}, "/checkout", {}, id="off"),
        pytest.param(True, {"allow": ("/static/",)}, "/static/app.css", {}, id="on, allowlisted"),
        pytest.param(True, {"read_only": True}, "/checkout", {}, id="on, read-only GET"),
        pytest.param(
            True,
            {"bypass_secret": SECRET},
            "/checkout",
            {"HTTP_X_MAINTENANCE_BYPASS": SECRET},
            id="on, bypassed",
        ),
    ],
)
def test_pass_through_returns_the_inner_iterable_itself(
    flag: Path,
    on: bool,
    options: dict[str, Any],
    path: str,
    extra: dict[str, Any],
    make_body: Callable[[dict[str, Any]], Any],
) -> None:
    if on:
        turn_on(flag)
    returned = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        body = make_body(environ)
        returned.append(body)
        return body

    mw = MaintenanceMiddleware(app, flag=flag, check_interval=CHECK_INTERVAL, **options)
    environ = environ_for(path, extra={"wsgi.file_wrapper": FileWrapper, **extra})
    result = mw(environ, lambda status, headers, exc_info=None: None)
    try:
        assert result is returned[0]
    finally:
        result.close()


class UntouchableInput:
    """A request body stream that fails the test if anything reads or closes it."""

    def read(self, *args: Any) -> bytes:
        raise AssertionError("wsgi.input was read")

    readline = read
    readlines = read

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("wsgi.input was iterated")

    def close(self) -> None:
        raise AssertionError("wsgi.input was closed")


@pytest.mark.parametrize(
    ("method", "path", "options", "status"),
    [
        pytest.param("POST", "/checkout", {}, "503 ", id="POST gets the 503"),
        pytest.param("PUT", "/checkout", {"read_only": True}, "503 ", id="read-only PUT"),
        pytest.param("HEAD", "/checkout", {}, "503 ", id="HEAD"),
        pytest.param(
            "POST",
            f"/__maintenance__/{SECRET}",
            {"bypass_secret": SECRET},
            "303 ",
            id="bypass redirect",
        ),
    ],
)
def test_the_middleware_never_touches_wsgi_input(
    wrap: Callable[..., tuple[MaintenanceMiddleware, WSGIApp]],
    flag: Path,
    method: str,
    path: str,
    options: dict[str, Any],
    status: str,
) -> None:
    turn_on(flag)
    _, app = wrap(must_not_run, **options)
    environ = environ_for(
        path,
        method,
        extra={
            "wsgi.input": UntouchableInput(),
            "CONTENT_LENGTH": "1000000",
            "CONTENT_TYPE": "application/octet-stream",
            "HTTP_EXPECT": "100-continue",
        },
    )
    assert call(app, environ).status.startswith(status)


def test_bypass_forwards_exc_info_before_headers_are_sent(
    serve: Callable[..., Site], flag: Path
) -> None:
    turn_on(flag)
    site = serve(erroring_app, bypass_secret=SECRET)
    reply = site.request("GET", "/", {"X-Maintenance-Bypass": SECRET})
    # A dropped exc_info makes the server refuse the second call ("headers already set").
    assert reply.status == 500
    assert reply.body == b"app error page"
    assert reply.headers.get_all("Cache-Control") == ["private, no-store"]


def test_bypass_returns_the_servers_write_callable(serve: Callable[..., Site], flag: Path) -> None:
    turn_on(flag)
    site = serve(writing_app, bypass_secret=SECRET)
    reply = site.request("GET", "/", {"X-Maintenance-Bypass": SECRET})
    assert reply.status == 200
    assert reply.body == b"written, then iterated"
    assert reply.headers.get_all("Cache-Control") == ["private, no-store"]


def test_bypass_lets_the_server_reraise_after_headers_and_keeps_no_exc_info(flag: Path) -> None:
    turn_on(flag)
    calls: list[tuple[str, list[tuple[str, str]], int]] = []

    def server_write(data: bytes) -> None:
        pass

    def server_start_response(*args: Any) -> Any:
        calls.append((args[0], list(args[1]), len(args)))
        if len(args) == 3 and args[2] is not None:  # headers already sent: PEP 3333 re-raise
            raise args[2][1].with_traceback(args[2][2])
        return server_write

    writes = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        writes.append(start_response("200 OK", [("Content-Type", "text/plain")]))
        try:
            raise Boom("failed after the headers went out")
        except Boom:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"never sent"]

    mw = MaintenanceMiddleware(app, flag=flag, bypass_secret=SECRET, check_interval=CHECK_INTERVAL)
    environ = environ_for("/", extra={"HTTP_X_MAINTENANCE_BYPASS": SECRET})
    with pytest.raises(Boom, match="after the headers") as raised:
        mw(environ, server_start_response)
    assert writes == [server_write]
    assert [(status[:3], count) for status, _, count in calls] == [("200", 2), ("500", 3)]
    assert all(headers[-1] == ("Cache-Control", "private, no-store") for _, headers, _ in calls)

    error = weakref.ref(raised.value)
    del raised
    gc.collect()
    assert error() is None, "something kept a reference to exc_info"


# -- the flag changes while requests run ---------------------------------------------------


def test_flag_flips_are_seen_within_the_check_interval(
    serve: Callable[..., Site], flag: Path
) -> None:
    site = serve()
    log: list[tuple[float, float, int, bytes]] = []  # (started, done, status, body)
    failures: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                reply = site.request("GET", "/")
                log.append((started, time.monotonic(), reply.status, reply.body))
        except BaseException as exc:
            failures.append(exc)

    def wait_for(predicate: Callable[[], bool], what: str, limit: float = 3.0) -> None:
        deadline = time.monotonic() + limit
        while not predicate():
            assert not failures, failures
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.002)

    def is_app(status: int, body: bytes) -> bool:
        return (status, body) == (200, b"app GET /")

    def is_page(reason: str) -> Callable[[int, bytes], bool]:
        return lambda status, body: status == 503 and reason.encode() in body

    steps: list[tuple[str, Callable[[], object], Callable[[int, bytes], bool]]] = [
        ("on", lambda: turn_on(flag, reason="First window"), is_page("First window")),
        ("update", lambda: turn_on(flag, reason="Second window"), is_page("Second window")),
        ("off", flag.unlink, is_app),
        ("on again", lambda: turn_on(flag, reason="Third window"), is_page("Third window")),
        ("off again", flag.unlink, is_app),
    ]
    timeline: list[tuple[str, float, float, Callable[[int, bytes], bool]]] = []
    worker = threading.Thread(target=hammer, daemon=True)
    worker.start()
    try:
        wait_for(lambda: len(log) >= 3 and all(is_app(s, b) for _, _, s, b in log), "warm-up")
        for name, switch, is_new in steps:
            switched = time.monotonic()
            switch()

            def seen(switched: float = switched, is_new: Callable[..., bool] = is_new) -> float:
                times = [done for _, done, s, b in list(log) if done > switched and is_new(s, b)]
                return min(times, default=0.0)

            wait_for(lambda: seen() > 0, f"{name} to be observed")
            observed = seen()
            assert observed - switched <= CHECK_INTERVAL + 0.95, f"{name} took too long"
            wait_for(
                lambda observed=observed: sum(start > observed for start, *_ in list(log)) >= 3,
                f"requests after {name}",
            )
            timeline.append((name, switched, observed, is_new))
    finally:
        stop.set()
        worker.join(timeout=5)
    assert not failures, failures

    # Every response was the app's page or the maintenance page: never a 500, never a mix.
    for _, _, status, body in log:
        assert is_app(status, body) or (status == 503 and b" window" in body), (status, body)
    # Once a switch was observed, no later request saw the state before it.
    ends = [switched for _, switched, _, _ in timeline[1:]] + [float("inf")]
    for (name, _, observed, is_new), end in zip(timeline, ends, strict=True):
        for started, done, status, body in log:
            if started >= observed and done <= end:
                assert is_new(status, body), f"after {name}: {status} {body[:60]!r}"
    # Updating the details while on leaves no gap: no 200 between "on" and "off".
    on_seen, off_switched = timeline[0][2], timeline[2][1]
    assert not [
        s for start, done, s, _ in log if start >= on_seen and done <= off_switched and s != 503
    ]


# -- a broken flag file --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "warns"),
    [
        pytest.param(b"", None, id="empty"),
        pytest.param(b"{not json", True, id="not JSON"),
        pytest.param(b'{"reason": "half-wri', True, id="half-written"),
        pytest.param(b"[1, 2]", True, id="not an object"),
        pytest.param(b'{"eta": "2030-01-01T12:00:00"}', True, id="naive ETA"),
        pytest.param(b'{"reason": "x", "colour": "red"}', True, id="unknown key"),
        pytest.param(b"\xff\xfe{}", True, id="not UTF-8"),
    ],
)
def test_bad_flag_content_means_on_with_defaults(
    serve: Callable[..., Site],
    flag: Path,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    warns: bool | None,
) -> None:
    caplog.set_level(logging.WARNING, logger="maintenance_mode")
    flag.write_bytes(content)
    site = serve()
    page = site.request("GET", "/", {"Accept": BROWSER_ACCEPT})
    time.sleep(CHECK_INTERVAL * 1.5)  # the next request re-checks the (unchanged) file
    problem = site.request("GET", "/", {"Accept": "application/json"})

    assert page.status == 503
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"down for planned maintenance" in page.body
    assert problem.status == 503
    document = json.loads(problem.body)
    assert document["detail"] == DEFAULT_DETAIL
    assert document["reason"] is None
    if warns is not None:
        warnings = [
            r
            for r in caplog.records
            if r.name == "maintenance_mode" and r.levelno == logging.WARNING
        ]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert str(flag) in warnings[0].getMessage()
