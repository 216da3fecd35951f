"""Turn a maintenance state into the bytes of a 503, in each negotiated form.

Pages are rendered by Jinja2 (autoescaped; operator text is data, never a
template) once per state and retry value, then reused; per blocked request the
only work is picking a cached response.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import jinja2
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from .settings import Settings
from .state import ETARange, MaintenanceState, ProgressUpdate

__all__ = ["Renderer", "Response", "Variant", "default_template_dir", "negotiate"]

logger = logging.getLogger("maintenance_mode")

Variant = Literal["html", "json", "text"]

_MEDIA: Final[dict[str, Variant]] = {
    "text/html": "html",
    "application/problem+json": "json",
    "application/json": "json",
    "text/plain": "text",
}
_OFFERED: Final = list(_MEDIA)
_CONTENT_TYPE: Final[dict[Variant, str]] = {
    "html": "text/html; charset=utf-8",
    "json": "application/problem+json",
    "text": "text/plain; charset=utf-8",
}
#: Tight by default: the page needs nothing but its own inline CSS and same-site images.
CSP: Final = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_MAX_ACCEPT = 1024


@dataclass(frozen=True, slots=True)
class Response:
    """A framework-neutral response: adapters only translate it.

    Built once per state and Retry-After value, so the ASGI form of the headers
    (lower-case latin-1 bytes) is prepared here too, not per request.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw_headers: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        raw = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers)
        object.__setattr__(self, "raw_headers", raw)

    @property
    def status_line(self) -> str:
        return _STATUS_LINES[self.status]

    def without_body(self) -> Response:
        """The HEAD form: same headers (Content-Length included), empty body."""
        return Response(self.status, self.headers, b"")


_STATUS_LINES: Final = {200: "200 OK", 303: "303 See Other", 503: "503 Service Unavailable"}


@lru_cache(maxsize=256)
def negotiate(accept: str | None) -> Variant:
    """Pick html, json (problem+json) or text from an Accept header; junk or huge gives html."""
    if not accept or len(accept) > _MAX_ACCEPT:
        return "html"
    try:
        best = parse_accept_header(accept, MIMEAccept).best_match(_OFFERED, default="text/html")
    except ValueError:  # pragma: no cover - werkzeug tolerates junk, but never 500 on it
        return "html"
    return _MEDIA.get(best, "html")


def default_template_dir() -> Path:
    """The packaged templates folder (inside the wheel, or the source tree's ``templates/``)."""
    packaged = Path(str(resources.files("maintenance_mode"))) / "templates"
    if packaged.is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[2] / "templates"
    if source_tree.is_dir():
        return source_tree
    raise RuntimeError(  # pragma: no cover - a broken install
        "maintenance-mode's default templates are missing; reinstall the package"
    )


def format_datetime(value: datetime | None) -> str:
    """An exact, unambiguous time for the plain page: '2026-11-27 14:00 UTC'."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _isoformat(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered body and its fixed headers; Retry-After and Content-Length come per request.

    For the JSON form, ``body`` is the problem document without ``retry_after``,
    which :meth:`Maintenance.response` splices in as the first member.
    """

    variant: Variant
    body: bytes
    headers: tuple[tuple[str, str], ...]


def _sample_state() -> MaintenanceState:
    now = datetime.now(UTC)
    return MaintenanceState(
        kind="unplanned",
        reason="Sample reason",
        message="Sample message",
        started_at=now - timedelta(hours=1),
        eta=ETARange(earliest=now + timedelta(hours=1), latest=now + timedelta(hours=2)),
        updates=(ProgressUpdate(at=now, text="Sample update"),),
    )


class Renderer:
    """Loads the templates once and renders 503 bodies; template mistakes surface at start-up."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        default = jinja2.FileSystemLoader(default_template_dir())
        loaders: list[jinja2.BaseLoader] = []
        if settings.template_dir is not None:
            loaders.append(jinja2.FileSystemLoader(settings.template_dir))
        loaders += [default, jinja2.PrefixLoader({"default": default})]
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default_for_string=True),
            undefined=jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters["datetime"] = format_datetime
        self.env.filters["isoformat"] = _isoformat
        try:
            self.html = self.env.get_template("maintenance.html")
            self.text = self.env.get_template("maintenance.txt")
            # A sample render finds errors in extended or included templates too.
            sample = _sample_state()
            for template in (self.html, self.text):
                for overrun in (False, True):
                    template.render(self.context(sample, overrun=overrun))
        except jinja2.TemplateSyntaxError as exc:
            where = exc.filename or exc.name
            raise ValueError(
                f"maintenance-mode: template {where}: line {exc.lineno}: {exc.message}"
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise ValueError(
                f"maintenance-mode: template {exc.name!r} not found in "
                + (f"{settings.template_dir} or " if settings.template_dir else "")
                + "the default templates"
            ) from None
        except Exception as exc:
            raise ValueError(
                f"maintenance-mode: a template failed to render a sample page: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def context(self, state: MaintenanceState, *, overrun: bool) -> dict[str, Any]:
        """Everything a template gets (documented in docs/templates.md)."""
        s = self.settings
        updates = sorted(state.updates, key=lambda u: u.at, reverse=True)
        return {
            "site_name": s.site_name,
            "state": state,
            "kind": state.kind,
            "reason": state.reason,
            "message": state.message,
            "started_at": state.started_at,
            "eta": state.eta,
            "eta_earliest": state.eta_earliest,
            "eta_latest": state.eta_latest,
            "eta_is_range": state.eta_earliest != state.eta_latest,
            "overrun": overrun,
            "updates": updates,
            "contacts": s.contacts,
            "links": list(s.links.items()),
            "status": 503,
        }

    def problem(self, state: MaintenanceState, *, overrun: bool) -> dict[str, Any]:
        """The RFC 9457 problem document, with the page's facts as extension members.

        ``retry_after`` is added per request (see :class:`Page`).
        """
        s = self.settings
        detail = state.reason or state.message or "The service is down for maintenance."
        return {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": detail,
            "kind": state.kind,
            "reason": state.reason,
            "message": state.message,
            "started_at": _isoformat(state.started_at) or None,
            "eta": None
            if state.eta is None
            else {
                "earliest": _isoformat(state.eta_earliest),
                "latest": _isoformat(state.eta_latest),
            },
            "overrun": overrun,
            "updates": [
                {"at": _isoformat(u.at), "text": u.text}
                for u in sorted(state.updates, key=lambda u: u.at, reverse=True)
            ],
            "contacts": s.contacts.model_dump(exclude_none=True),
            "links": [{"label": label, "href": href} for label, href in s.links.items()],
        }

    def page(self, variant: Variant, state: MaintenanceState, *, overrun: bool) -> Page:
        """Render one form of the 503 (once per state; the engine caches it).

        A template that fails at render time is logged and replaced by plain text:
        a designer's mistake must never turn the 503 into a 500.
        """
        if variant == "json":
            doc = self.problem(state, overrun=overrun)
            data = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            return Page(variant, data.encode("utf-8"), _headers(_CONTENT_TYPE["json"]))
        template = self.html if variant == "html" else self.text
        try:
            text = template.render(self.context(state, overrun=overrun))
        except Exception:
            logger.exception("template %s failed to render; sent plain text", template.name)
            text, variant = _fallback_text(state), "text"
        if variant == "text" and not text.endswith("\n"):
            text += "\n"
        return Page(variant, text.encode("utf-8"), _headers(_CONTENT_TYPE[variant]))


def _headers(content_type: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("Vary", "Accept, Accept-Language"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", CSP),
        ("Referrer-Policy", "no-referrer"),
    )


def assemble(page: Page, retry_after: int) -> Response:
    """The complete 503 for one Retry-After value (cheap: no rendering)."""
    body = page.body
    if page.variant == "json":
        body = b'{"retry_after":%d,' % retry_after + body[1:]
    headers = (
        *page.headers,
        ("Content-Length", str(len(body))),
        ("Retry-After", str(retry_after)),
    )
    return Response(503, headers, body)


def _fallback_text(state: MaintenanceState) -> str:
    lines = ["Service unavailable: down for maintenance."]
    if state.reason:
        lines.append(state.reason)
    if state.eta_latest is not None:
        lines.append(f"Expected back by {format_datetime(state.eta_latest)}.")
    return "\n".join(lines) + "\n"
