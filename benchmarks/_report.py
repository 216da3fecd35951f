"""Turn run.py's results into Markdown tables and a verdict on each target of issue 6."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from _common import paired_median
from _variants import ASGI_APPS, DECIDE, FLASK_EXT, OURS, WSGI_APPS

APPS = (*ASGI_APPS, *WSGI_APPS)
TITLES = {
    "raw-asgi": "bare ASGI callable",
    "starlette": "Starlette",
    "fastapi": "FastAPI",
    "raw-wsgi": "bare WSGI callable",
    "flask": "Flask",
    "django": "Django",
}
LABELS = {
    "bare": "bare app",
    "floor": "pass-through (floor)",
    "off": "ours, off",
    "on-html": "ours, on: 503 HTML",
    "on-json": "ours, on: 503 JSON",
    "allow": "ours, on: allowlisted path",
    "bypass": "ours, on: bypassed (secret header)",
    "ext-floor": "no-op before/after_request hooks (extension floor)",
    "ext-off": "ours as Flask extension, off",
    "ext-on-html": "ours as Flask extension, on: 503 HTML",
    "fm-env-off": "fastapi-maintenance env, off",
    "fm-env-on": "fastapi-maintenance env, on: 503",
    "fm-file-off": "fastapi-maintenance file, off",
    "fm-file-on": "fastapi-maintenance file, on: 503",
    "fm-allow": "fastapi-maintenance, on: forced-off route",
    "fm-bypass": "fastapi-maintenance, on: exempt_handler",
    "dmm-off": "django-maintenance-mode, off",
    "dmm-on-html": "django-maintenance-mode, on: 503 HTML",
    "dmm-on-json": "django-maintenance-mode, on: 503 JSON",
    "dmm-allow": "django-maintenance-mode, on: IGNORE_URLS",
    "dmm-bypass": "django-maintenance-mode, on: IGNORE_IP_ADDRESSES",
}
#: A tracemalloc growth under this over the whole run is noise (interned strings, caches).
MEMORY_NOISE_BYTES = 64 * 1024
#: Or a growth that stops: under this many bytes per request after the first tenth.
MEMORY_NOISE_PER_REQUEST = 0.05


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f}"


def signed_us(seconds: float) -> str:
    return f"{seconds * 1e6:+.2f}"


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class Targets:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, measured: str, met: bool | None) -> None:
        verdict = "n/a" if met is None else ("met" if met else "**missed**")
        self.rows.append((what, measured, verdict))


# -- in-process ---------------------------------------------------------------------------------


def _overhead(res: dict[str, Any], name: str, base: str) -> float:
    return paired_median(res[name]["samples"], res[base]["samples"])


def _ratio(res: dict[str, Any], name: str, base: str) -> float:
    return paired_median(res[name]["samples"], res[base]["samples"], "/")


def inprocess(res: dict[str, Any], targets: Targets) -> str:
    out = [
        "## In-process: time per request",
        "",
        "Median of the interleaved repeats; IQR and min-max show the spread. *over bare* and "
        "*x bare* pair each repeat with the bare app's repeat taken moments before.",
        "",
    ]
    rows = []
    for app in APPS:
        bare = f"{app}:bare"
        if bare not in res:
            continue
        floor = _overhead(res, f"{app}:floor", bare) if f"{app}:floor" in res else None
        for label in (*OURS, *FLASK_EXT):
            name = f"{app}:{label}"
            if name not in res:
                continue
            r = res[name]
            over = "" if label == "bare" else signed_us(_overhead(res, name, bare))
            x_floor = ""
            this_floor = floor
            if label in {"ext-floor", "ext-off"} and f"{app}:ext-floor" in res:
                this_floor = _overhead(res, f"{app}:ext-floor", bare)
            if label in {"floor", "off", "ext-floor", "ext-off"} and this_floor:
                x_floor = f"{_overhead(res, name, bare) / this_floor:.2f}"
            x_bare = "" if label == "bare" else f"{_ratio(res, name, bare):.3f}"
            rows.append(
                (
                    TITLES[app] if label == "bare" else "",
                    LABELS[label],
                    us(r["median"]),
                    f"{us(r['q1'])}-{us(r['q3'])}",
                    f"{us(r['min'])}-{us(r['max'])}",
                    over,
                    x_floor,
                    x_bare,
                    f"{r['status']}, {r['body_bytes']} B",
                )
            )
        if app in {"starlette", "fastapi", "flask", "django"} and f"{app}:on-html" in res:
            ratio = _ratio(res, f"{app}:on-html", bare)
            targets.add(
                f"On: the 503 costs less than the bare {TITLES[app]} hello (in-process, time)",
                f"{ratio:.2f} x bare",
                ratio <= 1.0,
            )
    head = (
        "app",
        "variant",
        "median µs",
        "IQR µs",
        "min-max µs",
        "over bare µs",
        "x floor",
        "x bare",
        "response",
    )
    out.append(table(head, rows))
    decisions = [(name, res[name]) for name in sorted(res) if name.split(":", 1)[1] in DECIDE]
    if decisions:
        out += [
            "",
            "One decision alone (`decide(snapshot, RequestInfo.from_*(request))`, no app):",
            "",
            table(
                ("request", "median µs", "IQR µs"),
                [(name, us(r["median"]), f"{us(r['q1'])}-{us(r['q3'])}") for name, r in decisions],
            ),
        ]
    return "\n".join(out)


# -- callgrind ----------------------------------------------------------------------------------


def callgrind(cg: dict[str, Any], targets: Targets) -> str:
    if "skipped" in cg:
        return f"## Instructions per request (callgrind)\n\nSkipped: {cg['skipped']}."
    ir = cg["ir"]
    out = [
        "## Instructions per request (callgrind)",
        "",
        f"`valgrind --tool=callgrind`, ({cg['n2']} requests - {cg['n1']} requests) / "
        f"{cg['n2'] - cg['n1']}: start-up and warm-up cancel out. {cg['valgrind']}.",
        "",
        "### Off: overhead over the bare app, against the pass-through floor",
        "",
    ]
    rows = []
    for app in APPS:
        bare = ir.get(f"{app}:bare")
        if bare is None:
            continue
        for label in ("off", "ext-off"):
            name = f"{app}:{label}"
            if name not in ir:
                continue
            floor_name = f"{app}:ext-floor" if label == "ext-off" else f"{app}:floor"
            floor = ir[floor_name] - bare
            off = ir[name] - bare
            ratio = off / floor
            rows.append(
                (
                    TITLES[app] + (" (extension)" if label == "ext-off" else ""),
                    f"{bare:,.0f}",
                    f"{floor:+,.0f}",
                    f"{off:+,.0f}",
                    f"{ratio:.2f}",
                )
            )
            targets.add(
                f"Off: overhead <= 2 x floor in instructions, {TITLES[app]}"
                + (" (Flask extension)" if label == "ext-off" else ""),
                f"{off:+,.0f} vs floor {floor:+,.0f} = {ratio:.2f} x",
                ratio <= 2.0,
            )
    out.append(
        table(
            ("app", "bare Ir", "floor: + Ir", "ours off: + Ir", "ours ÷ floor (target <= 2)"), rows
        )
    )
    out += ["", "### On: the 503, allowlisted and bypassed requests", ""]
    rows = []
    for app in APPS:
        bare = ir.get(f"{app}:bare")
        if bare is None or f"{app}:on-html" not in ir:
            continue
        kind = "raw-asgi" if app in ASGI_APPS else "raw-wsgi"
        off = ir[f"{app}:off"]
        allow_extra = ir[f"{app}:allow"] - off
        bypass_extra = ir[f"{app}:bypass"] - off
        d_allow = ir.get(f"{kind}:decide-allow", float("nan"))
        d_bypass = ir.get(f"{kind}:decide-bypass", float("nan"))
        rows.append(
            (
                TITLES[app],
                f"{bare:,.0f}",
                f"{ir[f'{app}:on-html']:,.0f} ({ir[f'{app}:on-html'] / bare:.2f} x)",
                f"{ir[f'{app}:on-json']:,.0f} ({ir[f'{app}:on-json'] / bare:.2f} x)",
                f"{allow_extra:+,.0f} (decision {d_allow:,.0f})",
                f"{bypass_extra:+,.0f} (decision {d_bypass:,.0f})",
            )
        )
        if app not in {"raw-asgi", "raw-wsgi"}:
            ratio = ir[f"{app}:on-html"] / bare
            targets.add(
                f"On: the 503 costs less than the bare {TITLES[app]} hello (instructions)",
                f"{ratio:.2f} x bare",
                ratio <= 1.0,
            )
        for what, extra, decision in (
            ("allowlisted", allow_extra, d_allow),
            ("bypassed", bypass_extra, d_bypass),
        ):
            # "one decision" plus the poll and the scope checks that lead to it: 10 % slack.
            targets.add(
                f"On: {what} request costs <= off + one decision, {TITLES[app]} (instructions)",
                f"off {extra:+,.0f} vs decision {decision:,.0f} ({extra / decision:.2f} x)",
                extra <= decision * 1.1,
            )
    out.append(
        table(
            (
                "app",
                "bare Ir",
                "503 HTML Ir",
                "503 JSON Ir",
                "allowlisted: Ir over off",
                "bypassed: Ir over off",
            ),
            rows,
        )
    )
    snippets = cg.get("snippets") or {}
    if snippets:
        baseline = next(iter(snippets.values()))
        out += [
            "",
            "### Where the instructions of a blocked request go",
            "",
            "Pieces of the on path called alone (_snippets.py), net of an empty call; "
            "*alternative* rows are not the library's code but a cheaper way to do the same.",
            "",
            table(
                ("piece", "Ir per call"),
                [(name, f"{ir - baseline:,.0f}") for name, ir in list(snippets.items())[1:]],
            ),
        ]
    return "\n".join(out)


# -- over HTTP ----------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def http(h: dict[str, Any], targets: Targets) -> str:
    if "skipped" in h:
        return f"## Over HTTP\n\nSkipped: {h['skipped']}."
    runs = h["runs"]
    out = [
        "## Over HTTP: uvicorn and gunicorn, one worker, loaded by wrk on 127.0.0.1",
        "",
        f"`wrk -t1 -c{h['connections']} -d{h['seconds']:g}s --latency`, {h['rounds']} rounds, "
        "every variant once per round in turn (A B C A B C); the server is pinned to CPU 0 and "
        f"wrk to CPU 1. Ratios are medians of per-round ratios to the bare app. {h['wrk']}.",
        "",
    ]
    rows = []
    for name, samples in runs.items():
        app, label = name.split(":", 1)
        bare = runs[f"{app}:bare"]
        rps = [s["rps"] for s in samples]
        p99 = [s["p99_ms"] for s in samples]
        x_rps = _median([a["rps"] / b["rps"] for a, b in zip(samples, bare, strict=True)])
        x_p99 = _median([a["p99_ms"] / b["p99_ms"] for a, b in zip(samples, bare, strict=True)])
        rows.append(
            (
                h["servers"][name],
                TITLES[app] if label == "bare" else "",
                LABELS[label],
                f"{_median(rps):,.0f}",
                "" if label == "bare" else f"{x_rps:.3f}",
                f"{_median(p99):.2f}",
                "" if label == "bare" else f"{x_p99:.2f}",
            )
        )
        if label == "off":
            targets.add(
                f"Off over HTTP: throughput >= 0.98 x bare, {TITLES[app]} ({h['servers'][name]})",
                f"{x_rps:.3f} x",
                x_rps >= 0.98,
            )
        if label == "on-html":
            targets.add(
                f"On over HTTP: throughput >= 1.0 x bare, {TITLES[app]} ({h['servers'][name]})",
                f"{x_rps:.3f} x",
                x_rps >= 1.0,
            )
    out.append(
        table(("server", "app", "variant", "req/s", "req/s x bare", "p99 ms", "p99 x bare"), rows)
    )
    return "\n".join(out)


# -- the peers ----------------------------------------------------------------------------------


def peers(results: dict[str, Any], targets: Targets) -> str:
    section = results.get("peers", {})
    if "skipped" in section:
        return f"## Against the peers\n\nSkipped: {section['skipped']}."
    ours = results.get("inprocess", {})
    theirs = section.get("inprocess", {})
    if not ours or not theirs:
        return ""
    runs = results.get("http", {}).get("runs", {})
    out = [
        "## Against the peers, side by side",
        "",
        "In-process cells: microseconds per request over the bare app of the same process "
        "(ours and the peers run in separate virtualenvs, with the same framework versions), "
        "and the ratio to that bare app. HTTP cells: throughput as a ratio to the bare app.",
        "",
    ]

    def cell(res: dict[str, Any], name: str) -> tuple[str, float]:
        if name not in res:
            return "-", float("nan")
        app = name.split(":")[0]
        over = _overhead(res, name, f"{app}:bare")
        return f"{signed_us(over)} µs ({_ratio(res, name, f'{app}:bare'):.2f} x)", over

    def http_cell(name: str) -> tuple[str, float]:
        if name not in runs:
            return "-", float("nan")
        bare = runs[f"{name.split(':')[0]}:bare"]
        x = _median([a["rps"] / b["rps"] for a, b in zip(runs[name], bare, strict=True)])
        return f"{x:.3f} x", x

    def block(title: str, columns: Sequence[str], spec: Sequence[tuple[str, Sequence[str]]]) -> str:
        rows = []
        for row_title, names in spec:
            http_row = row_title.startswith("HTTP")
            cells = [
                ("-", float("nan"))
                if not n
                else http_cell(n)
                if http_row
                else cell(ours if i == 0 else theirs, n)
                for i, n in enumerate(names)
            ]
            rows.append((row_title, *(c[0] for c in cells)))
            mine, others = cells[0][1], [c[1] for c in cells[1:] if c[1] == c[1]]
            if others and mine == mine:
                ahead = all(mine > o for o in others) if http_row else all(mine < o for o in others)
                targets.add(f"Ahead of the peers: {title}, {row_title}", cells[0][0], ahead)
        return f"### {title}\n\n" + table(("", *columns), rows)

    out.append(
        block(
            "FastAPI",
            ("ours", "fastapi-maintenance (env, its default)", "fastapi-maintenance (file)"),
            [
                ("off", ("fastapi:off", "fastapi:fm-env-off", "fastapi:fm-file-off")),
                ("on: the 503", ("fastapi:on-json", "fastapi:fm-env-on", "fastapi:fm-file-on")),
                ("on: allowlisted path", ("fastapi:allow", "fastapi:fm-allow", "")),
                ("on: bypassed client", ("fastapi:bypass", "fastapi:fm-bypass", "")),
                ("HTTP off, req/s", ("fastapi:off", "fastapi:fm-env-off", "fastapi:fm-file-off")),
                ("HTTP on, req/s", ("fastapi:on-html", "fastapi:fm-env-on", "fastapi:fm-file-on")),
            ],
        )
    )
    out += [
        "",
        "fastapi-maintenance answers JSON only, so its 503 is set against our JSON 503; its "
        "allowlist is a decorator on the route and its bypass an `exempt_handler` (here one "
        "that checks the same header).",
        "",
    ]
    out.append(
        block(
            "Django",
            ("ours", "django-maintenance-mode"),
            [
                ("off", ("django:off", "django:dmm-off")),
                ("on: the 503 (HTML)", ("django:on-html", "django:dmm-on-html")),
                ("on: the 503 (JSON)", ("django:on-json", "django:dmm-on-json")),
                ("on: allowlisted path", ("django:allow", "django:dmm-allow")),
                ("on: bypassed client", ("django:bypass", "django:dmm-bypass")),
                ("HTTP off, req/s", ("django:off", "django:dmm-off")),
                ("HTTP on, req/s", ("django:on-html", "django:dmm-on-html")),
            ],
        )
    )
    out += [
        "",
        "django-maintenance-mode's default page is a one-line template (ours is a full page, "
        f"{ours.get('django:on-html', {}).get('body_bytes', '?')} bytes); its bypass is by "
        "client IP (a regular expression), ours by a secret header.",
        "",
        "The peers' own rows (their bare apps and floors measured in their process):",
        "",
        inprocess_plain(theirs),
    ]
    return "\n".join(out)


def inprocess_plain(res: dict[str, Any]) -> str:
    rows = []
    for name, r in res.items():
        app, label = name.split(":", 1)
        bare = f"{app}:bare"
        rows.append(
            (
                TITLES[app] if label == "bare" else "",
                LABELS[label],
                us(r["median"]),
                f"{us(r['q1'])}-{us(r['q3'])}",
                "" if label == "bare" else signed_us(_overhead(res, name, bare)),
                "" if label == "bare" else f"{_ratio(res, name, bare):.3f}",
                f"{r['status']}, {r['body_bytes']} B",
            )
        )
    head = ("app", "variant", "median µs", "IQR µs", "over bare µs", "x bare", "response")
    return table(head, rows)


# -- touch and memory ---------------------------------------------------------------------------


def touch(t: dict[str, Any], targets: Targets) -> str:
    rows = []
    for r in t["rows"]:
        n = r["requests"]
        intervals = r["seconds"] / r["check_interval"]
        strace = "strace_file_calls" in r
        flag_calls = r["strace_flag_calls"] if strace else r["py_flag_stat"]
        file_calls = r["strace_file_calls"] if strace else r["py_stat"] + r["py_open"]
        rows.append(
            (
                LABELS[r["name"].split(":", 1)[1]] + f" ({TITLES[r['name'].split(':')[0]]})",
                f"{n:,}",
                f"{r['seconds']:.2f}",
                f"{file_calls:,}" + (f" {kinds}" if (kinds := r.get("strace_kinds")) else ""),
                f"{file_calls / n:.4f}",
                f"{flag_calls}",
                f"{flag_calls / intervals:.2f}" if r["name"].split(":")[1] in OURS else "-",
                f"{r['env_reads'] / n:.4f}",
            )
        )
        if r["name"].split(":", 1)[1] in {"off", "on-html"}:
            targets.add(
                f"Touch: {r['name']}: no file or env access per request, "
                "<= 1 flag stat per check interval",
                f"{file_calls} file calls / {n:,} requests, {flag_calls / intervals:.2f} "
                f"stats per interval, {r['env_reads']} env reads",
                file_calls <= intervals + 1 and r["env_reads"] == 0,
            )
    head = (
        "variant",
        "requests",
        "seconds",
        "file syscalls",
        "per request",
        "flag-file calls",
        "per check interval (ours)",
        "env reads per request",
    )
    how = (
        f"`strace -f -e trace=%file` ({t['strace']}), counted between two marker calls "
        "around the requests"
        if t["rows"] and "strace_file_calls" in t["rows"][0]
        else "Python-level counts (os.stat, audit-hook opens), strace not used"
    )
    return "\n".join(
        [
            "## What a request touches",
            "",
            f"{how}; check interval {t['rows'][0]['check_interval'] if t['rows'] else '?'} s; "
            "environment reads counted on `os.environ` itself.",
            "",
            table(head, rows),
        ]
    )


def memory(m: dict[str, Any], targets: Targets) -> str:
    rows = []
    for r in m["rows"]:
        rss = (r["rss_after"] - r["rss_before"]) / 1024
        first = r.get("traced_first_tenth", 0)
        later = (r["traced_growth"] - first) / (r["requests"] - r["requests"] // 10)
        rows.append(
            (
                r["name"],
                f"{r['requests']:,}",
                f"{r['rss_before'] / 2**20:.1f} -> {r['rss_after'] / 2**20:.1f}",
                f"{rss:+.0f}",
                f"{first:,}",
                f"{r['traced_growth']:,}",
                f"{later:.3f}",
            )
        )
        targets.add(
            f"Memory: no growth over {r['requests']:,} requests, {r['name']}",
            f"{r['traced_growth']:,} B still allocated ({later:.3f} B per request after the "
            f"first tenth), RSS {rss:+.0f} KiB",
            r["traced_growth"] <= MEMORY_NOISE_BYTES or later < MEMORY_NOISE_PER_REQUEST,
        )
    head = (
        "variant",
        "requests",
        "RSS MiB before -> after",
        "RSS KiB",
        "traced after 1/10",
        "traced after all",
        "B per request after 1/10",
    )
    return "\n".join(
        [
            "## Memory",
            "",
            "RSS before and after the requests, then the same number again under tracemalloc: "
            "the bytes allocated during them and still alive after `gc.collect()`, after the "
            "first tenth of the requests and after all of them. A cache that fills once shows "
            "in the first column and stops; a leak keeps growing with the requests.",
            "",
            table(head, rows),
        ]
    )


# -- all ----------------------------------------------------------------------------------------


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    targets = Targets()
    parts = [
        "# maintenance-mode benchmark" + (" (quick smoke run)" if meta.get("quick") else ""),
        "",
        f"- date: {meta.get('date')}; took {meta.get('seconds')} s",
        f"- command: `{meta.get('command')}`; commit {meta.get('git')}",
        f"- machine: {meta.get('machine')} ({meta.get('cpu')}); load average before "
        f"{_load(meta.get('load_before'))}, after {_load(meta.get('load_after'))}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()),
    ]
    sections: list[tuple[str, Callable[[Any, Targets], str]]] = [
        ("inprocess", inprocess),
        ("callgrind", callgrind),
        ("http", http),
    ]
    sections += [("peers", lambda _, t: peers(results, t)), ("touch", touch), ("memory", memory)]
    for key, render_section in sections:
        if key not in results:
            continue
        if "skipped" in results[key]:
            parts += ["", f"## {key}", "", f"Skipped: {results[key]['skipped']}"]
        else:
            parts += ["", render_section(results[key], targets)]
    parts += ["", "## Targets", "", table(("target", "measured", "verdict"), targets.rows)]
    return "\n".join(parts) + "\n"


def _load(value: Any) -> str:
    return "?" if not value else " ".join(f"{x:.2f}" for x in value)
