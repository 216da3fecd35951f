"""In-process overhead of the middleware per request, as ratios within one run.

    .venv/bin/python benchmarks/overhead.py            # full run (about a minute)
    .venv/bin/python benchmarks/overhead.py --quick    # a smoke run (CI)

Each variant drives a bare ASGI app and a bare WSGI app directly (no server),
interleaved over several repeats, and prints the median time per request and
the overhead over the bare app next to a do-nothing pass-through middleware
(the floor any middleware pays). Wall-clock times on shared machines are noisy:
read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.state import MaintenanceState, write_state_atomic
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

# -- bare apps and the floor --------------------------------------------------------------


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class ASGIPassThrough:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class WSGIPassThrough:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


# -- drivers ------------------------------------------------------------------------------

SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/checkout",
    "raw_path": b"/checkout",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"example.com"), (b"accept", b"text/html")],
    "client": ("198.51.100.1", 5000),
    "scheme": "http",
}
ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/checkout",
    "SCRIPT_NAME": "",
    "REMOTE_ADDR": "198.51.100.1",
    "HTTP_ACCEPT": "text/html",
    "wsgi.url_scheme": "http",
}


def time_asgi(app: Any, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def loop() -> float:
        start = time.perf_counter()
        for _ in range(n):
            await app(SCOPE, receive, send)
        return (time.perf_counter() - start) / n

    return asyncio.run(loop())


def time_wsgi(app: Any, n: int) -> float:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    start = time.perf_counter()
    for _ in range(n):
        for _chunk in app(ENVIRON, start_response):
            pass
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred requests, for CI")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("-n", type=int, default=20_000, help="requests per repeat")
    args = parser.parse_args(argv)
    n, repeats = (300, 2) if args.quick else (args.n, args.repeats)

    folder = Path(tempfile.mkdtemp())
    off_flag, on_flag = folder / "off.json", folder / "on.json"
    write_state_atomic(on_flag, MaintenanceState(reason="benchmark"))
    variants: dict[str, tuple[Callable[[Any, int], float], Any]] = {
        "asgi bare": (time_asgi, asgi_app),
        "asgi pass-through": (time_asgi, ASGIPassThrough(asgi_app)),
        "asgi ours, off": (time_asgi, ASGIMaintenance(asgi_app, flag=off_flag)),
        "asgi ours, on (503)": (time_asgi, ASGIMaintenance(asgi_app, flag=on_flag)),
        "wsgi bare": (time_wsgi, wsgi_app),
        "wsgi pass-through": (time_wsgi, WSGIPassThrough(wsgi_app)),
        "wsgi ours, off": (time_wsgi, WSGIMaintenance(wsgi_app, flag=off_flag)),
        "wsgi ours, on (503)": (time_wsgi, WSGIMaintenance(wsgi_app, flag=on_flag)),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved, so drift hits every variant alike
        for name, (timer, app) in variants.items():
            samples[name].append(timer(app, n))

    print(f"python {sys.version.split()[0]}, {n} requests x {repeats} repeats, median")
    print(f"{'variant':24} {'per request':>12} {'overhead':>10} {'vs floor':>9}")
    for kind in ("asgi", "wsgi"):
        bare = statistics.median(samples[f"{kind} bare"])
        floor = statistics.median(samples[f"{kind} pass-through"]) - bare
        for name in variants:
            if not name.startswith(kind):
                continue
            median = statistics.median(samples[name])
            overhead = median - bare
            ratio = f"{overhead / floor:8.1f}x" if floor > 0 and name != f"{kind} bare" else ""
            print(f"{name:24} {median * 1e6:9.2f} µs {overhead * 1e6:7.2f} µs {ratio:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
