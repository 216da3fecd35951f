#!/usr/bin/env python3
"""Set up a local virtualenv and run the demo or the whole test suite.

    python3 dev.py demo [--port 8000]   # the demo site behind the middleware
    python3 dev.py bench [--quick]      # the benchmark suite (docs/performance.md)
    python3 dev.py test [pytest args]   # lint, type-check and run every test
                                        # (installs Chromium, Java, npm tools and
                                        # redis-server first when they are missing)

Only the standard library is used here, so this works on a fresh machine with
Python 3.11: the virtualenv (.venv) is created on first use and re-synced
whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".maintenance-mode-installed"


def _run(*cmd: str | os.PathLike[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def ensure_venv() -> None:
    """Create .venv and install the project with its dev extras if out of date."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PY.exists():
        return
    if sys.version_info < (3, 11):
        sys.exit(f"dev.py: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not PY.exists():
        print(f"+ creating virtualenv {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(wanted)


def test(args: list[str]) -> int:
    """Lint, format-check, type-check, then run the full pytest suite."""
    tools = ROOT / "scripts" / "ensure-test-tools.sh"
    code = subprocess.run(["bash", str(tools)], cwd=ROOT).returncode
    if code:
        print(f"dev.py: could not set up the test tools (exit {code}): {tools}", flush=True)
        return code
    gates = (
        [BIN / "ruff", "check", "src", "tests", "benchmarks", "dev.py"],
        [BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "dev.py"],
        [BIN / "mypy"],
        [PY, "-m", "pytest", *args],
    )
    for cmd in gates:
        print("+", " ".join(str(c) for c in cmd), flush=True)
        code = subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode
        if code:
            print(f"dev.py: failed (exit {code}): {' '.join(str(c) for c in cmd)}", flush=True)
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in {"demo", "test", "bench"}:
        print(__doc__.strip())
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "test":
        return test(rest)
    if command == "bench":
        os.execv(str(PY), [str(PY), str(ROOT / "benchmarks" / "run.py"), *rest])
    os.execv(str(PY), [str(PY), "-m", "maintenance_mode", "demo", *rest])
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
