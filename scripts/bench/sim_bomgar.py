"""Benchmark the appliance emulator: a SupportSession report holding 500 sessions, time to serve.

Usage: python scripts/bench/sim_bomgar.py [--sessions 500] [--repeat 10] [--backfill 10000]
Prints a table and writes JSON to results/sim_bomgar-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import requests
from lxml import etree

from connector.sim.bomgar import close_app, create_app
from connector.sim.runtime import ServerThread

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    """Run the benchmark and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--backfill",
        type=int,
        default=10000,
        help="also time bulk creation of this many sessions over 30 days (0: skip)",
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    app = create_app()
    rows: list[tuple[str, float, str]] = []
    with ServerThread(app) as server:
        url = server.url
        http = requests.Session()
        token = http.post(
            f"{url}/oauth2/token",
            auth=("connector-client", "connector-secret"),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        end = int(time.time())
        start = end - 86400
        t0 = time.perf_counter()
        http.post(
            f"{url}/_sim/sessions/bulk",
            json={"count": args.sessions, "start_time": start, "end_time": end},
        ).raise_for_status()
        rows.append((f"bulk create {args.sessions}", time.perf_counter() - t0, "s"))
        params = {"generate_report": "SupportSession", "start_time": start, "duration": 0}

        def fetch() -> tuple[float, int, int]:
            t = time.perf_counter()
            r = http.get(f"{url}/api/reporting", params=params)
            elapsed = time.perf_counter() - t
            count = len(etree.fromstring(r.content))
            return elapsed, count, len(r.content)

        cold, count, size = fetch()
        assert count == args.sessions, count
        rows.append((f"report {count} sessions, first (renders)", cold, "s"))
        warm = [fetch()[0] for _ in range(args.repeat)]
        rows.append((f"report {count} sessions, cached median", statistics.median(warm), "s"))
        rows.append((f"report {count} sessions, cached max", max(warm), "s"))
        rows.append(("report size", size / 1e6, "MB"))
        if args.backfill:
            t0 = time.perf_counter()
            http.post(
                f"{url}/_sim/sessions/bulk",
                json={
                    "count": args.backfill,
                    "start_time": end - 30 * 86400,
                    "end_time": end,
                },
            ).raise_for_status()
            rows.append(
                (f"bulk create {args.backfill} over 30 days", time.perf_counter() - t0, "s")
            )
    close_app(app)

    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'value':>10}")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>10.3f} {unit}")
    out_dir = ROOT / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"sim_bomgar-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {
                "benchmark": "sim_bomgar",
                "sessions": args.sessions,
                "results": [{"measure": n, "value": round(v, 4), "unit": u} for n, v, u in rows],
            },
            indent=2,
        )
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
