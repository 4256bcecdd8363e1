"""Webhook latency while /health is hammered and both remote systems hang.

``connector serve`` (gunicorn) points at a socket that accepts connections and never answers,
standing in for a hanging appliance and instance. One sender posts events one at a time and
waits for each 200 for ``--seconds``, first alone, then while ``--callers`` threads call
``/health`` in a loop (with the API token, so they ask for the details). The worst case shows
whether health callers can hold up the webhook.

Usage: python scripts/bench/health_load.py [--seconds 40] [--callers 8] [--workers 2] [--threads 4]
Prints a table and writes results/health_load-<time>.json.
"""

from __future__ import annotations

import argparse
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

from connector.sim.hanging import HangingServer  # noqa: E402

API_TOKEN = "bench-health-token"  # a throwaway value for loopback runs


def send_events(url: str, seconds: float) -> dict[str, Any]:
    """Post events one at a time for ``seconds``; return latency figures in milliseconds."""
    http = requests.Session()
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        i += 1
        form = h.event_form("support_conference_end", uuid.uuid4().hex, 1_700_000_000 + i)
        started = time.perf_counter()
        try:
            ok = http.post(url, data=form, timeout=30).status_code == 200
        except requests.RequestException:
            ok = False
        latencies.append(time.perf_counter() - started)
        failures += not ok
    return {
        "events": len(latencies),
        "p50_ms": round(h.percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(h.percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "non_200": failures,
    }


def main() -> None:
    """Measure the webhook alone and under health callers; report both."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--seconds",
        type=float,
        default=40,
        help="time per phase; longer than the 15 s the remote results are kept, so pings recur",
    )
    p.add_argument("--callers", type=int, default=8, help="concurrent /health callers")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-health-"))
    hanging = HangingServer()
    cfg = h.write_config(
        workdir / "connector.yaml", hanging.url, hanging.url, **{"api.tokens": [API_TOKEN]}
    )
    web = h.start_connector(workdir, cfg, workers=args.workers, threads=args.threads)
    stop = threading.Event()
    health_calls = [0] * args.callers
    health_worst = [0.0] * args.callers

    def call_health(n: int) -> None:
        http = requests.Session()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                http.get(
                    f"{web.url}/health",
                    headers={"Authorization": f"Bearer {API_TOKEN}"},
                    timeout=120,
                )
            except requests.RequestException:
                pass
            health_calls[n] += 1
            health_worst[n] = max(health_worst[n], time.perf_counter() - started)

    results: dict[str, Any] = {}
    try:
        url = h.events_url(web.url)
        send_events(url, 2)  # warm-up
        results["alone"] = send_events(url, args.seconds)
        callers = [
            threading.Thread(target=call_health, args=(n,), daemon=True)
            for n in range(args.callers)
        ]
        for t in callers:
            t.start()
        time.sleep(0.5)  # let the callers reach the server before measuring
        results["with_health_callers"] = send_events(url, args.seconds)
        stop.set()
        for t in callers:
            t.join(150)
        results["health_calls"] = sum(health_calls)
        results["health_worst_ms"] = round(max(health_worst) * 1000, 1)
        results["remote_connections_opened"] = len(hanging.accepted)
    finally:
        stop.set()
        web.stop()
        hanging.close()
    alone, loaded = results["alone"], results["with_health_callers"]
    h.print_table(
        f"webhook with {args.callers} /health callers and hanging remote systems "
        f"(gunicorn {args.workers} x {args.threads})",
        [
            ("alone: p50 ms", alone["p50_ms"], ""),
            ("alone: p99 ms", alone["p99_ms"], ""),
            ("alone: worst ms", alone["max_ms"], ""),
            ("with health callers: p50 ms", loaded["p50_ms"], ""),
            ("with health callers: p99 ms", loaded["p99_ms"], ""),
            ("with health callers: worst ms", loaded["max_ms"], "close to alone"),
            ("/health calls answered", results["health_calls"], ""),
            ("/health worst ms", results["health_worst_ms"], ""),
            ("pings sent to the hanging systems", results["remote_connections_opened"], ""),
            ("non-200 answers", alone["non_200"] + loaded["non_200"], "0"),
        ],
    )
    h.Report("health_load", vars(args), results).write()


if __name__ == "__main__":
    main()
