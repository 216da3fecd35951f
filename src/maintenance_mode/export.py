"""The notice without the app: a static export of the maintenance response, kept in step.

:func:`export` renders the current state of a flag (file or Redis) with the same
:class:`~maintenance_mode.render.Renderer`, templates and options as the live
middleware, and writes what a web server needs to answer for the app when it is
down or stopped on purpose: the page in every configured language (styles
inline, site-relative images inlined as ``data:`` URIs), the problem+json and
plain-text forms, and the status document. :func:`proxy_snippet` prints the
nginx, Caddy, Apache httpd or HAProxy configuration that serves it.

Layout of ``DIR`` (servers read ``DIR/current``; see docs/proxies.md)::

    DIR/current -> .versions/<stamp>-r<seconds>   the export in force (a symlink)
    DIR/maintenance.on                              present while maintenance is on
    DIR/haproxy.lua                                 HAProxy's reader of the export
    DIR/options.json                                the options it was rendered with

An export is written into a new folder beside the old one, then ``current`` is
switched to it by an atomic rename, so a server reads either the old export or
the new one, never a mix. Exports into one ``DIR`` are serialised by a lock
(``DIR/.lock``) and each reads the flag inside it, so the last export to finish
shows the last change. The ``Retry-After`` of a static answer is computed at
export time and does not count down (re-exporting refreshes it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import math
import mimetypes
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from . import control
from .hooks import per_process
from .render import Renderer, assemble
from .settings import Settings
from .state import MaintenanceState
from .status import encode as encode_status
from .status import status_document

if TYPE_CHECKING:
    from .hooks import Event

logger = logging.getLogger("maintenance_mode")

__all__ = [
    "PROXY_SERVERS",
    "ExportError",
    "ExportResult",
    "ProxyMode",
    "ProxyServer",
    "after_change",
    "export",
    "export_hook",
    "follow",
    "proxy_snippet",
]

#: The servers :func:`proxy_snippet` writes a configuration for.
PROXY_SERVERS: Final = ("nginx", "caddy", "apache", "haproxy")
ProxyServer = Literal["nginx", "caddy", "apache", "haproxy"]
#: ``fallback``: answer only when the app cannot; ``proxy-side``: also answer by itself
#: while the trigger file exists (allowlisted paths and the status document still reach
#: the app).
ProxyMode = Literal["fallback", "proxy-side"]

#: The folder servers read, a symlink to the export in force.
CURRENT: Final = "current"
#: Present while maintenance is on: the trigger of proxy-side maintenance.
ON_FILE: Final = "maintenance.on"
#: The internal path the servers map to ``DIR/current`` (never reachable from outside).
INTERNAL_PATH: Final = "/__maintenance_export__/"
_VERSIONS: Final = ".versions"
_KEEP_VERSIONS: Final = 3
#: Embedded images (a logo, a favicon) larger than this stay links.
_MAX_INLINE_IMAGE: Final = 256 * 1024
#: The version folder's name carries Retry-After (nginx reads it from the real path).
_VERSION_NAME = re.compile(r"\d{8}T\d{12}-\d+-[0-9a-f]{6}-r\d+")
#: The page's CSP goes into a <meta> element: the hash of its own script changes with the
#: templates, and a static server cannot compute it. frame-ancestors is ignored in <meta>,
#: so the servers send it as a header (FRAME_CSP).
FRAME_CSP: Final = "frame-ancestors 'none'"
_CHARSET_META = re.compile(r"<meta\s+charset=[\"']?utf-8[\"']?\s*/?>", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
#: An image the page loads from the app: ``<img src="/...">``, ``<link rel="icon" href="/...">``.
_IMG_SRC = re.compile(
    r"(<(?:img\b[^>]*?\bsrc|link\b[^>]*?\brel=\"[^\"]*icon[^\"]*\"[^>]*?\bhref)=\")"
    r"(/(?!/)[^\"]*)(\")",
    re.IGNORECASE,
)


class ExportError(control.ControlError):
    """The export could not be written (folder not writable, flag unreadable, ...)."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote: where, for which state, and what a human should know."""

    out_dir: Path
    #: The folder ``DIR/current`` now points to.
    version_dir: Path
    on: bool
    phase: str
    #: The Retry-After of every static answer, computed at export time (seconds).
    retry_after: int
    #: The language tags of the pages written (the default first).
    languages: tuple[str, ...]
    files: tuple[str, ...]
    exported_at: datetime
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``maintenance export --json`` prints)."""
        return {
            "out_dir": str(self.out_dir),
            "version_dir": str(self.version_dir),
            "on": self.on,
            "phase": self.phase,
            "retry_after": self.retry_after,
            "languages": list(self.languages),
            "files": list(self.files),
            "exported_at": _iso(self.exported_at),
            "warnings": list(self.warnings),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


#: The options of the last export (JSON), reused when an export is given none.
OPTIONS_FILE: Final = "options.json"
#: Options never written into the export folder: secrets, and what cannot be JSON.
_UNSAVED: Final = frozenset(
    {"flag", "on_change", "bypass_secret", "export_dir", "template_name", "page_renderer"}
)


def _settings(settings: Settings | Mapping[str, Any] | None, out: Path | None = None) -> Settings:
    """``settings`` validated; None means the options of the last export into ``out``.

    So ``maintenance update --export DIR`` renders the page with the app's own options
    (site name, brand, contacts, ...) as the app's last export saved them.
    """
    if isinstance(settings, Settings):
        return settings
    options: Any = settings
    where = "options"
    if options is None and out is not None and (out / OPTIONS_FILE).is_file():
        where = str(out / OPTIONS_FILE)
        try:
            options = json.loads((out / OPTIONS_FILE).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ExportError(
                f"cannot read {where}: {exc}; remove it or pass the options"
            ) from None
    try:
        return Settings.from_options(dict(options or {}))
    except ValueError as exc:
        message = str(exc).removeprefix("maintenance-mode: ")
        raise control.InvalidChange(
            f"{where}: {message}" if where != "options" else message
        ) from None


def _saved_options(settings: Settings) -> bytes:
    """The options to save beside the export (JSON; no secret, no callable, absolute paths)."""
    data = settings.model_dump(mode="json", exclude=set(_UNSAVED))
    for name in ("template_dir", "locale_dir"):
        value = getattr(settings, name)
        data[name] = None if value is None else str(Path(value).absolute())
    return json.dumps(data, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def _retry_after(settings: Settings, state: MaintenanceState | None, now: datetime) -> int:
    """Seconds until the earliest ETA, clamped like the live 503 (``Maintenance.retry_after``)."""
    s = settings
    eta = state.eta_earliest if state is not None else None
    if eta is None:
        return max(s.retry_after_min, min(s.retry_after_default, s.retry_after_max))
    seconds = math.ceil((eta - now).total_seconds())
    return max(s.retry_after_min, min(seconds, s.retry_after_max))


def _inline_images(html: str, assets: Mapping[str, Path], warnings: list[str]) -> str:
    """Site-relative ``<img src>`` and ``<link href>`` (the logo, the favicon) as data: URIs.

    The app serves those paths, and it is down when the export is served; a path
    with no file under ``assets`` (URL prefix to folder) stays as it is, with a warning.
    """

    def inline(match: re.Match[str]) -> str:
        url = match.group(2)
        for prefix, folder in sorted(assets.items(), key=lambda kv: -len(kv[0])):
            if not url.startswith(prefix):
                continue
            relative = url[len(prefix) :].split("?", 1)[0]
            path = (folder / relative).resolve()
            if folder.resolve() not in path.parents or not path.is_file():
                continue
            data = path.read_bytes()
            if len(data) > _MAX_INLINE_IMAGE:
                warnings.append(
                    f"{url} ({path}) is larger than {_MAX_INLINE_IMAGE // 1024} KiB; "
                    "it stays a link, which the app must serve"
                )
                return match.group(0)
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            encoded = base64.b64encode(data).decode("ascii")
            return f"{match.group(1)}data:{kind};base64,{encoded}{match.group(3)}"
        warnings.append(
            f"the page links to {url}, which the app serves: it is missing while the app is "
            "down. Give brand.logo_url as a data: or https:// URL, or pass the folder that "
            "holds it (assets={'/static/': '/srv/app/static'}, --asset /static/=DIR)"
        )
        return match.group(0)

    return _IMG_SRC.sub(inline, html)


def _with_meta_csp(html: str, csp: str, warnings: list[str]) -> str:
    """The page with its own Content-Security-Policy as a <meta> element (see FRAME_CSP)."""
    policy = "; ".join(
        part for part in (p.strip() for p in csp.split(";")) if not part.startswith("frame-")
    )
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    match = _CHARSET_META.search(html) or _HEAD.search(html)
    if match is None:
        warnings.append(
            "the page has no <head>: its Content-Security-Policy could not be added, so "
            "static servers send it without one"
        )
        return html
    return html[: match.end()] + "\n" + meta + html[match.end() :]


def _asis(status_line: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """An Apache ``send-as-is`` file: the status and headers, then the body."""
    head = [f"Status: {status_line}"] + [f"{name}: {value}" for name, value in headers]
    return ("\n".join(head) + "\n\n").encode("utf-8") + body


_STATIC_HEADERS: Final = ("Content-Security-Policy", "Content-Length", "Retry-After", "Vary")


def _type_map(entries: list[tuple[str, str, float, str | None]]) -> bytes:
    """Apache's type map (``.var``): one variant per file, with its type and language."""
    blocks = []
    for uri, kind, quality, language in entries:
        lines = [f"URI: {uri}", f"Content-Type: {kind}; qs={quality:g}"]
        if language:
            lines.append(f"Content-Language: {language}")
        blocks.append("\n".join(lines))
    return ("\n\n".join(blocks) + "\n").encode("utf-8")


def _fsynced_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o644)


def _replace_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically (a temp file beside it, then a rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        _fsynced_write(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _locked(fd: int, out: Path) -> Any:
    """Hold the export folder's lock (``DIR/.lock``, opened as ``fd``), then close it."""
    try:
        control._lock(fd, out)
        yield
    finally:
        os.close(fd)


def _render(
    settings: Settings,
    status: control.Status,
    now: datetime,
    status_url: str | None,
    assets: Mapping[str, Path],
) -> tuple[dict[str, bytes], int, tuple[str, ...], list[str]]:
    """Every file of one export (name to bytes), its Retry-After, languages and warnings."""
    from . import i18n

    warnings: list[str] = []
    renderer = Renderer(settings)
    on = status.on and status.state is not None
    # Off, the app may still be down (a crash, a restart): then the honest answer is an
    # outage with no details, never the last maintenance's reason as if it were current.
    state = status.state if on and status.state is not None else MaintenanceState(kind="unplanned")
    retry = _retry_after(settings, state if on else None, now)
    overrun = on and state.eta_latest is not None and now > state.eta_latest
    default = renderer.catalogs.default
    locales = (default, *(loc for loc in renderer.locales if loc != default))
    files: dict[str, bytes] = {}
    variants: list[tuple[str, str, float, str | None]] = []
    for locale in locales:
        tag = i18n.language_tag(locale)
        page = renderer.page(
            "html", state, overrun=overrun, locale=locale, retry_after=retry, status_url=status_url
        )
        response = assemble(page, retry)
        headers = dict(response.headers)
        html = response.body.decode("utf-8")
        if page.variant == "html":  # a template that failed to render gives plain text
            html = _with_meta_csp(html, headers["Content-Security-Policy"], warnings)
            html = _inline_images(html, assets, warnings)
        body = html.encode("utf-8")
        files[f"maintenance.{tag}.html"] = body
        if locale == default:
            files["maintenance.html"] = body
        files[f"maintenance.{tag}.html.asis"] = _asis(
            "503 Service Unavailable", _static_headers(response.headers, retry), body
        )
        variants.append((f"maintenance.{tag}.html.asis", "text/html", 0.9, tag))
    # Source qualities in the app's order at equal q (JSON, text, HTML): */* and no Accept
    # get problem+json, a browser's text/html (q=1) against its */*;q=0.8 gets the page.
    for variant, name, kind, quality in (
        ("json", "problem.json", "application/problem+json", 1.0),
        ("text", "maintenance.txt", "text/plain", 0.95),
    ):
        page = renderer.page(variant, state, overrun=overrun, locale=default, retry_after=retry)  # type: ignore[arg-type]
        response = assemble(page, retry)
        files[name] = response.body
        files[f"{name}.asis"] = _asis(
            "503 Service Unavailable", _static_headers(response.headers, retry), response.body
        )
        variants.append((f"{name}.asis", kind, quality, None))
        if variant == "json":  # what API clients that ask for plain JSON get
            variants.append((f"{name}.asis", "application/json", quality, None))
    files["maintenance.var"] = _type_map(variants)
    document = status_document(
        site_name=settings.site_name,
        on=on,
        state=state if on else None,
        docs=[status.document] if status.document is not None else [],
        now=now,
        retry_after=retry if on else None,
    )
    files["status.json"] = encode_status(document)
    status_headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
        ("Access-Control-Allow-Origin", "*"),
        ("X-Content-Type-Options", "nosniff"),
        ("Retry-After", str(retry)),
    ]
    files["status.json.asis"] = _asis(
        "503 Service Unavailable", status_headers, files["status.json"]
    )
    files["retry-after"] = str(retry).encode("ascii")
    files[f"retry-after-{retry}"] = b""  # for servers that read a value from a file name
    languages = tuple(i18n.language_tag(loc) for loc in locales)
    manifest = {
        "format": 1,
        "exported_at": _iso(now),
        "on": on,
        "phase": status.phase,
        "retry_after": retry,
        "languages": list(languages),
        "default_language": languages[0],
        "status_url": status_url,
        "target": status.target,
        "files": sorted(files),
    }
    files["export.json"] = json.dumps(manifest, indent=1).encode("utf-8") + b"\n"
    return files, retry, languages, warnings


def _static_headers(headers: tuple[tuple[str, str], ...], retry: int) -> list[tuple[str, str]]:
    """The live 503's headers for a static copy: the CSP of a page is in its <meta>."""
    kept = [(k, v) for k, v in headers if k not in _STATIC_HEADERS]
    csp = FRAME_CSP if dict(headers).get("Content-Type", "").startswith("text/html") else None
    extra = [("Content-Security-Policy", csp or dict(headers)["Content-Security-Policy"])]
    return [*kept, *extra, ("Vary", "Accept, Accept-Language"), ("Retry-After", str(retry))]


#: Accept, as a proxy's first-match regular expressions (nginx's PCRE and Caddy's RE2 alike,
#: case-insensitive), following ``render.negotiate`` without weighing q-values: types listed
#: at full weight (no q, or q=1) first, then those with a lower non-zero q; within each, the
#: app's own order (JSON, text/plain, text/html, application/*, text/*, */*). See docs/proxies.md.
_FULL: Final = r"(\s*;\s*([^q\s,;][^,;]*|q\s*=\s*1(\.0*)?\s*))*\s*(,|$)"
_PART: Final = r"\s*;[^,]*q\s*=\s*0?\.[0-9]*[1-9]"
_TYPES: Final = (
    (r"application/(problem\+)?json", "json"),
    (r"text/plain", "text"),
    (r"text/html", "html"),
    (r"application/\*", "json"),
    (r"text/\*", "text"),
    (r"\*/\*", "json"),
)
_ACCEPT_RULES: Final[tuple[tuple[str, str], ...]] = (
    (r"^\s*$", "json"),  # no Accept, or an empty one: an API client
    (r"^.{1000}.{25}", "html"),  # overlong (render._MAX_ACCEPT): the page, for a person
    *((rf"(^|,)\s*{kind}{_FULL}", variant) for kind, variant in _TYPES),
    *((rf"(^|,)\s*{kind}{_PART}", variant) for kind, variant in _TYPES),
)


def _proxy_variant(accept: str | None) -> str:
    """The variant a proxy configuration picks for ``accept`` (tests compare it to the app's)."""
    for pattern, variant in _ACCEPT_RULES:
        if re.search(pattern, accept or "", re.IGNORECASE):
            return variant
    return "html"


def _haproxy_lua(settings: Settings, languages: tuple[str, ...]) -> bytes:
    template = _template("haproxy.lua")
    text: str = template.render(
        status_path=settings.status_path or "",
        json_exact=[p for p in settings.json_paths if p == "/" or not p.endswith("/")],
        json_prefixes=[p for p in settings.json_paths if p != "/" and p.endswith("/")],
        languages=languages,
        default=languages[0],
        retry_default=_retry_after(settings, None, datetime.now(UTC)),
    )
    return text.encode("utf-8")


def export(
    out_dir: str | os.PathLike[str],
    *,
    flag: control.Target | control.Status = None,
    settings: Settings | Mapping[str, Any] | None = None,
    status_url: str | Literal["default"] | None = "default",
    assets: Mapping[str, str | os.PathLike[str]] | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write the maintenance response for the current state of ``flag`` into ``out_dir``.

    ``flag`` is what the control functions take (a path, a ``redis://`` URL, None for
    the default; ``settings.flag`` when None and ``settings`` names one). ``settings``
    are the middleware's options (a :class:`Settings` or a mapping), so the page is
    the live page; None reuses those of the last export into ``out_dir``
    (``DIR/options.json``, saved by every export without secrets or callables).
    ``status_url`` is the path the page polls to notice the site is back (default:
    the ``status_path`` option, which the proxy forwards to the app).
    ``assets`` maps URL prefixes to folders, to inline a site-relative logo.

    Raises :class:`ExportError` (one line) when the folder cannot be written, and the
    control layer's errors when the flag cannot be read.
    """
    out = Path(out_dir).absolute()
    s = _settings(settings, out)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if status_url == "default":
        status_url = s.status_path
    folders = {prefix: Path(folder) for prefix, folder in (assets or {}).items()}
    for prefix in folders:
        if not prefix.startswith("/"):
            raise control.InvalidChange(f"asset prefix {prefix!r} must be a URL path like /static/")
    try:
        if not out.is_dir():
            out.mkdir(parents=True)
            os.chmod(out, 0o755)  # noqa: S103 - the web server (another user) reads it
        lock = os.open(out / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise ExportError(
            f"cannot create or lock the export folder {out}: {exc.strerror}; check it (or "
            "its parent) exists and is writable by this user"
        ) from None
    target = flag if flag is not None else s.flag
    with _locked(lock, out):
        status = target if isinstance(target, control.Status) else control.status(target, now=now)
        files, retry, languages, warnings = _render(s, status, moment, status_url, folders)
        try:
            version = _write_version(out, files, moment, retry)
            _replace_file(out / "haproxy.lua", _haproxy_lua(s, languages))
            _replace_file(out / OPTIONS_FILE, _saved_options(s))
            marker = out / ON_FILE
            if status.on:
                _replace_file(marker, b"on\n")
            else:
                with contextlib.suppress(FileNotFoundError):
                    marker.unlink()
            _prune(out / _VERSIONS, keep=version.name)
        except OSError as exc:
            raise ExportError(
                f"cannot write the export into {out}: {exc.strerror}; check the folder is "
                "writable by this user"
            ) from None
    return ExportResult(
        out_dir=out,
        version_dir=version,
        on=status.on,
        phase=status.phase,
        retry_after=retry,
        languages=languages,
        files=tuple(sorted(files)),
        exported_at=moment,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _write_version(out: Path, files: Mapping[str, bytes], now: datetime, retry: int) -> Path:
    """Write ``files`` into a new version folder, then point ``current`` at it atomically."""
    versions = out / _VERSIONS
    if not versions.is_dir():
        versions.mkdir()
        os.chmod(versions, 0o755)  # noqa: S103 - the web server (another user) reads it
    name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{secrets.token_hex(3)}-r{retry}"
    staging = versions / f".{name}.tmp"
    staging.mkdir(mode=0o755)
    try:
        os.chmod(staging, 0o755)  # noqa: S103 - whatever the umask, the web server reads it
        for filename, data in files.items():
            _fsynced_write(staging / filename, data)
        final = versions / name
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    link = out / f".{CURRENT}.{secrets.token_hex(4)}.tmp"
    os.symlink(Path(_VERSIONS) / name, link, target_is_directory=True)
    try:
        os.replace(link, out / CURRENT)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        raise
    return final


def _prune(versions: Path, *, keep: str) -> None:
    """Remove all but the newest versions (a server may still be reading the previous ones)."""
    names = sorted(
        (p.name for p in versions.iterdir() if _VERSION_NAME.fullmatch(p.name)), reverse=True
    )
    for name in names[_KEEP_VERSIONS:]:
        if name != keep:
            shutil.rmtree(versions / name, ignore_errors=True)
    for stale in versions.glob(".*.tmp"):  # left by an export that was killed mid-way
        with contextlib.suppress(OSError):
            if datetime.now().timestamp() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)


def export_hook(
    out_dir: str | os.PathLike[str],
    *,
    flag: control.Target = None,
    settings: Settings | Mapping[str, Any] | None = None,
    **options: Any,
) -> Callable[[Event], None]:
    """An ``on_change`` hook that re-exports on every transition (the ``export_dir`` option).

    Transitions that come from the clock (a window that starts, an expiry) are not
    writes, so no shell re-exports for them; the engine's hook does.
    """

    def hook(event: Event) -> None:
        export(out_dir, flag=flag, settings=settings, **options)

    return hook


def follow(settings: Settings) -> per_process:
    """The ``export_dir`` option: keep the export in step from inside the app.

    Returns a hook that re-exports on every transition (the clock's too: a window
    that starts, an expiry) in every process, since each host may have its own
    folder; exports into one folder are serialised by its lock. One export runs
    at start-up, in a background thread, so the folder is ready before the first
    transition. A flag no command can write (``env:``, a callable) is refused here:
    nothing would keep such an export current while the app is down.
    """
    out = settings.export_dir
    if out is None:
        raise ValueError("maintenance-mode: follow() needs the export_dir option")
    try:
        control.store(settings.flag)
    except control.InvalidChange as exc:
        raise ValueError(
            f"maintenance-mode: option 'export_dir' needs a flag file or Redis: {exc}"
        ) from None

    def run() -> None:
        try:
            export(out, settings=settings)
        except Exception as exc:  # logged: the app serves on, the export is only a copy
            logger.warning("export_dir: could not export to %s: %s", out, exc)

    threading.Thread(target=run, name="maintenance-mode-export", daemon=True).start()
    return per_process(lambda event: run())


def after_change(settings: Settings, change: control.Change) -> tuple[str, ...]:
    """For shells: re-export after a change when ``export_dir`` is set; returns the warnings.

    Raises :class:`ExportError` (the change itself is written).
    """
    if settings.export_dir is None:
        return ()
    return export(settings.export_dir, flag=change.status, settings=settings).warnings


# -- proxy configurations -----------------------------------------------------------------


def _template(name: str) -> Any:
    import jinja2

    source = resources.files("maintenance_mode").joinpath("proxies", name).read_text("utf-8")
    env = jinja2.Environment(
        autoescape=False,  # noqa: S701 - server configurations, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.from_string(source)


_UPSTREAM = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}")
_LISTEN = re.compile(r"(?:(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):)?\d{1,5}")
_SNIPPET_FILES: Final[dict[str, str]] = {
    "nginx": "nginx.conf",
    "caddy": "Caddyfile",
    "apache": "apache.conf",
    "haproxy": "haproxy.cfg",
}


def proxy_snippet(
    server: ProxyServer | str,
    *,
    out_dir: str | os.PathLike[str],
    upstream: str = "127.0.0.1:8000",
    mode: ProxyMode | str = "fallback",
    settings: Settings | Mapping[str, Any] | None = None,
    listen: str = "80",
    server_name: str | None = None,
    trigger: str | os.PathLike[str] | None = None,
) -> str:
    """The configuration that serves the export in ``out_dir`` for ``server``.

    ``upstream`` is the app (``host:port``); ``listen`` the address or port to listen
    on. In ``fallback`` mode the server answers with the export only when the app
    cannot (connection refused, reset, timeout): the app's own 503 passes through.
    ``proxy-side`` adds: while ``trigger`` (default ``DIR/maintenance.on``, which
    :func:`export` keeps in step with the flag) exists, the server answers 503 by
    itself, except for the ``allow`` and ``health_paths`` options, the status
    document, and the ``bypass_ips``. No reload is needed for either to switch.
    Either way the export's form follows the app's negotiation (``Accept``, and
    ``json_paths`` always problem+json), as closely as each server can express it.
    ``settings`` None reuses the options of the last export into ``out_dir``.
    """
    from . import i18n

    if server not in _SNIPPET_FILES:
        raise control.InvalidChange(
            f"unknown server {server!r}; choose one of {', '.join(PROXY_SERVERS)}"
        )
    if mode not in ("fallback", "proxy-side"):
        raise control.InvalidChange(f"unknown mode {mode!r}; choose 'fallback' or 'proxy-side'")
    if not _UPSTREAM.fullmatch(upstream):
        raise control.InvalidChange(
            f"upstream {upstream!r} must be HOST:PORT, like 127.0.0.1:8000 or [::1]:8000"
        )
    if not _LISTEN.fullmatch(listen):
        raise control.InvalidChange(f"listen {listen!r} must be PORT or ADDRESS:PORT, like 80")
    if server_name is not None and not re.fullmatch(r"[A-Za-z0-9.*-]{1,253}", server_name):
        raise control.InvalidChange(f"server name {server_name!r} must be a host name")
    out = Path(out_dir).absolute()
    s = _settings(settings, out)
    marker = Path(trigger).absolute() if trigger is not None else out / ON_FILE
    for path in (out, marker):
        if re.search(r"[\s\"'\\;{}#$`]", str(path)):
            raise control.InvalidChange(
                f"{path} has a space, quote or special character that server configurations "
                "cannot hold safely; choose a plain path"
            )
    catalogs = i18n.load_catalogs(default=s.default_locale, locale_dir=s.locale_dir, only=s.locales)
    default = catalogs.default
    languages = [i18n.language_tag(loc) for loc in (default, *catalogs.available) if loc]
    languages = list(dict.fromkeys(languages))
    exact: list[str] = []
    prefixes: list[str] = []
    for entry in (*s.health_paths, *s.allow):
        (prefixes if entry.endswith("/") and entry != "/" else exact).append(entry)
    json_exact = [entry for entry in s.json_paths if entry == "/" or not entry.endswith("/")]
    json_prefixes = [entry for entry in s.json_paths if entry not in json_exact]
    host, _, port = listen.rpartition(":")
    context = {
        "out_dir": str(out),
        "current": str(out / CURRENT),
        "internal": INTERNAL_PATH,
        "trigger": str(marker),
        "trigger_dir": str(marker.parent),
        "trigger_name": marker.name,
        "upstream": upstream,
        "listen": listen,
        "listen_host": host or "",
        "listen_port": port,
        "server_name": server_name,
        "proxy_side": mode == "proxy-side",
        "mode": mode,
        "status_path": s.status_path,
        "exact": exact,
        # Longest first: several servers stop at the first pattern that matches.
        "prefixes": sorted(prefixes, key=len, reverse=True),
        "bypass_ips": list(s.bypass_ips),
        # The json_paths option: answered with problem+json whatever the Accept.
        "json_exact": json_exact,
        "json_prefixes": sorted(json_prefixes, key=len, reverse=True),
        "accept_rules": _ACCEPT_RULES,
        "languages": languages,
        "default_language": languages[0],
        # Longest tag first (pt-BR before pt), for first-match language maps.
        "language_patterns": sorted(languages, key=len, reverse=True),
        "retry_default": max(s.retry_after_min, min(s.retry_after_default, s.retry_after_max)),
        "frame_csp": FRAME_CSP,
        # HAProxy's internal socket for the export: one per export folder on the machine.
        "socket_name": "maintenance_export_"
        + hashlib.sha256(str(out).encode("utf-8")).hexdigest()[:12],
    }
    rendered: str = _template(_SNIPPET_FILES[server]).render(context)
    return rendered
