"""3PA benchmark: requests provisioned per second, and the time from approval to membership.

Usage: python scripts/bench/tpa_provision.py [--requests 300] [--latency-ms 40] [--threads 2]

Real processes and sockets: OpenLDAP's slapd, the SCIM server (SAP), the ServiceNow emulator
(+latency per request, like an instance across a network), the connector's web side, and
``connector worker`` as a child process with ``tpa.worker.threads`` provisioning threads.

1. Throughput: N pre-approved requests are created in ServiceNow and announced by the
   instance's call (POST /api/v1/3pa/requests/<sys_id>, 8 callers); the clock runs from the
   first call to the last request reading ``active``. Each request: decide, create the
   directory user, add it to the group, create the SAP user, add it to the role, write back.
2. Approval to membership: M requests waiting for approval are approved one at a time (the
   approver's PATCH, then the instance's call); the time from the approval to the moment slapd
   lists the user in the group, polled every 5 ms.

Writes results/tpa_provision-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

from connector.demo.tpa import running_tpa_stack  # noqa: E402
from connector.tpa.runtime import TpaServices  # noqa: E402


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--approvals", type=int, default=30)
    p.add_argument("--latency-ms", type=float, default=40.0)
    p.add_argument("--threads", type=int, default=2, help="tpa.worker.threads")
    p.add_argument("--workdir", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run both measurements and print them."""
    args = parse(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tpa-bench-"))
    settings = {
        "worker.poll_seconds": 0.05,
        "tpa.api.wait_seconds": 0.0,
        "tpa.worker.threads": args.threads,
        "tpa.poller.interval_seconds": 3600.0,
        "poller.enabled": False,
        "logging.level": "WARNING",
    }
    report = h.Report("tpa_provision", vars(args))
    with running_tpa_stack(str(workdir), worker=False, **settings) as t:
        config = workdir / "worker.yaml"
        config.write_text(yaml.safe_dump(t.stack.config.as_values()))
        log = (workdir / "worker.log").open("ab")
        worker = subprocess.Popen(
            [sys.executable, "-m", "connector", "worker", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(workdir),
        )
        try:
            h.sim_post(t.stack.servicenow_url, "faults", {"latency_ms": args.latency_ms})
            tpa = TpaServices(t.services)
            time.sleep(2.0)  # the worker's start-up, not part of the figures
            report.results["throughput"] = throughput(t, args.requests)
            report.results["approval_to_membership"] = approvals(t, tpa, args.approvals)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
            log.close()
    r = report.results
    h.print_table(
        f"3PA provisioning ({args.requests} requests, ServiceNow +{args.latency_ms:g} ms,"
        f" {args.threads} provisioning threads)",
        [
            ("requests provisioned/s", r["throughput"]["requests_per_second"], ""),
            ("call to active, p50 (s)", r["throughput"]["call_to_active_p50"], ""),
            ("approval to membership, p50 (s)", r["approval_to_membership"]["p50"], ""),
            ("approval to membership, p95 (s)", r["approval_to_membership"]["p95"], ""),
            ("approval to membership, max (s)", r["approval_to_membership"]["max"], ""),
        ],
    )
    report.write()
    return 0


def throughput(t: Any, n: int) -> dict[str, Any]:
    """Announce n pre-approved requests at once; time until every one is active."""
    answers = json.dumps({"company_id": "B-1", "region": "EMEA"})
    ids = []
    with ThreadPoolExecutor(8) as pool:
        ids = list(
            pool.map(
                lambda i: t.submit(
                    "partner-portal", f"bench-{i:05d}@partner.example.com", u_answers=answers
                ),
                range(n),
            )
        )
    called: dict[str, float] = {}

    def announce(sys_id: str) -> None:
        called[sys_id] = time.time()
        t.api("POST", f"/requests/{sys_id}")

    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(announce, ids))
    done_at: dict[str, float] = {}
    store = t.services.store
    while len(done_at) < n and time.time() - started < 600:
        for sys_id in ids:
            if sys_id not in done_at and store.job_state(f"3pa:{sys_id}") == "done":
                row = store.job(f"3pa:{sys_id}")
                done_at[sys_id] = row.updated_at if row else time.time()
        time.sleep(0.05)
    finished = max(done_at.values())
    states = {r["u_state"] for r in t.sn.query("u_3pa_access_request", "u_emailSTARTSWITHbench-")}
    latencies = sorted(done_at[i] - called[i] for i in done_at)
    return {
        "requests": n,
        "provisioned": len(done_at),
        "states": sorted(states),
        "seconds": round(finished - started, 2),
        "requests_per_second": round(len(done_at) / (finished - started), 1),
        "call_to_active_p50": round(statistics.median(latencies), 3),
        "call_to_active_p95": round(h.percentile(latencies, 95), 3),
    }


def approvals(t: Any, tpa: TpaServices, m: int) -> dict[str, Any]:
    """Approve m waiting requests one at a time; time approval → group membership."""
    answers = json.dumps({"vendor_number": "V-1"})
    group = tpa.directory.find_group("supplier-invoices", "groupOfNames")
    times = []
    for i in range(m):
        email = f"approve-{i:04d}@supplier.example.org"
        sys_id = t.submit("supplier-invoices", email, u_answers=answers)
        t.api("POST", f"/requests/{sys_id}")
        while t.request(sys_id).get("u_state") != "pending_approval":
            time.sleep(0.05)
        dn = f"uid={email},{tpa.directory.users_base}"
        started = time.monotonic()
        t.approve(sys_id)
        requests.post(
            f"{t.stack.connector_url}/api/v1/3pa/requests/{sys_id}",
            headers={"Authorization": "Bearer demo-3pa-api-token"},
            timeout=60,
        )
        while not tpa.directory.is_member(group, dn):
            time.sleep(0.005)
        times.append(time.monotonic() - started)
    times.sort()
    return {
        "requests": m,
        "p50": round(statistics.median(times), 3),
        "p95": round(h.percentile(times, 95), 3),
        "max": round(times[-1], 3),
    }


if __name__ == "__main__":
    sys.exit(main())
