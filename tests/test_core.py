"""The engine: option validation, freshness, on_error, the decision and the 503."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import BROWSER_ACCEPT
from maintenance_mode import (
    FlagError,
    FlagSource,
    Maintenance,
    MaintenanceState,
    maintenance_exempt,
)
from maintenance_mode.core import RequestInfo
from maintenance_mode.render import negotiate
from maintenance_mode.rules import sign_cookie
from maintenance_mode.state import ETARange, write_state_atomic

SECRET = "team-secret-0123456789"


def engine(flag: object, **options: Any) -> Maintenance:
    return Maintenance(flag=flag, **options)


def request(path: str = "/", **fields: Any) -> RequestInfo:
    values: dict[str, Any] = {
        "method": "GET",
        "path": path,
        "root": "",
        "peer": "203.0.113.5",
        "accept": BROWSER_ACCEPT,  # a browser unless a test says otherwise
    }
    values.update(fields)
    return RequestInfo(**values)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"alow": ["/faq"]}, "unknown option 'alow'; did you mean 'allow'?", id="typo"),
        pytest.param({"check_interval": 0}, "option 'check_interval'", id="zero interval"),
        pytest.param({"check_interval": "soon"}, "option 'check_interval'", id="not a number"),
        pytest.param({"on_error": "ignore"}, "'last_known', 'maintenance' or 'serve'", id="policy"),
        pytest.param({"allow": ["faq"]}, "must be a path starting with '/'", id="relative allow"),
        pytest.param({"bypass_ips": ["10.0.0.300"]}, "not an IP address or CIDR", id="bad ip"),
        pytest.param({"trusted_proxies": "10.0.0.0/33"}, "not an IP address", id="bad cidr"),
        pytest.param({"bypass_secret": "short"}, "22 to 256 characters", id="weak secret"),
        pytest.param({"bypass_header": "X Bad"}, "not an HTTP header name", id="header"),
        pytest.param({"bypass_path": "/bypass"}, "must be a path ending in '/'", id="bypass path"),
        pytest.param({"template_dir": "/nonexistent/dir"}, "is not a directory", id="template dir"),
        pytest.param({"retry_after_max": 30}, "must not be above retry_after_", id="cap<floor"),
        pytest.param({"retry_after_min": 90000}, "must not be above retry_after_", id="floor>cap"),
        pytest.param(
            {"contacts": {"emial": "a@b.c"}},
            "unknown option 'contacts.emial'; did you mean 'email'?",
            id="contact typo",
        ),
        pytest.param({"links": {"": "/faq"}}, "option 'links'", id="empty link label"),
        pytest.param({"allow": ["/*"]}, "would admit every path", id="allow everything"),
        pytest.param(
            {"links": {"Evil": "javascript:alert(1)"}}, "must start with 'https://'", id="js link"
        ),
        pytest.param({"contacts": {"email": "not-an-email"}}, "contacts.email", id="email"),
        pytest.param(
            {"contacts": {"form": "//evil.example"}}, "must start with", id="scheme-relative"
        ),
    ],
)
def test_invalid_options_fail_at_construction(
    flag_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^maintenance-mode: ") as info:
        engine(flag_path, **options)
    text = str(info.value)
    assert message in text, text
    assert "\n" not in text
    assert text.startswith("maintenance-mode: ")


def test_flag_forms(flag_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINT_TEST", "yes")
    monkeypatch.setenv("MAINTENANCE_FILE", str(flag_path))
    assert engine("env:MAINT_TEST").poll().on
    assert not engine(None).poll().on  # $MAINTENANCE_FILE, absent
    write_state_atomic(flag_path, MaintenanceState(reason="file"))
    assert engine(None).poll().on
    combined = engine([lambda: False, str(flag_path)])
    assert combined.poll().state == MaintenanceState(reason="file")
    with pytest.raises(TypeError, match="use a path, 'env:NAME', a callable"):
        engine(42)
    with pytest.raises(ValueError, match="empty list"):
        engine([])
    monkeypatch.setenv("MAINT_BAD", "maybe")
    with pytest.raises(ValueError, match="MAINT_BAD"):
        engine("env:MAINT_BAD")


def test_first_on_source_gives_details() -> None:
    first = MaintenanceState(reason="first")
    second = MaintenanceState(reason="second")
    assert engine([lambda: False, lambda: first, lambda: second]).poll().state is first


def test_no_io_between_checks(flag_path: Path) -> None:
    calls = 0

    def flag() -> bool:
        nonlocal calls
        calls += 1
        return False

    m = engine(flag, check_interval=60)
    for _ in range(1000):
        assert not m.poll().on
    assert calls == 1  # one check for the first request; none for the other 999
    m.invalidate()
    m.poll()
    assert calls == 2


def test_change_seen_within_interval(flag_path: Path) -> None:
    m = engine(flag_path, check_interval=0.05)
    assert not m.poll().on
    write_state_atomic(flag_path, MaintenanceState())
    deadline = time.monotonic() + 1
    while not m.poll().on:
        assert time.monotonic() < deadline, "flag change not seen within 1 s"
        time.sleep(0.01)
    flag_path.unlink()
    deadline = time.monotonic() + 1
    while m.poll().on:
        assert time.monotonic() < deadline, "flag removal not seen within 1 s"
        time.sleep(0.01)


class Flaky(FlagSource):
    """Answers from a script: a state, None, or an exception to raise."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)

    def read(self) -> MaintenanceState | None:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        assert answer is None or isinstance(answer, MaintenanceState)
        return answer


DOWN = MaintenanceState(reason="down")


@pytest.mark.parametrize(
    ("policy", "answers", "expected_on"),
    [
        pytest.param("last_known", [DOWN, FlagError("x")], True, id="last_known keeps on"),
        pytest.param("last_known", [None, FlagError("x")], False, id="last_known keeps off"),
        pytest.param("last_known", [FlagError("x")], False, id="last_known before any read serves"),
        pytest.param("maintenance", [None, FlagError("x")], True, id="maintenance fails closed"),
        pytest.param("serve", [DOWN, FlagError("x")], False, id="serve fails open"),
        pytest.param("last_known", [DOWN, RuntimeError("bug")], True, id="any exception"),
    ],
)
def test_on_error_policy(
    policy: str, answers: list[object], expected_on: bool, caplog: pytest.LogCaptureFixture
) -> None:
    m = engine(Flaky(*answers), on_error=policy)
    m.invalidate()
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        snap = m.poll()
    assert snap.on is expected_on
    assert caplog.records, "a failing source must be logged"


def test_wrong_callable_type_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    m = engine(lambda: "false")
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        assert not m.poll().on
    assert "must return True, False or a MaintenanceState" in caplog.text


# -- the decision --------------------------------------------------------------------------


def on_engine(**options: Any) -> Maintenance:
    state = options.pop("state", MaintenanceState(reason="upgrade"))
    return engine(lambda: state, **options)


def decide(m: Maintenance, req: RequestInfo) -> str:
    return m.decide(m.poll(), req).action


@pytest.mark.parametrize(
    ("options", "req", "expected"),
    [
        pytest.param({}, request("/"), "respond", id="blocked"),
        pytest.param({"allow": "/faq"}, request("/faq"), "pass", id="allowlisted"),
        pytest.param({}, request("/healthz"), "pass", id="health path by default"),
        pytest.param({"health_paths": []}, request("/healthz"), "respond", id="health paths off"),
        pytest.param({"allow": "/faq"}, request(None), "respond", id="ambiguous path"),
        pytest.param(
            {"state": MaintenanceState(allow=("/status",))},
            request("/status"),
            "pass",
            id="state adds allowed paths",
        ),
        pytest.param({"read_only": True}, request("/", method="GET"), "pass", id="read-only GET"),
        pytest.param({"read_only": True}, request("/", method="HEAD"), "pass", id="read-only HEAD"),
        pytest.param(
            {"read_only": True}, request("/", method="POST"), "respond", id="read-only POST"
        ),
        pytest.param(
            {"read_only": True}, request("/", method="DELETE"), "respond", id="read-only DELETE"
        ),
        pytest.param({"bypass_ips": "203.0.113.0/24"}, request("/"), "bypass", id="ip in cidr"),
        pytest.param({"bypass_ips": "203.0.113.50"}, request("/"), "respond", id="ip not listed"),
        pytest.param(
            {"bypass_ips": "198.51.100.7"},
            request("/", forwarded_for="198.51.100.7"),
            "respond",
            id="forged XFF without trusted proxies",
        ),
        pytest.param(
            {"bypass_ips": "198.51.100.7", "trusted_proxies": "203.0.113.5"},
            request("/", forwarded_for="198.51.100.7"),
            "bypass",
            id="XFF from a trusted proxy",
        ),
        pytest.param(
            {"bypass_ips": "198.51.100.7", "trusted_proxies": "203.0.113.5"},
            request("/", forwarded_for="198.51.100.7, 192.0.2.1"),
            "respond",
            id="forged leftmost XFF behind trusted proxy",
        ),
        pytest.param({"bypass_secret": SECRET}, request("/", token=SECRET), "bypass", id="token"),
        pytest.param(
            {"bypass_secret": SECRET}, request("/", token="wrong"), "respond", id="bad token"
        ),
        pytest.param({}, request("/", token=""), "respond", id="no secret configured, empty token"),
        pytest.param(
            {"bypass_secret": SECRET},
            request("/", cookie=f"maintenance_bypass={sign_cookie(SECRET.encode(), 3600)}"),
            "bypass",
            id="signed cookie",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            request("/", cookie=f"maintenance_bypass={sign_cookie(b'old-secret-000000', 60)}"),
            "respond",
            id="cookie from a rotated secret",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            request("/", cookie="maintenance_bypass=%%%; other=\x00"),
            "respond",
            id="junk cookie",
        ),
        pytest.param(
            {"bypass_secret": SECRET},
            request(f"/__maintenance__/{SECRET}"),
            "respond",
            id="secret URL",
        ),
    ],
)
def test_decision_table(options: dict[str, Any], req: RequestInfo, expected: str) -> None:
    assert decide(on_engine(**options), req) == expected


def test_off_always_passes() -> None:
    m = engine(lambda: False, bypass_secret=SECRET)
    assert decide(m, request(f"/__maintenance__/{SECRET}")) == "pass"


def test_secret_url_redirects_with_cookie() -> None:
    m = on_engine(bypass_secret=SECRET, bypass_cookie_max_age=600)
    response = m.decide(m.poll(), request(f"/__maintenance__/{SECRET}", root="/shop")).response
    assert response is not None
    assert response.status == 303
    headers = dict(response.headers)
    assert headers["Location"] == "/shop/"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    cookie = headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600", "Path=/shop/"):
        assert attribute in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    again = request("/", cookie=f"maintenance_bypass={value}")
    assert decide(m, again) == "bypass"


def test_wrong_secret_url_gets_the_plain_503() -> None:
    m = on_engine(bypass_secret=SECRET, allow="/__maintenance__/")
    response = m.decide(m.poll(), request("/__maintenance__/not-the-secret-at-all")).response
    assert response is not None
    assert response.status == 503  # even when someone allowlisted the prefix


# -- the response --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "variant"),
    [
        pytest.param(None, "json", id="none"),
        pytest.param("", "json", id="empty"),
        pytest.param("*/*", "json", id="anything"),
        pytest.param(BROWSER_ACCEPT, "html", id="chromium navigation"),
        pytest.param("text/*", "text", id="any text"),
        pytest.param("text/html,application/xhtml+xml,*/*;q=0.8", "html", id="browser"),
        pytest.param("application/json", "json", id="json"),
        pytest.param("application/problem+json", "json", id="problem json"),
        pytest.param("application/json, text/plain, */*", "json", id="axios"),
        pytest.param("text/plain", "text", id="text"),
        pytest.param("text/plain;q=0.1, application/json;q=0.9", "json", id="quality"),
        pytest.param("image/png", "html", id="unsatisfiable"),
        pytest.param(";;;,,,q=x", "html", id="junk"),
        pytest.param("application/json, " * 200, "html", id="huge"),
    ],
)
def test_negotiation(accept: str | None, variant: str) -> None:
    assert negotiate(accept) == variant


NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("eta", "options", "expected"),
    [
        pytest.param(None, {}, 300, id="no eta: default"),
        pytest.param(None, {"retry_after_default": 120}, 120, id="configured default"),
        pytest.param(NOW + timedelta(minutes=30), {}, 1800, id="point eta"),
        pytest.param(NOW + timedelta(seconds=1.2), {"retry_after_min": 0}, 2, id="rounded up"),
        pytest.param(NOW - timedelta(hours=1), {}, 60, id="past eta: floor, never negative"),
        pytest.param(NOW - timedelta(hours=1), {"retry_after_min": 0}, 0, id="zero floor"),
        pytest.param(NOW + timedelta(days=30), {}, 86400, id="capped at a day"),
        pytest.param(NOW + timedelta(days=30), {"retry_after_max": 172800}, 172800, id="cap"),
        pytest.param(None, {"retry_after_default": 10}, 60, id="default is floored too"),
        pytest.param(
            ETARange(earliest=NOW + timedelta(hours=1), latest=NOW + timedelta(hours=3)),
            {},
            3600,
            id="range: earliest",
        ),
    ],
)
def test_retry_after(eta: Any, options: dict[str, Any], expected: int) -> None:
    m = on_engine(**options)
    assert m.retry_after(MaintenanceState(eta=eta), now=NOW) == expected


def test_503_headers_and_forms() -> None:
    state = MaintenanceState(reason="Disk swap", eta=datetime.now(UTC) + timedelta(hours=1))
    m = on_engine(state=state, contacts={"email": "ops@example.com"}, links={"FAQ": "/faq"})
    snap = m.poll()
    html = m.decide(snap, request("/")).response
    assert html is not None
    headers = dict(html.headers)
    assert html.status == 503
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Vary"] == "Accept, Accept-Language"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert 3500 < int(headers["Retry-After"]) <= 3600
    assert headers["Content-Length"] == str(len(html.body))
    assert b"Disk swap" in html.body
    assert b"mailto:ops@example.com" in html.body

    problem = m.decide(snap, request("/", accept="application/json")).response
    assert problem is not None
    assert dict(problem.headers)["Content-Type"] == "application/problem+json"
    doc = json.loads(problem.body)
    assert doc["status"] == 503
    assert doc["title"] == "Service Unavailable"
    assert doc["detail"] == "Disk swap"
    assert doc["retry_after"] == int(headers["Retry-After"])
    assert doc["contacts"] == {"email": "ops@example.com"}
    assert doc["eta"]["earliest"].endswith("Z")

    text = m.decide(snap, request("/", accept="text/plain")).response
    assert text is not None
    assert dict(text.headers)["Content-Type"] == "text/plain; charset=utf-8"
    assert b"Disk swap" in text.body
    assert b"ops@example.com" in text.body

    head = m.decide(snap, request("/", method="HEAD")).response
    assert head is not None
    assert head.body == b""
    assert dict(head.headers)["Content-Length"] == str(len(html.body))


def json_503(m: Maintenance, snap: Any) -> Any:
    """The problem+json 503 as a request gets it (through the per-request cache)."""
    response = m.decide(snap, request("/", accept="application/json")).response
    assert response is not None
    return response


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    eta=st.integers(-3 * 86400_000_000, 3 * 86400_000_000),
    spread=st.integers(0, 2 * 86400_000_000),
    offsets=st.lists(st.integers(-3 * 86400_000_000, 3 * 86400_000_000), min_size=1, max_size=25),
    steps=st.lists(st.integers(-2_000_001, 2_000_001), min_size=1, max_size=25),
)
def test_cached_503_is_exact_at_every_microsecond(
    eta: int, spread: int, offsets: list[int], steps: list[int]
) -> None:
    """The 503 is reused only while Retry-After and the overrun copy are what they'd be anew.

    Clock times are microseconds around the ETA range, with jumps back and forth and small
    steps across second and ETA boundaries; each answer is checked against the datetime
    arithmetic of ``retry_after()`` and ``now > eta_latest``.
    """
    earliest = NOW + timedelta(microseconds=eta)
    state = MaintenanceState(
        reason="x",
        eta=ETARange(earliest=earliest, latest=earliest + timedelta(microseconds=spread)),
    )
    m = on_engine(state=state)
    snap = m.poll()
    assert snap.state is not None
    latest = snap.state.eta_latest
    assert latest is not None
    clock = [NOW]
    m._clock = lambda: clock[0]
    moments = [NOW + timedelta(microseconds=o) for o in offsets]
    moments += [earliest + timedelta(microseconds=sum(steps[: i + 1])) for i in range(len(steps))]
    moments += [latest + timedelta(microseconds=step) for step in steps]
    for moment in moments:
        clock[0] = moment
        document = json.loads(json_503(m, snap).body)
        assert document["retry_after"] == m.retry_after(snap.state, moment), moment
        assert document["overrun"] is (moment > latest), moment


@pytest.mark.parametrize("spread", [0, 1, 90_000_000], ids=["point", "1µs range", "90s range"])
def test_cached_503_changes_at_each_boundary(spread: int) -> None:
    """Walk one microsecond either side of every moment the 503 must change, both ways."""
    earliest = NOW + timedelta(seconds=10, microseconds=250_000)
    eta = ETARange(earliest=earliest, latest=earliest + timedelta(microseconds=spread))
    m = on_engine(state=MaintenanceState(reason="x", eta=eta))
    snap = m.poll()
    assert snap.state is not None
    assert snap.state.eta_latest is not None
    s = m.settings
    seconds_left = [-3, -1, 0, 1, 2, 5, s.retry_after_min - 1, s.retry_after_min]
    seconds_left += [s.retry_after_min + 1, s.retry_after_max - 1, s.retry_after_max]
    seconds_left += [s.retry_after_max + 1]
    boundaries = [earliest - timedelta(seconds=k) for k in seconds_left]
    boundaries.append(snap.state.eta_latest)
    clock = [NOW]
    m._clock = lambda: clock[0]
    for boundary in sorted(boundaries):
        for step in (-1, 0, 1, 0, -1, 1, -1):
            clock[0] = moment = boundary + timedelta(microseconds=step)
            document = json.loads(json_503(m, snap).body)
            assert document["retry_after"] == m.retry_after(snap.state, moment), moment
            assert document["overrun"] is (moment > snap.state.eta_latest), moment


def test_503_cache_is_bounded_and_keyed_on_the_headers_as_sent() -> None:
    """Odd Accept-Language values cannot grow the per-state cache without bound."""
    m = on_engine()
    snap = m.poll()
    first = m.decide(snap, request("/", accept_language="fr")).response
    again = m.decide(snap, request("/", accept_language="fr")).response
    assert first is again  # reused, not rebuilt
    for index in range(600):
        response = m.decide(snap, request("/", accept_language=f"x-{index}, de;q=0.5")).response
        assert response is not None
        assert b'lang="de"' in response.body
    assert 0 < len(snap._responses) <= 256
    head = m.decide(snap, request("/", method="HEAD", accept_language="fr")).response
    assert head is not None
    assert head.body == b""
    assert b'lang="fr"' in m.decide(snap, request("/", accept_language="fr")).response.body  # type: ignore[union-attr]


def test_bodies_rendered_once_per_state(monkeypatch: pytest.MonkeyPatch) -> None:
    eta = NOW + timedelta(hours=1)
    m = on_engine(state=MaintenanceState(reason="upgrade", eta=eta))
    clock = [NOW]
    m._clock = lambda: clock[0]
    renders = 0
    real = m._renderer.page

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal renders
        renders += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(m._renderer, "page", counting)
    snap = m.poll()
    retries = set()
    for second in range(50):  # Retry-After changes every second; the body is not re-rendered
        clock[0] = NOW + timedelta(seconds=second)
        response = m.decide(snap, request("/")).response
        assert response is not None
        retries.add(dict(response.headers)["Retry-After"])
    assert renders == 1
    assert len(retries) == 50

    clock[0] = eta + timedelta(minutes=1)  # the latest ETA has passed: "taking longer" copy
    late = m.decide(snap, request("/")).response
    assert late is not None
    assert b"taking longer than we planned" in late.body
    assert dict(late.headers)["Retry-After"] == "60"
    assert renders == 2

    problem = m.decide(snap, request("/", accept="application/json")).response
    assert problem is not None
    assert json.loads(problem.body)["overrun"] is True
    assert json.loads(problem.body)["retry_after"] == 60


HOSTILE = [
    "<script>alert(1)</script>",
    "{{ 7*7 }}{% raw %}",
    "{0.__class__}",
    "line\r\nX-Injected: 1",
    "\u202eevil\u202c 🚧",
]


@pytest.mark.parametrize("text", HOSTILE, ids=["markup", "jinja", "format", "crlf", "rtl emoji"])
def test_operator_text_is_escaped_and_never_in_headers(text: str) -> None:
    state = MaintenanceState(reason=text, message=text).with_update(text)
    m = on_engine(state=state)
    snap = m.poll()
    for accept in ("text/html", "application/json", "text/plain"):
        response = m.decide(snap, request("/", accept=accept)).response
        assert response is not None
        for name, value in response.headers:
            assert text not in value, name
            assert "\n" not in value, name
            assert "\r" not in value, name
    html = m.decide(snap, request("/")).response
    assert html is not None
    assert b"<script>alert" not in html.body
    # shown verbatim (escaped): template and format syntax are data, never evaluated
    assert escape(text).encode() in html.body


def test_broken_template_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "maintenance.html").write_text("{% block x %}")
    with pytest.raises(
        ValueError, match=r"^maintenance-mode: template .*maintenance\.html: line 1"
    ):
        on_engine(template_dir=tmp_path)


def test_render_error_falls_back_to_text(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "maintenance.html").write_text('{% if reason == "boom" %}{{ 1 // 0 }}{% endif %}')
    m = on_engine(template_dir=tmp_path, state=MaintenanceState(reason="boom"))
    with caplog.at_level(logging.ERROR, logger="maintenance_mode"):
        response = m.decide(m.poll(), request("/")).response
    assert response is not None
    assert response.status == 503
    assert dict(response.headers)["Content-Type"] == "text/plain; charset=utf-8"
    assert b"boom" in response.body
    assert "failed to render" in caplog.text


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"maintenance.html": '{% extends "base.html" %}', "base.html": "{% if %}"},
            "base.html: line 1",
            id="syntax error in an extended template",
        ),
        pytest.param(
            {"maintenance.html": '{% include "missing.html" %}'},
            "template 'missing.html' not found",
            id="missing include",
        ),
        pytest.param(
            {"maintenance.html": "{{ reason.missing.method() }}"},
            "failed to render a sample page: UndefinedError",
            id="fails on every state",
        ),
    ],
)
def test_template_mistakes_fail_at_start(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=r"^maintenance-mode: ") as info:
        on_engine(template_dir=tmp_path)
    assert message in str(info.value)


def test_template_dir_extends_default(tmp_path: Path) -> None:
    (tmp_path / "maintenance.html").write_text(
        '{% extends "default/maintenance.html" %}{% block heading %}<h1>Brand</h1>{% endblock %}'
    )
    m = on_engine(template_dir=tmp_path)
    response = m.decide(m.poll(), request("/")).response
    assert response is not None
    assert b"<h1>Brand</h1>" in response.body
    assert b"upgrade" in response.body  # the other default blocks still render


# -- after routing (Django and Flask) ------------------------------------------------------


def blocked(m: Maintenance) -> Any:
    decision = m.decide(m.poll(), request("/somewhere"))
    assert decision.action == "respond"
    return decision


@maintenance_exempt
def exempt_view() -> None:
    """A view kept available by the decorator."""


def plain_view() -> None:
    """A view with no mark."""


@pytest.mark.parametrize(
    ("options", "kwargs", "expected"),
    [
        pytest.param({}, {"view": exempt_view}, "pass", id="decorated view"),
        pytest.param({}, {"view": plain_view}, "respond", id="plain view"),
        pytest.param({"allow_views": "faq"}, {"view_name": "faq"}, "pass", id="listed name"),
        pytest.param({"allow_views": "faq"}, {"view_name": "faqs"}, "respond", id="not a prefix"),
        pytest.param({"allow_views": "admin:*"}, {"view_name": "admin:index"}, "pass", id="ns"),
        pytest.param({"allow_views": "admin:*"}, {"view_name": "administer"}, "respond", id="ns :"),
        pytest.param({"allow_views": "blog.*"}, {"view_name": "blog.post"}, "pass", id="blueprint"),
        pytest.param({"allow_views": "faq"}, {"view_name": None}, "respond", id="unrouted"),
        pytest.param({}, {"is_static": True}, "pass", id="static view"),
        pytest.param({"allow_static": False}, {"is_static": True}, "respond", id="static off"),
        pytest.param({"bypass_staff": True}, {"is_staff": True}, "bypass", id="staff"),
        pytest.param({"bypass_staff": True}, {"is_superuser": True}, "respond", id="staff only"),
        pytest.param({}, {"is_staff": True}, "respond", id="staff bypass off"),
        pytest.param({"bypass_superuser": True}, {"is_superuser": True}, "bypass", id="superuser"),
    ],
)
def test_decide_view(options: dict[str, Any], kwargs: dict[str, Any], expected: str) -> None:
    m = on_engine(**options)
    assert m.decide_view(blocked(m), **kwargs).action == expected


def test_decide_view_leaves_other_decisions_alone() -> None:
    m = on_engine(bypass_secret=SECRET, allow="/faq")
    redirect = m.decide(m.poll(), request(f"/__maintenance__/{SECRET}"))
    assert m.decide_view(redirect, view=exempt_view) is redirect
    passed = m.decide(m.poll(), request("/faq"))
    assert m.decide_view(passed, is_staff=True) is passed


@pytest.mark.parametrize("name", ["a b", "*", "blog.", "admin:", "x" * 300])
def test_bad_view_names(name: str) -> None:
    with pytest.raises(ValueError, match="is not a view name"):
        on_engine(allow_views=[name])


@pytest.mark.parametrize("option", ["allow_views", "bypass_staff", "bypass_superuser"])
def test_plain_adapters_refuse_routing_options(option: str, flag_path: Path) -> None:
    from maintenance_mode.asgi import MaintenanceMiddleware as ASGI
    from maintenance_mode.wsgi import MaintenanceMiddleware as WSGI

    value: Any = ["faq"] if option == "allow_views" else True
    for adapter in (ASGI, WSGI):
        with pytest.raises(ValueError, match=f"option '{option}' needs the framework's routing"):
            adapter(lambda *a: None, flag=flag_path, **{option: value})


def test_flag_file(flag_path: Path) -> None:
    assert engine([lambda: False, flag_path]).flag_file() == flag_path
    assert engine(lambda: False).flag_file() is None


def test_overrun_copy_appears_even_when_retry_after_stays_at_the_floor() -> None:
    # earliest already passed (Retry-After sits at the 60 s floor), latest still ahead
    eta = ETARange(earliest=NOW - timedelta(minutes=5), latest=NOW + timedelta(minutes=1))
    m = on_engine(state=MaintenanceState(eta=eta))
    clock = [NOW]
    m._clock = lambda: clock[0]
    snap = m.poll()
    before = m.decide(snap, request("/")).response
    assert before is not None
    assert b"taking longer" not in before.body
    clock[0] = NOW + timedelta(minutes=2)
    after = m.decide(snap, request("/")).response
    assert after is not None
    assert dict(after.headers)["Retry-After"] == dict(before.headers)["Retry-After"] == "60"
    assert b"taking longer than we planned" in after.body


def test_first_check_is_awaited_by_concurrent_requests() -> None:
    import asyncio

    async def slow_store() -> bool:
        await asyncio.sleep(0.2)
        return True

    m = engine(slow_store)

    async def burst() -> list[bool]:
        snapshots = await asyncio.gather(*(m.apoll() for _ in range(5)))
        return [s.on for s in snapshots]

    assert asyncio.run(burst()) == [True] * 5  # nobody was served as if maintenance were off


def test_first_check_is_awaited_by_concurrent_threads() -> None:
    import threading

    def slow_store() -> bool:
        time.sleep(0.2)
        return True

    m = engine(slow_store)
    seen: list[bool] = []
    threads = [threading.Thread(target=lambda: seen.append(m.poll().on)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [True] * 5


def test_non_utf8_mount_point_is_percent_encoded_byte_for_byte() -> None:
    m = on_engine(bypass_secret=SECRET)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": f"/__maintenance__/{SECRET}",
        "SCRIPT_NAME": "/caf\xe9",  # the single byte 0xE9: not UTF-8
    }
    response = m.decide(m.poll(), RequestInfo.from_wsgi(environ, m.settings)).response
    assert response is not None
    assert dict(response.headers)["Location"] == "/caf%E9/"


def test_fresh_gives_the_snapshot_until_a_check_is_due() -> None:
    m = on_engine(check_interval=60)
    snap = m.poll()
    assert m.fresh() is snap
    m.invalidate()
    assert m.fresh() is None  # a check is due: async adapters await apoll() then
