"""The export served by real reverse proxies, in front of a real app running the middleware.

Each server is Debian's own binary (``scripts/ensure-test-tools.sh`` installs the
missing ones), run as a plain process with the configuration
:func:`maintenance_mode.export.proxy_snippet` prints, wrapped in a minimal
top-level file in a temporary folder (never the system's configuration or
service), on a free loopback port, and started once for the module. The app is
uvicorn running the ASGI middleware; the tests stop and start it.

For every server: (a) app stopped -> our 503 from the export, with Retry-After and
no-store (HTML, problem+json for API clients, the status document); (b) app
running with maintenance on -> the app's own 503 passes through unchanged;
(c) proxy-side maintenance: the trigger file appears -> the proxy answers 503 by
itself at once, allowlisted paths and the status document still reach the app,
and removing the file restores traffic, all without a reload; (d) an update
followed by the re-export changes what the fallback serves. Then in Chromium:
the fallback page is axe-core clean, lays out like the live page, and reloads by
itself onto the real site when the app comes back.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import BROWSER_ACCEPT, Server, _free_port
from maintenance_mode import control
from maintenance_mode.export import PROXY_SERVERS, export, proxy_snippet
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

pytestmark = pytest.mark.slow

BINARIES = {
    "nginx": "/usr/sbin/nginx",
    "apache": "/usr/sbin/apache2",
    "haproxy": "/usr/sbin/haproxy",
    "caddy": shutil.which("caddy") or "/usr/bin/caddy",
}
APACHE_MODULES = Path("/usr/lib/apache2/modules")

OPTIONS: dict[str, Any] = {
    "site_name": "Acme Shop",
    "time_zones": ["Europe/Paris", "America/New_York"],
    "allow": ["/faq", "/static/"],
    "contacts": {"email": "support@acme.example", "phone": "+33 1 23 45 67 89"},
    "links": {"FAQ": "/faq"},
    "brand": {
        "accent": "#0b6e4f",
        "logo_url": "data:image/svg+xml;base64,"
        + base64.b64encode(
            b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
            b'<rect width="40" height="40" rx="8" fill="#0b6e4f"/></svg>'
        ).decode(),
    },
    # The page's "are we back?" poll, fast for the tests (the export gets the same options).
    "poll_interval": 1,
    "poll_max_interval": 2,
    "check_interval": 0.2,
    # API paths: the export answers them with problem+json whatever the Accept, like the app.
    "json_paths": ["/api/", "/graphql"],
}
REASON = "We are upgrading the payment system."

APP = r'''
import json
import os

from maintenance_mode.asgi import MaintenanceMiddleware

REAL = b"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>The real site</title></head><body><h1>Welcome back</h1></body></html>"""


async def site(scope, receive, send):
    assert scope["type"] == "http"
    body = b"the FAQ" if scope["path"] == "/faq" else REAL
    kind = b"text/plain" if scope["path"] == "/faq" else b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", kind),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


app = MaintenanceMiddleware(
    site,
    flag=os.environ["FLAG"],
    **json.loads(os.environ["OPTIONS"]),
)
'''


def _require_binaries() -> None:
    missing = [name for name, path in BINARIES.items() if not Path(path).exists()]
    if missing:  # never a skip: `python3 dev.py test` installs them
        pytest.fail(
            f"{', '.join(missing)} not found; run scripts/ensure-test-tools.sh (as root)",
            pytrace=False,
        )


# -- the servers ----------------------------------------------------------------------------


def _wrap(server: str, snippet: str, work: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """A runnable top-level configuration around ``snippet``, and the command that runs it."""
    home = work / server
    home.mkdir()
    if server == "nginx":
        temp = " ".join(
            f"{kind}_temp_path {home}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = home / "nginx.conf"
        conf.write_text(
            f"error_log stderr warn;\npid {home}/nginx.pid;\nevents {{}}\n"
            f"http {{\naccess_log off;\n{temp}\n{snippet}\n}}\n"
        )
        return [BINARIES["nginx"], "-p", str(home), "-c", str(conf), "-g", "daemon off;"], {}
    if server == "apache":
        modules = [
            "mpm_event",
            "authz_core",
            "authz_host",
            "mime",
            "alias",
            "negotiation",
            "asis",
            "headers",
            "rewrite",
            "proxy",
            "proxy_http",
        ]
        loads = "\n".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so" for m in modules)
        conf = home / "httpd.conf"
        conf.write_text(
            f"ServerRoot {home}\nPidFile {home}/httpd.pid\nErrorLog /dev/stderr\n"
            "LogLevel warn\nServerName 127.0.0.1\nUser nobody\nGroup nogroup\n"
            f"Listen 127.0.0.1:{port}\n{loads}\nTypesConfig /etc/mime.types\n"
            f"Mutex file:{home}\n{snippet}\n"
        )
        return [BINARIES["apache"], "-d", str(home), "-f", str(conf), "-DFOREGROUND"], {}
    if server == "haproxy":
        conf = home / "haproxy.cfg"
        conf.write_text(
            "global\n    log stderr format raw local0 warning\n\n"
            "defaults\n    mode http\n    log global\n    timeout connect 2s\n"
            "    timeout client 30s\n    timeout server 30s\n    timeout check 1s\n\n" + snippet
        )
        return [BINARIES["haproxy"], "-db", "-f", str(conf)], {}
    conf = home / "Caddyfile"
    conf.write_text(
        f"{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {home}/data\n}}\n\n{snippet}"
    )
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    cmd = [BINARIES["caddy"], "run", "--config", str(conf), "--adapter", "caddyfile"]
    return cmd, env


@dataclass
class Stack:
    """The app, its flag and export, and the four proxies in front of it."""

    work: Path
    flag: Path
    out: Path
    trigger: Path
    app_port: int
    proxies: dict[str, Server] = field(default_factory=dict)
    app: Server | None = None
    logs: list[str] = field(default_factory=list)

    def export(self) -> None:
        export(self.out, flag=self.flag, settings=OPTIONS)

    def app_up(self) -> Server:
        if self.app is None or self.app.proc.poll() is not None:
            (self.work / "proxy_app.py").write_text(APP)
            argv = [
                *(sys.executable, "-m", "uvicorn", "--app-dir", str(self.work), "proxy_app:app"),
                *("--port", str(self.app_port), "--lifespan", "off", "--no-access-log"),
            ]
            env = {"FLAG": str(self.flag), "OPTIONS": json.dumps(OPTIONS)}
            self.app = Server(argv, self.app_port, env, self.work)
            self.app.wait_ready()
        return self.app

    def app_down(self) -> None:
        if self.app is not None:
            self.logs.append(self.app.stop())
            self.app = None

    def get(self, server: str, path: str = "/", **headers: str) -> httpx.Response:
        proxy = self.proxies[server]
        return proxy.http.get(proxy.base + path, headers=headers, timeout=10)

    def until(
        self, server: str, check: Callable[[httpx.Response], bool], path: str = "/", **headers: str
    ) -> httpx.Response:
        """Poll through ``server`` until ``check`` holds (HAProxy's health check takes ~1 s)."""
        deadline = time.monotonic() + 15
        while True:
            response = self.get(server, path, **headers)
            if check(response) or time.monotonic() > deadline:
                return response
            time.sleep(0.1)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    _require_binaries()
    # Not pytest's tmp_path: its folders are private to root, and Apache's and nginx's
    # workers run as nobody. This one is readable (0755), like a real export folder.
    work = Path(tempfile.mkdtemp(prefix="mm-proxies-"))
    os.chmod(work, 0o755)
    s = Stack(
        work=work,
        flag=work / "maintenance.json",
        out=work / "export",
        trigger=work / "proxy-side.on",
        app_port=_free_port(),
    )
    s.export()
    try:
        s.app_up()
        for name in PROXY_SERVERS:
            port = _free_port()
            snippet = proxy_snippet(
                name,
                out_dir=s.out,
                upstream=f"127.0.0.1:{s.app_port}",
                mode="proxy-side",
                settings=OPTIONS,
                listen=f"127.0.0.1:{port}",
                trigger=s.trigger,
            )
            argv, env = _wrap(name, snippet, work, port)
            server = Server(argv, port, env, work)
            s.proxies[name] = server
            server.wait_ready()
        yield s
    finally:
        s.app_down()
        logs = {name: server.stop() for name, server in s.proxies.items()}
        shutil.rmtree(work, ignore_errors=True)
    for log in s.logs:
        assert "Traceback" not in log, log
    for name, log in logs.items():
        bad = [
            line
            for line in log.splitlines()
            if any(word in line.lower() for word in ("emerg", "alert", "crit]", "panic"))
            and "getpwuid" not in line
        ]
        assert bad == [], f"{name}:\n{log}"


def _is_export(response: httpx.Response) -> bool:
    """The exported page carries its CSP in a <meta> element; the live one in a header."""
    return b'http-equiv="Content-Security-Policy"' in response.content


def _tokens(response: httpx.Response, name: str) -> list[str]:
    """A header's comma-separated values (Apache joins Vary without the space)."""
    return [part.strip() for part in response.headers.get(name, "").split(",")]


def _live(response: httpx.Response) -> bool:
    return response.status_code == 503 and not _is_export(response)


# -- (c) proxy-side maintenance: the trigger file switches it, no reload ---------------------


@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_proxy_side_maintenance_switches_with_the_trigger_file(stack: Stack, server: str) -> None:
    stack.app_up()
    control.off(stack.flag)
    stack.export()
    assert stack.until(server, lambda r: r.status_code == 200).status_code == 200
    stack.trigger.write_text("")
    try:
        started = time.monotonic()
        blocked = stack.get(server, "/checkout", Accept="text/html")
        assert blocked.status_code == 503, blocked.text[:300]
        assert time.monotonic() - started < 5  # the first request after the file appears
        assert _is_export(blocked)
        assert blocked.headers["cache-control"] == "no-store"
        assert int(blocked.headers["retry-after"]) > 0
        # A json_paths path: problem+json even for a browser's Accept.
        problem = stack.get(server, "/api/orders", Accept=BROWSER_ACCEPT)
        assert problem.status_code == 503
        assert problem.headers["content-type"] == "application/problem+json"
        # The lite routes and the status document still reach the app.
        faq = stack.get(server, "/faq")
        assert (faq.status_code, faq.text) == (200, "the FAQ")
        status = stack.get(server, "/__maintenance__/status")
        assert status.status_code == 200
        assert status.json()["status"]["indicator"] == "none"
    finally:
        stack.trigger.unlink()
    restored = stack.get(server, "/checkout")
    assert restored.status_code == 200
    assert "Welcome back" in restored.text


# -- (b) the app's own 503 passes through unchanged ------------------------------------------


@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_the_apps_own_503_passes_through_unchanged(stack: Stack, server: str) -> None:
    app = stack.app_up()
    control.on(stack.flag, reason=REASON, eta="2h..3h")
    stack.export()
    for accept in ("text/html", "application/json", "text/plain"):
        # The body counts down (seconds in JSON, minutes on the page): two fetches a
        # moment apart can straddle a tick, so a few pairs are taken and one must match.
        for _ in range(5):
            via = stack.until(server, _live, "/checkout", Accept=accept)
            direct = app.http.get(app.base + "/checkout", headers={"Accept": accept})
            assert (via.status_code, direct.status_code) == (503, 503)
            if via.content == direct.content:
                break
        assert via.content == direct.content, accept
        for name in ("content-type", "cache-control", "content-security-policy", "vary"):
            assert _tokens(via, name) == _tokens(direct, name), name
        assert abs(int(via.headers["retry-after"]) - int(direct.headers["retry-after"])) <= 2


# -- in Chromium: the fallback page is checked like the live one ---------------------------

#: The page's main sections, compared live against fallback by their boxes.
SECTIONS = ["header.brand", "main", "main h1", "main .lede", "main .facts", "footer"]
BOXES = (
    "JSON.stringify(%s.map(s => { const e = document.querySelector(s);"
    " if (!e) return null; const r = e.getBoundingClientRect();"
    " return [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)]; }))"
)


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    _require(CHROMIUM, "Chromium", "python3 dev.py test installs it")
    started = Browser(stack.work / "chromium-profile")
    yield started
    started.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page()
    yield opened
    opened.close()


def test_the_fallback_page_lays_out_like_the_live_page_and_is_axe_clean(
    stack: Stack, tab: Page
) -> None:
    _require(AXE, "axe-core", "python3 dev.py test installs it (npm ci)")
    stack.app_up()
    if not control.status(stack.flag).on:
        control.on(stack.flag, reason=REASON, eta="2h..3h")
    stack.export()
    url = stack.proxies["nginx"].base + "/checkout"
    stack.until("nginx", _live, "/checkout", Accept="text/html")
    layouts: dict[str, dict[int, Any]] = {"live": {}, "fallback": {}}
    for name in ("live", "fallback"):
        if name == "fallback":
            stack.app_down()
            stack.until("nginx", _is_export, "/checkout", Accept="text/html")
        for width in (375, 1280):
            tab.viewport(width, mobile=width < 500)
            tab.goto(url)
            assert tab.evaluate("document.title").startswith("Acme Shop is down")
            exported = tab.evaluate(
                "!!document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')"
            )
            assert exported == (name == "fallback")
            layouts[name][width] = json.loads(tab.evaluate(BOXES % json.dumps(SECTIONS)))
            tab.screenshot(ARTIFACTS / f"proxy-{name}-{width}.png")
            # The logo shows (a data: image, allowed by the page's own CSP).
            assert tab.evaluate("document.querySelector('header img').naturalWidth") == 120
            if name == "fallback":
                assert _axe(tab) == []
                assert tab.evaluate("document.documentElement.scrollWidth") <= width
    for width in (375, 1280):
        live, fallback = layouts["live"][width], layouts["fallback"][width]
        assert None not in live, dict(zip(SECTIONS, live, strict=True))
        assert fallback == live, (
            width,
            dict(zip(SECTIONS, zip(live, fallback, strict=True), strict=True)),
        )
    _only_loopback(tab.requested_urls())


# -- (a) the app stopped: the export answers -------------------------------------------------


@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_with_the_app_stopped_the_proxy_serves_the_export(stack: Stack, server: str) -> None:
    if not control.status(stack.flag).on:
        control.on(stack.flag, reason=REASON, eta="2h..3h")
    stack.export()
    stack.app_down()
    page = stack.until(server, _is_export, "/checkout", Accept="text/html,*/*;q=0.8")
    assert page.status_code == 503
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    # 2h from now, rounded up to the quarter hour when written.
    assert 3600 <= int(page.headers["retry-after"]) <= 2 * 3600 + 15 * 60
    assert page.headers["content-language"] == "en"
    assert REASON in page.text
    assert "Expected back" in page.text
    assert "Paris time" in page.text
    french = stack.get(server, "/", **{"Accept": "text/html", "Accept-Language": "fr-FR,fr;q=0.9"})
    assert french.status_code == 503
    assert '<html lang="fr"' in french.text
    problem = stack.get(server, "/api/orders", Accept="application/json")
    assert problem.status_code == 503
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.headers["cache-control"] == "no-store"
    assert int(problem.headers["retry-after"]) >= 3600
    doc = problem.json()
    assert doc["reason"] == REASON
    assert doc["retry_after"] >= 3600
    text = stack.get(server, "/", Accept="text/plain")
    assert text.status_code == 503
    assert text.headers["content-type"].startswith("text/plain")
    assert REASON in text.text
    status = stack.get(server, "/__maintenance__/status")
    assert status.status_code == 503
    assert status.json()["status"]["indicator"] == "maintenance"
    head = stack.proxies[server].http.head(stack.proxies[server].base + "/checkout")
    assert head.status_code == 503
    assert head.content == b""
    post = stack.proxies[server].http.post(stack.proxies[server].base + "/cart", data={"a": "1"})
    assert post.status_code == 503


#: (path, Accept or None for none sent, the variant the app answers with: test_negotiation.py).
NEGOTIATION = [
    ("/checkout", BROWSER_ACCEPT, "html"),
    ("/checkout", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
    ("/checkout", "text/html", "html"),
    ("/checkout", "*/*", "json"),
    ("/checkout", None, "json"),
    ("/checkout", "application/json", "json"),
    ("/checkout", "application/json, text/plain, */*", "json"),
    ("/checkout", "text/html;q=0.5, application/json", "json"),
    ("/checkout", "text/html;q=0, */*", "json"),
    ("/checkout", "text/plain", "text"),
    ("/checkout", "text/*", "text"),
    ("/checkout", "text/plain, */*;q=0.1", "text"),
    ("/api/v1/orders", BROWSER_ACCEPT, "json"),
    ("/api/", "text/plain", "json"),
    ("/graphql", BROWSER_ACCEPT, "json"),
    ("/graphql/x", BROWSER_ACCEPT, "html"),
    ("/apix", BROWSER_ACCEPT, "html"),
    ("/checkout", "", "json"),
    ("/checkout", "image/png", "html"),  # nothing we offer: the page, for a person
    ("/checkout", "application/json" + ", x/y;q=0.1" * 100, "html"),  # overlong: the page
]
_FORMS = {
    "application/problem+json": "json",
    "text/plain; charset=utf-8": "text",
    "text/html; charset=utf-8": "html",
}


@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_the_export_negotiates_like_the_app(stack: Stack, server: str) -> None:
    """Browsers get the page; */*, no Accept and JSON get problem+json; json_paths too."""
    if not control.status(stack.flag).on:
        control.on(stack.flag, reason=REASON, eta="2h..3h")
    stack.export()
    stack.app_down()
    stack.until(server, _is_export, "/checkout", Accept="text/html")
    proxy = stack.proxies[server]
    got = {}
    for path, accept, _ in NEGOTIATION:
        request = proxy.http.build_request("GET", proxy.base + path, timeout=10)
        del request.headers["Accept"]  # httpx's own */*: the case says what is sent
        if accept is not None:
            request.headers["Accept"] = accept
        response = proxy.http.send(request)
        assert response.status_code == 503, (path, accept, response.text[:300])
        assert "accept" in [t.lower() for t in _tokens(response, "vary")], (path, accept)
        form = _FORMS.get(response.headers["content-type"], response.headers["content-type"])
        if form == "json":
            assert response.json()["reason"] == REASON
        got[path, accept] = form
    want = {(path, accept): form for path, accept, form in NEGOTIATION}
    assert {key: form for key, form in got.items() if form != want[key]} == {}


# -- (d) an update, re-exported, changes what the fallback serves ----------------------------


@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_an_update_changes_what_the_fallback_serves(stack: Stack, server: str) -> None:
    stack.app_down()
    note = f"Payments are back on {server}; checking the orders."
    assert note not in stack.get(server, "/").text
    control.update(stack.flag, note)
    stack.export()
    page = stack.get(server, "/", Accept="text/html")
    assert page.status_code == 503
    assert note in page.text
    assert note in [
        u["text"] for u in stack.get(server, "/", Accept="application/json").json()["updates"]
    ]


@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_after_off_the_export_no_longer_shows_the_outage(stack: Stack, server: str) -> None:
    stack.app_down()
    control.off(stack.flag)
    stack.export()
    status = stack.get(server, "/__maintenance__/status")
    assert status.status_code == 503  # the app is still down ...
    assert status.json()["status"]["indicator"] == "none"  # ... but not for maintenance
    page = stack.get(server, "/", Accept="text/html")
    assert page.status_code == 503
    assert REASON not in page.text
    assert "down right now" in page.text  # an honest "something is wrong", no old facts


def test_the_fallback_page_reloads_onto_the_site_when_the_app_is_back(
    stack: Stack, tab: Page
) -> None:
    stack.app_down()
    control.on(stack.flag, reason=REASON, eta="2h..3h")
    stack.export()
    proxy = stack.proxies["nginx"]
    tab.call(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    )
    tab.goto(proxy.base + "/checkout")
    assert REASON in tab.text()
    tab.browser.pump(2.5)  # at least one poll while the app is still down
    assert tab.evaluate("window.__csp") == []
    control.off(stack.flag)
    stack.export()
    stack.app_up()
    landed = tab.wait_for(lambda: _title(tab) == "The real site", timeout=20, step=0.2)
    assert landed, f"still on {_title(tab)!r}"
    assert tab.evaluate("location.pathname") == "/checkout"
    polls = [
        r["request"]["url"]
        for r in tab.own_events("Network.requestWillBeSent")
        if r["request"]["url"].startswith(proxy.base + "/__maintenance__/status")
    ]
    assert polls, "the static page never asked the live status document"
    _only_loopback(tab.requested_urls())


def _title(tab: Page) -> str:
    try:
        return str(tab.evaluate("document.title"))
    except CDPError:  # navigating
        return ""


# -- every configuration is valid for its server, in both modes -----------------------------


@pytest.mark.parametrize("mode", ["fallback", "proxy-side"])
@pytest.mark.parametrize("server", PROXY_SERVERS)
def test_each_snippet_passes_its_servers_own_check(
    stack: Stack, server: str, mode: str, tmp_path: Path
) -> None:
    options = {**OPTIONS, "bypass_ips": ["10.0.0.0/8", "2001:db8::/32"], "status_path": "/status"}
    snippet = proxy_snippet(
        server,
        out_dir=stack.out,
        upstream="127.0.0.1:9",
        mode=mode,
        settings=options,
        listen="127.0.0.1:9",
    )
    work = Path(tempfile.mkdtemp(prefix=f"mm-check-{server}-"))
    try:
        argv, env = _wrap(server, snippet, work, 9)
        check = {
            "nginx": [*argv[:-2], "-t", "-q"],
            "apache": [*argv[:-1], "-t"],
            "haproxy": [BINARIES["haproxy"], "-c", "-q", "-f", argv[-1]],
            "caddy": [BINARIES["caddy"], "validate", *argv[2:]],
        }[server]
        result = subprocess.run(
            check,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)
