"""The Django middleware's two fast paths, pinned against the designs they replaced.

1. No ``process_view`` unless it is needed (``bypass_staff``/``bypass_superuser``, or
   ``LocaleMiddleware`` in ``MIDDLEWARE``): otherwise a blocked request's URL is
   resolved in ``__call__`` and the 503 is sent without calling the rest of the chain.
2. The 503 ``HttpResponse`` copies a header store Django checked once per core
   ``Response`` (``ResponseHeaders._store``, private to Django): it must equal what
   ``to_django`` builds header by header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from django_setup import setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.conf.urls.i18n import i18n_patterns  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.http.response import ResponseHeaders  # noqa: E402
from django.test import AsyncClient, Client, RequestFactory, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django_project import views  # noqa: E402

from maintenance_mode.django import MaintenanceMiddleware  # noqa: E402
from maintenance_mode.django import middleware as mw_module  # noqa: E402
from maintenance_mode.django.middleware import request_info, to_django  # noqa: E402
from maintenance_mode.render import Response  # noqa: E402
from maintenance_mode.state import MaintenanceState, write_state_atomic  # noqa: E402

SECRET = settings.MAINTENANCE_MODE["bypass_secret"]
BASE = dict(settings.MAINTENANCE_MODE)
OURS = "maintenance_mode.django.MaintenanceMiddleware"
LOCALE = "django.middleware.locale.LocaleMiddleware"


@pytest.fixture
def options(flag_path: Path) -> Iterator[dict[str, Any]]:
    """MAINTENANCE_MODE for this test, with maintenance on; mutate before building."""
    write_state_atomic(flag_path, MaintenanceState(reason="Database upgrade"))
    values: dict[str, Any] = {**BASE, "flag": str(flag_path), "check_interval": 60}
    with override_settings(MAINTENANCE_MODE=values):
        yield values


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"inner")


class Recorder:
    """A get_response that records the requests that reached it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.seen.append(request.path_info)
        return HttpResponse(b"inner")


# -- 1. process_view only when needed ---------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "middleware", "expected"),
    [
        pytest.param({}, None, False, id="default"),
        pytest.param({"bypass_staff": True}, None, True, id="bypass_staff"),
        pytest.param({"bypass_superuser": True}, None, True, id="bypass_superuser"),
        pytest.param({}, [OURS, LOCALE], True, id="LocaleMiddleware"),
    ],
)
def test_process_view_exists_only_when_needed(
    options: dict[str, Any], update: dict[str, Any], middleware: list[str] | None, expected: bool
) -> None:
    async def async_ok(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    options.update(update)
    with override_settings(MIDDLEWARE=middleware or settings.MIDDLEWARE):
        sync_mw = MaintenanceMiddleware(ok)
        async_mw = MaintenanceMiddleware(async_ok)
        handler = Client().handler
        handler.load_middleware()
    assert hasattr(sync_mw, "process_view") is expected
    assert hasattr(async_mw, "process_view") is expected
    ours = [m for m in handler._view_middleware if isinstance(m.__self__, MaintenanceMiddleware)]
    assert len(ours) == int(expected)  # what Django calls after routing, on every request


def test_off_passes_without_process_view(flag_path: Path) -> None:
    with override_settings(MAINTENANCE_MODE={**BASE, "flag": str(flag_path)}):
        r = Client().get("/checkout")
    assert (r.status_code, r.content) == (200, b"app:checkout")


@pytest.mark.parametrize(
    ("path", "extra", "reaches_chain"),
    [
        pytest.param("/exempt", {}, True, id="decorated view"),
        pytest.param("/contact", {}, True, id="allow_views URL name"),
        pytest.param("/faq", {}, True, id="allowlisted path"),
        pytest.param("/checkout", {}, False, id="ordinary view"),
        pytest.param("/no-such-page", {}, False, id="404"),
        pytest.param("/exempt", {"SCRIPT_NAME": "/shop"}, True, id="decorated, SCRIPT_NAME"),
        pytest.param("/contact", {"SCRIPT_NAME": "/shop"}, True, id="URL name, SCRIPT_NAME"),
        pytest.param("/checkout", {"SCRIPT_NAME": "/shop"}, False, id="ordinary, SCRIPT_NAME"),
    ],
)
def test_blocked_request_answered_in_call(
    options: dict[str, Any], path: str, extra: dict[str, str], reaches_chain: bool
) -> None:
    """The 503 leaves from __call__: the rest of the chain (and the view) never runs."""
    inner = Recorder()
    middleware = MaintenanceMiddleware(inner)
    response = middleware(RequestFactory().get(path, **extra))
    assert inner.seen == ([path] if reaches_chain else [])
    assert response.status_code == (200 if reaches_chain else 503)


def test_force_script_name(options: dict[str, Any]) -> None:
    with override_settings(FORCE_SCRIPT_NAME="/shop"):
        c = Client()
        for path in ("/exempt", "/contact"):
            r = c.get(path, SCRIPT_NAME="/elsewhere")
            assert (r.status_code, r.content) == (200, f"app:{path[1:]}".encode()), path
        assert c.get("/checkout").status_code == 503
        redirect = c.get(f"/__maintenance__/{SECRET}")
        assert redirect["Location"] == "/shop/"


class OtherUrls:
    """A URLconf an earlier middleware picks (django-hosts, multi-tenant packages)."""

    urlpatterns: ClassVar[list[Any]] = [
        path("elsewhere", views.exempt, name="elsewhere"),
        path("exempt", views.checkout, name="not-exempt-here"),
    ]


class PickUrlconf:
    """Listed before ours: sets request.urlconf, as django-hosts does."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        request.urlconf = OtherUrls
        return self.get_response(request)


def test_request_urlconf_of_an_earlier_middleware(options: dict[str, Any]) -> None:
    with override_settings(MIDDLEWARE=[f"{__name__}.PickUrlconf", *settings.MIDDLEWARE]):
        c = Client()
        r = c.get("/elsewhere")  # exempt only in the request's URLconf
        assert (r.status_code, r.content) == (200, b"app:exempt")
        assert c.get("/exempt").status_code == 503  # exempt only in ROOT_URLCONF
        assert c.get("/contact").status_code == 503  # not in the request's URLconf: a 404


class LocaleUrls:
    urlpatterns = i18n_patterns(
        path("exempt", views.exempt, name="exempt"), path("checkout", views.checkout)
    )


@pytest.mark.parametrize("extra_update", [{}, {"bypass_staff": True}])
def test_locale_middleware_keeps_the_held_design(
    options: dict[str, Any], extra_update: dict[str, Any]
) -> None:
    """i18n_patterns match the language LocaleMiddleware activates after ours has run."""
    options.update(extra_update)
    middleware = [
        OURS,
        "django.contrib.sessions.middleware.SessionMiddleware",
        LOCALE,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=LocaleUrls, LANGUAGE_CODE="en"):
        c = Client()
        r = c.get("/fr/exempt")
        assert (r.status_code, r.content) == (200, b"app:exempt")
        assert c.get("/fr/checkout").status_code == 503
        assert c.get("/fr/nothing").status_code == 503


@pytest.mark.parametrize("update", [{}, {"bypass_staff": True}], ids=["resolved", "held"])
@pytest.mark.parametrize(
    ("path", "status"),
    [("/exempt", 200), ("/contact", 200), ("/checkout", 503), ("/no-such-page", 503)],
)
def test_both_designs_agree(
    options: dict[str, Any], update: dict[str, Any], path: str, status: int
) -> None:
    options.update(update)
    assert Client().get(path).status_code == status


@pytest.mark.anyio
@pytest.mark.parametrize("update", [{}, {"bypass_staff": True}], ids=["resolved", "held"])
async def test_async_mode(options: dict[str, Any], update: dict[str, Any]) -> None:
    options.update(update)
    c = AsyncClient()
    exempt = await c.get("/exempt")
    assert (exempt.status_code, exempt.content) == (200, b"app:exempt")
    assert (await c.get("/contact")).status_code == 200
    page = await c.get("/checkout")
    assert page.status_code == 503
    assert b"Database upgrade" in page.content
    assert (await c.get("/no-such-page")).status_code == 503
    assert (await c.get("/exempt", SCRIPT_NAME="/shop")).status_code == 200


@pytest.mark.anyio
async def test_async_blocked_request_answered_in_call(options: dict[str, Any]) -> None:
    seen: list[str] = []

    async def inner(request: HttpRequest) -> HttpResponse:
        seen.append(request.path_info)
        return HttpResponse(b"inner")

    middleware = MaintenanceMiddleware(inner)
    assert not hasattr(middleware, "process_view")
    assert (await middleware(RequestFactory().get("/checkout"))).status_code == 503
    assert (await middleware(RequestFactory().get("/no-such-page"))).status_code == 503
    assert seen == []
    assert (await middleware(RequestFactory().get("/exempt"))).status_code == 200
    assert seen == ["/exempt"]


def test_allow_static_still_applies(options: dict[str, Any], tmp_path: Path) -> None:
    from django.views.static import serve

    (tmp_path / "site.css").write_text("body{}")
    urlconf = type(
        "urls",
        (),
        {"urlpatterns": [path("assets/<path:path>", serve, {"document_root": tmp_path})]},
    )
    with override_settings(ROOT_URLCONF=urlconf):
        served = Client().get("/assets/site.css")
        assert served.status_code == 200
        served.close()
        options["allow_static"] = False
        assert Client().get("/assets/site.css").status_code == 503


def test_a_failing_urlconf_still_gets_the_503(options: dict[str, Any]) -> None:
    class Broken:
        @property
        def urlpatterns(self) -> Any:
            raise RuntimeError("a URLconf that fails to load")

    request = RequestFactory().get("/checkout")
    request.urlconf = Broken()
    assert MaintenanceMiddleware(ok)(request).status_code == 503


# -- 2. the 503 from a header store checked once ----------------------------------------------


def core_response(middleware: MaintenanceMiddleware, path: str, **extra: Any) -> Response:
    request = RequestFactory().generic(extra.pop("method", "GET"), path, **extra)
    decision = middleware.maintenance.decide(
        middleware.maintenance.poll(), request_info(request, middleware.maintenance)
    )
    assert decision.response is not None
    return decision.response


def same(fast: HttpResponse, slow: HttpResponse) -> None:
    assert type(fast) is type(slow) is HttpResponse
    assert vars(fast).keys() == vars(slow).keys()
    for name in vars(fast).keys() - {"headers", "cookies", "_resource_closers", "_container"}:
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.status_code == slow.status_code
    assert fast.reason_phrase == slow.reason_phrase
    assert fast.content == slow.content
    assert list(fast.items()) == list(slow.items())
    assert fast.cookies.output() == slow.cookies.output()
    assert fast["Content-Type"] == slow["Content-Type"]
    assert fast.get("Content-Length") == slow.get("Content-Length")
    assert fast.serialize_headers() == slow.serialize_headers()
    assert fast.charset == slow.charset


FORMS = {
    "html": {},
    "json": {"HTTP_ACCEPT": "application/json"},
    "text": {"HTTP_ACCEPT": "text/plain"},
    "head": {"method": "HEAD"},
    "french": {"HTTP_ACCEPT_LANGUAGE": "fr"},
}


@pytest.mark.parametrize("form", list(FORMS))
def test_fast_503_equals_to_django(options: dict[str, Any], form: str) -> None:
    middleware = MaintenanceMiddleware(ok)
    response = core_response(middleware, "/checkout", **FORMS[form])
    assert response.status == 503
    slow = to_django(response)
    first = middleware.pages(response)  # prepares
    second = middleware.pages(response)  # from the cache
    same(first, slow)
    same(second, slow)
    assert set(slow.headers) == {name for name, _ in response.headers}  # the core's, exactly


def test_fast_bypass_redirect_equals_to_django(options: dict[str, Any]) -> None:
    middleware = MaintenanceMiddleware(ok)
    response = core_response(middleware, f"/__maintenance__/{SECRET}", SCRIPT_NAME="/shop")
    assert response.status == 303
    assert any(name == "Set-Cookie" for name, _ in response.headers)
    slow = to_django(response)
    assert "Set-Cookie" not in slow  # Django sends cookies from .cookies
    assert slow.cookies["maintenance_bypass"]["path"] == "/shop/"
    same(middleware.pages(response), slow)
    same(middleware.pages(response), slow)


def test_fast_responses_share_nothing_mutable(options: dict[str, Any]) -> None:
    middleware = MaintenanceMiddleware(ok)
    response = core_response(middleware, f"/__maintenance__/{SECRET}")
    first = middleware.pages(response)
    first["X-Later"] = "set by another middleware"
    first.cookies["maintenance_bypass"]["max-age"] = 1
    first.cookies["other"] = "x"
    second = middleware.pages(response)
    same(second, to_django(response))
    assert "X-Later" not in second


def test_headers_checked_once_per_response(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Response] = []
    real = mw_module.to_django

    def counting(response: Response) -> HttpResponse:
        calls.append(response)
        return real(response)

    monkeypatch.setattr(mw_module, "to_django", counting)
    middleware = MaintenanceMiddleware(ok)
    response = core_response(middleware, "/checkout")
    for _ in range(5):
        middleware.pages(response)
    assert calls == [response]
    copy = Response(response.status, response.headers, response.body)  # equal, not the same
    middleware.pages(copy)
    assert len(calls) == 2


def test_what_is_prepared_lives_with_the_response(options: dict[str, Any]) -> None:
    """Kept on the core's Response, not in the middleware: gone when the engine drops it."""
    middleware = MaintenanceMiddleware(ok)
    response = core_response(middleware, "/checkout")
    copies = [Response(503, response.headers, response.body) for _ in range(3)]
    for each in copies:
        same(middleware.pages(each), to_django(each))
        assert each.adapter_data["django"] is not False
    assert not hasattr(middleware.pages, "__dict__")  # nothing kept on the middleware side


def test_without_djangos_store_every_response_takes_the_slow_path(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mw_module, "_copyable", lambda reference: None)
    middleware = MaintenanceMiddleware(ok)
    for form in FORMS.values():
        response = core_response(middleware, "/checkout", **form)
        same(middleware.pages(response), to_django(response))
    assert response.adapter_data["django"] is False  # checked once: no copy, every time
    assert Client().get("/checkout").status_code == 503


def test_djangos_private_attributes() -> None:
    """What the fast path relies on; if this fails, it has stepped aside (slow but right)."""
    assert vars(HttpResponse(b"x", status=503)).keys() == mw_module._RESPONSE_ATTRS
    assert vars(ResponseHeaders(None)).keys() == {"_store"}
    # ResponseHeaders keeps lower-case name -> (name as given, value)
    headers = ResponseHeaders({"Content-Type": "text/html", "Retry-After": 60})
    assert headers._store == {
        "content-type": ("Content-Type", "text/html"),
        "retry-after": ("Retry-After", "60"),
    }
    copied = HttpResponse(b"x", status=503)
    copied.headers._store = dict(headers._store)
    assert list(copied.items()) == [("Content-Type", "text/html"), ("Retry-After", "60")]
    assert copied["retry-after"] == "60"
    assert copied.charset == "utf-8"


def test_the_fast_path_is_taken_and_its_responses_behave(options: dict[str, Any]) -> None:
    middleware = MaintenanceMiddleware(ok)
    response = core_response(middleware, "/checkout", HTTP_ACCEPT="text/html")
    page = middleware.pages(response)
    assert response.adapter_data["django"] is not False  # not the slow path
    closed: list[bool] = []
    page._resource_closers.append(lambda: closed.append(True))
    page["X-Frame-Options"] = "DENY"
    page.set_cookie("seen", "1")
    assert page.has_header("x-frame-options")
    assert page.content == response.body
    assert b"".join(page) == response.body
    assert page.serialize().startswith(b"Content-Type: text/html; charset=utf-8\r\n")
    page.close()
    assert closed == [True]
    again = middleware.pages(response)
    assert not again.has_header("X-Frame-Options")
    assert not again.cookies
    assert again._resource_closers == []
    assert not again.closed


@pytest.mark.parametrize("update", [{}, {"bypass_staff": True}], ids=["resolved", "held"])
def test_maintenance_503_is_not_logged_per_request(
    options: dict[str, Any], update: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Django logs each 5xx as an error (an email with ADMINS); a maintenance 503 is expected."""
    options.update(update)
    caplog.set_level(logging.INFO)
    c = Client()
    for _ in range(3):
        assert c.get("/checkout").status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []
    changes = [r.getMessage() for r in caplog.records if r.name == "maintenance_mode"]
    assert changes == ["maintenance is on: serving 503s (file " + options["flag"] + ")"]
    assert c.get("/static/missing.css").status_code == 404  # a lite route: the app's own answer
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [r.levelname for r in logged] == ["WARNING"]  # which Django still logs


def test_views_of_blocked_urls_are_remembered_within_bounds(options: dict[str, Any]) -> None:
    inner = Recorder()
    middleware = MaintenanceMiddleware(inner)
    factory = RequestFactory()
    for _ in range(3):
        assert middleware(factory.get("/checkout")).status_code == 503
    assert [name for _, name in middleware.views.values()] == ["checkout"]
    for index in range(700):
        assert middleware(factory.get(f"/no-such-page-{index}")).status_code == 503
    assert 0 < len(middleware.views) <= 512
    assert middleware(factory.get("/exempt")).status_code == 200  # remembered or not: same answer
    assert middleware(factory.get("/exempt")).status_code == 200
    assert inner.seen == ["/exempt", "/exempt"]
