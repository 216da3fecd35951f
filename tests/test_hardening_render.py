"""Hostile operator texts in a real flag file render as text, and never reach a header.

Each text goes into ``reason``, ``message`` and an update of a flag file written to
disk as JSON, then every form of the 503 is fetched through both adapters
(``httpx.ASGITransport`` into the ASGI middleware; the WSGI middleware under
``wsgiref.validate.validator``, whose warnings are errors here):

* HTML: the text is there as escaped text (an HTML parser gives it back
  verbatim), the page has exactly the elements of a page with a benign text,
  template and format syntax is not evaluated;
* ``application/problem+json``: valid JSON whose members hold the text exactly;
* ``text/plain``: the text verbatim;
* headers: exactly the headers of a page with a benign reason (only
  Content-Length may differ), with no CR/LF anywhere;
* Content-Length equals the body length in every form, and HEAD sends the GET
  length with an empty body. Never a 500.

Then: documents that cannot be used give the default page; a hostile
``Accept-Language`` only picks a language; link schemes are checked at start-up;
and the CSP must not allow a script that came in through operator text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
import pytest

from conftest import BROWSER_ACCEPT
from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.i18n import typeset
from maintenance_mode.settings import Settings
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

HOSTILE = [
    pytest.param('<script>alert("x")</script>', id="script tag"),
    pytest.param('"><img src=x onerror=alert(1)>', id="attribute breakout"),
    pytest.param("</title></p><svg onload=alert(1)>", id="closing tags then svg"),
    pytest.param("<!-- x --><![CDATA[ y ]]><?php z ?>", id="comments and CDATA"),
    pytest.param("&lt;already escaped&gt; &amp; &#60;b&#62;", id="entities"),
    pytest.param("{{ 7*191 }}", id="jinja expression"),
    pytest.param("{% for x in range(3) %}LOOP{% endfor %}", id="jinja statement"),
    pytest.param("{{ self.__init__.__globals__ }}{{ config }}", id="jinja sandbox escape"),
    pytest.param("{0.__class__.__mro__} {reason} {}", id="str.format fields"),
    pytest.param("%s %d %(x)s %%", id="printf format"),
    pytest.param("${7*191} #{7*191} $reason", id="other template syntaxes"),
    pytest.param(
        "line one\r\nSet-Cookie: pwned=1\r\n\r\n<h1>body</h1>", id="CR LF header injection"
    ),
    pytest.param("Retry-After: 0\rLocation: https://evil.example/", id="bare CR"),
    pytest.param("A" * 4000, id="4000 characters (the maximum)"),
    pytest.param("\u202egnp.exe\u202c and \u200f\u05de\u200e", id="RTL override and marks"),
    pytest.param(
        "\U0001f525 down \U0001f4a5 \U0001f469\u200d\U0001f469\u200d\U0001f467", id="emoji"
    ),
    pytest.param("a\x00b\x01c\x7f", id="NUL and control characters"),
    pytest.param("\u2028\u2029 line separators", id="Unicode line separators"),
    pytest.param('"}], "injected": true, "x": [{"', id="JSON breakout"),
    pytest.param("</script><script>alert(1)</script>", id="script end tag"),
    pytest.param("Content-Type: text/html; charset=utf-7 +ADw-script+AD4-", id="UTF-7 and header"),
    pytest.param("\\u003cscript\\u003e \\\\ \\", id="backslash escapes"),
]


def state_document(text: str) -> dict[str, Any]:
    return {
        "reason": text,
        "message": text,
        "updates": [{"at": AT.isoformat(), "text": text}],
    }


def write_flag(path: Path, document: dict[str, Any] | str) -> None:
    """Write the flag file as an operator's tool would: JSON, temp file, rename."""
    data = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(data, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def get(self, name: str) -> list[str]:
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == name.lower().encode()]


ACCEPTS = {
    "html": "text/html",
    "json": "application/problem+json",
    "text": "text/plain",
}


def fetch_asgi(
    flag: Path, requests: Iterable[tuple[str, str]], extra: dict[str, str] | None = None
) -> list[Reply]:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run while maintenance is on")

    app = ASGIMaintenance(inner, flag=flag)

    async def go() -> list[Reply]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            replies = []
            for method, accept in requests:
                headers = [(b"Accept", accept.encode())]
                headers += [(k.encode(), v.encode("latin-1")) for k, v in (extra or {}).items()]
                r = await c.request(method, "/checkout", headers=headers)
                replies.append(Reply(r.status_code, list(r.headers.raw), r.content))
            return replies

    return asyncio.run(go())


def fetch_wsgi(
    flag: Path, requests: Iterable[tuple[str, str]], extra: dict[str, str] | None = None
) -> list[Reply]:
    def inner(environ: Any, start_response: Any) -> Any:
        raise AssertionError("the app must not run while maintenance is on")

    app = validator(WSGIMaintenance(inner, flag=flag))
    replies = []
    for method, accept in requests:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": "/checkout",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "HTTP_ACCEPT": accept,
        }
        for name, value in (extra or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        setup_testing_defaults(environ)
        seen: dict[str, Any] = {}

        def start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: Any = None,
            seen: dict[str, Any] = seen,
        ) -> Any:
            seen["status"], seen["headers"] = status, headers
            return lambda data: None

        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in seen["headers"]]
        replies.append(Reply(int(seen["status"].split()[0]), headers, body))
    return replies


FETCHERS: dict[str, Callable[..., list[Reply]]] = {
    "asgi": fetch_asgi,
    "wsgi": fetch_wsgi,
}

REQUESTS = [
    ("GET", ACCEPTS["html"]),
    ("GET", ACCEPTS["json"]),
    ("GET", ACCEPTS["text"]),
    ("HEAD", ACCEPTS["html"]),
    ("HEAD", ACCEPTS["json"]),
    ("GET", "*/*"),
]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags_of(body: bytes) -> list[str]:
    parser = _Text()
    parser.feed(body.decode("utf-8"))
    parser.close()
    return parser.tags


def check_headers_and_lengths(replies: list[Reply], baseline: list[Reply]) -> None:
    for reply, base in zip(replies, baseline, strict=True):
        assert reply.status == 503, reply.status
        for name, value in reply.headers:
            assert b"\r" not in value
            assert b"\n" not in value
            assert b"\x00" not in value
            assert name.isascii(), name
            assert value.isascii(), (name, value)
        # Only Content-Length may change with the text: no operator text in any header.
        strip = [(k.lower(), v) for k, v in reply.headers if k.lower() != b"content-length"]
        base_strip = [(k.lower(), v) for k, v in base.headers if k.lower() != b"content-length"]
        assert strip == base_strip
        (_length,) = reply.get("Content-Length")
    get_html, get_json, get_text, head_html, head_json, get_any = replies
    for reply in (get_html, get_json, get_text, get_any):
        assert reply.get("Content-Length") == [str(len(reply.body))]
    assert head_html.body == b""
    assert head_json.body == b""
    assert head_html.get("Content-Length") == get_html.get("Content-Length")
    assert head_json.get("Content-Length") == get_json.get("Content-Length")
    assert get_any.body == get_json.body  # */* (curl, fetch) gets problem+json, not the page


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Reply]]:
    flag = tmp_path_factory.mktemp("render") / "benign.json"
    write_flag(flag, state_document("Benign reason"))
    return {name: fetch(flag, REQUESTS) for name, fetch in FETCHERS.items()}


@pytest.mark.parametrize("adapter", list(FETCHERS))
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_renders_as_text(
    flag_path: Path, baseline: dict[str, list[Reply]], adapter: str, text: str
) -> None:
    write_flag(flag_path, state_document(text))
    replies = FETCHERS[adapter](flag_path, REQUESTS)
    check_headers_and_lengths(replies, baseline[adapter])
    shown = text.strip()  # the document's strings are stripped of surrounding whitespace
    get_html, get_json, get_text = replies[:3]

    assert get_html.get("Content-Type") == ["text/html; charset=utf-8"]
    page = get_html.body.decode("utf-8")
    parser = _Text()
    parser.feed(page)
    parser.close()
    # The same tags, in the same order, as the benign page: the text added no element.
    assert parser.tags == tags_of(baseline[adapter][0].body)
    assert not any(name.startswith("on") for name, _ in parser.attrs)
    visible = "".join(parser.text)
    # Shown as text, with the page's typography (typographic quotes: issue 18) only.
    assert visible.count(typeset(shown, "en")) >= 3, "reason, message and the update show it"
    benign = baseline[adapter][0].body.decode("utf-8")
    for marker in ("<script", "<img", "<svg", "<h1>body"):
        assert page.count(marker) == benign.count(marker), marker  # only in escaped form
    assert "1337" not in page
    assert "LOOPLOOP" not in page
    assert "__mro__" not in text or "{0.__class__.__mro__}" in visible  # nor str.format

    assert get_json.get("Content-Type") == ["application/problem+json"]
    doc = json.loads(get_json.body)
    assert (doc["reason"], doc["message"], doc["detail"]) == (shown, shown, shown)
    assert doc["updates"] == [{"at": "2026-11-27T10:00:00Z", "text": shown}]
    assert "injected" not in doc
    assert doc["status"] == 503

    assert get_text.get("Content-Type") == ["text/plain; charset=utf-8"]
    assert get_text.body.decode("utf-8").count(typeset(shown, "en")) == 3
    assert get_text.get("X-Content-Type-Options") == ["nosniff"]


@pytest.mark.parametrize("adapter", list(FETCHERS))
@pytest.mark.parametrize(
    ("document", "leaked"),
    [
        pytest.param(state_document("B" * 4001), "B" * 4001, id="4001 characters: too long"),
        pytest.param(
            {"reason": "C" * 4000, "updates": [{"at": AT.isoformat(), "text": "C" * 4000}] * 20},
            "C" * 4000,
            id="larger than 64 KiB",
        ),
        pytest.param('{"reason": "\\ud800 lone surrogate"}', "lone surrogate", id="lone surrogate"),
        pytest.param('{"reason": "<b>x</b>", "reason2": 1}', "<b>x</b>", id="unknown field"),
        pytest.param('{"reason": ["<script>"]}', "<script>", id="reason that is not a string"),
        pytest.param("<script>alert(1)</script>", "<script>", id="not JSON at all"),
    ],
)
def test_unusable_documents_give_the_default_page(
    flag_path: Path,
    baseline: dict[str, list[Reply]],
    adapter: str,
    document: dict[str, Any] | str,
    leaked: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_flag(flag_path, document)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        replies = FETCHERS[adapter](flag_path, REQUESTS)
    check_headers_and_lengths(replies, baseline[adapter])
    for reply in replies:
        assert leaked.encode() not in reply.body
    assert json.loads(replies[1].body)["detail"] == "The service is down for maintenance."
    assert any("maintenance is ON with default" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("JavaScript:alert(1)", id="javascript mixed case"),
        pytest.param(" javascript:alert(1)", id="javascript after a blank"),
        pytest.param("java\tscript:alert(1)", id="javascript with a tab"),
        pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
        pytest.param("vbscript:msgbox(1)", id="vbscript"),
        pytest.param("http://example.com/", id="plain http"),
        pytest.param("//evil.example/", id="protocol-relative"),
        pytest.param("/\\evil.example/", id="slash backslash"),
        pytest.param("https://example.com/\r\nX: y", id="CR LF"),
        pytest.param("https://example.com/\x00", id="NUL"),
        pytest.param("ftp://example.com/", id="ftp"),
    ],
)
def test_link_schemes_are_refused_at_start_up(href: str) -> None:
    with pytest.raises(ValueError, match="link"):
        Settings.from_options({"links": {"Status": href}})


def test_link_labels_are_escaped(flag_path: Path) -> None:
    write_flag(flag_path, "")
    label = '<img src=x onerror=alert(1)>"'
    app = ASGIMaintenance(
        lambda *a: None, flag=flag_path, links={label: 'https://example.com/?a=<b>&c="d"'}
    )

    async def go() -> bytes:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.get("/", headers={"Accept": BROWSER_ACCEPT})).content

    page = asyncio.run(go()).decode()
    assert "<img" not in page
    parser = _Text()
    parser.feed(page)
    assert ("href", 'https://example.com/?a=<b>&c="d"') in parser.attrs  # one attribute, intact
    assert typeset(label, "en") in "".join(parser.text)  # with typographic quotes


def test_csp_never_allows_a_script_from_operator_text(flag_path: Path, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "maintenance.html").write_text(
        '{% extends "default/maintenance.html" %}'
        "{% block reason %}<p>{{ reason|safe }}</p>{% endblock %}"
    )
    write_flag(flag_path, {"reason": "<script>alert(1)</script>"})
    app = ASGIMaintenance(lambda *a: None, flag=flag_path, template_dir=templates)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/", headers={"Accept": "text/html"})

    response = asyncio.run(go())
    assert response.status_code == 503
    assert "<script>alert(1)</script>" in response.text  # the designer let it through...
    digest = base64.b64encode(hashlib.sha256(b"alert(1)").digest()).decode()
    assert digest not in response.headers["content-security-policy"]  # ...the CSP must not


LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@pytest.mark.parametrize("adapter", list(FETCHERS))
@pytest.mark.parametrize(
    "accept_language",
    [
        pytest.param("x" * 5000, id="huge"),
        pytest.param("../../etc/passwd, en;q=0.1", id="path traversal"),
        pytest.param("<script>alert(1)</script>", id="markup"),
        pytest.param("en;q=NaN, fr;q=1e999, de;q=-1", id="odd qualities"),
        pytest.param(",,,;;;=", id="separators"),
        pytest.param("zz-ZZ, qq", id="unknown languages"),
        pytest.param("\u00e9\u00ff", id="latin-1 bytes"),
        pytest.param("*", id="wildcard"),
    ],
)
def test_hostile_accept_language(flag_path: Path, adapter: str, accept_language: str) -> None:
    """Accept-Language only picks the page's language: never a 500, never echoed."""
    write_flag(flag_path, state_document("Language test"))
    app_requests = [("GET", "text/html"), ("GET", "application/problem+json")]
    replies = FETCHERS[adapter](flag_path, app_requests, {"Accept-Language": accept_language})
    for reply in replies:
        assert reply.status == 503
        for language in reply.get("Content-Language"):
            assert LANGUAGE_TAG.fullmatch(language), language
        for _, value in reply.headers:
            assert accept_language.encode("latin-1") not in value or len(accept_language) < 3
