"""The ``nodes`` chaos scenario: two connector nodes on one PostgreSQL, two appliances.

A throwaway PostgreSQL cluster (scripts/pgcluster.py), the ServiceNow emulator and two appliance
emulators (``appliance-a``, ``appliance-b``), each with its own API account and webhook token.
Two connector nodes, ``node-a`` and ``node-b``, each run ``connector serve`` (gunicorn) and
``connector worker`` with their own ``worker.node_name`` against the same ``store.url``. Every
session's events (shuffled, with duplicates) are posted to a node drawn at random, and to the
other one when the drawn node does not answer, as a load balancer would. Both emulators inject
the faults the ``faults`` scenario uses. Meanwhile:

- node-a (its web side and its worker) is SIGKILLed again and again, and kept down longer than
  two leases plus the settle time, so its claims can only come back by their leases on node-b
  (the same-node process-id shortcut does not apply across nodes). For every claim node-a held
  when it was killed: when it became claimable again (its lease lapsed, plus the settle time
  that lets a write in flight finish; at most lease + settle after the kill, by construction),
  and how long node-b then took to take it over (its threads finish their passes first);
- PostgreSQL is restarted once (every connection of both nodes dropped) half-way through the
  posting.

The verdict is the faults scenario's, from ServiceNow's tables, per session of both appliances,
plus: every claim of the killed node taken over by the other within one lease of becoming
claimable, at least one kill that left claims behind, and the restart done.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import _harness as h  # noqa: E402
import pgcluster  # noqa: E402

APPLIANCES = ("appliance-a", "appliance-b")
NODES = ("node-a", "node-b")


def token(appliance: str) -> str:
    """Return an appliance's webhook token (throwaway values for loopback runs)."""
    return f"{h.WEBHOOK_TOKEN}-{appliance}"


def node_config(
    workdir: Path, node: str, store_url: str, sn_url: str, urls: dict[str, str], args: Any
) -> Path:
    """Write one node's config: the shared store, both appliances, its own name."""
    return h.write_config(
        workdir / f"{node}.yaml",
        sn_url,
        urls[APPLIANCES[0]],
        **{
            "store.url": store_url,
            "store.pool_size": 6,
            "metrics.directory": str(workdir / f"{node}.metrics"),
            "worker.node_name": node,
            "bomgar.appliance_url": "",
            "bomgar.client_id": "",
            "bomgar.client_secret": "",
            "bomgar.appliances": [
                {
                    "id": a,
                    "appliance_url": urls[a],
                    "client_id": "connector-client",
                    "client_secret": "connector-secret",
                    "webhook_token": token(a),
                }
                for a in APPLIANCES
            ],
            "servicenow.timeout_seconds": args.client_timeout,
            "bomgar.timeout_seconds": args.client_timeout,
            "worker.max_attempts": args.max_attempts,
            "worker.lease_seconds": args.lease_seconds,
            "worker.auto_create_incident": True,
            "servicenow.write_settle_seconds": args.sim_timeout + 0.5,
        },
    )


class Node:
    """One connector node: its web side and its worker, started and killed together."""

    def __init__(self, name: str, workdir: Path, config: Path, threads: int) -> None:
        self.name = name
        self.workdir = workdir
        self.config = config
        self.threads = threads
        self.port = h.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web: h.Proc | None = None
        self.worker: h.Proc | None = None

    def start(self) -> None:
        """Start the worker, then the web side (waits for /health)."""
        self.worker = h.start_worker(
            self.workdir, self.config, threads=self.threads, name=f"{self.name}-worker"
        )
        self.web = h.start_connector(
            self.workdir, self.config, port=self.port, name=f"{self.name}-web"
        )

    def kill(self) -> None:
        """SIGKILL the whole node."""
        for proc in (self.web, self.worker):
            if proc is not None:
                proc.kill()

    def stop(self) -> None:
        """Stop the node cleanly."""
        for proc in (self.web, self.worker):
            if proc is not None:
                proc.stop()


def running_claims(store_url: str, node: str) -> dict[tuple[str, str], float]:
    """Return the sessions a node's workers hold right now, with their lease expiry."""
    with psycopg.connect(store_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT appliance, lsid, lease_until FROM jobs WHERE state='running'"
            " AND lease_owner LIKE %s",
            (f"{node}:%",),
        ).fetchall()
    return {(r[0], r[1]): float(r[2]) for r in rows}


def post_spread(
    nodes: list[Node],
    forms: list[tuple[str, dict[str, str]]],
    senders: int,
    progress: dict[str, int],
    rng: random.Random,
) -> dict[str, int]:
    """Post each (appliance, form) to a random node until one answers 200."""
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    local = threading.local()

    def send(item: tuple[str, dict[str, str]]) -> None:
        appliance, form = item
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        with lock:
            first = rng.randrange(len(nodes))
        for attempt in range(2000):
            node = nodes[(first + attempt) % len(nodes)]
            try:
                status = http.post(
                    f"{node.url}/bomgar/events",
                    params={"outbound_event_token": token(appliance)},
                    data=form,
                    timeout=10,
                ).status_code
            except requests.RequestException:
                status = 0
            with lock:
                statuses[str(status)] += 1
                if status == 200:
                    progress["accepted"] = progress.get("accepted", 0) + 1
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"event never accepted: {form}")

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, forms))
    return dict(statuses)


def scenario_nodes(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Two nodes on one PostgreSQL, two appliances, one node killed again and again."""
    # chaos.py's helpers, imported here to keep one module per scenario family.
    from chaos import (
        EVENTS,
        _no_servicenow_faults,
        check_servicenow,
        fault_settings,
        mixed_sessions,
        servicenow_faults,
    )

    cluster = pgcluster.Cluster().start()
    store_url = cluster.create_database("connector")
    sn = h.start_servicenow(workdir, "--threads", "16")
    procs: list[h.Proc] = [sn]
    nodes: list[Node] = []
    try:
        emulators = {
            a: h.start_bomgar(workdir, "--appliance-id", a, name=f"bomgar-{a}") for a in APPLIANCES
        }
        procs += list(emulators.values())
        urls = {a: p.url for a, p in emulators.items()}
        per = argparse.Namespace(**{**vars(args), "sessions": args.node_sessions // 2})
        by_appliance = {a: mixed_sessions(per, urls[a]) for a in APPLIANCES}
        h.create_incidents(sn.url, max(len(v) for k in by_appliance.values() for v in k.values()))
        configs = {n: node_config(workdir, n, store_url, sn.url, urls, args) for n in NODES}
        nodes = [Node(n, workdir, configs[n], args.worker_threads) for n in NODES]
        for node in nodes:
            node.start()
        h.sim_post(sn.url, "faults", servicenow_faults(args))
        for emulator in emulators.values():
            h.sim_post(emulator.url, "faults", fault_settings(args))
        rng = random.Random(args.seed)
        forms: list[tuple[str, dict[str, str]]] = []
        for appliance, kinds in by_appliance.items():
            for rows in kinds.values():
                for r in rows:
                    for event in EVENTS:
                        form = h.event_form(
                            event, r["lsid"], int(r["end_time"]), r["external_key"], appliance
                        )
                        forms.append((appliance, form))
                        if rng.random() < args.duplicate_rate:
                            forms.append((appliance, dict(form)))
        rng.shuffle(forms)
        total = sum(len(rows) for kinds in by_appliance.values() for rows in kinds.values())
        settle = args.sim_timeout + 0.5
        down_for = args.node_down_seconds or 2 * args.lease_seconds + settle + 1.0
        victim = nodes[0]
        state: dict[str, Any] = {
            "next_kill": time.monotonic() + args.node_kill_every,
            "down_until": None,
            "killed_at": 0.0,
            "claims": {},
            "left": {},
            "pending_takeover": False,
            "restarted_pg": False,
            "flipped": False,
        }
        kills = 0
        takeovers: list[float] = []  # per kill: until every claim was taken over
        claimable: list[float] = []  # per claim: kill until its lease + settle had passed
        pickups: list[float] = []  # per claim: claimable until node-b held it
        late: list[float] = []
        empty_kills = 0
        pg_restart: dict[str, Any] = {}
        progress: dict[str, int] = {}

        def tick() -> None:
            nonlocal kills, empty_kills
            now = time.monotonic()
            if state["down_until"] is None and now >= state["next_kill"]:
                try:
                    claims = running_claims(store_url, victim.name)
                except psycopg.Error:
                    claims = {}  # PostgreSQL restarting: kill anyway, measure nothing
                victim.kill()
                kills += 1
                state.update(
                    killed_at=now,
                    killed_wall=time.time(),
                    claims=claims,
                    left={},
                    pending_takeover=bool(claims),
                    down_until=now + down_for,
                )
                if not claims:
                    empty_kills += 1
            if state["pending_takeover"]:
                try:
                    held = running_claims(store_url, victim.name)
                except psycopg.Error:
                    held = state["claims"]
                wall = time.time()
                for key, until in state["claims"].items():
                    if key not in held and key not in state["left"]:
                        state["left"][key] = wall
                        claimable.append(round(until + settle - state["killed_wall"], 2))
                        pickups.append(round(wall - (until + settle), 2))
                if len(state["left"]) == len(state["claims"]):
                    takeovers.append(round(now - state["killed_at"], 2))
                    state["pending_takeover"] = False
            if state["down_until"] is not None and now >= state["down_until"]:
                if state["pending_takeover"]:
                    late.append(round(now - state["killed_at"], 2))
                    state["pending_takeover"] = False
                victim.start()
                state["down_until"] = None
                state["next_kill"] = time.monotonic() + args.node_kill_every * rng.uniform(0.5, 1.5)
            accepted = progress.get("accepted", 0)
            if not state["restarted_pg"] and accepted >= len(forms) // 2:
                state["restarted_pg"] = True
                t0 = time.monotonic()
                cluster.restart(down_seconds=args.pg_down_seconds)
                pg_restart.update(at_events=accepted, seconds=round(time.monotonic() - t0, 1))
            if not state["flipped"] and accepted >= len(forms) // 2:
                for appliance, kinds in by_appliance.items():
                    for r in kinds["separate_surveys"]:
                        h.sim_post(
                            urls[appliance],
                            f"sessions/{r['lsid']}/report",
                            {"surveys_in_report": True},
                        )
                state["flipped"] = True

        started = time.monotonic()
        sender = threading.Thread(
            target=lambda: state.__setitem__(
                "posted", post_spread(nodes, forms, args.senders, progress, rng)
            )
        )
        sender.start()
        while sender.is_alive():
            tick()
            time.sleep(0.1)
        sender.join()
        # Keep killing until everything is imported, but end with both nodes up.
        settled = _wait_settled(store_url, total, args.drain_timeout, tick)
        if state["down_until"] is not None:
            victim.start()
        elapsed = time.monotonic() - started
        h.sim_post(sn.url, "faults", _no_servicenow_faults())
        for emulator in emulators.values():
            h.sim_post(emulator.url, "faults", {"reset": True})
        sn_stats = h.sim_get(sn.url, "stats")
        kinds_all: dict[str, list[str]] = {}
        for kinds in by_appliance.values():
            for kind, rows in kinds.items():
                kinds_all.setdefault(kind, []).extend(r["lsid"] for r in rows)
        check = check_servicenow(sn.url, kinds_all, store_url)
        sessions_by_appliance = {
            a: sum(len(rows) for rows in by_appliance[a].values()) for a in APPLIANCES
        }
        check.update(
            settled=settled,
            seconds=round(elapsed, 1),
            appliances=list(APPLIANCES),
            sessions_by_appliance=sessions_by_appliance,
            nodes=list(NODES),
            events_posted=len(forms),
            post_statuses=state.get("posted", {}),
            node_kills=kills,
            kills_with_claims=kills - empty_kills,
            takeover_seconds=takeovers,
            takeover_max_seconds=max(takeovers, default=None),
            claims_taken_over=len(pickups),
            claimable_after_max_seconds=max(claimable, default=None),
            pickup_max_seconds=max(pickups, default=None),
            takeovers_late=late,
            node_down_seconds=round(down_for, 2),
            lease_seconds=args.lease_seconds,
            settle_seconds=settle,
            postgres_restart=pg_restart,
            servicenow_requests=sn_stats["total"],
            servicenow_faults_injected=sn_stats["faults"],
        )
        check["ok"] = (
            check["ok"]
            and settled
            and kills - empty_kills >= 1
            and not late
            and all(t <= args.lease_seconds for t in pickups)
            and state["restarted_pg"]
        )
        return check
    finally:
        for node in nodes:
            node.stop()
        for p in reversed(procs):
            p.stop()
        cluster.remove()


def _wait_settled(store_url: str, total: int, timeout: float, tick: Any) -> bool:
    """Wait until ``total`` jobs are done or dead and none pending or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(store_url, connect_timeout=5) as conn:
                counts = dict(
                    conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
                )
        except psycopg.Error:
            counts = {}
        if (
            counts.get("done", 0) + counts.get("dead", 0) >= total
            and not counts.get("pending")
            and not counts.get("running")
        ):
            return True
        tick()
        time.sleep(0.25)
    return False


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the nodes scenario's options to chaos.py's command line."""
    p.add_argument("--node-sessions", type=int, default=1000, help="sessions, both appliances")
    p.add_argument("--node-kill-every", type=float, default=8.0, help="seconds up between kills")
    p.add_argument(
        "--node-down-seconds",
        type=float,
        default=0.0,
        help="how long a killed node stays down (0: lease + settle + 4 s)",
    )
    p.add_argument("--pg-down-seconds", type=float, default=2.0, help="PostgreSQL restart pause")
