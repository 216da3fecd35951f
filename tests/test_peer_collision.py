"""Beside django-maintenance-mode, which also installs a top-level ``maintenance_mode``.

In-process: the install check on a folder laid out by hand, and the system checks that
report what django-maintenance-mode left in the settings (Django's override_settings).
In throwaway virtualenvs (slow): the real thing, with our wheel and django-maintenance-mode
0.23.0 installed in both orders, and one of them uninstalled after the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from django_setup import setup_django

setup_django()

from django.apps import AppConfig  # noqa: E402
from django.test import override_settings  # noqa: E402

from maintenance_mode import _install  # noqa: E402
from maintenance_mode.apps import LeftoverAppEntryConfig  # noqa: E402
from maintenance_mode.django.checks import (  # noqa: E402
    PEER_CONTEXT_PROCESSOR,
    PEER_MIDDLEWARE,
    PEER_SETTINGS,
    check_peer_leftovers,
)

ROOT = Path(__file__).resolve().parents[1]
PEER = "django-maintenance-mode==0.23.0"
BIN = "Scripts" if os.name == "nt" else "bin"
MIXED = "django-maintenance-mode's files are mixed with this package's"
DELETED = "most likely deleted by 'pip uninstall django-maintenance-mode'"


# -- the install check on a hand-made folder ----------------------------------------------


def _package(folder: Path, *names: str) -> Path:
    folder.mkdir()
    for name in names:
        (folder / name).write_text("", "utf-8")
    return folder


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param(("__init__.py", "core.py", "settings.py", "asgi.py"), None, id="ours alone"),
        pytest.param(("__init__.py", "core.py", "settings.py", "metadata.py"), MIXED, id="mixed"),
        pytest.param(("core.py", "context_processors.py"), MIXED, id="theirs over ours"),
        pytest.param(("asgi.py", "cli.py"), DELETED, id="ours deleted"),
        pytest.param(("__init__.py", "settings.py"), DELETED, id="core deleted"),
    ],
)
def test_install_check(tmp_path: Path, names: tuple[str, ...], expected: str | None) -> None:
    folder = _package(tmp_path / "maintenance_mode", *names)
    if expected is None:
        _install.check(str(folder))
        return
    with pytest.raises(ImportError, match="maintenance-mode: ") as caught:
        _install.check(str(folder))
    message = str(caught.value)
    assert expected in message
    assert str(folder) in message
    assert "\n" not in message  # one line
    assert "pip install" in message


def test_our_real_package_passes_the_install_check() -> None:
    _install.check()


def test_a_folder_that_is_not_on_disk_is_not_checked(tmp_path: Path) -> None:
    _install.check(str(tmp_path / "app.zip" / "maintenance_mode"))


@pytest.mark.parametrize("marker", _install.PEER_MARKERS)
def test_importing_the_package_beside_their_files_fails_at_once(
    tmp_path: Path, marker: str
) -> None:
    """Our ``__init__`` (a copy) in a folder where django-maintenance-mode left a file."""
    src = ROOT / "src" / "maintenance_mode"
    folder = _package(tmp_path / "maintenance_mode", marker)
    for name in ("__init__.py", "_install.py"):
        (folder / name).write_bytes((src / name).read_bytes())
    code = "import sys; sys.path.insert(0, sys.argv[1]); import maintenance_mode"
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"ImportError: maintenance-mode: {MIXED} in {folder}" in result.stderr


# -- system checks: what django-maintenance-mode left in the settings ----------------------


def _ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return [message.id or "" for message in check_peer_leftovers()]


@pytest.fixture
def urlconf(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for throwaway URLconf modules."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("peer_urls_")]:
        del sys.modules[name]


def test_a_clean_project_has_no_leftovers() -> None:
    assert _ids() == []


def test_their_app_entry_is_reported() -> None:
    from django.conf import settings

    apps = [*settings.INSTALLED_APPS, "maintenance_mode"]
    assert _ids(INSTALLED_APPS=apps) == ["maintenance_mode.E003"]


def test_their_app_entry_loads_our_checks() -> None:
    """Django picks maintenance_mode/apps.py for the bare entry, under its own label."""
    config = AppConfig.create("maintenance_mode")
    assert isinstance(config, LeftoverAppEntryConfig)
    assert config.label != "maintenance_mode"  # both entries can load; E003 names the one to keep


def test_their_middleware_is_reported() -> None:
    from django.conf import settings

    middleware = [PEER_MIDDLEWARE, *settings.MIDDLEWARE]
    assert _ids(MIDDLEWARE=middleware) == ["maintenance_mode.E004"]


def test_their_context_processor_is_reported() -> None:
    from django.conf import settings

    templates = [dict(engine) for engine in settings.TEMPLATES]
    options = dict(templates[0].get("OPTIONS") or {})
    options["context_processors"] = [*options.get("context_processors", []), PEER_CONTEXT_PROCESSOR]
    templates[0]["OPTIONS"] = options
    assert _ids(TEMPLATES=templates) == ["maintenance_mode.E005"]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            "from django.urls import include, path\n"
            'urlpatterns = [path("mm/", include("maintenance_mode.urls"))]\n',
            id="include('maintenance_mode.urls')",
        ),
        pytest.param(
            "from maintenance_mode.decorators import force_maintenance_mode_off\n"
            "urlpatterns = []\n",
            id="their decorator",
        ),
        pytest.param(
            "from maintenance_mode.core import get_maintenance_mode\nurlpatterns = []\n",
            id="their core function",
        ),
    ],
)
def test_their_urls_and_imports_are_reported(urlconf: Path, source: str) -> None:
    name = f"peer_urls_{abs(hash(source))}"
    (urlconf / f"{name}.py").write_text(source, "utf-8")
    assert _ids(ROOT_URLCONF=name) == ["maintenance_mode.E006"]


def test_an_unrelated_broken_urlconf_is_left_to_django(urlconf: Path) -> None:
    (urlconf / "peer_urls_other.py").write_text("import no_such_module_here\n", "utf-8")
    assert _ids(ROOT_URLCONF="peer_urls_other") == []


def test_each_of_their_settings_is_reported_with_our_equivalent() -> None:
    with override_settings(
        MAINTENANCE_MODE_IGNORE_URLS=[r"^/faq"],
        MAINTENANCE_MODE_STATE_FILE_PATH="/tmp/x.txt",
        MAINTENANCE_MODE_FROM_THE_FUTURE=1,
    ):
        messages = check_peer_leftovers()
    assert [m.id for m in messages] == ["maintenance_mode.W004"] * 3
    future, ignore_urls, state_file = (m.msg for m in messages)
    assert "settings.MAINTENANCE_MODE_FROM_THE_FUTURE" in future
    assert "here: no equivalent." in future
    assert "settings.MAINTENANCE_MODE_IGNORE_URLS" in ignore_urls
    assert "'allow'" in ignore_urls
    assert "settings.MAINTENANCE_MODE_STATE_FILE_PATH" in state_file
    assert "'flag'" in state_file


def test_the_migration_guide_maps_every_setting_the_check_knows() -> None:
    guide = (ROOT / "docs" / "django.md").read_text("utf-8")
    section = guide[guide.index("## Moving from django-maintenance-mode") :]
    missing = [name for name in PEER_SETTINGS if f"`{name}`" not in section]
    assert missing == []


def test_manage_py_check_fails_on_their_leftover_app_entry(tmp_path: Path) -> None:
    """The scenario from the issue: only ``"maintenance_mode"`` in INSTALLED_APPS."""
    code = textwrap.dedent(
        """
        import django
        from django.conf import settings
        from django.core.management import call_command
        settings.configure(INSTALLED_APPS=["maintenance_mode"], MIDDLEWARE=[])
        django.setup()
        call_command("check")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "maintenance_mode.E003" in result.stderr
    assert "maintenance_mode.W001" in result.stderr  # our other checks run too


# -- the real thing, in throwaway virtualenvs ----------------------------------------------


def _env() -> dict[str, str]:
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(*cmd: str | Path, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if ok:
        assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stderr}"
    return result


class Venv:
    """A virtualenv without pip of its own (this one's pip drives it with ``--python``)
    that sees this venv's packages (Django, pydantic ...) after its own."""

    def __init__(self, folder: Path, wheels: dict[str, Path]) -> None:
        self.folder, self.wheels = folder, wheels
        _run(sys.executable, "-m", "venv", "--without-pip", folder, cwd=folder.parent)
        self.python = folder / BIN / "python"
        purelib = _run(
            self.python,
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=folder,
        ).stdout.strip()
        ours = _run(
            sys.executable,
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=folder,
        ).stdout.strip()
        self.site = Path(purelib)
        (self.site / "outer_venv.pth").write_text(ours + "\n", "utf-8")
        # django-maintenance-mode's settings module imports python-fsutil first thing;
        # a stand-in is enough to import it without settings.
        (self.site / "fsutil.py").write_text("", "utf-8")

    def pip(self, *args: str | Path) -> None:
        _run(sys.executable, "-m", "pip", "--python", self.python, *args, cwd=self.folder)

    def install(self, which: str) -> None:
        self.pip("install", "--quiet", "--no-deps", "--no-index", self.wheels[which])

    def uninstall(self, *dists: str) -> None:
        self.pip("uninstall", "--quiet", "-y", *dists)

    def import_(self, module: str) -> subprocess.CompletedProcess[str]:
        return _run(self.python, "-c", f"import {module}", cwd=self.folder, ok=False)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Our wheel, built once, and django-maintenance-mode's, from PyPI (or pip's cache)."""
    dist = tmp_path_factory.mktemp("peer-wheels")
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT, cwd=dist)
    _run(sys.executable, "-m", "pip", "download", "--no-deps", "-d", dist, PEER, cwd=dist)
    (ours,) = dist.glob("maintenance_mode-*.whl")
    (theirs,) = dist.glob("django_maintenance_mode-*.whl")
    return {"ours": ours, "theirs": theirs}


@pytest.fixture
def venv(tmp_path: Path, wheels: dict[str, Path]) -> Venv:
    return Venv(tmp_path / "venv", wheels)


@pytest.mark.slow
def test_theirs_then_ours_fails_at_import(venv: Venv) -> None:
    venv.install("theirs")
    venv.install("ours")
    for module in ("maintenance_mode", "maintenance_mode.django"):
        result = venv.import_(module)
        assert result.returncode == 1
        assert f"ImportError: maintenance-mode: {MIXED}" in result.stderr
    # The fix the message gives works.
    venv.uninstall("django-maintenance-mode", "maintenance-mode")
    venv.install("ours")
    result = venv.import_("maintenance_mode.django")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_ours_then_theirs_fails_at_our_entry_point(venv: Venv) -> None:
    """Their ``__init__`` replaced ours: ``maintenance_mode`` is theirs, so the check runs
    where our modules are imported (``maintenance_mode.django``, Django's app entry)."""
    venv.install("ours")
    venv.install("theirs")
    for entry in ("django", "asgi", "wsgi", "flask", "cli", "control"):
        result = venv.import_(f"maintenance_mode.{entry}")
        assert result.returncode == 1, entry
        assert f"ImportError: maintenance-mode: {MIXED}" in result.stderr, (entry, result.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("order", [("ours", "theirs"), ("theirs", "ours")], ids="-then-".join)
def test_uninstalling_theirs_after_ours_says_ours_was_deleted(
    venv: Venv, order: tuple[str, str]
) -> None:
    for which in order:
        venv.install(which)
    venv.uninstall("django-maintenance-mode")
    assert not (venv.site / "maintenance_mode" / "core.py").exists()  # the trap is real
    for entry in ("django", "wsgi", "cli"):
        result = venv.import_(f"maintenance_mode.{entry}")
        assert result.returncode == 1, entry
        assert (
            "ImportError: maintenance-mode: this package's __init__.py, core.py, settings.py"
            in (result.stderr)
        ), (entry, result.stderr)
        assert DELETED in result.stderr
    venv.pip(
        "install", "--quiet", "--force-reinstall", "--no-deps", "--no-index", venv.wheels["ours"]
    )
    result = venv.import_("maintenance_mode.django")
    assert result.returncode == 0, result.stderr
