"""The footprint of a worker that never serves a page: the renderer loads only when needed.

Each case runs in a fresh interpreter (``sys.modules`` is the measure): a Django, Flask
or FastAPI app is built with the middleware, serves one request with maintenance off,
and must not have loaded Babel, Jinja2, MarkupSafe or Werkzeug's server (Flask brings
its own Jinja2 and Werkzeug: there only what the bare Flask app loads is allowed), nor
our own flag document models, schedule and renderer. A 503 then loads them (the lazy
path works), and so does the warm-up, with no request, as soon as the engine sees the
flag turn on. No timings here: benchmarks/ measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: Not loaded while off. maintenance_mode.hooks: only a transition (maintenance going
#: on or off, an update) needs its events; maintenance_mode.status: only the status
#: document and the page do. A worker that stays off and unpolled imports neither.
#: maintenance_mode.state and .schedule: only a flag document (its models, its phase)
#: needs them; maintenance_mode.render: only a page or a banner; maintenance_mode.control:
#: only a command (the default flag, ``flag=None``, is found without it).
HEAVY = (
    "babel",
    "jinja2",
    "markupsafe",
    "werkzeug",
    "werkzeug.serving",
    "http.server",
    "maintenance_mode.hooks",
    "maintenance_mode.status",
    "maintenance_mode.state",
    "maintenance_mode.schedule",
    "maintenance_mode.render",
    "maintenance_mode.control",
)
RENDERING = {"babel", "jinja2", "markupsafe", "maintenance_mode.render"}
#: Loaded as soon as a flag document is read (its models, then its phase).
DOCUMENTS = {"maintenance_mode.state", "maintenance_mode.schedule"}

#: Run as ``python -c SCRIPT FRAMEWORK FLAG``; prints one JSON object. It imports only
#: the standard library before the framework, so sys.modules is the app's own.
SCRIPT = r"""
import io, json, sys, time

FRAMEWORK, FLAG = sys.argv[1], sys.argv[2]
HEAVY = HEAVY_NAMES
OPTIONS = {"flag": FLAG, "check_interval": 0.05}


def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)


def wsgi_get(app):
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "HTTP_ACCEPT": "text/html", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status = []
    result = app(environ, lambda s, h, e=None: status.append(int(s.split()[0])))
    b"".join(result)
    getattr(result, "close", lambda: None)()
    return status[0]


def asgi_get(app):
    import asyncio

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/html")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


if FRAMEWORK == "django":
    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    urlpatterns = [path("", lambda request: HttpResponse("hello"))]
    settings.configure(
        DEBUG=False, SECRET_KEY="footprint", ALLOWED_HOSTS=["*"], ROOT_URLCONF="__main__",
        INSTALLED_APPS=["maintenance_mode.django"], DATABASES={},
        MIDDLEWARE=["maintenance_mode.django.MaintenanceMiddleware"],
        MAINTENANCE_MODE=OPTIONS,
    )
    baseline = []
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    app, get = WSGIHandler(), wsgi_get
elif FRAMEWORK == "flask":
    from flask import Flask

    def flask_app():
        made = Flask("footprint")
        made.get("/")(lambda: "hello")
        return made

    wsgi_get(flask_app())
    baseline = loaded()  # Flask's own Jinja2 and Werkzeug
    from maintenance_mode.flask import MaintenanceMode

    app, get = flask_app(), wsgi_get
    MaintenanceMode(app, **OPTIONS)
else:
    from fastapi import FastAPI

    from maintenance_mode.fastapi import MaintenanceMode

    app, get = FastAPI(), asgi_get
    app.get("/")(lambda: "hello")
    MaintenanceMode(app, **OPTIONS)
    baseline = []

result = {"baseline": baseline, "off_status": get(app)}
result["off"] = loaded()
if sys.argv[3] == "request":
    open(FLAG, "w").write("{}")
    time.sleep(0.1)  # past check_interval: the next request checks the flag
    result["on_status"] = get(app)
    result["on"] = loaded()
else:  # the engine sees the flag turn on (a check, as a request makes), and renders nothing
    import gc

    from maintenance_mode.core import Maintenance

    (engine,) = [o for o in gc.get_objects() if isinstance(o, Maintenance)]
    open(FLAG, "w").write("{}")
    engine.invalidate()
    result["checked_on"] = engine.poll().on
    deadline = time.monotonic() + 60
    while engine._rendering is None and time.monotonic() < deadline:
        time.sleep(0.05)
    result["on"] = loaded()
print(json.dumps(result))
""".replace("HEAVY_NAMES", repr(HEAVY))


def run(framework: str, flag: Path, mode: str) -> dict[str, Any]:
    pytest.importorskip(framework)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, framework, str(flag), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


FRAMEWORKS = ["django", "flask", "fastapi"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_off_loads_no_renderer_and_the_first_503_does(framework: str, tmp_path: Path) -> None:
    result = run(framework, tmp_path / "maintenance.json", "request")
    assert result["off_status"] == 200
    assert result["off"] == result["baseline"], "loaded with maintenance off"
    if framework != "flask":
        assert result["off"] == []  # not even Werkzeug
    assert result["on_status"] == 503
    assert set(result["on"]) >= RENDERING | DOCUMENTS


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_warm_up_loads_the_renderer_when_the_flag_turns_on(
    framework: str, tmp_path: Path
) -> None:
    result = run(framework, tmp_path / "maintenance.json", "warm")
    assert result["off"] == result["baseline"]
    assert result["checked_on"] is True
    assert set(result["on"]) >= RENDERING | DOCUMENTS  # no request asked for a page


def test_the_default_flag_loads_no_document_models(tmp_path: Path) -> None:
    """``flag=None`` (``./maintenance.json``, the usual Django setting) while off: neither
    the control layer nor the document models load."""
    code = (
        "import sys\n"
        "from maintenance_mode.core import Maintenance\n"
        "engine = Maintenance(flag=None)\n"
        "assert not engine.poll().on\n"
        "print(sorted(m for m in sys.modules if m.startswith('maintenance_mode')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(proc.stdout.replace("'", '"')))
    assert "maintenance_mode.sources" in loaded  # the probe works
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_at_start_up_the_renderer_loads_in_line_and_later_in_the_background(
    tmp_path: Path,
) -> None:
    """A thread importing Jinja2 and Babel while the app still imports its own modules
    can break the app's imports: an engine that starts with maintenance on loads the
    renderer before its constructor returns, with no thread; one that sees it turn on
    later, in the background."""
    import threading

    from maintenance_mode import Maintenance, control

    flag = tmp_path / "maintenance.json"
    control.on(flag, reason="Database upgrade")
    before = set(threading.enumerate())
    started_on = Maintenance(flag=flag)
    assert started_on._rendering is not None
    assert not started_on._warming
    assert [t.name for t in set(threading.enumerate()) - before] == []

    control.off(flag, purge=True)
    later = Maintenance(flag=flag, check_interval=0.001)
    assert later._rendering is None
    control.on(flag, reason="Database upgrade")
    later.invalidate()
    assert later.poll().on
    assert later._warming  # a thread loads it; the first 503 waits for it if need be
    assert later._warm() is not None


def test_the_footprint_benchmark_reports_every_worker(tmp_path: Path) -> None:
    """benchmarks/run.py --only footprint runs and reports each worker (no timing assertion)."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "footprint.json"
    command = [sys.executable, str(root / "benchmarks" / "run.py"), "--only", "footprint"]
    proc = subprocess.run(
        [*command, "--quick", "--json", str(out)],  # --quick: no callgrind (minutes)
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "## Footprint" in proc.stdout, proc.stderr[-4000:]
    found = json.loads(out.read_text())["footprint"]
    for app in FRAMEWORKS:
        for kind in ("bare", "pydantic", "off"):
            assert found[f"{app}:{kind}"]["ms"] > 0
            assert found[f"{app}:{kind}"]["mb"] > 10
