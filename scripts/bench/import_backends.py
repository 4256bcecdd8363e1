"""The import benchmark on both store backends in one run: SQLite, then PostgreSQL.

Runs import_sessions.py twice on the same machine and settings: once on SQLite (the embedded
default, store.synchronous FULL) with one ``connector worker`` process, once on PostgreSQL (a
throwaway cluster from scripts/pgcluster.py, fsync on) with two worker processes, as two nodes'
workers would share it, each with half the instance's slots as its servicenow.max_concurrent.
Prints both side by side and writes results/import_backends-<time>.json.

Usage: python scripts/bench/import_backends.py [--sessions 1000] [--worker-threads 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _harness as h  # noqa: E402
import pgcluster  # noqa: E402

SCRIPT = Path(__file__).resolve().parent / "import_sessions.py"
SLOTS = h.COST_MODEL["max_concurrent"]  # the modelled instance's, as import_sessions.py uses


def run(args: argparse.Namespace, out: Path, *extra: str) -> dict:
    """Run import_sessions.py with the shared settings plus ``extra``; return its results."""
    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--sessions",
            str(args.sessions),
            "--baseline-sessions",
            "0",
            "--worker-threads",
            str(args.worker_threads),
            "--json-out",
            str(out),
            *extra,
        ],
        check=True,
    )
    return json.loads(out.read_text())


def main() -> None:
    """Run both, print them side by side, save the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument(
        "--worker-threads", type=int, default=0, help="import threads per process (0: the default)"
    )
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    sqlite = run(args, folder / "sqlite.json", "--worker-processes", "1")
    with pgcluster.Cluster(fsync=True) as cluster:
        url = cluster.create_database("connector")
        # Two nodes share the instance's slots: each gets its half as servicenow.max_concurrent.
        postgres = run(
            args,
            folder / "postgres.json",
            "--store-url",
            url,
            "--worker-processes",
            "2",
            "--client-concurrency",
            str(max(1, SLOTS // 2)),
        )
    measures = [
        ("sessions imported", "imported"),
        ("sessions/s", "sessions_per_second"),
        ("ratio to the instance's limit", "ratio_to_limit"),
        ("ServiceNow 429s", "servicenow_429s"),
        ("event to import p50 (s)", "event_to_import_p50_seconds"),
        ("event to import p95 (s)", "event_to_import_p95_seconds"),
        ("ServiceNow calls/session", "servicenow_calls_per_session"),
        ("appliance calls/session", "appliance_calls_per_session"),
        ("worker peak RSS (MB, largest process)", "worker_peak_rss_mb"),
    ]
    rows = [
        (name, f"{sqlite[key]} | {postgres[key]}", "SQLite, 1 worker | PostgreSQL, 2 workers")
        for name, key in measures
    ]
    h.print_table(f"import on both backends: {args.sessions} sessions", rows)
    h.Report(
        "import_backends",
        vars(args),
        {"sqlite_1_worker": sqlite, "postgresql_2_workers": postgres},
    ).write()


if __name__ == "__main__":
    main()
