"""The writers' size rule: a long incident never outgrows what the app reads.

Every writer keeps the flag document under ``control.MAX_WRITE_BYTES`` (below the
engine's ``MAX_STATE_BYTES``) by moving the oldest progress updates to an archive
beside it, never the reason, message, ETA, windows or the latest updates.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.util import setup_testing_defaults

import httpx
import pytest

from maintenance_mode import control
from maintenance_mode._types import Receive, Scope, Send
from maintenance_mode.asgi import MaintenanceMiddleware as AsgiMiddleware
from maintenance_mode.cli import main
from maintenance_mode.state import (
    MAX_STATE_BYTES,
    MaintenanceState,
    load_state,
    write_state_atomic,
)
from maintenance_mode.wsgi import MaintenanceMiddleware as WsgiMiddleware

if TYPE_CHECKING:
    from conftest import RedisServer

REASON = "Our database cluster is being rebuilt after a disk failure."
MESSAGE = "Orders are paused; the FAQ and the contact form keep working."


def test_the_writers_limit_is_below_the_engines() -> None:
    assert control.MAX_WRITE_BYTES < MAX_STATE_BYTES


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@dataclass
class Posted:
    flag: Path
    archive: Path
    warnings: list[str]


def _archived(archive: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in archive.read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> Posted:
    """1,200 updates posted through the CLI on one incident (shared: it takes a while)."""
    flag = tmp_path_factory.mktemp("long") / "maintenance.json"
    argv = ["--file", str(flag)]  # not --quiet: it would hide the warnings
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        started = main(
            ["on", *argv, "--kind", "unplanned", "--reason", REASON, "--message", MESSAGE]
        )
        codes = {main(["update", *argv, f"update {n:04d}: still working"]) for n in range(1200)}
        eta = main(["update", *argv, "--eta", "2h..4h", "update 1200: nearly there"])
    assert (started, codes, eta) == (0, {0}, 0)
    warnings = [line for line in err.getvalue().splitlines() if "moved" in line]
    return Posted(flag, flag.with_name(".maintenance.json.archive.jsonl"), warnings)


@pytest.mark.slow
def test_1200_updates_keep_the_reason_and_the_latest_under_the_limit(posted: Posted) -> None:
    data = posted.flag.read_bytes()
    assert len(data) <= control.MAX_WRITE_BYTES
    doc = load_state(data)  # what the engine reads: under its limit, valid
    assert (doc.kind, doc.reason, doc.message) == ("unplanned", REASON, MESSAGE)
    assert doc.eta is not None
    assert doc.updates[-1].text == "update 1200: nearly there"
    assert doc.updates[-2].text == "update 1199: still working"
    archived = _archived(posted.archive)
    assert doc.archived_updates == len(archived) > 0
    # Nothing lost, nothing twice, in order: the archive, then the document.
    texts = [entry["text"] for entry in archived] + [u.text for u in doc.updates]
    expected = [f"update {n:04d}: still working" for n in range(1200)]
    assert texts == [*expected, "update 1200: nearly there"]
    assert {entry["started_at"] for entry in archived} == {
        doc.started_at.isoformat().replace("+00:00", "Z") if doc.started_at else None
    }
    # Said so, once per batch (not on every update).
    assert posted.warnings
    assert len(posted.warnings) < 20
    assert "older updates to " in posted.warnings[0]
    assert str(posted.archive) in posted.warnings[0]
    assert posted.warnings[0].endswith("the page shows the latest ones")


@pytest.mark.slow
def test_status_tells_how_many_were_archived(
    posted: Posted, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--file", str(posted.flag), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["on"] is True
    assert out["problem"] is None
    assert out["document"]["archived_updates"] == len(_archived(posted.archive))
    assert out["state"]["reason"] == REASON


def _wsgi_get(app: Callable[..., Any], path: str, accept: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path, "HTTP_ACCEPT": accept}
    setup_testing_defaults(environ)
    status: list[str] = []

    def start_response(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        status.append(code)

    body = b"".join(app(environ, start_response))
    return status[0], body


@pytest.mark.slow
def test_a_wsgi_app_on_the_long_flag_serves_the_503_and_the_status(posted: Posted) -> None:
    def inner(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the app"]

    app = WsgiMiddleware(inner, flag=posted.flag)
    code, page = _wsgi_get(app, "/checkout", "text/html")
    assert code.startswith("503")
    assert REASON.encode() in page
    code, problem = _wsgi_get(app, "/checkout", "application/json")
    assert json.loads(problem)["reason"] == REASON
    code, status = _wsgi_get(app, "/__maintenance__/status", "application/json")
    assert code.startswith("200")
    document = json.loads(status)
    assert document["status"]["indicator"] != "none"
    entries = [*document.get("incidents", ()), *document.get("scheduled_maintenances", ())]
    bodies = [u["body"] for entry in entries for u in entry.get("incident_updates", ())]
    assert "update 1200: nearly there" in bodies


@pytest.mark.slow
@pytest.mark.anyio
async def test_an_asgi_app_on_the_long_flag_serves_the_503_and_the_status(
    posted: Posted,
) -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"the app"})

    transport = httpx.ASGITransport(app=AsgiMiddleware(inner, flag=posted.flag))
    async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
        page = await client.get("/checkout")
        status = await client.get("/__maintenance__/status")
    assert page.status_code == 503
    assert REASON in page.text
    assert status.status_code == 200
    assert status.json()["status"]["indicator"] != "none"


@pytest.mark.slow
def test_off_after_archiving_ends_it_and_keeps_the_count(
    posted: Posted, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "maintenance.json"
    flag.write_bytes(posted.flag.read_bytes())  # a copy: the other tests read the original
    before = load_state(flag.read_bytes())
    code, err = _cli(capsys, "off", "--file", str(flag))
    assert (code, err) == (0, "")
    after = load_state(flag.read_bytes())
    assert after.ended_at is not None
    assert (after.reason, after.updates) == (before.reason, before.updates)
    assert after.archived_updates == before.archived_updates
    assert control.status(flag).on is False


# -- the rule itself, through control ---------------------------------------------------


def _near_the_limit(flag: Path, count: int) -> MaintenanceState:
    """A running incident with ``count`` long updates, just under the writers' limit."""
    state = control.on(flag, reason=REASON, kind="unplanned").status.document
    assert state is not None
    updates = [{"at": state.started_at, "text": f"note {n:03d} " + "x" * 400} for n in range(count)]
    doc = MaintenanceState.model_validate({**state.model_dump(), "updates": updates})
    while len(json.dumps(doc.model_dump(mode="json"), indent=2)) > control.MAX_WRITE_BYTES - 1500:
        doc = doc.model_copy(update={"updates": doc.updates[1:]})
    write_state_atomic(flag, doc)
    return doc


def test_parallel_updates_near_the_limit_lose_nothing(flag_path: Path) -> None:
    start = _near_the_limit(flag_path, 200)
    errors: list[BaseException] = []

    def post(worker: int) -> None:
        try:
            for n in range(15):
                control.update(flag_path, f"worker {worker} note {n} " + "y" * 300)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    doc = load_state(flag_path.read_bytes())
    archived = _archived(flag_path.with_name(".maintenance.json.archive.jsonl"))
    assert len(flag_path.read_bytes()) <= control.MAX_WRITE_BYTES
    assert doc.archived_updates == len(archived) > 0
    texts = [entry["text"] for entry in archived] + [u.text for u in doc.updates]
    assert len(texts) == len(set(texts)) == len(start.updates) + 6 * 15
    assert doc.reason == REASON
    # Each worker's notes stay in the order it posted them.
    for worker in range(6):
        mine = [t.split(" ", 4)[3] for t in texts if t.startswith(f"worker {worker} ")]
        assert mine == [str(n) for n in range(15)]


def test_the_change_says_where_the_updates_went(flag_path: Path) -> None:
    _near_the_limit(flag_path, 200)
    change = control.update(flag_path, "one more " + "z" * 3000)
    archive = flag_path.with_name(".maintenance.json.archive.jsonl")
    [warning] = change.warnings
    assert warning.startswith("moved ")
    assert f"older updates to {archive} " in warning
    assert change.status.document is not None
    assert change.status.document.updates[-1].text.startswith("one more ")
    # Below the limit again, the next update moves nothing.
    assert control.update(flag_path, "and another").warnings == ()


def test_a_new_maintenance_starts_its_count_afresh(flag_path: Path) -> None:
    _near_the_limit(flag_path, 200)
    control.update(flag_path, "one more " + "z" * 3000)
    control.off(flag_path)
    document = control.on(flag_path, reason="Another day").status.document
    assert document is not None
    assert (document.archived_updates, document.updates) == (0, ())


def test_windows_too_large_for_the_app_are_refused(flag_path: Path) -> None:
    long = "w" * 4000
    for day in range(2, 9):  # seven windows: past the writers' limit, within the app's
        control.schedule(flag_path, start=f"{day}d", end="2h", reason=long, message=long)
    assert control.MAX_WRITE_BYTES < len(flag_path.read_bytes()) <= MAX_STATE_BYTES
    with pytest.raises(control.InvalidChange, match=f"more than the {MAX_STATE_BYTES} the app"):
        control.schedule(flag_path, start="9d", end="2h", reason=long, message=long)
    data = flag_path.read_bytes()
    assert len(data) <= MAX_STATE_BYTES
    assert len(load_state(data).windows) == 7  # the last good document is intact


def test_a_single_text_too_long_is_refused_by_validation(flag_path: Path) -> None:
    control.on(flag_path, reason="deploy")
    with pytest.raises(control.InvalidChange, match="at most 4000 characters"):
        control.update(flag_path, "x" * 4001)


# -- Redis -----------------------------------------------------------------------------


@pytest.mark.slow
def test_redis_keeps_the_value_under_the_limit_and_archives_in_order(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--redis", redis_server.url]
    assert _cli(capsys, "on", *argv, "--reason", REASON)[0] == 0
    warnings = []
    for n in range(300):
        code, err = _cli(capsys, "update", *argv, f"redis note {n:03d} " + "r" * 200)
        assert code == 0
        warnings += [line for line in err.splitlines() if "moved" in line]
    client = redis_server.client()
    key = "maintenance_mode:state"
    value = client.get(key)
    assert value is not None
    assert len(value) <= control.MAX_WRITE_BYTES
    doc = load_state(value)
    archived = [json.loads(item) for item in client.lrange(f"{key}:archive", 0, -1)]
    assert doc.reason == REASON
    assert doc.archived_updates == len(archived) > 0
    texts = [e["text"] for e in archived] + [u.text for u in doc.updates]
    assert texts == [f"redis note {n:03d} " + "r" * 200 for n in range(300)]
    assert warnings
    assert f"key {key}:archive" in warnings[0]
    assert _cli(capsys, "off", *argv) == (0, "")
    assert control.status(redis_server.url).on is False


@pytest.mark.slow
def test_redis_parallel_updates_near_the_limit_lose_nothing(redis_server: RedisServer) -> None:
    control.on(redis_server.url, reason=REASON)

    def post(worker: int) -> None:
        for n in range(40):
            control.update(redis_server.url, f"worker {worker} note {n} " + "y" * 300)

    threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = redis_server.client()
    value = client.get("maintenance_mode:state")
    assert value is not None
    doc = load_state(value)
    archived = client.lrange("maintenance_mode:state:archive", 0, -1)
    assert doc.archived_updates == len(archived) > 0
    texts = [json.loads(item)["text"] for item in archived] + [u.text for u in doc.updates]
    assert len(texts) == len(set(texts)) == 160
