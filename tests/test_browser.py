"""The page in a real browser: Debian's headless Chromium, driven over the DevTools protocol.

* screenshots at 375 px and 1280 px for planned and unplanned pages (light, dark,
  French), kept in ``test-artifacts/screenshots/`` (git-ignored);
* axe-core (npm, ``node_modules/axe-core``) run inside every sample state in every
  locale, and in dark mode, reports no WCAG 2.1 A/AA violation;
* with JavaScript disabled the page shows every fact, with times in the
  configured zones; with JavaScript on, the visitor's own zone is added;
* the page is open, maintenance is switched off (the flag file removed with
  ``maintenance off``) and the browser lands on the real site by itself, with
  JavaScript (the poll) and without it (the ``<meta http-equiv="refresh">``);
* the inline script runs under the page's strict CSP (no violation reported),
  and no request leaves 127.0.0.1.

Chromium runs with ``--headless --no-sandbox --disable-gpu --no-first-run
--disable-background-networking``, a fresh ``--user-data-dir``, and a host
resolver that resolves nothing but 127.0.0.1. In CI a missing Chromium or
axe-core fails these tests; elsewhere they are skipped with the command to fix it.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from maintenance_mode import cli
from maintenance_mode.preview import PreviewServer, sample_states, serve
from maintenance_mode.state import (
    ETARange,
    MaintenanceState,
    ProgressUpdate,
    write_state_atomic,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

LOGO = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="150" height="40" viewBox="0 0 150 40">'
        b'<rect width="40" height="40" rx="9" fill="#0b6e4f"/>'
        b'<path d="M9 28 L17 12 L23 22 L27 16 L32 28 Z" fill="#fff"/>'
        b'<text x="48" y="27" font-family="sans-serif" font-size="19" font-weight="700" '
        b'fill="#0b6e4f">Acme</text></svg>'
    ).decode()
)

#: The options of the pages under test (as a team would configure them).
OPTIONS: dict[str, Any] = {
    "site_name": "Acme Shop",
    "time_zones": ["Europe/Paris", "America/New_York"],
    "brand": {"logo_url": LOGO, "logo_alt": "Acme Shop", "accent": "#0b6e4f"},
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


def _require(path: str | Path, what: str, fix: str) -> None:
    if Path(path).exists():
        return
    # Never a skip: `python3 dev.py test` installs these (scripts/ensure-test-tools.sh).
    pytest.fail(f"{what} not found at {path}; {fix}", pytrace=False)


# -- a small DevTools protocol client -----------------------------------------------------


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium and its browser-level DevTools connection."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TZ": "UTC"},  # the visitor's zone, unless a test emulates one
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"{CHROMIUM} did not start (exit code {self.proc.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().split()[:2]
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=10)
        )
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(
        self, method: str, session: str | None = None, timeout: float = 30, **params: Any
    ) -> dict[str, Any]:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method}")
            data = json.loads(self.ws.recv(timeout=left))
            if data.get("id") == ident:
                if "error" in data:
                    raise CDPError(f"{method}: {data['error']}")
                result: dict[str, Any] = data.get("result", {})
                return result
            if "method" in data:
                self.events.append(data)

    def pump(self, seconds: float) -> None:
        """Collect events for a while."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                return
            if "method" in data:
                self.events.append(data)

    def new_page(self) -> Page:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        return Page(self, target, session)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing anyway
            self.call("Browser.close", timeout=5)
        self._stack.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Page:
    """One tab: navigation, evaluation, screenshots, and the requests it made."""

    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser, self.target, self.session = browser, target, session
        self.mark = len(browser.events)
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.call(method, self.session, **params)

    def own_events(self, name: str) -> list[dict[str, Any]]:
        return [
            e["params"]
            for e in self.browser.events[self.mark :]
            if e.get("sessionId") == self.session and e["method"] == name
        ]

    def goto(self, url: str, *, timeout: float = 20) -> None:
        loads = len(self.own_events("Page.loadEventFired"))
        self.call("Page.navigate", url=url)
        self.wait_for(lambda: len(self.own_events("Page.loadEventFired")) > loads, timeout)

    def wait_for(self, done: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            self.browser.pump(step)
        return done()

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in result:
            raise CDPError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self) -> str:
        """The document's visible text (DOM-based, so it works with JavaScript disabled)."""
        root = self.call("DOM.getDocument", depth=0)["root"]["nodeId"]
        body = self.call("DOM.querySelector", nodeId=root, selector="body")["nodeId"]
        outer: str = self.call("DOM.getOuterHTML", nodeId=body)["outerHTML"]
        return outer

    def viewport(self, width: int, *, mobile: bool, dark: bool = False) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=800,
            deviceScaleFactor=1,
            mobile=mobile,
        )
        self.call("Emulation.setScrollbarsHidden", hidden=True)
        self.call(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}],
        )

    def screenshot(self, path: Path) -> None:
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def requested_urls(self) -> list[str]:
        return [e["request"]["url"] for e in self.own_events("Network.requestWillBeSent")]

    def close(self) -> None:
        self.browser.call("Target.closeTarget", targetId=self.target)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    _require(CHROMIUM, "Chromium", "python3 dev.py test installs it")
    started = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield started
    started.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    tab = browser.new_page()
    yield tab
    tab.close()


@pytest.fixture(scope="module")
def previews() -> Iterator[PreviewServer]:
    server = serve(OPTIONS, port=0, sample_extras=False)
    yield server
    server.shutdown()
    server.server_close()


#: Babel (CLDR) puts thin and narrow no-break spaces in times and ranges ("2:00\u202fPM").
SPACES = str.maketrans({"\u2009": " ", "\u202f": " ", "\u00a0": " ", "\u2013": "-"})


def _only_loopback(urls: list[str]) -> None:
    strays = [u for u in urls if not u.startswith(("http://127.0.0.1:", "data:", "about:"))]
    assert strays == [], strays


# -- screenshots and accessibility ------------------------------------------------------------


#: Every state the docs show (docs/screenshots), in English and French, at both widths.
SHOT_SAMPLES = ("planned", "unplanned", "eta-range", "overrun", "overrun-revised", "updates")
SHOT_RUNS: list[tuple[str, str, int, bool]] = [
    (sample, locale, width, False)
    for sample in (*SHOT_SAMPLES, "component")
    for locale in ("en", "fr")
    for width in (375, 1280)
] + [
    (sample, locale, width, True)
    for sample, width in (("planned", 375), ("updates", 1280), ("overrun-revised", 375))
    for locale in ("en", "fr")
]
SHOTS = [
    pytest.param(*run, id=f"{run[0]}-{run[2]}-{run[1]}{'-dark' if run[3] else ''}")
    for run in SHOT_RUNS
]


@pytest.mark.parametrize(("sample", "locale", "width", "dark"), SHOTS)
def test_screenshots(
    page: Page,
    previews: PreviewServer,
    sample: str,
    locale: str,
    width: int,
    dark: bool,
) -> None:
    page.viewport(width, mobile=width < 500, dark=dark)
    page.goto(f"{previews.url}{sample}.{locale}.html")
    # Nothing is wider than the screen (no sideways scrolling on a phone).
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate("document.querySelector('h1').getBoundingClientRect().width") > 0
    assert page.evaluate("document.documentElement.lang") == locale
    name = f"{sample}-{locale}-{width}{'-dark' if dark else ''}.png"
    page.screenshot(ARTIFACTS / name)
    assert (ARTIFACTS / name).stat().st_size > 5000
    _only_loopback(page.requested_urls())


def _axe(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text("utf-8"))
    tags = json.dumps(WCAG21_AA)
    result = page.evaluate(
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {tags}}}, "
        "resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)})))",
        await_promise=True,
    )
    assert isinstance(result, list)
    return result


def test_axe_finds_no_wcag21_aa_violation_in_any_sample(
    page: Page, previews: PreviewServer
) -> None:
    _require(AXE, "axe-core", "python3 dev.py test installs it (npm ci)")
    renderer = previews.renderer
    assert renderer is not None
    checked, problems = 0, {}
    runs = [
        (sample.name, locale, False) for sample in sample_states() for locale in renderer.locales
    ] + [(sample.name, "en", True) for sample in sample_states()]
    # At 375 px: a sample of the runs, plus every state of the screenshots in English and French.
    phone = runs[:7] + [
        (name, locale, dark) for name, locale, width, dark in SHOT_RUNS if width == 375
    ]
    for width in (375, 1280):
        for name, locale, dark in runs if width == 1280 else list(dict.fromkeys(phone)):
            page.viewport(width, mobile=width < 500, dark=dark)
            page.goto(f"{previews.url}{name}.{locale}.html")
            violations = _axe(page)
            checked += 1
            if violations:
                problems[f"{name}.{locale}@{width}{' dark' if dark else ''}"] = violations
    assert checked >= 7 * 5
    assert problems == {}, json.dumps(problems, indent=1)[:4000]


# -- no JavaScript, the visitor's zone, and coming back ---------------------------------------

APP = r'''
import os
from maintenance_mode.asgi import MaintenanceMiddleware

REAL = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>The real site</title></head><body><h1>Welcome back</h1></body></html>"""


async def site(scope, receive, send):
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(REAL)).encode())]})
    await send({"type": "http.response.body", "body": REAL})


app = MaintenanceMiddleware(
    site,
    flag=os.environ["FLAG"],
    check_interval=0.2,
    poll_interval=1,
    poll_max_interval=2,
    retry_after_min=1,
    retry_after_default=1,
    **__import__("json").loads(os.environ["OPTIONS"]),
)
'''

#: Far enough ahead not to be overrun: a Wednesday in winter (Paris UTC+1, New York UTC-5).
START = datetime(2031, 1, 15, 9, 0, tzinfo=UTC)
FULL = MaintenanceState(
    kind="planned",
    reason="We are upgrading our payment system.",
    message="Orders are paused; the blog and the FAQ stay available.",
    started_at=START,
    eta=ETARange(earliest=START + timedelta(hours=4), latest=START + timedelta(hours=6)),
    updates=(
        ProgressUpdate(at=START + timedelta(minutes=30), text="Backups are complete."),
        ProgressUpdate(at=START + timedelta(hours=1), text="The new servers are warming up."),
    ),
)


@pytest.fixture
def site(run_server: Callable[..., Any], tmp_path: Path) -> tuple[Any, Path]:
    (tmp_path / "browser_app.py").write_text(APP, encoding="utf-8")
    flag = tmp_path / "maintenance.json"
    write_state_atomic(flag, FULL)
    env = {"FLAG": str(flag), "OPTIONS": json.dumps(OPTIONS)}
    server = run_server(
        lambda port: [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(tmp_path),
            "browser_app:app",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
        ],
        env=env,
        cwd=tmp_path,
    )
    return server, flag


def test_without_javascript_every_fact_is_there(page: Page, site: tuple[Any, Path]) -> None:
    server, _flag = site
    page.call("Emulation.setScriptExecutionDisabled", value=True)
    page.goto(server.base + "/checkout")
    (response,) = [
        e["response"]
        for e in page.own_events("Network.responseReceived")
        if e["type"] == "Document"
    ][:1]
    assert response["status"] == 503
    html = " ".join(page.text().translate(SPACES).split())
    for fact in (
        FULL.reason,
        FULL.message,
        "Backups are complete.",
        "The new servers are warming up.",
        "FAQ",
        "Blog",
        "support@acme.example",
        "+33 1 23 45 67 89",
        "+33 6 00 00 00 00",
        "Contact form",
        "Status page",
        "Mastodon",
        # 09:00 UTC start; back between 13:00 and 15:00 UTC, in both configured zones
        "Wed, January 15, 2031, 10:00 AM Paris time (4:00 AM New York time)",
        "2:00 - 4:00 PM Paris time (8:00 - 10:00 AM New York time)",
        "4 to 6 hours",
    ):
        assert fact in html, fact
    # The no-JS refresh is in place (JavaScript is off, so <noscript> is live).
    root = page.call("DOM.getDocument", depth=0)["root"]["nodeId"]
    meta = page.call("DOM.querySelector", nodeId=root, selector='meta[http-equiv="refresh"]')
    assert meta["nodeId"] != 0
    _only_loopback(page.requested_urls())


def test_the_visitors_own_zone_is_added(page: Page, site: tuple[Any, Path]) -> None:
    server, _flag = site
    page.call("Emulation.setTimezoneOverride", timezoneId="Asia/Tokyo")
    page.goto(server.base + "/")
    shown = page.evaluate(
        "[...document.querySelectorAll('.local')].filter(n => !n.hidden).map(n => n.textContent)"
    )
    assert shown, "no time in the visitor's zone"
    assert all(text.startswith("In your time zone: ") for text in shown), shown
    assert any("GMT+9" in text and "6:00" in text for text in shown), shown  # 09:00 UTC
    page.call("Emulation.setTimezoneOverride", timezoneId="Europe/Paris")
    page.goto(server.base + "/")
    assert page.evaluate("[...document.querySelectorAll('.local')].every(n => n.hidden)")


@pytest.mark.parametrize("javascript", [True, False], ids=["poll", "no-js refresh"])
def test_the_page_notices_the_site_is_back(
    page: Page, site: tuple[Any, Path], javascript: bool
) -> None:
    server, flag = site
    page.call(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    )
    page.call("Emulation.setScriptExecutionDisabled", value=not javascript)
    page.goto(server.base + "/checkout")
    assert "maintenance" in page.evaluate("document.title")
    if javascript:
        page.browser.pump(2.5)  # at least one poll while still down
        assert page.evaluate("window.__csp") == []
    started = time.monotonic()
    assert cli.main(["off", "--file", str(flag)]) == 0
    landed = page.wait_for(lambda: _title(page) == "The real site", timeout=15, step=0.2)
    assert landed, f"still on {_title(page)!r} after 15 s"
    assert time.monotonic() - started < 10
    assert page.evaluate("location.pathname") == "/checkout"
    requests = page.own_events("Network.requestWillBeSent")
    # The page's "are we back?" check reads the status document (issue 5), never the page.
    status_url = server.base + "/__maintenance__/status"
    polls = [r for r in requests if r["request"]["url"] == status_url]
    assert not [r for r in requests if r["request"]["method"] == "HEAD"]
    if javascript:
        assert 1 <= len(polls) <= 8, len(polls)  # backed off, never hammering
        assert all(r["request"]["method"] == "GET" for r in polls)
    else:
        assert polls == []
    _only_loopback([r["request"]["url"] for r in requests])


def _title(page: Page) -> str:
    try:
        return str(page.evaluate("document.title"))
    except CDPError:  # navigating
        return ""


def test_artifacts_folder_is_ignored_by_git() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(
        ["git", "check-ignore", "-q", str(ARTIFACTS / "x.png")], cwd=ROOT, check=False
    )
    assert result.returncode == 0
