"""A small Flask shop for the end-to-end tests (served by gunicorn in test_e2e_flask.py).

The flag comes from ``$MAINTENANCE_FILE`` (the core's default), so the test, the
``flask maintenance`` command and every gunicorn worker agree on it; or from the app's
config, set through Flask's prefixed environment variables
(``FLASK_MAINTENANCE_MODE__flag=redis://...``, test_flask_command.py). Every page of the
app says which worker process answered, in the ``X-Worker-Pid`` header.
"""

from __future__ import annotations

import os

from flask import Flask, Response

from maintenance_mode.flask import MaintenanceMode, maintenance_exempt

#: The bypass secret the tests send (a test fixture, not a real secret).
BYPASS_SECRET = "e2e-flask-secret-0123456789"

app = Flask(__name__)
app.config["MAINTENANCE_MODE"] = {
    "check_interval": 0.5,
    "allow": ["/lite"],
    "bypass_secret": BYPASS_SECRET,
    "bypass_cookie_secure": False,  # the tests talk plain HTTP to 127.0.0.1
    "site_name": "E2E Shop",
}
app.config.from_prefixed_env()  # FLASK_MAINTENANCE_MODE__<option>=<value> overrides one option
maintenance = MaintenanceMode(app)


def page(text: str) -> Response:
    return Response(
        text + "\n",
        mimetype="text/plain",
        headers={"X-Worker-Pid": str(os.getpid()), "Cache-Control": "public, max-age=60"},
    )


@app.get("/")
def index() -> Response:
    return page("the real shop")


@app.get("/lite")
def lite() -> Response:
    return page("lite")


@app.get("/whoami")
@maintenance_exempt
def whoami() -> Response:
    """Which worker answered, and whether that worker sees maintenance on."""
    on = app.extensions["maintenance_mode"].poll().on
    return page("on" if on else "off")
