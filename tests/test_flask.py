"""The Flask extension, in process through Flask's test client and ``flask`` CLI runner.

The 503s are compared with what the core would send for the same request, header for
header and byte for byte: the extension must translate, never decide or rewrite.
Real HTTP (gunicorn, several workers) is in test_e2e_flask.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response
from flask.testing import FlaskClient

import maintenance_mode
from conftest import BROWSER_ACCEPT
from maintenance_mode import Maintenance, MaintenanceState, load_state, write_state_atomic
from maintenance_mode.flask import MaintenanceMode, maintenance_exempt
from maintenance_mode.rules import sign_cookie
from maintenance_mode.settings import Options
from maintenance_mode.state import ETARange

SECRET = "flask-test-secret-0123456789"
REASON = "Upgrading the <database>"
APP_CACHE_CONTROL = "public, max-age=600"
CSS = "body { color: teal }\n"

# -- the app under test ----------------------------------------------------------------------


def build_app(
    root: Path,
    flag: Path,
    config: dict[str, Any] | None = None,
    *,
    options: Options | None = None,
    template_folder: str = "templates",
) -> Flask:
    """A small shop: pages, two blueprints with static folders, an exempt view, hooks."""
    for folder, name in (("static", "app.css"), ("blog_static", "blog.css")):
        (root / folder).mkdir(exist_ok=True)
        (root / folder / name).write_text(CSS)
    app = Flask("shop", root_path=str(root), template_folder=template_folder)
    app.config["MAINTENANCE_MODE"] = {"flag": str(flag), **(config or {})}
    app.config["HOOK_CALLS"] = []

    def page(name: str) -> Response:
        return Response(f"app {name}", headers={"Cache-Control": APP_CACHE_CONTROL})

    @app.get("/")
    def index() -> Response:
        return page("index")

    @app.get("/faq")
    def faq() -> Response:
        return page("faq")

    @app.get("/health")
    def health() -> Response:
        return page("health")

    @app.get("/contact")
    def contact() -> Response:
        return page("contact")

    @app.get("/status")
    @maintenance_exempt
    def status() -> Response:
        return page("status")

    @app.post("/order")
    def order() -> Response:
        return page("order")

    blog = Blueprint(
        "blog",
        "shop",
        url_prefix="/blog",
        static_folder=str(root / "blog_static"),
        static_url_path="/static",
    )

    @blog.get("/")
    def blog_index() -> Response:
        return page("blog")

    @blog.get("/post")
    def blog_post() -> Response:
        return page("blog post")

    blogger = Blueprint(
        "blogger",
        "shop",
        url_prefix="/blogger",
        static_folder=str(root / "blog_static"),
        static_url_path="/static",
    )

    @blogger.get("/")
    def blogger_index() -> Response:
        return page("blogger")

    app.register_blueprint(blog)
    app.register_blueprint(blogger)

    # The app's own hooks, registered before the extension: they must not run for a 503.
    @app.before_request
    def open_database() -> None:
        app.config["HOOK_CALLS"].append("before")

    MaintenanceMode(app, **(options or {}))
    return app


def engine_of(app: Flask) -> Maintenance:
    engine = app.extensions["maintenance_mode"]
    assert isinstance(engine, Maintenance)
    return engine


def core_response(app: Flask, accept: str | None = None, method: str = "GET") -> Any:
    """What the core itself answers for a blocked request."""
    engine = engine_of(app)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/", "REMOTE_ADDR": "127.0.0.1"}
    if accept is not None:
        environ["HTTP_ACCEPT"] = accept
    request = maintenance_mode.core.RequestInfo.from_wsgi(environ, engine.settings)
    decision = engine.decide(engine.poll(), request)
    assert decision.action == "respond"
    return decision.response


def turn_on(flag: Path, **details: Any) -> None:
    write_state_atomic(flag, MaintenanceState(reason=REASON, **details))


@pytest.fixture
def make_app(tmp_path: Path, flag_path: Path) -> Callable[..., Flask]:
    """``make_app(config, on=True)``: maintenance is on from the first request by default."""

    def make(config: dict[str, Any] | None = None, *, on: bool = True, **kwargs: Any) -> Flask:
        if on:
            turn_on(flag_path)
        return build_app(tmp_path, flag_path, config, **kwargs)

    return make


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app({"allow": ["/faq"]}).test_client()


# -- off ------------------------------------------------------------------------------------


def test_off_passes_untouched(make_app: Callable[..., Flask]) -> None:
    app = make_app(on=False)
    c = app.test_client()
    r = c.get("/")
    assert (r.status_code, r.text) == (200, "app index")
    assert r.headers["Cache-Control"] == APP_CACHE_CONTROL
    assert c.get("/nope").status_code == 404  # Flask's own 404
    assert app.config["HOOK_CALLS"] == ["before", "before"]


def test_toggle_without_restart(make_app: Callable[..., Flask], flag_path: Path) -> None:
    app = make_app(on=False)
    c = app.test_client()
    assert c.get("/").status_code == 200
    turn_on(flag_path)
    engine_of(app).invalidate()  # as if check_interval had passed
    assert c.get("/").status_code == 503
    flag_path.unlink()
    engine_of(app).invalidate()
    assert c.get("/").status_code == 200


BROWSER = {"Accept": BROWSER_ACCEPT}


# -- the 503 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        pytest.param(None, "application/problem+json", id="no accept: json"),
        pytest.param("*/*", "application/problem+json", id="anything: json"),
        pytest.param(BROWSER_ACCEPT, "text/html; charset=utf-8", id="chromium: html"),
        pytest.param("text/html,*/*;q=0.8", "text/html; charset=utf-8", id="browser: html"),
        pytest.param("application/json", "application/problem+json", id="json client"),
        pytest.param("application/problem+json", "application/problem+json", id="problem+json"),
        pytest.param("text/plain", "text/plain; charset=utf-8", id="curl-like: text"),
        pytest.param("\x00junk;;q=", "text/html; charset=utf-8", id="junk accept: html"),
    ],
)
@pytest.mark.parametrize("path", ["/", "/nope", "/blogger/"], ids=["view", "404 path", "blueprint"])
def test_on_serves_the_cores_503(
    client: FlaskClient, accept: str | None, content_type: str, path: str
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    r = client.get(path, headers=headers)
    expected = core_response(client.application, accept)
    assert r.status == "503 Service Unavailable"
    assert r.headers["Content-Type"] == content_type
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Retry-After"] == "300"
    assert r.headers.to_wsgi_list() == list(expected.headers)
    assert r.data == expected.body
    if content_type == "application/problem+json":
        doc = json.loads(r.data)
        assert (doc["status"], doc["detail"], doc["retry_after"]) == (503, REASON, 300)
    else:
        assert "Upgrading the" in r.text
    assert client.application.config["HOOK_CALLS"] == []  # the app's hooks never ran


def test_retry_after_follows_the_eta(make_app: Callable[..., Flask], flag_path: Path) -> None:
    app = make_app(on=False)
    eta = datetime.now(UTC) + timedelta(hours=2)
    turn_on(flag_path, eta=ETARange(earliest=eta, latest=eta + timedelta(hours=1)))
    engine_of(app).invalidate()
    retry = int(app.test_client().get("/").headers["Retry-After"])
    assert 7190 <= retry <= 7200


@pytest.mark.parametrize(
    "accept", [None, "application/json", "text/plain"], ids=["html", "json", "text"]
)
def test_head_has_the_get_headers_and_no_body(client: FlaskClient, accept: str | None) -> None:
    headers = {} if accept is None else {"Accept": accept}
    get = client.get("/", headers=headers)
    head = client.head("/", headers=headers)
    assert head.status_code == 503
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(get.data)) != "0"
    assert head.headers.to_wsgi_list() == get.headers.to_wsgi_list()


def test_app_after_request_hooks_cannot_rewrite_the_503(make_app: Callable[..., Flask]) -> None:
    app = make_app()

    @app.after_request
    def cache_everything(response: Response) -> Response:
        response.headers["Cache-Control"] = APP_CACHE_CONTROL
        response.headers["X-Frame-Options"] = "DENY"
        response.set_data(b"rewritten")
        return response

    c = app.test_client()
    r = c.get("/")
    expected = core_response(app)
    assert r.status_code == 503
    assert r.headers.to_wsgi_list() == list(expected.headers)
    assert r.data == expected.body
    # while the app's own pages keep what the hook does
    assert c.get("/health").headers["X-Frame-Options"] == "DENY"


def test_503_restored_even_if_the_flag_went_down_meanwhile(
    make_app: Callable[..., Flask], flag_path: Path
) -> None:
    """Another request may find the flag gone while this 503 runs the app's hooks."""
    app = make_app()
    engine = engine_of(app)

    @app.after_request
    def flag_goes_down_then_cache(response: Response) -> Response:
        flag_path.unlink()
        engine.invalidate()
        assert not engine.poll().on  # the engine now knows it is off (its fast path)
        response.headers["Cache-Control"] = APP_CACHE_CONTROL
        return response

    r = app.test_client().get("/")
    assert r.status_code == 503
    assert r.headers["Cache-Control"] == "no-store"


# -- what stays reachable -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "config", "expected"),
    [
        pytest.param("/faq", {"allow": ["/faq"]}, "app faq", id="allow: lite path"),
        pytest.param("/faq", {"allow": "/faq, /contact"}, "app faq", id="allow: string form"),
        pytest.param("/health", {}, "app health", id="health path by default"),
        pytest.param("/contact", {"allow_views": ["contact"]}, "app contact", id="endpoint"),
        pytest.param("/contact", {"allow_views": "contact"}, "app contact", id="endpoint string"),
        pytest.param("/blog/", {"allow_views": ["blog.*"]}, "app blog", id="namespace: index"),
        pytest.param("/blog/post", {"allow_views": ["blog.*"]}, "app blog post", id="namespace"),
        pytest.param("/blog/post", {"allow_views": ["blog.blog_post"]}, "app blog post", id="bp"),
        pytest.param("/status", {}, "app status", id="@maintenance_exempt"),
        pytest.param("/static/app.css", {}, CSS, id="app static"),
        pytest.param("/blog/static/blog.css", {}, CSS, id="blueprint static"),
        pytest.param("/blogger/static/blog.css", {}, CSS, id="static of a blocked blueprint"),
        pytest.param("/static/app.css", {"allow_views": ["faq"]}, CSS, id="static kept"),
    ],
)
def test_reachable_while_on(
    make_app: Callable[..., Flask], path: str, config: dict[str, Any], expected: str
) -> None:
    with make_app(config).test_client().get(path) as r:  # closes a static file's handle
        text = r.get_data(as_text=True)
        assert r.status_code == 200, text
        assert text == expected
        assert "private" not in r.headers.get("Cache-Control", "")  # passed, not bypassed


@pytest.mark.parametrize(
    ("path", "config"),
    [
        pytest.param("/faqs", {"allow": ["/faq"]}, id="allow is not a string prefix"),
        pytest.param("/faq/x", {"allow": ["/faq"]}, id="exact entry admits no subpath"),
        pytest.param("/faq", {"allow_views": ["contact"]}, id="other endpoint"),
        pytest.param("/blogger/", {"allow_views": ["blog.*"]}, id="namespace is not a prefix"),
        pytest.param("/blog/", {"allow_views": ["blog"]}, id="blueprint name is no namespace"),
        pytest.param("/static/missing.css", {"allow_views": ["faq"]}, id="static 404"),
        pytest.param("/static/app.css", {"allow_static": False}, id="static switched off"),
        pytest.param("/blog/../faq", {"allow": ["/faq"]}, id="dot segment"),
    ],
)
def test_blocked_while_on(
    make_app: Callable[..., Flask], path: str, config: dict[str, Any]
) -> None:
    with make_app(config).test_client().get(path) as r:
        status = r.status_code
    if path == "/static/missing.css":  # the static view is reachable: Flask's own 404
        assert status == 404
    else:
        assert status == 503


def test_read_only(make_app: Callable[..., Flask]) -> None:
    c = make_app({"read_only": True}).test_client()
    assert c.get("/").status_code == 200
    assert c.head("/").status_code == 200
    assert c.post("/order").status_code == 503


# -- bypass -----------------------------------------------------------------------------------


def bypass_cookie() -> str:
    return sign_cookie(SECRET.encode(), 600)


@pytest.mark.parametrize(
    ("config", "headers"),
    [
        pytest.param({"bypass_secret": SECRET}, {"X-Maintenance-Bypass": SECRET}, id="header"),
        pytest.param(
            {"bypass_secret": SECRET, "bypass_header": "X-Team"},
            {"X-Team": SECRET},
            id="own header",
        ),
        pytest.param({"bypass_secret": SECRET}, "cookie", id="cookie"),
        pytest.param({"bypass_ips": "127.0.0.0/8"}, {}, id="ip"),
    ],
)
def test_bypass_reaches_the_real_view_uncacheable(
    make_app: Callable[..., Flask], config: dict[str, Any], headers: dict[str, str] | str
) -> None:
    c = make_app(config).test_client()
    if headers == "cookie":
        c.set_cookie("maintenance_bypass", bypass_cookie())
        headers = {}
    assert isinstance(headers, dict)
    r = c.get("/", headers=headers)
    assert (r.status_code, r.text) == (200, "app index")
    assert r.headers["Cache-Control"] == "private, no-store"
    assert c.application.config["HOOK_CALLS"] == ["before"]


def test_bypass_no_store_can_be_turned_off(make_app: Callable[..., Flask]) -> None:
    c = make_app({"bypass_secret": SECRET, "bypass_no_store": False}).test_client()
    r = c.get("/", headers={"X-Maintenance-Bypass": SECRET})
    assert r.headers["Cache-Control"] == APP_CACHE_CONTROL


def test_bypass_no_store_wins_over_app_hooks(make_app: Callable[..., Flask]) -> None:
    app = make_app({"bypass_secret": SECRET})

    @app.after_request
    def cache_everything(response: Response) -> Response:
        response.headers["Cache-Control"] = APP_CACHE_CONTROL
        return response

    r = app.test_client().get("/", headers={"X-Maintenance-Bypass": SECRET})
    assert r.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    ("headers", "cookie"),
    [
        pytest.param({"X-Maintenance-Bypass": "wrong-secret-0123456789"}, None, id="bad header"),
        pytest.param({}, "1.deadbeef", id="forged cookie"),
        pytest.param({}, sign_cookie(b"another-secret-0123456789", 600), id="other secret"),
        pytest.param({"X-Forwarded-For": "127.0.0.1"}, None, id="spoofed forwarded-for"),
    ],
)
def test_bad_bypass_gets_the_503(
    make_app: Callable[..., Flask], headers: dict[str, str], cookie: str | None
) -> None:
    c = make_app({"bypass_secret": SECRET, "bypass_ips": "10.0.0.1"}).test_client()
    if cookie is not None:
        c.set_cookie("maintenance_bypass", cookie)
    assert c.get("/", headers=headers).status_code == 503


def test_secret_url_sets_the_cookie_and_redirects(make_app: Callable[..., Flask]) -> None:
    c = make_app({"bypass_secret": SECRET, "bypass_cookie_secure": False}).test_client()
    r = c.get(f"/__maintenance__/{SECRET}")
    assert r.status_code == 303
    assert r.headers["Location"] == "/"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("maintenance_bypass=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert SECRET not in cookie
    assert r.data == b""
    r = c.get("/")  # the test client kept the cookie
    assert (r.status_code, r.text) == (200, "app index")
    stranger = c.application.test_client()
    assert stranger.get("/__maintenance__/not-the-secret-0123").status_code == 503


def test_secret_url_under_a_mount_prefix(make_app: Callable[..., Flask]) -> None:
    c = make_app({"bypass_secret": SECRET}).test_client()
    r = c.get(f"/__maintenance__/{SECRET}", base_url="http://localhost/shop")
    assert r.status_code == 303
    assert r.headers["Location"] == "/shop/"
    assert "Path=/shop/" in r.headers["Set-Cookie"]


# -- configuration ----------------------------------------------------------------------------


def test_config_overrides_constructor_defaults(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        {"site_name": "From config"},
        options={"site_name": "From code", "allow": ["/faq"], "check_interval": 0.5},
    )
    settings = engine_of(app).settings
    assert (settings.site_name, settings.allow, settings.check_interval) == (
        "From config",
        ("/faq",),
        0.5,
    )
    assert "From config" in app.test_client().get("/", headers=BROWSER).text


def test_one_extension_for_several_apps(tmp_path: Path, flag_path: Path) -> None:
    """The app-factory pattern: each app gets its own engine, from its own config."""
    turn_on(flag_path)
    ext = MaintenanceMode(allow=["/faq"])
    apps = []
    for name in ("one", "two"):
        app = Flask(name, root_path=str(tmp_path))
        app.config["MAINTENANCE_MODE"] = {"flag": str(flag_path), "site_name": name}
        app.add_url_rule("/faq", "faq", lambda: "faq")
        ext.init_app(app)
        apps.append(app)
    one, two = (engine_of(app) for app in apps)
    assert one is not two
    assert (one.settings.site_name, two.settings.site_name) == ("one", "two")
    for app in apps:
        assert app.test_client().get("/faq").status_code == 200
        assert app.name in app.test_client().get("/", headers=BROWSER).text


def test_no_config_key_uses_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINTENANCE_FILE", str(tmp_path / "env-named.json"))
    app = Flask("bare", root_path=str(tmp_path))
    MaintenanceMode(app)
    assert engine_of(app).flag_file() == tmp_path / "env-named.json"
    assert engine_of(app).settings.allow_views == ()
    assert engine_of(app).settings.allow_static is True


@pytest.mark.parametrize(
    ("config", "error", "message"),
    [
        pytest.param(
            {"alow": ["/faq"]},
            ValueError,
            "maintenance-mode: unknown option 'alow'; did you mean 'allow'?",
            id="typo",
        ),
        pytest.param(
            {"check_interval": 0},
            ValueError,
            "maintenance-mode: option 'check_interval': must be more than 0 seconds, not 0 (got 0)",
            id="bad value",
        ),
        pytest.param(
            {"allow": ["faq"]},
            ValueError,
            "maintenance-mode: option 'allow': allow entry 'faq' must be a path",
            id="bad allow",
        ),
        pytest.param(
            {"allow_views": ["blog index"]},
            ValueError,
            "maintenance-mode: option 'allow_views': 'blog index' is not a view name",
            id="bad view name",
        ),
        pytest.param(
            {"bypass_staff": True},
            ValueError,
            "maintenance-mode: option 'bypass_staff' needs users that Flask does not have",
            id="staff bypass",
        ),
        pytest.param(
            {"template_dir": "/nonexistent/templates"},
            ValueError,
            "maintenance-mode: option 'template_dir': '/nonexistent/templates' is not a directory",
            id="missing template_dir",
        ),
        pytest.param(
            {"bypass_secret": "short"},
            ValueError,
            "maintenance-mode: option 'bypass_secret': must be 22 to 256 characters",
            id="short secret",
        ),
        pytest.param(
            ["/faq"],
            TypeError,
            "maintenance-mode: app.config['MAINTENANCE_MODE'] must be a dict of options (got list)",
            id="config not a dict",
        ),
    ],
)
def test_config_errors_are_one_line(
    tmp_path: Path, config: Any, error: type[Exception], message: str
) -> None:
    app = Flask("shop", root_path=str(tmp_path))
    app.config["MAINTENANCE_MODE"] = config
    with pytest.raises(error) as info:
        MaintenanceMode(app)
    text = str(info.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert "maintenance_mode" not in app.extensions


OWN_PAGE = """{% extends "default/maintenance.html" %}
{% block heading %}<h1>{{ site_name }} is repainting the shop</h1>{% endblock %}
"""


@pytest.mark.parametrize(
    ("template_folder", "config", "own_page"),
    [
        pytest.param("templates", {}, True, id="templates/maintenance_mode/"),
        pytest.param("tpl", {}, True, id="custom template_folder"),
        pytest.param("templates", {"template_dir": None}, False, id="template_dir None: opt out"),
    ],
)
def test_template_dir_discovery(
    make_app: Callable[..., Flask],
    tmp_path: Path,
    template_folder: str,
    config: dict[str, Any],
    own_page: bool,
) -> None:
    folder = tmp_path / template_folder / "maintenance_mode"
    folder.mkdir(parents=True)
    (folder / "maintenance.html").write_text(OWN_PAGE)
    app = make_app({"site_name": "Acme", **config}, template_folder=template_folder)
    page = app.test_client().get("/", headers=BROWSER).text
    assert ("Acme is repainting the shop" in page) is own_page
    assert "Upgrading the &lt;database&gt;" in page  # the default blocks, autoescaped
    assert (engine_of(app).settings.template_dir == folder) is own_page


def test_explicit_template_dir_wins(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    (tmp_path / "templates" / "maintenance_mode").mkdir(parents=True)
    (tmp_path / "templates" / "maintenance_mode" / "maintenance.html").write_text("discovered")
    own = tmp_path / "elsewhere"
    own.mkdir()
    (own / "maintenance.html").write_text(OWN_PAGE)
    page = (
        make_app({"site_name": "Acme", "template_dir": str(own)})
        .test_client()
        .get("/", headers=BROWSER)
        .text
    )
    assert "Acme is repainting the shop" in page


def test_broken_discovered_template_fails_at_init(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    (tmp_path / "templates" / "maintenance_mode").mkdir(parents=True)
    (tmp_path / "templates" / "maintenance_mode" / "maintenance.html").write_text("{% if %}")
    with pytest.raises(ValueError, match=r"^maintenance-mode: template .*maintenance.html: line 1"):
        make_app()


# -- imports ----------------------------------------------------------------------------------


def test_exempt_is_the_cores_decorator() -> None:
    assert maintenance_exempt is maintenance_mode.maintenance_exempt


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_the_package_does_not_import_flask() -> None:
    result = run_python(
        "import sys, maintenance_mode, maintenance_mode.wsgi, maintenance_mode.cli\n"
        "assert 'flask' not in sys.modules, 'flask imported'\n"
        "import maintenance_mode.flask\n"
        "assert 'flask' in sys.modules\n"
    )
    assert result.returncode == 0, result.stderr


def test_missing_flask_names_the_extra() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['flask'] = None  # as if Flask were not installed\n"
        "try:\n"
        "    import maintenance_mode.flask\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        'maintenance_mode.flask needs Flask: pip install "maintenance-mode[flask]"'
    )


# -- the flask maintenance command ------------------------------------------------------------


def invoke(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["maintenance", *args])


def test_command_on_status_off(make_app: Callable[..., Flask], flag_path: Path) -> None:
    app = make_app(on=False)
    r = invoke(app, "on", "--reason", "X", "--eta", "2h", "--kind", "unplanned")
    assert r.exit_code == 0, r.output
    assert f"Maintenance is ON (started): {flag_path}" in r.stdout
    state = load_state(flag_path.read_bytes())
    assert (state.reason, state.kind) == ("X", "unplanned")
    assert state.eta_latest is not None
    left = state.eta_latest - datetime.now(UTC)
    # Rounded up to the quarter hour (an ETA from a duration claims no false precision).
    assert timedelta(hours=1, minutes=59) < left <= timedelta(hours=2, minutes=15)
    assert (state.eta_latest.minute % 15, state.eta_latest.second) == (0, 0)

    engine_of(app).invalidate()
    assert app.test_client().get("/").status_code == 503  # the app watches the same file

    r = invoke(app, "status")
    assert r.exit_code == 0
    assert f"Maintenance is ON: {flag_path}" in r.stdout
    assert "reason:  X" in r.stdout

    r = invoke(app, "status", "--json")
    assert json.loads(r.stdout)["state"]["reason"] == "X"

    r = invoke(app, "off")
    assert r.exit_code == 0
    assert r.stdout.startswith("Maintenance is OFF: ended at ")
    assert json.loads(flag_path.read_text())["ended_at"]  # the file records the real end
    r = invoke(app, "status")
    assert r.stdout.startswith(f"Maintenance is OFF: {flag_path}\n  ended:")


def test_options_from_prefixed_env(
    tmp_path: Path, flag_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask's own env loading fills the dict: FLASK_MAINTENANCE_MODE__<option>=<json or text>."""
    turn_on(flag_path)
    monkeypatch.setenv("FLASK_MAINTENANCE_MODE__flag", str(flag_path))
    monkeypatch.setenv("FLASK_MAINTENANCE_MODE__check_interval", "0.5")
    monkeypatch.setenv("FLASK_MAINTENANCE_MODE__allow", "/faq, /contact")
    monkeypatch.setenv("FLASK_MAINTENANCE_MODE__bypass_secret", SECRET)
    app = Flask("shop", root_path=str(tmp_path))
    app.config.from_prefixed_env()
    MaintenanceMode(app)
    settings = engine_of(app).settings
    assert settings.check_interval == 0.5
    assert settings.allow == ("/faq", "/contact")
    assert settings.bypass_secret == SECRET
    assert engine_of(app).flag_file() == flag_path


def test_strict_slashes_redirect_gets_the_503(make_app: Callable[..., Flask]) -> None:
    """Routing did not reach a view (Werkzeug would redirect /blog to /blog/): no view rule."""
    c = make_app({"allow_views": ["blog.*"]}).test_client()
    assert c.get("/blog").status_code == 503
    assert c.get("/blog/").status_code == 200


# -- a planned window ahead: the banner and the status document -----------------------------


def test_banner_and_status_while_a_window_is_announced(tmp_path: Path, flag_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from flask import render_template_string

    from maintenance_mode.state import Window, write_state_atomic

    start = datetime.now(UTC) + timedelta(hours=5)
    window = Window(start=start, end=start + timedelta(hours=2), reason="Card provider switch")
    write_state_atomic(flag_path, MaintenanceState(windows=(window,)))
    app = Flask("banner", root_path=str(tmp_path))
    app.config["MAINTENANCE_MODE"] = {"flag": str(flag_path)}
    MaintenanceMode(app)

    @app.get("/")
    def index() -> str:
        return "<!doctype html><html><body><main>shop</main></body></html>"

    @app.get("/layout")
    def layout() -> str:
        return render_template_string("<div>{{ maintenance_banner() }}</div>")

    @app.get("/api")
    def api() -> dict[str, bool]:
        return {"ok": True}

    c = app.test_client()
    page = c.get("/")
    assert page.status_code == 200
    assert page.data.count(b"data-nosnippet") == 1
    assert page.data.index(b"mm-banner") < page.data.index(b"<main>")
    assert int(page.headers["Content-Length"]) == len(page.data)
    assert b"Card provider switch" in c.get("/layout").data  # the template helper
    assert b"mm-banner" not in c.get("/api").data
    assert b"mm-banner" not in c.head("/").data
    status = c.get("/__maintenance__/status").get_json()
    assert status["scheduled_maintenances"][0]["name"] == "Card provider switch"


def test_the_request_is_read_without_the_proxy() -> None:
    """The hooks read Flask's request context variable (private to Flask, so pinned here)."""
    from flask import Flask, request

    from maintenance_mode import flask as ext

    assert ext._CV_REQUEST is not None  # else every hook pays the proxy (~8,000 instructions)
    app = Flask("pin")
    with app.test_request_context("/faq?x=1"):
        assert ext._request() is request._get_current_object()  # type: ignore[attr-defined]
        assert ext._request().path == "/faq"
