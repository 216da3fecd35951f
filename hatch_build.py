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

The metadata hook (:class:`PyPIReadmeHook`) gives PyPI the README with its relative
links fixed, since PyPI shows it away from the repository (:func:`pypi_readme`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

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


# -- the README as PyPI shows it -----------------------------------------------------------

#: A Markdown link or image whose target is relative: ``[text](docs/options.md#allow)``.
_RELATIVE_LINK = re.compile(r"(!?)\[([^\]\n]*)\]\((?!https?://|mailto:)([^)\s]+)\)")


def pypi_readme(text: str, base_url: str) -> str:
    """The README with every relative link made absolute, or made plain text.

    PyPI shows the README away from the repository, so ``docs/options.md`` and
    ``#installation`` lead nowhere there. With ``base_url`` (the published docs site,
    ``[tool.maintenance-mode] docs-url`` in pyproject.toml), ``docs/NAME.md#x`` becomes
    ``<base_url>NAME/#x``, the site's address for that page; anything else relative,
    and every link while no address is configured, keeps its text and loses the link.
    """

    def fix(match: re.Match[str]) -> str:
        image, label, target = match.groups()
        page, _, fragment = target.partition("#")
        if base_url and page.startswith("docs/") and page.endswith(".md"):
            url = base_url.rstrip("/") + "/" + page[len("docs/") : -len(".md")] + "/"
            return f"{image}[{label}]({url}{'#' + fragment if fragment else ''})"
        return "" if image else label

    return _RELATIVE_LINK.sub(fix, text)


class PyPIReadmeHook(MetadataHookInterface):
    """Set the package's long description to :func:`pypi_readme` of README.md."""

    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        import tomllib

        with (Path(self.root) / "pyproject.toml").open("rb") as fh:
            base = tomllib.load(fh).get("tool", {}).get("maintenance-mode", {}).get("docs-url", "")
        text = (Path(self.root) / "README.md").read_text(encoding="utf-8")
        metadata["readme"] = {"content-type": "text/markdown", "text": pypi_readme(text, base)}
