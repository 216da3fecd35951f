"""One benchmark job in a fresh process: ``python benchmarks/_child.py JOB --workdir D --out F``.

run.py starts these (with the project's interpreter, the peers' one, under
valgrind or under strace) and reads the JSON each writes to ``--out``:

- ``time``: per-request seconds of the named variants, interleaved repeats;
- ``phases``: N1 then N2 requests of each variant between marker calls, for
  ``valgrind --tool=callgrind --dump-before=getloadavg`` (instructions per request);
  ``snippets``: the same for pieces of the hot path (_snippets.py);
- ``touch``: requests for a fixed time with file and environment access counted
  (and bracketed by marker ``stat`` calls for strace);
- ``memory``: RSS and tracemalloc before and after N requests per variant;
- ``footprint``: seconds to import and build one variant and serve it one request, and
  VmRSS then (``--pydantic``: pydantic imported and one model validated first).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import Runner, Variant, marker, measure
from _variants import build, build_all

#: strace sees these two stats around the measured requests.
TOUCH_START = "/__maintenance_bench_touch_start__"
TOUCH_END = "/__maintenance_bench_touch_end__"


def job_time(args: argparse.Namespace) -> Any:
    variants = build_all(args.names, args.workdir)
    return measure(
        variants,
        repeats=args.repeats,
        target_seconds=args.target,
        fixed_n=args.fixed_n,
        progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True),
    )


def job_phases(args: argparse.Namespace) -> Any:
    return _phases(build_all(args.names, args.workdir), args)


def job_snippets(args: argparse.Namespace) -> Any:
    from _snippets import snippets

    found = snippets(args.workdir)
    return _phases([Variant(name, "call", fn) for name, fn in found.items()], args)


def _phases(variants: list[Variant], args: argparse.Namespace) -> Any:
    runner = Runner()
    for variant in variants:
        runner.check(variant)
        runner.run(variant, args.warmup)
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's way: each phase's collections are its own
    order = []
    for variant in variants:
        for n in (args.n1, args.n2):
            if variant.before is not None:
                variant.before()
            gc.collect()
            marker()  # dumps what came before (start-up, warm-up, the collection)
            runner.run(variant, n)
            marker()  # dumps exactly this phase
            order.append({"name": variant.name, "n": n})
    return {"order": order}


class _Counts:
    active = False
    stat = 0
    workdir_stat = 0
    open = 0
    env = 0
    workdir = ""


def _install_counters(workdir: Path) -> None:
    """Count os.stat, opens (audit hook) and os.environ reads while ``_Counts.active``."""
    _Counts.workdir = str(workdir)
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if _Counts.active:
            _Counts.stat += 1
            if not isinstance(path, int) and _Counts.workdir in os.fsdecode(path):
                _Counts.workdir_stat += 1
        return real_stat(path, *args, **kwargs)

    os.stat = counting_stat

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and _Counts.active and not isinstance(args[0], int):
            _Counts.open += 1

    sys.addaudithook(hook)

    environ_class = type(os.environ)

    class CountingEnviron(environ_class):  # type: ignore[valid-type,misc]
        def __getitem__(self, key: str) -> str:
            if _Counts.active:
                _Counts.env += 1
            value: str = super().__getitem__(key)
            return value

    os.environ.__class__ = CountingEnviron


def job_touch(args: argparse.Namespace) -> Any:
    (name,) = args.names
    variant = build(name, args.workdir)
    runner = Runner()
    runner.check(variant)
    runner.run(variant, 200)
    _install_counters(args.workdir)
    if variant.before is not None:
        variant.before()
    with contextlib.suppress(OSError):
        os.stat(TOUCH_START)
    _Counts.active = True
    requests = 0
    start = time.monotonic()
    deadline = start + args.seconds
    while time.monotonic() < deadline:
        runner.run(variant, 20)
        requests += 20
    elapsed = time.monotonic() - start
    _Counts.active = False
    with contextlib.suppress(OSError):
        os.stat(TOUCH_END)
    return {
        "name": name,
        "requests": requests,
        "seconds": elapsed,
        "py_stat": _Counts.stat,
        "py_flag_stat": _Counts.workdir_stat,
        "py_open": _Counts.open,
        "env_reads": _Counts.env,
    }


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def job_memory(args: argparse.Namespace) -> Any:
    results = []
    runner = Runner()
    for name in args.names:
        variant = build(name, args.workdir)
        runner.check(variant)
        runner.run(variant, 2000)
        gc.collect()
        rss_before = _rss()
        runner.run(variant, args.n)
        gc.collect()
        rss_after = _rss()
        tracemalloc.start()
        first = args.n // 10
        runner.run(variant, first)
        gc.collect()
        traced_first, _peak = tracemalloc.get_traced_memory()
        runner.run(variant, args.n - first)
        gc.collect()
        traced, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row = {"name": name, "requests": args.n, "rss_before": rss_before, "rss_after": rss_after}
        results.append({**row, "traced_first_tenth": traced_first, "traced_growth": traced})
        print(f"  {name}: done", file=sys.stderr, flush=True)
    return results


def job_footprint(args: argparse.Namespace) -> Any:
    import _variants

    (name,) = args.names
    marker()  # under callgrind, the instructions from here to the next marker are the figure
    start = time.process_time()  # CPU time: waits for a busy CPU do not count
    if args.pydantic:
        import pydantic

        pydantic.create_model("Probe", x=(int, 0))(x=1)
    _variants.DJANGO_APP[0] = not name.endswith(":bare")
    Runner().check(build(name, args.workdir))
    seconds = time.process_time() - start
    marker()
    with open("/proc/self/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return {"seconds": seconds, "rss_kb": rss}


JOBS = {
    "footprint": job_footprint,
    "time": job_time,
    "phases": job_phases,
    "snippets": job_snippets,
    "touch": job_touch,
    "memory": job_memory,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("--names", type=lambda s: s.split(","), default=[])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.08, help="seconds per batch")
    parser.add_argument("--fixed-n", type=int, default=None)
    parser.add_argument("--n1", type=int, default=500)
    parser.add_argument("--n2", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--pydantic", action="store_true")
    args = parser.parse_args(argv)
    result = JOBS[args.job](args)
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
