"""Backfill benchmark: `connector backfill` over 30 days of sessions, without and with a cost model.

Each run gets a fresh appliance emulator holding that many ended sessions spread over 30 days
(each on its own incident in the ServiceNow emulator) and runs ``connector backfill`` in a
process of its own, which lists the range and imports it through the worker's threads. Without
latency (1,000 and 10,000 sessions) it reports wall time and peak RSS, which should stay flat as
the count grows; under the benchmarks' cost model (10,000 sessions) it reports the import rate
as a ratio to the instance's limit, as the import benchmark does. Every run reports the
process's CPU time per session.

Usage: python scripts/bench/backfill.py [--sizes 1000,10000] [--model-size 10000] [--days 30]
Prints a table and writes results/backfill-<time>.json.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
from import_baseline import SESSION_RECORDS, SESSION_SCRIPT  # noqa: E402

from connector.store import Store  # noqa: E402


def children_cpu() -> float:
    """Return the CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_size(sn: h.Proc, workdir: Path, count: int, days: int) -> dict[str, Any]:
    """Backfill ``count`` sessions in a subprocess; return times, rate, CPU and peak RSS."""
    sn_url = sn.url
    bg = h.start_bomgar(workdir)
    try:
        end = int(time.time()) - 60
        start = end - days * 86400
        h.sim_post(
            bg.url,
            "sessions/bulk",
            {
                "count": count,
                "start_time": start,
                "end_time": end,
                "external_key_prefix": h.TICKET_PREFIX,
                **SESSION_SCRIPT,
            },
            timeout=600,
        )
        cfg = h.write_config(
            workdir / "connector.yaml",
            sn_url,
            bg.url,
            **{"bomgar.max_requests_per_second": 20.0},
        )
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start - 3600))
        h.sim_post(sn_url, "stats/reset", {})
        cpu_before = children_cpu()
        emulators_before = h.cpu_seconds(sn.pid) + h.cpu_seconds(bg.pid)
        t0 = time.perf_counter()
        popen = subprocess.Popen(
            [sys.executable, "-m", "connector", "backfill", "--config", str(cfg), "--since", since],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        listed_at = None
        with h.RssSampler([popen.pid], interval=0.02) as rss:
            assert popen.stdout is not None
            for line in popen.stdout:
                lines.append(line.rstrip())
                if listed_at is None and line.startswith("found "):
                    listed_at = time.perf_counter()
            popen.wait(timeout=1800)
        finished = time.perf_counter()
        cpu = children_cpu() - cpu_before
        emulators = h.cpu_seconds(sn.pid) + h.cpu_seconds(bg.pid) - emulators_before
        if popen.returncode != 0:
            raise RuntimeError(f"backfill failed ({popen.returncode}):\n" + "\n".join(lines[-30:]))
        counts = Store(workdir / "connector.db").counts()
        importing = finished - (listed_at or t0)
        cost = h.sim_get(sn_url, "stats").get("cost", {})
        return {
            "sessions": count,
            "imported": counts["done"],
            "dead": counts["dead"],
            "pending": counts["pending"],
            "seconds": round(finished - t0, 1),
            "listing_seconds": round((listed_at or t0) - t0, 1),
            "import_seconds": round(importing, 1),
            "sessions_per_second": round(counts["done"] / (finished - t0), 1),
            "import_sessions_per_second": round(counts["done"] / importing, 1),
            "cpu_ms_per_session": round(1000 * cpu / max(1, counts["done"]), 2),
            # The emulators share the machine's cores with the connector: what bounds the wall.
            "emulators_cpu_ms_per_session": round(1000 * emulators / max(1, counts["done"]), 2),
            "peak_rss_mb": rss.peak_mb(popen.pid),
            "servicenow_cost": cost,
            "last_line": lines[-1] if lines else "",
        }
    finally:
        bg.stop()


def run_sizes(
    base: Path, label: str, sizes: list[int], days: int, sn_flags: list[str]
) -> dict[str, Any]:
    """Run each size against one ServiceNow emulator started with ``sn_flags``."""
    (base / label).mkdir()
    sn = h.start_servicenow(base / label, *sn_flags)
    out: dict[str, Any] = {}
    try:
        h.create_incidents(sn.url, max(sizes), chunk=500)
        for size in sizes:
            workdir = base / label / str(size)
            workdir.mkdir()
            print(f"{label}: backfilling {size} sessions", file=sys.stderr)
            out[str(size)] = run_size(sn, workdir, size, days)
    finally:
        sn.stop()
    return out


def main() -> None:
    """Run each size and report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000", help="sizes without latency ('' skips)")
    p.add_argument(
        "--model-size", type=int, default=10000, help="size under the cost model (0 skips)"
    )
    p.add_argument("--days", type=int, default=30)
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    base = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    model = h.COST_MODEL
    limit = h.instance_limit(SESSION_RECORDS["reads"], SESSION_RECORDS["writes"], model)
    results: dict[str, Any] = {}
    rows: list[tuple[str, Any, str]] = []
    if sizes:
        results["no_latency"] = plain = run_sizes(base, "no-latency", sizes, args.days, [])
        for size, r in plain.items():
            rows += [
                (f"{size}: imported", f"{r['imported']}/{r['sessions']}", "all"),
                (f"{size}: wall seconds", r["seconds"], "<= 60" if size == "10000" else ""),
                (f"{size}: of which listing", r["listing_seconds"], ""),
                (f"{size}: sessions/s", r["sessions_per_second"], ""),
                (f"{size}: CPU ms/session", r["cpu_ms_per_session"], "<= 2"),
                (f"{size}: emulators' CPU ms/session", r["emulators_cpu_ms_per_session"], ""),
                (f"{size}: peak RSS MB", r["peak_rss_mb"], "<= 200"),
            ]
        if len(sizes) >= 2:
            first, last = plain[str(sizes[0])], plain[str(sizes[-1])]
            growth = round(last["peak_rss_mb"] - first["peak_rss_mb"], 1)
            results["rss_growth_mb"] = growth
            rows.append((f"RSS growth {sizes[0]} -> {sizes[-1]} MB", growth, "flat"))
    if args.model_size:
        flags = h.cost_flags(model)
        modelled = run_sizes(base, "cost-model", [args.model_size], args.days, flags)
        r = modelled[str(args.model_size)]
        r["instance_limit_sessions_per_second"] = round(limit, 1)
        r["ratio_to_limit"] = round(r["import_sessions_per_second"] / limit, 2)
        results["cost_model"] = r
        size = args.model_size
        rows += [
            (f"{size} modelled: imported", f"{r['imported']}/{r['sessions']}", "all"),
            (f"{size} modelled: import sessions/s", r["import_sessions_per_second"], ""),
            (f"{size} modelled: instance limit", r["instance_limit_sessions_per_second"], ""),
            (f"{size} modelled: ratio to the limit", r["ratio_to_limit"], ">= 0.75"),
            (f"{size} modelled: CPU ms/session", r["cpu_ms_per_session"], "<= 2"),
            (f"{size} modelled: peak RSS MB", r["peak_rss_mb"], ""),
        ]
    h.print_table(
        f"backfill over {args.days} days; modelled instance: {model['latency_ms']:g} ms a request,"
        f" {model['read_ms']:g} ms a read, {model['write_ms']:g} ms a write,"
        f" {int(model['max_concurrent'])} at once",
        rows,
    )
    h.Report("backfill", vars(args), results).write()


if __name__ == "__main__":
    main()
