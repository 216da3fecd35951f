"""The performance suite: ours against bare apps, a pass-through floor and the peers.

    python3 dev.py test                   # once: makes .venv (pip install -e .[dev])
    .venv/bin/python benchmarks/run.py    # the full run (about 30 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick            # a smoke run, under a minute (CI)
    .venv/bin/python benchmarks/run.py --only inprocess,callgrind
    .venv/bin/python benchmarks/run.py --report benchmarks/results/latest.json  # tables again

Sections (docs/performance.md explains every number):

- ``inprocess``: Starlette, FastAPI, Flask, Django and bare ASGI/WSGI callables driven
  directly (no server), as bare / pass-through floor / ours off / on (HTML, JSON) /
  allowlisted / bypassed; median and spread of interleaved repeats;
- ``callgrind``: instructions per request from ``valgrind --tool=callgrind`` (N2 minus N1
  requests, so start-up cancels out): repeatable run to run, unlike wall time;
- ``http``: uvicorn (h11, and httptools with uvloop) and gunicorn, one worker each, loaded
  by ``wrk`` on 127.0.0.1, variants
  interleaved round by round; requests/s, p99 latency and the server's CPU time per request
  as ratios to the bare app, each variant alone; and CPU time per request with each variant
  and its bare app loaded side by side on one CPU, which cancels the CPU's changing speed;
- ``http-callgrind``: the same servers under callgrind, dumped on SIGUSR2 around N1 and N2
  requests: the server's own instructions per request, which resolve what timing cannot;
- ``peers``: fastapi-maintenance and django-maintenance-mode, in-process and over HTTP, from
  their own virtualenv (benchmarks/.venv-peers, made on first use: the latter installs a
  package also named ``maintenance_mode``);
- ``touch``: file-system calls (``strace -f -e trace=%file``) and environment reads per
  request, and flag ``stat`` calls per check interval;
- ``memory``: RSS and tracemalloc growth over 100,000 requests in each state;
- ``footprint``: start-up of a Django, Flask and FastAPI worker (import, build, one request),
  bare, bare with pydantic, and ours off: CPU time and VmRSS, the least of fresh processes,
  and instructions under callgrind (one process each).

Missing tools (valgrind, wrk, strace: ``apt-get install valgrind wrk strace``) skip their
section with a note. Results go to benchmarks/results/ (git-ignored): JSON and Markdown.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import _report  # noqa: E402
import _variants  # noqa: E402

PEERS_VENV = BENCH / ".venv-peers"
#: The peers, pinned so a run can be repeated; the frameworks are pinned to ours (below).
PEERS = {"fastapi-maintenance": "0.0.5", "django-maintenance-mode": "0.23.0"}
#: Installed in the peers' virtualenv at exactly the versions this virtualenv has.
SAME_AS_OURS = (
    "fastapi",
    "starlette",
    "pydantic",
    "django",
    "asgiref",
    "uvicorn",
    "gunicorn",
    "anyio",
    "h11",
)
QUICK_SECTIONS = ("inprocess", "http-callgrind", "touch", "memory", "footprint")
SECTIONS = (*QUICK_SECTIONS, "callgrind", "http", "peers")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- children -------------------------------------------------------------------------------


def child(
    python: Path | str,
    job: str,
    names: list[str],
    workdir: Path,
    *extra: str,
    prefix: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> Any:
    """Run a _child.py job and return its JSON."""
    out = workdir / f"{job}-{os.getpid()}-{time.monotonic_ns()}.json"
    cmd = [*prefix, *child_cmd(python, job, names, workdir, out, *extra)]
    proc = subprocess.run(
        cmd, cwd=ROOT, env={**ours_env(python), **(env or {})}, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed (exit {proc.returncode}): {' '.join(cmd)}")
    return json.loads(out.read_text())


def child_cmd(
    python: Path | str, job: str, names: list[str], workdir: Path, out: Path, *extra: str
) -> list[str]:
    """The command line of a _child.py job."""
    cmd = [str(python), str(BENCH / "_child.py"), job, "--names", ",".join(names)]
    return [*cmd, "--workdir", str(workdir), "--out", str(out), *extra]


#: Where the copy of src/ that this run measures lives (see snapshot_source).
SNAPSHOT: list[Path] = []


def snapshot_source(workdir: Path) -> None:
    """Measure a copy of src/ taken now, so edits made during a long run cannot mix in."""
    target = workdir / "src-snapshot"
    shutil.copytree(ROOT / "src", target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", workdir / "templates")  # found beside src/ as in a clone
    SNAPSHOT.append(target)


def ours_env(python: Path | str) -> dict[str, str]:
    """The environment of a child: ours come from the snapshot; the peers' venv never sees it."""
    env = dict(os.environ)
    if SNAPSHOT and str(python) == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join([str(SNAPSHOT[0]), env.get("PYTHONPATH", "")])
    return env


def tool_version(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return text[0] if text else "?"


# -- the peers' virtualenv ----------------------------------------------------------------------


def peers_python() -> Path:
    """benchmarks/.venv-peers with the peers and our frameworks' exact versions (made once)."""
    python = PEERS_VENV / "bin" / "python"
    wanted = [f"{name}=={version}" for name, version in PEERS.items()]
    wanted += [f"{name}=={metadata.version(name)}" for name in SAME_AS_OURS]
    stamp = PEERS_VENV / ".bench-requirements"
    if python.exists() and stamp.exists() and stamp.read_text() == "\n".join(wanted):
        return python
    log(f"+ making {PEERS_VENV.relative_to(ROOT)} ({', '.join(wanted)})")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted],
        check=True,
    )
    stamp.write_text("\n".join(wanted))
    return python


# -- sections -----------------------------------------------------------------------------------


def section_inprocess(args: argparse.Namespace, workdir: Path, peers: Path | None = None) -> Any:
    """Ours in this virtualenv; or, given ``peers``, the peers in theirs."""
    names = _variants.peer_names() if peers else _variants.ours_names()
    log(f"{'peers ' * bool(peers)}in-process: {len(names)} variants x {args.repeats} repeats")
    extra = ["--repeats", str(args.repeats), "--target", str(args.target)]
    if args.quick and not peers:
        extra += ["--fixed-n", "100"]
    return child(peers or sys.executable, "time", names, workdir, *extra)


CALLGRIND_GROUPS = {
    "asgi": [
        *(f"{app}:{v}" for app in _variants.ASGI_APPS for v in _variants.OURS),
        *(f"raw-asgi:{v}" for v in _variants.DECIDE),
    ],
    "wsgi": [
        *(f"{app}:{v}" for app in _variants.WSGI_APPS for v in _variants.OURS),
        *(f"raw-wsgi:{v}" for v in _variants.DECIDE),
        *(f"django:{v}" for v in _variants.DECIDE),
        *(f"flask:{v}" for v in _variants.FLASK_EXT),
    ],
}


#: callgrind, dumping before each marker() call of _common.py (or on SIGUSR2), no line counts.
CALLGRIND = ["--tool=callgrind", "--dump-before=getloadavg", "--dump-instr=no", "--dump-line=no"]
#: Under valgrind a second of wall time is a few hundred requests: a long check interval keeps
#: the flag's re-check (one stat per interval, see "touch") out of the per-request counts, which
#: are then the fast path's alone; and string hashes are the same from run to run.
GRIND_ENV = {"PYTHONHASHSEED": "0", "BENCH_CHECK_INTERVAL": "3600"}


def grind(
    valgrind: str, group: str, job: str, names: list[str], workdir: Path, n1: int, n2: int
) -> dict[str, float]:
    """Instructions per request of each variant of a _child.py job run under callgrind (N2
    minus N1 requests between markers), its dumps and log in workdir/callgrind-<group>."""
    folder = workdir / f"callgrind-{group}"
    folder.mkdir()
    cmd = [valgrind, *CALLGRIND, f"--callgrind-out-file={folder}/cg.out"]
    extra = ("--n1", str(n1), "--n2", str(n2))
    cmd += child_cmd(sys.executable, job, names, workdir, folder / "order.json", *extra)
    env = {**ours_env(sys.executable), **GRIND_ENV}
    with open(folder / "valgrind.log", "w") as log_file:
        proc = subprocess.run(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log_file, env=env, timeout=3600
        )
    if proc.returncode != 0:
        tail = (folder / "valgrind.log").read_text().splitlines()
        raise RuntimeError(f"callgrind {group} failed:\n" + "\n".join(tail[-25:]))
    parts = _dump_totals(folder.glob("cg.out*"))
    for path in folder.glob("cg.out*"):
        path.unlink()
    order = json.loads((folder / "order.json").read_text())["order"]
    # Part 1 is start-up; then each phase is "collection + marker" and "requests + marker".
    counts: dict[str, dict[int, int]] = {}
    for index, phase in enumerate(order):
        counts.setdefault(phase["name"], {})[phase["n"]] = parts[2 * index + 2]
    result = {}
    for name, by_n in counts.items():
        (short, ir1), (long, ir2) = sorted(by_n.items())
        result[name] = (ir2 - ir1) / (long - short)
    return result


def section_callgrind(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Instructions per request: groups run under callgrind side by side (counts do not mind)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind is not installed (apt-get install valgrind)"}
    jobs = [(group, "phases", names) for group, names in CALLGRIND_GROUPS.items()]
    jobs.append(("snippets", "snippets", []))

    def one(group: str, job: str, names: list[str]) -> dict[str, float]:
        log(f"callgrind {group}: {len(names) or 'the'} {'variants' if names else 'snippets'}")
        return grind(valgrind, group, job, names, workdir, args.n1, args.n2)

    with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        futures = {group: pool.submit(one, group, job, names) for group, job, names in jobs}
        results = {group: future.result() for group, future in futures.items()}
    per_request: dict[str, float] = {}
    for group in CALLGRIND_GROUPS:
        per_request.update(results[group])
    return {
        "n1": args.n1,
        "n2": args.n2,
        "valgrind": tool_version([valgrind, "--version"]),
        "ir": per_request,
        "snippets": results["snippets"],
    }


def _dump_totals(paths: Iterable[Path]) -> dict[int, int]:
    """Each callgrind dump's instruction total by its part number (incomplete dumps left out)."""
    totals = {}
    for path in paths:
        text = path.read_text(errors="replace")
        part = re.search(r"^part: (\d+)$", text, re.M)
        total = re.search(r"^summary: (\d+)$", text, re.M)
        if part is not None and total is not None:
            totals[int(part.group(1))] = int(total.group(1))
    return totals


# -- over HTTP ----------------------------------------------------------------------------------


def _pin(cpu: int) -> Any:
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Server:
    """uvicorn or gunicorn, one worker, on 127.0.0.1, pinned to CPU 0 (wrk gets CPU 1)."""

    def __init__(
        self, name: str, python: Path | str, workdir: Path, grind: Path | None = None
    ) -> None:
        """``grind``: run under callgrind, its dumps in that folder (see section_http_callgrind)."""
        self.name, self.python, self.workdir, self.grind = name, python, workdir, grind
        self.start()

    def start(self) -> None:
        name, python, workdir = self.name, self.python, self.workdir
        # The server inherits its listening socket: no other process (a test's server, in
        # a parallel suite) can take the port between choosing it and binding it.
        listener = socket.create_server(("127.0.0.1", 0))
        self.port, fd = listener.getsockname()[1], listener.fileno()
        variant, _, flavour = name.partition("@")  # "starlette:off@httptools"
        kind = "asgi" if variant.split(":")[0] in _variants.ASGI_APPS else "wsgi"
        if kind == "asgi":
            cmd = [str(python), "-m", "uvicorn", "_serve:app", "--app-dir", str(BENCH)]
            cmd += ["--fd", str(fd), "--no-access-log"]
            cmd += ["--log-level", "warning"]
            # Named, not "auto": with httptools installed uvicorn would pick it silently.
            if flavour == "httptools":
                cmd += ["--http", "httptools", "--loop", "uvloop"]
                self.server = "uvicorn (httptools, uvloop)"
            else:
                cmd += ["--http", "h11", "--loop", "asyncio"]
                self.server = "uvicorn (h11)"
        else:
            cmd = [str(python), "-m", "gunicorn", "_serve:app", "--chdir", str(BENCH)]
            cmd += ["-w", "1", "-b", f"fd://{fd}", "--log-level", "warning"]
            self.server = "gunicorn"
        env = {**ours_env(python), "BENCH_VARIANT": variant, "BENCH_WORKDIR": str(workdir)}
        log_name = name.replace(":", "-").replace("@", "-")
        if self.grind is not None:
            valgrind = [shutil.which("valgrind") or "valgrind", *CALLGRIND]
            cmd = [*valgrind, f"--callgrind-out-file={self.grind}/cg.out.%p", *cmd]
            if kind == "wsgi":  # a slow worker must not be taken for a hung one
                cmd += ["--timeout", "900"]
            env |= {**GRIND_ENV, "BENCH_DUMP": "1"}  # _serve.py dumps on SIGUSR2
            log_name += "-callgrind"
        self.log = open(workdir / f"server-{log_name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=None if self.grind is not None else _pin(0),
            pass_fds=(fd,),
        )
        listener.close()  # the server's copy is the only one: if it dies, connections fail

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{_variants.PATH}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.server} for {self.name} exited; see {self.log.name}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", _variants.PATH)
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        raise RuntimeError(f"{self.server} for {self.name} did not answer in {timeout}s")

    def cpu_ns(self) -> dict[int, int]:
        """On-CPU nanoseconds of the server's processes: uvicorn's one; gunicorn's master (idle)
        and its worker. Read before and after a wrk run; see cpu_used."""
        return {pid: _cpu_ns(pid) for pid in _process_tree(self.proc.pid)}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


#: How server CPU time is read: the first field of /proc/<pid>/task/<tid>/schedstat
#: (nanoseconds on a CPU, every thread), or utime + stime of /proc/<pid>/stat (clock ticks)
#: on a kernel without schedstats. Time the server waits for a CPU (stolen by the hypervisor
#: or by other jobs) is in neither, which is why CPU per request is steadier than req/s.
CPU_CLOCK = "schedstat" if Path("/proc/self/schedstat").exists() else "stat"
CLOCK_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 1e7


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat from field 3 (state) on: the command name may hold spaces."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _process_tree(root: int) -> list[int]:
    """root and its descendants, by parent pid (no /proc/<pid>/task/<tid>/children here)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry)] = int(_stat_fields(int(entry))[1])
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return sorted(tree)


def _cpu_ns(pid: int) -> int:
    if CPU_CLOCK == "stat":
        fields = _stat_fields(pid)  # utime and stime are fields 14 and 15
        return round((int(fields[11]) + int(fields[12])) * CLOCK_TICK_NS)
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, IndexError, ValueError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


def cpu_used(before: dict[int, int], after: dict[int, int]) -> float | None:
    """Server CPU seconds between two Server.cpu_ns readings; None when its processes changed
    in between (a gunicorn worker restarted: the dead one's time cannot be read)."""
    if set(before) != set(after):
        log(f"http: the server's processes changed during a run ({before} -> {after})")
        return None
    return sum(after[pid] - before[pid] for pid in before) / 1e9


def _wrk_output(out: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    done = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", out, re.M)
    if rps is None or p99 is None or done is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Socket errors: (.*)", out)
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}[done.group(3)]
    return {
        "rps": float(rps.group(1)),
        "p99_ms": float(p99.group(1)) * scale,
        "requests": int(done.group(1)),
        "wrk_seconds": float(done.group(2)) * unit,
        "socket_errors": errors.group(1) if errors else "",
    }


def measured_wrk(
    wrk_path: str, servers: Sequence[Server], seconds: int, connections: int
) -> list[dict[str, Any]]:
    """One wrk per server, all at once (one server: alone), each server's CPU time read around
    them: CPU µs per request, and busy = CPU seconds / wrk's seconds (near 1 when one server
    alone is the bottleneck; near 1/n each when n side by side share CPU 0)."""
    before = [server.cpu_ns() for server in servers]
    cmd = [wrk_path, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    procs = [
        subprocess.Popen(
            [*cmd, server.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_pin(1),
        )
        for server in servers
    ]
    outs = []
    try:
        for server, proc in zip(servers, procs, strict=True):
            out, err = proc.communicate(timeout=seconds + 30)
            if proc.returncode != 0:
                raise RuntimeError(f"wrk failed (exit {proc.returncode}) on {server.url}: {err}")
            outs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results = []
    for server, cpu_before, out in zip(servers, before, outs, strict=True):
        result = _wrk_output(out)
        cpu = cpu_used(cpu_before, server.cpu_ns())
        result["server_cpu_s"] = cpu
        result["cpu_us_per_request"] = None
        result["busy"] = None
        if cpu is not None and result["requests"] > 0:
            result["cpu_us_per_request"] = cpu / result["requests"] * 1e6
            result["busy"] = cpu / result["wrk_seconds"]
        results.append(result)
    return results


#: The first name of each group is the bare app its others are compared with. "floor" and
#: "loaded" (ours imported and built, unused) are controls: what any middleware costs, and
#: what a process that has loaded ours costs whatever it serves; "loaded-floor" is both at
#: once, so ours is set against the same process minus its per-request code. "@httptools":
#: uvicorn with its C parser and uvloop (uvicorn[standard]) instead of its h11 default.
HTTP_GROUPS = {
    "starlette": [f"starlette:{v}" for v in ("bare", "floor", "loaded", "off", "on-html")],
    "starlette@httptools": [
        f"starlette:{v}@httptools"
        for v in ("bare", "floor", "loaded", "loaded-floor", "off", "on-html")
    ],
    "fastapi": ["fastapi:bare", "fastapi:off", "fastapi:on-html"],
    "fastapi@httptools": [f"fastapi:{v}@httptools" for v in ("bare", "off", "on-html")],
    "flask": ["flask:bare", "flask:off", "flask:on-html"],
    "django": [f"django:{v}" for v in ("bare", "floor", "loaded", "off", "on-html")],
}
HTTP_PEERS = {
    "fastapi": [f"fastapi:fm-{v}" for v in ("env-off", "env-on", "file-off", "file-on")],
    "django": ["django:dmm-off", "django:dmm-on-html"],
}


def http_pairs(peers: bool) -> list[list[str]]:
    """Each variant with its app's bare server, to be loaded side by side. Pairs, not the whole
    group at once: three servers on one CPU evict each other's caches more, and that raised a
    heavier variant's CPU ratio by 2-3 % (Django's 503 page: 1.11 x bare in a pair, 1.14 x with
    ours off beside them); two bare servers side by side came out at 1.000 +- 0.01."""
    pairs = []
    for group, names in HTTP_GROUPS.items():
        others = names[1:] + (HTTP_PEERS.get(group, []) if peers else [])
        pairs += [[names[0], name] for name in others]
    return pairs


def http_plan(peers: Path | None) -> list[tuple[str, Path | str]]:
    """Every server of the HTTP sections, group by group, with the interpreter it runs under
    (the peers' virtualenv for theirs, when there is one)."""
    plan: list[tuple[str, Path | str]] = []
    for group, names in HTTP_GROUPS.items():
        plan += [(name, sys.executable) for name in names]
        if peers is not None:
            plan += [(name, peers) for name in HTTP_PEERS.get(group, [])]
    return plan


def section_http(args: argparse.Namespace, workdir: Path, peers: Path | None) -> dict[str, Any]:
    """Each round: every variant alone, in turn (A B C A B C: req/s, p99, CPU per request);
    then each variant side by side with its bare app, one wrk each at once, the two servers
    sharing CPU 0, so that the CPU's speed, which moves by 10 % and more from one second to
    the next on a shared virtual machine, is the same for both.

    Every round starts fresh server processes: where a process's heap and code happen to
    land can move its CPU time per request by a percent or two for its whole life, and one
    process per variant for the whole run would carry that offset into every round."""
    wrk_path = shutil.which("wrk")
    if wrk_path is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    plan = http_plan(peers)
    pairs = http_pairs(peers is not None)
    seconds, rounds, warmup = args.http_seconds, args.http_rounds, args.http_warmup
    if args.quick:  # a smoke run of the method, not a measurement
        seconds, rounds, warmup = 1, 2, 1
    described: dict[str, str] = {}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in plan}
    side_by_side: list[dict[str, list[dict[str, Any]]]] = [
        {name: [] for name in pair} for pair in pairs
    ]
    for index in range(rounds):
        log(f"http: round {index + 1}/{rounds} ({len(plan)} variants, {len(pairs)} pairs)")
        servers: dict[str, Server] = {}
        try:
            for name, python in plan:
                servers[name] = Server(name, python, workdir)
            for server in servers.values():
                server.wait_ready()
                measured_wrk(wrk_path, [server], warmup, args.connections)  # warm-up
                described[server.name] = server.server
            for name, _ in plan:  # A B C ... A B C ...: drift hits every variant alike
                [result] = measured_wrk(wrk_path, [servers[name]], seconds, args.connections)
                runs[name].append(result)
            for names, record in zip(pairs, side_by_side, strict=True):
                if index % 2:  # which of the two wrk processes starts first alternates
                    names = names[::-1]
                results = measured_wrk(
                    wrk_path, [servers[name] for name in names], seconds, args.connections
                )
                for name, result in zip(names, results, strict=True):
                    record[name].append(result)
        finally:
            for server in servers.values():
                server.stop()
    return {
        "seconds": seconds,
        "rounds": rounds,
        "warmup": warmup,
        "fresh_each_round": True,
        "connections": args.connections,
        "cpu_clock": CPU_CLOCK,
        "wrk": tool_version([wrk_path, "-v"]),
        "servers": described,
        "runs": runs,
        "side_by_side": side_by_side,
    }


#: One server is enough to keep the method from rotting.
HTTP_CALLGRIND_QUICK = ["starlette:bare"]


def section_http_callgrind(
    args: argparse.Namespace, workdir: Path, peers: Path | None
) -> dict[str, Any]:
    """The server's instructions per request over real HTTP: each server of the http section
    runs under callgrind and is dumped around N1 and N2 requests (twice each), so start-up,
    the warm-up and the dumps cancel out. Unlike CPU time this is the same from run to run, so
    it can resolve the 2 % that "throughput >= 0.98" asks for. User-space instructions of the
    server's process (gunicorn: its worker): the kernel's share of a request is not in it."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return {"skipped": "valgrind is not installed (apt-get install valgrind)"}
    plan = http_plan(peers)
    n1, n2 = args.n1, args.n2
    if args.quick:
        plan = [(name, sys.executable) for name in HTTP_CALLGRIND_QUICK]
        n1, n2 = 5, 15
    sizes = [n1, n2, n1, n2]

    def one(name: str, python: Path | str) -> dict[str, Any]:
        folder = workdir / f"http-callgrind-{name.replace(':', '-').replace('@', '-')}"
        folder.mkdir()
        server = Server(name, python, workdir, grind=folder)
        try:
            server.wait_ready(timeout=600)
            children = [pid for pid in _process_tree(server.proc.pid) if pid != server.proc.pid]
            pid = children[0] if children else server.proc.pid  # gunicorn: its one worker
            statuses = _grind_requests(server.port, 20)  # warm-up, in part 1 with start-up
            parts = [_grind_dump(folder, pid)]
            for size in sizes:
                statuses |= _grind_requests(server.port, size)
                parts.append(_grind_dump(folder, pid))
        finally:
            server.stop()
        totals = _dump_totals(_grind_parts(folder, pid))
        if not totals.keys() >= set(parts):
            raise RuntimeError(f"{folder}: incomplete callgrind dumps of the server (pid {pid})")
        windows = [totals[part] for part in parts[1:]]
        per_request = [(windows[i + 1] - windows[i]) / (n2 - n1) for i in range(0, len(windows), 2)]
        log(f"http-callgrind {name}: {statistics.fmean(per_request):,.0f} Ir/request")
        return {"server": server.server, "ir": per_request, "statuses": sorted(statuses)}

    rows: dict[str, dict[str, Any]] = {}
    with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        futures = {name: pool.submit(one, name, python) for name, python in plan}
        for name, future in futures.items():
            rows[name] = future.result()
    return {"n1": n1, "n2": n2, "valgrind": tool_version([valgrind, "--version"]), "rows": rows}


def _grind_requests(port: int, count: int) -> set[int]:
    """``count`` GETs of the benchmark path, one after another, with the request line and
    headers wrk sends (Host only); keep-alive where the server keeps the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    statuses = set()
    try:
        for _ in range(count):
            conn.putrequest("GET", _variants.PATH, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            response.read()
            statuses.add(response.status)
    finally:
        conn.close()
    return statuses


def _grind_dump(folder: Path, pid: int) -> int:
    """Make callgrind write the counts since its last dump (see _serve.py); the part's number."""
    before = len(_grind_parts(folder, pid))
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + 120
    while len(_grind_parts(folder, pid)) == before:
        if time.monotonic() > deadline:
            raise RuntimeError(f"callgrind did not dump the server (pid {pid}) in {folder}")
        time.sleep(0.05)
    return before + 1


def _grind_parts(folder: Path, pid: int) -> list[Path]:
    return [path for path in folder.glob(f"cg.out.{pid}.*") if path.suffix[1:].isdigit()]


# -- what a request touches ----------------------------------------------------------------------

TOUCH_OURS = [
    f"{app}:{v}" for app in ("raw-asgi", "raw-wsgi", "django") for v in ("off", "on-html")
]
TOUCH_QUICK = ["raw-asgi:off", "raw-wsgi:on-html"]
#: With the bare apps, to show what the frameworks themselves touch.
TOUCH_PEERS = ["fastapi:bare", "fastapi:fm-env-off", "fastapi:fm-file-off"]
TOUCH_PEERS += ["django:bare", "django:dmm-off"]
TOUCH_INTERVAL = 0.25


def section_touch(args: argparse.Namespace, workdir: Path, peers: Path | None) -> dict[str, Any]:
    strace = None if args.quick else shutil.which("strace")
    seconds = 0.3 if args.quick else args.touch_seconds
    ours = TOUCH_QUICK if args.quick else TOUCH_OURS
    plan: list[tuple[str, Path | str]] = [(name, sys.executable) for name in ours]
    if peers is not None:
        plan += [(name, peers) for name in TOUCH_PEERS]
    rows = []
    env = {"BENCH_CHECK_INTERVAL": str(TOUCH_INTERVAL)}
    for name, python in plan:
        log(f"touch: {name}")
        prefix: tuple[str, ...] = ()
        trace = workdir / f"strace-{name.replace(':', '-')}.log"
        if strace is not None:
            prefix = (strace, "-f", "-qq", "-e", "trace=%file", "-o", str(trace))
        row = child(
            python, "touch", [name], workdir, "--seconds", str(seconds), prefix=prefix, env=env
        )
        if strace is not None:
            row.update(_parse_strace(trace, workdir))
        row["check_interval"] = TOUCH_INTERVAL
        rows.append(row)
    return {
        "strace": tool_version([strace, "-V"]) if strace else "not used",
        "rows": rows,
    }


def _parse_strace(trace: Path, workdir: Path) -> dict[str, Any]:
    from _child import TOUCH_END, TOUCH_START

    inside = False
    calls = flag = 0
    kinds: dict[str, int] = {}
    for line in trace.read_text(errors="replace").splitlines():
        if TOUCH_START in line:
            inside = True
            continue
        if TOUCH_END in line:
            break
        if not inside or "resumed>" in line or line.startswith(("+++", "---")):
            continue
        match = re.match(r"^(?:\d+\s+)?(\w+)\(", line)
        if match is None:
            continue
        calls += 1
        kinds[match.group(1)] = kinds.get(match.group(1), 0) + 1
        if str(workdir) in line:
            flag += 1
    trace.unlink()
    return {"strace_file_calls": calls, "strace_flag_calls": flag, "strace_kinds": kinds}


# -- memory --------------------------------------------------------------------------------------

MEMORY = [
    *(f"raw-asgi:{v}" for v in ("off", "on-html", "on-json", "allow", "bypass")),
    *(f"raw-wsgi:{v}" for v in ("off", "on-html", "on-json", "allow", "bypass")),
    "starlette:off",
    "starlette:on-html",
    "django:off",
    "django:on-html",
]


def section_memory(args: argparse.Namespace, workdir: Path) -> Any:
    names = ["raw-asgi:off", "raw-asgi:on-html", "raw-wsgi:off"] if args.quick else MEMORY
    n = 1000 if args.quick else args.memory_requests
    log(f"memory: {len(names)} variants x {n} requests (twice: RSS, then tracemalloc)")
    return {"rows": child(sys.executable, "memory", names, workdir, "-n", str(n))}


def section_footprint(args: argparse.Namespace, workdir: Path) -> Any:
    """CPU time and VmRSS per worker kind, the least of fresh processes with the bytecode
    cached (load only adds to them), and instructions under callgrind (load cannot move them)."""
    env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(workdir / "pycache")}
    names = [f"{app}:{k}" for app in ("django", "flask", "fastapi") for k in ("bare", "pydantic")]
    names += ["django:off", "flask:off", "fastapi:off"]
    valgrind = shutil.which("valgrind")

    def run(name: str, prefix: tuple[str, ...] = ()) -> Any:
        pyd = ["--pydantic"] if name.endswith("pydantic") else []
        bare = [name.replace("pydantic", "bare")]
        return child(sys.executable, "footprint", bare, workdir, *pyd, prefix=prefix, env=env)

    rounds = [[run(name) for name in names] for _ in range(2 if args.quick else args.repeats + 1)]
    found = {  # round 0 filled the bytecode cache
        name: {"ms": min(r[i]["seconds"] for r in rounds[1:]) * 1e3}
        | {"mb": min(r[i]["rss_kb"] for r in rounds[1:]) / 1024}
        for i, name in enumerate(names)
    }

    def instructions(name: str) -> None:  # once each, after the rounds: the cache is filled
        run(name, (valgrind or "", *CALLGRIND, f"--callgrind-out-file={workdir}/{name}.cg"))
        found[name]["ir"] = _dump_totals(workdir.glob(f"{name}.cg*"))[2]  # between the markers

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(instructions, names if valgrind and not args.quick else []))
    return found


# -- the run ------------------------------------------------------------------------------------


def versions(peers: Path | None) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("maintenance-mode", *SAME_AS_OURS, "flask", "werkzeug", "jinja2"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    if peers is not None:
        found.update(PEERS)
    return found


def git_describe() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' + uncommitted changes in src/' if dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: few requests, seconds")
    parser.add_argument("--only", type=lambda s: s.split(","), help=",".join(SECTIONS))
    parser.add_argument("--json", type=Path, help="default benchmarks/results/latest.json")
    parser.add_argument("--markdown", type=Path, help="default benchmarks/results/latest.md")
    parser.add_argument("--report", type=Path, help="print the tables of a saved JSON and exit")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.08, help="seconds per timed batch")
    parser.add_argument("--n1", type=int, default=100, help="callgrind: requests, short phase")
    parser.add_argument("--n2", type=int, default=400, help="callgrind: requests, long phase")
    parser.add_argument("--http-seconds", type=int, default=2, help="http: seconds per wrk run")
    parser.add_argument("--http-rounds", type=int, default=6, help="http: runs of each variant")
    parser.add_argument("--http-warmup", type=int, default=1, help="http: seconds, per server")
    parser.add_argument("--connections", type=int, default=4, help="http: wrk's connections")
    parser.add_argument("--touch-seconds", type=float, default=2.0)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    args = parser.parse_args(argv)

    if args.report is not None:
        print(_report.render(json.loads(args.report.read_text())))
        return 0
    if args.quick:
        args.repeats = 2
    sections = args.only or (QUICK_SECTIONS if args.quick else SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    results_dir = BENCH / "results"
    json_path = args.json or results_dir / ("quick.json" if args.quick else "latest.json")
    md_path = args.markdown or json_path.with_suffix(".md")

    started = time.monotonic()
    peers = None
    results: dict[str, Any] = {}
    if "peers" in sections:
        try:
            peers = peers_python()
        except (subprocess.CalledProcessError, OSError) as exc:
            results["peers"] = {"skipped": f"could not make the peers' virtualenv: {exc}"}
    results["meta"] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "quick": args.quick,
        "sections": list(sections),
        "git": git_describe(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "cpu": _cpu_model(),
        "load_before": os.getloadavg(),
        "versions": versions(peers),
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    failed = []
    with tempfile.TemporaryDirectory(prefix="maintenance-bench-") as folder:
        workdir = Path(folder)
        snapshot_source(workdir)
        plan: list[tuple[str, Callable[[], Any]]] = [
            ("inprocess", lambda: section_inprocess(args, workdir)),
            ("peers", lambda: {"inprocess": section_inprocess(args, workdir, peers)}),
            ("callgrind", lambda: section_callgrind(args, workdir)),
            ("http", lambda: section_http(args, workdir, peers)),
            ("http-callgrind", lambda: section_http_callgrind(args, workdir, peers)),
            ("touch", lambda: section_touch(args, workdir, peers)),
            ("memory", lambda: section_memory(args, workdir)),
            ("footprint", lambda: section_footprint(args, workdir)),
        ]
        for key, run_section in plan:
            if key not in sections or (key == "peers" and peers is None):
                continue
            try:
                results[key] = run_section()
            except Exception as exc:  # one broken section must not lose the others
                traceback.print_exc()
                results[key] = {"skipped": f"failed: {exc}"}
                failed.append(key)
            json_path.write_text(json.dumps(results, indent=1))  # progress survives a crash
    results["meta"]["load_after"] = os.getloadavg()
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)

    text = _report.render(results)
    print(text)
    json_path.write_text(json.dumps(results, indent=1))
    md_path.write_text(text)
    log(f"results: {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}")
    if failed:
        log(f"failed sections: {', '.join(failed)}")
        return 1
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
