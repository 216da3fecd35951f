"""The page and the banner of partial maintenance (one component down, the rest up).

Render-level: the component 503 in its three forms and four languages, and the
banner on the app's other pages. Then the outside judges the page tests use: the
Nu HTML Checker, axe-core and a real Chromium at 375 px.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from gettext import NullTranslations
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from maintenance_mode.banner import banner_context, insert, load_banner_template
from maintenance_mode.render import ComponentView, Renderer
from maintenance_mode.schedule import Banner
from maintenance_mode.settings import Settings
from maintenance_mode.state import ETARange, MaintenanceState, ProgressUpdate
from test_browser import ARTIFACTS, AXE, CHROMIUM, Browser, CDPError, Page, _axe, _require
from test_page import VNU, Parsed

NOW = datetime.now(UTC).replace(microsecond=0)
LOCALES = ("en", "fr", "de", "es")
OPTIONS: dict[str, Any] = {"site_name": "Acme Shop", "time_zones": ["Europe/Paris"]}
PAYMENTS = ComponentView(
    "payments",
    "Payments and checkout",
    eta_earliest=NOW + timedelta(hours=2),
    eta_latest=NOW + timedelta(hours=3),
)
SEARCH = ComponentView("search", "Search", eta_latest=NOW + timedelta(days=1))
UP = (
    ComponentView("catalogue", "Browsing the catalogue", link="/shop"),
    ComponentView("account", "Your account", link="/account"),
)
STATE = MaintenanceState(
    kind="planned",
    reason="We are moving to a new payment provider.",
    started_at=NOW - timedelta(minutes=20),
    eta=ETARange(earliest=NOW + timedelta(hours=2), latest=NOW + timedelta(hours=3)),
    updates=(ProgressUpdate(at=NOW - timedelta(minutes=5), text="Data copied."),),
)
#: The fixed strings of the component page, per language (a French page says them in French).
EXPECTED = {
    "en": ("Partial maintenance", "under maintenance", "What still works", "keeps working"),
    "fr": ("Maintenance partielle", "en maintenance", "Ce qui fonctionne encore", "fonctionne"),
    "de": ("Teilweise Wartung", "in Wartung", "Was weiterhin funktioniert", "funktioniert"),
    "es": ("Mantenimiento parcial", "en mantenimiento", "Qué sigue funcionando", "funcionando"),
}
ENGLISH_ONLY = ("Partial maintenance", "under maintenance", "What still works", "The rest of")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(Settings.from_options(OPTIONS))


def component_page(
    renderer: Renderer,
    variant: str = "html",
    locale: str = "en",
    *,
    down: tuple[ComponentView, ...] = (PAYMENTS,),
    up: tuple[ComponentView, ...] = UP,
    state: MaintenanceState = STATE,
) -> str:
    page = renderer.page(
        variant,  # type: ignore[arg-type]
        state,
        overrun=False,
        locale=locale,
        component=PAYMENTS,
        down=down,
        up=up,
    )
    return page.body.decode("utf-8")


# -- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_the_html_page_says_what_is_down_and_links_what_still_works(
    renderer: Renderer, locale: str
) -> None:
    html = component_page(renderer, locale=locale)
    parsed = Parsed(html)
    text = parsed.text
    assert "Payments and checkout" in text
    for fixed in EXPECTED[locale]:
        assert fixed in text, (locale, fixed)
    if locale != "en":  # no English left on a translated page (operator text aside)
        for english in ENGLISH_ONLY:
            assert english not in text, (locale, english)
    assert "We are moving to a new payment provider." in text  # the component's own reason
    assert "Data copied." in text  # and its updates
    hrefs = [a["href"] for a in parsed.attrs("a")]
    assert "/shop" in hrefs
    assert "/account" in hrefs
    assert "/" not in hrefs  # the up parts are listed, so no generic "rest of the site"
    assert f'<html lang="{locale}"' in html
    assert "Payments and checkout" in html.split("<title>")[1].split("</title>")[0]


def test_without_up_components_the_page_links_the_rest_of_the_site(renderer: Renderer) -> None:
    parsed = Parsed(component_page(renderer, up=()))
    assert [a["href"] for a in parsed.attrs("a")].count("/") == 1
    assert "The rest of the site" in parsed.text
    text = component_page(renderer, "text", up=())
    assert "The rest of the site: /" in text


def test_other_components_down_are_named_too(renderer: Renderer) -> None:
    text = Parsed(component_page(renderer, down=(PAYMENTS, SEARCH))).text
    assert "Also under maintenance" in text
    assert "Search" in text
    alone = Parsed(component_page(renderer)).text
    assert "Also under maintenance" not in alone


def test_an_unplanned_component_outage_apologises(renderer: Renderer) -> None:
    state = MaintenanceState(kind="unplanned", reason="The provider is down.")
    text = Parsed(component_page(renderer, state=state)).text
    assert "We are sorry" in text
    assert "The rest of the site keeps working." in text


def test_component_labels_are_escaped(renderer: Renderer) -> None:
    evil = ComponentView("x", "<script>alert(1)</script>", link="/x")
    html = renderer.page(
        "html", STATE, overrun=False, component=evil, down=(evil,), up=(evil,)
    ).body.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("locale", LOCALES)
def test_problem_json_names_the_component_and_what_still_works(
    renderer: Renderer, locale: str
) -> None:
    doc = json.loads(component_page(renderer, "json", locale, down=(PAYMENTS, SEARCH)))
    assert doc["status"] == 503
    assert doc["component"] == {"name": "payments", "label": "Payments and checkout"}
    assert doc["also_down"] == [{"name": "search", "label": "Search"}]
    assert doc["still_working"] == [
        {"name": "catalogue", "label": "Browsing the catalogue", "href": "/shop"},
        {"name": "account", "label": "Your account", "href": "/account"},
    ]
    assert doc["detail"] == STATE.reason
    assert doc["eta"]["latest"].startswith((NOW + timedelta(hours=3)).strftime("%Y-%m-%dT%H"))


def test_problem_json_of_the_whole_site_is_unchanged(renderer: Renderer) -> None:
    page = renderer.page("json", STATE, overrun=False)
    doc = json.loads(page.body)
    assert "component" not in doc
    assert "still_working" not in doc


@pytest.mark.parametrize("locale", LOCALES)
def test_the_text_page(renderer: Renderer, locale: str) -> None:
    text = component_page(renderer, "text", locale)
    # French puts a (no-break) space before colons.
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace(" :", ":")
    assert text.startswith("Payments and checkout")
    assert EXPECTED[locale][1] in text
    assert EXPECTED[locale][2] in text
    assert "Browsing the catalogue: /shop" in text
    assert "Your account: /account" in text
    if locale != "en":
        for english in ENGLISH_ONLY:
            assert english not in text, (locale, english)


# -- the banner -------------------------------------------------------------------------------


def banner_html(
    renderer: Renderer,
    locale: str = "en",
    *,
    down: tuple[ComponentView, ...] = (PAYMENTS,),
    up: tuple[ComponentView, ...] = UP,
) -> str:
    template = load_banner_template(renderer.env)
    translations: NullTranslations = renderer.catalogs.translations[locale]
    context = banner_context(
        Banner("components"),
        renderer.settings,
        translations=translations,
        lang=locale,
        down=down,
        up=up,
    )
    return template.render(context)


def test_the_banner_names_the_down_component_its_end_and_what_works(renderer: Renderer) -> None:
    html = banner_html(renderer)
    text = " ".join(Parsed(html).text.split())
    assert "Part of the site is under maintenance: Payments and checkout (until " in text
    end = (NOW + timedelta(hours=3)).astimezone(UTC).isoformat()
    assert f'<time datetime="{end}">' in html
    assert "Still working: Browsing the catalogue, Your account." in text
    hrefs = [a["href"] for a in Parsed(html).attrs("a")]
    assert hrefs == ["/shop", "/account"]
    assert 'role="region"' in html
    assert "aria-label=" in html


def test_the_banner_counts_several_components_and_says_the_rest_works(
    renderer: Renderer,
) -> None:
    text = " ".join(Parsed(banner_html(renderer, down=(PAYMENTS, SEARCH), up=())).text.split())
    assert "2 parts of the site are under maintenance:" in text
    assert "Payments and checkout (until" in text
    assert "; Search (until" in text
    assert "The rest of the site keeps working." in text
    assert "We're back" not in text  # the "ended" banner's words do not leak in


@pytest.mark.parametrize("locale", ["fr", "de", "es"])
def test_the_banner_is_translated(renderer: Renderer, locale: str) -> None:
    one = " ".join(Parsed(banner_html(renderer, locale)).text.split())
    two = " ".join(Parsed(banner_html(renderer, locale, down=(PAYMENTS, SEARCH))).text.split())
    for english in ("under maintenance", "until", "Still working", "keeps working"):
        assert english not in one, (locale, english)
        assert english not in two, (locale, english)
    assert "2 " in two
    assert "Payments and checkout" in one


# -- outside judges ---------------------------------------------------------------------------


@pytest.mark.slow
def test_component_pages_and_banner_are_valid_html(renderer: Renderer, tmp_path: Path) -> None:
    """The Nu HTML Checker over the component page in every language and a bannered page."""
    java = shutil.which("java")
    if java is None or not VNU.exists():
        pytest.fail("Java or vnu-jar missing; python3 dev.py test installs them", pytrace=False)
    files = []
    for locale in LOCALES:
        for up in (UP, ()):
            path = tmp_path / f"component-{locale}-{len(up)}.html"
            path.write_text(component_page(renderer, locale=locale, up=up))
            files.append(path)
    shell = b"<!doctype html><html lang='en'><head><title>Shop</title></head><body><p>Hi</p>"
    bannered = insert(shell + b"</body></html>", banner_html(renderer).encode())
    assert bannered is not None
    (tmp_path / "banner.html").write_bytes(bannered)
    files.append(tmp_path / "banner.html")
    result = subprocess.run(
        [java, "-jar", str(VNU), "--format", "json", "--stdout", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stdout)["messages"]
    # banner.html's dismiss rule (<style> inside the banner) predates components.
    known = "A “style” element in “body” must be the first child of its parent."
    found = [f"{m.get('url')}: {m['message']}" for m in messages if m["message"] != known]
    assert found == []


class _Site(BaseHTTPRequestHandler):
    """The component's 503 at /pay, the working parts at /shop and /account, a bannered /."""

    pages: ClassVar[dict[str, tuple[int, list[tuple[str, str]], bytes]]] = {}

    hits: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        status, headers, body = self.pages.get(self.path, (404, [], b"not found"))
        self.send_response(status)
        for key, value in headers:
            if key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(renderer: Renderer) -> Iterator[str]:
    page = renderer.page(
        "html", STATE, overrun=False, locale="en", component=PAYMENTS, down=(PAYMENTS,), up=UP
    )
    html = [("Content-Type", "text/html; charset=utf-8")]
    shop = (
        b"<!doctype html><html lang='en'><head><title>Shop</title><meta name='viewport' "
        b"content='width=device-width, initial-scale=1'><style>body{margin:0;font:16px/1.5 "
        b"system-ui,sans-serif}main{padding:1rem 1.5rem;max-width:60rem}</style></head><body>"
        b"<main><h1>Shop</h1><p>Our autumn catalogue: coats, boots and scarves.</p></main>"
    )
    bannered = insert(shop + b"</body></html>", banner_html(renderer).encode())
    assert bannered is not None
    _Site.pages = {
        "/pay": (503, list(page.headers), page.body),
        "/shop": (200, html, shop + b"</body></html>"),
        "/home": (200, html, bannered),
        "/account": (200, html, b"<!doctype html><title>Account</title><h1>Account</h1>"),
        "/": (200, html, bannered),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    _require(CHROMIUM, "Chromium", "python3 dev.py test installs it")
    started = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield started
    started.close()


@pytest.mark.slow
def test_the_component_page_on_a_phone(browser: Browser, site: str) -> None:
    """At 375 px: nothing wider than the screen, no axe violation, the up links work."""
    _require(AXE, "axe-core", "python3 dev.py test installs it (npm ci)")
    page: Page = browser.new_page()
    try:
        page.viewport(375, mobile=True)
        page.goto(f"{site}/pay")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert _axe(page) == []
        box = page.evaluate(
            "(l => (l.scrollIntoView({block: 'center'}), JSON.stringify("
            "l.getBoundingClientRect())))(document.querySelector('ul.up a[href=\"/shop\"]'))"
        )
        rect = json.loads(box)
        assert rect["width"] > 0
        assert rect["height"] >= 16
        assert rect["right"] <= 375

        def where() -> object:  # the path and load state, None while the page is swapped
            try:
                return page.evaluate("location.pathname + ' ' + document.readyState")
            except CDPError:
                return None

        x, y = rect["x"] + rect["width"] / 2, rect["y"] + rect["height"] / 2
        for kind in ("mousePressed", "mouseReleased"):  # a real click where the link is
            page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        assert page.wait_for(lambda: where() == "/shop complete", 10)
        assert page.evaluate("document.querySelector('h1').textContent") == "Shop"
        # The banner on the working page: readable at 375 px, and accessible.
        page.goto(f"{site}/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert _axe(page) == []
    finally:
        page.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "name", "width"),
    [
        pytest.param("/pay", "component", 375, id="page-375"),
        pytest.param("/pay", "component", 1280, id="page-1280"),
        pytest.param("/home", "component-banner", 375, id="banner-375"),
        pytest.param("/home", "component-banner", 1280, id="banner-1280"),
    ],
)
def test_component_screenshots(
    browser: Browser, site: str, path: str, name: str, width: int
) -> None:
    """What docs/components.md shows (copied from test-artifacts/screenshots/ by hand)."""
    page: Page = browser.new_page()
    try:
        page.viewport(width, mobile=width < 500)
        page.goto(f"{site}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot = ARTIFACTS / f"{name}-en-{width}.png"
        page.screenshot(shot)
        assert shot.stat().st_size > 5000
    finally:
        page.close()


def _status(payments: str, search: str = "operational") -> tuple[int, list[tuple[str, str]], bytes]:
    """A status document while the site is up: its indicator is "minor" while a component
    is down, else "none"."""
    down = (payments, search) != ("operational", "operational")
    doc = {
        "status": {"indicator": "minor" if down else "none"},
        "components": [
            {"id": "payments", "name": "Payments", "status": payments},
            {"id": "search", "name": "Search", "status": search},
        ],
    }
    return 200, [("Content-Type", "application/json")], json.dumps(doc).encode()


@pytest.mark.slow
def test_the_component_page_waits_for_its_component_not_for_the_site(
    browser: Browser, site: str
) -> None:
    """The site is up while a component is down: the page reloads only once the component is."""
    quick = Renderer(Settings.from_options({**OPTIONS, "poll_interval": 1, "poll_max_interval": 1}))
    page_503 = quick.page(
        "html", STATE, overrun=False, status_url="/status", component=PAYMENTS, down=(PAYMENTS,)
    )
    _Site.pages["/pay-live"] = (503, list(page_503.headers), page_503.body)
    _Site.pages["/status"] = _status("under_maintenance")
    _Site.hits.clear()
    page: Page = browser.new_page()
    try:
        page.goto(f"{site}/pay-live")
        # Several polls of the status document, and no reload while payments is down.
        assert page.wait_for(lambda: _Site.hits.get("/status", 0) >= 3, 30)
        assert _Site.hits["/pay-live"] == 1
        # Payments is back while search went down: the site still says "minor", and the
        # payments page reloads all the same.
        _Site.pages["/status"] = _status("operational", "under_maintenance")
        assert page.wait_for(lambda: _Site.hits.get("/pay-live", 0) >= 2, 30)
    finally:
        page.close()


def test_preview_has_a_component_sample(tmp_path: Path) -> None:
    """``maintenance preview`` shows a component's page too, in every language and form."""
    from maintenance_mode.preview import sample_states, write_folder

    renderer = Renderer(Settings.from_options(OPTIONS))
    written = {p.name for p in write_folder(tmp_path, renderer, sample_states())}
    assert {f"component.{locale}.html" for locale in renderer.locales} <= written
    page = Parsed((tmp_path / "component.en.html").read_text(encoding="utf-8"))
    text = " ".join(page.text.split())
    assert "Payments and checkout" in text
    assert "Site search" in text  # also under maintenance
    assert "Browsing the catalogue" in text  # still working, linked
    assert "We are moving to a new payment provider." in text
    plain = (tmp_path / "component.en.txt").read_text(encoding="utf-8")
    assert "Payments and checkout" in plain
    assert "component" in (tmp_path / "index.html").read_text(encoding="utf-8")
