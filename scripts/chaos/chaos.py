"""Chaos run: crashes, faults, duplicated and reordered events, outages; then count what landed.

Usage: python scripts/chaos/chaos.py [--sessions 2000] [--kill-every 3] [--outage-seconds 60]
       [--down-sessions 40] [--scenarios faults,servicenow-down,connector-down]

Three scenarios, each on a fresh set of processes (both emulators, ``connector serve`` under
gunicorn and ``connector worker``):

faults            every session's events posted in shuffled order with duplicates, the worker
                  SIGKILLed every few seconds and restarted, both emulators injecting 5xx, 429
                  with Retry-After, dropped connections and timeouts;
servicenow-down   ServiceNow drops every connection for a while as sessions end and the appliance
                  delivers their events: health must say warn, the webhook must take every event,
                  and every session must be imported once ServiceNow is back;
connector-down    the connector is down while sessions end, the appliance gives up on their events,
                  and the poller must import every one of them when the connector starts.

Each ends with a check against ServiceNow (Table API): every session exactly once, one work note
marker per session, no duplicate survey row, no dead letter. Exits 1 when anything was lost or
duplicated. Prints a table and writes results/chaos-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import _harness as h  # noqa: E402

from connector.store import Store  # noqa: E402

SURVEY_ROWS = 5  # the emulator's default session: 3 customer answers + 2 rep answers
EVENTS = (
    "support_conference_begin",
    "support_conference_member_added",
    "support_conference_end",
    "support_conference_customer_exit_survey_completed",
    "support_conference_rep_exit_survey_completed",
)


# -- shared pieces ----------------------------------------------------------------------------


def fault_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Translate the rates into emulator fault settings (5xx and 429 share error_rate)."""
    total = args.error_rate + args.rate_limit_rate
    statuses: list[int] = []
    if total:
        # error_statuses is drawn uniformly, so weight the list to get the asked-for split.
        n429 = round(20 * args.rate_limit_rate / total)
        statuses = [429] * n429 + [500, 503] * ((20 - n429) // 2)
    return {
        "error_rate": total,
        "error_statuses": statuses or [500],
        "drop_rate": args.drop_rate,
        "timeout_rate": args.timeout_rate,
        "timeout_seconds": args.sim_timeout,
    }


def bulk_sessions(bomgar_url: str, count: int, **extra: Any) -> list[dict]:
    """Create ``count`` ended sessions, each on its own ticket; return their listing rows."""
    now = int(time.time())
    created = h.sim_post(
        bomgar_url,
        "sessions/bulk",
        {
            "count": count,
            "start_time": now - 3600,
            "end_time": now - 30,
            "external_key_prefix": h.TICKET_PREFIX,
            **extra,
        },
    )
    wanted = set(created["lsids"])
    return [r for r in h.sim_get(bomgar_url, "sessions") if r["lsid"] in wanted]


def check_servicenow(servicenow_url: str, lsids: list[str], store_path: Path) -> dict[str, Any]:
    """Count what landed per session and in the dead letters."""
    wanted = set(lsids)
    sessions = Counter(
        r["u_lsid"]
        for r in h.table_rows(servicenow_url, "u_bomgar_session", "", "u_lsid")
        if r["u_lsid"] in wanted
    )
    survey_keys = Counter(
        (r["u_lsid"], r["u_survey_type"], r["u_question"])
        for r in h.table_rows(
            servicenow_url, "u_bomgar_survey_response", "", "u_lsid,u_survey_type,u_question"
        )
        if r["u_lsid"] in wanted
    )
    notes = h.table_rows(
        servicenow_url,
        "sys_journal_field",
        "element=work_notes^valueLIKEBomgar session",
        "element_id,value",
    )
    markers: Counter[str] = Counter()
    for row in notes:
        for lsid in _markers(row["value"]):
            if lsid in wanted:
                markers[lsid] += 1
    surveys_per: Counter[str] = Counter()
    for (lsid, _kind, _question), _n in survey_keys.items():
        surveys_per[lsid] += 1
    store = Store(store_path)
    dead = store.jobs("dead", limit=100000)
    counts = store.counts()
    store.close()
    result = {
        "sessions": len(wanted),
        "imported": sum(1 for x in wanted if sessions[x] >= 1),
        "lost": sorted(x for x in wanted if sessions[x] == 0)[:20],
        "lost_count": sum(1 for x in wanted if sessions[x] == 0),
        "duplicate_sessions": sum(1 for x in wanted if sessions[x] > 1),
        "missing_notes": sum(1 for x in wanted if markers[x] == 0),
        "duplicate_notes": sum(1 for x in wanted if markers[x] > 1),
        "missing_survey_rows": sum(max(0, SURVEY_ROWS - surveys_per[x]) for x in wanted),
        "duplicate_survey_rows": sum(n - 1 for n in survey_keys.values() if n > 1),
        "dead_letters": len(dead),
        "dead_reasons": sorted({(r.last_error or "")[:120] for r in dead})[:5],
        "job_counts": counts,
    }
    result["ok"] = not (
        result["lost_count"]
        or result["duplicate_sessions"]
        or result["missing_notes"]
        or result["duplicate_notes"]
        or result["missing_survey_rows"]
        or result["duplicate_survey_rows"]
        or result["dead_letters"]
    )
    return result


def _markers(text: str) -> list[str]:
    out = []
    start = 0
    while True:
        i = text.find("[Bomgar session ", start)
        if i < 0:
            return out
        j = text.find("]", i)
        out.append(text[i + len("[Bomgar session ") : j].strip())
        start = j + 1


def wait_settled(store_path: Path, total: int, timeout: float, on_tick=None) -> bool:  # type: ignore[no-untyped-def]
    """Wait until ``total`` jobs are done or dead."""
    deadline = time.monotonic() + timeout
    store = Store(store_path)
    while time.monotonic() < deadline:
        counts = store.counts()
        if counts["done"] + counts["dead"] >= total and not counts["pending"]:
            return True
        if on_tick:
            on_tick()
        time.sleep(0.25)
    return False


def post_all(connector_url: str, forms: list[dict[str, str]], senders: int) -> dict[str, int]:
    """Post events like appliances do: each until it gets its 200."""
    url = h.events_url(connector_url)
    local = threading.local()
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def send(form: dict[str, str]) -> None:
        http = getattr(local, "http", None)
        if http is None:
            http = local.http = requests.Session()
        for _ in range(600):
            try:
                status = http.post(url, data=form, timeout=10).status_code
            except requests.RequestException:
                status = 0
            with lock:
                statuses[str(status)] += 1
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"event never accepted: {form}")

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, forms))
    return dict(statuses)


# -- scenarios --------------------------------------------------------------------------------


def scenario_faults(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Kill the worker repeatedly under injected faults with shuffled, duplicated events."""
    sn = h.start_servicenow(workdir, "--threads", "16")
    bg = h.start_bomgar(workdir)
    procs = [sn, bg]
    try:
        h.create_incidents(sn.url, args.sessions)
        rows = bulk_sessions(bg.url, args.sessions)
        lsids = [r["lsid"] for r in rows]
        cfg = h.write_config(
            workdir / "connector.yaml",
            sn.url,
            bg.url,
            **{
                "servicenow.timeout_seconds": args.client_timeout,
                "bomgar.timeout_seconds": args.client_timeout,
                "worker.max_attempts": args.max_attempts,
                "worker.retry_base_seconds": 0.2,
                "worker.retry_max_seconds": 2.0,
                "worker.lease_seconds": 30,
                # A timed-out write finishes on the emulator after --sim-timeout seconds.
                "servicenow.write_settle_seconds": args.sim_timeout + 0.5,
            },
        )
        web = h.start_connector(workdir, cfg)
        procs.append(web)
        faults = fault_settings(args)
        h.sim_post(sn.url, "faults", faults)
        h.sim_post(bg.url, "faults", faults)
        forms = []
        rng = random.Random(args.seed)
        for r in rows:
            for event in EVENTS:
                form = h.event_form(event, r["lsid"], int(r["end_time"]), r["external_key"])
                forms.append(form)
                if rng.random() < args.duplicate_rate:
                    forms.append(dict(form))
        rng.shuffle(forms)
        worker = h.start_worker(workdir, cfg)
        kills = 0
        state = {"worker": worker, "next_kill": time.monotonic() + args.kill_every}

        def maybe_kill() -> None:
            nonlocal kills
            if time.monotonic() >= state["next_kill"]:
                state["worker"].kill()
                kills += 1
                state["worker"] = h.start_worker(workdir, cfg)
                state["next_kill"] = time.monotonic() + args.kill_every * rng.uniform(0.5, 1.5)

        started = time.monotonic()
        sender = threading.Thread(
            target=lambda: state.__setitem__("posted", post_all(web.url, forms, args.senders))
        )
        sender.start()
        while sender.is_alive():
            maybe_kill()
            time.sleep(0.1)
        sender.join()
        settled = wait_settled(
            workdir / "connector.db", len(lsids), args.drain_timeout, on_tick=maybe_kill
        )
        elapsed = time.monotonic() - started
        h.sim_post(sn.url, "faults", _no_faults())
        h.sim_post(bg.url, "faults", {"reset": True})
        state["worker"].stop()
        sn_stats = h.sim_get(sn.url, "stats")
        bg_stats = h.sim_get(bg.url, "stats")
        check = check_servicenow(sn.url, lsids, workdir / "connector.db")
        check.update(
            settled=settled,
            seconds=round(elapsed, 1),
            events_posted=len(forms),
            post_statuses=state.get("posted", {}),
            worker_kills=kills,
            servicenow_requests=sn_stats["total"],
            servicenow_faulted_statuses=faults["error_statuses"],
            appliance_requests=bg_stats["total"],
        )
        check["ok"] = check["ok"] and settled
        return check
    finally:
        for p in reversed(procs):
            p.stop()


def _no_faults() -> dict[str, Any]:
    return {
        "error_rate": 0.0,
        "drop_rate": 0.0,
        "timeout_rate": 0.0,
        "latency_ms": 0,
    }


def scenario_servicenow_down(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """ServiceNow drops every connection while the appliance delivers events."""
    port = h.free_port()
    connector_url = f"http://127.0.0.1:{port}"
    sn = h.start_servicenow(workdir)
    bg = h.start_bomgar(
        workdir,
        "--events-url",
        h.events_url(connector_url),
        "--retry-interval",
        "0.5",
        "--retry-period",
        "600",
    )
    procs = [sn, bg]
    try:
        h.create_incidents(sn.url, args.outage_sessions)
        cfg = h.write_config(
            workdir / "connector.yaml",
            sn.url,
            bg.url,
            **{
                "servicenow.timeout_seconds": args.client_timeout,
                "worker.max_attempts": args.max_attempts,
                "worker.retry_base_seconds": 0.5,
                "worker.retry_max_seconds": 5.0,
                "health.max_pending_age_seconds": 5,
                # Dropped connections never reach the emulator's handler: nothing to wait for.
                "servicenow.write_settle_seconds": 1.0,
            },
        )
        web = h.start_connector(workdir, cfg, port=port)
        worker = h.start_worker(workdir, cfg)
        procs += [web, worker]
        h.sim_post(sn.url, "faults", {"drop_rate": 1.0})
        down_at = time.monotonic()
        health_seen: Counter[str] = Counter()
        lsids: list[str] = []
        per_tick = max(1, args.outage_sessions // max(1, int(args.outage_seconds)))
        n = 0
        while time.monotonic() - down_at < args.outage_seconds:
            for _ in range(per_tick):
                if n < args.outage_sessions:
                    n += 1
                    lsids.append(
                        h.sim_post(bg.url, "sessions", {"external_key": h.ticket_id(n)})["lsid"]
                    )
            try:
                doc = requests.get(f"{web.url}/health", timeout=15).json()
                health_seen[doc["status"]] += 1
            except requests.RequestException:
                health_seen["unreachable"] += 1
            time.sleep(1)
        while n < args.outage_sessions:  # a very short outage: play the rest now
            n += 1
            lsids.append(h.sim_post(bg.url, "sessions", {"external_key": h.ticket_id(n)})["lsid"])
        during = Store(workdir / "connector.db").counts()
        h.sim_post(sn.url, "faults", {"drop_rate": 0.0})
        up_at = time.monotonic()
        # The appliance delivers the last events, then every session must land.
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline:
            ev = h.sim_get(bg.url, "events")
            if all(not r["pending"] for r in _recipients(ev)):
                break
            time.sleep(0.25)
        settled = wait_settled(workdir / "connector.db", len(lsids), args.drain_timeout)
        recovered = time.monotonic() - up_at
        events = _recipients(h.sim_get(bg.url, "events"))
        check = check_servicenow(sn.url, lsids, workdir / "connector.db")
        accepted = sum(r.get("delivered_total", 0) for r in events)
        dropped = sum(r.get("dropped_total", 0) for r in events)
        check.update(
            settled=settled,
            outage_seconds=args.outage_seconds,
            health_during_outage=dict(health_seen),
            jobs_at_end_of_outage=during,
            events_delivered=accepted,
            events_dropped_by_appliance=dropped,
            seconds_to_import_after_recovery=round(recovered, 1),
        )
        check["ok"] = (
            check["ok"]
            and settled
            and dropped == 0
            and health_seen.get("warn", 0) > 0
            and not health_seen.get("fail")
        )
        return check
    finally:
        for p in reversed(procs):
            p.stop()


def _recipients(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return list(snapshot["recipients"])


def scenario_connector_down(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The appliance gives up on events while the connector is down; the poller finds them."""
    port = h.free_port()
    connector_url = f"http://127.0.0.1:{port}"
    sn = h.start_servicenow(workdir)
    bg = h.start_bomgar(
        workdir,
        "--events-url",
        h.events_url(connector_url),
        "--retry-interval",
        "0.05",
        "--retry-period",
        str(args.appliance_retry_period),
    )
    procs = [sn, bg]
    try:
        h.create_incidents(sn.url, args.down_sessions)
        lsids = [
            h.sim_post(bg.url, "sessions", {"external_key": h.ticket_id(n + 1)})["lsid"]
            for n in range(args.down_sessions)
        ]
        # Wait for the appliance to give up on every event.
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline:
            recipients = _recipients(h.sim_get(bg.url, "events"))
            if recipients and all(not r["pending"] for r in recipients):
                break
            time.sleep(0.25)
        recipients = _recipients(h.sim_get(bg.url, "events"))
        dropped = sum(r.get("dropped_total", 0) for r in recipients)
        delivered = sum(r.get("delivered_total", 0) for r in recipients)
        cfg = h.write_config(
            workdir / "connector.yaml",
            sn.url,
            bg.url,
            **{
                "poller.enabled": True,
                "poller.interval_seconds": 1,
                "poller.overlap_seconds": 60,
                "poller.initial_lookback_seconds": 7200,
            },
        )
        started = time.monotonic()
        web = h.start_connector(workdir, cfg, port=port)
        worker = h.start_worker(workdir, cfg)
        procs += [web, worker]
        settled = wait_settled(workdir / "connector.db", len(lsids), args.drain_timeout)
        check = check_servicenow(sn.url, lsids, workdir / "connector.db")
        check.update(
            settled=settled,
            events_dropped_by_appliance=dropped,
            events_delivered_while_down=delivered,
            seconds_to_import_after_start=round(time.monotonic() - started, 1),
        )
        check["ok"] = check["ok"] and settled and dropped > 0 and delivered == 0
        return check
    finally:
        for p in reversed(procs):
            p.stop()


SCENARIOS = {
    "faults": scenario_faults,
    "servicenow-down": scenario_servicenow_down,
    "connector-down": scenario_connector_down,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=2000, help="sessions in the faults scenario")
    p.add_argument("--kill-every", type=float, default=3.0, help="seconds between worker kills")
    p.add_argument("--duplicate-rate", type=float, default=0.3, help="share of events re-posted")
    p.add_argument("--senders", type=int, default=4, help="concurrent event senders")
    p.add_argument("--error-rate", type=float, default=0.10, help="share answered 500/503")
    p.add_argument("--rate-limit-rate", type=float, default=0.05, help="share answered 429")
    p.add_argument("--drop-rate", type=float, default=0.02, help="share of connections reset")
    p.add_argument("--timeout-rate", type=float, default=0.02, help="share that time out")
    p.add_argument("--sim-timeout", type=float, default=3.0, help="emulator delay for a timeout")
    p.add_argument("--client-timeout", type=float, default=2.0, help="connector read timeouts")
    p.add_argument("--max-attempts", type=int, default=100, help="worker.max_attempts")
    p.add_argument("--outage-seconds", type=float, default=60.0)
    p.add_argument("--outage-sessions", type=int, default=120)
    p.add_argument("--down-sessions", type=int, default=40)
    p.add_argument("--appliance-retry-period", type=float, default=0.2)
    p.add_argument("--drain-timeout", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--workdir", default=None, help="keep logs and databases here")
    p.add_argument("--no-json", action="store_true", help="do not write results/")
    p.add_argument("--json-out", default=None, help="also write the results to this file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios; return 0 when nothing was lost or duplicated."""
    args = parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {}
    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="chaos-"))
    for name in names:
        workdir = base / name
        workdir.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        results[name] = SCENARIOS[name](args, workdir)
        results[name]["wall_seconds"] = round(time.monotonic() - t0, 1)
    rows: list[tuple[str, Any, str]] = []
    for name, r in results.items():
        rows += [
            (f"{name}: sessions", r["sessions"], ""),
            (f"{name}: imported", r["imported"], f"= {r['sessions']}"),
            (f"{name}: duplicate sessions", r["duplicate_sessions"], "0"),
            (f"{name}: duplicate work notes", r["duplicate_notes"], "0"),
            (f"{name}: missing work notes", r["missing_notes"], "0"),
            (f"{name}: duplicate survey rows", r["duplicate_survey_rows"], "0"),
            (f"{name}: missing survey rows", r["missing_survey_rows"], "0"),
            (f"{name}: dead letters", r["dead_letters"], "0"),
            (f"{name}: wall seconds", r["wall_seconds"], ""),
            (f"{name}: verdict", "PASS" if r["ok"] else "FAIL", "PASS"),
        ]
        if "worker_kills" in r:
            rows.append((f"{name}: worker SIGKILLs", r["worker_kills"], ""))
        if "health_during_outage" in r:
            rows.append((f"{name}: health during outage", str(r["health_during_outage"]), "warn"))
        if "events_dropped_by_appliance" in r:
            rows.append(
                (f"{name}: events the appliance dropped", r["events_dropped_by_appliance"], "")
            )
    h.print_table("chaos", rows)
    if not args.no_json:
        h.Report(
            "chaos",
            {k: v for k, v in vars(args).items() if k not in ("workdir", "no_json", "json_out")},
            results,
        ).write()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    ok = all(r["ok"] for r in results.values())
    if not ok:
        for name, r in results.items():
            if not r["ok"]:
                print(f"{name} FAILED: {r}", file=sys.stderr)
    print(f"logs and databases in {base}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
