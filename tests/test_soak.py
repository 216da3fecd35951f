"""Soak: the flag flips ~10 times a second under load, on real uvicorn and gunicorn.

For each server (``tests/apps/soak_app.py``, started with ``run_server``), a
flipper thread writes the flag file atomically and removes it again every 0.1 s
while load threads send requests over keep-alive connections to 127.0.0.1 for
``MAINTENANCE_SOAK_SECONDS`` (default 6) seconds. The run must show:

* no 500 and no traceback in the server log (the fixture also checks);
* every 503 carries the maintenance page (HTML, or the problem+json document)
  with the flag's reason, every 200 the app's own body, ``/faq`` is always 200;
* both states seen many times, in every load thread;
* the server processes' resident memory (master and workers) flat between the
  first and the second half of the run, no worker restarted, and every worker
  served (every 20th request closes its connection, so connections spread).

The figures are printed (run with ``-s`` to see them); docs/security.md quotes them.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from maintenance_mode import MaintenanceState, write_state_atomic

pytestmark = pytest.mark.slow

APPS = Path(__file__).parent / "apps"
SECONDS = float(os.environ.get("MAINTENANCE_SOAK_SECONDS", "6"))
LOAD_THREADS = 6
FLIP_EVERY = 0.1
REASON = "Soak: flipping maintenance"
#: Allowed growth of the summed resident memory, second half over first half.
RSS_MARGIN_KIB = 4 * 1024

SERVERS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn": lambda port: [
        sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "--log-level", "warning", "soak_app:asgi_app",
    ],
    "gunicorn": lambda port: [
        sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "4",
        "-b", f"127.0.0.1:{port}", "soak_app:wsgi_app",
    ],
}  # fmt: skip


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # fields: state, ppid, ...
            found.append(int(entry))
    return sorted(found)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Tally:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    transitions: list[int] = field(default_factory=list)
    served_by: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def check_response(kind: str, response: httpx.Response) -> str | None:
    """None if the response is consistent, else what is wrong with it."""
    status, body = response.status_code, response.content
    if kind == "faq":
        ok = (status, body) == (200, b"app:/faq")
    elif status == 200:
        ok = body == b"app:/checkout"
    elif status == 503:
        retry = response.headers.get("retry-after", "")
        if kind == "json":
            ok = response.headers["content-type"] == "application/problem+json"
            ok = ok and json.loads(body)["reason"] == REASON
        else:
            ok = response.headers["content-type"] == "text/html; charset=utf-8"
            ok = ok and REASON.encode() in body
        ok = ok and retry.isdigit() and response.headers["cache-control"] == "no-store"
    else:
        ok = False
    return None if ok else f"{kind} {status} {body[:120]!r}"


def load(base: str, deadline: float, tally: Tally) -> None:
    kinds = ["html", "json", "html", "faq"]
    accept = {"html": "text/html", "json": "application/problem+json", "faq": "text/html"}
    statuses: Counter[tuple[str, int]] = Counter()
    served_by: set[str] = set()
    last: int | None = None
    flips = 0
    n = 0
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            while time.monotonic() < deadline:
                kind = kinds[n % len(kinds)]
                n += 1
                path = "/faq" if kind == "faq" else "/checkout"
                headers = {"Accept": accept[kind]}
                if n % 20 == 0:  # a new connection now and then, so every worker gets some
                    headers["Connection"] = "close"
                response = client.get(path, headers=headers)
                statuses[kind, response.status_code] += 1
                if response.status_code == 200:
                    served_by.add(response.headers.get("x-worker-pid", "?"))
                problem = check_response(kind, response)
                if problem is not None:
                    with tally.lock:
                        tally.bad.append(problem)
                if kind != "faq":
                    if last is not None and response.status_code != last:
                        flips += 1
                    last = response.status_code
    except Exception as exc:  # reported by the test, never swallowed
        with tally.lock:
            tally.errors.append(repr(exc))
    with tally.lock:
        tally.statuses.update(statuses)
        tally.transitions.append(flips)
        tally.served_by |= served_by


@pytest.mark.parametrize("name", list(SERVERS))
def test_soak_flipping_flag_under_load(
    name: str, run_server: Callable[..., object], tmp_path: Path
) -> None:
    flag = tmp_path / "maintenance.json"
    env = {"MAINTENANCE_FILE": str(flag), "SOAK_CHECK_INTERVAL": "0.05"}
    server = run_server(SERVERS[name], env=env, cwd=APPS, ready_path="/faq")
    base: str = server.base  # type: ignore[attr-defined]
    master: int = server.proc.pid  # type: ignore[attr-defined]
    workers = children(master)
    pids = [master, *workers]

    stop = threading.Event()
    flips = 0

    def flipper() -> None:
        nonlocal flips
        state = MaintenanceState(reason=REASON)
        while not stop.wait(FLIP_EVERY):
            if flips % 2 == 0:
                write_state_atomic(flag, state)
            else:
                flag.unlink(missing_ok=True)
            flips += 1

    samples: list[tuple[float, int]] = []

    def sampler(started: float) -> None:
        while not stop.wait(0.2):
            samples.append((time.monotonic() - started, sum(rss_kib(pid) for pid in pids)))

    tally = Tally()
    started = time.monotonic()
    deadline = started + SECONDS
    threads = [threading.Thread(target=flipper), threading.Thread(target=sampler, args=(started,))]
    threads += [
        threading.Thread(target=load, args=(base, deadline, tally)) for _ in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads[2:]:
        thread.join(timeout=SECONDS + 30)
    elapsed = time.monotonic() - started
    stop.set()
    for thread in threads[:2]:
        thread.join(timeout=5)
    flag.unlink(missing_ok=True)

    total = sum(tally.statuses.values())
    first = [kib for t, kib in samples if t < SECONDS / 2]
    second = [kib for t, kib in samples if t >= SECONDS / 2]
    growth = max(second) - max(first)
    by_status = Counter()
    for (_, status), count in tally.statuses.items():
        by_status[status] += count
    print(
        f"\nsoak {name}: {elapsed:.1f} s, {total} requests, {total / elapsed:.0f} req/s, "
        f"{flips} flips, statuses {dict(sorted(by_status.items()))}, "
        f"per kind {dict(sorted(tally.statuses.items()))}, "
        f"state changes seen per load thread {tally.transitions}, "
        f"processes {len(pids)} (workers {workers}, app answers from {sorted(tally.served_by)}), "
        f"RSS KiB first half median/max {statistics.median(first):.0f}/{max(first)}, "
        f"second half median/max {statistics.median(second):.0f}/{max(second)}, "
        f"growth {growth:+d} KiB"
    )

    assert not tally.errors, tally.errors[:5]
    assert not tally.bad, tally.bad[:10]
    assert set(by_status) <= {200, 503}, by_status  # no 500, nothing else either
    assert flips >= SECONDS / FLIP_EVERY * 0.4
    assert by_status[503] > 100
    assert tally.statuses["html", 200] > 100
    assert min(tally.transitions) >= flips / 4, "every load thread saw both states many times"
    assert children(master) == workers, "a worker died or was restarted"
    assert tally.served_by == {str(pid) for pid in workers or [master]}, "every worker served"
    assert growth <= RSS_MARGIN_KIB, f"resident memory grew by {growth} KiB"

    log = server.stop()  # type: ignore[attr-defined]
    for marker in ("Traceback", "Exception", "Error", "WORKER TIMEOUT", " 500 "):
        assert marker not in log, log[-3000:]
