"""In-process overhead of the middleware per request, as ratios within one run.

    .venv/bin/python benchmarks/overhead.py            # full run (about a minute)
    .venv/bin/python benchmarks/overhead.py --quick    # a smoke run (CI)

The bare ASGI and WSGI callables of the harness (_variants.py), driven directly (no
server), interleaved over several repeats: the median time per request and the
overhead over the bare app next to a do-nothing pass-through middleware (the floor
any middleware pays). Wall-clock times on shared machines are noisy: read the
ratios, not the absolute numbers. ``run.py --only inprocess`` is the full table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import measure
from _variants import build

LABELS = {"bare": "bare", "floor": "pass-through", "off": "ours, off", "on-html": "ours, on (503)"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred requests, for CI")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    repeats, target = (2, 0.005) if args.quick else (args.repeats, 0.08)
    workdir = Path(tempfile.mkdtemp())
    names = [f"raw-{kind}:{label}" for kind in ("asgi", "wsgi") for label in LABELS]
    res = measure([build(name, workdir) for name in names], repeats=repeats, target_seconds=target)
    print(f"python {sys.version.split()[0]}, {repeats} repeats, median")
    print(f"{'variant':24} {'per request':>12} {'overhead':>10} {'vs floor':>9}")
    for kind in ("asgi", "wsgi"):
        bare = res[f"raw-{kind}:bare"]["median"]
        floor = res[f"raw-{kind}:floor"]["median"] - bare
        for label, title in LABELS.items():
            median = res[f"raw-{kind}:{label}"]["median"]
            ratio = f"{(median - bare) / floor:8.1f}x" if floor > 0 and label != "bare" else ""
            over = (median - bare) * 1e6
            print(f"{kind} {title:19} {median * 1e6:9.2f} µs {over:7.2f} µs {ratio:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
