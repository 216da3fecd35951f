"""Costs that should stay flat: instructions per request as the configuration grows.

``.venv/bin/python benchmarks/scaling.py [--src OTHER/src]`` runs the ``scaling:*`` variants
of _variants.py (0 to 1,000 ``bypass_ips`` networks, 1 to 1,000 ``allow`` prefixes, 10 to
1,000 updates) under callgrind as run.py does, and prints docs/performance.md's table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402
from _report import table  # noqa: E402


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
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=BENCH.parent / "src", help="what to measure")
    parser.add_argument("--n1", type=int, default=100)  # requests, short and long phase
    parser.add_argument("--n2", type=int, default=400)
    args = parser.parse_args(argv)
    if not (args.src / "maintenance_mode").is_dir():
        parser.error(f"--src {args.src}: no maintenance_mode package there; give a src/ folder")
    if (valgrind := shutil.which("valgrind")) is None:
        sys.exit("scaling.py: valgrind is not installed (apt-get install valgrind)")
    run.SNAPSHOT.append(args.src.resolve())  # what run.ours_env puts first on PYTHONPATH
    names = [name for _, name in rows()]
    with tempfile.TemporaryDirectory(prefix="mm-scaling-") as tmp:
        ir = run.grind(valgrind, "scaling", "phases", names, Path(tmp), args.n1, args.n2)
    print(f"Instructions per request (callgrind, N={args.n1} and {args.n2}), {args.src}:\n")
    print(table(("request", "Ir per request"), [(r, f"{ir[n]:,.0f}") for r, n in rows()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
