"""Typography per locale (issue 18): French no-break spaces, apostrophes and quotes in
every language, on catalog and operator text alike, never on URLs, e-mails or markup."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance_mode.i18n import NBSP, NNBSP, packaged_locale_dir, typeset, typeset_html
from maintenance_mode.render import Renderer
from maintenance_mode.settings import Settings
from maintenance_mode.state import MaintenanceState, ProgressUpdate


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        pytest.param("fr", "Début: 14:00", f"Début{NBSP}: 14:00", id="fr colon, time kept"),
        pytest.param("fr", "E-mail :", f"E-mail{NBSP}:", id="fr space before colon"),
        pytest.param(
            "fr", "Besoin d'aide ?", f"Besoin d\u2019aide{NNBSP}?", id="fr narrow before ?"
        ),
        pytest.param("fr", "Merci!", f"Merci{NNBSP}!", id="fr inserted before !"),
        pytest.param("fr", "gêne ; page", f"gêne{NNBSP}; page", id="fr narrow before ;"),
        pytest.param("fr", "Vraiment ?!", f"Vraiment{NNBSP}?!", id="fr ?! once"),
        pytest.param("fr", 'dit "oui"', f"dit «{NBSP}oui{NBSP}»", id="fr quotes"),
        pytest.param("fr", "« oui »", f"«{NBSP}oui{NBSP}»", id="fr guillemets spaced"),
        pytest.param(
            "fr",
            "Voir https://ex.fr/?a=1&b=c'd : merci",
            f"Voir https://ex.fr/?a=1&b=c'd{NBSP}: merci",
            id="fr URL untouched",
        ),
        pytest.param(
            "fr",
            "Écrivez à l'aide@ex.fr!",
            "Écrivez à l\u2019aide@ex.fr!",
            id="fr e-mail untouched",
        ),
        pytest.param("fr", "Lancez `a:b ?`", "Lancez `a:b ?`", id="fr code untouched"),
        pytest.param("en", 'It\'s "done"', "It\u2019s “done”", id="en"),
        pytest.param("en", "the 'beta' site", "the \u2018beta\u2019 site", id="en single quotes"),
        pytest.param("en", "Note: ok!", "Note: ok!", id="en no spaces added"),
        pytest.param("de", 'Wir sind "bald" zurück', "Wir sind „bald“ zurück", id="de quotes"),
        pytest.param("de", "geht's?", "geht\u2019s?", id="de apostrophe"),
        pytest.param("es", '¿Qué "pasa"? ¡Nada!', "¿Qué «pasa»? ¡Nada!", id="es"),
        pytest.param("pt_BR", 'It\'s "x"', 'It\'s "x"', id="other languages untouched"),
        pytest.param("fr_CA", "Note:", f"Note{NBSP}:", id="regional French"),
    ],
)
def test_typeset(locale: str, text: str, expected: str) -> None:
    assert typeset(text, locale) == expected
    assert typeset(expected, locale) == expected  # idempotent


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<a href="https://ex.fr/?q=1" title="a:b">Aide:</a>',
            f'<a href="https://ex.fr/?q=1" title="a:b">Aide{NBSP}:</a>',
            id="attributes untouched",
        ),
        pytest.param(
            "<b>Note</b>: l&#39;heure &amp; co",
            f"<b>Note</b>{NBSP}: l\u2019heure &amp; co",
            id="inline tags and entities",
        ),
        pytest.param(
            '<script>if (a!="b") x = 1;</script><style>a:hover { }</style>',
            '<script>if (a!="b") x = 1;</script><style>a:hover { }</style>',
            id="script and style untouched",
        ),
        pytest.param(
            "<p>Voir: https://ex.fr/a</p><p>x@y.fr</p>",
            f"<p>Voir{NBSP}: https://ex.fr/a</p><p>x@y.fr</p>",
            id="URL and e-mail at the end of an element",
        ),
        pytest.param(
            '<p>"x"</p><p>a</p><p>"y"</p>',
            "<p>\u00abx\u00bb</p><p>a</p><p>\u00aby\u00bb</p>".replace(
                "\u00ab", "\u00ab" + NBSP
            ).replace("\u00bb", NBSP + "\u00bb"),
            id="a quote after a tag opens",
        ),
        pytest.param(
            '<p lang="en">Note: it&#x27;s</p><p>Note: l&#x27;heure</p>',
            f'<p lang="en">Note: it\u2019s</p><p>Note{NBSP}: l\u2019heure</p>',
            id="own language per element",
        ),
    ],
)
def test_typeset_html_touches_text_only(html: str, expected: str) -> None:
    assert typeset_html(html, "fr") == expected
    assert typeset_html(expected, "fr") == expected


def test_french_page(tmp_path: Path) -> None:
    renderer = Renderer(
        Settings.from_options(
            {
                "site_name": "Acme",
                "contacts": {"email": "help@acme.example", "form": "https://acme.example/c'est"},
                "links": {"L'aide": "https://acme.example/faq?x=1"},
            }
        )
    )
    now = datetime.now(UTC)
    state = MaintenanceState(
        reason="Mise à jour de l'appli: retour vite!",
        started_at=now - timedelta(hours=1),
        eta=now + timedelta(hours=1),
        updates=(ProgressUpdate(at=now, text="C'est presque fini: patience"),),
    )
    settings_fr = renderer.page("html", state, overrun=False, locale="fr")
    body = settings_fr.body.decode()
    assert f"E-mail{NBSP}: " in body
    assert f"Besoin d\u2019aide{NNBSP}?" in body
    assert 'href="https://acme.example/c&#39;est"' in body  # URLs as given
    assert 'href="https://acme.example/faq?x=1"' in body
    assert 'href="mailto:help@acme.example"' in body
    text_nodes = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]*>", "\n", body, flags=re.S)
    assert "'" not in text_nodes  # no straight apostrophe in prose
    assert "&#39;" not in text_nodes
    assert "l\u2019appli" in body
    assert "C\u2019est presque fini" in body
    text = renderer.page("text", state, overrun=False, locale="fr").body.decode()
    assert f"Durée estimée{NBSP}: " in text  # the template's own colon
    assert not re.search(r"[^\W\d]: ", text)  # no colon without its no-break space
    assert f"E-mail{NBSP}: help@acme.example" in text
    assert "https://acme.example/c'est" in text


@pytest.mark.parametrize("locale", ["fr", "de", "es"])
def test_catalogs_follow_the_rules(locale: str) -> None:
    """Fixed at the source: every translation is already typeset for its language."""
    from babel.messages.pofile import read_po

    path = packaged_locale_dir() / locale / "LC_MESSAGES" / "maintenance_mode.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if not message.id:
            continue  # the header
        value = message.string
        strings = [value] if isinstance(value, str) else list(value or ())
        for string in strings:
            assert "'" not in string, (message.id, string)
            assert typeset(string, locale) == string, (message.id, string)
