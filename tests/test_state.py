"""The state document: validation, round trip, atomic writes."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from maintenance_mode.state import (
    MAX_STATE_BYTES,
    ETARange,
    MaintenanceState,
    StateFileError,
    dump_state,
    load_state,
    write_state_atomic,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_round_trip() -> None:
    state = MaintenanceState(
        kind="unplanned",
        reason="Database failover",
        started_at=T0,
        eta=ETARange(earliest=T0 + timedelta(hours=1), latest=T0 + timedelta(hours=3)),
        allow=("/status",),
    ).with_update("Replica promoted", at=T0 + timedelta(minutes=5))
    again = load_state(dump_state(state))
    assert again == state
    assert again.eta_earliest == T0 + timedelta(hours=1)
    assert again.eta_latest == T0 + timedelta(hours=3)
    assert again.updates[0].text == "Replica promoted"


def test_point_eta_and_offsets() -> None:
    paris = timezone(timedelta(hours=1))
    state = load_state(json.dumps({"eta": "2026-11-27T14:00:00+01:00"}))
    assert state.eta == datetime(2026, 11, 27, 14, tzinfo=paris)
    assert state.eta_earliest == state.eta_latest


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{not json", "not valid JSON", id="broken json"),
        pytest.param(b'{"reason": "x"', "not valid JSON", id="half-written"),
        pytest.param(b"[1, 2]", "must hold a JSON object", id="array"),
        pytest.param(b'"on"', "must hold a JSON object", id="string"),
        pytest.param(b'{"eta": "2026-11-27T14:00:00"}', "eta", id="naive datetime"),
        pytest.param(b'{"kind": "sometimes"}', "kind", id="bad kind"),
        pytest.param(b'{"reasn": "typo"}', "reasn", id="unknown field"),
        pytest.param(
            b'{"eta": {"earliest": "2026-11-27T14:00Z", "latest": "2026-11-27T12:00Z"}}',
            "latest must not be before",
            id="reversed range",
        ),
        pytest.param(b'{"allow": ["faq"]}', "starting with '/'", id="relative allow path"),
        pytest.param(b'{"allow": ["/a/../b"]}', "'..' segment", id="dot-dot allow path"),
        pytest.param(b'{"allow": ["/faq?x"]}', "query", id="allow path with query"),
        pytest.param(b"\xff\xfe", "not UTF-8", id="binary"),
        pytest.param(b"[" * 60_000, "JSON", id="deeply nested"),
        pytest.param(b" " * (MAX_STATE_BYTES + 1), "larger than", id="too large"),
        pytest.param(b'{"version": 2}', "version", id="future version"),
    ],
)
def test_invalid_documents(content: bytes, message: str) -> None:
    with pytest.raises(StateFileError) as info:
        load_state(content)
    text = str(info.value)
    assert message in text
    assert "\n" not in text  # one line, for logs and the CLI


@pytest.mark.parametrize("content", [b"", b"  \n", b"{}"], ids=["empty", "blank", "empty object"])
def test_empty_means_defaults(content: bytes) -> None:
    assert load_state(content) == MaintenanceState()


def test_with_update_validates() -> None:
    with pytest.raises(ValueError, match="at least 1 character"):
        MaintenanceState().with_update("")


def test_write_is_atomic_and_world_readable(tmp_path: Path) -> None:
    target = tmp_path / "flag.json"
    old_umask = os.umask(0o077)  # a strict umask must not make the file unreadable to workers
    try:
        written = write_state_atomic(target, MaintenanceState(reason="first"))
    finally:
        os.umask(old_umask)
    assert written == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    inode = target.stat().st_ino
    write_state_atomic(target, MaintenanceState(reason="second"))
    assert target.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert load_state(target.read_bytes()).reason == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["flag.json"]  # no temp files left


def test_write_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "is-a-dir"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        write_state_atomic(target, MaintenanceState())
    assert [p.name for p in tmp_path.iterdir()] == ["is-a-dir"]


def test_json_schema_describes_fields() -> None:
    schema = MaintenanceState.model_json_schema()
    assert {"kind", "reason", "eta", "updates", "allow", "started_at"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
