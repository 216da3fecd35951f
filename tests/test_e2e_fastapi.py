"""End to end: the FastAPI app in tests/apps under real uvicorn and hypercorn, over real HTTP.

Every server is started on a free port of 127.0.0.1 and stopped by the test; the
``maintenance`` CLI flips the flag file while the servers run. The app checks the
flag every 0.5 s (``check_interval``), so every worker must follow a toggle
within 1.5 s.
"""

from __future__ import annotations

import base64
import inspect
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h11
import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.slow

APPS = Path(__file__).parent / "apps"
SECRET = "fastapi-e2e-secret-0123456789"
BYPASS = {"X-Maintenance-Bypass": SECRET}
CHECK_INTERVAL = 0.5  # as configured in tests/apps/fastapi_app.py
BOUND = CHECK_INTERVAL + 1.0  # what the issue promises: every worker within interval + 1 s
REASON = "Upgrading the payment system"

RunServer = Callable[..., "Server"]


def app_env(flag: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(APPS), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "MAINTENANCE_FILE": str(flag), "MAINTENANCE_BYPASS_SECRET": SECRET}


def uvicorn(*options: str, target: str = "fastapi_app:app") -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            *options,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            target,
        ]

    return argv


def hypercorn(*options: str) -> Callable[[int], list[str]]:
    def argv(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "hypercorn",
            *options,
            "--bind",
            f"127.0.0.1:{port}",
            "fastapi_app:app",
        ]

    return argv


def maintenance(flag: Path, *argv: str) -> None:
    """Run the ``maintenance`` CLI as ops would, against the running servers' flag file."""
    done = subprocess.run(
        [sys.executable, "-m", "maintenance_mode", "--file", str(flag), *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def raw(server: Server, target: str) -> tuple[int, bytes]:
    """One request with an arbitrary request-target, as a client or a proxy could send it."""
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET", target=target, headers=[("Host", "127.0.0.1"), ("Connection", "close")]
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
        status, body = 0, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, body


def ws_handshake(server: Server, path: str = "/ws") -> tuple[int, dict[str, str], bytes]:
    """A WebSocket opening handshake on a raw socket, the answer parsed strictly by h11."""
    key = base64.b64encode(os.urandom(16)).decode()
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target=path,
        headers=[
            ("Host", f"127.0.0.1:{server.port}"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ],
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
        status, headers, body = 0, [], b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.InformationalResponse | h11.Response):
                status = event.status_code
                headers = [(k.decode(), v.decode("latin-1")) for k, v in event.headers]
                if status == 101:
                    break
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
    names = [name for name, _ in headers]
    assert len(names) == len(set(names)), f"duplicate headers: {headers}"
    return status, dict(headers), body


#: websockets 15 and later would go through $HTTPS_PROXY/$ALL_PROXY: never for 127.0.0.1.
#: Earlier ones (the lowest pin) have no proxy support, nor the argument.
NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(connect).parameters else {}
)


def echo(server: Server, **headers: str) -> str:
    with connect(
        f"ws://127.0.0.1:{server.port}/ws", additional_headers=headers, open_timeout=5, **NO_PROXY
    ) as ws:
        ws.send("ping")
        reply = ws.recv(timeout=5)
    assert isinstance(reply, str)
    return reply


def lifespan_ran(server: Server) -> bool:
    """Whether the app's lifespan start-up ran (asked through the bypass, maintenance or not)."""
    answer = httpx.get(server.base + "/lifespan", headers=BYPASS)
    assert answer.status_code == 200, answer.text
    started: bool = answer.json()["started"]
    return started


@pytest.fixture
def on(flag_path: Path) -> Path:
    """Maintenance ON before the server starts."""
    maintenance(flag_path, "on", "--reason", REASON)
    return flag_path


# -- uvicorn --workers 2: toggles reach every worker ---------------------------------------


class Workers:
    """One kept-alive connection per worker, so each worker can be asked on its own."""

    def __init__(self, server: Server, stack: ExitStack) -> None:
        """New connections until every ready worker (``server.pids``) holds one of them."""
        self.clients: dict[str, httpx.Client] = {}

        def connect() -> str:
            client = stack.enter_context(httpx.Client(base_url=server.base))
            pid = self.pid(client)
            if pid in self.clients:
                client.close()
            else:
                self.clients[pid] = client
            return pid

        server.reach_workers(server.pids, connect)

    @staticmethod
    def pid(client: httpx.Client) -> str:
        answer = client.get("/pid", headers=BYPASS)
        assert answer.status_code == 200, answer.text
        return answer.headers["x-worker-pid"]

    def toggle(self, flag: Path, *argv: str) -> tuple[float, dict[str, float]]:
        """Run ``maintenance on|off`` while every worker keeps answering requests.

        Returns when the flag file changed, and per worker the seconds from that moment
        to its first answer with the new status. The workers are asked all the time, so
        each one has checked the flag less than ``check_interval`` before the write: the
        delay measured is the real one, not a check that was already due.
        """
        command = argv[0]
        status = 503 if command == "on" else 200
        cli = subprocess.Popen(
            [sys.executable, "-m", "maintenance_mode", "--file", str(flag), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        written: float | None = None
        seen: dict[str, float] = {}
        give_up = time.monotonic() + 30
        while len(seen) < len(self.clients) and time.monotonic() < give_up:
            if written is None and flag.exists() == (command == "on"):
                written = time.monotonic()
                give_up = written + BOUND + 2
            for pid, client in self.clients.items():
                if client.get("/").status_code == status and pid not in seen:
                    if written is None:  # written between the check above and this request
                        written = time.monotonic()
                    seen[pid] = time.monotonic() - written
            time.sleep(0.02)
        _, stderr = cli.communicate(timeout=30)
        assert cli.returncode == 0, stderr
        assert written is not None, f"maintenance {command} changed nothing"
        # Still the same connections, so still the same workers (keep-alive did not lapse).
        for pid, client in self.clients.items():
            assert self.pid(client) == pid
        return written, seen


def fresh(server: Server) -> httpx.Client:
    """A client that opens a new connection for every request, so requests spread over workers."""
    return httpx.Client(
        base_url=server.base,
        headers={"Connection": "close"},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def test_uvicorn_two_workers_follow_the_cli(run_server: RunServer, flag_path: Path) -> None:
    # --timeout-keep-alive: the per-worker connections must outlive a toggle.
    server = run_server(
        uvicorn("--workers", "2", "--timeout-keep-alive", "60"), env=app_env(flag_path)
    )
    server.ready_workers("uvicorn", 2)  # both have loaded the app and run its lifespan

    with ExitStack() as stack:
        spread = stack.enter_context(fresh(server))

        def pids(path: str = "/pid", **headers: str) -> set[str]:
            """Worker PIDs seen over fresh connections, asked until both ready ones answered.

            The kernel picks which worker accepts a connection (one run saw 200 connections
            in a row go to the first worker), so this is bounded by time, not by a count.
            """

            def ask() -> str:
                answer = spread.get(path, headers=headers)
                assert answer.status_code == 200, answer
                return str(answer.headers["x-worker-pid"])

            return set(server.reach_workers(server.pids, ask))

        # Off: the app answers, and fresh connections reach both workers.
        home = spread.get("/")
        assert (home.status_code, "Welcome to the shop" in home.text) == (200, True)
        assert spread.get("/api/v1/items").json()[0]["name"] == "teapot"
        both = pids()
        assert len(both) == 2, both
        workers = Workers(server, stack)
        assert set(workers.clients) == both

        # On, from the shell, while the server runs: every worker converges within the bound.
        toggled, took = workers.toggle(flag_path, "on", "--reason", REASON, "--eta", "2h")
        assert set(took) == both, f"workers still serving the app after {BOUND}s: {took}"
        assert max(took.values()) <= BOUND, took
        time.sleep(max(0.0, toggled + BOUND - time.monotonic()))
        assert set(server.statuses("/", requests=40)) == {503}

        # The 503 for browsers, and problem+json for API clients of the router.
        page = spread.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 503
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-store"
        assert 3600 < int(page.headers["retry-after"]) <= 8100  # 2h, up to the quarter hour
        assert REASON in page.text
        problem = spread.get("/api/v1/items/1", headers={"Accept": "application/json"})
        assert problem.status_code == 503
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["status"] == 503
        assert problem.json()["reason"] == REASON

        # Lite routes: a plain route, and a route of the router mounted under /api/v1.
        assert {spread.get("/faq").status_code for _ in range(10)} == {200}
        assert {spread.get("/api/v1/health").status_code for _ in range(10)} == {200}
        assert spread.get("/api/v1/health").json() == {"status": "ok"}

        # Secret bypass by header reaches the real app on both workers, never cached.
        assert pids(**BYPASS) == both
        bypassed = spread.get("/api/v1/items", headers=BYPASS)
        assert bypassed.json()[1]["name"] == "kettle"
        assert bypassed.headers["cache-control"] == "private, no-store"

        # Secret URL: 303 to the home page with a cookie, which then works on both workers.
        with httpx.Client(base_url=server.base) as browser:
            redirect = browser.get(f"/__maintenance__/{SECRET}")
            assert redirect.status_code == 303
            assert redirect.headers["location"] == "/"
            assert redirect.headers["referrer-policy"] == "no-referrer"
            home = browser.get("/")
            assert (home.status_code, "Welcome to the shop" in home.text) == (200, True)
            cookie = f"maintenance_bypass={browser.cookies['maintenance_bypass']}"
        assert pids(Cookie=cookie) == both
        assert spread.get("/__maintenance__/not-the-secret-at-all").status_code == 503

        # Off again: every worker serves the app within the bound, no restart.
        toggled, took = workers.toggle(flag_path, "off")
        assert set(took) == both, f"workers still in maintenance after {BOUND}s: {took}"
        assert max(took.values()) <= BOUND, took
        time.sleep(max(0.0, toggled + BOUND - time.monotonic()))
        assert set(server.statuses("/", requests=40)) == {200}


# -- root_path behind a proxy -----------------------------------------------------------------


def test_uvicorn_root_path_behind_a_stripping_proxy(run_server: RunServer, on: Path) -> None:
    """The proxy serves the app at https://example.com/shop/ and forwards ``/shop/x`` as ``/x``.

    uvicorn >= 0.26 then puts ``path = root_path + forwarded path`` in the scope, as the
    ASGI spec says; the middleware matches ``path`` minus ``root_path``.
    """
    server = run_server(uvicorn("--root-path", "/shop"), env=app_env(on))
    # The lifespan went through the middleware although maintenance was on at start-up.
    assert lifespan_ran(server)

    assert httpx.get(server.base + "/faq").text == "FAQ: orders ship within two days."
    assert httpx.get(server.base + "/api/v1/health").status_code == 200
    assert httpx.get(server.base + "/").status_code == 503
    assert httpx.get(server.base + "/api/v1/items").status_code == 503

    # The bypass URL sends the browser back to the app's home under the proxy: /shop/.
    redirect = httpx.get(server.base + f"/__maintenance__/{SECRET}")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/shop/"
    assert "Path=/shop/" in redirect.headers["set-cookie"]
    # The browser sends the cookie to /shop/, which the proxy forwards as /.
    cookie = redirect.headers["set-cookie"].split(";", 1)[0]
    home = httpx.get(server.base + "/", headers={"Cookie": cookie})
    assert (home.status_code, "Welcome to the shop" in home.text) == (200, True)

    # A request-target without the leading "/": h11 makes path "/shopfaq", outside the root,
    # so not the lite route /faq (503); httptools (uvicorn[standard]) refuses it (400).
    assert raw(server, "faq")[0] in {400, 503}
    assert raw(server, "/faq") == (200, b"FAQ: orders ship within two days.")
    # A proxy that does not strip the prefix sends /shop/faq: the app sees /shop/faq,
    # which is not on the allowlist (allow entries are app-relative).
    assert raw(server, "/shop/faq")[0] == 503


def test_hypercorn_root_path_is_not_in_path(run_server: RunServer, on: Path) -> None:
    """Hypercorn 0.18 does not prefix ``path`` with ``root_path``: the proxy must not strip.

    Forwarded unstripped (``/shop/faq``), the scope is what the spec describes and lite
    routes work. Stripped (``/faq``), ``path`` lies outside ``root_path``; the middleware
    refuses to guess and serves the 503 (fail closed), though Starlette would route it.
    """
    server = run_server(hypercorn("--root-path", "/shop"), env=app_env(on))
    assert httpx.get(server.base + "/shop/faq").status_code == 200
    assert httpx.get(server.base + "/shop/").status_code == 503
    redirect = httpx.get(server.base + f"/shop/__maintenance__/{SECRET}")
    assert (redirect.status_code, redirect.headers["location"]) == (303, "/shop/")

    assert httpx.get(server.base + "/faq").status_code == 503
    assert httpx.get(server.base + f"/__maintenance__/{SECRET}").status_code == 503


# -- WebSockets on real servers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        # uvicorn >= 0.25 offers "websocket.http.response": the handshake gets the real 503.
        pytest.param(uvicorn("--ws", "websockets-sansio"), 503, id="uvicorn-websockets-sansio"),
        pytest.param(uvicorn("--ws", "wsproto"), 503, id="uvicorn-wsproto"),
        # hypercorn 0.18 offers it too (hypercorn/protocol/ws_stream.py puts it in the scope).
        pytest.param(hypercorn(), 503, id="hypercorn"),
        # A server without the extension (Daphne): close before accept, which the spec
        # says the server must turn into HTTP 403.
        pytest.param(
            uvicorn(target="fastapi_app:app_without_ws_http_response"),
            403,
            id="uvicorn-without-extension",
        ),
    ],
)
def test_websocket_refused_while_down_and_echo_when_up(
    run_server: RunServer, on: Path, argv: Callable[[int], list[str]], refusal: int
) -> None:
    server = run_server(argv, env=app_env(on))
    assert lifespan_ran(server)

    status, headers, body = ws_handshake(server)
    assert status == refusal, (status, headers, body)
    if refusal == 503:
        assert headers["cache-control"] == "no-store"
        assert int(headers["retry-after"]) >= 60
        # A handshake sends no Accept: it is a client, not a page view (problem+json).
        assert headers["content-type"] == "application/problem+json"
        assert REASON.encode() in body
    with pytest.raises(InvalidStatus) as refused:
        echo(server)
    assert refused.value.response.status_code == refusal

    # The team's secret header opens the socket while the site is down.
    assert echo(server, **BYPASS) == "echo: ping"

    maintenance(on, "off")
    assert server.wait_for("/", 200, timeout=BOUND).status_code == 200
    assert ws_handshake(server)[0] == 101
    assert echo(server) == "echo: ping"
