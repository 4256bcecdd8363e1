"""Ingest benchmark: outbound events posted to ``connector serve`` the way the appliance posts them.

One sender posting one event at a time and waiting for each 200 (one appliance), then 8
concurrent senders (several appliances). The same runs go against a bare Flask endpoint on the
same gunicorn setup that parses the form and stores nothing; the ratio shows what storing costs.

Usage: python scripts/bench/ingest.py [--events 3000] [--senders 8] [--workers 2] [--threads 4]
Prints a table and writes results/ingest-<time>.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402


def blast(url: str, events: int, senders: int) -> dict[str, Any]:
    """Post ``events`` unique end events from ``senders`` threads; return rate and latencies."""
    per = events // senders
    latencies: list[list[float]] = [[] for _ in range(senders)]
    errors = [0] * senders
    barrier = threading.Barrier(senders + 1)

    def run(n: int) -> None:
        http = requests.Session()
        forms = [
            h.event_form("support_conference_end", uuid.uuid4().hex, 1_700_000_000 + i)
            for i in range(per)
        ]
        barrier.wait()
        out = latencies[n]
        for form in forms:
            t = time.perf_counter()
            status = http.post(url, data=form, timeout=30).status_code
            out.append(time.perf_counter() - t)
            if status != 200:
                errors[n] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    flat = [x for part in latencies for x in part]
    return {
        "events": len(flat),
        "senders": senders,
        "seconds": round(seconds, 3),
        "events_per_second": round(len(flat) / seconds, 1),
        "p50_ms": round(h.percentile(flat, 50) * 1000, 2),
        "p99_ms": round(h.percentile(flat, 99) * 1000, 2),
        "non_200": sum(errors),
    }


def measure(base: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then run one sender and N senders against one server."""
    url = h.events_url(base)
    blast(url, args.warmup, 1)
    return {
        "one_sender": blast(url, args.events, 1),
        f"{args.senders}_senders": blast(url, args.events, args.senders),
    }


def main() -> None:
    """Run both servers through the same load and report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--senders", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    cfg = h.write_config(
        workdir / "connector.yaml",
        # The webhook never calls out; these only satisfy the config (health pings fail fast).
        f"http://127.0.0.1:{h.free_port()}",
        f"http://127.0.0.1:{h.free_port()}",
    )
    results: dict[str, Any] = {}
    web = h.start_connector(workdir, cfg, workers=args.workers, threads=args.threads)
    try:
        results["connector"] = measure(web.url, args)
    finally:
        web.stop()
    port = h.free_port()
    bare_cmd = [sys.executable, str(Path(__file__).with_name("_bare_app.py")), "--port", str(port)]
    bare_cmd += ["--workers", str(args.workers), "--threads", str(args.threads)]
    bare = h.Proc(
        "bare", subprocess.Popen(bare_cmd, start_new_session=True), f"http://127.0.0.1:{port}"
    )
    try:
        h.wait_http(f"{bare.url}/health", proc=bare.popen)
        results["bare_flask"] = measure(bare.url, args)
    finally:
        bare.stop()
    conn, bare_r = results["connector"], results["bare_flask"]
    many = f"{args.senders}_senders"
    results["ratio_one_sender"] = round(
        conn["one_sender"]["events_per_second"] / bare_r["one_sender"]["events_per_second"], 2
    )
    results[f"ratio_{many}"] = round(
        conn[many]["events_per_second"] / bare_r[many]["events_per_second"], 2
    )
    rows = []
    for label, key in (("1 sender", "one_sender"), (f"{args.senders} senders", many)):
        c, b = conn[key], bare_r[key]
        target_rate = ">= 1000" if key == "one_sender" else ""
        target_p99 = "<= 10" if key == "one_sender" else ""
        rows += [
            (f"connector, {label}: events/s", c["events_per_second"], target_rate),
            (f"connector, {label}: p50 ms", c["p50_ms"], ""),
            (f"connector, {label}: p99 ms", c["p99_ms"], target_p99),
            (f"bare Flask, {label}: events/s", b["events_per_second"], ""),
            (f"bare Flask, {label}: p99 ms", b["p99_ms"], ""),
            (
                f"ratio connector/bare, {label}",
                results["ratio_one_sender" if key == "one_sender" else f"ratio_{many}"],
                ">= 0.6" if key == "one_sender" else "",
            ),
        ]
    rows.append(("non-200 answers", conn["one_sender"]["non_200"] + conn[many]["non_200"], "0"))
    h.print_table(
        f"ingest: {args.events} events, gunicorn {args.workers} workers x {args.threads} threads",
        rows,
    )
    h.Report("ingest", vars(args), results).write()


if __name__ == "__main__":
    main()
