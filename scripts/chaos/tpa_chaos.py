"""3PA chaos run: the provisioning worker killed repeatedly, the directory restarted, faults.

Usage: python scripts/chaos/tpa_chaos.py [--requests 300] [--kill-every 3] [--json-out FILE]

One scenario on real processes and sockets: OpenLDAP's slapd (its own process), the SCIM
server standing in for SAP and the ServiceNow emulator (threads of this script, both failing a
share of requests before and after they take effect: 5xx, dropped connections, held answers),
the connector's web side (a thread) and ``connector worker`` as a child process that is
SIGKILLed every few seconds and started again. Once, halfway, slapd itself is killed and
started again on the same port and database.

Requests: most are pre-approved (partner domain), a share needs an approver (the script plays
the approver once the request waits), a share is never announced by the instance's call (the
poller must find it), and every announcement is sent one to three times.

The verdict comes from ServiceNow, the directory and SCIM, per request: state active; exactly
one "active" work note (and one "approved" / "pending approval" note on its path); one
directory user in the application's group; one SAP user in the role, listed once; no dead
letter, nothing pending. Exits 1 when any request was lost or applied twice.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from connector.demo.tpa import SCIM_TOKEN, running_tpa_stack  # noqa: E402
from connector.store import Store  # noqa: E402
from connector.tpa import QUEUE  # noqa: E402

APPS = {"partner-portal": "partner-portal-users", "supplier-invoices": "supplier-invoices"}
ROLES = {"partner-portal": "PartnerPortal_User", "supplier-invoices": "SupplierInvoices_Viewer"}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--kill-every", type=float, default=4.0, help="mean seconds between kills")
    p.add_argument("--approval-share", type=float, default=0.2)
    p.add_argument("--silent-share", type=float, default=0.1, help="never announced: poller")
    p.add_argument("--error-rate", type=float, default=0.04)
    p.add_argument("--error-after-rate", type=float, default=0.04)
    p.add_argument("--drop-rate", type=float, default=0.01)
    p.add_argument("--drop-after-rate", type=float, default=0.01)
    p.add_argument("--timeout-after-rate", type=float, default=0.01)
    p.add_argument("--scim-fault-rate", type=float, default=0.06)
    p.add_argument("--drain-timeout", type=float, default=240.0)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workdir", default=None)
    p.add_argument("--json-out", default=None)
    return p.parse_args(argv)


class Worker:
    """``connector worker`` as a child process that can be killed and started again."""

    def __init__(self, config: Path, workdir: Path) -> None:
        self.config = config
        self.log = workdir / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        """Start a worker."""
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "connector", "worker", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=str(self.config.parent),
            )

    def kill(self) -> None:
        """SIGKILL the worker (a crash, not a shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self) -> None:
        """Stop the worker cleanly."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the scenario and return the verdict."""
    rng = random.Random(args.seed)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tpa-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "worker.poll_seconds": 0.1,
        "worker.retry_base_seconds": 0.2,
        "worker.retry_max_seconds": 2.0,
        "worker.max_attempts": 100,
        "worker.lease_seconds": 10.0,
        "servicenow.timeout_seconds": 1.0,
        # Longer than the emulator holds a "timeout" answer, so a re-check sees the write.
        "servicenow.write_settle_seconds": 2.0,
        "tpa.api.wait_seconds": 0.0,
        "tpa.poller.interval_seconds": 3.0,
        "tpa.worker.threads": 2,
        "tpa.ldap.timeout_seconds": 3.0,
        "tpa.scim.timeout_seconds": 3.0,
        "poller.enabled": False,
        "logging.level": "WARNING",
    }
    faults = {
        "error_rate": args.error_rate,
        "error_after_rate": args.error_after_rate,
        "drop_rate": args.drop_rate,
        "drop_after_rate": args.drop_after_rate,
        "timeout_after_rate": args.timeout_after_rate,
        "timeout_seconds": 1.5,
    }
    started = time.monotonic()
    with running_tpa_stack(str(workdir), worker=False, scim_fault_rate=0.0, **settings) as t:
        config = workdir / "worker.yaml"
        config.write_text(yaml.safe_dump(t.stack.config.as_values()))
        store = Store(t.stack.config.store.path)
        worker = Worker(config, workdir)
        worker.start()
        stop_kills = threading.Event()
        restarted = threading.Event()

        kill_rng = random.Random(rng.random())  # its own, so the request mix stays seeded

        def killer() -> None:
            while not stop_kills.wait(kill_rng.uniform(0.5, 1.5) * args.kill_every):
                worker.kill()
                worker.start()

        kill_thread = threading.Thread(target=killer, daemon=True)
        kill_thread.start()
        # Faults on from here: the applications were seeded without them.
        requests.post(f"{t.stack.servicenow_url}/_sim/faults", json=faults, timeout=10)
        t.scim_app.rate = args.scim_fault_rate

        kinds: dict[str, str] = {}
        emails: dict[str, str] = {}
        apps: dict[str, str] = {}

        # Decided here, in one thread, so a seed gives the same mix (and every kind shows up).
        n_approval = max(1, round(args.requests * args.approval_share))
        n_silent = max(1, round(args.requests * args.silent_share))
        plan = ["approval"] * n_approval + ["silent"] * n_silent
        plan += ["preapproved"] * max(0, args.requests - len(plan))
        rng.shuffle(plan)
        announcements = [rng.randint(1, 3) for _ in plan]
        run_id = f"{rng.randrange(10**6):06d}"

        def submit(n: int) -> None:
            kind = plan[n]
            if kind == "approval":
                app, domain = "supplier-invoices", "supplier.example.org"
            else:
                app, domain = "partner-portal", "partner.example.com"
            email = f"chaos-{n:05d}-{run_id}@{domain}"
            answers = (
                {"vendor_number": f"V-{n}"}
                if app == "supplier-invoices"
                else {"company_id": f"P-{n}", "region": "EMEA"}
            )
            sys_id = _retry(
                lambda: t.submit(app, email, u_first_name="Chaos", u_answers=json.dumps(answers))
            )
            kinds[sys_id], emails[sys_id], apps[sys_id] = kind, email, app
            if kind != "silent":
                for _ in range(announcements[n]):
                    _announce(t, sys_id)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(submit, range(len(plan))))
        submitted = time.monotonic()

        approved: set[str] = set()
        deadline = time.monotonic() + args.drain_timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = _states(t, list(kinds))
            active = sum(1 for s in states.values() if s == "active")
            if not restarted.is_set() and active >= len(kinds) // 3:
                # The directory is killed and restarts once, while work is in flight.
                t.slapd.stop(kill=True)
                time.sleep(1.0)
                t.slapd.start()
                restarted.set()
            for sys_id, state in states.items():
                if state == "pending_approval" and sys_id not in approved:
                    _retry(lambda sys_id=sys_id: t.approve(sys_id))
                    approved.add(sys_id)
                    _announce(t, sys_id)
            if states and all(s == "active" for s in states.values()):
                break
            time.sleep(1.0)
        stop_kills.set()
        kill_thread.join(10)
        requests.post(f"{t.stack.servicenow_url}/_sim/faults", json={"reset": True}, timeout=10)
        t.scim_app.rate = 0.0
        # Let the last worker finish what it holds, then read the verdict fault-free.
        _wait_idle(store, 30)
        worker.stop()
        elapsed = time.monotonic() - started
        states = _states(t, list(kinds))
        verdict = _verify(t, store, kinds, emails, apps, states)
        verdict.update(
            requests=len(kinds),
            kinds=dict(Counter(kinds.values())),
            worker_kills=worker.kills,
            directory_restarts=1 if restarted.is_set() else 0,
            seconds=round(elapsed, 1),
            submit_seconds=round(submitted - started, 1),
            scim_faults_injected=dict(t.scim_app.faults),
            servicenow_faults_injected=_sn_faults(t),
        )
        return verdict


def _retry(fn: Any, attempts: int = 20) -> Any:
    """Call the emulator as the instance itself would: faults injected here are retried."""
    for n in range(attempts):
        try:
            return fn()
        except Exception:
            if n == attempts - 1:
                raise
            time.sleep(0.2)
    return None


def _announce(t: Any, sys_id: str) -> None:
    try:
        t.api("POST", f"/requests/{sys_id}")
    except requests.RequestException:
        pass  # a lost announcement: the poller finds the request


def _states(t: Any, ids: list[str]) -> dict[str, str]:
    rows = _retry(
        lambda: t.sn.query(
            "u_3pa_access_request", "u_emailSTARTSWITHchaos-", fields=["sys_id", "u_state"]
        )
    )
    return {r["sys_id"]: r["u_state"] for r in rows if r["sys_id"] in set(ids)}


def _wait_idle(store: Store, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = store.counts(queue=QUEUE)
        if counts["pending"] == 0 and counts["running"] == 0:
            return
        time.sleep(0.5)


def _sn_faults(t: Any) -> Any:
    try:
        return requests.get(f"{t.stack.servicenow_url}/_sim/stats", timeout=10).json().get("faults")
    except (requests.RequestException, ValueError):
        return None


def _verify(
    t: Any,
    store: Store,
    kinds: dict[str, str],
    emails: dict[str, str],
    apps: dict[str, str],
    states: dict[str, str],
) -> dict[str, Any]:
    from connector.sim.scim import list_resources
    from connector.tpa.runtime import TpaServices

    tpa = TpaServices(t.services)
    journal = t.sn.query(
        "sys_journal_field", "name=u_3pa_access_request", fields=["element_id", "value"]
    )
    marks: Counter[tuple[str, str]] = Counter()
    for row in journal:
        for what in ("active", "approved", "pending_approval"):
            if row["value"].startswith(f"[3PA {row['element_id']} {what}]"):
                marks[(row["element_id"], what)] += 1
    scim_users = list_resources(t.scim_url, SCIM_TOKEN, "Users")
    by_name = Counter(u["userName"] for u in scim_users)
    sap_ids = {u["userName"]: u["id"] for u in scim_users}
    groups = {g["displayName"]: g for g in list_resources(t.scim_url, SCIM_TOKEN, "Groups")}
    members = {
        group: tpa.directory.members(tpa.directory.find_group(group, "groupOfNames") or "")
        for group in set(APPS.values())
    }
    lost, duplicated = [], []
    for sys_id, kind in kinds.items():
        email, app = emails[sys_id], apps[sys_id]
        problems = []
        if states.get(sys_id) != "active":
            lost.append(f"{sys_id} ({kind}) is {states.get(sys_id)}")
            continue
        if marks[(sys_id, "active")] != 1:
            problems.append(f"{marks[(sys_id, 'active')]} active notes")
        path_note = "pending_approval" if kind == "approval" else "approved"
        if marks[(sys_id, path_note)] != 1:
            problems.append(f"{marks[(sys_id, path_note)]} {path_note} notes")
        user = tpa.directory.find_user("uid", email, "inetOrgPerson")
        if user is None:
            lost.append(f"{sys_id}: no directory user {email}")
            continue
        if user.dn.lower() not in members[APPS[app]]:
            lost.append(f"{sys_id}: {email} not in {APPS[app]}")
        if by_name[email] != 1:
            problems.append(f"{by_name[email]} SAP users")
        role_members = [m["value"] for m in groups[ROLES[app]].get("members", [])]
        if role_members.count(sap_ids.get(email)) != 1:
            problems.append(f"listed {role_members.count(sap_ids.get(email))} times in the role")
        if problems:
            duplicated.append(f"{sys_id} ({kind}): {', '.join(problems)}")
    dead = store.jobs("dead", limit=100000, queue=QUEUE)
    counts = store.counts(queue=QUEUE)
    return {
        "applied": sum(1 for s in states.values() if s == "active"),
        "lost": lost[:50],
        "lost_count": len(lost),
        "duplicated": duplicated[:50],
        "duplicated_count": len(duplicated),
        "dead_letters": len(dead),
        "dead_reasons": [r.last_error for r in dead[:10]],
        "left_pending": counts["pending"] + counts["running"],
    }


def main(argv: list[str] | None = None) -> int:
    """Run, print the verdict, and exit 1 on any loss or duplicate."""
    args = parse(argv)
    verdict = run(args)
    print(json.dumps(verdict, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(verdict, indent=2))
    ok = (
        verdict["lost_count"] == 0
        and verdict["duplicated_count"] == 0
        and verdict["dead_letters"] == 0
        and verdict["applied"] == verdict["requests"]
        and verdict["applied"] > 0
    )
    print("PASS: every approved request applied exactly once" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
