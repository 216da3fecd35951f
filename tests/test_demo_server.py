"""End to end: ``maintenance demo`` under real uvicorn on 127.0.0.1, driven over real HTTP."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


class Demo:
    def __init__(self, proc: subprocess.Popen[str], base: str, flag: Path, banner: str) -> None:
        self.proc, self.base, self.flag, self.banner = proc, base, flag, banner
        match = re.search(r"/__maintenance__/([A-Za-z0-9_-]+)", banner)
        assert match, banner
        self.secret = match.group(1)

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "maintenance_mode", "--file", str(self.flag), *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]) -> Iterator[Demo]:
    flag = tmp_path_factory.mktemp("demo") / "maintenance.json"
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maintenance_mode",
            "demo",
            "--port",
            str(port),
            "--file",
            str(flag),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    banner = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        proc.kill()
        pytest.fail("demo did not start: " + "".join(banner))
    text = "".join(banner)
    assert "Uvicorn running on" in text, text
    # Keep draining the server's log so a full pipe can never block it.
    drain = threading.Thread(target=lambda: banner.extend(proc.stdout or ()), daemon=True)
    drain.start()
    try:
        yield Demo(proc, f"http://127.0.0.1:{port}", flag, text)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
        drain.join(timeout=5)
        proc.stdout.close()
    log = "".join(banner)
    assert "Traceback" not in log, log


def wait_for(url: str, status: int, *, timeout: float = 3.0) -> httpx.Response:
    """Poll until ``url`` answers ``status`` (the check interval is 1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_demo_serves_the_maintenance_page(demo: Demo) -> None:
    assert "switch off:" in demo.banner
    page = httpx.get(demo.base + "/", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert page.headers["cache-control"] == "no-store"
    assert 0 < int(page.headers["retry-after"]) <= 3600
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Demo Shop" in page.text
    assert "payment system" in page.text

    problem = httpx.get(demo.base + "/blog", headers={"Accept": "application/json"})
    assert problem.status_code == 503
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["status"] == 503

    for lite in ("/faq", "/contact", "/static/style.css", "/healthz"):
        assert httpx.get(demo.base + lite).status_code == 200, lite
    assert httpx.post(demo.base + "/contact", content=b"email=a%40b.c").status_code == 200
    assert httpx.post(demo.base + "/checkout", content=b"card=1").status_code == 503

    head = httpx.head(demo.base + "/", headers={"Accept": "text/html"})
    assert head.status_code == 503
    assert head.content == b""
    assert head.headers["content-length"] == page.headers["content-length"]


def test_demo_bypass(demo: Demo) -> None:
    r = httpx.get(demo.base + "/checkout", headers={"X-Maintenance-Bypass": demo.secret})
    assert r.status_code == 200
    assert "Checkout" in r.text
    assert r.headers["cache-control"] == "private, no-store"
    with httpx.Client(base_url=demo.base) as browser:
        redirect = browser.get(f"/__maintenance__/{demo.secret}")
        assert redirect.status_code == 303
        assert browser.get("/checkout").status_code == 200
    assert httpx.get(demo.base + "/__maintenance__/wrong-secret-wrong-secret").status_code == 503


def test_websocket_handshake_refused_with_503(demo: Demo) -> None:
    port = int(demo.base.rsplit(":", 1)[1])
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        head = sock.recv(65536).decode("latin-1")
    status_line = head.split("\r\n", 1)[0]
    assert status_line.startswith("HTTP/1.1 503"), head
    assert "retry-after:" in head.lower()


def test_cli_toggles_the_running_server(demo: Demo) -> None:
    off = demo.cli("off")
    assert off.returncode == 0, off.stderr
    back = wait_for(demo.base + "/checkout", 200)
    assert back.status_code == 200
    assert "Checkout" in back.text

    on = demo.cli("on", "--reason", "Second round", "--eta", "30m")
    assert on.returncode == 0, on.stderr
    down = wait_for(demo.base + "/checkout", 503)
    assert down.status_code == 503
    assert "Second round" in down.text

    bad = demo.cli("on", "--eta", "whenever")
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "Second round" in httpx.get(demo.base + "/").text  # a typo changed nothing
