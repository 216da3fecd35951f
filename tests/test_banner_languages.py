"""The banner's operator text in the visitor's language, chosen like the page's.

A French visitor gets the window's French reason and affected parts when the
operator gave them, else the default-language text whole, marked ``lang="en"``.
Rendered by the engine (``render_banner``), the same path a request takes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from maintenance_mode.core import Maintenance
from maintenance_mode.schedule import Banner
from maintenance_mode.state import MaintenanceState, Window

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _engine(flag: Path) -> Maintenance:
    return Maintenance(flag=flag, check_interval=3600, default_locale="en")


def _window(**fields: object) -> Window:
    return Window.model_validate(
        {"start": T0, "end": T0 + timedelta(hours=2), "reason": "Database upgrade", **fields}
    )


def _banner(flag: Path, window: Window, locale: str) -> str:
    return _engine(flag).render_banner(Banner("upcoming", window=window), locale).decode()


def test_french_visitor_gets_the_windows_french_block(flag_path: Path) -> None:
    window = _window(
        affected=["Checkout"],
        translations={"fr": {"reason": "Mise à niveau de la base", "affected": ["Paiement"]}},
    )
    html = _banner(flag_path, window, "fr")
    assert "Mise à niveau de la base" in html
    assert "Paiement" in html
    assert "Database upgrade" not in html
    assert "Checkout" not in html
    assert 'lang="en"' not in html  # nothing in the default language on this banner
    english = _banner(flag_path, window, "en")
    assert "Database upgrade" in english
    assert "Mise à niveau" not in english


def test_missing_french_section_falls_back_whole_and_marked(flag_path: Path) -> None:
    window = _window(
        affected=["Checkout", "Search"], translations={"fr": {"reason": "Mise à jour"}}
    )
    html = _banner(flag_path, window, "fr")
    assert "Mise à jour" in html
    assert re.search(r'<span lang="en">Checkout, Search</span>', html), html
    assert "Database upgrade" not in html  # the reason is French, never both


def test_no_translation_means_default_text_marked(flag_path: Path) -> None:
    html = _banner(flag_path, _window(), "fr")
    assert re.search(r'<span lang="en">Database upgrade\.</span>', html), html


def test_read_only_banner_reason_per_language(flag_path: Path) -> None:
    state = MaintenanceState.model_validate(
        {"reason": "Migrating", "translations": {"fr": {"reason": "Migration en cours"}}}
    )
    m = _engine(flag_path)
    french = m.render_banner(Banner("read_only", state=state), "fr").decode()
    assert "Migration en cours" in french
    assert "Migrating" not in french
    german = m.render_banner(Banner("read_only", state=state), "de").decode()
    assert re.search(r'<p style="margin:0" lang="en">Migrating</p>', german), german
