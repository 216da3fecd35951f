"""Settings for the test project; the flag file and a few options come from the environment."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "maintenance_mode.django",
]

# Ours first: the staff bypass still works, because with it on the user is read in
# process_view.
MIDDLEWARE = [
    "maintenance_mode.django.MaintenanceMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "django_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TEST_DJANGO_DB")
        or str(Path(tempfile.gettempdir()) / "maintenance-mode-test.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"

MAINTENANCE_MODE = {
    # TEST_DJANGO_FLAG: any flag (a redis:// URL for the Redis tests); else the file.
    "flag": os.environ.get("TEST_DJANGO_FLAG")
    or os.environ.get("MAINTENANCE_FILE")
    or str(BASE_DIR / "maintenance.json"),
    "allow": ["/faq", "/static/"],
    "allow_views": ["contact"],
    "bypass_secret": "django-test-secret-0123456789",
    "bypass_cookie_secure": False,
    "check_interval": float(os.environ.get("MAINTENANCE_CHECK_INTERVAL", "0.5")),
    "site_name": "Django Test Shop",
}
# The page as a project template (tests/test_project_templates.py runs gunicorn with it).
if os.environ.get("TEST_DJANGO_TEMPLATE_NAME"):
    MAINTENANCE_MODE["template_name"] = os.environ["TEST_DJANGO_TEMPLATE_NAME"]
