"""Chaos run: crashes, faults, duplicated and reordered events, outages; then count what landed.

Usage: python scripts/chaos/chaos.py [--sessions 2000] [--kill-every 3] [--outage-seconds 60]
       [--down-sessions 40] [--node-sessions 1000]
       [--scenarios faults,comments,servicenow-down,connector-down,nodes]

Five scenarios, each on a fresh set of processes (both emulators, ``connector serve`` under
gunicorn and ``connector worker`` with several import threads and a short lease):

faults            every session's events posted in shuffled order with duplicates, the worker
                  SIGKILLed a few seconds after each start-up and restarted, both emulators
                  failing before and after requests take effect (5xx, 429 with Retry-After,
                  resets, timeouts), the
                  ServiceNow emulator also failing single Batch API items (before and after they
                  commit) and running out of a batch's time budget; a share of the sessions has a
                  transcript long enough for an attachment, a share names no ticket (an incident
                  is created), and a share keeps its surveys out of the session report until the
                  middle of the run, so they come in through the exit-survey reports first and
                  through the session report on re-imports;
comments          the same with a mapping that writes the session note into ``comments``;
servicenow-down   ServiceNow drops every connection for a while as sessions end and the appliance
                  delivers their events: health must say warn, the webhook must take every event,
                  and every session must be imported once ServiceNow is back;
connector-down    the connector is down while sessions end, the appliance gives up on their events,
                  and the poller must import every one of them when the connector starts;
nodes             two connector nodes on one PostgreSQL (a throwaway cluster) and two appliances:
                  events spread across both nodes, one node SIGKILLed again and again and kept
                  down past a lease, PostgreSQL restarted once, the faults above (nodes.py).

The verdict comes from ServiceNow's state read over the Table API, per session: session records,
journal entries carrying the session's marker in any journal field, survey rows under any key
(more than the session's answers are duplicates), attachments, and auto-created incidents; plus
no job left pending or running and no dead letter (every session here is a good one). A run
that imported nothing fails. Exits 1 when anything was lost or duplicated. Prints a table with the
faults the emulators report having injected, and writes results/chaos-<time>.json.
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
import nodes  # noqa: E402

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
    """Translate the rates into fault settings both emulators take (5xx and 429 share a draw)."""
    total = args.error_rate + args.rate_limit_rate
    statuses: list[int] = []
    if total:
        # error_statuses is drawn uniformly, so weight the list to get the asked-for split.
        n429 = round(20 * args.rate_limit_rate / total)
        statuses = [429] * n429 + [500, 503] * ((20 - n429) // 2)
    return {
        "error_rate": total,
        "error_statuses": statuses or [500],
        "error_after_rate": args.error_after_rate,
        "error_after_statuses": [500, 503],
        "drop_rate": args.drop_rate,
        "drop_after_rate": args.drop_after_rate,
        "timeout_rate": args.timeout_rate,
        "timeout_after_rate": args.timeout_after_rate,
        "timeout_seconds": args.sim_timeout,
    }


def servicenow_faults(args: argparse.Namespace) -> dict[str, Any]:
    """Add the faults only the ServiceNow emulator has: single batch items and time budgets."""
    return {
        **fault_settings(args),
        "batch_item_error_rate": args.item_error_rate,
        "batch_item_error_statuses": [429, 500],
        "batch_item_error_after_rate": args.item_error_after_rate,
        "batch_cutoff_rate": args.batch_cutoff_rate,
    }


def _no_faults() -> dict[str, Any]:
    return {
        "error_rate": 0.0,
        "error_after_rate": 0.0,
        "drop_rate": 0.0,
        "drop_after_rate": 0.0,
        "timeout_rate": 0.0,
        "timeout_after_rate": 0.0,
        "latency_ms": 0,
    }


def _no_servicenow_faults() -> dict[str, Any]:
    return {
        **_no_faults(),
        "batch_item_error_rate": 0.0,
        "batch_item_error_after_rate": 0.0,
        "batch_cutoff_rate": 0.0,
    }


# A transcript of this many lines of this length is longer than the session record's 4,000
# characters, so the mapping attaches the whole text.
LONG_CHAT = [f"line {n}: " + "long transcript text " * 4 for n in range(60)]


def bulk_sessions(bomgar_url: str, count: int, **extra: Any) -> list[dict]:
    """Create ``count`` ended sessions, each on its own ticket; return their listing rows."""
    now = int(time.time())
    body: dict[str, Any] = {
        "count": count,
        "start_time": now - 3600,
        "end_time": now - 30,
        **extra,
    }
    if "external_key_prefix" not in extra and not extra.get("no_ticket"):
        body["external_key_prefix"] = h.TICKET_PREFIX
    body.pop("no_ticket", None)
    created = h.sim_post(bomgar_url, "sessions/bulk", body)
    wanted = set(created["lsids"])
    return [r for r in h.sim_get(bomgar_url, "sessions") if r["lsid"] in wanted]


def mixed_sessions(args: argparse.Namespace, bomgar_url: str) -> dict[str, list[dict]]:
    """Create the faults scenario's sessions by kind: plain, long chat, no ticket, late surveys."""
    n = args.sessions
    sizes = {
        "attachment": round(n * args.attachment_share),
        "auto_incident": round(n * args.auto_incident_share),
        "separate_surveys": round(n * args.separate_survey_share),
    }
    sizes["plain"] = n - sum(sizes.values())
    extra: dict[str, dict[str, Any]] = {
        "plain": {},
        "attachment": {"chat": LONG_CHAT},
        "auto_incident": {"no_ticket": True},
        "separate_surveys": {"surveys_in_report": False},
    }
    return {
        kind: bulk_sessions(bomgar_url, size, **extra[kind]) if size else []
        for kind, size in sizes.items()
    }


def check_servicenow(
    servicenow_url: str,
    kinds: dict[str, list[str]],
    store_path: Path | str,
) -> dict[str, Any]:
    """Count what landed per session, from ServiceNow's tables alone, and what the store holds."""
    wanted = {lsid for lsids in kinds.values() for lsid in lsids}
    auto = set(kinds.get("auto_incident", []))
    attach = set(kinds.get("attachment", []))
    records = [
        r
        for r in h.table_rows(servicenow_url, "u_bomgar_session", "", "sys_id,u_lsid")
        if r["u_lsid"] in wanted
    ]
    sessions = Counter(r["u_lsid"] for r in records)
    lsid_of_record = {r["sys_id"]: r["u_lsid"] for r in records}
    survey_rows = Counter(
        r["u_lsid"]
        for r in h.table_rows(servicenow_url, "u_bomgar_survey_response", "", "u_lsid")
        if r["u_lsid"] in wanted
    )
    # Any journal field: a note written as a comment counts as much as a work note.
    markers: Counter[str] = Counter()
    for row in h.table_rows(
        servicenow_url, "sys_journal_field", "valueLIKEBomgar session", "element_id,value"
    ):
        for lsid in _markers(row["value"]):
            if lsid in wanted:
                markers[lsid] += 1
    attachments = Counter(
        lsid_of_record[r["table_sys_id"]]
        for r in h.table_rows(
            servicenow_url,
            "sys_attachment",
            "table_name=u_bomgar_session",
            "table_sys_id,file_name",
        )
        if r["table_sys_id"] in lsid_of_record
    )
    incidents = Counter(
        r["correlation_id"]
        for r in h.table_rows(
            servicenow_url, "incident", "correlation_idISNOTEMPTY", "correlation_id"
        )
        if r["correlation_id"] in wanted
    )
    store = Store(store_path)
    dead = store.jobs("dead", limit=100000)
    counts = store.counts()
    store.close()

    def gap(counter: Counter[str], expect: Any) -> tuple[int, int]:
        missing = duplicated = 0
        for lsid in wanted:
            want = expect(lsid)
            have = counter[lsid]
            missing += max(0, want - have)
            duplicated += max(0, have - want)
        return missing, duplicated

    missing_notes, duplicate_notes = gap(markers, lambda _: 1)
    missing_rows, duplicate_rows = gap(survey_rows, lambda _: SURVEY_ROWS)
    missing_att, duplicate_att = gap(attachments, lambda x: 1 if x in attach else 0)
    missing_inc, duplicate_inc = gap(incidents, lambda x: 1 if x in auto else 0)
    result = {
        "sessions": len(wanted),
        "by_kind": {k: len(v) for k, v in kinds.items()},
        "imported": sum(1 for x in wanted if sessions[x] >= 1),
        "lost": sorted(x for x in wanted if sessions[x] == 0)[:20],
        "lost_count": sum(1 for x in wanted if sessions[x] == 0),
        "duplicate_sessions": sum(1 for x in wanted if sessions[x] > 1),
        "missing_notes": missing_notes,
        "duplicate_notes": duplicate_notes,
        "missing_survey_rows": missing_rows,
        "duplicate_survey_rows": duplicate_rows,
        "missing_attachments": missing_att,
        "duplicate_attachments": duplicate_att,
        "missing_incidents": missing_inc,
        "duplicate_incidents": duplicate_inc,
        "stuck_jobs": counts.get("pending", 0) + counts.get("running", 0),
        "dead_letters": len(dead),
        "dead_reasons": sorted({(r.last_error or "")[:120] for r in dead})[:5],
        "job_counts": counts,
    }
    problems = [
        "lost_count",
        "duplicate_sessions",
        "missing_notes",
        "duplicate_notes",
        "missing_survey_rows",
        "duplicate_survey_rows",
        "missing_attachments",
        "duplicate_attachments",
        "missing_incidents",
        "duplicate_incidents",
        "stuck_jobs",
        "dead_letters",
    ]
    result["ok"] = result["imported"] > 0 and not any(result[k] for k in problems)
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


def post_all(
    connector_url: str,
    forms: list[dict[str, str]],
    senders: int,
    progress: dict[str, int] | None = None,
) -> dict[str, int]:
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
                if status == 200 and progress is not None:
                    progress["accepted"] = progress.get("accepted", 0) + 1
            if status == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(f"event never accepted: {form}")

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, forms))
    return dict(statuses)


# -- scenarios --------------------------------------------------------------------------------


def comments_mappings(workdir: Path) -> str:
    """Write the default mappings with the session note going into comments; return the folder."""
    import shutil

    import yaml

    from connector.mapping import default_mapping_paths

    folder = workdir / "mappings"
    folder.mkdir(exist_ok=True)
    for path in default_mapping_paths():
        shutil.copy(path, folder / path.name)
    note = folder / "work_note.yaml"
    data = yaml.safe_load(note.read_text())
    data["work_note"]["element"] = "comments"
    note.write_text(yaml.safe_dump(data))
    return str(folder)


class StartupWatch:
    """Tell when a worker started after now has logged its start-up line (reads new bytes only)."""

    LINE = b"worker started"

    def __init__(self, log_path: Path) -> None:
        self.path = log_path
        self.offset = log_path.stat().st_size if log_path.exists() else 0
        self.tail = b""
        self.seen = False

    def started(self) -> bool:
        """Return whether the line has appeared since this watch began."""
        if self.seen or not self.path.exists():
            return self.seen
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        text = self.tail + chunk
        self.seen = self.LINE in text
        self.tail = text[-len(self.LINE) :]
        return self.seen


def scenario_faults(
    args: argparse.Namespace, workdir: Path, *, note_element: str = "work_notes"
) -> dict[str, Any]:
    """Kill the worker repeatedly under injected faults with shuffled, duplicated events."""
    sn = h.start_servicenow(workdir, "--threads", "16")
    bg = h.start_bomgar(workdir)
    procs = [sn, bg]
    try:
        by_kind = mixed_sessions(args, bg.url)
        rows = [r for kind_rows in by_kind.values() for r in kind_rows]
        h.create_incidents(sn.url, max(len(v) for v in by_kind.values()))
        overrides: dict[str, Any] = {
            "servicenow.timeout_seconds": args.client_timeout,
            "bomgar.timeout_seconds": args.client_timeout,
            "worker.max_attempts": args.max_attempts,
            "worker.retry_base_seconds": 0.2,
            "worker.retry_max_seconds": 2.0,
            # Short enough that a lease lapses under load when its renewal is late.
            "worker.lease_seconds": args.lease_seconds,
            "worker.auto_create_incident": True,
            # A timed-out write finishes on the emulator after --sim-timeout seconds.
            "servicenow.write_settle_seconds": args.sim_timeout + 0.5,
        }
        if note_element != "work_notes":
            overrides["mappings"] = comments_mappings(workdir)
        cfg = h.write_config(workdir / "connector.yaml", sn.url, bg.url, **overrides)
        web = h.start_connector(workdir, cfg)
        procs.append(web)
        h.sim_post(sn.url, "faults", servicenow_faults(args))
        h.sim_post(bg.url, "faults", fault_settings(args))
        forms = []
        rng = random.Random(args.seed)
        for r in rows:
            for event in EVENTS:
                form = h.event_form(event, r["lsid"], int(r["end_time"]), r["external_key"])
                forms.append(form)
                if rng.random() < args.duplicate_rate:
                    forms.append(dict(form))
        rng.shuffle(forms)
        kills = 0
        state: dict[str, Any] = {"flipped": False}
        progress: dict[str, int] = {}

        def spawn() -> None:
            state["startup"] = StartupWatch(workdir / "connector-worker.log")
            state["worker"] = h.start_worker(workdir, cfg, threads=args.worker_threads)
            state["next_kill"] = None

        spawn()

        def tick() -> None:
            nonlocal kills
            now = time.monotonic()
            if state["next_kill"] is None:
                # Its life is counted from its start-up line: a loaded machine that takes seconds
                # to start a worker would otherwise kill every one before it imports anything.
                if state["startup"].started():
                    state["next_kill"] = now + args.kill_every * rng.uniform(0.5, 1.5)
            elif now >= state["next_kill"]:
                state["worker"].kill()
                kills += 1
                spawn()
            if not state["flipped"] and progress.get("accepted", 0) >= len(forms) // 2:
                # Half-way: the late-survey sessions' reports now carry their surveys, so their
                # re-imports read the answers from the other report.
                for r in by_kind["separate_surveys"]:
                    h.sim_post(bg.url, f"sessions/{r['lsid']}/report", {"surveys_in_report": True})
                state["flipped"] = True

        started = time.monotonic()
        sender = threading.Thread(
            target=lambda: state.__setitem__(
                "posted", post_all(web.url, forms, args.senders, progress)
            )
        )
        sender.start()
        while sender.is_alive():
            tick()
            time.sleep(0.1)
        sender.join()
        tick()
        settled = wait_settled(
            workdir / "connector.db", len(rows), args.drain_timeout, on_tick=tick
        )
        elapsed = time.monotonic() - started
        h.sim_post(sn.url, "faults", _no_servicenow_faults())
        h.sim_post(bg.url, "faults", {"reset": True})
        state["worker"].stop()
        sn_stats = h.sim_get(sn.url, "stats")
        bg_stats = h.sim_get(bg.url, "stats")
        kinds = {k: [r["lsid"] for r in v] for k, v in by_kind.items()}
        check = check_servicenow(sn.url, kinds, workdir / "connector.db")
        check.update(
            settled=settled,
            seconds=round(elapsed, 1),
            note_element=note_element,
            events_posted=len(forms),
            post_statuses=state.get("posted", {}),
            worker_kills=kills,
            worker_threads=args.worker_threads,
            lease_seconds=args.lease_seconds,
            servicenow_requests=sn_stats["total"],
            servicenow_faults_injected=sn_stats["faults"],
            appliance_requests=bg_stats["total"],
            appliance_faults_injected=bg_stats["faults"],
        )
        check["ok"] = check["ok"] and settled
        return check
    finally:
        for p in reversed(procs):
            p.stop()


def scenario_comments(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The faults scenario with a mapping that writes the session note into comments."""
    sub = argparse.Namespace(**{**vars(args), "sessions": args.comment_sessions})
    return scenario_faults(sub, workdir, note_element="comments")


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
        check = check_servicenow(sn.url, {"plain": lsids}, workdir / "connector.db")
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
        check = check_servicenow(sn.url, {"plain": lsids}, workdir / "connector.db")
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
    "comments": scenario_comments,
    "servicenow-down": scenario_servicenow_down,
    "connector-down": scenario_connector_down,
    "nodes": nodes.scenario_nodes,
}


def _faults_text(injected: dict[str, dict[str, int]]) -> str:
    """Show injected faults compactly: kind before/after."""
    return ", ".join(
        f"{kind} {phases.get('before', 0)}/{phases.get('after', 0)}"
        for kind, phases in sorted(injected.items())
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=2000, help="sessions in the faults scenario")
    p.add_argument("--comment-sessions", type=int, default=500, help="in the comments scenario")
    p.add_argument("--attachment-share", type=float, default=0.1, help="long transcripts")
    p.add_argument("--auto-incident-share", type=float, default=0.05, help="sessions, no ticket")
    p.add_argument(
        "--separate-survey-share",
        type=float,
        default=0.3,
        help="surveys only in the exit-survey reports until half-way",
    )
    p.add_argument(
        "--kill-every", type=float, default=3.0, help="seconds a worker lives after starting up"
    )
    p.add_argument("--worker-threads", type=int, default=4, help="import threads per worker")
    p.add_argument("--lease-seconds", type=float, default=5.0, help="worker.lease_seconds")
    p.add_argument("--duplicate-rate", type=float, default=0.3, help="share of events re-posted")
    p.add_argument("--senders", type=int, default=4, help="concurrent event senders")
    p.add_argument("--error-rate", type=float, default=0.10, help="share answered 500/503 before")
    p.add_argument("--error-after-rate", type=float, default=0.03, help="500/503 after commit")
    p.add_argument("--rate-limit-rate", type=float, default=0.05, help="share answered 429")
    p.add_argument("--drop-rate", type=float, default=0.02, help="connections reset before")
    p.add_argument("--drop-after-rate", type=float, default=0.02, help="reset after commit")
    p.add_argument("--timeout-rate", type=float, default=0.02, help="held, then run late")
    p.add_argument("--timeout-after-rate", type=float, default=0.01, help="run, answer held")
    p.add_argument("--item-error-rate", type=float, default=0.03, help="batch items 429/500")
    p.add_argument(
        "--item-error-after-rate", type=float, default=0.02, help="batch items 500 after commit"
    )
    p.add_argument("--batch-cutoff-rate", type=float, default=0.02, help="batch budget runs out")
    p.add_argument("--sim-timeout", type=float, default=3.0, help="emulator delay for a timeout")
    p.add_argument("--client-timeout", type=float, default=2.0, help="connector read timeouts")
    p.add_argument("--max-attempts", type=int, default=100, help="worker.max_attempts")
    p.add_argument("--outage-seconds", type=float, default=60.0)
    p.add_argument("--outage-sessions", type=int, default=120)
    p.add_argument("--down-sessions", type=int, default=40)
    p.add_argument("--appliance-retry-period", type=float, default=0.2)
    nodes.add_arguments(p)
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
            (
                f"{name}: duplicate / missing attachments",
                f"{r['duplicate_attachments']} / {r['missing_attachments']}",
                "0 / 0",
            ),
            (
                f"{name}: duplicate / missing incidents",
                f"{r['duplicate_incidents']} / {r['missing_incidents']}",
                "0 / 0",
            ),
            (f"{name}: stuck jobs", r["stuck_jobs"], "0"),
            (f"{name}: dead letters", r["dead_letters"], "0"),
            (f"{name}: wall seconds", r["wall_seconds"], ""),
            (f"{name}: verdict", "PASS" if r["ok"] else "FAIL", "PASS"),
        ]
        if "worker_kills" in r:
            rows.append((f"{name}: worker SIGKILLs", r["worker_kills"], ""))
        if "node_kills" in r:
            rows += [
                (
                    f"{name}: node SIGKILLs (with claims)",
                    f"{r['node_kills']} ({r['kills_with_claims']})",
                    "",
                ),
                (
                    f"{name}: killed node's claims claimable after (max s)",
                    r["claimable_after_max_seconds"],
                    f"<= {r['lease_seconds'] + r['settle_seconds']} (lease + settle)",
                ),
                (
                    f"{name}: then taken over by the other node in (max s)",
                    r["pickup_max_seconds"],
                    f"<= {r['lease_seconds']} (a lease)",
                ),
                (f"{name}: kill to every claim taken over (max s)", r["takeover_max_seconds"], ""),
                (f"{name}: PostgreSQL restart", str(r["postgres_restart"]), "once"),
            ]
        for side in ("servicenow", "appliance"):
            injected = r.get(f"{side}_faults_injected")
            if injected:
                rows.append((f"{name}: {side} faults injected", _faults_text(injected), ""))
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
