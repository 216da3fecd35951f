"""``maintenance preview``: the page for sample states, without running the app.

Renders every sample state (planned, unplanned, ETA point, ETA range, overrun,
overrun with a new estimate, with updates, minimal, a component down; the operator's
texts also in French) in every locale with the same :class:`Renderer` and
options as the middleware, either to a folder of files (``--out DIR``) or
served on 127.0.0.1 (``--serve``), where each page is sent as the real 503
(same headers, same Content-Security-Policy) and reloads by itself when a
template or catalog changes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .render import ComponentView, Renderer, Variant, default_template_dir
from .settings import Settings
from .state import ETARange, MaintenanceState, ProgressUpdate, TextBlock, Window

__all__ = ["PreviewServer", "Sample", "add_parser", "render_all", "sample_states", "serve"]

#: Shown when the options have no contacts or links, so every section of the page appears.
SAMPLE_EXTRAS: Mapping[str, Any] = {
    "contacts": {
        "email": "support@example.com",
        "phone": "+1 555 0100",
        "emergency_phone": "+1 555 0199",
        "form": "/contact",
        "status_page": "https://status.example.com",
    },
    "links": {"FAQ": "/faq", "Blog": "/blog/", "Contact form": "/contact"},
}

_RELOAD = (
    "(function(){var seen=null;function tick(){fetch('/__preview__/version',{cache:'no-store'})"
    ".then(function(r){return r.text();}).then(function(v){if(seen===null){seen=v;}"
    "else if(v!==seen){location.reload();}},function(){}).then(function(){"
    "setTimeout(tick,1000);});}tick();})();"
)


_FORMS: tuple[tuple[Variant, str], ...] = (("html", "html"), ("text", "txt"))


def _with_reload(csp: str) -> str:
    """The page's own CSP, also allowing the preview's reload script (by its hash)."""
    digest = base64.b64encode(hashlib.sha256(_RELOAD.encode("utf-8")).digest()).decode()
    source = f"'sha256-{digest}'"
    if "script-src " in csp:
        return csp.replace("script-src ", f"script-src {source} ", 1)
    return csp.replace(
        "default-src 'none'", f"default-src 'none'; script-src {source}; connect-src 'self'", 1
    )


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    title: str
    state: MaintenanceState
    #: A component's page (partial maintenance): the component, the parts down, the parts up.
    parts: tuple[ComponentView | None, tuple[ComponentView, ...], tuple[ComponentView, ...]] = (
        None,
        (),
        (),
    )

    def page_parts(self) -> dict[str, Any]:
        """The component keywords of :meth:`Renderer.page` for this sample."""
        return {"component": self.parts[0], "down": self.parts[1], "up": self.parts[2]}


def sample_states(now: datetime | None = None) -> list[Sample]:
    """The states a designer checks the page against (times relative to ``now``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    window = Window(
        start=hour - timedelta(hours=1),
        end=hour + timedelta(hours=3),
        timezone="Europe/Paris",
        reason="We are upgrading our payment system to make checkout faster.",
        affected=("Checkout and payments", "Account settings"),
        unaffected=("Browsing the catalogue", "The blog and the FAQ"),
    )
    planned = MaintenanceState(
        kind="planned",
        reason=window.reason,
        message="Orders are paused; the blog and the FAQ stay available.",
        started_at=window.start,
        eta=window.end,
        windows=(window,),
    )
    updates = (
        ProgressUpdate(
            at=hour - timedelta(minutes=40), text="We are investigating failed payments."
        ),
        ProgressUpdate(
            at=hour - timedelta(minutes=15),
            text="The cause is a faulty database server; we are moving to a standby.",
        ),
        ProgressUpdate(at=hour, text="The standby is up; we are checking data before reopening."),
    )
    samples = [
        Sample("planned", "Planned window (what is affected, exact window)", planned),
        Sample(
            "unplanned",
            "Unplanned incident, no estimate yet",
            MaintenanceState(
                kind="unplanned",
                reason="Our database server stopped responding.",
                started_at=hour - timedelta(minutes=20),
            ),
        ),
        Sample(
            "eta-point",
            "Planned, single end time",
            MaintenanceState(
                kind="planned",
                reason="We are moving to a faster data centre.",
                started_at=hour - timedelta(minutes=30),
                eta=hour + timedelta(hours=2),
            ),
        ),
        Sample(
            "eta-range",
            "Incident with an estimate as a range",
            MaintenanceState(
                kind="unplanned",
                reason="Payments fail for some customers.",
                started_at=hour - timedelta(hours=1),
                eta=ETARange(earliest=hour + timedelta(hours=3), latest=hour + timedelta(hours=5)),
            ),
        ),
        Sample(
            "overrun",
            "Taking longer than planned",
            MaintenanceState(
                kind="planned",
                reason="We are upgrading our payment system to make checkout faster.",
                started_at=hour - timedelta(hours=5),
                eta=hour - timedelta(minutes=30),
                updates=(
                    ProgressUpdate(
                        at=hour - timedelta(minutes=20),
                        text="The data migration is slower than expected; about one more hour.",
                    ),
                ),
            ),
        ),
        _revised_sample(hour),
        Sample(
            "updates",
            "Incident with a timeline of updates",
            MaintenanceState(
                kind="unplanned",
                reason="Payments fail for some customers.",
                message="Browsing and the FAQ keep working.",
                started_at=hour - timedelta(hours=1),
                eta=ETARange(earliest=hour + timedelta(hours=1), latest=hour + timedelta(hours=2)),
                updates=updates,
            ),
        ),
        Sample("minimal", "No details at all (the defaults)", MaintenanceState()),
        _component_sample(hour),
    ]
    return [_in_french(sample) for sample in samples]


def _revised_sample(hour: datetime) -> Sample:
    """Past the planned end, with the operator's new estimate ("we now expect ...")."""
    window = Window(
        start=hour - timedelta(hours=5),
        end=hour - timedelta(minutes=30),
        affected=("Checkout",),
        unaffected=("Browsing", "FAQ"),
    )
    note = "The data migration is slower than expected; about one more hour."
    state = MaintenanceState(
        kind="planned",
        reason="We are upgrading our payment system to make checkout faster.",
        started_at=window.start,
        eta=hour + timedelta(hours=1),
        eta_revised_at=hour - timedelta(minutes=20),
        windows=(window,),
        updates=(ProgressUpdate(at=hour - timedelta(minutes=20), text=note),),
    )
    return Sample("overrun-revised", "Taking longer, with a new estimate", state)


#: The samples' operator texts in French, as a French-speaking team gives them
#: (``translations``): the French previews show a French page, the German and Spanish
#: ones the English texts marked ``lang="en"``, as the middleware serves them.
_FRENCH: Mapping[str, str] = {
    "We are upgrading our payment system to make checkout faster.": "Nous mettons à niveau "
    "notre système de paiement pour accélérer la commande.",
    "Orders are paused; the blog and the FAQ stay available.": "Les commandes sont en pause ; "
    "le blog et la FAQ restent disponibles.",
    "Our database server stopped responding.": "Notre serveur de base de données ne répond plus.",
    "Payments fail for some customers.": "Les paiements échouent pour certains clients.",
    "Browsing and the FAQ keep working.": "La navigation et la FAQ fonctionnent toujours.",
    "We are moving to a new payment provider.": "Nous changeons de prestataire de paiement.",
    "We are moving to a faster data centre.": "Nous déménageons vers un centre de données "
    "plus rapide.",
    "The data migration is slower than expected; about one more hour.": "La migration des "
    "données est plus lente que prévu ; encore une heure environ.",
    "We are investigating failed payments.": "Nous enquêtons sur les paiements en échec.",
    "The cause is a faulty database server; we are moving to a standby.": "La cause est un "
    "serveur de base de données défaillant ; nous basculons sur un serveur de secours.",
    "The standby is up; we are checking data before reopening.": "Le serveur de secours "
    "fonctionne ; nous vérifions les données avant de rouvrir.",
    "Checkout and payments": "Commande et paiement",
    "Account settings": "Paramètres du compte",
    "Browsing the catalogue": "Consultation du catalogue",
    "The blog and the FAQ": "Le blog et la FAQ",
    "Checkout": "Commande",
    "Browsing": "Navigation",
    "FAQ": "FAQ",
}


def _in_french(sample: Sample) -> Sample:
    """``sample`` with the French translation of its reason, message, updates and windows."""
    state = sample.state
    block: dict[str, Any] = {
        name: _FRENCH[text] for name in ("reason", "message") if (text := getattr(state, name))
    }
    if state.updates:
        block["updates"] = {u.at: _FRENCH[u.text] for u in state.updates}
    windows = tuple(
        window.model_copy(
            update={
                "translations": {
                    "fr": TextBlock(
                        affected=tuple(_FRENCH[part] for part in window.affected),
                        unaffected=tuple(_FRENCH[part] for part in window.unaffected),
                    )
                }
            }
        )
        for window in state.windows
    )
    if not block and not windows:
        return sample
    translated = state.model_copy(
        update={"translations": {"fr": TextBlock(**block)} if block else {}, "windows": windows}
    )
    return replace(sample, state=translated)


def _component_sample(hour: datetime) -> Sample:
    """Partial maintenance: one component down, another down too, two still working."""
    end = hour + timedelta(hours=2)
    payments = ComponentView("payments", "Payments and checkout", "/pay/", end, end)
    search = ComponentView("search", "Site search", "/search", None, hour + timedelta(hours=4))
    up = (
        ComponentView("catalogue", "Browsing the catalogue", "/shop"),
        ComponentView("account", "Your account", "/account/"),
    )
    state = MaintenanceState(
        kind="planned",
        reason="We are moving to a new payment provider.",
        started_at=hour - timedelta(minutes=30),
        eta=end,
    )
    return Sample(
        "component",
        "One component down (partial maintenance)",
        state,
        (payments, (payments, search), up),
    )


def _overrun(state: MaintenanceState, now: datetime) -> bool:
    return state.eta_latest is not None and now > state.eta_latest


def _settings(options: Mapping[str, Any], sample_extras: bool) -> Settings:
    merged = dict(options)
    if sample_extras:
        for key, value in SAMPLE_EXTRAS.items():
            merged.setdefault(key, value)
    merged.pop("flag", None)
    return Settings.from_options(merged)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One preview file: its body and the headers the middleware would send."""

    name: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


def render_all(
    renderer: Renderer, samples: list[Sample], now: datetime | None = None
) -> Iterator[Rendered]:
    """Every sample in every locale, as HTML and plain text."""
    now = now or datetime.now(UTC)
    for sample in samples:
        overrun = _overrun(sample.state, now)
        for locale in renderer.locales:
            for variant, suffix in _FORMS:
                page = renderer.page(
                    variant,
                    sample.state,
                    overrun=overrun,
                    locale=locale,
                    retry_after=renderer.settings.retry_after_default,
                    **sample.page_parts(),
                )
                yield Rendered(f"{sample.name}.{locale}.{suffix}", page.body, page.headers)


def index_page(renderer: Renderer, samples: list[Sample], *, served: bool) -> str:
    """A valid, self-contained HTML list of every preview file."""
    rows = []
    for sample in samples:
        cells = " ".join(
            f'<a href="{sample.name}.{loc}.html" hreflang="{loc.replace("_", "-")}">{loc}</a>'
            f' (<a href="{sample.name}.{loc}.txt">text</a>)'
            for loc in renderer.locales
        )
        rows.append(f'<tr><th scope="row">{html.escape(sample.title)}</th><td>{cells}</td></tr>')
    note = (
        "Each page is served as the real 503 and reloads when a template changes."
        if served
        else "Open a file in a browser; serve them with --serve to get the real headers."
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>maintenance-mode preview</title>\n"
        "<style>body{font:1rem/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;"
        "padding:0 1rem}table{border-collapse:collapse}th,td{text-align:left;padding:.4rem .8rem;"
        "border-bottom:1px solid #ccc}a{margin-right:.3rem}</style>\n</head>\n<body>\n<main>\n"
        "<h1>maintenance-mode preview</h1>\n"
        f"<p>{html.escape(note)}</p>\n<table>\n"
        '<thead><tr><th scope="col">State</th><th scope="col">Locales</th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</main>\n</body>\n</html>\n"
    )


def write_folder(out: Path, renderer: Renderer, samples: list[Sample]) -> list[Path]:
    """Write every preview file and ``index.html`` into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for item in render_all(renderer, samples):
        path = out / item.name
        path.write_bytes(item.body)
        written.append(path)
    index = out / "index.html"
    index.write_text(index_page(renderer, samples, served=False), encoding="utf-8")
    written.append(index)
    return written


# -- the preview server -------------------------------------------------------------------


def _watched(settings: Settings) -> list[Path]:
    roots = [default_template_dir()]
    for extra in (settings.template_dir, settings.locale_dir):
        if extra is not None:
            roots.append(extra)
    return roots


def _signature(roots: list[Path]) -> tuple[tuple[str, int], ...]:
    found = []
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    found.append((path, os.stat(path).st_mtime_ns))
                except OSError:
                    continue
    return tuple(sorted(found))


class PreviewServer(ThreadingHTTPServer):
    """Serves the previews on 127.0.0.1; rebuilds the Renderer when a template changes."""

    daemon_threads = True

    def __init__(
        self,
        options: Mapping[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sample_extras: bool = True,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.options = dict(options)
        self.sample_extras = sample_extras
        self.now = now or (lambda: datetime.now(UTC))
        self.settings = _settings(self.options, sample_extras)
        self.roots = _watched(self.settings)
        self._lock = threading.Lock()
        self.version = 0
        self._signature = _signature(self.roots)
        self.error: str | None = None
        self.renderer: Renderer | None = Renderer(self.settings)
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def refresh(self) -> None:
        """Rebuild the Renderer if any watched file changed (called per request)."""
        signature = _signature(self.roots)
        with self._lock:
            if signature == self._signature:
                return
            self._signature = signature
            self.version += 1
            try:
                self.renderer = Renderer(self.settings)
                self.error = None
            except ValueError as exc:
                self.renderer, self.error = None, str(exc)


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _send(
        self, status: int, headers: tuple[tuple[str, str], ...], body: bytes, head: bool
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _answer(self, head: bool) -> None:
        server = self.server
        server.refresh()
        path = self.path.split("?", 1)[0]
        plain = (("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"))
        if path == "/__preview__/version":
            self._send(200, plain, str(server.version).encode(), head)
            return
        renderer = server.renderer
        if renderer is None:
            message = f"The templates do not load:\n\n{server.error}\n\nFix them and reload.\n"
            self._send(500, plain, message.encode("utf-8"), head)
            return
        samples = sample_states(server.now())
        if path in ("/", "/index.html"):
            body = index_page(renderer, samples, served=True).encode("utf-8")
            index: tuple[tuple[str, str], ...] = (
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-store"),
            )
            self._send(200, index, body, head)
            return
        wanted = path.lstrip("/")
        by_name = {s.name: s for s in samples}
        stem, _, suffix = wanted.rpartition(".")
        name, _, locale = stem.rpartition(".")
        sample = by_name.get(name)
        if sample is None or locale not in renderer.locales or suffix not in ("html", "txt"):
            self._send(404, plain, b"Not a preview page; see /\n", head)
            return
        now = server.now()
        variant: Variant = "html" if suffix == "html" else "text"
        page = renderer.page(
            variant,
            sample.state,
            overrun=_overrun(sample.state, now),
            locale=locale,
            retry_after=renderer.settings.retry_after_default,
            **sample.page_parts(),
        )
        headers = tuple((k, v) for k, v in page.headers if k != "Content-Security-Policy")
        csp = dict(page.headers)["Content-Security-Policy"]
        body = page.body
        if suffix == "html":
            text = body.decode("utf-8")
            tag = f"<script>{_RELOAD}</script>\n"
            text = text.replace("</body>", tag + "</body>", 1) if "</body>" in text else text + tag
            body = text.encode("utf-8")
            csp = _with_reload(csp)
        headers += (("Content-Security-Policy", csp),)
        retry = str(renderer.settings.retry_after_default)
        self._send(503, (*headers, ("Retry-After", retry)), body, head)


def serve(
    options: Mapping[str, Any], *, host: str = "127.0.0.1", port: int = 8001, **kwargs: Any
) -> PreviewServer:
    """A started preview server (in a daemon thread); call ``shutdown()`` to stop it."""
    server = PreviewServer(options, host=host, port=port, **kwargs)
    threading.Thread(target=server.serve_forever, name="maintenance-preview", daemon=True).start()
    return server


# -- the command ------------------------------------------------------------------------


def add_parser(sub: Any, port_type: Callable[[str], int]) -> None:
    """Register ``preview`` on the ``maintenance`` command's subparsers."""
    preview = sub.add_parser(
        "preview",
        help="render the page for sample states, to files or on 127.0.0.1",
        description="Render the maintenance page for sample states (planned, unplanned, ETA "
        "point, ETA range, overrun, with updates, minimal) in every locale, with your "
        "templates and options, without running the app.",
    )
    where = preview.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, metavar="DIR", help="write the pages into DIR")
    where.add_argument(
        "--serve", action="store_true", help="serve them on 127.0.0.1 (reloads on changes)"
    )
    preview.add_argument("--port", type=port_type, default=8001, help="port (default: 8001)")
    preview.add_argument(
        "--options",
        type=Path,
        metavar="FILE",
        help="a JSON object of page options (site_name, brand, tone, contacts, links, "
        "time_zones, ...), as given to the middleware",
    )
    preview.add_argument("--template-dir", type=Path, metavar="DIR", help="your templates")
    preview.add_argument("--locale-dir", type=Path, metavar="DIR", help="your .po catalogs")
    preview.add_argument("--site-name", metavar="NAME", help="the site's name")
    preview.add_argument(
        "--time-zone",
        action="append",
        metavar="ZONE",
        help="an IANA zone to show times in (repeatable), e.g. Europe/Paris",
    )
    preview.add_argument(
        "--locale",
        action="append",
        metavar="LOCALE",
        help="only this locale (repeatable); default: every catalog",
    )
    preview.add_argument(
        "--no-sample-extras",
        action="store_true",
        help="do not fill in sample contacts and links when the options have none",
    )
    preview.set_defaults(func=run, parser=preview)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.options is not None:
        try:
            loaded = json.loads(args.options.read_text("utf-8"))
        except OSError as exc:
            args.parser.error(f"--options: cannot read {args.options}: {exc.strerror}")
        except ValueError as exc:
            args.parser.error(f"--options: {args.options} is not valid JSON ({exc})")
        if not isinstance(loaded, dict):
            args.parser.error(f"--options: {args.options} must hold a JSON object")
        options.update(loaded)
    for key, value in (
        ("template_dir", args.template_dir),
        ("locale_dir", args.locale_dir),
        ("site_name", args.site_name),
        ("time_zones", args.time_zone),
        ("locales", args.locale),
    ):
        if value is not None:
            options[key] = value
    if args.locale and options.get("default_locale", "en") not in args.locale:
        options["default_locale"] = args.locale[0]
    return options


def run(args: argparse.Namespace, path: Path) -> int:
    """``maintenance preview``; the flag file (``path``) is not used."""
    options = _options(args)
    extras = not args.no_sample_extras
    try:
        if args.serve:
            server = PreviewServer(options, port=args.port, sample_extras=extras)
        else:
            renderer = Renderer(_settings(options, extras))
    except ValueError as exc:
        args.parser.error(str(exc).removeprefix("maintenance-mode: "))
    except OSError as exc:
        raise SystemExit(
            f"maintenance: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}"
        ) from None
    if not args.serve:
        try:
            written = write_folder(args.out, renderer, sample_states())
        except OSError as exc:
            raise SystemExit(f"maintenance: cannot write into {args.out}: {exc.strerror}") from None
        print(f"Wrote {len(written)} files to {args.out}; open {args.out / 'index.html'}")
        return 0
    print(f"Previews on {server.url} (Ctrl-C to stop); pages reload when templates change")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
