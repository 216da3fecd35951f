"""Shared fixtures: a flag file path in a fresh folder, free ports and real servers
(HTTP servers, and a redis-server per test)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

#: What a browser sends when it navigates to a page (Chromium's), which gets the HTML 503.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


@pytest.fixture
def flag_path(tmp_path: Path) -> Path:
    """Where the flag file goes (absent at start: maintenance OFF)."""
    return tmp_path / "maintenance.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Returns a port that was free a moment ago on 127.0.0.1, for servers run as subprocesses."""
    return _free_port


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, like uvicorn."""
    return "asyncio"


class Server:
    """A real server process on 127.0.0.1, started by a test and always stopped after it."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], cwd: Path | None) -> None:
        self.argv = argv
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log: list[str] = []
        #: The worker PIDs, once :meth:`ready_workers` has seen every worker start.
        self.pids: set[str] = set()
        # One client for polling (building an httpx client per request costs ~45 ms of TLS
        # set-up); no keep-alive, so requests spread over the workers like fresh visitors.
        self.http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            cwd=cwd,
        )
        # Drain the log all the time so a full pipe can never block the server.
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)

    def wait_ready(self, path: str = "/", timeout: float = 30.0) -> None:
        """Wait until the server answers HTTP at all (any status)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.argv[0]} exited early:\n{''.join(self.log)}")
            try:
                httpx.get(self.base + path, timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            return
        pytest.fail(f"{self.argv} did not answer within {timeout}s:\n{''.join(self.log)}")

    def wait_log(self, pattern: str, count: int, timeout: float = 60.0) -> list[re.Match[str]]:
        """Wait until ``count`` lines of the server's log match ``pattern``; those matches.

        How a test knows that every worker of a multi-process server has started (each
        logs a line once its app is loaded), instead of hoping that some number of
        requests reaches them all. ``timeout`` only bounds a server that never gets there.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = [m for line in list(self.log) if (m := regex.search(line)) is not None]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                pytest.fail(f"{self.argv[0]} exited early:\n{''.join(self.log)}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{len(found)} of {count} log lines matching {pattern!r} "
                    f"after {timeout}s:\n{''.join(self.log)}"
                )
            time.sleep(0.05)

    def ready_workers(self, kind: str, count: int, timeout: float = 60.0) -> set[str]:
        """Wait until each of ``count`` workers is ready; their PIDs.

        ``kind`` is ``"gunicorn"`` (started with ``-c`` :func:`gunicorn_ready_config`:
        every worker logs its PID once its app is loaded) or ``"uvicorn"`` (every worker
        logs its PID, loads the app, then finishes its lifespan start-up and serves).
        """
        if kind == "gunicorn":
            found = self.wait_log(GUNICORN_READY, count, timeout)
        else:
            found = self.wait_log(r"Started server process \[(\d+)\]", count, timeout)
            self.wait_log(UVICORN_STARTED, count, timeout)
        self.pids = {m[1] for m in found}
        assert len(self.pids) == count, self.pids
        return self.pids

    def reach_workers(
        self, pids: set[str], ask: Callable[[], str], timeout: float = 60.0
    ) -> dict[str, int]:
        """Call ``ask`` (one request, returning the PID that answered) until every worker
        in ``pids`` has answered; how many answers each gave.

        Bounded by time, not by a count of requests: the kernel picks the worker that
        accepts each connection, so a fixed count can miss a ready worker by chance.
        """
        seen: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        while not pids <= seen.keys():
            if time.monotonic() > deadline:
                pytest.fail(f"workers {sorted(pids - seen.keys())} never answered in {timeout}s")
            pid = ask()
            seen[pid] = seen.get(pid, 0) + 1
        return seen

    def wait_for(self, path: str, status: int, *, timeout: float, **kwargs: Any) -> httpx.Response:
        """Poll ``path`` until it answers ``status`` or ``timeout`` passes; the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.http.get(self.base + path, **kwargs)
            if response.status_code == status or time.monotonic() > deadline:
                return response
            time.sleep(0.05)

    def statuses(self, path: str, *, requests: int = 40, **kwargs: Any) -> list[int]:
        """Statuses of ``requests`` requests on fresh connections, spread over the workers."""
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        return [
            self.http.get(self.base + path, headers=headers, **kwargs).status_code
            for _ in range(requests)
        ]

    def stop(self) -> str:
        """Stop the server; return its log (checked for tracebacks by the fixture)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
                self.proc.kill()
                self.proc.wait()
        self.http.close()
        self._drain.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return "".join(self.log)


#: What the gunicorn config of :func:`gunicorn_ready_config` logs for each ready worker.
GUNICORN_READY = r"maintenance-e2e: worker (\d+) ready"
#: What a uvicorn worker logs once its lifespan start-up is over (or the app has none).
UVICORN_STARTED = r"Application startup complete\.|ASGI 'lifespan' protocol appears unsupported\."


def gunicorn_ready_config(folder: Path) -> Path:
    """A gunicorn config file (``-c``) whose workers log a line once their app is loaded."""
    path = folder / "gunicorn_ready.conf.py"
    path.write_text(
        "import sys\n\n\n"
        "def post_worker_init(worker):\n"
        "    sys.stderr.write(f'maintenance-e2e: worker {worker.pid} ready\\n')\n"
        "    sys.stderr.flush()\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def run_server(free_port: Callable[[], int]) -> Iterator[Callable[..., Server]]:
    """Start real servers: ``run_server(lambda port: [argv...], env={...}, cwd=...)``.

    Each server is stopped at teardown and its log must hold no traceback.
    """
    started: list[Server] = []

    def start(
        argv_for_port: Callable[[int], list[str]],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        ready_path: str = "/",
    ) -> Server:
        port = free_port()
        server = Server(argv_for_port(port), port, env or {}, cwd)
        started.append(server)
        server.wait_ready(ready_path)
        return server

    yield start
    logs = [server.stop() for server in started]
    for log in logs:
        assert "Traceback" not in log, log


REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A real redis-server on 127.0.0.1:port that a test can stop and start again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if REDIS_SERVER is None:  # never a skip: `python3 dev.py test` installs it
            pytest.fail("redis-server not found; run python3 dev.py test", pytrace=False)
        self.proc = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--loglevel", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)


@pytest.fixture
def redis_server(free_port: Callable[[], int]) -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()
