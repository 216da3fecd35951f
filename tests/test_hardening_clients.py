"""Forged client addresses, tokens and cookies: none bypass, none raise.

Maintenance is ON. The bypass is configured the way a site behind a proxy would:
``bypass_ips`` = one IPv4 and one IPv6 address, ``trusted_proxies`` = the private
networks the proxies live in, and a ``bypass_secret``. Every row goes through
both adapters:

* ``asgi``: ``httpx.ASGITransport`` (with its ``client`` set to the socket peer,
  or ``None``) into a Starlette app under the ASGI middleware;
* ``wsgi``: the WSGI middleware called in-process with the environ a PEP 3333
  server builds (``REMOTE_ADDR`` set or missing; repeated headers joined with ",").

A bypassed request gets the app's own body (``app:/checkout``) with
``Cache-Control: private, no-store``; every other one gets the 503 page. A 500,
or any exception, fails the test. Hypothesis compares the X-Forwarded-For walk
with a reference and throws arbitrary cookies and tokens at both adapters. A
last table runs a real uvicorn to show that the peer the middleware trusts is
the one the server reports, after uvicorn's own proxy-header handling.
"""

from __future__ import annotations

import asyncio
import io
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

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
from maintenance_mode.rules import sign_cookie
from maintenance_mode.settings import Settings
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

REASON = "Hardening: client table maintenance"
SECRET = "Team-Secret_0123456789.abcdef~XYZ"
OLD_SECRET = "Old-Secret_0123456789.abcdef~XYZ"
BYPASS_V4 = "203.0.113.7"
BYPASS_V6 = "2001:db8::7"
PROXY = "10.0.0.5"
STRANGER = "198.51.100.1"
COOKIE = "maintenance_bypass"
HUGE = 100_000

OPTIONS: dict[str, Any] = {
    "bypass_ips": [BYPASS_V4, BYPASS_V6],
    "trusted_proxies": ["10.0.0.0/8", "fd00::/8"],
    "bypass_secret": SECRET,
}

HYPOTHESIS = settings(max_examples=100, deadline=None, derandomize=True, database=None)

Headers = list[tuple[bytes, bytes]]
_MISSING = object()  # the peer is absent (ASGI client=None, WSGI no REMOTE_ADDR)


# -- the apps and the two ways in ------------------------------------------------------------------


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        "app:" + request.scope["path"], headers={"Cache-Control": "public, max-age=600"}
    )


def wsgi_echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = ("app:" + environ["PATH_INFO"]).encode("latin-1")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "public, max-age=600"),
        ],
    )
    return [body]


@pytest.fixture(scope="module")
def flag_on(tmp_path_factory: pytest.TempPathFactory) -> Path:
    flag = tmp_path_factory.mktemp("clients") / "maintenance.json"
    write_state_atomic(flag, MaintenanceState(reason=REASON))
    return flag


@pytest.fixture(scope="module")
def apps(flag_on: Path) -> dict[str, Any]:
    asgi = Starlette(routes=[Route("/{rest:path}", echo)])
    asgi.add_middleware(ASGIMaintenance, flag=flag_on, **OPTIONS)
    return {"asgi": asgi, "wsgi": WSGIMaintenance(wsgi_echo, flag=flag_on, **OPTIONS)}


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def send_asgi(app: Any, peer: object, headers: Headers, path: str = "/checkout") -> Reply:
    client = None if peer is _MISSING else (peer, 50000)

    async def go() -> Reply:
        transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get(path, headers=headers)
        return Reply(r.status_code, list(r.headers.items()), r.content)

    return asyncio.run(go())


def send_wsgi(app: Any, peer: object, headers: Headers, path: str = "/checkout") -> Reply:
    route, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": route,
        "QUERY_STRING": query,
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
    if peer is not _MISSING:
        environ["REMOTE_ADDR"] = peer
    seen: set[str] = set()
    for name, value in headers:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")  # PEP 3333: header bytes as latin-1 code points
        environ[key] = f"{environ[key]},{text}" if key in seen else text
        seen.add(key)
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    body = b"".join(result)
    return Reply(int(captured["status"].split()[0]), captured["headers"], body)


@pytest.fixture(params=["asgi", "wsgi"])
def send(request: pytest.FixtureRequest, apps: dict[str, Any]) -> Callable[..., Reply]:
    app = apps[request.param]
    sender = send_asgi if request.param == "asgi" else send_wsgi

    def go(
        peer: object = STRANGER, headers: Headers | None = None, path: str = "/checkout"
    ) -> Reply:
        return sender(app, peer, headers or [], path)

    return go


def assert_bypassed(reply: Reply) -> None:
    assert (reply.status, reply.body) == (200, b"app:/checkout"), reply.body[:200]
    assert reply.header("Cache-Control") == ["private, no-store"]


def assert_blocked(reply: Reply) -> None:
    assert reply.status == 503, (reply.status, reply.body[:200])
    assert REASON.encode() in reply.body
    assert not reply.body.startswith(b"app:")


def h(name: str, value: str | bytes) -> tuple[bytes, bytes]:
    return name.encode(), value if isinstance(value, bytes) else value.encode("latin-1")


# -- client addresses ---------------------------------------------------------------------------

FORGERY_HEADERS = [
    "X-Forwarded-For",
    "X-Real-IP",
    "CF-Connecting-IP",
    "True-Client-IP",
    "X-Client-IP",
    "X-Cluster-Client-IP",
    "Fastly-Client-IP",
    "X-Originating-IP",
    "X-Remote-Addr",
    "Client-IP",
]

CLIENT_ROWS = [
    # controls
    pytest.param(BYPASS_V4, [], True, id="control: the bypass address itself"),
    pytest.param(BYPASS_V6, [], True, id="control: the bypass IPv6 address itself"),
    pytest.param(PROXY, [h("X-Forwarded-For", BYPASS_V4)], True, id="control: via trusted proxy"),
    pytest.param(STRANGER, [], False, id="control: a stranger"),
    # a direct client forging any forwarding header
    *(
        pytest.param(STRANGER, [h(name, BYPASS_V4)], False, id=f"untrusted peer forges {name}")
        for name in FORGERY_HEADERS
    ),
    pytest.param(
        STRANGER, [h("Forwarded", f"for={BYPASS_V4}")], False, id="untrusted peer forges Forwarded"
    ),
    pytest.param(
        STRANGER,
        [h("Forwarded", f'for="[{BYPASS_V6}]"')],
        False,
        id="untrusted peer forges Forwarded with IPv6",
    ),
    pytest.param(
        STRANGER,
        [h(name, BYPASS_V4) for name in FORGERY_HEADERS] + [h("Forwarded", f"for={BYPASS_V4}")],
        False,
        id="untrusted peer forges every header at once",
    ),
    pytest.param(
        "127.0.0.1",
        [h("X-Forwarded-For", BYPASS_V4)],
        False,
        id="loopback is not trusted by default",
    ),
    # behind a trusted proxy: only X-Forwarded-For, right to left
    pytest.param(
        PROXY, [h("X-Forwarded-For", STRANGER)], False, id="trusted proxy forwards a stranger"
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", f"{BYPASS_V4}, {STRANGER}")],
        False,
        id="forged leftmost hop is ignored",
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", f"{STRANGER}, {BYPASS_V4}")],
        True,
        id="rightmost untrusted hop is the client",
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", f"{BYPASS_V4}, 10.0.0.9, 10.1.2.3")],
        True,
        id="walks past trusted hops",
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", f"{BYPASS_V4}, junk")],
        False,
        id="junk hop hides everyone behind it",
    ),
    pytest.param(PROXY, [h("X-Forwarded-For", "unknown")], False, id="'unknown' hop"),
    pytest.param(
        PROXY, [h("X-Forwarded-For", "")], False, id="empty header: the proxy is the peer"
    ),
    pytest.param(PROXY, [h("X-Forwarded-For", ",,,")], False, id="only commas"),
    pytest.param(
        PROXY, [h("X-Forwarded-For", f"{BYPASS_V4}:8443")], True, id="IPv4 hop with a port"
    ),
    pytest.param(
        PROXY, [h("X-Forwarded-For", f"[{BYPASS_V6}]:443")], True, id="bracketed IPv6 hop with port"
    ),
    pytest.param(
        PROXY, [h("X-Forwarded-For", f"::ffff:{BYPASS_V4}")], True, id="IPv4-mapped IPv6 hop"
    ),
    *(
        pytest.param(PROXY, [h("X-Forwarded-For", junk)], False, id=f"look-alike hop {junk!r}")
        for junk in (
            "203.0.113.70",
            "203.0.113.7.",
            "203.000.113.007",
            "0xcb.0.0x71.7",
            "3405803783",
            "203.0.113.7/32",
            "203.0.113.7 203.0.113.7",
            "203.0.113.7.nip.io",
            "[203.0.113.7",
            "2001:db8::7::1",
        )
    ),
    pytest.param(PROXY, [h("Forwarded", f"for={BYPASS_V4}")], False, id="Forwarded via proxy"),
    pytest.param(PROXY, [h("X-Real-IP", BYPASS_V4)], False, id="X-Real-IP via proxy"),
    pytest.param(PROXY, [h("CF-Connecting-IP", BYPASS_V4)], False, id="CF-Connecting-IP via proxy"),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", BYPASS_V4), h("X-Forwarded-For", STRANGER)],
        False,
        id="duplicated XFF: the proxy's last header names a stranger",
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", STRANGER), h("X-Forwarded-For", BYPASS_V4)],
        True,
        id="duplicated XFF: the proxy's last header names the bypass address",
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", ", ".join([BYPASS_V4] + ["10.0.0.9"] * 32))],
        False,
        id="more than 32 trusted hops: the walk stops",
    ),
    pytest.param(
        PROXY,
        [h("X-Forwarded-For", f"{STRANGER}," * (HUGE // 13) + BYPASS_V4)],
        True,
        id="huge XFF header ending with the client",
    ),
    pytest.param(PROXY, [h("X-Forwarded-For", "x" * HUGE)], False, id="huge junk XFF header"),
    # the peer itself
    pytest.param(f"::ffff:{BYPASS_V4}", [], True, id="IPv4-mapped IPv6 peer"),
    pytest.param(
        f"::ffff:{PROXY}", [h("X-Forwarded-For", BYPASS_V4)], True, id="IPv4-mapped proxy peer"
    ),
    pytest.param("203.0.113.70", [], False, id="peer sharing a string prefix"),
    pytest.param(_MISSING, [], False, id="missing client"),
    pytest.param(_MISSING, [h("X-Forwarded-For", BYPASS_V4)], False, id="missing client with XFF"),
    pytest.param("", [h("X-Forwarded-For", BYPASS_V4)], False, id="empty peer with XFF"),
    pytest.param("junk", [h("X-Forwarded-For", BYPASS_V4)], False, id="junk peer with XFF"),
    pytest.param(
        "unix:/run/app.sock", [h("X-Forwarded-For", BYPASS_V4)], False, id="unix-socket peer"
    ),
]


@pytest.mark.parametrize(("peer", "headers", "bypass"), CLIENT_ROWS)
def test_client_address(
    send: Callable[..., Reply], peer: object, headers: Headers, bypass: bool
) -> None:
    reply = send(peer, headers)
    if bypass:
        assert_bypassed(reply)
    else:
        assert_blocked(reply)


def test_underscore_spelling_is_another_header_under_asgi(apps: dict[str, Any]) -> None:
    """ASGI header names are bytes: ``X_Forwarded_For`` is not ``X-Forwarded-For``.

    (Under WSGI the server maps both to HTTP_X_FORWARDED_FOR; gunicorn >= 22 drops
    underscore headers, see docs/security.md.)
    """
    reply = send_asgi(apps["asgi"], PROXY, [h("X_Forwarded_For", BYPASS_V4)])
    assert_blocked(reply)


# The trust walk against an independent reference: a small universe of hop spellings whose
# meaning is written down here, not computed by rules.parse_address.
HOPS = {
    BYPASS_V4: "bypass",
    f"::ffff:{BYPASS_V4}": "bypass",
    f"[{BYPASS_V6}]:443": "bypass",
    f" {BYPASS_V4}:8080 ": "bypass",
    "10.0.0.9": "trusted",
    " 10.200.0.1 ": "trusted",
    "fd00::1": "trusted",
    STRANGER: "other",
    "203.0.113.70": "other",
    "junk": "junk",
    "": "junk",
}
PEERS = {PROXY: "trusted", STRANGER: "other", BYPASS_V4: "bypass", _MISSING: "missing"}


def reference_bypass(peer: object, hops: list[str]) -> bool:
    kind = PEERS[peer]
    if kind == "missing":
        return False
    if kind != "trusted" or not hops or "".join(hops) == "":
        return kind == "bypass"
    for hop in reversed(hops[-32:]):
        meaning = HOPS[hop]
        if meaning == "junk":
            return False
        if meaning != "trusted":
            return meaning == "bypass"
    return False  # every hop is a proxy: the client is one of ours, not a bypass address


@HYPOTHESIS
@given(
    peer=st.sampled_from(list(PEERS)),
    hops=st.lists(st.sampled_from(list(HOPS)), max_size=40),
    one_header=st.booleans(),
)
def test_forwarded_for_walk_agrees_with_reference(
    apps: dict[str, Any], peer: object, hops: list[str], one_header: bool
) -> None:
    if not hops:
        headers: Headers = []
    elif one_header:
        headers = [h("X-Forwarded-For", ",".join(hops))]
    else:
        headers = [h("X-Forwarded-For", hop) for hop in hops]
    want = reference_bypass(peer, hops)
    for sender, app in ((send_asgi, apps["asgi"]), (send_wsgi, apps["wsgi"])):
        reply = sender(app, peer, headers)
        assert reply.status == (200 if want else 503), (sender.__name__, peer, hops)


# -- the bypass token (header and URL) ----------------------------------------------------------

TOKEN_ROWS = [
    pytest.param(SECRET, True, id="control: the secret"),
    pytest.param("wrong-secret-0123456789", False, id="wrong"),
    pytest.param("", False, id="empty"),
    pytest.param(SECRET[:-1], False, id="one character short"),
    pytest.param(SECRET + "x", False, id="one character more"),
    pytest.param(SECRET.upper(), False, id="case changed"),
    pytest.param(OLD_SECRET, False, id="old secret"),
    pytest.param("x" * HUGE, False, id="huge (100 KB)"),
    pytest.param(SECRET * 3000, False, id="the secret repeated"),
    pytest.param(("é" * 20).encode(), False, id="non-ASCII UTF-8 bytes"),
    pytest.param(b"\xe9" * 20, False, id="latin-1 bytes"),
    pytest.param(b"\xff\xfe" + SECRET.encode(), False, id="invalid UTF-8 then the secret"),
    pytest.param(SECRET.encode() + b"\x00", False, id="secret then NUL"),
    pytest.param(b"\x00" + SECRET.encode(), False, id="NUL then secret"),
    pytest.param(f"Bearer {SECRET}", False, id="as a bearer credential"),
]


@pytest.mark.parametrize(("token", "bypass"), TOKEN_ROWS)
def test_bypass_header(send: Callable[..., Reply], token: str | bytes, bypass: bool) -> None:
    reply = send(headers=[h("X-Maintenance-Bypass", token)])
    if bypass:
        assert_bypassed(reply)
    else:
        assert_blocked(reply)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([h("X-Maintenance-Bypas", SECRET)], id="misspelled header name"),
        pytest.param([h("Authorization", f"Bearer {SECRET}")], id="Authorization header"),
        pytest.param([h("Cookie", f"{COOKIE}={SECRET}")], id="the secret as the cookie value"),
        pytest.param([h("X-Maintenance-Bypass", "a"), h("X-Maintenance-Bypass", "b")], id="dups"),
    ],
)
def test_secret_elsewhere_does_not_bypass(send: Callable[..., Reply], headers: Headers) -> None:
    assert_blocked(send(headers=headers))


URL_ROWS = [
    pytest.param(f"/__maintenance__/{SECRET[:-1]}", id="one character short"),
    pytest.param(f"/__maintenance__/{SECRET}x", id="one character more"),
    pytest.param(f"/__maintenance__/{SECRET}/", id="trailing slash"),
    pytest.param(f"/__maintenance__/{SECRET};x", id="semicolon parameter"),
    pytest.param(f"/__maintenance__/{OLD_SECRET}", id="old secret"),
    pytest.param(f"/__MAINTENANCE__/{SECRET}", id="prefix case changed"),
    pytest.param(f"/x/__maintenance__/{SECRET}", id="prefix not at the root"),
    pytest.param(f"/__maintenance__//{SECRET}", id="double slash"),
    pytest.param(f"/__maintenance__/../__maintenance__/{SECRET}", id="dot-dot"),
    pytest.param(f"/checkout?/__maintenance__/{SECRET}", id="in the query string"),
    pytest.param(f"/checkout?token={SECRET}", id="as a query parameter"),
    pytest.param("/__maintenance__/", id="no token"),
    pytest.param("/__maintenance__/" + "x" * HUGE, id="huge token"),
    pytest.param("/__maintenance__/" + "é" * 20, id="non-ASCII token"),
]


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
@pytest.mark.parametrize("path", URL_ROWS)
def test_bypass_url_needs_the_exact_secret(apps: dict[str, Any], adapter: str, path: str) -> None:
    # httpx would resolve the dot-dot and refuse 100 KB URLs: build the request as a server would.
    if adapter == "asgi":
        route, _, query = path.partition("?")
        reply = _asgi_scope_call(apps["asgi"], unquote(route), route.encode("utf-8"), query)
    else:
        reply = send_wsgi(apps["wsgi"], STRANGER, [], path)
    assert reply.status == 503, (reply.status, reply.body[:100])
    assert REASON.encode() in reply.body
    assert not reply.header("Set-Cookie")


def test_bypass_url_redirects_with_a_safe_cookie(send: Callable[..., Reply]) -> None:
    reply = send(path=f"/__maintenance__/{SECRET}")
    assert reply.status == 303
    assert reply.header("Location") == ["/"]
    assert reply.header("Referrer-Policy") == ["no-referrer"]
    assert reply.header("Cache-Control") == ["no-store"]
    assert reply.body == b""
    (cookie,) = reply.header("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "max-age", "path"} <= attributes
    assert "SameSite=Lax" in cookie
    for _, value in reply.headers:  # the token leaves the URL and appears nowhere else
        assert SECRET not in value
    value = cookie.split(";")[0].partition("=")[2]
    assert_bypassed(send(headers=[h("Cookie", f"{COOKIE}={value}")]))


# -- bypass cookies -----------------------------------------------------------------------------

_NOW = time.time()
GOOD = sign_cookie(SECRET.encode(), 3600)
_EXPIRES, _, _MAC = GOOD.partition(".")

COOKIE_ROWS = [
    pytest.param(f"{COOKIE}={GOOD}", True, id="control: a fresh cookie"),
    pytest.param(f"{COOKIE}=9999999999.{'0' * 64}", False, id="forged MAC"),
    pytest.param(f"{COOKIE}={GOOD[:-1]}", False, id="truncated"),
    pytest.param(f"{COOKIE}={_EXPIRES}", False, id="expiry without MAC"),
    pytest.param(f"{COOKIE}=.{_MAC}", False, id="MAC without expiry"),
    pytest.param(f"{COOKIE}={int(_EXPIRES) + 1}.{_MAC}", False, id="expiry extended"),
    pytest.param(
        f"{COOKIE}={sign_cookie(SECRET.encode(), 60, now=_NOW - 3600)}", False, id="expired"
    ),
    pytest.param(
        f"{COOKIE}={sign_cookie(OLD_SECRET.encode(), 3600)}", False, id="signed by the old secret"
    ),
    pytest.param(f"{COOKIE}=", False, id="empty value"),
    pytest.param(f"{COOKIE}", False, id="name only"),
    pytest.param(f"maintenance_bypas={GOOD}", False, id="misspelled name"),
    pytest.param(f"{COOKIE.upper()}={GOOD}", False, id="name case changed"),
    pytest.param(f"{COOKIE}={SECRET}", False, id="the secret itself"),
    pytest.param(f'{COOKIE}="9999999999.{"0" * 64}"', False, id="quoted forgery"),
    pytest.param(f"{COOKIE}=" + "9" * HUGE, False, id="huge value"),
    pytest.param(f"{COOKIE}={GOOD.upper()}", False, id="MAC in upper case"),
    pytest.param(f"{COOKIE}={_EXPIRES}.{_MAC}\x00", False, id="NUL after the MAC"),
    pytest.param(f"{COOKIE}=\x00{GOOD}", False, id="NUL before the value"),
    pytest.param(
        f"{COOKIE}=9999999999.{'0' * 64}; {COOKIE}=1.{'f' * 64}", False, id="duplicated forgeries"
    ),
    pytest.param("a=b; " * (HUGE // 5) + f"{COOKIE}=1.{'0' * 64}", False, id="huge Cookie header"),
    pytest.param(";;;===;;; =; ;", False, id="separators only"),
    pytest.param(f"{COOKIE}={'é' * 40}".encode().decode("latin-1"), False, id="UTF-8 bytes"),
]


@pytest.mark.parametrize(("cookie", "bypass"), COOKIE_ROWS)
def test_bypass_cookie(send: Callable[..., Reply], cookie: str, bypass: bool) -> None:
    reply = send(headers=[h("Cookie", cookie)])
    if bypass:
        assert_bypassed(reply)
    else:
        assert_blocked(reply)


INVALID_UTF8_COOKIES = [
    pytest.param(b"a=\xff", id="invalid UTF-8 in another cookie"),
    pytest.param(COOKIE.encode() + b"=\xc3", id="truncated UTF-8 in the bypass cookie"),
    pytest.param(b"\xed\xa0\x80=1", id="encoded surrogate in a cookie name"),
    pytest.param(COOKIE.encode() + b"=1.\xe9\xe9", id="latin-1 bytes in the bypass cookie"),
]


@pytest.mark.parametrize("cookie", INVALID_UTF8_COOKIES)
def test_cookie_header_that_is_not_utf8(send: Callable[..., Reply], cookie: bytes) -> None:
    """werkzeug's parse_cookie decodes strictly as UTF-8; that must be a 503, never a 500."""
    assert_blocked(send(headers=[h("Cookie", cookie)]))


def test_cookies_split_over_two_headers_under_asgi(apps: dict[str, Any]) -> None:
    """HTTP/2 may split Cookie; the ASGI adapter joins them (a valid cookie still works)."""
    reply = send_asgi(apps["asgi"], STRANGER, [h("Cookie", "a=1"), h("Cookie", f"{COOKIE}={GOOD}")])
    assert_bypassed(reply)


# -- properties: arbitrary cookies and tokens never bypass, never raise --------------------------

COOKIE_TEXT = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=0x10FFFF, exclude_categories=["Cs"]),
    max_size=200,
).map(lambda text: text.encode("utf-8"))
COOKIE_SHAPED = st.lists(
    st.tuples(
        st.sampled_from([COOKIE, "a", "", " ", COOKIE + " "]),
        st.one_of(
            st.text(alphabet='0123456789abcdef.=;" \\', max_size=90),
            st.builds(lambda n: f"{n}.{'0' * 64}", st.integers(min_value=0, max_value=10**13)),
        ),
    ),
    max_size=4,
).map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode())


@HYPOTHESIS
@given(cookie=st.one_of(COOKIE_TEXT, COOKIE_SHAPED))
def test_utf8_cookie_headers_never_bypass(apps: dict[str, Any], cookie: bytes) -> None:
    for sender, app in ((send_asgi, apps["asgi"]), (send_wsgi, apps["wsgi"])):
        assert_blocked(sender(app, STRANGER, [h("Cookie", cookie)]))


@HYPOTHESIS
@given(cookie=st.binary(max_size=200))
def test_any_cookie_bytes_never_bypass(apps: dict[str, Any], cookie: bytes) -> None:
    for sender, app in ((send_asgi, apps["asgi"]), (send_wsgi, apps["wsgi"])):
        assert_blocked(sender(app, STRANGER, [h("Cookie", cookie)]))


@HYPOTHESIS
@given(token=st.binary(max_size=300))
def test_any_token_bytes_never_bypass(apps: dict[str, Any], token: bytes) -> None:
    for sender, app in ((send_asgi, apps["asgi"]), (send_wsgi, apps["wsgi"])):
        assert_blocked(sender(app, STRANGER, [h("X-Maintenance-Bypass", token)]))


@HYPOTHESIS
@given(token=st.text(max_size=80))
def test_any_url_token_never_redirects(apps: dict[str, Any], token: str) -> None:
    path = "/__maintenance__/" + token
    for app in (apps["asgi"], apps["wsgi"]):
        if app is apps["asgi"]:
            raw = path.encode("utf-8")  # what the ASGI server decoded, as scope["path"]
            reply = _asgi_scope_call(app, path, raw)
        else:
            environ_path = path.encode("utf-8", "surrogatepass").decode("latin-1")
            reply = send_wsgi(app, STRANGER, [], environ_path)
        assert reply.status == 503, (token, reply.status)


def _asgi_scope_call(app: Any, path: str, raw_path: bytes, query: str = "") -> Reply:
    """Call the ASGI app with a scope whose decoded path httpx could not express."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def collect(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw_path,
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": (STRANGER, 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, collect))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    return Reply(start["status"], headers, body)


# -- the server may rewrite the peer first: uvicorn's own proxy headers --------------------------


@pytest.mark.parametrize(
    ("proxy_headers", "forwarded_allow_ips", "xff", "bypass"),
    [
        pytest.param(
            True, None, BYPASS_V4, True, id="default: uvicorn trusts loopback and applies XFF"
        ),
        pytest.param(False, None, BYPASS_V4, False, id="--no-proxy-headers: the real peer"),
        pytest.param(
            True, "10.0.0.0/8", BYPASS_V4, False, id="loopback not in --forwarded-allow-ips"
        ),
        pytest.param(
            True,
            "*",
            f"{BYPASS_V4}, {STRANGER}",
            True,
            id="--forwarded-allow-ips='*' takes the leftmost, client-controlled hop",
        ),
    ],
)
def test_uvicorn_proxy_headers_decide_the_peer_we_see(
    flag_on: Path, proxy_headers: bool, forwarded_allow_ips: str | None, xff: str, bypass: bool
) -> None:
    """The library trusts the peer *as the server reports it* (docs/security.md, proxies).

    A real uvicorn on 127.0.0.1, the middleware with no ``trusted_proxies``: whether a
    forged X-Forwarded-For bypasses is decided by uvicorn's options alone.
    """
    asgi = Starlette(routes=[Route("/{rest:path}", echo)])
    asgi.add_middleware(ASGIMaintenance, flag=flag_on, bypass_ips=[BYPASS_V4])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        asgi,
        lifespan="off",
        log_config=None,
        access_log=False,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        port = sock.getsockname()[1]
        r = httpx.get(f"http://127.0.0.1:{port}/checkout", headers={"X-Forwarded-For": xff})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert r.status_code == (200 if bypass else 503), r.text[:200]


@pytest.mark.parametrize(
    ("secret", "accepted"),
    [
        pytest.param("A1b2C3d4E5f6G7h8", False, id="16 characters: at most ~97 bits"),
        pytest.param("A1b2C3d4E5f6G7h8I9j0K", False, id="21 characters: under 128 bits"),
        pytest.param("A1b2C3d4E5f6G7h8I9j0K1", True, id="22 characters: 128 bits possible"),
    ],
)
def test_secrets_too_short_for_128_bits_are_refused(secret: str, accepted: bool) -> None:
    if accepted:
        assert Settings.from_options({"bypass_secret": secret}).bypass_secret == secret
    else:
        with pytest.raises(ValueError, match="bypass_secret"):
            Settings.from_options({"bypass_secret": secret})
