#!/usr/bin/env python3
"""Set up a local virtualenv and run the demo or the whole test suite.

    python3 dev.py demo [--port 8000]   # the demo site behind the middleware
    python3 dev.py bench [--quick]      # the benchmark suite (docs/performance.md)
    python3 dev.py test                 # lint, type-check and every
                                        # test on 3.11 (installs Chromium, Java, npm
                                        # tools, redis-server and the proxies first
                                        # when they are missing)
    python3 dev.py test --matrix        # what CI runs: the same, then the whole
                                        # suite again on 3.12, 3.13 and the lowest pins
    python3 dev.py test [pytest args]   # lint, type-check, then pytest with these
                                        # arguments on 3.11 only
    python3 dev.py test --env ENV [pytest args]
                                        # pytest alone in one extra environment:
                                        # 3.12, 3.13 or lowest

Only the standard library is used here, so this works on a fresh machine with
Python 3.11: the virtualenv (.venv) is created on first use and re-synced
whenever pyproject.toml changes. The extra environments live in .venv-3.12,
.venv-3.13 and .venv-lowest and are kept in sync the same way; .venv-lowest is
Python 3.11 with every direct dependency held at the lower bound pyproject.toml
declares for it (its constraints are generated from pyproject.toml on each sync).
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
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


def _bin(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin")


def ensure_venv(venv_dir: Path = VENV, python: str | None = None, constraints: str = "") -> Path:
    """Create venv_dir and install the project with its dev extras if out of date.

    python is the interpreter to build it with (this one when None); constraints,
    when given, is a pip constraints file's text that the install must obey.
    Returns the environment's python.
    """
    py = _bin(venv_dir) / "python"
    stamp = venv_dir / ".maintenance-mode-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + constraints.encode())
    if stamp.exists() and stamp.read_text() == wanted.hexdigest() and py.exists():
        return py
    if sys.version_info < (3, 11):
        sys.exit(f"dev.py: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not py.exists():
        print(f"+ creating virtualenv {venv_dir}", flush=True)
        if python is None:
            venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
        else:
            _run(python, "-m", "venv", "--clear", venv_dir)
    _run(py, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    extra: list[str] = []
    if constraints:
        pins = venv_dir / "constraints.txt"
        pins.write_text(constraints)
        extra = ["--constraint", str(pins)]
    _run(py, "-m", "pip", "install", "--quiet", *extra, "-e", ".[dev]")
    stamp.write_text(wanted.hexdigest())
    return py


# The extra environments `dev.py test --matrix` runs the suite in after .venv (3.11).
ENVS = ("3.12", "3.13", "lowest")
# How a whole-suite run spreads over the cores (pytest-xdist): one worker per core,
# each test file on one worker, so a file's module fixtures (a browser, a built
# wheel, a server) start once. Every environment runs the whole suite this way, one
# environment after another: the suite keeps a core busy most of the time, so
# running environments side by side would only share the same cores.
PARALLEL_PYTEST_ARGS: tuple[str, ...] = ("-n", "auto", "--dist", "loadfile")


def lowest_constraints() -> str:
    """pip constraints holding each `name>=X` requirement of pyproject.toml at `==X`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for group in project["optional-dependencies"].values():
        reqs.extend(group)
    pins = {}
    for req in reqs:
        found = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[^]]*\])?\s*>=\s*([^,;\s]+)\s*", req)
        if found:
            pins[found[1].lower()] = found[2]
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def find_python(version: str) -> str:
    """The path of an installed python<version>: under pyenv, else on PATH."""
    name = f"python{version}"
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    pattern = os.path.join(pyenv_root, "versions", f"{version}.*", "bin", name)
    candidates = sorted(glob.glob(pattern), reverse=True)
    # pyenv's shims only run the versions `pyenv global` selects: skip them.
    found = shutil.which(name)
    if found and f"{os.sep}shims{os.sep}" not in found:
        candidates.append(found)
    if candidates:
        return candidates[0]
    sys.exit(
        f"dev.py: {name} is not installed (not under {pyenv_root}/versions nor on PATH); "
        f"install it (e.g. `pyenv install {version}`), or run `python3 dev.py test tests` "
        "to test on Python 3.11 alone"
    )


def ensure_env(name: str) -> Path:
    """Create or re-sync one of ENVS and return its python."""
    if name == "lowest":
        python = sys.executable if sys.version_info[:2] == (3, 11) else find_python("3.11")
        return ensure_venv(ROOT / ".venv-lowest", python, lowest_constraints())
    return ensure_venv(ROOT / f".venv-{name}", find_python(name))


def _timed(label: str, cmd: list[str | os.PathLike[str]], timings: list[str]) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    start = time.monotonic()
    code = subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode
    timings.append(f"{label}: {time.monotonic() - start:.0f} s")
    if code:
        print(f"dev.py: failed (exit {code}): {' '.join(str(c) for c in cmd)}", flush=True)
    return code


def test(args: list[str]) -> int:
    """Lint, format-check, type-check, then run pytest: everywhere, or as args say."""
    matrix = args[:1] == ["--matrix"]
    if matrix:
        args = args[1:]
    env = None
    if args[:1] == ["--env"] or (args and args[0].startswith("--env=")):
        env = args[1] if args[0] == "--env" and len(args) > 1 else args[0].partition("=")[2]
        args = args[2:] if args[0] == "--env" else args[1:]
        if env not in ENVS:
            print(f"dev.py: --env takes one of {', '.join(ENVS)}, not {env!r}", flush=True)
            return 2
    tools = ROOT / "scripts" / "ensure-test-tools.sh"
    code = subprocess.run(["bash", str(tools)], cwd=ROOT).returncode
    if code:
        print(f"dev.py: could not set up the test tools (exit {code}): {tools}", flush=True)
        return code
    timings: list[str] = []
    if env is not None:
        py = ensure_env(env)
        return _timed(f"pytest ({env})", [py, "-m", "pytest", *args], timings)
    if matrix and not args:
        # Set the extra environments up side by side (pip mostly waits on the network
        # and the disk), before the gates: measured, not overlapped with the tests.
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(ENVS)) as pool:
            pythons = dict(zip(ENVS, pool.map(ensure_env, ENVS), strict=True))
        timings.append(f"set up .venv-{', .venv-'.join(ENVS)}: {time.monotonic() - start:.0f} s")
    whole = () if args else PARALLEL_PYTEST_ARGS
    gates: tuple[tuple[str, list[str | os.PathLike[str]]], ...] = (
        ("ruff check", [BIN / "ruff", "check", "src", "tests", "benchmarks", "dev.py"]),
        (
            "ruff format",
            [BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "dev.py"],
        ),
        ("mypy", [BIN / "mypy"]),
        ("pytest (3.11)", [PY, "-m", "pytest", *whole, *args]),
    )
    for label, cmd in gates:
        code = _timed(label, cmd, timings)
        if code:
            break
    if matrix and not args and not code:
        # The whole suite ran on 3.11 above; each extra environment runs it again.
        for name in ENVS:
            cmd = [pythons[name], "-m", "pytest", *PARALLEL_PYTEST_ARGS]
            code = _timed(f"pytest ({name})", cmd, timings)
            if code:
                break
    print(f"dev.py: {'failed' if code else 'passed'}; times: " + "; ".join(timings), flush=True)
    return code


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
