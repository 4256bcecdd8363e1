"""Import benchmark: a burst of ended sessions through the connector against a slow ServiceNow.

Each session has one rep, one customer, 20 chat lines, 2 files, system information and a
3-question survey. The ServiceNow emulator adds 40 ms per request and allows 8 at a time. The
script posts each session's end event to ``connector serve`` (gunicorn), lets ``connector
worker`` import them, and reports sessions per second, p95 from event to import, ServiceNow
and appliance calls per session (from each emulator's /_sim/stats) and the worker's peak RSS.
Then the same kind of sessions are imported the obvious way (import_baseline.py) for the ratio.

Usage: python scripts/bench/import_sessions.py [--sessions 1000] [--baseline-sessions 100]
       [--store-url postgresql://...] [--worker-processes 2] [--json-out FILE]
Prints a table and writes results/import-<time>.json. import_backends.py runs it on SQLite with
one worker process and on PostgreSQL with two, side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402
from import_baseline import SESSION_SCRIPT, run_baseline  # noqa: E402

from connector.store import Store  # noqa: E402


def main() -> None:
    """Run the import benchmark and the baseline; print and save the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--baseline-sessions", type=int, default=100, help="0 skips the baseline")
    p.add_argument("--latency-ms", type=float, default=40)
    p.add_argument("--max-concurrent", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=25, help="worker.batch_size")
    p.add_argument("--worker-threads", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--store-url", default="", help="store.url (default: SQLite in the work dir)")
    p.add_argument("--worker-processes", type=int, default=1, help="connector worker processes")
    p.add_argument("--json-out", default=None, help="also write the results to this file")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    sn = h.start_servicenow(
        workdir, "--latency-ms", str(args.latency_ms), "--max-concurrent", str(args.max_concurrent)
    )
    bg = h.start_bomgar(workdir)
    procs = [sn, bg]
    try:
        h.create_incidents(sn.url, args.sessions)
        lsids = h.sim_post(
            bg.url,
            "sessions/bulk",
            {"count": args.sessions, "external_key_prefix": h.TICKET_PREFIX, **SESSION_SCRIPT},
        )["lsids"]
        listing = {r["lsid"]: r for r in h.sim_get(bg.url, "sessions")}
        cfg = h.write_config(
            workdir / "connector.yaml",
            sn.url,
            bg.url,
            **{
                "worker.batch_size": args.batch_size,
                "servicenow.max_concurrent": args.max_concurrent,
                **({"store.url": args.store_url} if args.store_url else {}),
            },
        )
        web = h.start_connector(workdir, cfg)
        workers = [
            h.start_worker(workdir, cfg, threads=args.worker_threads, name=f"connector-worker-{n}")
            for n in range(args.worker_processes)
        ]
        procs += [web, *workers]
        time.sleep(2)  # let the worker start before the clock runs
        h.sim_post(sn.url, "stats/reset", {})
        h.sim_post(bg.url, "stats/reset", {})
        store = Store(args.store_url or workdir / "connector.db")
        sent: dict[str, float] = {}
        http = requests.Session()
        url = h.events_url(web.url)
        with h.RssSampler([w.pid for w in workers]) as rss:
            started = time.time()
            for lsid in lsids:
                row = listing[lsid]
                form = h.event_form(
                    "support_conference_end", lsid, int(row["end_time"]), row["external_key"]
                )
                sent[lsid] = time.time()
                http.post(url, data=form, timeout=30).raise_for_status()
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                counts = store.counts()
                if counts["done"] + counts["dead"] >= len(lsids):
                    break
                time.sleep(0.1)
        done = {r.lsid: r.updated_at for r in store.jobs("done", limit=len(lsids) + 10)}
        counts = store.counts()
        finished = max(done.values()) if done else time.time()
        seconds = finished - started
        latencies = [done[x] - sent[x] for x in lsids if x in done]
        sn_stats = h.sim_get(sn.url, "stats")
        bg_stats = h.sim_get(bg.url, "stats")
        peak_rss = max(rss.peak_mb(w.pid) for w in workers)
        result = {
            "sessions": len(lsids),
            "imported": len(done),
            "dead": counts["dead"],
            "seconds": round(seconds, 2),
            "sessions_per_second": round(len(done) / seconds, 1),
            "event_to_import_p50_seconds": round(h.percentile(latencies, 50), 2),
            "event_to_import_p95_seconds": round(h.percentile(latencies, 95), 2),
            "servicenow_calls_per_session": round(h.sn_calls(sn_stats) / len(lsids), 3),
            "servicenow_batch_items_per_session": round(
                sum(n for k, n in sn_stats["requests"].items() if k.startswith("batch "))
                / len(lsids),
                2,
            ),
            "appliance_calls_per_session": round(h.bomgar_calls(bg_stats) / len(lsids), 3),
            "worker_peak_rss_mb": peak_rss,
            "servicenow_requests": sn_stats["requests"],
            "appliance_requests": bg_stats["requests"],
        }
        for w in workers:
            w.stop()
        web.stop()
        if args.baseline_sessions:
            h.create_incidents(sn.url, args.baseline_sessions, prefix=h.BASELINE_PREFIX)
            base_lsids = h.sim_post(
                bg.url,
                "sessions/bulk",
                {
                    "count": args.baseline_sessions,
                    "external_key_prefix": h.BASELINE_PREFIX,
                    **SESSION_SCRIPT,
                },
            )["lsids"]
            h.sim_post(sn.url, "stats/reset", {})
            baseline = run_baseline(sn.url, bg.url, base_lsids)
            baseline["servicenow_calls_per_session"] = round(
                h.sn_calls(h.sim_get(sn.url, "stats")) / len(base_lsids), 2
            )
            result["baseline"] = baseline
            result["speedup_vs_baseline"] = round(
                result["sessions_per_second"] / baseline["sessions_per_second"], 1
            )
    finally:
        for proc in reversed(procs):
            proc.stop()
    rows = [
        ("sessions imported", f"{result['imported']}/{result['sessions']}", "all"),
        ("sessions/s", result["sessions_per_second"], ">= 50"),
        ("event to import p50 (s)", result["event_to_import_p50_seconds"], ""),
        ("event to import p95 (s)", result["event_to_import_p95_seconds"], ""),
        ("ServiceNow calls/session", result["servicenow_calls_per_session"], "<= 1"),
        ("appliance calls/session", result["appliance_calls_per_session"], ""),
        ("worker peak RSS (MB)", result["worker_peak_rss_mb"], ""),
    ]
    if "baseline" in result:
        rows += [
            ("baseline sessions/s", result["baseline"]["sessions_per_second"], ""),
            (
                "baseline ServiceNow calls/session",
                result["baseline"]["servicenow_calls_per_session"],
                "",
            ),
            ("speed-up vs baseline", result["speedup_vs_baseline"], ">= 20x"),
        ]
    h.print_table(
        f"import: {args.sessions} sessions, {args.latency_ms:.0f} ms latency,"
        f" {args.max_concurrent} concurrent",
        rows,
    )
    h.Report("import", vars(args), result).write()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
