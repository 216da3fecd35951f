"""Languages: complete catalogs, Accept-Language negotiation, Babel formatting, locale_dir.

The catalogs are checked against the strings the templates and ``i18n.py`` really
use (extracted with Babel, like ``pybabel extract``). After changing a translatable
string, regenerate the template and merge it into every catalog with

    MAINTENANCE_UPDATE_CATALOGS=1 .venv/bin/python -m pytest tests/test_i18n.py

then translate the new entries (they are left empty, so the test fails until then).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from gettext import NullTranslations
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from maintenance_mode import Maintenance, MaintenanceState
from maintenance_mode.asgi import MaintenanceMiddleware
from maintenance_mode.core import RequestInfo
from maintenance_mode.i18n import Formatter, load_catalogs, negotiate_language
from maintenance_mode.state import ETARange

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "maintenance_mode" / "locale"
POT = LOCALE / "maintenance_mode.pot"
SHIPPED = ("de", "es", "fr")
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PARIS_NY = (ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"))
#: Babel (CLDR) puts thin and narrow no-break spaces and en dashes in times and ranges.
SPACES = str.maketrans({"\u2009": " ", "\u202f": " ", "\u00a0": " ", "\u2013": "-"})


def extract() -> Catalog:
    """Every translatable string of the templates and of i18n.py (as pybabel extract does)."""
    catalog = Catalog(project="maintenance-mode", domain="maintenance_mode", charset="utf-8")
    options = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
    options |= {"trim_blocks": "true", "lstrip_blocks": "true"}
    keywords: dict[str, Any] = {"_": None, "gettext": None, "ngettext": (1, 2)}
    for template in sorted((ROOT / "templates").iterdir()):
        if template.suffix not in (".html", ".txt"):
            continue
        for lineno, message, comments, context in extract_from_file(
            babel_extract, template, keywords=keywords, options=options
        ):
            catalog.add(
                message,
                locations=[(f"templates/{template.name}", lineno)],
                auto_comments=comments,
                context=context,
            )
    source = ROOT / "src" / "maintenance_mode" / "i18n.py"
    for lineno, message, _comments, context in extract_from_file(
        "python", source, keywords={"N_": None}
    ):
        catalog.add(message, locations=[("src/maintenance_mode/i18n.py", lineno)], context=context)
    return catalog


def _read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    catalog = extract()
    if os.environ.get("MAINTENANCE_UPDATE_CATALOGS"):
        with POT.open("wb") as fh:
            write_po(fh, catalog, width=88)
        for lang in SHIPPED:
            path = LOCALE / lang / "LC_MESSAGES" / "maintenance_mode.po"
            existing = _read(path)
            existing.update(catalog, no_fuzzy_matching=True)
            existing.obsolete.clear()
            with path.open("wb") as fh:
                write_po(fh, existing, width=88)
    return catalog


def _ids(catalog: Catalog) -> set[Any]:
    return {message.id for message in catalog if message.id}


def test_the_template_catalog_is_up_to_date(extracted: Catalog) -> None:
    assert _ids(_read(POT)) == _ids(extracted), "run with MAINTENANCE_UPDATE_CATALOGS=1"
    assert len(_ids(extracted)) > 30


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_string_is_translated(extracted: Catalog, lang: str) -> None:
    catalog = _read(LOCALE / lang / "LC_MESSAGES" / "maintenance_mode.po")
    assert _ids(catalog) == _ids(extracted)
    # Plural messages have a tuple of ids and of strings: every form must be translated.
    untranslated = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else (m.string,)))
    ]
    assert untranslated == []
    assert not catalog.obsolete
    for message in catalog:  # no copy-paste of the English left behind (except pure patterns)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, text in zip(ids, strings, strict=False):
            if msgid and any(ch.isalpha() for ch in msgid.replace("%(", "").split(")s")[-1]):
                assert text != msgid or msgid in {"E-mail:"}, msgid


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, "en", id="no header: default"),
        pytest.param("", "en", id="empty"),
        pytest.param("fr", "fr", id="exact"),
        pytest.param("fr-CA,fr;q=0.9,en;q=0.8", "fr", id="region falls back to language"),
        pytest.param("de-AT", "de", id="de-AT"),
        pytest.param("pt-BR, es;q=0.5", "es", id="first offered wins"),
        pytest.param("en;q=0.2, es;q=0.9", "es", id="quality order"),
        pytest.param("es;q=0, fr;q=0.1", "fr", id="q=0 is refused"),
        pytest.param("*", "en", id="wildcard: default"),
        pytest.param("zh-Hant-TW", "en", id="not offered"),
        pytest.param("x" * 600, "en", id="huge header"),
        pytest.param(";;;,,,q=", "en", id="junk"),
        pytest.param("FR-fr", "fr", id="case"),
    ],
)
def test_negotiation(header: str | None, expected: str) -> None:
    assert negotiate_language(header, ("de", "en", "es", "fr"), "en") == expected


def test_configured_default_and_restriction() -> None:
    catalogs = load_catalogs(default="fr", only=["fr", "de"])
    assert catalogs.available == ("fr", "de")
    assert catalogs.negotiate("es, en") == "fr"
    assert catalogs.negotiate("de") == "de"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"default_locale": "it"}, "default locale 'it' is not among", id="default"),
        pytest.param({"locales": ["fr", "xx"]}, "'xx' is not a locale", id="unknown locale"),
        pytest.param({"locales": ["it"]}, "no catalog for 'it'", id="no catalog"),
        pytest.param({"time_zones": ["Mars/Olympus"]}, "not an IANA time zone", id="zone"),
        pytest.param({"locale_dir": "/nonexistent"}, "is not a directory", id="locale_dir"),
    ],
)
def test_language_options_fail_at_start_up(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^maintenance-mode: ") as info:
        Maintenance(flag=lambda: True, **options)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("locale", "moment", "span", "duration"),
    [
        pytest.param(
            "en",
            "Fri, November 27, 2:00 PM Paris time (8:00 AM New York time)",
            "Fri, November 27, 10:00 AM - 2:00 PM Paris time (4:00 - 8:00 AM New York time)",
            "4 to 6 hours",
            id="en",
        ),
        pytest.param(
            "fr",
            "ven. 27 novembre, 14:00 heure de Paris (08:00 heure de New York)",
            "ven. 27 novembre, 10:00 - 14:00 heure de Paris (04:00 - 08:00 heure de New York)",
            "4 à 6 heures",
            id="fr",
        ),
        pytest.param(
            "es",
            "vie, 27 de noviembre, 14:00, hora de París (8:00, hora de Nueva York)",
            "vie, 27 de noviembre, 10:00-14:00, hora de París (4:00-8:00, hora de Nueva York)",
            "de 4 a 6 horas",
            id="es",
        ),
        pytest.param(
            "de",
            "Fr., 27. November, 14:00 Ortszeit Paris (08:00 Ortszeit New York)",
            "Fr., 27. November, 10:00-14:00 Uhr Ortszeit Paris (04:00-08:00 Uhr Ortszeit New York)",
            "4 bis 6 Stunden",
            id="de",
        ),
    ],
)
def test_times_in_the_configured_zones(locale: str, moment: str, span: str, duration: str) -> None:
    catalogs = load_catalogs(default="en")
    fmt = Formatter(locale, PARIS_NY, catalogs.translations[locale], now=T0)
    end = T0 + timedelta(hours=4)
    assert fmt.moment(end).translate(SPACES) == moment
    assert fmt.span(T0, end).translate(SPACES) == span
    assert fmt.duration(timedelta(hours=4), timedelta(hours=6)).translate(SPACES) == duration


def test_formatting_details() -> None:
    fmt = Formatter("en", (), NullTranslations(), now=T0)
    assert fmt.zones == (ZoneInfo("UTC"),)
    assert fmt.moment(T0).translate(SPACES) == "Fri, November 27, 9:00 AM UTC"
    tokyo = Formatter("en", (ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo")), NullTranslations(), now=T0)
    late = T0 + timedelta(hours=16)  # 01:00 UTC next day; Tokyo is on another date
    assert tokyo.moment(late - timedelta(hours=2)).translate(SPACES) == (
        "Fri, November 27, 11:00 PM UTC (Sat, November 28, 8:00 AM Tokyo time)"
    )
    assert "2027" in fmt.moment(T0 + timedelta(days=60)), "a date in another year shows it"
    assert fmt.duration(timedelta(minutes=42)) == "45 minutes"  # estimates round up
    assert fmt.duration(timedelta(minutes=20), timedelta(minutes=50)) == "20 to 50 minutes"
    assert fmt.duration(timedelta(hours=3, minutes=10)) == "3.5 hours"
    assert fmt.duration(timedelta(days=2), timedelta(days=3)) == "2 to 3 days"
    assert fmt.duration(timedelta(seconds=5)) == "5 minutes"


def _write_po(path: Path, lang: str, entries: dict[str, str]) -> None:
    catalog = Catalog(locale=lang, domain="maintenance_mode")
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog)


def _page(engine: Maintenance, language: str | None, accept: str = "text/html") -> Any:
    request = RequestInfo(
        method="GET",
        path="/",
        root="",
        peer="203.0.113.9",
        accept=accept,
        accept_language=language,
    )
    decision = engine.decide(engine.poll(), request)
    assert decision.response is not None
    return decision.response


def test_locale_dir_adds_a_language_and_overrides_strings(tmp_path: Path) -> None:
    _write_po(
        tmp_path / "it" / "LC_MESSAGES" / "maintenance_mode.po",
        "it",
        {
            "%(site)s is down for planned maintenance": "%(site)s è in manutenzione programmata",
            "%(city)s time": "ora di %(city)s",
        },
    )
    _write_po(
        tmp_path / "fr" / "LC_MESSAGES" / "maintenance_mode.po",
        "fr",
        {"Need help?": "Une question\u00a0?"},
    )
    state = MaintenanceState(started_at=T0, eta=T0 + timedelta(hours=4))
    engine = Maintenance(
        flag=lambda: state,
        locale_dir=tmp_path,
        site_name="Acme",
        time_zones=["Europe/Rome"],
        contacts={"email": "help@acme.example"},
    )
    italian = _page(engine, "it-IT,it;q=0.9")
    body = italian.body.decode()
    assert "Acme è in manutenzione programmata" in body
    assert "ora di Roma" in body
    assert "Need help?" in body  # untranslated strings fall back to English
    assert dict(italian.headers)["Content-Language"] == "it"
    assert '<html lang="it"' in body
    french = _page(engine, "fr").body.decode()
    assert "Une question\u202f?" in french  # the override, typeset (narrow no-break space)
    assert "Acme est en maintenance planifiée" in french  # the rest of the shipped catalog


def test_a_catalog_that_would_fail_at_render_time_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fr" / "LC_MESSAGES" / "maintenance_mode.po"
    _write_po(path, "fr", {"%(site)s is down for maintenance": "%(sitename)s en maintenance"})
    with pytest.raises(ValueError, match=r"maintenance_mode\.po.*does not format") as info:
        Maintenance(flag=lambda: True, locale_dir=tmp_path)
    assert "sitename" in str(info.value)
    _write_po(path, "fr", {"This site is down for maintenance": "100 % en maintenance"})
    with pytest.raises(ValueError, match="write a literal % as %%"):
        Maintenance(flag=lambda: True, locale_dir=tmp_path)


def test_every_form_follows_accept_language_through_the_asgi_adapter() -> None:
    state = MaintenanceState(kind="unplanned", eta=ETARange(earliest=T0, latest=T0))

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("maintenance is on")

    app = MaintenanceMiddleware(inner, flag=lambda: state, site_name="Acme")

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [
                await client.get("/", headers={"Accept": accept, "Accept-Language": "de, en;q=.5"})
                for accept in ("text/html", "application/problem+json", "text/plain")
            ] + [await client.get("/", headers={"Accept": "application/json"})]

    html, problem, text, english = asyncio.run(go())
    for response in (html, problem, text):
        assert response.status_code == 503
        assert response.headers["content-language"] == "de"
        assert response.headers["vary"] == "Accept, Accept-Language"
    assert "Es tut uns leid: Acme ist gerade nicht erreichbar" in html.text
    assert "Es tut uns leid" in text.text
    doc = problem.json()
    assert doc["detail"] == "Der Dienst ist wegen Wartungsarbeiten nicht erreichbar."
    assert doc["title"] == "Service Unavailable"  # machine-stable fields stay English
    assert doc["kind"] == "unplanned"
    assert english.json()["detail"] == "The service is down for maintenance."
    assert english.headers["content-language"] == "en"


def test_pages_are_rendered_once_per_state_form_and_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Maintenance(flag=lambda: MaintenanceState(reason="Disk swap"))
    renders: list[tuple[Any, ...]] = []
    real = engine._renderer.page

    def counting(variant: Any, state: Any, **kwargs: Any) -> Any:
        renders.append((variant, kwargs["locale"]))
        return real(variant, state, **kwargs)

    monkeypatch.setattr(engine._renderer, "page", counting)
    for _ in range(3):
        for language in ("fr", "fr-CA", "de", None, "en-GB", "it"):
            for accept in ("text/html", "text/plain"):
                _page(engine, language, accept)
    assert sorted(renders) == sorted(
        (variant, locale) for variant in ("html", "text") for locale in ("fr", "de", "en")
    )
