"""Path allowlist, client address and secret rules, as tables."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maintenance_mode.rules import (
    Networks,
    PathRules,
    address_key,
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


# -- the constant-time lookups against simple references (issue 20) ---------------------

_V4_NETWORKS = st.builds(
    lambda address, length: f"{ipaddress.IPv4Address(address)}/{length}",
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
_V6_NETWORKS = st.builds(
    lambda address, length: f"{ipaddress.IPv6Address(address)}/{length}",
    st.one_of(
        st.integers(0, 2**128 - 1), st.integers(0, 2**32 - 1).map(lambda v: 0xFFFF << 32 | v)
    ),
    st.integers(0, 128),
)
# Addresses near the networks' own (so that some match), in the forms servers and proxies send.
_ADDRESSES = st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.integers(0, 2**128 - 1).map(lambda v: str(ipaddress.IPv6Address(v))),
    st.integers(0, 2**32 - 1).map(lambda v: f"::ffff:{ipaddress.IPv4Address(v)}"),
    st.integers(0, 2**128 - 1).map(lambda v: ipaddress.IPv6Address(v).exploded.upper()),
    st.text("0123456789abcdefABCDEF:.%[]x ", max_size=24),
)


def _reference_parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The parse as it was written first: ``ipaddress`` on the text, zones as documented."""
    text = value.strip()
    if len(text) > 64:
        return None
    if text.startswith("["):
        if "]" not in text:
            return None
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":")[0]
    text, zoned, zone = text.partition("%")
    if zoned and (":" not in text or not re.fullmatch(r"[A-Za-z0-9._~-]{1,32}", zone)):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return None if zoned else address.ipv4_mapped
    return address


def _reference_in(address: object, entries: list[str]) -> bool:
    """Membership by a scan of every network, IPv4-mapped networks read as IPv4."""
    for entry in entries:
        network = ipaddress.ip_network(entry, strict=False)
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(
            ipaddress.IPv6Network("::ffff:0:0/96")
        ):
            network = ipaddress.IPv4Network(
                (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)
            )
        if isinstance(address, type(network.network_address)) and address in network:
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_V4_NETWORKS, _V6_NETWORKS), max_size=12), _ADDRESSES, st.data())
def test_networks_match_a_scan_of_every_network(
    entries: list[str], value: str, data: st.DataObject
) -> None:
    # Half the time the address is inside one of the networks (its first, last or a middle one).
    if entries and data.draw(st.booleans()):
        network = ipaddress.ip_network(data.draw(st.sampled_from(entries)), strict=False)
        offset = data.draw(st.integers(0, network.num_addresses - 1))
        value = str(network.network_address + offset)
    nets = Networks(entries)
    expected = _reference_parse(value)
    assert parse_address(value) == expected
    assert (expected in nets) is _reference_in(expected, entries)
    key = address_key(value)
    assert nets.matches(key) is _reference_in(expected, entries)
    assert bool(nets) is bool(entries)


@settings(max_examples=200, deadline=None)
@given(_ADDRESSES)
def test_address_key_is_ipaddress(value: str) -> None:
    expected = _reference_parse(value)
    assert parse_address(value) == expected
    key = address_key(value)
    if expected is None:
        assert key is None
    elif isinstance(expected, ipaddress.IPv4Address):
        assert key == int(expected)
    else:
        assert key == (1 << 128) | int(expected)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("010.0.0.1", id="IPv4 leading zero"),
        pytest.param("1.2.3", id="IPv4 three parts"),
        pytest.param("1.2.3.256", id="IPv4 octet over 255"),
        pytest.param("\u0661.2.3.4", id="IPv4 Arabic-Indic digit"),
        pytest.param("1.2.3.4 ", id="IPv4 trailing space is stripped"),
        pytest.param("1:2:3:4:5:6:7:8:9", id="IPv6 nine groups"),
        pytest.param("1::2::3", id="IPv6 two gaps"),
        pytest.param("12345::", id="IPv6 five-digit group"),
        pytest.param("::1.2.3.04", id="IPv6 embedded IPv4 leading zero"),
        pytest.param("1:2:3:4:5:6:7:1.2.3.4", id="IPv6 embedded IPv4 too long"),
        pytest.param("::ffff:1.2.3.4", id="IPv4-mapped"),
        pytest.param("1:2:3:4:5:6:7::", id="IPv6 gap of one group at the end"),
        pytest.param("[::1]:8080", id="bracketed with port"),
        pytest.param("1.2.3.4\x00", id="NUL"),
    ],
)
def test_address_key_edges(value: str) -> None:
    assert parse_address(value) == _reference_parse(value)


def test_bypass_lookup_is_per_prefix_length() -> None:
    """1,000 networks of two lengths are two set lookups, not a thousand comparisons."""
    entries = [f"10.{i // 256}.{i % 256}.0/24" for i in range(500)]
    entries += [f"2001:db8::{i:x}" for i in range(500)]
    nets = Networks(entries)
    assert len(nets) == 1000
    assert nets.matches(address_key("10.1.243.9"))  # the 500th: 10.1.243.0/24
    assert not nets.matches(address_key("10.1.244.9"))
    assert nets.matches(address_key("2001:db8::1f3"))
    assert not nets.matches(address_key("2001:db8::1f4"))
    assert not nets.matches(None)
    assert len(nets._v4) == len(nets._v6) == 1


_SEGMENTS = st.sampled_from(["a", "b", "faq", "static", "x.y", "", "é"])
_PATHS = st.lists(_SEGMENTS, max_size=5).map(lambda parts: "/" + "/".join(parts))


def _reference_match(entries: list[str], path: str) -> bool:
    """Each entry read as documented, every entry scanned."""
    for entry in entries:
        if entry.endswith("/*"):
            entry = entry[:-1]
        if entry == "/" or not entry.endswith("/"):
            if path == entry:
                return True
        elif path.startswith(entry):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_PATHS, st.sampled_from(["", "/", "/*"])).map(
            lambda pair: pair[0] + pair[1] if pair[0] != "/" else pair[0]
        ),
        max_size=10,
    ),
    _PATHS,
    st.sampled_from(["", "/", "//", "/z"]),
    st.sampled_from([0, 20]),
)
def test_path_rules_match_a_scan_of_every_entry(
    entries: list[str], path: str, tail: str, fillers: int
) -> None:
    # With fillers there are more prefixes than one startswith() call is used for.
    valid = [f"/{i}/" for i in range(fillers)]
    for entry in entries:
        try:
            check_allow_entry(entry)
        except ValueError:
            continue
        valid.append(entry)
    rules = PathRules.compile(valid)
    for candidate in (path, path + tail):
        assert rules.match(candidate) is _reference_match(valid, candidate), candidate


def test_path_rules_with_many_prefixes() -> None:
    rules = PathRules.compile([f"/docs/v{i}/" for i in range(1000)] + ["/faq"])
    assert rules.match("/docs/v999/index.html")
    assert rules.match("/docs/v0/")
    assert not rules.match("/docs/v1000/index.html")
    assert not rules.match("/docs/v1")
    assert not rules.match("/docs/")
    assert rules.match("/faq")
    assert not rules.match("/faq/")
    # Slashes past the longest entry are never looked at, however many a path has.
    assert not rules.match("/docs/x" + "/" * 10_000)
    assert rules.match("/docs/v1/" + "/" * 10_000)


def test_path_rules_refuse_prefixes_that_compile_would_not_make() -> None:
    with pytest.raises(ValueError, match="must start and end with '/'"):
        PathRules(frozenset(), ("/static",))
