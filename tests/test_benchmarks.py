"""Keep the benchmark scripts runnable (quick smoke runs; no timing assertions)."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


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


@pytest.mark.slow
def test_benchmark_suite_quick_run(tmp_path: Path) -> None:
    """run.py --quick: every app and variant of ours answers as it should, and a report is made."""
    results = tmp_path / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    data = json.loads(results.read_text())
    assert set(data) >= {"meta", "inprocess", "touch", "memory"}
    inprocess = data["inprocess"]
    for app in ("raw-asgi", "starlette", "fastapi", "raw-wsgi", "flask", "django"):
        # Each variant was checked before it was timed: the status is the one it must be.
        assert inprocess[f"{app}:bare"]["status"] == 200
        assert inprocess[f"{app}:off"]["status"] == 200
        assert inprocess[f"{app}:allow"]["status"] == 200
        assert inprocess[f"{app}:bypass"]["status"] == 200
        assert inprocess[f"{app}:on-html"]["status"] == 503
        assert inprocess[f"{app}:on-html"]["content_type"].startswith("text/html")
        assert inprocess[f"{app}:on-json"]["content_type"] == "application/problem+json"
        assert len(inprocess[f"{app}:bare"]["samples"]) == 2
    for row in data["touch"]["rows"]:  # counts, not timings: no file or env access per request
        assert row["env_reads"] == 0
        assert row["py_open"] == 0
        assert row["py_stat"] <= row["seconds"] / row["check_interval"] + 1
    if shutil.which("valgrind"):  # one server under callgrind, dumped around its requests
        [(name, row)] = data["http-callgrind"]["rows"].items()
        assert name == "starlette:bare"
        assert row["statuses"] == [200]
        assert len(row["ir"]) == 2
        assert all(ir > 10_000 for ir in row["ir"])
    else:
        assert "valgrind" in data["http-callgrind"]["skipped"]
    assert (tmp_path / "quick.md").read_text().startswith("# maintenance-mode benchmark")
    assert "## Targets" in proc.stdout


def test_scaling_rows_build_and_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of scaling.py's table builds and answers as its row says (no valgrind)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _variants
    import scaling
    from _common import Runner

    runner = Runner()
    names = [name for _, name in scaling.rows()]
    assert {"scaling:conc100-blocked", "scaling:upd1000-render-html"} <= set(names)
    for name in names:
        variant = _variants.build(name, tmp_path)
        runner.check(variant)
        if ":conc" in name:  # BATCH requests a call, each answered as the row says
            expect = 503 if name.endswith("blocked") else 200
            assert variant.app() == [expect] * _variants.BATCH, name
            variant.keep.close()
        elif "-render-" in name:  # a re-render returns the whole 503, the newest update shown
            response = variant.app()
            assert response.status == 503, name
            assert (b"S999" if "1000" in name else b"S9") in response.body, name
    runner.asgi.loop.close()


def test_the_footprint_verdict_uses_instructions_when_measured() -> None:
    """Instructions over bare + pydantic, in ms at that worker's own rate, decide the verdict."""
    sys.path.insert(0, str(BENCHMARKS))
    import _report

    def worker(ms: float, mb: float, ir: float) -> dict[str, float]:
        return {"ms": ms, "mb": mb, "ir": ir}

    found = {}
    for app, over in (("django", 10e6), ("flask", 30e6), ("fastapi", 10e6)):
        found[f"{app}:bare"] = worker(100, 40, 400e6)
        found[f"{app}:pydantic"] = worker(150, 48, 600e6)  # 4M instructions per ms
        found[f"{app}:off"] = worker(190, 50, 600e6 + over)  # CPU time says +40 ms: noise
    targets = _report.Targets()
    text = _report.footprint(found, targets)
    assert "+10.0M instructions = +2.5 ms" in text
    assert "+30.0M instructions = +7.5 ms" in text
    assert [verdict for _, _, verdict in targets.rows] == ["met"] * 3
    found["flask:off"]["ir"] = 600e6 + 64e6  # +16 ms: over the 15 ms budget
    targets = _report.Targets()
    _report.footprint(found, targets)
    assert [verdict for _, _, verdict in targets.rows] == ["met", "**missed**", "met"]
