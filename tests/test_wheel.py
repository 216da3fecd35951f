"""The wheel, installed into a fresh virtualenv outside the repo, serves the packaged page.

One wheel and one virtualenv for the whole module (built and installed once; the
dependencies come from PyPI). Everything that runs inside that virtualenv runs
with its working directory in a temporary folder, so the repo is not importable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
BIN = "Scripts" if os.name == "nt" else "bin"
TEMPLATES = ("base.html", "maintenance.html", "maintenance.txt")
REASON = "Installed from the wheel <ok>"

# Drives the installed middleware with a flag file, as a user's app would.
PROBE = r"""
import json, pathlib, sys, sysconfig
from wsgiref.util import setup_testing_defaults

import maintenance_mode
from maintenance_mode.render import default_template_dir
from maintenance_mode.state import MaintenanceState, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware

flag = pathlib.Path("maintenance.json").absolute()
write_state_atomic(flag, MaintenanceState(reason=sys.argv[1]))

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the app"]

seen = {}

def start_response(status, headers, exc_info=None):
    seen["status"], seen["headers"] = status, headers

environ = {"PATH_INFO": "/checkout"}
setup_testing_defaults(environ)
result = MaintenanceMiddleware(app, flag=flag)(environ, start_response)
body = b"".join(result)
template_dir = default_template_dir()
print(json.dumps({
    "module": maintenance_mode.__file__,
    "purelib": sysconfig.get_paths()["purelib"],
    "template_dir": str(template_dir),
    "templates": sorted(p.name for p in template_dir.iterdir()),
    "status": seen["status"],
    "headers": seen["headers"],
    "body": body.decode("utf-8"),
}))
"""


def _env() -> dict[str, str]:
    """This process's environment minus anything that would point Python at the repo."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "MAINTENANCE_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(*cmd: str | Path, cwd: Path, timeout: float = 300) -> str:
    result = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    python: Path
    workdir: Path

    def script(self, name: str) -> Path:
        return self.venv / BIN / name


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    if importlib.util.find_spec("build") is not None:
        _run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT, cwd=base)
    else:
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, ROOT, cwd=base)
    (wheel,) = dist.glob("maintenance_mode-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    python = venv / BIN / "python"
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=base)
    workdir = base / "work"
    workdir.mkdir()
    return Installed(wheel, venv, python, workdir)


@pytest.fixture(scope="module")
def probe(installed: Installed) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        _run(installed.python, "-c", PROBE, REASON, cwd=installed.workdir)
    )
    return result


def test_wheel_ships_the_templates_and_py_typed(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        dist_info = f"maintenance_mode-{VERSION}.dist-info"
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    for template in TEMPLATES:
        assert f"maintenance_mode/templates/{template}" in names
    assert "maintenance_mode/py.typed" in names
    for lang in ("de", "es", "fr"):  # gettext catalogs, read at start-up (no compile step)
        assert f"maintenance_mode/locale/{lang}/LC_MESSAGES/maintenance_mode.po" in names
    assert "maintenance_mode/__init__.py" in names
    assert "maintenance = maintenance_mode.cli:main" in entry_points
    strays = sorted(n for n in names if not n.startswith(("maintenance_mode/", f"{dist_info}/")))
    assert strays == []


def test_the_package_is_imported_from_the_fresh_venv(
    installed: Installed, probe: dict[str, Any]
) -> None:
    assert not installed.venv.resolve().is_relative_to(ROOT)
    site_packages = Path(probe["purelib"]).resolve()
    assert site_packages.is_relative_to(installed.venv.resolve())
    module = Path(probe["module"]).resolve()
    assert module.is_relative_to(site_packages), module
    assert not module.is_relative_to(ROOT)


def test_default_templates_are_the_packaged_ones(probe: dict[str, Any]) -> None:
    template_dir = Path(probe["template_dir"]).resolve()
    assert template_dir == Path(probe["purelib"]).resolve() / "maintenance_mode" / "templates"
    assert set(TEMPLATES) <= set(probe["templates"])
    for template in TEMPLATES:  # exactly the repo's templates, not stale copies
        assert (template_dir / template).read_bytes() == (
            ROOT / "templates" / template
        ).read_bytes()


def test_installed_middleware_serves_the_packaged_page(probe: dict[str, Any]) -> None:
    assert probe["status"] == "503 Service Unavailable"
    headers = {name.lower(): value for name, value in probe["headers"]}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert headers["retry-after"] == "300"
    assert headers["content-length"] == str(len(probe["body"].encode("utf-8")))
    assert "Installed from the wheel &lt;ok&gt;" in probe["body"]
    assert "<html" in probe["body"].lower()


def test_console_script_reports_the_version(installed: Installed) -> None:
    out = _run(installed.script("maintenance"), "--version", cwd=installed.workdir)
    assert out.strip() == f"maintenance {VERSION}"


def test_console_script_prints_the_flag_file_schema(installed: Installed) -> None:
    schema = json.loads(_run(installed.script("maintenance"), "schema", cwd=installed.workdir))
    assert schema["title"] == "MaintenanceState"
    assert {"reason", "message", "eta", "updates", "allow"} <= set(schema["properties"])


def test_installed_package_serves_translated_pages(installed: Installed) -> None:
    script = (
        "from maintenance_mode import Maintenance, MaintenanceState\n"
        "from maintenance_mode.core import RequestInfo\n"
        "m = Maintenance(flag=lambda: MaintenanceState(), site_name='Acme')\n"
        "r = RequestInfo(method='GET', path='/', root='', peer=None, accept_language='fr')\n"
        "print(m.decide(m.poll(), r).response.body.decode())\n"
    )
    assert "Acme est en maintenance planifiée" in _run(
        installed.python, "-c", script, cwd=installed.workdir
    )
