"""Drivers, requests and statistics shared by every benchmark process (standard library only).

ASGI apps are called directly with a scope, ``receive`` and ``send``; WSGI apps
with an environ and ``start_response``. No HTTP client sits in between, so the
numbers are the app's and the middleware's own. Every variant pays the same
driver cost (a copy of the scope or environ, two bound-method calls), which the
bare app's row includes too, so overheads are differences of like with like.
"""

from __future__ import annotations

import functools
import gc
import io
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # imported by ASGIDriver: the footprint of a WSGI worker leaves it out
    import asyncio

#: The secret of the "bypassed client" variants (sent as the bypass header).
SECRET = "bench-secret-0123456789abcdef"
BYPASS_HEADER = "X-Maintenance-Bypass"
PATH = "/hello"
#: The client address every request comes from (the peers' IP-bypass variant allows it).
CLIENT = "203.0.113.7"

Kind = Literal["asgi", "wsgi", "call"]
RequestKind = Literal["html", "json", "bypass"]

_ACCEPT = {
    "html": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "json": "application/json",
    "bypass": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}


def headers_for(request: RequestKind) -> list[tuple[str, str]]:
    """What a browser-ish client sends; the bypass request adds the secret header."""
    headers = [
        ("host", "bench.example"),
        ("user-agent", "bench/1.0"),
        ("accept", _ACCEPT[request]),
        ("accept-encoding", "gzip, deflate"),
        ("accept-language", "en-GB,en;q=0.9"),
    ]
    if request == "bypass":
        headers.append((BYPASS_HEADER.lower(), SECRET))
    return headers


def asgi_scope(request: RequestKind = "html", path: str = PATH) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers_for(request)],
        "client": (CLIENT, 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


_EMPTY_INPUT = io.BytesIO(b"")


def wsgi_environ(request: RequestKind = "html", path: str = PATH) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": CLIENT,
        "REMOTE_PORT": "50000",
        "CONTENT_LENGTH": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": _EMPTY_INPUT,
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers_for(request):
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


@dataclass
class Variant:
    """One thing to measure: an app (or a plain callable) and the request it gets."""

    name: str
    kind: Kind
    app: Any
    request: Mapping[str, Any] = field(default_factory=dict)
    expect: int = 200
    #: Called before each batch (peers whose settings are process-global).
    before: Callable[[], None] | None = None
    #: Things kept alive with the variant (temp files, engines).
    keep: Any = None


# -- drivers --------------------------------------------------------------------------------

_REQUEST_MESSAGE = {"type": "http.request", "body": b"", "more_body": False}
_DISCONNECT = {"type": "http.disconnect"}


class ASGIDriver:
    """``receive`` gives the (empty) body, then waits for the response to finish, like a server."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.status = 0
        self.requested = False
        self.done = False
        self.waiter: asyncio.Future[None] | None = None
        self.capture: list[dict[str, Any]] | None = None

    async def receive(self) -> Mapping[str, Any]:
        if not self.requested:
            self.requested = True
            return _REQUEST_MESSAGE
        if not self.done:
            self.waiter = self.loop.create_future()
            await self.waiter
        return _DISCONNECT

    async def send(self, message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif not message.get("more_body", False):
            self.done = True
            if self.waiter is not None:
                self.waiter.set_result(None)
                self.waiter = None
        if self.capture is not None:
            self.capture.append(dict(message))

    async def _loop(self, app: Any, scope: Mapping[str, Any], n: int) -> float:
        receive, send = self.receive, self.send
        start = time.perf_counter()
        for _ in range(n):
            self.requested = self.done = False
            await app(dict(scope), receive, send)
        return time.perf_counter() - start

    def run(self, app: Any, scope: Mapping[str, Any], n: int) -> float:
        """Seconds for ``n`` requests (measured inside the loop)."""
        return self.loop.run_until_complete(self._loop(app, scope, n))

    def probe(self, app: Any, scope: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
        self.capture = []
        try:
            self.run(app, scope, 1)
            messages = self.capture
        finally:
            self.capture = None
        headers: dict[str, str] = {}
        body = b""
        for message in messages:
            if message["type"] == "http.response.start":
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")
        return self.status, headers, body


class WSGIDriver:
    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        self.status = status
        self.headers = headers
        return _no_write

    def run(self, app: Any, environ: Mapping[str, Any], n: int) -> float:
        start_response = self.start_response
        start = time.perf_counter()
        for _ in range(n):
            result: Iterable[bytes] = app(dict(environ), start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return time.perf_counter() - start

    def probe(self, app: Any, environ: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
        result = app(dict(environ), self.start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(self.status.split()[0]), {k.lower(): v for k, v in self.headers}, body


def _no_write(data: bytes) -> object:
    return None


def _run_calls(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


class Runner:
    """Runs batches of any variant kind in this process."""

    def __init__(self) -> None:
        self.wsgi = WSGIDriver()

    @functools.cached_property
    def asgi(self) -> ASGIDriver:
        return ASGIDriver()

    def run(self, variant: Variant, n: int) -> float:
        """Seconds for ``n`` requests of ``variant``."""
        if variant.kind == "asgi":
            return self.asgi.run(variant.app, variant.request, n)
        if variant.kind == "wsgi":
            return self.wsgi.run(variant.app, variant.request, n)
        return _run_calls(variant.app, n)

    def probe(self, variant: Variant) -> tuple[int, dict[str, str], bytes]:
        if variant.before is not None:
            variant.before()
        if variant.kind == "asgi":
            return self.asgi.probe(variant.app, variant.request)
        if variant.kind == "wsgi":
            return self.wsgi.probe(variant.app, variant.request)
        variant.app()
        return variant.expect, {}, b""

    def check(self, variant: Variant) -> dict[str, Any]:
        """One request, checked: a benchmark of the wrong response would be worthless."""
        status, headers, body = self.probe(variant)
        if status != variant.expect:
            raise SystemExit(
                f"benchmark variant {variant.name}: expected status {variant.expect}, got "
                f"{status} ({body[:200]!r})"
            )
        return {
            "status": status,
            "content_type": headers.get("content-type", ""),
            "body_bytes": len(body),
        }


def measure(
    variants: Sequence[Variant],
    *,
    repeats: int,
    target_seconds: float,
    fixed_n: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-request seconds for each variant: ``repeats`` batches, interleaved A B C A B C."""
    runner = Runner()
    results: dict[str, dict[str, Any]] = {}
    sizes: dict[str, int] = {}
    for variant in variants:
        info = runner.check(variant)
        if fixed_n is not None:
            runner.run(variant, 10)
            n = fixed_n
        else:
            runner.run(variant, 50)  # warm-up: caches, specialised bytecode, lazy stacks
            per = runner.run(variant, 50) / 50
            n = int(min(max(target_seconds / max(per, 1e-9), 100), 100_000))
        sizes[variant.name] = n
        results[variant.name] = {**info, "n": n, "samples": []}
    for index in range(repeats):
        if progress is not None:
            progress(f"repeat {index + 1}/{repeats}")
        for variant in variants:
            if variant.before is not None:
                variant.before()
            gc.collect()
            n = sizes[variant.name]
            results[variant.name]["samples"].append(runner.run(variant, n) / n)
    for entry in results.values():
        entry.update(summary(entry["samples"]))
    if "asgi" in vars(runner):  # it made an event loop
        runner.asgi.loop.close()
    return results


def summary(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "q1": q1,
        "q3": q3,
    }


def paired_median(samples: Sequence[float], base: Sequence[float], op: str = "-") -> float:
    """Median over repeats of (sample - base) or (sample / base), pairing repeat i with i."""
    if op == "-":
        values = [a - b for a, b in zip(samples, base, strict=True)]
    else:
        values = [a / b for a, b in zip(samples, base, strict=True)]
    return statistics.median(values)


def marker() -> None:
    """A call callgrind can dump on (``--dump-before=getloadavg``): one libc call, no effect."""
    os.getloadavg()
