"""The obvious way to import sessions, kept as the baseline the connector is compared with.

One session at a time: one SupportSession report request per session, then one pysnow call per
record (read the ticket, read the rep's user, create the session record, create each survey
row, add the work note, upload each file). Same mapping, same emulators, same latency.

Usage: python scripts/bench/import_baseline.py [--sessions 100] [--latency-ms 40]
Prints a table and writes results/import_baseline-<time>.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h  # noqa: E402

CHAT = [f"line {n}: the printer says paper jam in tray {n % 3}" for n in range(20)]
SESSION_SCRIPT: dict[str, Any] = {
    "chat": CHAT,  # 20 lines
    "notes": [],
    "system_info": True,
    "rep_survey": False,  # the customer survey alone: 3 questions
}
# The least one such session costs an instance: its ticket read (the few reps of the mix are read
# once per group, a share that tends to nothing); the session record, the work note (the ticket's
# update plus its journal entry) and three survey rows written.
SESSION_RECORDS = {"reads": 1, "writes": 1 + 2 + 3}


def run_baseline(servicenow_url: str, bomgar_url: str, lsids: list[str]) -> dict[str, Any]:
    """Import ``lsids`` one by one with one pysnow call per record; return timings."""
    import pysnow

    from connector import config as config_module
    from connector.demo import emulator_settings
    from connector.services import Services

    cfg = config_module.validate(
        {},
        file="<baseline>",
        overrides={
            **emulator_settings(servicenow_url, bomgar_url, ":memory:", h.WEBHOOK_TOKEN),
            "bomgar.max_requests_per_second": 1000,
        },
    )
    svc = Services(cfg)
    mappings = svc.mappings
    bomgar = svc.bomgar
    host = urlsplit(servicenow_url).netloc
    sn = pysnow.Client(host=host, user="admin", password="admin", use_ssl=False)
    incidents = sn.resource(api_path="/table/task")
    users = sn.resource(api_path="/table/sys_user")
    started = time.perf_counter()
    for lsid in lsids:
        (session,) = bomgar.support_sessions([lsid])
        ticket = incidents.get(query={"sys_id": session.ticket_key}, limit=1).one()
        rep_user = None
        rep = session.primary_rep
        if rep is not None and rep.username:
            rep_user = users.get(query={"user_name": rep.username}, limit=1).one_or_none()
        plan = mappings.plan_session(session, ticket=ticket, rep_user=rep_user)
        rec = plan.session_record
        created = sn.resource(api_path=f"/table/{rec.table}").create(payload=rec.fields).one()
        for row in plan.survey_rows:
            fields = dict(row.fields)
            if row.session_link_field:
                fields[row.session_link_field] = created["sys_id"]
            sn.resource(api_path=f"/table/{row.table}").create(payload=fields)
        if plan.work_note:
            note = plan.work_note
            sn.resource(api_path=f"/table/{note.table}").update(
                query={"sys_id": note.sys_id}, payload={note.element: note.text}
            )
        for att in plan.attachments:
            reply = sn.session.post(
                f"{servicenow_url}/api/now/attachment/file",
                params={
                    "table_name": rec.table,
                    "table_sys_id": created["sys_id"],
                    "file_name": att.file_name,
                },
                data=att.content,
                headers={"Content-Type": att.content_type},
                timeout=60,
            )
            reply.raise_for_status()
    seconds = time.perf_counter() - started
    return {
        "sessions": len(lsids),
        "seconds": round(seconds, 2),
        "sessions_per_second": round(len(lsids) / seconds, 2),
    }


def main() -> None:
    """Start the emulators, create sessions, import them the obvious way and report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--latency-ms", type=float, default=h.COST_MODEL["latency_ms"])
    p.add_argument("--read-ms", type=float, default=h.COST_MODEL["read_ms"])
    p.add_argument("--write-ms", type=float, default=h.COST_MODEL["write_ms"])
    p.add_argument("--max-concurrent", type=int, default=h.COST_MODEL["max_concurrent"])
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    sn = h.start_servicenow(workdir, *h.cost_flags(vars(args)))
    bg = h.start_bomgar(workdir)
    try:
        h.create_incidents(sn.url, args.sessions, prefix=h.BASELINE_PREFIX)
        lsids = h.sim_post(
            bg.url,
            "sessions/bulk",
            {
                "count": args.sessions,
                "external_key_prefix": h.BASELINE_PREFIX,
                **SESSION_SCRIPT,
            },
        )["lsids"]
        h.sim_post(sn.url, "stats/reset", {})
        result = run_baseline(sn.url, bg.url, lsids)
        stats = h.sim_get(sn.url, "stats")
        result["servicenow_calls_per_session"] = round(h.sn_calls(stats) / len(lsids), 2)
    finally:
        bg.stop()
        sn.stop()
    h.print_table(
        "import, the obvious way (baseline)",
        [
            ("sessions", result["sessions"], ""),
            ("sessions/s", result["sessions_per_second"], ""),
            ("ServiceNow calls/session", result["servicenow_calls_per_session"], ""),
        ],
    )
    h.Report("import_baseline", vars(args), result).write()


if __name__ == "__main__":
    main()
