"""The operator's texts in every language (issue 18): the flag document's ``translations``,
``control.on/update(lang=...)``, ``maintenance on/update --lang``, link labels per language.

A visitor gets each text in their negotiated language when the operator gave it, else the
default language's, whole: a section is never mixed, and a default-language section on
another language's page carries ``lang="en"``. First through the engine in process, then
the CLI and a real gunicorn over HTTP.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from conftest import Server
from maintenance_mode import Maintenance, MaintenanceState, control, load_state
from maintenance_mode.core import RequestInfo
from maintenance_mode.flask import MaintenanceMode
from maintenance_mode.state import StateFileError

APPS = Path(__file__).parent / "apps"
MAINTENANCE = Path(sys.executable).with_name("maintenance")
NOW = datetime.now(UTC).replace(microsecond=0)


def _answer(engine: Maintenance, language: str | None, accept: str = "text/html") -> Any:
    request = RequestInfo(
        method="GET", path="/", root="", peer="203.0.113.9", accept=accept, accept_language=language
    )
    decision = engine.decide(engine.poll(), request)
    assert decision.response is not None
    return decision.response


def _body(engine: Maintenance, language: str | None, accept: str = "text/html") -> str:
    return str(_answer(engine, language, accept).body.decode())


def _element(body: str, text: str) -> str:
    """The opening tag of the innermost element whose text starts with ``text``."""
    found = re.search(r"<(\w+)([^<>]*)>" + re.escape(text), body)
    assert found is not None, f"{text!r} not in the page"
    return found.group(0)


def _full_state() -> dict[str, Any]:
    """A window in progress with every operator text in English, and one update."""
    start, end = NOW - timedelta(minutes=30), NOW + timedelta(hours=2)
    window = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "reason": "Moving to new servers",
        "message": "Orders placed before the start are safe",
        "affected": ["Checkout", "Accounts"],
        "unaffected": ["Blog"],
    }
    return {
        "started_at": start.isoformat(),
        "eta": end.isoformat(),
        "reason": "Moving to new servers",
        "message": "Orders placed before the start are safe",
        "windows": [window],
        "updates": [{"at": (NOW - timedelta(minutes=5)).isoformat(), "text": "Data copied"}],
        "compensation": "A 10% voucher: SORRY10",
    }


def _engine(doc: dict[str, Any], **options: Any) -> Maintenance:
    state = MaintenanceState.model_validate(doc)
    return Maintenance(flag=lambda: state, **options)


def test_every_field_in_the_visitor_s_language() -> None:
    doc = _full_state()
    at = doc["updates"][0]["at"]
    doc["windows"][0]["translations"] = {
        "fr": {"affected": ["Paiement", "Comptes"], "unaffected": ["Le blog"]}
    }
    doc["translations"] = {
        "fr": {
            "reason": "Migration vers de nouveaux serveurs",
            "message": "Les commandes passées avant le début sont sauvegardées",
            "updates": {at: "Données copiées"},
            "compensation": "Un bon de 10 % : SORRY10",
        }
    }
    engine = _engine(doc)
    french = _body(engine, "fr-FR,fr;q=0.9")
    for text in (
        "Migration vers de nouveaux serveurs",
        "Les commandes passées avant le début sont sauvegardées",
        "Paiement",
        "Comptes",
        "Le blog",
        "Données copiées",
        "Un bon de 10",
    ):
        assert 'lang="en"' not in _element(french, text), text
    for english in ("Moving to new servers", "Orders placed", "Checkout", "Data copied", "voucher"):
        assert english not in french
    assert 'lang="en"' not in french.split("</head>")[1]  # nothing on it falls back
    # An English visitor reads the default texts, unmarked.
    english_page = _body(engine, "en")
    assert "Moving to new servers" in english_page
    assert "Migration" not in english_page
    assert 'lang="en"' not in _element(english_page, "Moving to new servers")


def test_a_missing_translation_falls_back_whole_and_is_marked() -> None:
    doc = _full_state()
    doc["translations"] = {"fr": {"reason": "Migration vers de nouveaux serveurs"}}
    french = _body(_engine(doc), "fr")
    assert '<html lang="fr"' in french
    assert 'lang="en"' not in _element(french, "Migration vers de nouveaux serveurs")
    # No French message: the English one, whole, inside an element that says it is English.
    assert 'lang="en"' in _element(french, "Orders placed before the start are safe")
    assert 'lang="en"' in _element(french, "Checkout")  # the list falls back as one
    assert 'lang="en"' in _element(french, "Data copied")
    # The German page has no German text at all: every operator section is marked English.
    german = _body(_engine(doc), "de")
    for text in ("Moving to new servers", "Orders placed", "Checkout", "Blog", "Data copied"):
        assert 'lang="en"' in _element(german, text), text


def test_the_problem_json_and_the_text_page_follow_the_language() -> None:
    doc = _full_state()
    at = doc["updates"][0]["at"]
    doc["translations"] = {"fr": {"reason": "Migration", "updates": {at: "Données copiées"}}}
    engine = _engine(doc)
    problem = _answer(engine, "fr", "application/json")
    data = json.loads(problem.body)
    assert data["detail"] == data["reason"] == "Migration"
    assert data["message"] == "Orders placed before the start are safe"  # no French: default
    assert [u["text"] for u in data["updates"]] == ["Données copiées"]
    assert dict(problem.headers)["Content-Language"] == "fr"
    # Spanish: no Spanish reason, so ``detail`` is the English one, and says so.
    spanish = _answer(engine, "es", "application/json")
    assert json.loads(spanish.body)["detail"] == "Moving to new servers"
    assert dict(spanish.headers)["Content-Language"] == "en"
    text = _body(engine, "fr", "text/plain")
    assert "Migration" in text
    assert "Données copiées" in text
    assert "Moving to new servers" not in text


def test_region_falls_back_to_the_language_and_tags_are_normalised() -> None:
    doc = _full_state()
    doc["translations"] = {"FR": {"reason": "Migration"}, "pt-br": {"reason": "Migração"}}
    state = MaintenanceState.model_validate(doc)
    assert set(state.translations) == {"fr", "pt_BR"}
    assert "Migration" in _body(_engine(doc), "fr-CA, fr;q=0.8")


@pytest.mark.parametrize(
    ("translations", "message"),
    [
        ({"klingon-xx-yy": {"reason": "x"}}, "is not a language tag Babel knows"),
        ({"fr": {"reasons": "x"}}, "translations.fr.reasons: Extra inputs"),
        ({"fr": {}, "FR": {}}, "names the same language"),
        ({f"l{i}": {} for i in range(17)}, "at most 16 languages"),
        ({"fr": {"reason": "x" * 4001}}, "translations.fr.reason"),
    ],
)
def test_bad_translations_are_one_line(translations: dict[str, Any], message: str) -> None:
    with pytest.raises(StateFileError, match=re.escape(message)) as info:
        load_state(json.dumps({"translations": translations}))
    assert "\n" not in str(info.value)


def test_link_labels_per_language() -> None:
    engine = _engine(
        _full_state(),
        links={
            "Help centre": {"href": "/help", "labels": {"fr": "Centre d'aide"}},
            "Blog": "/blog",
        },
    )
    french = _body(engine, "fr")
    assert 'lang="en"' not in _element(french, "Centre d")
    assert 'lang="en"' in _element(french, "Blog")  # no French label: marked English
    assert "Help centre" not in french
    assert "Help centre" in _body(engine, "en")
    problem = json.loads(_answer(engine, "fr", "application/json").body)
    assert {"label": "Centre d'aide", "href": "/help"} in problem["links"]
    with pytest.raises(ValueError, match="not a language tag"):
        Maintenance(flag=lambda: True, links={"Help": {"href": "/h", "labels": {"??": "x"}}})


def test_control_writes_a_language_beside_the_default(flag_path: Path) -> None:
    control.on(flag_path, reason="Database upgrade", message="Back soon")
    control.on(flag_path, lang="fr-FR", reason="Mise à niveau")
    control.on(flag_path, translations={"de": {"reason": "Aktualisierung", "message": "Bald"}})
    state = load_state(flag_path.read_bytes())
    assert state.reason == "Database upgrade"  # the default language's text is untouched
    assert state.translations["fr_FR"].reason == "Mise à niveau"
    assert state.translations["de"].message == "Bald"
    # A new default text makes the old translations stale: dropped, with a warning.
    change = control.on(flag_path, reason="Disk replacement")
    assert any("dropped the reason in de, fr_FR" in w for w in change.warnings)
    state = load_state(flag_path.read_bytes())
    assert state.translations["fr_FR"].reason is None
    assert state.translations["de"].message == "Bald"  # the message did not change
    with pytest.raises(control.InvalidChange, match="give the text in that language"):
        control.on(flag_path, lang="fr")
    with pytest.raises(control.InvalidChange, match="lang: 'zz-!!'"):
        control.on(flag_path, lang="zz-!!", reason="x")


def test_control_update_translates_the_latest_note(flag_path: Path) -> None:
    control.on(flag_path, reason="Upgrade")
    with pytest.raises(control.InvalidChange, match="no update to translate yet"):
        control.update(flag_path, "Base migrée", lang="fr")
    control.update(flag_path, "Database migrated", now=NOW)
    control.update(flag_path, "Base migrée", lang="fr", now=NOW + timedelta(minutes=1))
    control.update(
        flag_path, "Restarting", translations={"fr": "Redémarrage"}, now=NOW + timedelta(minutes=2)
    )
    state = load_state(flag_path.read_bytes())
    assert [u.text for u in state.updates] == ["Database migrated", "Restarting"]
    assert state.translations["fr"].updates == {
        NOW: "Base migrée",
        NOW + timedelta(minutes=2): "Redémarrage",
    }


def _cli(flag: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAINTENANCE), "--file", str(flag), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_round_trip_served_by_a_real_server(
    run_server: Callable[..., Server], flag_path: Path
) -> None:
    for args in (
        ("on", "--reason", "Database upgrade", "--message", "Back soon"),
        ("on", "--lang", "fr", "--reason", "Mise à niveau de la base"),
        ("update", "Tables copied"),
        ("update", "--lang", "fr", "Tables copiées"),
    ):
        done = _cli(flag_path, *args)
        assert done.returncode == 0, done.stderr
    status = _cli(flag_path, "status")
    assert "languages: default, fr" in status.stdout
    bad = _cli(flag_path, "on", "--lang", "nope-nope-nope", "--reason", "x")
    assert bad.returncode == 2
    assert bad.stderr.startswith("maintenance on: error: argument --lang: 'nope-nope-nope' is not")
    assert len(bad.stderr.splitlines()) == 1
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = run_server(
        lambda port: [gunicorn, "-w", "1", "-b", f"127.0.0.1:{port}", "wait_app:app"],
        env={"MAINTENANCE_FILE": str(flag_path), "MAINTENANCE_REDIS": ""},
        cwd=APPS,
    )
    page = server.http.get(server.base, headers={"Accept": "text/html", "Accept-Language": "fr"})
    assert page.status_code == 503
    assert page.headers["content-language"] == "fr"
    assert "Mise à niveau de la base" in page.text
    assert "Tables copiées" in page.text
    assert 'lang="en"' in _element(page.text, "Back soon")  # no French message
    english = server.http.get(server.base, headers={"Accept": "text/html"})
    assert "Database upgrade" in english.text
    assert "Tables copied" in english.text
    problem = server.http.get(server.base, headers={"Accept-Language": "fr"})
    assert problem.json()["detail"] == "Mise à niveau de la base"


def test_flask_group_takes_lang(flag_path: Path) -> None:
    app = Flask("shop")
    app.config["MAINTENANCE_MODE"] = {"flag": str(flag_path)}
    MaintenanceMode(app)
    runner = app.test_cli_runner()
    for args in (["on", "--reason", "Upgrade"], ["on", "--lang", "es", "--reason", "Mejora"]):
        result = runner.invoke(args=["maintenance", *args])
        assert result.exit_code == 0, result.output
    state = load_state(flag_path.read_bytes())
    assert (state.reason, state.translations["es"].reason) == ("Upgrade", "Mejora")
    bad = runner.invoke(args=["maintenance", "on", "--lang", "??", "--reason", "x"])
    assert bad.exit_code != 0
    assert "Traceback" not in bad.output
    assert "is not a language tag" in bad.output


def test_a_window_s_translations_reach_the_page_when_it_starts() -> None:
    window = {
        "start": (NOW - timedelta(minutes=10)).isoformat(),
        "end": (NOW + timedelta(hours=2)).isoformat(),
        "reason": "Upgrade",
        "affected": ["Search"],
        "translations": {"fr": {"reason": "Mise à niveau", "affected": ["Recherche"]}},
    }
    engine = _engine({"windows": [window]})  # no started_at: the window starts by itself
    french = _body(engine, "fr")
    assert "Mise à niveau" in french
    assert "Recherche" in french
    assert "Upgrade" not in french
    assert "Search" not in french
    assert "Upgrade" in _body(engine, "en")


def test_typography_follows_each_section_s_language() -> None:
    state = MaintenanceState(
        reason="Upgrade", message="Back soon!", translations={"fr": {"reason": "Mise à jour !"}}
    )
    french = _body(Maintenance(flag=lambda: state), "fr")
    assert '<p class="reason">Mise à jour\u202f!</p>' in french  # French spacing
    assert '<p lang="en">Back soon!</p>' in french  # the English fallback keeps English
