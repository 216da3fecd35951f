"""The default page: the facts (each only when present), tone, brand, safety, CSP and validity.

HTML validity is judged by the Nu HTML Checker (npm ``vnu-jar``, run with Java)
over every preview file: every sample state in every locale, with and without
branding. In CI a missing Java or vnu-jar fails; elsewhere the test is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from maintenance_mode import Maintenance, MaintenanceState, ProgressUpdate
from maintenance_mode.core import RequestInfo
from maintenance_mode.i18n import typeset
from maintenance_mode.preview import sample_states, write_folder
from maintenance_mode.render import Renderer, contrast, csp_for
from maintenance_mode.settings import Settings
from maintenance_mode.state import ETARange, Window

ROOT = Path(__file__).resolve().parents[1]
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
NOW = datetime.now(UTC).replace(microsecond=0)
SPACES = str.maketrans({"\u2009": " ", "\u202f": " ", "\u00a0": " ", "\u2013": "-"})

FULL_OPTIONS: dict[str, Any] = {
    "site_name": "Acme Shop",
    "time_zones": ["Europe/Paris", "America/New_York"],
    "contacts": {
        "email": "support@acme.example",
        "phone": "+33 1 23 45 67 89",
        "emergency_phone": "+33 6 00 00 00 00",
        "form": "/contact",
        "status_page": "https://status.acme.example",
        "social": {"Mastodon": "https://mastodon.example/@acme"},
    },
    "links": {"FAQ": "/faq", "Blog": "/blog/"},
}


def render(
    state: MaintenanceState, variant: str = "html", locale: str = "en", **options: Any
) -> tuple[str, dict[str, str]]:
    renderer = Renderer(Settings.from_options(options))
    overrun = state.eta_latest is not None and datetime.now(UTC) > state.eta_latest
    page = renderer.page(variant, state, overrun=overrun, locale=locale)  # type: ignore[arg-type]
    return page.body.decode("utf-8"), dict(page.headers)


class Parsed(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        else:
            self.data.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.data).translate(SPACES).split())

    def attrs(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


# -- the facts --


def test_a_state_without_details_shows_only_what_is_known() -> None:
    page = Parsed(render(MaintenanceState())[0])
    text = page.text
    assert "This site is down for planned maintenance" in text
    assert "We do not have an estimate yet" in text
    for absent in ("Need help?", "Still available", "Updates", "Maintenance window", "Started"):
        assert absent not in text, absent
    assert page.attrs("img") == []  # no logo configured, no empty image


def test_every_fact_when_configured() -> None:
    start = NOW - timedelta(hours=1)
    state = MaintenanceState(
        kind="planned",
        reason="Upgrading payments.",
        message="Orders are paused.",
        started_at=start,
        eta=ETARange(earliest=NOW + timedelta(hours=3), latest=NOW + timedelta(hours=5)),
        updates=(
            ProgressUpdate(at=start, text="first note"),
            ProgressUpdate(at=NOW, text="second note"),
        ),
    )
    body, headers = render(state, **FULL_OPTIONS)
    page = Parsed(body)
    text = page.text
    for fact in (
        "Acme Shop is down for planned maintenance",
        "Upgrading payments.",
        "Orders are paused.",
        "Started",
        "Expected back",
        "Paris time",
        "New York time",
        "4 to 6 hours",
        "Still available",
        "FAQ",
        "Blog",
        "Need help?",
        "support@acme.example",
        "Emergencies:",
        "Status page",
        "Mastodon",
    ):
        assert fact in text, fact
    assert text.index("second note") < text.index("first note"), "newest update first"
    hrefs = [a["href"] for a in page.attrs("a")]
    assert hrefs == [
        "/faq",
        "/blog/",
        "tel:+33600000000",
        "https://status.acme.example",
        "/contact",
        "mailto:support@acme.example",
        "tel:+33123456789",
        "https://mastodon.example/@acme",
    ]
    times = [t["datetime"] for t in page.attrs("time")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t or "") for t in times), times
    assert headers["Content-Language"] == "en"


def test_a_point_eta_with_a_start_is_an_exact_window() -> None:
    start = datetime(2031, 1, 15, 9, 0, tzinfo=UTC)
    state = MaintenanceState(started_at=start, eta=start + timedelta(hours=4))
    text = Parsed(render(state, time_zones=["Europe/Paris", "America/New_York"])[0]).text
    assert (
        "Maintenance window Wed, January 15, 2031, 10:00 AM - 2:00 PM Paris time "
        "(4:00 - 8:00 AM New York time)"
    ) in text
    assert "Estimated duration 4 hours" in text


def test_a_planned_window_says_what_is_affected_in_its_own_zone_too() -> None:
    window = Window(
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=2),
        timezone="Asia/Tokyo",
        affected=("Checkout",),
        unaffected=("Blog", "FAQ"),
    )
    state = MaintenanceState(started_at=window.start, eta=window.end, windows=(window,))
    text = Parsed(render(state, time_zones=["Europe/Paris"])[0]).text
    assert "What is affected Checkout" in text
    assert "What still works Blog FAQ" in text
    assert "Paris time" in text
    assert "Tokyo time" in text


@pytest.mark.parametrize(
    ("kind", "tone", "overrun", "expected", "not_expected"),
    [
        pytest.param("planned", "friendly", False, "coffee machine", "apologise", id="friendly"),
        pytest.param("planned", "neutral", False, "scheduled work", "coffee", id="neutral"),
        pytest.param("unplanned", "friendly", False, "apologise", "coffee", id="incident"),
        pytest.param(
            "planned",
            "friendly",
            True,
            "taking longer than we planned",
            "coffee",
            id="overrun: no jokes",
        ),
    ],
)
def test_tone(kind: str, tone: str, overrun: bool, expected: str, not_expected: str) -> None:
    eta = NOW + (timedelta(hours=-1) if overrun else timedelta(hours=1))
    state = MaintenanceState(kind=kind, started_at=NOW - timedelta(hours=2), eta=eta)  # type: ignore[arg-type]
    for variant in ("html", "text"):
        text = " ".join(render(state, variant, tone=tone)[0].split())
        assert expected in text, (variant, expected)
        assert not_expected not in text, (variant, not_expected)


def test_unplanned_pages_apologise_and_overruns_say_so() -> None:
    state = MaintenanceState(kind="unplanned", eta=NOW - timedelta(minutes=5))
    page = Parsed(render(state, site_name="Acme")[0])
    assert "We are sorry: Acme is down right now" in page.text
    assert "This is taking longer than we planned." in page.text
    assert "We expected to be done by:" in page.text
    assert "Expected back" not in page.text  # a passed ETA is not announced as the future
    assert {"class": "notice", "role": "note"} in page.attrs("div")


# -- brand --


def test_brand_colours_font_logo_and_favicon() -> None:
    logo = "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode()
    body, headers = render(
        MaintenanceState(),
        site_name="Acme",
        brand={
            "logo_url": logo,
            "favicon_url": "https://cdn.acme.example/favicon.png",
            "accent": "#0B6E4F",
            "accent_dark": "#7fd1b0",
            "background": "#fafafa",
            "font": '"Inter", system-ui, sans-serif',
        },
    )
    page = Parsed(body)
    (img,) = page.attrs("img")
    assert img["src"] == logo
    assert img["alt"] == "Acme"  # defaults to the site name
    assert [link["href"] for link in page.attrs("link")] == ["https://cdn.acme.example/favicon.png"]
    assert '--font: "Inter", system-ui, sans-serif;' in body  # not HTML-escaped inside <style>
    assert "--accent: #0B6E4F;" in body
    assert "--accent: #7fd1b0;" in body
    # The favicon's host (the operator's own CDN) is the only origin added to img-src.
    assert "img-src 'self' data: https://cdn.acme.example;" in headers["Content-Security-Policy"]


def test_no_favicon_request_by_default() -> None:
    (link,) = Parsed(render(MaintenanceState())[0]).attrs("link")
    assert link == {"rel": "icon", "href": "data:,"}


@pytest.mark.parametrize(
    ("brand", "message"),
    [
        pytest.param({"accent": "red"}, "not a hex colour", id="named colour"),
        pytest.param({"accent": "#fff;}body{x:y"}, "not a hex colour", id="css injection"),
        pytest.param({"font": "x;}</style><script>"}, "not a font stack", id="font injection"),
        pytest.param({"logo_url": "javascript:alert(1)"}, "must be 'https://", id="js logo"),
        pytest.param({"logo_url": "http://acme.example/l.png"}, "must be 'https://", id="http"),
        pytest.param({"logo_url": "mailto:x@y.z"}, "must be 'https://", id="mailto logo"),
        pytest.param(
            {"logo_url": "data:text/html,<script>x</script>"}, "not a data: image", id="data html"
        ),
        pytest.param(
            {"favicon_url": "data:image/png;base64," + "A" * 70000},
            "longer than",
            id="huge data URI",
        ),
        pytest.param(
            {"logo": "/l.png"}, "unknown option 'brand.logo'; did you mean 'logo_url'?", id="typo"
        ),
        pytest.param({"logo_height": 500}, "brand.logo_height", id="height"),
    ],
)
def test_bad_brand_options_fail_at_start_up(brand: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^maintenance-mode: ") as info:
        Maintenance(flag=lambda: True, brand=brand)
    assert message in str(info.value)


def test_faint_brand_colours_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        Maintenance(flag=lambda: True, brand={"accent": "#ffff00"})
    assert any(
        "brand.accent #ffff00 has a contrast of 1.1:1" in r.getMessage() for r in caplog.records
    )
    assert contrast("#2456c7", "#ffffff") >= 4.5  # the defaults pass WCAG AA
    assert contrast("#9bb8ff", "#1a1f27") >= 4.5


# -- safety --


def test_operator_texts_are_escaped_everywhere() -> None:
    evil = '<img src=x onerror=alert(1)>"'
    state = MaintenanceState(
        reason=evil,
        message=evil,
        updates=(ProgressUpdate(at=NOW, text=evil),),
    )
    body, _ = render(
        state,
        site_name=evil,
        links={evil: "/faq"},
        contacts={"social": {evil: "https://x.example/"}},
        brand={"logo_url": "/logo.png", "logo_alt": evil},
    )
    page = Parsed(body)
    assert [name for name, _ in page.tags].count("img") == 1  # the logo, nothing else
    assert page.attrs("img")[0]["alt"] == evil
    shown = typeset(evil, "en")  # as text, with typographic quotes (issue 18)
    assert page.text.count(shown) >= 6  # title, heading, reason, message, update, link, social
    assert "<img src=x" not in body


def test_the_inline_script_is_allowed_by_its_hash_and_nothing_else() -> None:
    body, headers = render(MaintenanceState())
    csp = headers["Content-Security-Policy"]
    (script,) = Parsed(body).scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == f"'sha256-{digest}'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    for variant in ("text", "json"):
        other = render(MaintenanceState(), variant)[1]["Content-Security-Policy"]
        assert "script-src" not in other
        assert "connect-src" not in other


def test_only_the_templates_own_scripts_get_a_hash() -> None:
    csp = csp_for(
        "<script>one()</script><script src=/x.js>two()</script><SCRIPT >two()</SCRIPT >"
        "<script>three()</script>",
        allowed=["one()", "two()"],
    )
    one = base64.b64encode(hashlib.sha256(b"one()").digest()).decode()
    two = base64.b64encode(hashlib.sha256(b"two()").digest()).decode()
    assert f"script-src 'sha256-{one}' 'sha256-{two}';" in csp  # not three(), nor the src one
    assert "x.js" not in csp
    assert csp_for("<script>x()</script>").startswith("default-src 'none'; style-src")


def test_a_designers_script_runs_only_through_the_inline_script_filter(tmp_path: Path) -> None:
    (tmp_path / "maintenance.html").write_text(
        '{% extends "default/maintenance.html" %}'
        "{% block reason %}<p>{{ reason|safe }}</p>"
        "<script>{% filter inline_script %}console.log(1){% endfilter %}</script>"
        "<script>console.log(2)</script>{% endblock %}",
        encoding="utf-8",
    )
    state = MaintenanceState(reason="<script>alert(1)</script>")
    body, headers = render(state, template_dir=tmp_path)
    csp = headers["Content-Security-Policy"]
    assert "<script>alert(1)</script>" in body  # the template let it through...
    hashes = re.findall(r"'sha256-([^']+)'", csp)
    assert len(hashes) == 2  # ...but only the page's script and the filtered one are allowed
    assert base64.b64encode(hashlib.sha256(b"console.log(1)").digest()).decode() in hashes
    for blocked in (b"alert(1)", b"console.log(2)"):
        assert base64.b64encode(hashlib.sha256(blocked).digest()).decode() not in hashes


@pytest.mark.parametrize(
    ("options", "retry", "expected"),
    [
        pytest.param({}, 3600, 120, id="capped at poll_max_interval"),
        pytest.param({}, 60, 60, id="retry-after"),
        pytest.param({}, 2, 10, id="never below poll_interval"),
        pytest.param({"poll_interval": 1, "poll_max_interval": 2}, 60, 2, id="short for tests"),
        pytest.param({"retry_after_default": 90}, None, 90, id="no eta: the default"),
    ],
)
def test_no_js_refresh_follows_retry_after_within_bounds(
    options: dict[str, Any], retry: int | None, expected: int
) -> None:
    renderer = Renderer(Settings.from_options(options))
    page = renderer.page("html", MaintenanceState(), overrun=False, retry_after=retry)
    metas = Parsed(page.body.decode()).attrs("meta")
    (refresh,) = [m for m in metas if m.get("http-equiv") == "refresh"]
    assert refresh["content"] == str(expected)
    (script,) = Parsed(page.body.decode()).attrs("script")
    assert float(script["data-poll-min"] or 0) == renderer.settings.poll_interval


def test_poll_options_are_validated() -> None:
    with pytest.raises(ValueError, match=r"poll_max_interval .* must not be below poll_interval"):
        Maintenance(flag=lambda: True, poll_interval=30, poll_max_interval=20)
    with pytest.raises(ValueError, match="option 'poll_interval'"):
        Maintenance(flag=lambda: True, poll_interval=0.1)


def test_operator_text_is_marked_with_its_language_on_a_translated_page() -> None:
    state = MaintenanceState(
        reason="Upgrading payments.", updates=(ProgressUpdate(at=NOW, text="x"),)
    )
    french = Parsed(render(state, locale="fr", links={"FAQ": "/faq"})[0])
    assert french.tags[0] == ("html", {"lang": "fr", "dir": "ltr", "data-zones": "UTC"})
    marked = [attrs for _, attrs in french.tags if attrs.get("lang") == "en"]
    assert len(marked) == 3  # the reason, the update and the link label
    english = Parsed(render(state, locale="en")[0])
    assert [a for _, a in english.tags if "lang" in a] == [english.tags[0][1]]


def test_rendering_through_the_engine_uses_accept_language() -> None:
    engine = Maintenance(flag=lambda: MaintenanceState(), site_name="Acme")
    request = RequestInfo(
        method="GET",
        path="/",
        root="",
        peer="203.0.113.1",
        accept="text/html",
        accept_language="es-MX,es;q=0.9",
    )
    response = engine.decide(engine.poll(), request).response
    assert response is not None
    assert "Acme está en mantenimiento programado" in response.body.decode()
    assert dict(response.headers)["Content-Language"] == "es"


# -- validity --


@pytest.fixture(scope="module")
def preview_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("previews")
    logo = "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode()
    for name, options in (
        ("plain", {}),
        ("branded", {**FULL_OPTIONS, "brand": {"logo_url": logo}, "tone": "neutral"}),
    ):
        renderer = Renderer(Settings.from_options(options))
        write_folder(out / name, renderer, sample_states())
    return out


@pytest.mark.slow
def test_every_sample_page_is_valid_html(preview_folder: Path) -> None:
    """The Nu HTML Checker, errors and warnings both, over every state in every locale."""
    java = shutil.which("java")
    for path, what, fix in (
        (java or "java", "Java", "python3 dev.py test installs it"),
        (VNU, "vnu-jar", "python3 dev.py test installs it (npm ci)"),
    ):
        if not Path(path).exists():
            # Never a skip: `python3 dev.py test` installs it (scripts/ensure-test-tools.sh).
            pytest.fail(f"{what} not found at {path}; {fix}", pytrace=False)
    pages = sorted(preview_folder.rglob("*.html"))
    assert len(pages) == 2 * (len(sample_states()) * 4 + 1)
    result = subprocess.run(
        [
            java or "java",
            "-jar",
            str(VNU),
            "--format",
            "json",
            "--stdout",
            "--also-check-css",
            *map(str, pages),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stdout)["messages"]
    problems = [
        f"{m.get('url', '').rsplit('/', 2)[-2:]}:{m.get('lastLine')}: {m['type']}: {m['message']}"
        for m in messages
        if m["type"] != "info" or m.get("subType") == "warning"
    ]
    assert problems == [], "\n".join(problems[:40])


def test_the_page_checks_the_status_document_under_its_mount() -> None:
    from maintenance_mode import Maintenance, MaintenanceState
    from maintenance_mode.core import RequestInfo

    def page(root: str, **options: object) -> bytes:
        m = Maintenance(flag=lambda: MaintenanceState(reason="x"), **options)  # type: ignore[arg-type]
        request = RequestInfo(
            method="GET", path="/checkout", root=root, peer=None, accept="text/html"
        )
        response = m.decide(m.poll(), request).response
        assert response is not None
        return response.body

    assert b'data-status="/__maintenance__/status"' in page("")
    assert b'data-status="/my%20shop/__maintenance__/status"' in page("/my shop")
    assert b'data-status="' not in page("", status_path=None)  # then it asks the page itself
