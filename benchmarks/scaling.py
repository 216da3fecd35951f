"""Costs that should stay flat: instructions per request as the configuration grows.

``.venv/bin/python benchmarks/scaling.py [--src OTHER/src]`` runs the ``scaling:*`` variants
of _variants.py (0 to 1,000 ``bypass_ips`` networks, 1 to 1,000 ``allow`` prefixes, 10 to
1,000 updates, re-renders, 1 to 100 requests in flight) under callgrind as run.py does, then
the memory job over 200,000 requests, and prints docs/performance.md's tables.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import _variants  # noqa: E402
import run  # noqa: E402
from _report import Targets, memory, table  # noqa: E402


def rows() -> list[tuple[str, str]]:
    """(table row, variant name), in the table's order."""
    found = [("maintenance off (no rules)", "scaling:off")]
    for n in (0, 1, 100, 1000):
        nets, name = f"bypass_ips: {n:,} networks", f"scaling:net{n}"
        found += [(f"{nets}, blocked request (IPv4 client)", f"{name}-blocked")]
        found += [(f"{nets}, blocked request (IPv6 client)", f"{name}-blocked6")]
        found += [(f"{nets}, bypassed (IPv4 client, the last)", f"{name}-bypassed")] * (n > 0)
    for n in (1, 100, 1000):
        found += [(f"allow: {n:,} prefixes, allowlisted request (the last)", f"scaling:allow{n}")]
        found += [(f"allow: {n:,} prefixes, blocked request", f"scaling:allow{n}-blocked")]
    for n in (10, 1000):
        found += [(f"{n:,} updates, the status document", f"scaling:upd{n}-status")]
        found += [(f"{n:,} updates, blocked request (HTML 503)", f"scaling:upd{n}-blocked")]
        again = f"{n:,} updates, re-render after a state change"
        found += [
            (f"{again} ({v})", f"scaling:upd{n}-render-{v}") for v in ("html", "text", "json")
        ]
    for n in (1, 10, 100):
        found += [(f"{n} in flight, {what}", f"scaling:conc{n}-{v}") for v, what in CONC]
    return found


CONC = (("bare", "the app alone"), ("off", "maintenance off"), ("blocked", "blocked (HTML 503)"))
MEMORY = [f"scaling:upd{n}-{r}" for n in (1000, 10) for r in ("blocked", "status")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=BENCH.parent / "src", help="what to measure")
    parser.add_argument("--n1", type=int, default=100)  # requests, short and long phase
    parser.add_argument("--n2", type=int, default=400)
    parser.add_argument("--memory", type=int, default=200_000, help="requests per memory row")
    args = parser.parse_args(argv)
    if not (args.src / "maintenance_mode").is_dir():
        parser.error(f"--src {args.src}: no maintenance_mode package there; give a src/ folder")
    if (valgrind := shutil.which("valgrind")) is None:
        sys.exit("scaling.py: valgrind is not installed (apt-get install valgrind)")
    run.SNAPSHOT.append(args.src.resolve())  # what run.ours_env puts first on PYTHONPATH
    names = [name for _, name in rows()]
    batched = [n for n in names if "-render-" in n or ":conc" in n]  # about 100 times dearer
    simple = [n for n in names if n not in batched]
    with tempfile.TemporaryDirectory(prefix="mm-scaling-") as tmp:
        ir = run.grind(valgrind, "scaling", "phases", simple, Path(tmp), args.n1, args.n2)
        ir |= run.grind(valgrind, "x", "phases", batched, Path(tmp), args.n1 // 20, args.n2 // 20)
        found = run.child(sys.executable, "memory", MEMORY, Path(tmp), "-n", str(args.memory))
    ir = {n: ir[n] / (_variants.BATCH if ":conc" in n else 1) for n in names}
    cell = {n: f"{ir[n]:,.0f}" for n in names}
    for n in (f"scaling:conc{k}-{v}" for k in (1, 10, 100) for v in ("off", "blocked")):
        cell[n] += f" (+{ir[n] - ir[n.split('-')[0] + '-bare']:,.0f})"  # over the app alone
    print(f"Instructions per request (callgrind, N={args.n1}, {args.n2}; /20 if batched)\n")
    print(table(("request", "Ir per request"), [(r, cell[n]) for r, n in rows()]))
    print(f"\n{memory({'rows': found}, Targets())}".replace("## Memory", "Memory, in this order:"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
