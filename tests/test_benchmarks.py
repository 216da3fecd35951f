"""Keep the benchmark scripts runnable (a quick smoke; no timing assertions)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_overhead_benchmark_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["overhead.py", "--quick"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(BENCHMARKS / "overhead.py"), run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for variant in (
        "asgi ours, off",
        "asgi ours, on (503)",
        "wsgi ours, off",
        "wsgi ours, on (503)",
    ):
        assert variant in out
