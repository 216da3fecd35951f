"""The banner's dismiss link: a cookie per window, a same-site redirect back, the skip.

In-process: the engine's decisions (``RequestInfo``) and the WSGI middleware through
``httpx.WSGITransport``. The real-browser round trip is in ``test_browser.py``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from maintenance_mode import control
from maintenance_mode.banner import DISMISS_COOKIE, banner_context, banner_id, insert
from maintenance_mode.core import Maintenance, RequestInfo
from maintenance_mode.schedule import Banner
from maintenance_mode.state import MaintenanceState, Window, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMiddleware
from test_browser import (
    ARTIFACTS,
    AXE,
    CHROMIUM,
    Browser,
    CDPError,
    Page,
    _axe,
    _only_loopback,
    _require,
)

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
PAGE = b"<!doctype html><html lang='en'><head><title>t</title></head><body><p>hi</p></body></html>"


def _window(hours: int = 2) -> MaintenanceState:
    return MaintenanceState(
        windows=(
            Window(start=T0, end=T0 + timedelta(hours=hours), announce_from=T0 - timedelta(days=3)),
        )
    )


def _engine(flag: Path, **options: Any) -> Maintenance:
    m = Maintenance(flag=flag, check_interval=3600, **options)
    m._clock = lambda: T0 - timedelta(hours=5)
    m.invalidate()
    return m


def _get(m: Maintenance, path: str = "/", **fields: Any) -> Any:
    values: dict[str, Any] = {"method": "GET", "path": path, "root": "", "peer": "198.51.100.9"}
    values.update(fields)
    return m.decide(m.poll(), RequestInfo(**values))


def _current_id(m: Maintenance) -> str:
    banner = m.poll().banner
    assert banner is not None
    return banner_id(banner)


def _link(banner: bytes) -> str:
    match = re.search(rb'class="mm-banner-dismiss" href="([^"]+)"', banner)
    assert match is not None, banner
    return match.group(1).decode()


def test_the_link_leads_back_to_the_page_and_the_cookie_hides_that_window(flag_path: Path) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path)
    shown = _get(m, "/shop/cart")
    assert shown.action == "pass"
    assert shown.banner
    ident = _current_id(m)
    assert _link(shown.banner) == f"/__maintenance__/dismiss/{ident}/shop/cart"
    assert b"<details" in shown.banner
    assert b"<summary" in shown.banner

    answer = _get(m, _link(shown.banner))
    assert answer.action == "respond"
    assert answer.response.status == 303
    headers = dict(answer.response.headers)
    assert headers["Location"] == "/shop/cart"
    assert headers["Cache-Control"] == "no-store"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"{DISMISS_COOKIE}={ident};")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie

    # While the cookie names this window, pages pass untouched; another value does not count.
    assert _get(m, "/", cookie=f"a=b; {DISMISS_COOKIE}={ident}").banner is None
    assert _get(m, "/", cookie=f"x{DISMISS_COOKIE}={ident}").banner
    assert _get(m, "/", cookie=f"{DISMISS_COOKIE}=0000{ident}").banner

    # The window moves: a new id, the banner is back despite the old cookie.
    write_state_atomic(flag_path, _window(hours=3))
    m.invalidate()
    again = _get(m, "/", cookie=f"{DISMISS_COOKIE}={ident}")
    assert again.banner
    assert _current_id(m) != ident


def test_the_link_keeps_the_mount_prefix(flag_path: Path) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path)
    shown = _get(m, "/a b", root="/app")
    link = _link(shown.banner)
    assert link.startswith("/app/__maintenance__/dismiss/")
    assert link.endswith("/a%20b")
    answer = _get(m, link.removeprefix("/app").replace("%20", " "), root="/app")
    headers = dict(answer.response.headers)
    assert headers["Location"] == "/app/a%20b"
    assert "Path=/app/" in headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("tail", "location"),
    [
        pytest.param("//evil.example/x", "/evil.example/x", id="protocol-relative"),
        pytest.param("/\\evil.example", "/evil.example", id="backslash"),
        pytest.param("/https://evil.example", "/https://evil.example", id="absolute URL as path"),
        pytest.param("/a\r\nSet-Cookie: x=y", "/a%0D%0ASet-Cookie:%20x=y", id="header injection"),
        pytest.param("", "/", id="no path"),
    ],
)
def test_the_redirect_never_leaves_the_site(flag_path: Path, tail: str, location: str) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path)
    answer = _get(m, f"/__maintenance__/dismiss/0123456789abcdef{tail}")
    assert answer.response.status == 303
    target = dict(answer.response.headers)["Location"]
    assert target == location
    assert target.startswith("/")
    assert not target.startswith(("//", "/\\"))


def test_a_bad_id_sets_no_cookie(flag_path: Path) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path)
    for ident in ("", "xyz", "0123", "ABCDEF0123456789", "0" * 65):
        answer = _get(m, f"/__maintenance__/dismiss/{ident}/page")
        headers = dict(answer.response.headers)
        assert "Set-Cookie" not in headers, ident
        assert headers["Location"] == "/page"


def test_the_id_follows_what_the_banner_says() -> None:
    window = Window(start=T0, end=T0 + timedelta(hours=2))
    same = Window(start=T0, end=T0 + timedelta(hours=2), reason="other words")
    later = Window(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    upcoming = banner_id(Banner("upcoming", window=window))
    assert upcoming == banner_id(Banner("upcoming", window=same))  # same times: same window
    assert upcoming != banner_id(Banner("upcoming", window=later))
    assert upcoming != banner_id(Banner("read_only", window=window))  # the window started
    assert banner_id(Banner("ended", ended_at=T0)) != banner_id(
        Banner("ended", ended_at=T0 + timedelta(minutes=1))
    )


def test_through_the_wsgi_middleware(flag_path: Path) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))]
        )
        return [PAGE]

    write_state_atomic(flag_path, _window())
    wsgi = WSGIMiddleware(app, flag=flag_path)
    wsgi.maintenance._clock = lambda: T0 - timedelta(hours=5)
    wsgi.maintenance.invalidate()
    with httpx.Client(
        transport=httpx.WSGITransport(app=wsgi), base_url="http://t", follow_redirects=True
    ) as client:
        first = client.get("/products")
        assert b"mm-banner" in first.content
        assert int(first.headers["content-length"]) == len(first.content)
        dismissed = client.get(_link(first.content))
        assert dismissed.status_code == 200
        assert dismissed.url.path == "/products"
        assert b"mm-banner" not in dismissed.content  # the client kept the cookie
        assert b"mm-banner" not in client.get("/other").content
        client.cookies.clear()
        assert b"mm-banner" in client.get("/other").content


def test_no_dismiss_link_when_banners_are_off(flag_path: Path) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path, banner=False)
    # The path is not the library's then: it goes to the app like any other.
    assert _get(m, "/__maintenance__/dismiss/0123456789abcdef/").action == "pass"


def test_the_template_helper_renders_no_placeholder(flag_path: Path) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path)
    m.poll()
    html = m.banner_html()
    assert "mm-banner" in html
    assert "__mm_dismiss_url__" not in html


def test_the_banner_is_right_to_left_in_a_right_to_left_language(flag_path: Path) -> None:
    window = Window(start=T0, end=T0 + timedelta(hours=2))
    settings = Maintenance(flag=flag_path).settings
    assert banner_context(Banner("upcoming", window=window), settings, lang="ar")["dir"] == "rtl"
    assert banner_context(Banner("upcoming", window=window), settings, lang="fr")["dir"] == "ltr"


# -- in a real browser ----------------------------------------------------------------------

SHOP = (
    "<!doctype html><html lang='en'><head><title>{title}</title><meta name='viewport' "
    "content='width=device-width, initial-scale=1'><style>body{{margin:0;font:16px/1.5 "
    "system-ui,sans-serif}}main{{padding:1rem 1.5rem;max-width:60rem}}</style></head><body>"
    "<main><h1>{title}</h1><p>Our autumn catalogue: coats, boots and scarves.</p>"
    "<p><a href='/other'>Another page</a></p></main></body></html>"
)


def _announced(start_in: timedelta, hours: int = 2) -> MaintenanceState:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now + start_in
    return MaintenanceState(
        windows=(
            Window(
                start=start,
                end=start + timedelta(hours=hours),
                timezone="Europe/Paris",
                reason="Database upgrade",
                affected=("Checkout",),
                unaffected=("Browsing the catalogue",),
                announce_from=now - timedelta(hours=1),
            ),
        )
    )


@pytest.fixture
def shop(flag_path: Path) -> Iterator[tuple[str, WSGIMiddleware]]:
    """The middleware around a two-page app, on a real threaded wsgiref server."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/rtl":  # no Content-Length: the middleware leaves it be
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [rtl_page]
        title = "Products" if environ["PATH_INFO"] == "/products" else "Another page"
        body = SHOP.format(title=title).encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    write_state_atomic(flag_path, _announced(timedelta(days=2)))
    middleware = WSGIMiddleware(
        app,
        flag=flag_path,
        site_name="Acme Shop",
        time_zones=["Europe/Paris", "UTC"],
        ended_banner_for="1h",
    )
    # A page in Arabic with the banner in Arabic's direction (the packaged banner's words
    # stay English: no Arabic catalog ships; the layout is what is checked).
    engine = middleware.maintenance
    banner = engine.poll().banner
    assert banner is not None
    context = banner_context(
        banner, engine.settings, lang="ar", dismiss_url="/__maintenance__/dismiss/0123456789abcdef/"
    )
    rtl_page = insert(
        SHOP.format(title="rtl").replace("lang='en'", "lang='ar' dir='rtl'").encode(),
        engine._warm()[1].render(context).encode(),
    )
    assert rtl_page is not None
    server = make_server("127.0.0.1", 0, middleware, server_class=Server, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", middleware
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    _require(CHROMIUM, "Chromium", "python3 dev.py test installs it")
    started = Browser(tmp_path / "chromium-profile")
    yield started
    started.close()


def _has_banner(page: Page) -> bool:
    return bool(page.evaluate("document.querySelectorAll('.mm-banner').length === 1"))


def _click(page: Page, selector: str) -> None:
    """A real mouse click in the middle of the element."""
    box = json.loads(
        page.evaluate(
            f"JSON.stringify(document.querySelector({selector!r}).getBoundingClientRect())"
        )
    )
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for kind in ("mousePressed", "mouseReleased"):
        page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def _where(page: Page) -> object:
    try:
        return page.evaluate("location.pathname + ' ' + document.readyState")
    except CDPError:  # the document is being swapped
        return None


@pytest.mark.slow
def test_dismissal_lasts_for_the_window_in_a_real_browser(
    browser: Browser, shop: tuple[str, WSGIMiddleware], flag_path: Path
) -> None:
    _require(AXE, "axe-core", "python3 dev.py test installs it (npm ci)")
    base, middleware = shop
    page = browser.new_page()
    try:
        for width, dark in ((375, False), (1280, False), (375, True), (1280, True)):
            page.viewport(width, mobile=width < 500, dark=dark)
            page.goto(f"{base}/products")
            assert _has_banner(page)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert _axe(page) == []
            # One line: the headline's summary is one line high (the details are closed).
            lines = page.evaluate(
                "(s => s.getBoundingClientRect().height / parseFloat(getComputedStyle(s)"
                ".lineHeight))(document.querySelector('.mm-banner summary'))"
            )
            if width >= 1280:
                assert lines < 1.5
            page.screenshot(ARTIFACTS / f"banner-en-{width}{'-dark' if dark else ''}.png")
        # The details open from the keyboard-accessible summary (a native disclosure).
        page.viewport(1280, mobile=False)
        page.goto(f"{base}/products")
        _click(page, ".mm-banner summary")
        assert page.wait_for(
            lambda: page.evaluate("document.querySelector('.mm-banner details').open"), 5
        )
        assert "Database upgrade" in page.evaluate("document.querySelector('.mm-banner').innerText")
        page.screenshot(ARTIFACTS / "banner-open-en-1280.png")

        # Dismiss: back on the same page, without the banner; it stays away on other pages.
        page.viewport(375, mobile=True)
        page.goto(f"{base}/products")
        _click(page, ".mm-banner-dismiss")
        assert page.wait_for(
            lambda: _where(page) == "/products complete" and not _has_banner(page), 10
        )
        page.screenshot(ARTIFACTS / "banner-dismissed-en-375.png")
        page.goto(f"{base}/other")
        assert page.evaluate("document.querySelector('h1').textContent") == "Another page"
        assert not _has_banner(page)

        # Right to left: the accent bar on the right, the close button on the left.
        page.goto(f"{base}/rtl")
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.mm-banner')).direction")
            == "rtl"
        )
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.mm-banner')).borderRightWidth")
            == "6px"
        )
        assert (
            page.evaluate(
                "document.querySelector('.mm-banner-dismiss').getBoundingClientRect().left"
            )
            < 60
        )
        page.screenshot(ARTIFACTS / "banner-rtl-375.png")

        # The window changes: the banner is back.
        write_state_atomic(flag_path, _announced(timedelta(days=2), hours=3))
        middleware.maintenance.invalidate()
        page.goto(f"{base}/other")
        assert _has_banner(page)
        # In French, with French typography.
        page.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": "fr"})
        for width in (375, 1280):
            page.viewport(width, mobile=width < 500)
            page.goto(f"{base}/products")
            assert page.evaluate("document.querySelector('.mm-banner').lang") == "fr"
            assert "Maintenance planifiée\u00a0:" in page.evaluate(
                "document.querySelector('.mm-banner summary').textContent"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(ARTIFACTS / f"banner-fr-{width}.png")

        # After: `maintenance off` has just ended it: "we're back", in English and French.
        control.off(flag_path, purge=True)  # no window left ahead (it would be announced)
        control.on(flag_path, reason="Database upgrade")
        control.off(flag_path)
        middleware.maintenance.invalidate()
        for locale, words in (("en", "We\u2019re back."), ("fr", "Nous sommes de retour.")):
            page.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": locale})
            for width in (375, 1280):
                page.viewport(width, mobile=width < 500)
                page.goto(f"{base}/products")
                assert _has_banner(page)
                summary = page.evaluate("document.querySelector('.mm-banner summary').textContent")
                assert words in summary, summary
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(ARTIFACTS / f"banner-ended-{locale}-{width}.png")
        _only_loopback(page.requested_urls())
    finally:
        page.close()


@pytest.mark.slow
def test_every_kind_of_banner_is_valid_html(flag_path: Path, tmp_path: Path) -> None:
    """The Nu HTML Checker over a page with each kind of banner, dismiss link included."""
    import shutil
    import subprocess

    from maintenance_mode.render import ComponentView

    java = shutil.which("java")
    vnu = Path(__file__).resolve().parents[1] / "node_modules/vnu-jar/build/dist/vnu.jar"
    if java is None or not vnu.exists():
        pytest.fail("Java or vnu-jar missing; python3 dev.py test installs them", pytrace=False)
    m = _engine(flag_path, time_zones=["Europe/Paris", "UTC"])
    template = m._warm()[1]
    window = _window().windows[0]
    pay = ComponentView("pay", "Payments", eta_latest=T0)
    kinds = [
        (Banner("upcoming", window=window), (), ()),
        (Banner("read_only", state=MaintenanceState(reason="Moving the database")), (), ()),
        (Banner("ended", ended_at=T0), (), ()),
        (Banner("components"), (pay,), (ComponentView("shop", "Shop", link="/shop"),)),
    ]
    files = []
    for index, (banner, down, up) in enumerate(kinds):
        for locale in ("en", "fr"):
            context = banner_context(
                banner,
                m.settings,
                translations=m._renderer.catalogs.translations[locale],
                lang=locale,
                down=down,
                up=up,
                dismiss_url="/__maintenance__/dismiss/0123456789abcdef/a%20b",
            )
            shell = b"<!doctype html><html lang='en'><head><title>Shop</title></head><body><p>Hi"
            page = insert(shell + b"</p></body></html>", template.render(context).encode())
            assert page is not None
            path = tmp_path / f"banner-{index}-{locale}.html"
            path.write_bytes(page)
            files.append(path)
    result = subprocess.run(
        [java, "-jar", str(vnu), "--format", "json", "--stdout", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stdout)["messages"]
    assert [f"{m.get('url')}: {m['message']}" for m in messages] == []


def test_the_banner_is_typeset_for_its_language(flag_path: Path) -> None:
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path)
    html = _get(m, "/", accept_language="fr").banner.decode()
    assert "\xa0:</strong>" in html  # French: a no-break space before the colon
    assert " :</strong>" not in html


def test_a_designer_overrides_one_block(flag_path: Path, tmp_path: Path) -> None:
    (tmp_path / "banner.html").write_text(
        '{% extends "default/banner.html" %}'
        "{% block details %}<p>Orders ship as usual.</p>{% endblock %}"
    )
    write_state_atomic(flag_path, _window())
    m = _engine(flag_path, template_dir=tmp_path)
    html = _get(m, "/").banner.decode()
    assert "<p>Orders ship as usual.</p>" in html
    assert "Planned maintenance" in html  # the packaged headline is kept
    assert "/__maintenance__/dismiss/" in html  # and its dismiss link, filled in


def test_through_the_flask_extension(flag_path: Path) -> None:
    from flask import Flask

    from maintenance_mode.flask import MaintenanceMode

    app = Flask(__name__)

    @app.get("/products")
    def products() -> str:
        return PAGE.decode()

    write_state_atomic(flag_path, _announced(timedelta(days=2)))
    MaintenanceMode(app, flag=flag_path)
    client = app.test_client()
    first = client.get("/products")
    assert b"mm-banner" in first.data
    dismissed = client.get(_link(first.data))
    assert dismissed.status_code == 303
    assert dismissed.headers["Location"] == "/products"
    assert b"mm-banner" not in client.get("/products").data  # the test client kept the cookie


@pytest.mark.anyio
async def test_through_the_asgi_middleware(flag_path: Path) -> None:
    from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMiddleware

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(PAGE)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    write_state_atomic(flag_path, _announced(timedelta(days=2)))
    asgi = ASGIMiddleware(app, flag=flag_path)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", follow_redirects=True
    ) as client:
        first = await client.get("/products")
        assert b"mm-banner" in first.content
        dismissed = await client.get(_link(first.content))
        assert dismissed.url.path == "/products"
        assert b"mm-banner" not in dismissed.content
