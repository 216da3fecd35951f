"""Views that say who answered: the app (with its worker PID) or not."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse, JsonResponse

from maintenance_mode.django import maintenance_exempt


def page(text: str):  # type: ignore[no-untyped-def]
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(f"app:{text}", content_type="text/plain")
        response["X-Worker-Pid"] = str(os.getpid())
        response["Cache-Control"] = "public, max-age=60"
        return response

    return view


home = page("home")
faq = page("faq")
contact = page("contact")
checkout = page("checkout")
exempt = maintenance_exempt(page("exempt"))


def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"items": [1, 2, 3]})
