"""``maintenance demo``: a small shop site behind the ASGI middleware, on a real server.

Pages: home, blog, a checkout form (blocked while down), contact and FAQ (lite
routes that keep working) and a stylesheet under /static/. Maintenance is ON at
start; the printed lines show how to switch it off, bypass it and see the JSON.
"""

from __future__ import annotations

import secrets
import shlex
import sys
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .asgi import MaintenanceMiddleware
from .state import ETARange, MaintenanceState, ProgressUpdate, write_state_atomic

__all__ = ["build_app", "run_demo"]

CSS = """body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
nav a{margin-right:1rem}form{display:grid;gap:.5rem;max-width:24rem}"""

NAV = (
    '<nav><a href="/">Home</a><a href="/blog">Blog</a><a href="/checkout">Checkout</a>'
    '<a href="/faq">FAQ</a><a href="/contact">Contact</a></nav>'
)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f'</title><link rel="stylesheet" href="/static/style.css"></head><body>{NAV}'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )


async def home(request: Request) -> Response:
    return _page("Demo Shop", "<p>Welcome to the demo shop. Everything is for sale.</p>")


async def blog(request: Request) -> Response:
    return _page("Blog", "<p>Our latest news: we now ship to the Moon.</p>")


async def checkout(request: Request) -> Response:
    if request.method == "POST":
        await request.body()
        return _page("Order placed", "<p>Thank you for your order.</p>")
    return _page(
        "Checkout",
        '<form method="post"><label>Card <input name="card"></label><button>Pay</button></form>',
    )


async def contact(request: Request) -> Response:
    if request.method == "POST":
        await request.body()
        return _page("Message sent", "<p>Thanks, a human will answer within a day.</p>")
    return _page(
        "Contact us",
        '<form method="post"><label>Your e-mail <input name="email" type="email"></label>'
        '<label>Message <textarea name="message"></textarea></label><button>Send</button></form>',
    )


async def faq(request: Request) -> Response:
    return _page("FAQ", "<p><b>Is my order safe?</b> Yes; orders resume after maintenance.</p>")


async def stylesheet(request: Request) -> Response:
    return Response(CSS, media_type="text/css")


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


def build_app(flag_path: Path, *, bypass_secret: str, **options: Any) -> MaintenanceMiddleware:
    """The demo site wrapped by the middleware (also used by the tests)."""
    site = Starlette(
        routes=[
            Route("/", home),
            Route("/blog", blog),
            Route("/checkout", checkout, methods=["GET", "POST"]),
            Route("/contact", contact, methods=["GET", "POST"]),
            Route("/faq", faq),
            Route("/static/style.css", stylesheet),
            Route("/healthz", health),
        ]
    )
    settings: dict[str, Any] = {
        "flag": flag_path,
        "allow": ["/contact", "/faq", "/static/"],
        "bypass_secret": bypass_secret,
        "bypass_cookie_secure": False,  # the demo is plain http on 127.0.0.1
        "site_name": "Demo Shop",
        "links": {"FAQ": "/faq", "Contact form": "/contact"},
        "contacts": {"email": "support@example.com", "form": "/contact"},
        **options,
    }
    return MaintenanceMiddleware(site, **settings)


def demo_state(now: datetime | None = None) -> MaintenanceState:
    """The state the demo starts with: planned work, an ETA range and one update."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return MaintenanceState(
        kind="planned",
        reason="We are upgrading our payment system to make checkout faster.",
        message="Orders are paused; the FAQ and the contact form keep working.",
        started_at=now,
        eta=ETARange(earliest=now + timedelta(hours=1), latest=now + timedelta(hours=2)),
        updates=(ProgressUpdate(at=now, text="Maintenance started; backups are complete."),),
    )


def _command() -> str:
    script = Path(sys.executable).with_name("maintenance")
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m maintenance_mode"


def run_demo(*, host: str, port: int, flag_path: Path) -> int:
    """Switch maintenance on, print how to drive it, and serve until Ctrl-C."""
    try:
        import uvicorn
    except ImportError:
        print(
            "maintenance demo needs uvicorn: pip install 'maintenance-mode[demo]'", file=sys.stderr
        )
        return 1
    secret = secrets.token_urlsafe(18)
    try:
        write_state_atomic(flag_path, demo_state())  # before the engine's first check
    except OSError as exc:
        print(f"maintenance demo: cannot write {flag_path}: {exc.strerror}", file=sys.stderr)
        return 1
    app = build_app(flag_path, bypass_secret=secret)
    base = f"http://{host}:{port}"
    cmd = f"{_command()} --file {shlex.quote(str(flag_path))}"
    print(
        f"""
maintenance-mode demo: {base}/   (maintenance is ON; flag file {flag_path})

  see the page:        {base}/
  lite routes (200):   {base}/faq   {base}/contact
  JSON for API clients: curl -i -H 'Accept: application/json' {base}/
  bypass (browser):    {base}/__maintenance__/{secret}
  bypass (scripts):    curl -i -H 'X-Maintenance-Bypass: {secret}' {base}/
  switch off:          {cmd} off
  switch on again:     {cmd} on --reason 'Back to work' --eta 30m
  status:              {cmd} status

Changes take effect within a second, without a restart. Ctrl-C stops the demo.
""",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
