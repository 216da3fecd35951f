"""The callable recipes of docs/fleet.md: a SQL row and an HTTP JSON document.

Both go through CallableFlag with a timeout; a slow or failing store is a failed
check (on_error), never a slow or failed request.
"""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from maintenance_mode import MaintenanceState
from maintenance_mode.cli import main
from maintenance_mode.core import Maintenance
from maintenance_mode.state import dump_state, load_state


def _sql_flag(db: Path, ttl: float) -> tuple[Callable[[], bool | MaintenanceState], list[int]]:
    calls: list[int] = []
    cache: list[tuple[float, bool | MaintenanceState]] = []

    def from_database() -> bool | MaintenanceState:
        if cache and time.monotonic() - cache[0][0] < ttl:
            return cache[0][1]
        calls.append(1)
        with closing(sqlite3.connect(db)) as conn, conn:
            row = conn.execute("SELECT active, doc FROM maintenance WHERE id = 1").fetchone()
        value: bool | MaintenanceState = False
        if row is not None and row[0]:
            value = load_state(row[1]) if row[1] else True
        cache[:] = [(time.monotonic(), value)]
        return value

    return from_database, calls


def test_sql_row_recipe_with_cache(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE maintenance (id INTEGER PRIMARY KEY, active INT, doc TEXT)")
        conn.execute("INSERT INTO maintenance VALUES (1, 0, NULL)")
    func, calls = _sql_flag(db, ttl=60)
    engine = Maintenance(flag=func, check_interval=0.01, callable_timeout=0.5)
    assert not engine.poll().on
    doc = dump_state(MaintenanceState(reason="Reindexing"))
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE maintenance SET active = 1, doc = ? WHERE id = 1", (doc,))
    engine.invalidate()
    assert not engine.poll().on  # still within the recipe's own 60 s cache
    assert len(calls) == 1
    func, calls = _sql_flag(db, ttl=0)
    engine = Maintenance(flag=func, check_interval=0.01, callable_timeout=0.5)
    snapshot = engine.poll()
    assert snapshot.on
    assert snapshot.state is not None
    assert snapshot.state.reason == "Reindexing"


class _StatusPage(http.server.BaseHTTPRequestHandler):
    body = b'{"maintenance": false}'
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(type(self).delay)
        body = type(self).body
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (the timeout test)
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def status_page() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StatusPage)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/maintenance.json"
    server.shutdown()
    server.server_close()
    _StatusPage.body, _StatusPage.delay = b'{"maintenance": false}', 0.0


@pytest.mark.anyio
async def test_http_document_recipe_with_timeout(status_page: str) -> None:
    async def from_status_page() -> bool:
        async with httpx.AsyncClient(timeout=1.0) as client:
            response = await client.get(status_page)
            response.raise_for_status()
            value = response.json().get("maintenance")
        if not isinstance(value, bool):
            raise ValueError(f"status page said maintenance={value!r}")
        return value

    engine = Maintenance(flag=from_status_page, check_interval=60, callable_timeout=0.3)
    assert not (await engine.apoll()).on
    _StatusPage.body = json.dumps({"maintenance": True}).encode()
    engine.invalidate()
    assert (await engine.apoll()).on
    _StatusPage.delay = 1.0  # a slow status page: the check gives up, last known stays
    engine.invalidate()
    started = time.monotonic()
    assert (await engine.apoll()).on
    assert time.monotonic() - started < 0.8
    _StatusPage.delay, _StatusPage.body = 0.0, b'{"maintenance": "false"}'
    engine.invalidate()
    assert (await engine.apoll()).on  # a string is an error, never truthiness: last known


def test_explicit_file_wins_over_maintenance_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINTENANCE_REDIS", "redis://127.0.0.1:1/0")
    flag = tmp_path / "m.json"
    assert main(["on", "--file", str(flag)]) == 0
    assert flag.exists()
