"""Hatch build hook: the wheel ships the packaged catalogs compiled (``.mo``).

The repository keeps only the ``.po`` sources (``src/maintenance_mode/locale``).
When a regular wheel is built, each ``<lang>/LC_MESSAGES/maintenance_mode.po`` is
checked and compiled with Babel (what ``pybabel compile`` does) into a temporary
folder and force-included next to where the ``.po`` would be; the ``.po`` files
themselves stay out of the wheel (``exclude`` in pyproject.toml). A catalog
Babel reports errors for (a broken ``python-format`` placeholder, say) stops the
build. Fuzzy entries are left out, as gettext does.

Editable installs are not touched: they import from ``src/``, where
``maintenance_mode.i18n`` compiles the ``.po`` in memory because no ``.mo`` is
there (see that module's docstring).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

DOMAIN = "maintenance_mode"
LOCALE = Path("src") / "maintenance_mode" / "locale"


class CompileCatalogsHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compile ``src/maintenance_mode/locale/*/LC_MESSAGES/*.po`` into the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        sources = sorted((Path(self.root) / LOCALE).glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
        if not sources:
            raise RuntimeError(f"no catalogs found under {LOCALE}; is the source tree complete?")
        self._compiled = Path(tempfile.mkdtemp(prefix="maintenance-mode-catalogs-"))
        for po in sources:
            lang = po.parent.parent.name
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang, domain=DOMAIN)
            problems = [
                f"{po}:{message.lineno}: {error}"
                for message, errors in catalog.check()
                for error in errors
            ]
            if problems:
                raise RuntimeError("catalog errors:\n" + "\n".join(problems))
            mo = self._compiled / lang / f"{DOMAIN}.mo"
            mo.parent.mkdir(parents=True)
            with mo.open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=False)
            target = f"maintenance_mode/locale/{lang}/LC_MESSAGES/{DOMAIN}.mo"
            build_data["force_include"][str(mo)] = target

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        compiled = getattr(self, "_compiled", None)
        if compiled is not None:
            shutil.rmtree(compiled, ignore_errors=True)
