"""Backfill benchmark: `connector backfill` over 30 days of sessions, 1,000 and then 10,000.

Each size runs against a fresh appliance emulator holding that many ended sessions spread over
30 days (each on its own incident in the ServiceNow emulator), through the poller path in one
process. Reports wall time and the process's peak RSS, which should stay flat as the count grows.

Usage: python scripts/bench/backfill.py [--sizes 1000,10000] [--days 30]
Prints a table and writes results/backfill-<time>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
from import_baseline import SESSION_SCRIPT  # noqa: E402

from connector.store import Store  # noqa: E402


def run_size(sn_url: str, workdir: Path, count: int, days: int) -> dict[str, Any]:
    """Backfill ``count`` sessions in a subprocess; return wall time and peak RSS."""
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
        t0 = time.perf_counter()
        popen = subprocess.Popen(
            [sys.executable, "-m", "connector", "backfill", "--config", str(cfg), "--since", since],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with h.RssSampler([popen.pid], interval=0.02) as rss:
            output, _ = popen.communicate(timeout=1800)
        seconds = time.perf_counter() - t0
        if popen.returncode != 0:
            raise RuntimeError(f"backfill failed ({popen.returncode}):\n{output[-2000:]}")
        counts = Store(workdir / "connector.db").counts()
        return {
            "sessions": count,
            "imported": counts["done"],
            "dead": counts["dead"],
            "pending": counts["pending"],
            "seconds": round(seconds, 1),
            "sessions_per_second": round(counts["done"] / seconds, 1),
            "peak_rss_mb": rss.peak_mb(popen.pid),
            "last_line": output.strip().splitlines()[-1] if output.strip() else "",
        }
    finally:
        bg.stop()


def main() -> None:
    """Run each size and report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000")
    p.add_argument("--days", type=int, default=30)
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    base = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    sn = h.start_servicenow(base)
    results: dict[str, Any] = {}
    try:
        h.create_incidents(sn.url, max(sizes), chunk=500)
        for size in sizes:
            workdir = base / str(size)
            workdir.mkdir()
            results[str(size)] = run_size(sn.url, workdir, size, args.days)
    finally:
        sn.stop()
    rows = []
    for size, r in results.items():
        rows += [
            (f"{size}: imported", f"{r['imported']}/{r['sessions']}", "all"),
            (f"{size}: wall seconds", r["seconds"], ""),
            (f"{size}: sessions/s", r["sessions_per_second"], ""),
            (f"{size}: peak RSS MB", r["peak_rss_mb"], "<= 200"),
        ]
    if len(results) >= 2:
        first, last = results[str(sizes[0])], results[str(sizes[-1])]
        results["rss_growth_mb"] = round(last["peak_rss_mb"] - first["peak_rss_mb"], 1)
        rows.append((f"RSS growth {sizes[0]} -> {sizes[-1]} MB", results["rss_growth_mb"], "flat"))
    h.print_table(f"backfill over {args.days} days", rows)
    h.Report("backfill", vars(args), results).write()


if __name__ == "__main__":
    main()
