"""Path allowlist, client address and secret rules, as tables."""

from __future__ import annotations

import ipaddress

import pytest

from maintenance_mode.rules import (
    Networks,
    PathRules,
    app_path,
    check_allow_entry,
    client_address,
    parse_address,
    sign_cookie,
    token_matches,
    verify_cookie,
    wsgi_path,
)

RULES = PathRules.compile(["/faq", "/static/", "/blog/*", "/", "/api/v1/health"])


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        pytest.param("/faq", True, id="exact"),
        pytest.param("/faq/", False, id="exact admits no trailing slash"),
        pytest.param("/faqadmin", False, id="exact is not a prefix"),
        pytest.param("/faq/admin", False, id="exact does not admit children"),
        pytest.param("/FAQ", False, id="case sensitive"),
        pytest.param("/\uff46\uff41\uff51", False, id="fullwidth look-alike"),
        pytest.param("/faq;jsessionid=1", False, id="semicolon params are literal"),
        pytest.param("/static/app.css", True, id="prefix child"),
        pytest.param("/static/", True, id="prefix itself"),
        pytest.param("/static", False, id="prefix does not admit its bare form"),
        pytest.param("/staticfoo", False, id="prefix needs a segment boundary"),
        pytest.param("/static/a/b/c.js", True, id="deep prefix child"),
        pytest.param("/blog/post-1", True, id="slash-star prefix"),
        pytest.param("/blogger", False, id="slash-star needs boundary"),
        pytest.param("/", True, id="root entry is home page only"),
        pytest.param("/checkout", False, id="root entry is not a prefix"),
        pytest.param("/api/v1/health", True, id="multi-segment exact"),
        pytest.param(None, False, id="ambiguous path never matches"),
    ],
)
def test_path_rules(path: str | None, allowed: bool) -> None:
    assert RULES.match(path) is allowed


@pytest.mark.parametrize(
    ("path", "root", "raw", "expected"),
    [
        pytest.param("/faq", "", None, "/faq", id="plain"),
        pytest.param("/static/../admin", "", None, None, id="dot-dot segment"),
        pytest.param("/static/./x", "", None, None, id="dot segment"),
        pytest.param("/faq/..", "", None, None, id="trailing dot-dot"),
        pytest.param("/faq/.", "", None, None, id="trailing dot"),
        pytest.param("//faq", "", None, None, id="doubled slash at start"),
        pytest.param("/static//x", "", None, None, id="doubled slash inside"),
        pytest.param("/faq\\..\\admin", "", None, None, id="backslash"),
        pytest.param("/faq\x00", "", None, None, id="NUL"),
        pytest.param("/faq\r\nX: y", "", None, None, id="CR LF"),
        pytest.param("/faq\x7f", "", None, None, id="DEL"),
        pytest.param("/faq\ufffd", "", None, None, id="replacement char from invalid UTF-8"),
        pytest.param("faq", "", None, None, id="no leading slash"),
        pytest.param("/static/a/b", "", b"/static/a%2Fb", None, id="encoded slash in raw path"),
        pytest.param("/static/./x", "", b"/static/%2e/x", None, id="encoded dot in raw path"),
        pytest.param("/static/x", "", b"/static/%2E%2E/x", None, id="upper-case encoded dots"),
        pytest.param("/static/a\\b", "", b"/static/a%5cb", None, id="encoded backslash"),
        pytest.param(
            "/static/caf\u00e9", "", b"/static/caf%C3%A9", "/static/caf\u00e9", id="utf-8"
        ),
        pytest.param("/app/faq", "/app", None, "/faq", id="root path stripped"),
        pytest.param("/app", "/app", None, "/", id="root path alone is home"),
        pytest.param("/application/faq", "/app", None, None, id="root must end on a segment"),
        pytest.param("/faq", "/app", None, None, id="path outside root"),
    ],
)
def test_app_path(path: str, root: str, raw: bytes | None, expected: str | None) -> None:
    assert app_path(path, root, raw) == expected


@pytest.mark.parametrize(
    ("path_info", "expected"),
    [
        pytest.param("/faq", "/faq", id="ascii"),
        pytest.param("/caf\u00c3\u00a9", "/caf\u00e9", id="utf-8 bytes carried as latin-1"),
        pytest.param("/caf\u00e9", None, id="invalid utf-8 (a lone latin-1 byte)"),
        pytest.param("/a/../faq", None, id="dot segments"),
    ],
)
def test_wsgi_path(path_info: str, expected: str | None) -> None:
    assert wsgi_path(path_info) == expected


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param("faq", "must be a path starting with '/'", id="relative"),
        pytest.param("/faq?x=1", "query or fragment", id="query"),
        pytest.param("/faq#top", "query or fragment", id="fragment"),
        pytest.param("/st*tic/", "'*' may only end an entry", id="inner star"),
        pytest.param("/a/../b", "'.' or '..' segment", id="dot-dot"),
        pytest.param("//x", "'//'", id="double slash"),
    ],
)
def test_bad_allow_entries(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match="allow entry") as info:
        check_allow_entry(entry)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1.2.3.4", "1.2.3.4", id="ipv4"),
        pytest.param(" 1.2.3.4 ", "1.2.3.4", id="blanks"),
        pytest.param("1.2.3.4:5678", "1.2.3.4", id="ipv4 with port"),
        pytest.param("::1", "::1", id="ipv6"),
        pytest.param("[::1]:443", "::1", id="bracketed ipv6 with port"),
        pytest.param("::ffff:10.0.0.1", "10.0.0.1", id="ipv4-mapped ipv6 unwrapped"),
        pytest.param("fe80::1%eth0", "fe80::1", id="zone dropped"),
        pytest.param("10a0b0c1", None, id="junk that a regex would admit"),
        pytest.param("unknown", None, id="word"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="missing"),
        pytest.param("[::1", None, id="unclosed bracket"),
        pytest.param("1" * 100, None, id="huge"),
    ],
)
def test_parse_address(value: str | None, expected: str | None) -> None:
    result = parse_address(value)
    assert (str(result) if result else None) == expected


PROXIES = Networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "xff", "proxies", "expected"),
    [
        pytest.param(
            "203.0.113.9", "127.0.0.1", PROXIES, "203.0.113.9", id="untrusted peer: XFF ignored"
        ),
        pytest.param(
            "10.0.0.2", "203.0.113.9", PROXIES, "203.0.113.9", id="trusted proxy: its client"
        ),
        pytest.param(
            "10.0.0.2",
            "127.0.0.1, 203.0.113.9",
            PROXIES,
            "203.0.113.9",
            id="forged left hop ignored",
        ),
        pytest.param(
            "10.0.0.2",
            "203.0.113.9, 10.0.0.7",
            PROXIES,
            "203.0.113.9",
            id="walks past trusted hops",
        ),
        pytest.param("10.0.0.2", "10.0.0.7, 10.0.0.8", PROXIES, "10.0.0.7", id="all hops trusted"),
        pytest.param(
            "10.0.0.2", "junk, 203.0.113.9", PROXIES, "203.0.113.9", id="junk left of client"
        ),
        pytest.param("10.0.0.2", "203.0.113.9, junk", PROXIES, None, id="junk hop hides client"),
        pytest.param("10.0.0.2", None, PROXIES, "10.0.0.2", id="no header"),
        pytest.param("10.0.0.2", "203.0.113.9", Networks([]), "10.0.0.2", id="no trusted proxies"),
        pytest.param(None, "203.0.113.9", PROXIES, None, id="missing peer"),
        pytest.param("::1", "[2001:db8::1]:80", PROXIES, "2001:db8::1", id="ipv6 proxy and hop"),
    ],
)
def test_client_address(
    peer: str | None, xff: str | None, proxies: Networks, expected: str | None
) -> None:
    result = client_address(peer, xff, proxies)
    assert (str(result) if result else None) == expected


def test_networks_membership() -> None:
    nets = Networks(["10.0.0.1", "192.168.0.0/16"])
    assert ipaddress.ip_address("10.0.0.1") in nets
    assert ipaddress.ip_address("10.0.0.100") not in nets  # no prefix-regex matching
    assert ipaddress.ip_address("192.168.4.5") in nets
    assert "10.0.0.1" not in nets  # strings are not addresses
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        Networks(["10.0.0.300"])


SECRET = b"s3cret-s3cret-s3cret"


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        pytest.param(sign_cookie(SECRET, 3600, now=1000), True, id="good"),
        pytest.param(sign_cookie(SECRET, 3600, now=1000)[:-1], False, id="truncated"),
        pytest.param(sign_cookie(b"old-secret-old-secret", 3600, now=1000), False, id="old secret"),
        pytest.param(sign_cookie(SECRET, 10, now=0), False, id="expired"),
        pytest.param("1000.99999999999." + "0" * 64, False, id="forged mac"),
        pytest.param("", False, id="empty"),
        pytest.param(".", False, id="only a dot"),
        pytest.param("abc.def", False, id="non-numeric expiry"),
        pytest.param("\uff11\uff12\uff13.abc", False, id="unicode digits"),
        pytest.param("1" * 500, False, id="huge"),
        pytest.param("4600." + "é" * 64, False, id="non-ascii mac"),
    ],
)
def test_verify_cookie(value: str, valid: bool) -> None:
    assert verify_cookie(SECRET, value, max_age=3600, now=2000) is valid


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        pytest.param("s3cret-s3cret-s3cret", True, id="right"),
        pytest.param("s3cret-s3cret-s3cre", False, id="one short"),
        pytest.param("", False, id="empty"),
        pytest.param("é" * 20, False, id="non-ascii"),
        pytest.param("x" * 100_000, False, id="huge"),
    ],
)
def test_token_matches(token: str, ok: bool) -> None:
    assert token_matches(SECRET, token) is ok


def test_ipv4_mapped_networks_match_unwrapped_clients() -> None:
    nets = Networks(["::ffff:10.0.0.0/104"])
    assert parse_address("10.1.2.3") in nets
    assert parse_address("::ffff:10.1.2.3") in nets
    assert parse_address("11.0.0.1") not in nets


@pytest.mark.parametrize("char", ["\x85", "\x9b", "\x80"], ids=["NEL", "CSI", "PAD"])
def test_c1_controls_are_ambiguous(char: str) -> None:
    assert app_path(f"/faq{char}") is None
