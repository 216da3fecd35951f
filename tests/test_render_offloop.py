"""Rendering after a state change never runs on the event loop (issue 20).

Under a real uvicorn, a state change with 1,000 updates makes each language's page
render again. The app records, for every Jinja2 render, whether it ran on the thread of
a running event loop: none may. The templates are made slow on purpose (a tenth of a
second or more a render), so that a render on the loop would also hold every concurrent
request that long; the latencies of health requests meanwhile are reported, not
asserted (timings on a shared machine are the benchmarks' business).
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from conftest import Server
from maintenance_mode.state import MaintenanceState, ProgressUpdate

APP = """
import asyncio, json, os
import jinja2
from maintenance_mode.asgi import MaintenanceMiddleware

RENDERS = []  # (template, ran on an event loop's thread)
_render = jinja2.Template.render

def render(self, *args, **kwargs):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        RENDERS.append((self.name, False))
    else:
        RENDERS.append((self.name, True))
    return _render(self, *args, **kwargs)

jinja2.Template.render = render

async def inner(scope, receive, send):
    if scope["type"] != "http":
        return
    body = json.dumps(RENDERS).encode() if scope["path"] == "/renders" else b"ok"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})

app = MaintenanceMiddleware(
    inner, flag=os.environ["FLAG"], check_interval=0.05, template_dir=os.environ["TEMPLATES"],
    locales=["en", "fr", "de", "es"], allow=["/renders"],
)
"""
#: The default page, plus a loop that makes each render take a tenth of a second or more.
SLOW = (
    '{% extends "default/maintenance.html" %}'
    "{% block updates %}{% for i in range(LOOPS) %}{% endfor %}{{ super() }}{% endblock %}"
)
LANGS = ("en", "fr", "de", "es")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def latencies(client: httpx.Client, until: Callable[[], bool], at_least: int) -> list[float]:
    found: list[float] = []
    while len(found) < at_least or not until():
        start = time.perf_counter()
        assert client.get("/health").status_code == 200
        found.append(time.perf_counter() - start)
        time.sleep(0.002)
    return found


def test_a_state_change_with_1000_updates_does_not_hold_up_requests(
    tmp_path: Path, run_server: Callable[..., Server]
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "maintenance.html").write_text(SLOW.replace("LOOPS", "3000000"))
    (tmp_path / "offloop_app.py").write_text(APP)
    flag = tmp_path / "maintenance.json"
    env = {"FLAG": str(flag), "TEMPLATES": str(templates), "PYTHONPATH": str(tmp_path)}
    server = run_server(
        lambda port: [
            sys.executable,
            "-m",
            "uvicorn",
            "offloop_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        ready_path="/health",
    )
    with httpx.Client(base_url=server.base, timeout=30) as client:
        baseline = latencies(client, lambda: True, 200)

        now = datetime.now(UTC).replace(microsecond=0)
        updates = tuple(
            ProgressUpdate(at=now - timedelta(seconds=n), text=f"S{n}") for n in range(1000)
        )
        doc = MaintenanceState(reason="Database upgrade", updates=updates)
        tmp = flag.with_suffix(".tmp")  # compact (44 kB): under the 64 KiB the engine reads
        tmp.write_text(doc.model_dump_json())
        tmp.replace(flag)
        time.sleep(0.3)  # every check has seen it (check_interval=0.05)

        pages: list[tuple[str, int, float]] = []

        def visit() -> None:  # one page per language: each renders in a worker thread
            with httpx.Client(base_url=server.base, timeout=60) as visitor:
                threads = [threading.Thread(target=one, args=(visitor, lang)) for lang in LANGS]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

        def one(visitor: httpx.Client, lang: str) -> None:
            start = time.perf_counter()
            r = visitor.get("/", headers={"Accept": "text/html", "Accept-Language": lang})
            pages.append((lang, r.status_code, time.perf_counter() - start))
            shown = [n for n in range(1000) if f">S{n}<" in r.text]
            assert shown == [0, 1, 2, 3, 4], r.text[r.text.find("<main") :][:3000]

        visitor = threading.Thread(target=visit)
        visitor.start()
        during = latencies(client, lambda: not visitor.is_alive(), 30)
        visitor.join()
        renders = [tuple(r) for r in client.get("/renders").json()]

    assert sorted(status for _, status, _ in pages) == [503] * 4
    # Each language's page rendered (slowly), and no render ran on the event loop's thread.
    assert sum(name == "maintenance.html" for name, _ in renders) >= len(LANGS), renders
    assert [render for render in renders if render[1]] == []
    assert max(seconds for *_, seconds in pages) > 0.08, pages
    added = p95(during) - p95(baseline)
    print(f"health p95 {p95(baseline) * 1e3:.1f} ms before, {added * 1e3:+.1f} ms during renders")
