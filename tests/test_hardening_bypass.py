"""Bypass cookies, header values and client addresses: issue 19, items 8, 9 and 10.

* Lowering ``bypass_cookie_max_age`` shortens cookies already issued: a cookie
  carries its signed issue time, checked against the maximum age in force.
* Every value that reaches a header is one well-formed token: a brand URL whose
  origin goes into the Content-Security-Policy cannot add a directive.
* An IPv4 address with a zone suffix (``10.0.0.5%eth0``) is not an address, in
  ``X-Forwarded-For`` or as the peer; an IPv6 link-local address with a zone is
  matched without it.

Requests go through both adapters: the WSGI middleware under
``wsgiref.validate.validator``, and the ASGI middleware through ``httpx.ASGITransport``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import re
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BROWSER_ACCEPT
from maintenance_mode import rules
from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.core import Maintenance, RequestInfo
from maintenance_mode.rules import parse_address, sign_cookie
from maintenance_mode.state import MaintenanceState, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

SECRET = "bypass-test-secret-0123456789"
COOKIE = "maintenance_bypass"
DAY = 24 * 3600
HOUR = 3600

Fetch = Callable[..., tuple[int, dict[str, str], bytes]]


def fetch_wsgi(
    options: dict[str, Any],
    path: str = "/checkout",
    *,
    headers: dict[str, str] | None = None,
    peer: str = "198.51.100.9",
) -> tuple[int, dict[str, str], bytes]:
    def inner(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"app"]

    app = validator(WSGIMaintenance(inner, **options))
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "REMOTE_ADDR": peer,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, response_headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]
    return int(seen["status"].split()[0]), dict(seen["headers"]), body


def fetch_asgi(
    options: dict[str, Any],
    path: str = "/checkout",
    *,
    headers: dict[str, str] | None = None,
    peer: str = "198.51.100.9",
) -> tuple[int, dict[str, str], bytes]:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    app = ASGIMaintenance(inner, **options)

    async def go() -> tuple[int, dict[str, str], bytes]:
        transport = httpx.ASGITransport(app=app, client=(peer, 41000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get(path, headers=headers or {})
            return r.status_code, dict(r.headers), r.content

    return asyncio.run(go())


@pytest.fixture(params=["wsgi", "asgi"])
def fetch(request: pytest.FixtureRequest) -> Fetch:
    return fetch_wsgi if request.param == "wsgi" else fetch_asgi


@pytest.fixture
def on(flag_path: Path) -> Path:
    write_state_atomic(flag_path, MaintenanceState(reason="Bypass checks"))
    return flag_path


# -- item 8: the cookie's issue time against the current maximum age ----------------------


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={value}"}


@pytest.mark.parametrize(
    ("signed_for", "age", "max_age", "bypassed"),
    [
        pytest.param(7 * DAY, 0, HOUR, True, id="fresh cookie, lowered maximum"),
        pytest.param(7 * DAY, 2 * HOUR, HOUR, False, id="older than the lowered maximum"),
        pytest.param(7 * DAY, 2 * HOUR, 3 * HOUR, True, id="younger than the lowered maximum"),
        pytest.param(7 * DAY, 6 * DAY, 12 * HOUR, False, id="a week-long cookie after 6 days"),
        pytest.param(HOUR, 2 * HOUR, 7 * DAY, False, id="raising the maximum extends nothing"),
    ],
)
def test_lowering_the_maximum_age_shortens_issued_cookies(
    fetch: Fetch, on: Path, signed_for: int, age: int, max_age: int, bypassed: bool
) -> None:
    value = sign_cookie(SECRET.encode(), signed_for, now=time.time() - age)
    options = {"flag": on, "bypass_secret": SECRET, "bypass_cookie_max_age": max_age}
    status, _, body = fetch(options, headers=cookie_header(value))
    assert (status, body == b"app") == ((200, True) if bypassed else (503, False))


def test_a_cookie_from_the_secret_url_follows_the_current_maximum(
    on: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issued at 7 days; the option is lowered to an hour; two hours later it is refused."""
    issued = {"flag": on, "bypass_secret": SECRET, "bypass_cookie_max_age": 7 * DAY}
    status, headers, _ = fetch_wsgi(issued, f"/__maintenance__/{SECRET}")
    assert status == 303
    value = re.match(rf"{COOKIE}=([^;]+);", headers["Set-Cookie"])
    assert value is not None
    assert "Max-Age=604800" in headers["Set-Cookie"]
    lowered = {**issued, "bypass_cookie_max_age": HOUR}
    start = time.time()
    for later, expected in ((0, 200), (30 * 60, 200), (2 * HOUR, 503), (6 * DAY, 503)):
        clock = types.SimpleNamespace(time=lambda later=later: start + later)
        monkeypatch.setattr(rules, "time", clock)  # the cookie check's clock only
        for fetcher in (fetch_wsgi, fetch_asgi):
            status, _, _ = fetcher(lowered, headers=cookie_header(value[1]))
            assert status == expected, (later, fetcher.__name__)
        # Under the option it was issued with, the same cookie is still good.
        assert fetch_wsgi(issued, headers=cookie_header(value[1]))[0] == 200


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda now: sign_cookie(SECRET.encode(), HOUR, now=now + 3600), id="future"),
        pytest.param(
            lambda now: (
                f"{int(now) + 3600}."
                + hmac.new(
                    SECRET.encode(),
                    b"maintenance-mode bypass cookie v1:" + str(int(now) + 3600).encode(),
                    hashlib.sha256,
                ).hexdigest()
            ),
            id="first format, without an issue time",
        ),
        pytest.param(lambda now: sign_cookie(SECRET.encode(), HOUR, now=now)[:-1], id="cut"),
        pytest.param(
            lambda now: sign_cookie(SECRET.encode(), HOUR, now=now).replace(".", ".1", 1),
            id="issue time changed",
        ),
    ],
)
def test_cookies_that_do_not_count(fetch: Fetch, on: Path, value: Callable[[float], str]) -> None:
    options = {"flag": on, "bypass_secret": SECRET}
    status, _, _ = fetch(options, headers=cookie_header(value(time.time())))
    assert status == 503


# -- item 9: values that reach a header ----------------------------------------------------

HOSTILE_URLS = [
    pytest.param("https://cdn.example.com; frame-ancestors *", id="the issue's CSP rewrite"),
    pytest.param("https://cdn.example.com;script-src 'unsafe-inline'", id="semicolon, no space"),
    pytest.param("https://cdn.example.com,https://evil.example", id="comma: a second source"),
    pytest.param("https://cdn.example.com https://evil.example", id="space: a second source"),
    pytest.param("https://cdn.example.com\thttps://evil.example", id="tab"),
    pytest.param("https://cdn.example.com/logo.png 'unsafe-inline'", id="quoted keyword"),
    pytest.param('https://cdn.example.com/"x"', id="double quotes"),
    pytest.param("https://cdn.example.com/\r\nSet-Cookie: x=1", id="CR LF"),
    pytest.param("https://cdn.example.com/\x00", id="NUL"),
    pytest.param("https://cdn.example.com/\x85x.png", id="C1 control"),
    pytest.param("https://user:pw@cdn.example.com/logo.png", id="user info"),
    pytest.param("https://cdn_example.com/logo.png", id="underscore in the host"),
    pytest.param("https://cdn.example.com:99999/logo.png", id="port out of range"),
    pytest.param("https://cdn.example.com:/logo.png", id="empty port"),
    pytest.param("https:///logo.png", id="no host"),
    pytest.param("https://b\u00fccher.example/logo.png", id="non-ASCII host"),
    pytest.param("https://*.example.com/logo.png", id="wildcard host"),
]


@pytest.mark.parametrize("field", ["logo_url", "favicon_url"])
@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_brand_urls_must_be_one_well_formed_url(on: Path, field: str, url: str) -> None:
    with pytest.raises(ValueError, match=f"option 'brand.{field}'") as caught:
        Maintenance(flag=on, brand={field: url})
    assert "\n" not in str(caught.value)


BROWSER_HTML = {"Accept": BROWSER_ACCEPT}  # the page (and its img-src) is what a browser gets
GOOD_URLS = [
    ("https://cdn.example.com/logo.svg", "https://cdn.example.com", "plain"),
    ("https://CDN.Example.com:8443/a/b.png?v=2#x", "https://cdn.example.com:8443", "port, query"),
    ("https://xn--bcher-kva.example/l.png", "https://xn--bcher-kva.example", "IDN"),
    ("https://[2001:db8::1]/l.png", "https://[2001:db8::1]", "IPv6 literal"),
    ("https://cdn.example.com/a%20b%3Bc.png", "https://cdn.example.com", "encoded"),
]


@pytest.mark.parametrize(
    ("url", "origin"), [pytest.param(url, origin, id=name) for url, origin, name in GOOD_URLS]
)
def test_a_good_brand_url_adds_exactly_its_origin(
    fetch: Fetch, on: Path, url: str, origin: str
) -> None:
    status, headers, _ = fetch({"flag": on, "brand": {"logo_url": url}}, headers=BROWSER_HTML)
    assert status == 503
    directives = csp_directives(
        headers["content-security-policy" if fetch is fetch_asgi else "Content-Security-Policy"]
    )
    assert directives["img-src"] == ["'self'", "data:", origin]
    assert directives["frame-ancestors"] == ["'none'"]


_DIRECTIVES = {
    "default-src", "script-src", "connect-src", "style-src", "img-src", "base-uri",
    "form-action", "frame-ancestors",
}  # fmt: skip
_SOURCE = re.compile(
    r"'(?:none|self|unsafe-inline|sha256-[A-Za-z0-9+/=]+)'|data:|https://[a-z0-9.\-\[\]:]+"
)


def csp_directives(policy: str) -> dict[str, list[str]]:
    """The policy as directive -> sources; fails on anything not of the page's own making."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name in _DIRECTIVES, policy
        assert name not in found, policy
        assert all(_SOURCE.fullmatch(source) for source in sources), policy
        found[name] = sources
    return found


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    url=st.one_of(
        st.text(max_size=80).map(lambda tail: "https://cdn.example.com" + tail),
        st.text(max_size=80).map(lambda text: "https://" + text),
        st.from_regex(r"https://[a-z0-9.:\[\]_@-]{1,30}/[ -~]{0,20}", fullmatch=True),
    )
)
def test_any_brand_url_is_refused_or_stays_one_source(url: str) -> None:
    """Whatever the URL, the CSP keeps exactly the page's own directives and sources."""
    try:
        engine = Maintenance(flag="env:MAINTENANCE_BYPASS_TEST_UNSET", brand={"logo_url": url})
    except ValueError:
        return
    page = engine._renderer.page("html", MaintenanceState(), overrun=False)
    policy = dict(page.headers)["Content-Security-Policy"]
    policy.encode("latin-1")  # a header value
    directives = csp_directives(policy)
    assert directives["frame-ancestors"] == ["'none'"]
    assert len(directives["img-src"]) <= 3


# -- item 10: an IPv4 address with a zone is not an address ----------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("10.0.0.5%eth0", None, id="IPv4 with a zone"),
        pytest.param("10.0.0.5%eth0:8080", None, id="IPv4 with a zone and a port"),
        pytest.param("10.0.0.5%", None, id="IPv4 with an empty zone"),
        pytest.param("::ffff:10.0.0.5%eth0", None, id="IPv4-mapped with a zone"),
        pytest.param("[::ffff:10.0.0.5%eth0]:443", None, id="bracketed IPv4-mapped with a zone"),
        pytest.param("fe80::1%", None, id="IPv6 with an empty zone"),
        pytest.param("fe80::1%eth0:80", None, id="IPv6 zone with a port glued on"),
        pytest.param("fe80::1%eth 0", None, id="IPv6 zone with a space"),
        pytest.param("fe80::1%eth0", "fe80::1", id="link-local IPv6: zone dropped"),
        pytest.param("[fe80::1%eth0]:443", "fe80::1", id="bracketed link-local with a port"),
        pytest.param("10.0.0.5", "10.0.0.5", id="control: IPv4"),
        pytest.param("::ffff:10.0.0.5", "10.0.0.5", id="control: IPv4-mapped"),
    ],
)
def test_zones(value: str, expected: str | None) -> None:
    parsed = parse_address(value)
    assert parsed == (None if expected is None else ipaddress.ip_address(expected))


@pytest.mark.parametrize(
    ("peer", "forwarded", "bypassed"),
    [
        pytest.param("127.0.0.1", "10.0.0.5", True, id="control: a bypass address via the proxy"),
        pytest.param("127.0.0.1", "10.0.0.5%eth0", False, id="X-Forwarded-For hop with a zone"),
        pytest.param("127.0.0.1", "10.0.0.5%eth0, 127.0.0.1", False, id="zoned hop behind a proxy"),
        pytest.param("127.0.0.1", "10.0.0.5%25eth0", False, id="percent-encoded zone"),
        pytest.param("10.0.0.5", None, True, id="control: a bypass peer"),
        pytest.param("10.0.0.5%eth0", None, False, id="peer with a zone"),
        pytest.param("fe80::1%eth0", None, True, id="link-local IPv6 peer with a zone"),
    ],
)
def test_zoned_addresses_never_match_a_bypass_network(
    fetch: Fetch, on: Path, peer: str, forwarded: str | None, bypassed: bool
) -> None:
    options = {
        "flag": on,
        "bypass_ips": ["10.0.0.0/8", "fe80::/10"],
        "trusted_proxies": ["127.0.0.1"],
    }
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    status, _, body = fetch(options, headers=headers, peer=peer)
    assert (status, body == b"app") == ((200, True) if bypassed else (503, False))


def test_the_engine_sees_a_zoned_hop_as_no_address(on: Path) -> None:
    engine = Maintenance(flag=on, bypass_ips=["10.0.0.0/8"], trusted_proxies=["127.0.0.1"])
    request = RequestInfo("GET", "/checkout", "", "127.0.0.1", "10.0.0.5%eth0")
    decision = engine.decide(engine.poll(), request)
    assert decision.action == "respond"
