"""Measure simple GETs per second against the ServiceNow emulator served by gunicorn.

Starts `connector sim servicenow --port 0` in a subprocess (faults off), loads it from client
processes with keep-alive connections, prints a small table and writes JSON under results/.

    python scripts/bench/sim_servicenow.py [--seconds 5] [--clients 8] [--threads 16]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import os
import platform
import subprocess
import sys
import time
from multiprocessing import Process, Queue
from pathlib import Path
from urllib.parse import urlsplit

import requests

INC1 = "a5000000000000000000000000000001"
CASES = {
    "get one record": f"/api/now/table/incident/{INC1}",
    "list by query (limit 1)": (
        "/api/now/table/incident?sysparm_query=number=INC0000002&sysparm_limit=1"
    ),
}


def start_server(threads: int) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator and return the process and its URL."""
    cmd = [
        sys.executable,
        "-c",
        "from connector.cli import main; main()",
        "sim",
        "servicenow",
        "--port",
        "0",
        "--threads",
        str(threads),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("servicenow emulator listening on "):
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    url = line.rsplit(" ", 1)[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/_sim/health", timeout=2)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("emulator did not answer /_sim/health")


def _worker(url: str, path: str, stop_at: float, out: Queue) -> None:  # type: ignore[type-arg]
    """Send keep-alive GETs with http.client until stop_at; report latencies and errors."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
    latencies: list[float] = []
    errors = 0
    while time.time() < stop_at:
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            errors += 1
        cookie = response.getheader("Set-Cookie")
        if cookie and "JSESSIONID=" in cookie:
            headers["Cookie"] = cookie.split(";", 1)[0]
    conn.close()
    out.put((latencies, errors))


def load(url: str, path: str, clients: int, seconds: float) -> dict[str, float]:
    """Run GETs from client processes (so the load generator is not GIL-bound); return figures."""
    out: Queue = Queue()  # type: ignore[type-arg]
    started = time.time()
    stop_at = started + seconds
    procs = [Process(target=_worker, args=(url, path, stop_at, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = 0
    for _ in procs:
        lat, err = out.get()
        latencies.extend(lat)
        errors += err
    for p in procs:
        p.join()
    elapsed = time.time() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "per_second": round(n / elapsed, 1),
        "p50_ms": round(latencies[n // 2] * 1000, 2) if n else 0.0,
        "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2) if n else 0.0,
    }


def main() -> None:
    """Run the benchmark and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn threads")
    args = parser.parse_args()
    proc, url = start_server(args.threads)
    try:
        results = {
            name: load(url, path, args.clients, args.seconds) for name, path in CASES.items()
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    print(f"{'case':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, res in results.items():
        print(
            f"{name:28} {res['per_second']:>9} {res['p50_ms']:>8} {res['p99_ms']:>8}"
            f" {res['errors']:>7}"
        )
    out_dir = Path("results")
    out_dir.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "benchmark": "sim_servicenow",
        "when": stamp,
        "clients": args.clients,
        "gunicorn_threads": args.threads,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    path = out_dir / f"sim_servicenow-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
