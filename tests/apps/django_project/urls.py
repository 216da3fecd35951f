from __future__ import annotations

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("faq", views.faq, name="faq"),
    path("contact", views.contact, name="contact"),
    path("checkout", views.checkout, name="checkout"),
    path("exempt", views.exempt, name="exempt"),
    path("api/items", views.items, name="items"),
    path("admin/", admin.site.urls),
]
