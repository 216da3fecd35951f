"""Request rules that are pure functions of their input: paths, client addresses, secrets.

Everything here is compiled once (at construction or when the state changes) and
then only looked up. Trust model, in short:

* Paths are matched on what the app routes on (WSGI ``PATH_INFO``, ASGI ``path``
  minus ``root_path``), as literals, each entry meaning exactly what it says:
  ``/faq`` admits ``/faq`` only (not ``/faq/``, which a strict-slash router may
  send to another view); ``/static/`` admits ``/static/`` and everything below it
  (not ``/static``). Anything ambiguous (dot segments, ``//``, backslashes,
  control characters, invalid UTF-8, encoded ``/`` or ``.`` in the raw path) is
  never allowlisted. The query string and the Host header are never consulted.
* The client address is the socket peer. ``X-Forwarded-For`` is read only when
  the peer is a configured trusted proxy, walking right to left past trusted
  hops; every other forwarding header is ignored. Junk means "no address".
* Secrets are compared in constant time on bytes; bypass cookies carry their issue
  time, an expiry and an HMAC keyed by the current secret, so rotating it revokes
  them, and lowering the maximum age shortens them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from collections.abc import Iterable, Sequence
from socket import AF_INET, AF_INET6, inet_pton

from ._records import FrozenRecord

__all__ = [
    "Networks",
    "PathRules",
    "ViewRules",
    "address_key",
    "app_path",
    "client_address",
    "client_key",
    "sign_cookie",
    "strip_root",
    "unambiguous",
    "verify_cookie",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
#: An address as one integer (see :func:`address_key`): IPv6 carries this bit above its 128.
_V6 = 1 << 128
_V4_MAX = 0xFFFFFFFF
#: Up to this many prefixes, one ``str.startswith`` over all of them is the cheaper lookup.
_FEW_PREFIXES = 16

# Anything in a path that routers, proxies and browsers may read differently.
_AMBIGUOUS = re.compile(r"[\x00-\x1f\x7f-\x9f\\\ufffd]|//|(?:^|/)\.\.?(?:/|$)")
_RAW_AMBIGUOUS = re.compile(rb"%(?:2[fFeE]|5[cC]|00)")
#: An IPv6 zone (RFC 6874: unreserved characters), as in ``fe80::1%eth0``.
_ZONE = re.compile(r"[A-Za-z0-9._~-]{1,32}")


def check_allow_entry(entry: str) -> str:
    """Validate one ``allow`` entry and return its normal form.

    ``/faq`` is an exact path: ``/faq`` only. ``/static/`` (or ``/static/*``) is a
    prefix on a segment boundary: ``/static/`` and everything below it, but not
    ``/static``. ``/`` alone means the home page only. List both forms when the
    router redirects one to the other.
    """
    if not isinstance(entry, str):
        raise TypeError(f"allow entries must be strings, got {type(entry).__name__}")
    if not entry.startswith("/"):
        raise ValueError(f"allow entry {entry!r} must be a path starting with '/', like '/faq'")
    if "?" in entry or "#" in entry:
        raise ValueError(
            f"allow entry {entry!r} has a query or fragment; entries match paths only, "
            "drop everything from '?' or '#'"
        )
    if entry == "/*":
        raise ValueError(
            "allow entry '/*' would admit every path; list the lite routes instead "
            "(write '/' for the home page alone)"
        )
    if entry.endswith("/*"):
        entry = entry[:-1]
    if "*" in entry:
        raise ValueError(
            f"allow entry {entry!r}: '*' may only end an entry, as in '/static/*' (a prefix)"
        )
    if _AMBIGUOUS.search(entry):
        raise ValueError(
            f"allow entry {entry!r} contains '//', a '.' or '..' segment, a backslash "
            "or a control character; write the plain path"
        )
    return entry


class PathRules(FrozenRecord):
    """A compiled allowlist: a set of exact paths and a set of segment prefixes.

    No implicit variants: an entry without a trailing slash is exact, one with a
    trailing slash is a prefix that includes itself (see :func:`check_allow_entry`).
    Beyond a few prefixes, a path is matched by looking up its own prefixes that
    end at a ``/`` (no longer than the longest entry) in a set, so the cost does
    not grow with the number of entries.
    """

    __slots__ = ("_few", "_limit", "_prefix_set", "exact", "prefixes")
    __match_args__ = ("exact", "prefixes")

    exact: frozenset[str]
    prefixes: tuple[str, ...]
    _prefix_set: frozenset[str]
    _few: bool
    #: The longest prefix: slashes beyond it cannot end a listed prefix.
    _limit: int

    def __init__(self, exact: frozenset[str], prefixes: tuple[str, ...]) -> None:
        for prefix in prefixes:
            if len(prefix) < 2 or not prefix.startswith("/") or not prefix.endswith("/"):
                raise ValueError(
                    f"PathRules prefix {prefix!r} must start and end with '/', like '/static/'; "
                    "build the rules with PathRules.compile"
                )
        init = object.__setattr__
        init(self, "exact", exact)
        init(self, "prefixes", prefixes)
        init(self, "_prefix_set", frozenset(prefixes))
        init(self, "_few", len(prefixes) <= _FEW_PREFIXES)
        init(self, "_limit", max(map(len, prefixes), default=0))

    @classmethod
    def compile(cls, entries: Iterable[str]) -> PathRules:
        exact: set[str] = set()
        prefixes: set[str] = set()
        for raw in entries:
            entry = check_allow_entry(raw)
            if entry == "/":
                exact.add("/")
            elif entry.endswith("/"):
                prefixes.add(entry)
            else:
                exact.add(entry)
        return cls(frozenset(exact), tuple(sorted(prefixes)))

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes)

    def match(self, path: str | None) -> bool:
        """True when ``path`` (already from :func:`app_path`) is allowlisted."""
        if path is None:
            return False
        if path in self.exact:
            return True
        if self._few:
            return path.startswith(self.prefixes)
        # Every prefix starts with "/" and ends with "/" after at least one more character:
        # ``path`` starts with one exactly when its text up to one of its later "/" is one.
        limit = self._limit
        prefixes = self._prefix_set
        end = path.find("/", 1, limit)
        while end > 0:
            if path[: end + 1] in prefixes:
                return True
            end = path.find("/", end + 1, limit)
        return False


def app_path(path: str, root: str = "", raw_path: bytes | None = None) -> str | None:
    """The app-relative, unambiguous path, or None when it must not be allowlisted.

    ``path`` is the decoded path as the server gives it. For WSGI pass
    ``PATH_INFO`` (a latin-1 native string) and no root; for ASGI pass ``path``,
    ``root_path`` and ``raw_path``.
    """
    stripped = strip_root(path, root)
    return None if stripped is None else unambiguous(stripped, raw_path)


def strip_root(path: str, root: str) -> str | None:
    """``path`` without the mount prefix ``root``, or None when it is outside the mount."""
    if not root:
        return path
    if path == root:
        return "/"
    if path.startswith(root) and path[len(root)] == "/":
        return path[len(root) :]
    return None


def unambiguous(path: str, raw_path: bytes | None = None) -> str | None:
    """``path`` itself when every reader would see the same path, else None.

    The engine runs this only when a literal rule matched, so a request that no
    rule names skips both regular expressions.
    """
    if not path.startswith("/") or _AMBIGUOUS.search(path):
        return None
    if raw_path is not None and _RAW_AMBIGUOUS.search(raw_path):
        return None
    return path


def wsgi_path(path_info: str) -> str | None:
    """Decode a WSGI ``PATH_INFO`` (UTF-8 bytes carried as latin-1) and check it."""
    decoded = wsgi_text_path(path_info)
    return None if decoded is None else app_path(decoded)


def wsgi_text_path(path_info: str) -> str | None:
    """A WSGI ``PATH_INFO`` as text (None when it is not UTF-8); not yet checked."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


class ViewRules(FrozenRecord):
    """Allowlisted view names: exact names, and namespaces written ``admin:*`` or ``blog.*``."""

    __slots__ = __match_args__ = ("exact", "prefixes")

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    def __init__(self, exact: frozenset[str], prefixes: tuple[str, ...]) -> None:
        init = object.__setattr__
        init(self, "exact", exact)
        init(self, "prefixes", prefixes)

    @classmethod
    def compile(cls, names: Iterable[str]) -> ViewRules:
        exact = {name for name in names if not name.endswith("*")}
        prefixes = tuple(sorted(name[:-1] for name in names if name.endswith("*")))
        return cls(frozenset(exact), prefixes)

    def match(self, name: str | None) -> bool:
        if not name:
            return False
        return name in self.exact or name.startswith(self.prefixes)


class Networks:
    """A parsed set of IP networks (single addresses become /32 or /128).

    Matched in time independent of the number of networks: the networks are
    grouped by prefix length into sets of integer network addresses (see
    :func:`address_key`), and an address costs one set lookup per distinct
    prefix length. IPv4-mapped IPv6 networks (``::ffff:10.0.0.0/104``) are kept
    as the IPv4 networks they are, since client addresses are unwrapped too.
    """

    __slots__ = ("_count", "_v4", "_v6")

    def __init__(self, entries: Sequence[str]) -> None:
        v4: dict[int, set[int]] = {}
        v6: dict[int, set[int]] = {}
        count = 0
        for entry in entries:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or CIDR network (e.g. '10.0.0.0/8', '::1')"
                ) from None
            network = self._unmapped(network)
            count += 1
            if isinstance(network, ipaddress.IPv4Network):
                shift = 32 - network.prefixlen
                v4.setdefault(shift, set()).add(int(network.network_address) >> shift)
            else:
                shift = 128 - network.prefixlen
                v6.setdefault(shift, set()).add((_V6 | int(network.network_address)) >> shift)
        self._count = count
        # Longest prefixes first: most lists are single addresses and narrow networks.
        self._v4 = tuple((shift, frozenset(v4[shift])) for shift in sorted(v4))
        self._v6 = tuple((shift, frozenset(v6[shift])) for shift in sorted(v6))

    @staticmethod
    def _unmapped(network: IPNetwork) -> IPNetwork:
        """``::ffff:10.0.0.0/104`` is ``10.0.0.0/8``: clients are compared unwrapped too."""
        if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):
            base = int(network.network_address) & 0xFFFFFFFF
            return ipaddress.IPv4Network((base, network.prefixlen - 96))
        return network

    def __bool__(self) -> bool:
        return self._count > 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, address: object) -> bool:
        if isinstance(address, ipaddress.IPv4Address):
            return self.matches(int(address))
        if isinstance(address, ipaddress.IPv6Address):
            return self.matches(_V6 | int(address))
        return False

    def matches(self, key: int | None) -> bool:
        """True when the address ``key`` (from :func:`address_key`; None: no address) is in."""
        if key is None:
            return False
        for shift, networks in self._v6 if key > _V4_MAX else self._v4:
            if key >> shift in networks:
                return True
        return False


def _strict(family: int, refused: tuple[str, ...]) -> bool:
    """True when this C library's ``inet_pton`` refuses what :mod:`ipaddress` refuses."""
    for text in refused:
        try:
            inet_pton(family, text)
        except (OSError, ValueError):
            continue
        return False
    return True


# glibc, musl and the BSDs (macOS) refuse all of these; where a C library is laxer, its
# ``inet_pton`` is not used and :mod:`ipaddress` parses every address.
_PTON4 = _strict(
    AF_INET,
    ("010.0.0.1", "1.2.3", "1.2.3.256", "0x1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4.5", "1..2.3"),
)
_PTON6 = _strict(
    AF_INET6,
    (
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "12345::",
        "::1.2.3.04",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4::5:6:7:8",
        ":1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:",
        "1.2.3.4::",
        ":::",
        "::0x1",
        " ::1",
        "::1 ",
        "[::1]",
        "fe80::1%eth0",
        "::\uff11",
        "::g",
    ),
)


def address_key(value: str | None) -> int | None:
    """:func:`parse_address` as one integer: IPv4 as is, IPv6 with bit 128 set; junk gives None.

    A plain address (what servers put in the peer) is read by the C library's
    ``inet_pton`` where it is as strict as :mod:`ipaddress` (checked at import);
    anything else (ports, brackets, zones, spaces) goes through the documented
    steps, with :mod:`ipaddress` having the last word.
    """
    if not value:
        return None
    if ":" not in value:
        if _PTON4:
            try:
                return int.from_bytes(inet_pton(AF_INET, value))
            except (OSError, ValueError):
                pass
    elif _PTON6:
        try:
            number = int.from_bytes(inet_pton(AF_INET6, value))
        except (OSError, ValueError):
            pass
        else:
            return number & _V4_MAX if number >> 32 == 0xFFFF else _V6 | number
    return _parsed_key(value)


def _parsed_key(value: str) -> int | None:
    text = value.strip()
    if len(text) > 64:
        return None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    text, zoned, zone = text.partition("%")
    if zoned and (":" not in text or not _ZONE.fullmatch(zone)):  # IPv6 only, a plain name
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return int(address)
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address itself
        return None if zoned else int(address.ipv4_mapped)
    return _V6 | int(address)


def _address(key: int | None) -> IPAddress | None:
    if key is None:
        return None
    if key > _V4_MAX:
        return ipaddress.IPv6Address(key ^ _V6)
    return ipaddress.IPv4Address(key)


def parse_address(value: str | None) -> IPAddress | None:
    """Parse one address as found in a peer or X-Forwarded-For hop; junk gives None.

    Accepts ``1.2.3.4``, ``1.2.3.4:5678``, ``::1``, ``[::1]:80``; unwraps
    IPv4-mapped IPv6 (``::ffff:1.2.3.4``). A ``%zone`` belongs to IPv6 only
    (``fe80::1%eth0``, as a server reports a link-local peer): there it is dropped
    and the address is matched without it. On anything else (``10.0.0.5%eth0``,
    ``::ffff:10.0.0.5%eth0``), or empty or not a plain name, it makes the value junk.
    """
    return _address(address_key(value))


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Networks
) -> IPAddress | None:
    """The client address we may trust: the peer, or the first untrusted hop from the right.

    ``forwarded_for`` is every ``X-Forwarded-For`` value joined by commas, in
    order. It is read only if the socket peer itself is a trusted proxy.
    """
    return _address(client_key(peer, forwarded_for, trusted_proxies))


def client_key(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Networks
) -> int | None:
    """:func:`client_address` as an :func:`address_key`, for :meth:`Networks.matches`.

    Each value (the peer, then the hops read) is parsed once.
    """
    key = address_key(peer)
    if key is None or not forwarded_for or not trusted_proxies.matches(key):
        return key
    hops = forwarded_for.split(",")
    for hop in reversed(hops[-32:]):
        hop_key = address_key(hop)
        if hop_key is None:
            return None  # a junk hop: we cannot tell who is behind it
        if not trusted_proxies.matches(hop_key):
            return hop_key
        key = hop_key
    return key


_COOKIE_CONTEXT = b"maintenance-mode bypass cookie v2:"
#: How far in the future a cookie's issue time may lie (another server's clock) and count.
_COOKIE_SKEW = 300


def _mac(secret: bytes, issued: int, expires: int) -> str:
    message = _COOKIE_CONTEXT + f"{issued}.{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_cookie(secret: bytes, max_age: int, *, now: float | None = None) -> str:
    """A bypass cookie value: ``<issued>.<expires>.<hmac>``, valid for ``max_age`` seconds.

    Both times are signed: :func:`verify_cookie` checks the expiry and the issue time
    against the maximum age in force when the cookie comes back.
    """
    issued = int(time.time() if now is None else now)
    expires = issued + max_age
    return f"{issued}.{expires}.{_mac(secret, issued, expires)}"


def verify_cookie(secret: bytes, value: str, *, max_age: int, now: float | None = None) -> bool:
    """True for a cookie signed with ``secret`` that is still valid; any junk is simply False.

    Valid means: before its signed expiry, *and* issued less than ``max_age``
    seconds ago (the current ``bypass_cookie_max_age``), so lowering that option
    shortens cookies already issued. A cookie issued more than five minutes in the
    future (a server with a wrong clock) does not count. Cookies of the first
    format (``<expires>.<hmac>``, no issue time) are no longer accepted.
    """
    if len(value) > 128:
        return False
    issued_text, _, rest = value.partition(".")
    expires_text, _, mac = rest.partition(".")
    for text in (issued_text, expires_text):
        if not (text.isascii() and text.isdigit() and len(text) <= 12):
            return False
    issued, expires = int(issued_text), int(expires_text)
    good = _mac(secret, issued, expires).encode()
    if not hmac.compare_digest(good, mac.encode("utf-8", "replace")):
        return False
    current = time.time() if now is None else now
    return issued - _COOKIE_SKEW <= current < min(expires, issued + max_age)


def token_matches(secret: bytes, token: str) -> bool:
    """Constant-time comparison of a presented token (latin-1 header text) with the secret."""
    return hmac.compare_digest(secret, token.encode("latin-1", "replace"))
