"""Costs that should stay flat: instructions per request as the configuration grows.

    .venv/bin/python benchmarks/scaling.py                # this tree's src/, a Markdown table
    .venv/bin/python benchmarks/scaling.py --src OTHER/src   # another copy (an older commit's)

Runs the ``scaling:*`` variants of _variants.py (the bare ASGI middleware with 0 to 1,000
``bypass_ips`` networks and 1 to 1,000 ``allow`` prefixes) under callgrind, as run.py's
``callgrind`` section does: N2 minus N1 requests between marker calls, so start-up cancels
out. docs/performance.md shows the table it prints.
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
    for count in (0, 1, 100, 1000):
        nets, name = f"bypass_ips: {count:,} networks", f"scaling:net{count}"
        found += [
            (f"{nets}, blocked request (IPv4 client)", f"{name}-blocked"),
            (f"{nets}, blocked request (IPv6 client)", f"{name}-blocked6"),
        ]
        if count:
            found.append((f"{nets}, bypassed request (IPv4 client, the last)", f"{name}-bypassed"))
    for count in (1, 100, 1000):
        found += [
            (f"allow: {count:,} prefixes, allowlisted request (the last)", f"scaling:allow{count}"),
            (f"allow: {count:,} prefixes, blocked request", f"scaling:allow{count}-blocked"),
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=BENCH.parent / "src", help="what to measure")
    parser.add_argument("--n1", type=int, default=100)
    parser.add_argument("--n2", type=int, default=400)
    args = parser.parse_args(argv)
    if not (args.src / "maintenance_mode").is_dir():
        parser.error(f"--src {args.src}: no maintenance_mode package there; give a src/ folder")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("scaling.py: valgrind is not installed (apt-get install valgrind)")
    run.SNAPSHOT.append(args.src.resolve())  # what run.ours_env puts first on PYTHONPATH
    table_rows = rows()
    with tempfile.TemporaryDirectory(prefix="mm-scaling-") as tmp:
        names = [name for _, name in table_rows]
        try:
            ir = run.grind(valgrind, "scaling", "phases", names, Path(tmp), args.n1, args.n2)
        except RuntimeError as exc:
            sys.exit(f"scaling.py: {exc}")
    print(f"Instructions per request (callgrind, N={args.n1} and {args.n2}), {args.src}:\n")
    print(table(("request", "Ir per request"), [(r, f"{ir[n]:,.0f}") for r, n in table_rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
