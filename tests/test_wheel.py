"""The wheel, installed into a fresh virtualenv outside the repo, serves the packaged page.

One sdist, one wheel built from that sdist (as a publisher's ``python -m build``
does, so the sdist is proven complete) and one virtualenv for the whole module
(built and installed once; the dependencies come from PyPI). Everything that
runs inside that virtualenv runs with its working directory in a temporary
folder, so the repo is not importable.
"""

from __future__ import annotations

import gettext
import io
import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
BIN = "Scripts" if os.name == "nt" else "bin"
TEMPLATES = ("base.html", "maintenance.html", "maintenance.txt")
REASON = "Installed from the wheel <ok>"
LOCALE = ROOT / "src" / "maintenance_mode" / "locale"
LANGUAGES = sorted(po.parent.parent.name for po in LOCALE.glob("*/LC_MESSAGES/*.po"))

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

environ = {"PATH_INFO": "/checkout", "HTTP_ACCEPT": "text/html"}  # a browser: the page
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
    sdist: Path
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
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=base)  # sdist, then wheel
    (sdist,) = dist.glob("maintenance_mode-*.tar.gz")
    (wheel,) = dist.glob("maintenance_mode-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=base)
    python = venv / BIN / "python"
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=base)
    workdir = base / "work"
    workdir.mkdir()
    return Installed(sdist, wheel, venv, python, workdir)


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
    assert "maintenance_mode/locale/maintenance_mode.pot" in names  # for translators
    assert "maintenance_mode/__init__.py" in names
    assert "maintenance = maintenance_mode.cli:main" in entry_points
    strays = sorted(n for n in names if not n.startswith(("maintenance_mode/", f"{dist_info}/")))
    assert strays == []


def test_wheel_ships_one_compiled_catalog_per_language_and_no_po(installed: Installed) -> None:
    assert {"de", "es", "fr"} <= set(LANGUAGES)
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        compiled = {name.split("/")[2]: wheel.read(name) for name in names if name.endswith(".mo")}
    assert sorted(compiled) == LANGUAGES
    for lang in LANGUAGES:
        assert f"maintenance_mode/locale/{lang}/LC_MESSAGES/maintenance_mode.mo" in names
    assert sorted(n for n in names if n.endswith(".po")) == []
    for lang, data in compiled.items():  # the .mo says what the repo's .po says
        mo = gettext.GNUTranslations(io.BytesIO(data))
        with (LOCALE / lang / "LC_MESSAGES" / "maintenance_mode.po").open("rb") as fh:
            po = read_po(fh, locale=lang)
        checked = 0
        for message in po:
            if not message.id or message.fuzzy or not message.string:
                continue
            if isinstance(message.id, tuple):
                got = mo.ngettext(message.id[0], message.id[1], 1)
                want = message.string[0]
            elif message.context:
                got, want = mo.pgettext(message.context, message.id), message.string
            else:
                got, want = mo.gettext(message.id), message.string
            assert got == want, (lang, message.id)
            checked += 1
        assert checked > 10, lang


def test_wheel_and_sdist_carry_the_license_and_metadata(installed: Installed) -> None:
    license_text = (ROOT / "LICENSE").read_bytes()
    assert b"MIT License" in license_text
    dist_info = f"maintenance_mode-{VERSION}.dist-info"
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert wheel.read(f"{dist_info}/licenses/LICENSE") == license_text
        metadata = wheel.read(f"{dist_info}/METADATA").decode("utf-8")
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    for minor in (11, 12, 13):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}" in metadata
    with tarfile.open(installed.sdist) as sdist:
        member = sdist.extractfile(f"maintenance_mode-{VERSION}/LICENSE")
        assert member is not None
        assert member.read() == license_text


def test_sdist_has_the_sources_and_no_screenshots(installed: Installed) -> None:
    top = f"maintenance_mode-{VERSION}/"
    with tarfile.open(installed.sdist) as sdist:
        names = {name.removeprefix(top) for name in sdist.getnames()}
    assert any((ROOT / "docs" / "screenshots").glob("*.png"))  # the repo has some to leave out
    assert sorted(n for n in names if n.lower().endswith(".png")) == []
    assert not any(n.startswith("docs/screenshots") for n in names)
    assert {"hatch_build.py", "pyproject.toml", "README.md", "docs/options.md"} <= names
    for lang in LANGUAGES:  # the sources the wheel build compiles
        assert f"src/maintenance_mode/locale/{lang}/LC_MESSAGES/maintenance_mode.po" in names


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
        "import json, sys\n"
        "from maintenance_mode import Maintenance, MaintenanceState\n"
        "from maintenance_mode.core import RequestInfo\n"
        "from maintenance_mode.i18n import packaged_locale_dir\n"
        "m = Maintenance(flag=lambda: MaintenanceState(), site_name='Acme')\n"
        "r = RequestInfo(method='GET', path='/', root='', peer=None, accept='text/html',\n"
        "    accept_language='fr')\n"
        "body = m.decide(m.poll(), r).response.body.decode()\n"
        "print(json.dumps({'body': body,\n"
        "    'files': sorted(p.name for p in packaged_locale_dir().rglob('*.*')),\n"
        "    'compiled_at_run_time': 'babel.messages.pofile' in sys.modules}))\n"
    )
    out = json.loads(_run(installed.python, "-c", script, cwd=installed.workdir))
    assert "Acme est en maintenance planifiée" in out["body"]
    assert "maintenance_mode.po" not in out["files"]
    assert "maintenance_mode.mo" in out["files"]
    assert out["compiled_at_run_time"] is False  # the .mo is loaded, no .po is parsed


def test_a_fresh_mo_is_preferred_and_a_stale_or_missing_one_falls_back_to_the_po(
    tmp_path: Path,
) -> None:
    """The rule a source checkout relies on (no .mo there, or one older than its .po)."""
    from babel.messages.mofile import write_mo

    from maintenance_mode.i18n import _catalog_files, _load

    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    source = LOCALE / "fr" / "LC_MESSAGES" / "maintenance_mode.po"
    po, mo = folder / "maintenance_mode.po", folder / "maintenance_mode.mo"
    po.write_bytes(source.read_bytes())
    assert _catalog_files(tmp_path, compiled=True) == {"fr": po}  # checkout: no .mo

    with source.open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    with mo.open("wb") as fh:
        write_mo(fh, catalog)
    os.utime(po, ns=(1_000_000_000, 1_000_000_000))
    os.utime(mo, ns=(2_000_000_000, 2_000_000_000))
    assert _catalog_files(tmp_path, compiled=True) == {"fr": mo}
    assert _catalog_files(tmp_path) == {"fr": po}  # a user's locale_dir: always the .po
    assert _load(mo).gettext("%(city)s time") == "heure de %(city)s"

    os.utime(po, ns=(3_000_000_000, 3_000_000_000))  # edited after the compile: stale .mo
    assert _catalog_files(tmp_path, compiled=True) == {"fr": po}

    po.unlink()  # an installed wheel: the .mo alone
    assert _catalog_files(tmp_path, compiled=True) == {"fr": mo}
    mo.write_bytes(b"\xde\x12\x04\x95 truncated")
    with pytest.raises(ValueError, match=r"maintenance_mode\.mo: not a readable \.mo file"):
        _load(mo)
