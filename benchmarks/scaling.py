"""Costs that should stay flat: instructions per request as the configuration grows.

    .venv/bin/python benchmarks/scaling.py                # this tree's src/, a Markdown table
    .venv/bin/python benchmarks/scaling.py --src OTHER/src   # another copy (an older commit's)

Runs itself under ``valgrind --tool=callgrind`` (like run.py's ``callgrind`` section:
N2 minus N1 requests between marker calls, so start-up cancels out), in-process
through the bare ASGI middleware, with 0 to 1,000 ``bypass_ips`` networks and 1 to
1,000 ``allow`` prefixes. docs/performance.md shows the table it prints.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import CLIENT, Runner, Variant, asgi_scope, marker  # noqa: E402

COUNTS = (0, 1, 100, 1000)
ALLOW_COUNTS = (1, 100, 1000)
CLIENT6 = "2001:db8:fff0::7"


def _networks(count: int, *, including: str | None = None) -> list[str]:
    """``count`` networks of four kinds (IPv4 /24 and /32, IPv6 /64 and /128), none of them
    the client's, the last one ``including`` when given."""
    found = []
    for i in range(count - (including is not None)):
        kind, n = i % 4, i // 4
        found.append(
            (
                f"10.{n // 256}.{n % 256}.0/24",
                f"198.18.{n // 256}.{n % 256}",
                f"2001:db8:{n:x}::/64",
                f"2001:db8:ffff::{n:x}",
            )[kind]
        )
    return [*found, including] if including is not None else found


def variants(workdir: Path) -> list[tuple[str, Variant]]:
    """(table row, variant): the bare ASGI middleware around a hello app, one per row."""
    from _variants import _ours_flag, check_interval, raw_asgi_hello

    from maintenance_mode.asgi import MaintenanceMiddleware

    def app(on: bool = True, **options: Any) -> Any:
        interval = check_interval()
        extra: dict[str, Any] = {} if interval is None else {"check_interval": interval}
        return MaintenanceMiddleware(
            raw_asgi_hello, flag=_ours_flag(workdir, on), **options, **extra
        )

    scope = asgi_scope("html")
    scope6 = {**scope, "client": (CLIENT6, 50000)}
    static = asgi_scope("html", "/static/css/app.css")
    found: list[tuple[str, Variant]] = [
        ("maintenance off (no rules)", Variant("off", "asgi", app(on=False), scope)),
    ]
    for count in COUNTS:
        nets = _networks(count)
        found += [
            (
                f"bypass_ips: {count:,} networks, blocked request (IPv4 client)",
                Variant(f"net{count}-blocked", "asgi", app(bypass_ips=nets), scope, expect=503),
            ),
            (
                f"bypass_ips: {count:,} networks, blocked request (IPv6 client)",
                Variant(f"net{count}-blocked6", "asgi", app(bypass_ips=nets), scope6, expect=503),
            ),
        ]
        if count:
            inside = _networks(count, including=f"{CLIENT}/32")
            found.append(
                (
                    f"bypass_ips: {count:,} networks, bypassed request (IPv4 client, the last)",
                    Variant(f"net{count}-bypassed", "asgi", app(bypass_ips=inside), scope),
                )
            )
    for count in ALLOW_COUNTS:
        entries = [*(f"/section-{i}/" for i in range(count - 1)), "/static/"]
        found += [
            (
                f"allow: {count:,} prefixes, allowlisted request (the last)",
                Variant(f"allow{count}", "asgi", app(allow=entries), static),
            ),
            (
                f"allow: {count:,} prefixes, blocked request",
                Variant(f"allow{count}-blocked", "asgi", app(allow=entries), scope, expect=503),
            ),
        ]
    return found


def child(workdir: Path, out: Path, n1: int, n2: int) -> None:
    """Under callgrind: N1 then N2 requests of each variant, each phase between markers."""
    runner = Runner()
    rows = variants(workdir)
    for _, variant in rows:
        runner.check(variant)
        runner.run(variant, 50)
    gc.collect()
    gc.freeze()
    order = []
    for _, variant in rows:
        for n in (n1, n2):
            gc.collect()
            marker()
            runner.run(variant, n)
            marker()
            order.append({"name": variant.name, "n": n})
    out.write_text(json.dumps({"order": order, "rows": [[r, v.name] for r, v in rows]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=BENCH.parent / "src", help="what to measure")
    parser.add_argument("--n1", type=int, default=100)
    parser.add_argument("--n2", type=int, default=400)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.workdir, args.child, args.n1, args.n2)
        return 0
    from run import _parse_callgrind, tool

    valgrind = tool("valgrind")
    if valgrind is None:
        sys.exit("scaling.py: valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="mm-scaling-") as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(args.src.resolve()), os.environ.get("PYTHONPATH", "")]
            ),
            "PYTHONHASHSEED": "0",
            "BENCH_CHECK_INTERVAL": "3600",  # the flag's re-check stays out of the counts
        }
        cmd = [
            valgrind,
            "--tool=callgrind",
            "--dump-before=getloadavg",
            "--dump-instr=no",
            "--dump-line=no",
            f"--callgrind-out-file={folder}/cg.out",
            sys.executable,
            __file__,
            *("--child", str(folder / "order.json"), "--workdir", str(folder)),
            *("--n1", str(args.n1), "--n2", str(args.n2)),
        ]
        with open(folder / "valgrind.log", "w") as log:
            if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env).returncode:
                sys.exit((folder / "valgrind.log").read_text()[-3000:])
        rows = json.loads((folder / "order.json").read_text())["rows"]
        ir = _parse_callgrind(folder)
    print(f"Instructions per request (callgrind, N={args.n1} and {args.n2}), {args.src}:\n")
    print("| request | Ir per request |\n|---|---|")
    for row, name in rows:
        print(f"| {row} | {ir[name]:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
