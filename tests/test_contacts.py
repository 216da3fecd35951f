"""Contacts grouped by purpose (issue 18): urgent, self-service, write to us, social;
no link twice; social links labelled with the network and the handle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from maintenance_mode import MaintenanceState
from maintenance_mode.render import Renderer, contact_groups, social_label
from maintenance_mode.settings import Contacts, Settings
from test_page import Parsed

NOW = datetime.now(UTC).replace(microsecond=0)
STATE = MaintenanceState(kind="planned", reason="Upgrading payments.", started_at=NOW)

CONTACTS: dict[str, Any] = {
    "email": "support@acme.example",
    "phone": "+33 1 23 45 67 89",
    "emergency_phone": "+33 6 00 00 00 00",
    "form": "/contact",
    "status_page": "https://status.acme.example",
    "faq": "/faq",
    "notify": "/notify-me",
    "social": {"X": "https://x.com/acme", "Mastodon": "https://mastodon.example/@acme"},
}
#: The preview's old sample: a "Contact form" link with the same URL as contacts.form.
LINKS = {"FAQ": "/faq/", "Blog": "/blog/", "Contact form": "/contact"}


def render(variant: str, contacts: dict[str, Any], links: dict[str, str]) -> str:
    renderer = Renderer(Settings.from_options({"contacts": contacts, "links": links}))
    page = renderer.page(variant, STATE, overrun=False, locale="en")  # type: ignore[arg-type]
    return page.body.decode("utf-8")


def test_groups_in_order_with_their_items() -> None:
    groups, links = contact_groups(Contacts(**CONTACTS), LINKS)
    kinds = {g["key"]: [i["kind"] for i in g["items"]] for g in groups}
    assert list(kinds) == ["urgent", "self_service", "write", "social"]
    assert kinds == {
        "urgent": ["emergency_phone"],
        "self_service": ["status_page", "faq", "notify"],
        "write": ["form", "email", "phone"],
        "social": ["social", "social"],
    }
    # The FAQ (trailing slash aside) and the contact form are contacts already.
    assert links == [("Blog", "/blog/")]


def test_empty_groups_are_left_out() -> None:
    groups, _links = contact_groups(Contacts(email="a@b.example"), {})
    assert [g["key"] for g in groups] == ["write"]
    assert contact_groups(Contacts(), {"Blog": "/blog/"}) == ([], [("Blog", "/blog/")])


def test_a_link_given_twice_in_contacts_is_shown_once() -> None:
    contacts = Contacts(
        status_page="https://status.acme.example", faq="https://Status.acme.example/"
    )
    groups, _ = contact_groups(contacts, {})
    assert [i["kind"] for g in groups for i in g["items"]] == ["status_page"]


@pytest.mark.parametrize(
    ("label", "href", "expected"),
    [
        pytest.param("X", "https://x.com/acme", "X @acme", id="one letter gets the handle"),
        pytest.param("X", "https://x.com/", "X (x.com)", id="no handle: the host"),
        pytest.param("T", "https://twitter.com/acme", "X @acme", id="network from host"),
        pytest.param(
            "Mastodon",
            "https://mastodon.example/@acme",
            "Mastodon @acme@mastodon.example",
            id="fediverse handle names its server",
        ),
        pytest.param("Acme on GitHub", "https://github.com/acme", "Acme on GitHub", id="kept"),
        pytest.param("LinkedIn", "https://linkedin.com/company/acme", "LinkedIn @acme", id="path"),
    ],
)
def test_social_labels(label: str, href: str, expected: str) -> None:
    assert social_label(label, href) == expected


def test_the_html_page_groups_and_sets_urgent_and_status_apart() -> None:
    body = render("html", CONTACTS, LINKS)
    page = Parsed(body)
    text = page.text
    for heading in ("Need help?", "Urgent", "Find answers yourself", "Write to us", "Follow us"):
        assert heading in text, heading
    assert text.count("Contact form") == 1, "once, not as a link and a contact"
    assert text.index("Urgent") < text.index("Find answers yourself") < text.index("Write to us")
    assert text.index("Write to us") < text.index("Follow us")
    labels = [a for a in ("X @acme", "Mastodon @acme@mastodon.example") if a in text]
    assert len(labels) == 2
    # No tap target reads as one character.
    assert ">X<" not in body
    hrefs = [a["href"] for a in page.attrs("a")]
    assert len(hrefs) == len(set(hrefs)), hrefs
    assert '<div class="contacts contacts-urgent notice">' in body
    standout = [
        attrs for name, attrs in page.tags if name == "li" and attrs.get("class") == "standout"
    ]
    assert len(standout) == 2  # the emergency phone and the status page
    assert '<li class="standout">Emergencies: <a href="tel:+33600000000">' in body
    assert '<li class="standout"><a href="https://status.acme.example">Status page</a>' in body
    assert "Get notified when we are back" in text
    assert "Frequently asked questions" in text


def test_the_text_page_groups_the_same_way() -> None:
    text = render("text", CONTACTS, LINKS)
    help_part = text[text.index("Need help?") :]
    order = ["Urgent:", "Find answers yourself:", "Write to us:", "Follow us:"]
    assert [help_part.index(h) for h in order] == sorted(help_part.index(h) for h in order)
    assert "Emergencies: +33 6 00 00 00 00" in help_part
    assert "X @acme: https://x.com/acme" in help_part
    assert text.count("/contact") == 1
    assert "Still available:\n  Blog: /blog/\n" in text
    assert "FAQ: /faq/" not in text


def test_no_help_section_without_contacts() -> None:
    assert "Need help?" not in render("html", {}, {"Blog": "/blog/"})
    assert "Need help?" not in render("text", {}, {})


def test_the_french_page_translates_the_group_headings() -> None:
    renderer = Renderer(Settings.from_options({"contacts": CONTACTS}))
    page = renderer.page("html", STATE, overrun=False, locale="fr")
    text = Parsed(page.body.decode("utf-8")).text
    assert "Nous écrire" in text
    assert "Questions fréquentes" in text
    assert "Write to us" not in text


def test_the_new_contact_options_are_links_checked_like_the_others() -> None:
    with pytest.raises(ValueError, match="must start with"):
        Settings.from_options({"contacts": {"notify": "javascript:alert(1)"}})
    assert Settings.from_options({"contacts": {"faq": "/help"}}).contacts.faq == "/help"


def test_the_problem_document_keeps_its_contacts() -> None:
    renderer = Renderer(Settings.from_options({"contacts": {"faq": "/help"}}))
    problem = renderer.problem(STATE, overrun=False)
    assert problem["contacts"] == {"faq": "/help"}
