"""Flag sources: file semantics, env vocabulary, callables."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from maintenance_mode import CallableFlag, EnvFlag, FileFlag, FlagError, MaintenanceState
from maintenance_mode.state import write_state_atomic


def test_file_absent_is_off(flag_path: Path) -> None:
    assert FileFlag(flag_path).read() is None


def test_file_present_is_on_with_details(flag_path: Path) -> None:
    write_state_atomic(flag_path, MaintenanceState(reason="upgrade"))
    state = FileFlag(flag_path).read()
    assert state is not None
    assert state.reason == "upgrade"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"reason": "half', id="half-written"),
        pytest.param(b"not json at all", id="garbage"),
        pytest.param(b'{"kind": "never"}', id="invalid field"),
    ],
)
def test_bad_content_is_on_with_defaults_and_one_warning(
    flag_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    flag_path.write_bytes(content)
    source = FileFlag(flag_path)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        assert source.read() == MaintenanceState()
        assert source.read() == MaintenanceState()  # unchanged file: no second warning
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == (1 if content else 0)


def test_reparses_only_on_change(flag_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_state_atomic(flag_path, MaintenanceState(reason="one"))
    source = FileFlag(flag_path)
    opens: list[str] = []
    real_open = os.open

    def counting_open(path: object, *args: object, **kwargs: object) -> int:
        opens.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", counting_open)
    first = source.read()
    for _ in range(5):
        assert source.read() is first
    assert len(opens) == 1
    write_state_atomic(flag_path, MaintenanceState(reason="two"))
    second = source.read()
    assert second is not None
    assert second.reason == "two"


def test_directory_fifo_and_unreadable_are_on(tmp_path: Path) -> None:
    directory = tmp_path / "dir.json"
    directory.mkdir()
    assert FileFlag(directory).read() == MaintenanceState()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert FileFlag(fifo).read() == MaintenanceState()  # never blocks on a FIFO


def test_unreadable_file_is_on(flag_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root (CI runs as root), so make open() fail as it would for a user.
    flag_path.write_text('{"reason": "x"}')

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    assert FileFlag(flag_path).read() == MaintenanceState()


def test_symlinks_are_followed_and_swaps_seen(tmp_path: Path) -> None:
    # Kubernetes ConfigMap layout: flag -> ..data/flag, ..data -> ..2026_a (swapped by rename)
    for name, reason in (("..2026_a", "first"), ("..2026_b", "second")):
        (tmp_path / name).mkdir()
        write_state_atomic(tmp_path / name / "flag.json", MaintenanceState(reason=reason))
    (tmp_path / "..data").symlink_to("..2026_a")
    (tmp_path / "flag.json").symlink_to("..data/flag.json")
    source = FileFlag(tmp_path / "flag.json")
    first = source.read()
    assert first is not None
    assert first.reason == "first"
    (tmp_path / "..data_tmp").symlink_to("..2026_b")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    second = source.read()
    assert second is not None
    assert second.reason == "second"


def test_dangling_and_looping_symlinks_raise(tmp_path: Path) -> None:
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FlagError, match="dangling symlink"):
        FileFlag(dangling).read()
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(FlagError, match="cannot stat"):
        FileFlag(loop).read()


def test_parent_is_a_file_means_off(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    assert FileFlag(tmp_path / "plain" / "flag.json").read() is None


@pytest.mark.parametrize(
    ("value", "on"),
    [
        *(pytest.param(v, True, id=f"on {v!r}") for v in ["1", "true", "TRUE", " on ", "Yes"]),
        *(pytest.param(v, False, id=f"off {v!r}") for v in ["0", "false", "Off", "no", "", "  "]),
    ],
)
def test_env_vocabulary(value: str, on: bool) -> None:
    source = EnvFlag("M", environ={"M": value})
    assert (source.read() is not None) is on


def test_env_unset_is_off() -> None:
    assert EnvFlag("M", environ={}).read() is None


@pytest.mark.parametrize("value", ["2", "enabled", "truee", "y", "nope"])
def test_env_rejects_other_words(value: str) -> None:
    with pytest.raises(ValueError, match="use one of 1/0, true/false, on/off, yes/no"):
        EnvFlag("M", environ={"M": value})


def test_callable_sync_bool_and_state() -> None:
    assert CallableFlag(lambda: True).read() == MaintenanceState()
    assert CallableFlag(lambda: False).read() is None
    custom = MaintenanceState(reason="from the database")
    assert CallableFlag(lambda: custom).read() is custom


@pytest.mark.parametrize(
    "value",
    [None, "false", "true", 0, 1, {"on": True}],
    ids=["None", "string false", "string true", "zero", "one", "dict"],
)
def test_callable_wrong_type_is_an_error(value: object) -> None:
    with pytest.raises(FlagError, match="must return True, False or a MaintenanceState"):
        CallableFlag(lambda: value).read()


def test_callable_exception_becomes_flag_error() -> None:
    def broken() -> bool:
        raise ConnectionError("store down")

    with pytest.raises(FlagError, match="ConnectionError: store down"):
        CallableFlag(broken).read()


def test_callable_keyboard_interrupt_propagates() -> None:
    def interrupted() -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        CallableFlag(interrupted).read()


def test_async_callable_in_sync_and_async_context() -> None:
    async def on() -> bool:
        await asyncio.sleep(0)
        return True

    source = CallableFlag(on)
    assert source.is_async
    assert source.read() == MaintenanceState()  # WSGI: run to completion in its own loop
    assert asyncio.run(source.aread()) == MaintenanceState()


def test_async_callable_timeout() -> None:
    async def slow() -> bool:
        await asyncio.sleep(5)
        return True

    source = CallableFlag(slow, timeout=0.05)
    with pytest.raises(FlagError, match="timed out"):
        asyncio.run(source.aread())
    with pytest.raises(FlagError, match="timed out"):
        source.read()


def test_sync_callable_under_asyncio_runs_in_a_thread() -> None:
    import threading

    seen: list[str] = []

    def check() -> bool:
        seen.append(threading.current_thread().name)
        return False

    assert asyncio.run(CallableFlag(check).aread()) is None
    assert seen
    assert seen[0] != threading.main_thread().name


def test_callable_constructor_checks() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        CallableFlag("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        CallableFlag(lambda: True, timeout=0)


def test_blocking_custom_source_runs_in_a_thread_under_asyncio() -> None:
    import threading

    from maintenance_mode import FlagSource

    class Store(FlagSource):
        blocking = True

        def __init__(self) -> None:
            self.thread = ""

        def read(self) -> MaintenanceState | None:
            self.thread = threading.current_thread().name
            return None

    store = Store()
    assert asyncio.run(store.aread()) is None
    assert store.thread != threading.main_thread().name


def test_symlink_target_gone_between_stat_and_open_is_not_off(tmp_path: Path) -> None:
    """A ConfigMap swap can remove the old target after the stat: that is no reason for OFF."""
    target = tmp_path / "..data_1" / "maintenance.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "maintenance.json"
    link.symlink_to(target)
    source = FileFlag(link)
    st = os.stat(link)
    key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
    target.unlink()  # as if the swapper removed the old folder right after our stat
    with pytest.raises(FlagError, match="changed while it was read"):
        source._load(st, key)
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    st = os.stat(plain)
    plain.unlink()  # a plain file removed after the stat: OFF, as before
    assert FileFlag(plain)._load(st, key) == (None, None)
