"""Apply import plans to ServiceNow idempotently, many sessions per HTTP call.

Nothing here trusts local memory alone: before writing, one Batch API call reads what
ServiceNow already holds for the whole group of sessions (session records by ``u_lsid``,
survey rows, and the tickets' work notes carrying each session's marker). Whatever is
already there is not written again, so a crash between a write and the ledger entry that
records it, a timeout after the instance committed, or a redelivered event all end in the
same single set of records.

Per group of sessions the writer makes three Batch API calls at most:

1. read   existing session records, survey rows and marked work notes;
2. write  session records (POST new / PATCH existing) and work notes;
3. write  survey rows and transcript attachments (they need the session record's sys_id).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from connector.errors import RemoteError, StatusError, TransportError
from connector.mapping.plan import ImportPlan, RecordWrite
from connector.servicenow.client import ServiceNowClient, table_url
from connector.servicenow.models import BatchRequest, BatchResponse

log = logging.getLogger(__name__)

SESSION_EFFECT = "session"
NOTE_EFFECT = "work_note"


def survey_effect(row: RecordWrite) -> str:
    """Name the ledger effect of one survey row by its key."""
    return "survey:" + "|".join(f"{k}={v}" for k, v in sorted(row.key.items()))


def attachment_effect(file_name: str) -> str:
    """Name the ledger effect of one attachment."""
    return f"attachment:{file_name}"


@dataclass
class Outcome:
    """What happened to one session's plan."""

    lsid: str
    effects: list[tuple[str, str]] = field(default_factory=list)  # (effect, sys_id)
    error: RemoteError | None = None
    writes: int = 0
    # A write was sent but its answer lost: the instance may still apply it, so wait before
    # re-reading, or the re-read misses it and the retry writes a twin.
    in_doubt: bool = False

    def fail(self, error: RemoteError) -> None:
        """Keep the most serious error: a permanent one wins over a retryable one."""
        if self.error is None or (error.permanent and not self.error.permanent):
            self.error = error


def _q(value: str) -> str:
    return quote(value, safe="")


def _in_list(values: Sequence[str]) -> str:
    return ",".join(values)


class PlanWriter:
    """Write ImportPlans through the Batch API, at most once per effect."""

    def __init__(self, client: ServiceNowClient, *, marker_prefix: str = "[Bomgar session") -> None:
        self.client = client
        self.marker_prefix = marker_prefix

    # -- phase 1: what is there already -----------------------------------------------------

    def _read_existing(
        self, plans: Sequence[ImportPlan], ledger: dict[str, dict[str, str]]
    ) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, set[str]]]:
        """Return session sys_ids by lsid, survey row sys_ids by lsid, marked notes by ticket."""
        lsids = [p.lsid for p in plans]
        session_table = plans[0].session_record.table
        key_field = next(iter(plans[0].session_record.key))
        items: list[BatchRequest] = [
            BatchRequest(
                id="sessions",
                method="GET",
                url=table_url(
                    session_table,
                    sysparm_query=f"{key_field}IN{_in_list(lsids)}",
                    sysparm_fields=f"sys_id,{key_field}",
                    sysparm_limit=str(len(lsids) * 2 + 10),
                ),
            )
        ]
        # Survey rows carry the session key field too (u_lsid by default): one query finds them.
        survey_tables = {r.table for p in plans for r in p.survey_rows}
        survey_fields: dict[str, list[str]] = {}
        for table in sorted(survey_tables):
            keys = sorted(
                {k for p in plans for r in p.survey_rows if r.table == table for k in r.key}
            )
            survey_fields[table] = keys
            items.append(
                BatchRequest(
                    id=f"surveys:{table}",
                    method="GET",
                    url=table_url(
                        table,
                        sysparm_query=f"{key_field}IN{_in_list(lsids)}",
                        sysparm_fields="sys_id," + ",".join(keys),
                        sysparm_limit="10000",
                    ),
                )
            )
        note_tickets = sorted(
            {
                p.work_note.sys_id
                for p in plans
                if p.work_note and NOTE_EFFECT not in ledger.get(p.lsid, {})
            }
        )
        if note_tickets:
            items.append(
                BatchRequest(
                    id="notes",
                    method="GET",
                    url=table_url(
                        "sys_journal_field",
                        sysparm_query=(
                            f"element_idIN{_in_list(note_tickets)}^element=work_notes"
                            f"^valueLIKE{self.marker_prefix.strip('[')}"
                        ),
                        sysparm_fields="element_id,value",
                        sysparm_limit="10000",
                    ),
                )
            )
        results = {r.id: r for r in self.client.batch(items)}
        for r in results.values():
            if r.error is not None:
                raise r.error

        sessions: dict[str, str] = {}
        for row in _rows(results["sessions"]):
            sessions.setdefault(row.get(key_field, ""), row.get("sys_id", ""))
        surveys: dict[str, dict[str, str]] = {lsid: {} for lsid in lsids}
        for table, keys in survey_fields.items():
            for row in _rows(results[f"surveys:{table}"]):
                key = {k: row.get(k, "") for k in keys}
                lsid = key.get(key_field, "")
                if lsid in surveys:
                    fake = RecordWrite(table=table, key=key, fields={})
                    surveys[lsid][survey_effect(fake)] = row.get("sys_id", "")
        notes: dict[str, set[str]] = {}
        if "notes" in results:
            for row in _rows(results["notes"]):
                notes.setdefault(row.get("element_id", ""), set()).add(row.get("value", ""))
        return sessions, surveys, notes

    # -- the whole group ------------------------------------------------------------------

    def write(
        self, plans: Sequence[ImportPlan], ledger: dict[str, dict[str, str]]
    ) -> dict[str, Outcome]:
        """Write every plan's missing effects; return an Outcome per lsid."""
        outcomes = {p.lsid: Outcome(p.lsid) for p in plans}
        if not plans:
            return outcomes
        sessions, surveys, notes = self._read_existing(plans, ledger)

        # Phase 2: session records and work notes.
        phase2: list[BatchRequest] = []
        owners: dict[str, tuple[str, str]] = {}  # batch id → (lsid, effect)
        for plan in plans:
            rec = plan.session_record
            existing = sessions.get(plan.lsid) or ledger.get(plan.lsid, {}).get(SESSION_EFFECT)
            item_id = f"s:{plan.lsid}"
            if existing:
                phase2.append(
                    BatchRequest(
                        id=item_id,
                        method="PATCH",
                        url=table_url(rec.table, existing),
                        body=rec.fields,
                    )
                )
            else:
                phase2.append(
                    BatchRequest(
                        id=item_id,
                        method="POST",
                        url=table_url(rec.table),
                        body=rec.fields,
                    )
                )
            owners[item_id] = (plan.lsid, SESSION_EFFECT)
            note = plan.work_note
            if note is None or NOTE_EFFECT in ledger.get(plan.lsid, {}):
                continue
            if any(note.marker in text for text in notes.get(note.sys_id, ())):
                outcomes[plan.lsid].effects.append((NOTE_EFFECT, note.sys_id))
                continue
            item_id = f"n:{plan.lsid}"
            phase2.append(
                BatchRequest(
                    id=item_id,
                    method="PATCH",
                    url=table_url(note.table, note.sys_id),
                    body={note.element: note.text},
                )
            )
            owners[item_id] = (plan.lsid, NOTE_EFFECT)
        session_ids = dict(sessions)
        for resp in self._send(phase2, owners, outcomes):
            lsid, effect = owners[resp.id]
            sys_id = _record(resp).get("sys_id", "")
            if effect == SESSION_EFFECT:
                session_ids[lsid] = sys_id
                outcomes[lsid].effects.append((SESSION_EFFECT, sys_id))
            else:
                outcomes[lsid].effects.append((NOTE_EFFECT, sys_id))

        # Phase 3: survey rows and attachments, for sessions whose record now exists.
        phase3: list[BatchRequest] = []
        owners = {}
        for plan in plans:
            session_id = session_ids.get(plan.lsid)
            if not session_id or outcomes[plan.lsid].error is not None:
                continue
            done = ledger.get(plan.lsid, {})
            for n, row in enumerate(plan.survey_rows):
                effect = survey_effect(row)
                if effect in done:
                    continue
                if effect in surveys.get(plan.lsid, {}):
                    outcomes[plan.lsid].effects.append((effect, surveys[plan.lsid][effect]))
                    continue
                fields = dict(row.fields)
                if row.session_link_field:
                    fields[row.session_link_field] = session_id
                item_id = f"v:{plan.lsid}:{n}"
                phase3.append(
                    BatchRequest(id=item_id, method="POST", url=table_url(row.table), body=fields)
                )
                owners[item_id] = (plan.lsid, effect)
            if plan.attachments:
                existing_files = self._attachment_names(plan, session_id, sessions, done)
                for n, att in enumerate(plan.attachments):
                    effect = attachment_effect(att.file_name)
                    if effect in done or att.file_name in existing_files:
                        continue
                    params = urlencode(
                        {
                            "table_name": plan.session_record.table,
                            "table_sys_id": session_id,
                            "file_name": att.file_name,
                        }
                    )
                    item_id = f"a:{plan.lsid}:{n}"
                    phase3.append(
                        BatchRequest(
                            id=item_id,
                            method="POST",
                            url=f"/api/now/attachment/file?{params}",
                            body=att.content,
                            headers={"Content-Type": att.content_type},
                        )
                    )
                    owners[item_id] = (plan.lsid, effect)
        for resp in self._send(phase3, owners, outcomes):
            lsid, effect = owners[resp.id]
            outcomes[lsid].effects.append((effect, _record(resp).get("sys_id", "")))
        return outcomes

    def _attachment_names(
        self, plan: ImportPlan, session_id: str, preexisting: dict[str, str], done: dict[str, str]
    ) -> set[str]:
        """Return file names already attached, asking only when the record pre-existed."""
        wanted = [a for a in plan.attachments if attachment_effect(a.file_name) not in done]
        if not wanted or plan.lsid not in preexisting:
            return set()
        rows = self.client.list_attachments(plan.session_record.table, session_id)
        return {r.get("file_name", "") for r in rows}

    def _send(
        self,
        items: list[BatchRequest],
        owners: dict[str, tuple[str, str]],
        outcomes: dict[str, Outcome],
    ) -> list[BatchResponse]:
        """Send one write batch; sort failures onto their sessions, return the successes."""
        if not items:
            return []
        try:
            responses = self.client.batch(items)
        except RemoteError as exc:
            for item in items:
                outcome = outcomes[owners[item.id][0]]
                outcome.fail(exc)
                outcome.in_doubt = outcome.in_doubt or isinstance(exc, TransportError)
            return []
        ok: list[BatchResponse] = []
        seen = set()
        for resp in responses:
            seen.add(resp.id)
            lsid = owners[resp.id][0]
            outcomes[lsid].writes += 1
            if resp.error is not None:
                outcomes[lsid].fail(resp.error)
            else:
                ok.append(resp)
        for item in items:
            if item.id not in seen:
                outcomes[owners[item.id][0]].fail(
                    StatusError(
                        "batch item was not serviced",
                        service="servicenow",
                        status=503,
                        permanent=False,
                    )
                )
        return ok


def _rows(resp: BatchResponse) -> list[dict[str, str]]:
    body = resp.body
    if isinstance(body, dict):
        result = body.get("result", [])
        return result if isinstance(result, list) else [result]
    return []


def _record(resp: BatchResponse) -> dict[str, str]:
    body = resp.body
    if isinstance(body, dict) and isinstance(body.get("result"), dict):
        return body["result"]
    return {}
