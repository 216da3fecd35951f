"""Which form of the 503 each kind of client gets, through the real ASGI and WSGI adapters.

A browser navigation (it names ``text/html``) gets the page; ``*/*``, no ``Accept``
or a preference for JSON gets problem+json; ``text/plain`` when asked; and paths
under ``json_paths`` always get JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
import pytest

from conftest import BROWSER_ACCEPT
from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.state import MaintenanceState, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

REASON = "Upgrading the database"
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

Reply = tuple[int, dict[str, str], bytes]


def asgi_get(
    flag: Path, requests: list[tuple[str, str, str | None]], **options: Any
) -> list[Reply]:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run while maintenance is on")

    app = ASGIMaintenance(inner, flag=flag, **options)

    async def go() -> list[Reply]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            replies = []
            for method, path, accept in requests:
                request = client.build_request(method, path)
                del request.headers["Accept"]  # httpx's own */*: the test says what is sent
                if accept is not None:
                    request.headers["Accept"] = accept
                r = await client.send(request)
                replies.append((r.status_code, dict(r.headers), r.content))
            return replies

    return asyncio.run(go())


def wsgi_get(
    flag: Path, requests: list[tuple[str, str, str | None]], **options: Any
) -> list[Reply]:
    def inner(environ: Any, start_response: Any) -> Any:
        raise AssertionError("the app must not run while maintenance is on")

    app = validator(WSGIMaintenance(inner, flag=flag, **options))
    replies = []
    for method, path, accept in requests:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
        }
        if accept is not None:
            environ["HTTP_ACCEPT"] = accept
        setup_testing_defaults(environ)
        seen: dict[str, Any] = {}

        def start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: Any = None,
            seen: dict[str, Any] = seen,
        ) -> Callable[[bytes], None]:
            seen["status"], seen["headers"] = status, headers
            return lambda data: None

        result: Any = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
        headers = {k.lower(): v for k, v in seen["headers"]}
        replies.append((int(seen["status"].split()[0]), headers, body))
    return replies


ADAPTERS = {"asgi": asgi_get, "wsgi": wsgi_get}


@pytest.fixture(params=list(ADAPTERS))
def get(request: pytest.FixtureRequest) -> Callable[..., list[Reply]]:
    fetch: Callable[..., list[Reply]] = ADAPTERS[request.param]
    return fetch


@pytest.fixture
def on(flag_path: Path) -> Path:
    write_state_atomic(flag_path, MaintenanceState(reason=REASON))
    return flag_path


def form(reply: Reply) -> str:
    status, headers, body = reply
    assert status == 503
    assert headers["vary"] == "Accept, Accept-Language"
    assert headers["cache-control"] == "no-store"
    content_type = headers["content-type"]
    if content_type == "application/problem+json":
        doc = json.loads(body)
        assert (doc["status"], doc["reason"]) == (503, REASON)
        assert doc["retry_after"] == int(headers["retry-after"])
        return "json"
    if content_type == "text/plain; charset=utf-8":
        assert REASON in body.decode()
        assert b"<html" not in body.lower()
        return "text"
    assert content_type == "text/html; charset=utf-8"
    assert body.lstrip().lower().startswith(b"<!doctype html>")
    return "html"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(BROWSER_ACCEPT, "html", id="Chromium navigation"),
        pytest.param(FIREFOX, "html", id="Firefox navigation"),
        pytest.param("text/html", "html", id="text/html alone"),
        pytest.param("*/*", "json", id="*/* (curl, fetch, requests, httpx)"),
        pytest.param(None, "json", id="no Accept"),
        pytest.param("", "json", id="empty Accept"),
        pytest.param("application/json", "json", id="json"),
        pytest.param("application/problem+json", "json", id="problem+json"),
        pytest.param("application/json, text/plain, */*", "json", id="axios"),
        pytest.param("text/html;q=0.5, application/json", "json", id="json preferred by q"),
        pytest.param("text/html;q=0, */*", "json", id="html refused"),
        pytest.param("application/json; charset=utf-8", "json", id="json with a parameter"),
        pytest.param("text/plain", "text", id="text"),
        pytest.param("text/plain;format=flowed", "text", id="text with a parameter"),
        pytest.param("text/*", "text", id="any text"),
        pytest.param("text/plain, */*;q=0.1", "text", id="text preferred"),
        pytest.param("image/png", "html", id="nothing offered: the page, for a person"),
    ],
)
def test_each_client_gets_its_form(
    get: Callable[..., list[Reply]], on: Path, accept: str | None, expected: str
) -> None:
    (reply,) = get(on, [("GET", "/checkout", accept)])
    assert form(reply) == expected


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "*/*", None, "text/plain"])
def test_head_has_the_get_headers_and_no_body(
    get: Callable[..., list[Reply]], on: Path, accept: str | None
) -> None:
    got, head = get(on, [("GET", "/checkout", accept), ("HEAD", "/checkout", accept)])
    assert head[0] == 503
    assert head[2] == b""
    assert head[1]["content-type"] == got[1]["content-type"]
    assert head[1]["content-length"] == str(len(got[2]))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/api/", "json", id="the prefix itself"),
        pytest.param("/api/v1/orders", "json", id="under the prefix"),
        pytest.param("/graphql", "json", id="an exact entry"),
        pytest.param("/graphql/x", "html", id="below an exact entry"),
        pytest.param("/apix", "html", id="a longer segment"),
        pytest.param("/api", "html", id="the prefix without its slash"),
        pytest.param("/checkout", "html", id="elsewhere"),
        pytest.param("/api/../checkout", "html", id="a dot segment"),
    ],
)
def test_json_paths_always_get_json(
    get: Callable[..., list[Reply]], on: Path, path: str, expected: str
) -> None:
    replies = get(
        on,
        [("GET", path, BROWSER_ACCEPT), ("HEAD", path, BROWSER_ACCEPT)],
        json_paths=["/api/", "/graphql"],
    )
    assert form(replies[0]) == expected
    assert replies[1][2] == b""
    assert replies[1][1]["content-type"] == replies[0][1]["content-type"]


def test_json_paths_answer_is_not_reused_for_other_paths(
    get: Callable[..., list[Reply]], on: Path
) -> None:
    """The response cache is keyed on the headers as sent: a JSON path must not leak."""
    requests = [("GET", "/api/items", BROWSER_ACCEPT), ("GET", "/checkout", BROWSER_ACCEPT)] * 2
    forms = [form(reply) for reply in get(on, requests, json_paths=["/api/"])]
    assert forms == ["json", "html", "json", "html"]


async def _never(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the app must not run")


def test_json_paths_are_checked_at_start_up(flag_path: Path) -> None:
    with pytest.raises(ValueError, match=r"option 'json_paths'.*must be a path starting with '/'"):
        ASGIMaintenance(_never, flag=flag_path, json_paths=["api/"])
