"""The page in the order a visitor needs it (issue 18): what and why, what is affected,
when, the latest update, what still works, then help; an optional apology and
compensation for planned work, set through control, the CLI and the flag document."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from maintenance_mode import MaintenanceState, ProgressUpdate, control
from maintenance_mode.cli import main
from maintenance_mode.render import Renderer
from maintenance_mode.settings import Settings
from maintenance_mode.state import Window, load_state
from test_browser import AXE, CHROMIUM, Browser, Page, _axe, _require
from test_page import Parsed

NOW = datetime.now(UTC).replace(microsecond=0)
OPTIONS: dict[str, Any] = {
    "site_name": "Acme Shop",
    "contacts": {
        "email": "support@acme.example",
        "emergency_phone": "+33 6 00 00 00 00",
        "form": "/contact",
        "status_page": "https://status.acme.example",
    },
    "links": {"Blog": "/blog/"},
}
#: The landmarks of the default page, in the order a visitor needs them.
ORDER = ["mm-affected", "mm-when", "mm-updates", "mm-still-works", "mm-links", "mm-help"]


def full_state(**extra: Any) -> MaintenanceState:
    window = Window(
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=2),
        affected=("Checkout",),
        unaffected=("Blog",),
    )
    return MaintenanceState(
        reason="Upgrading the payment system.",
        started_at=window.start,
        eta=window.end,
        windows=(window,),
        updates=(ProgressUpdate(at=NOW - timedelta(minutes=5), text="Database migrated."),),
        **extra,
    )


def render(state: MaintenanceState, variant: str = "html", locale: str = "en") -> str:
    page = Renderer(Settings.from_options(OPTIONS)).page(
        variant,  # type: ignore[arg-type]
        state,
        overrun=False,
        locale=locale,
    )
    return page.body.decode("utf-8")


def test_sections_come_in_the_order_a_visitor_needs() -> None:
    body = render(full_state())
    ids = re.findall(r'<h2 id="(mm-[a-z-]+)"', body)
    assert ids == ORDER
    # What is happening and why comes first, before the generic lede.
    assert body.index("<h1") < body.index('class="reason"') < body.index('class="lede')
    assert body.index('class="lede') < body.index('id="mm-affected"')


def test_the_reason_is_set_larger_than_the_lede() -> None:
    body = render(full_state())
    css = {
        m[0]: float(m[1]) for m in re.findall(r"\.(reason|lede) \{ font-size: ([.\d]+)rem", body)
    }
    assert css["reason"] > css["lede"]


def test_the_text_variant_keeps_the_same_order() -> None:
    text = render(full_state(message="Orders placed before 9:00 are safe."), "text")
    # The reason and the message before the general lede, as on the HTML page.
    marks = ["Upgrading the payment system.", "Orders placed before 9:00", "behind the scenes"]
    marks += ["What is affected", "Maintenance window", "Updates", "What still works", "Need help?"]
    at = [text.index(mark) for mark in marks]
    assert at == sorted(at), dict(zip(marks, at, strict=True))


@pytest.mark.parametrize("variant", ["html", "text"])
def test_apology_and_compensation_only_when_set(variant: str) -> None:
    fixed = "We apologise for the inconvenience, and thank you for bearing with us."
    plain = render(full_state(), variant)
    assert fixed not in plain
    assert "To make up for it" not in plain
    both = render(full_state(apology=True, compensation="10% off with SORRY10"), variant)
    assert fixed in both
    assert "To make up for it:" in both
    assert "10% off with SORRY10" in both
    own = render(full_state(apology="Sorry for the short notice."), variant)
    assert "Sorry for the short notice." in own
    assert fixed not in own
    assert "To make up for it" not in own


def test_the_fixed_apology_is_translated() -> None:
    text = Parsed(render(full_state(apology=True, compensation="Bon SORRY10"), locale="fr")).text
    assert "Nous vous prions de nous excuser" in text
    assert "En dédommagement : Bon" in text


def test_control_sets_and_clears_the_apology_and_compensation(flag_path: Path) -> None:
    control.on(flag_path, reason="Upgrade", apology=True, compensation="A voucher")
    state = load_state(flag_path.read_bytes())
    assert (state.apology, state.compensation) == (True, "A voucher")
    control.update(flag_path, "Halfway", apology="Sorry!", compensation="")
    state = load_state(flag_path.read_bytes())
    assert (state.apology, state.compensation) == ("Sorry!", None)
    control.on(flag_path, apology=False)
    assert load_state(flag_path.read_bytes()).apology is False
    control.off(flag_path, purge=True)
    control.schedule(
        flag_path, start="2d", end="4h", apology=True, compensation="Free shipping", now=NOW
    )
    window = load_state(flag_path.read_bytes()).windows[0]
    assert (window.apology, window.compensation) == (True, "Free shipping")


def test_a_started_window_shows_its_apology(flag_path: Path) -> None:
    from maintenance_mode.schedule import window_state

    window = Window(start=NOW, end=NOW + timedelta(hours=1), apology=True, compensation="A gift")
    state = window_state(MaintenanceState(windows=(window,)), window)
    assert (state.apology, state.compensation) == (True, "A gift")


def test_the_cli_flags(flag_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = ["--file", str(flag_path)]
    assert main(["on", *f, "--apology", "--compensation", "10% voucher: SORRY10"]) == 0
    state = load_state(flag_path.read_bytes())
    assert (state.apology, state.compensation) == (True, "10% voucher: SORRY10")
    assert main(["update", *f, "Halfway", "--apology", "Our own words"]) == 0
    assert load_state(flag_path.read_bytes()).apology == "Our own words"
    assert main(["on", *f, "--no-apology", "--compensation", ""]) == 0
    state = load_state(flag_path.read_bytes())
    assert (state.apology, state.compensation) == (False, None)
    capsys.readouterr()
    assert main(["schedule", "--help"]) == 0
    assert "--compensation" in capsys.readouterr().out


# -- in a real browser, on a phone ---------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    page: ClassVar[tuple[int, list[tuple[str, str]], bytes]]

    def do_GET(self) -> None:
        status, headers, body = self.page
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    _require(CHROMIUM, "Chromium", "python3 dev.py test installs it")
    started = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield started
    started.close()


@pytest.fixture
def site() -> Iterator[str]:
    page = Renderer(Settings.from_options(OPTIONS)).page(
        "html", full_state(apology=True, compensation="A voucher"), overrun=False, locale="en"
    )
    _Handler.page = (503, list(page.headers), page.body)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_on_a_phone_what_is_affected_and_the_latest_update_come_before_contacts(
    browser: Browser, site: str
) -> None:
    _require(AXE, "axe-core", "python3 dev.py test installs it (npm ci)")
    page: Page = browser.new_page()
    try:
        page.viewport(375, mobile=True)
        page.goto(site)
        tops = page.evaluate(
            "JSON.stringify(Object.fromEntries(" + repr(ORDER) + ".map(id => [id, "
            "document.getElementById(id).getBoundingClientRect().top + window.scrollY])))"
        )
        where = json.loads(tops)
        assert where["mm-affected"] < where["mm-help"]
        assert where["mm-updates"] < where["mm-help"]
        assert [where[i] for i in ORDER] == sorted(where[i] for i in ORDER), where
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert _axe(page) == []
    finally:
        page.close()


def test_the_flask_group_takes_the_same_flags(flag_path: Path) -> None:
    from test_flask_command import invoke, make_app

    app = make_app(str(flag_path))
    result = invoke(app, "on", "--apology", "--compensation", "Free shipping")
    assert result.exit_code == 0, result.output
    state = load_state(flag_path.read_bytes())
    assert (state.apology, state.compensation) == (True, "Free shipping")
    app.extensions["maintenance_mode"].invalidate()
    page = app.test_client().get("/", headers={"Accept": "text/html"}).text
    assert "To make up for it:" in page
    assert "Free shipping" in page
    result = invoke(app, "update", "Halfway", "--no-apology", "--compensation", "")
    assert result.exit_code == 0, result.output
    state = load_state(flag_path.read_bytes())
    assert (state.apology, state.compensation) == (False, None)
    result = invoke(app, "on", "--apology", "--no-apology")
    assert result.exit_code == 2
    assert "do not go together" in result.output
