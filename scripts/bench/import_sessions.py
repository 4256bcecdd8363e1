"""Import benchmark: a backlog of ended sessions through the connector, at an instance's limit.

Each session has one rep, one customer, 20 chat lines, 2 files, system information and a
3-question survey. The ServiceNow emulator runs the cost model the benchmarks assume (40 ms per
request, 10 ms per record read, 30 ms per record written, items of a Batch request one after
another, 8 requests at once; docs/emulators/servicenow.md). From the session's records and the
model the script computes the instance's limit (sessions/s that 8 always-busy slots serve) and
reports the achieved rate as a ratio to it, with the worker's CPU time per session, ServiceNow
and appliance calls per session, the slots' measured use and the worker's peak RSS. The script
posts each session's end event to ``connector serve`` (gunicorn) and lets ``connector worker``
import them. Then the same kind of sessions are imported the obvious way (import_baseline.py),
in the same run, for the ratio.

Usage: python scripts/bench/import_sessions.py [--sessions 1000] [--baseline-sessions 100]
       [--client-concurrency 16] [--max-queued 0] [--worker-threads N]
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
from import_baseline import SESSION_RECORDS, SESSION_SCRIPT, run_baseline  # noqa: E402

from connector.store import Store  # noqa: E402


def main() -> None:
    """Run the import benchmark and the baseline; print and save the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--baseline-sessions", type=int, default=100, help="0 skips the baseline")
    p.add_argument("--latency-ms", type=float, default=h.COST_MODEL["latency_ms"])
    p.add_argument("--read-ms", type=float, default=h.COST_MODEL["read_ms"])
    p.add_argument("--write-ms", type=float, default=h.COST_MODEL["write_ms"])
    p.add_argument("--max-concurrent", type=int, default=h.COST_MODEL["max_concurrent"])
    p.add_argument(
        "--max-queued",
        type=int,
        default=0,
        help="requests the instance queues beyond its slots before answering 429",
    )
    p.add_argument(
        "--client-concurrency",
        type=int,
        default=0,
        help="servicenow.max_concurrent (0: the instance's slots); above them, the instance 429s",
    )
    p.add_argument("--batch-size", type=int, default=25, help="worker.batch_size")
    p.add_argument(
        "--worker-threads", type=int, default=0, help="import threads (0: the worker's default)"
    )
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--store-url", default="", help="store.url (default: SQLite in the work dir)")
    p.add_argument("--worker-processes", type=int, default=1, help="connector worker processes")
    p.add_argument("--json-out", default=None, help="also write the results to this file")
    args = p.parse_args()
    model = vars(args)
    limit = h.instance_limit(SESSION_RECORDS["reads"], SESSION_RECORDS["writes"], model)
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
    sn = h.start_servicenow(workdir, *h.cost_flags(model), "--max-queued", str(args.max_queued))
    client_concurrency = args.client_concurrency or args.max_concurrent
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
                "servicenow.max_concurrent": client_concurrency,
                **({"store.url": args.store_url} if args.store_url else {}),
            },
        )
        web = h.start_connector(workdir, cfg)
        workers = [
            h.start_worker(
                workdir,
                cfg,
                threads=args.worker_threads or None,
                name=f"connector-worker-{n}",
            )
            for n in range(args.worker_processes)
        ]
        procs += [web, *workers]
        time.sleep(2)  # let the worker start before the clock runs
        h.sim_post(sn.url, "stats/reset", {})
        h.sim_post(bg.url, "stats/reset", {})
        cpu_before = sum(h.cpu_seconds(w.pid) for w in workers)
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
        cpu_used = sum(h.cpu_seconds(w.pid) for w in workers) - cpu_before
        done = {r.lsid: r.updated_at for r in store.jobs("done", limit=len(lsids) + 10)}
        counts = store.counts()
        finished = max(done.values()) if done else time.time()
        seconds = finished - started
        latencies = [done[x] - sent[x] for x in lsids if x in done]
        sn_stats = h.sim_get(sn.url, "stats")
        bg_stats = h.sim_get(bg.url, "stats")
        peak_rss = max(rss.peak_mb(w.pid) for w in workers)
        cost = sn_stats["cost"]
        rate = len(done) / seconds
        result = {
            "sessions": len(lsids),
            "imported": len(done),
            "dead": counts["dead"],
            "seconds": round(seconds, 2),
            "sessions_per_second": round(rate, 1),
            "instance_limit_sessions_per_second": round(limit, 1),
            "ratio_to_limit": round(rate / limit, 2),
            "cpu_ms_per_session": round(1000 * cpu_used / max(1, len(done)), 2),
            "records_read_per_session": round(cost["reads"] / len(lsids), 2),
            "records_written_per_session": round(cost["writes"] / len(lsids), 2),
            "slot_use": round(cost["slot_ms"] / (1000 * seconds * args.max_concurrent), 2),
            "servicenow_cost": cost,
            "event_to_import_p50_seconds": round(h.percentile(latencies, 50), 2),
            "event_to_import_p95_seconds": round(h.percentile(latencies, 95), 2),
            "servicenow_calls_per_session": round(h.sn_calls(sn_stats) / len(lsids), 3),
            "servicenow_429s": sn_stats["faults"].get("semaphore_full", {}).get("before", 0),
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
        ("sessions/s", result["sessions_per_second"], ""),
        ("instance limit (sessions/s)", result["instance_limit_sessions_per_second"], ""),
        ("ratio to the limit", result["ratio_to_limit"], ">= 0.75"),
        ("worker CPU ms/session", result["cpu_ms_per_session"], "<= 2"),
        (
            "records read/written per session",
            f"{result['records_read_per_session']} / {result['records_written_per_session']}",
            f"{SESSION_RECORDS['reads']} / {SESSION_RECORDS['writes']} at least",
        ),
        ("slots busy (measured)", result["slot_use"], ""),
        ("event to import p50 (s)", result["event_to_import_p50_seconds"], ""),
        ("event to import p95 (s)", result["event_to_import_p95_seconds"], ""),
        ("ServiceNow calls/session", result["servicenow_calls_per_session"], "<= 1"),
        ("ServiceNow 429s (instance full)", result["servicenow_429s"], ""),
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
            ("speed-up vs baseline", result["speedup_vs_baseline"], ">= 10x"),
        ]
    h.print_table(
        f"import: {args.sessions} sessions; instance: {args.latency_ms:g} ms a request,"
        f" {args.read_ms:g} ms a read, {args.write_ms:g} ms a write, {args.max_concurrent} at once",
        rows,
    )
    h.Report("import", vars(args), result).write()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
