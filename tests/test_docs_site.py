"""The documentation site builds with `mkdocs build --strict`: no broken link, anchor or nav entry.

MkDocs comes with the dev extra (through the `docs` extra), so a missing MkDocs fails
this test instead of skipping it: CI builds the site here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_site_builds_strictly(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for page in ("index.html", "troubleshooting/index.html", "reference/control/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    reference = (tmp_path / "site" / "reference" / "control" / "index.html").read_text("utf-8")
    assert "maintenance_mode.control.on" in reference  # the API reference came from the docstrings
    assert ":class:" not in reference  # docs/_hooks/sphinx_roles.py showed the roles as code


def _hatch_build(monkeypatch: pytest.MonkeyPatch) -> Any:
    """hatch_build.py, imported with hatchling's hook interfaces stubbed (builds install it)."""
    for name, attr in (
        ("hatchling.builders.hooks.plugin.interface", "BuildHookInterface"),
        ("hatchling.metadata.plugin.interface", "MetadataHookInterface"),
    ):
        module = types.ModuleType(name)
        setattr(module, attr, type(attr, (), {"__class_getitem__": classmethod(lambda c, _: c)}))
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("hatch_build_under_test", ROOT / "hatch_build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pypi_readme_has_no_relative_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyPI shows the README away from the repository: no link may point into it."""
    pypi_readme = _hatch_build(monkeypatch).pypi_readme
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = re.compile(r"\]\((?!https?://|mailto:)[^)\s]+\)")
    assert relative.search(readme)  # the repository's README does use them
    plain = pypi_readme(readme, "")
    assert not relative.search(plain), relative.findall(plain)[:5]
    assert "the order in which" in plain  # text is kept, only the link goes

    sited = pypi_readme(readme, "https://docs.example.org/maintenance-mode/")
    assert not relative.search(sited)
    assert "](https://docs.example.org/maintenance-mode/options/#allow)" in sited
    assert "](docs/" not in sited
