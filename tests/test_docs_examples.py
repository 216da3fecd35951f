"""The Python examples in the docs run, and print what their comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(<!-- not run[^>]*-->\n)?```python\n(.*?)```", re.S)
_EXPECTED = re.compile(r"^\s*print\(.*\)\s+#\s(.+)$")


def _examples(name: str) -> list[pytest.ParameterSet]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [
        pytest.param(match[2], id=f"{name}:{text[: match.start()].count(chr(10)) + 1}")
        for match in _BLOCK.finditer(text)
        if not match[1]
    ]


@pytest.mark.parametrize("code", _examples("control.md"))
def test_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("MAINTENANCE_FILE", "MAINTENANCE_REDIS", "MAINTENANCE_REDIS_KEY"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<docs>", "exec"), {"__name__": "docs_example"})
    expected = [m[1] for line in code.splitlines() if (m := _EXPECTED.match(line))]
    printed = out.getvalue().splitlines()
    assert len(printed) == len(expected), printed
    for got, want in zip(printed, expected, strict=True):
        prefix = want.split("...", 1)[0].rstrip()
        assert got == want if "..." not in want else got.startswith(prefix), (got, want)
