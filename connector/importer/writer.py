"""Apply import plans to ServiceNow idempotently, many sessions per HTTP call.

Nothing here trusts local memory alone: before writing, one Batch API call reads what
ServiceNow already holds for the whole group of sessions (session records by their key field,
survey rows by their key, and the tickets' journal entries, in any journal field, carrying each
session's marker). Whatever is already there is not written again, so a crash between a write
and the ledger entry that records it, a timeout after the instance committed, or a redelivered
event all end in the same single set of records.

Per group of sessions the writer makes three Batch API calls at most:

1. read   existing session records, survey rows and marked journal entries;
2. write  session records (POST new / PATCH existing) and journal entries;
3. write  survey rows and transcript attachments (they need the session record's sys_id).

A session is appliance + lsid: the session record is looked up by its key field (``u_lsid``) and
a record whose appliance field (``u_appliance_id``) names another appliance is not taken for
this session's. An insert the instance refuses because another appliance's record holds the
same lsid (its unique ``u_lsid``) fails permanently, naming that record, instead of overwriting
it.

Before each write call (and before every retry of it) the writer asks ``guard`` which sessions
its worker still holds; a session whose claim was lost is left alone, because whoever holds it
now writes it. A write whose answer was lost (5xx, timeout, dropped connection) leaves its
session ``in_doubt``: the worker waits for the instance to finish before it looks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from connector.errors import ClaimLost, ProtocolError, RemoteError, StatusError
from connector.mapping.plan import ImportPlan, RecordWrite
from connector.servicenow import query as q
from connector.servicenow.answers import in_doubt
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.models import BatchRequest, BatchResponse
from connector.servicenow.urls import table_url

log = logging.getLogger(__name__)

SESSION_EFFECT = "session"
NOTE_EFFECT = "work_note"

# Which sessions the caller still holds, of those asked about.
Guard = Callable[[Iterable[str]], set[str]]

#: A write is answered with these fields only: the writer needs the sys_id, and the whole record
#: (a 4,000-character transcript, the ticket's every column) would cost both sides to encode.
ANSWER_FIELDS = ("sys_id",)


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
    # The worker no longer holds the session: it must neither write nor settle it.
    lost: bool = False

    def fail(self, error: RemoteError, *, doubt: bool = False) -> None:
        """Keep the most serious error: a permanent one wins over a retryable one."""
        if self.error is None or (error.permanent and not self.error.permanent):
            self.error = error
        self.in_doubt = self.in_doubt or doubt


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
        items = [self._sessions_query("sessions", plans, lsids)]
        # Survey rows carry the session key field too (u_lsid by default): one query finds them.
        key_field = _key_field(plans)
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
                        sysparm_query=q.one_of(key_field, lsids, q.lsid),
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
            # Any journal field: a mapping may write comments, or have switched between them.
            items.append(
                BatchRequest(
                    id="notes",
                    method="GET",
                    url=table_url(
                        "sys_journal_field",
                        sysparm_query=q.all_of(
                            q.one_of("element_id", note_tickets, q.sys_id),
                            q.like("value", self.marker_prefix.strip("[")),
                        ),
                        sysparm_fields="element_id,element,value",
                        sysparm_limit="10000",
                    ),
                )
            )
        results = {r.id: r for r in self.client.batch(items)}
        for r in results.values():
            if r.error is not None:
                raise r.error

        sessions = _sessions_found(results["sessions"], plans)
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

    def _sessions_query(
        self, item_id: str, plans: Sequence[ImportPlan], lsids: Sequence[str]
    ) -> BatchRequest:
        key_field = _key_field(plans)
        appliance_field = plans[0].session_record.appliance_field
        wanted = ["sys_id", key_field, *([appliance_field] if appliance_field else [])]
        return BatchRequest(
            id=item_id,
            method="GET",
            url=table_url(
                plans[0].session_record.table,
                sysparm_query=q.one_of(key_field, lsids, q.lsid),
                sysparm_fields=",".join(wanted),
                sysparm_limit=str(len(lsids) * 2 + 10),
            ),
        )

    # -- the whole group ------------------------------------------------------------------

    def write(
        self,
        plans: Sequence[ImportPlan],
        ledger: dict[str, dict[str, str]],
        *,
        guard: Guard | None = None,
    ) -> dict[str, Outcome]:
        """Write every plan's missing effects; return an Outcome per lsid."""
        outcomes = {p.lsid: Outcome(p.lsid) for p in plans}
        if not plans:
            return outcomes
        sessions, surveys, notes = self._read_existing(plans, ledger)
        by_lsid = {p.lsid: p for p in plans}

        # Phase 2: session records and journal entries.
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
                        url=table_url(rec.table, existing, fields=ANSWER_FIELDS),
                        body=rec.fields,
                    )
                )
            else:
                phase2.append(
                    BatchRequest(
                        id=item_id,
                        method="POST",
                        url=table_url(rec.table, fields=ANSWER_FIELDS),
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
                    url=table_url(note.table, note.sys_id, fields=ANSWER_FIELDS),
                    body={note.element: note.text},
                )
            )
            owners[item_id] = (plan.lsid, NOTE_EFFECT)
        session_ids = dict(sessions)
        refused: list[str] = []
        for item, resp in self._send(phase2, owners, outcomes, guard):
            lsid, effect = owners[item.id]
            if resp.error is not None:
                if effect == SESSION_EFFECT and item.method == "POST" and _refusal(resp.error):
                    refused.append(lsid)  # perhaps the instance's unique key: look again
                else:
                    outcomes[lsid].fail(resp.error, doubt=in_doubt(resp.error))
                continue
            if effect == SESSION_EFFECT:
                sys_id = _record(resp).get("sys_id", "")
                if not sys_id:
                    # Written (probably) but unnamed: nothing can hang off it yet; look again.
                    outcomes[lsid].fail(
                        ProtocolError(
                            "the session record's write was answered without a sys_id",
                            service="servicenow",
                        ),
                        doubt=True,
                    )
                    continue
                session_ids[lsid] = sys_id
                outcomes[lsid].effects.append((SESSION_EFFECT, sys_id))
            else:
                outcomes[lsid].effects.append((NOTE_EFFECT, _record(resp).get("sys_id", "")))
        if refused:
            self._adopt_refused(refused, by_lsid, outcomes, session_ids, phase2)

        # Phase 3: survey rows and attachments, for sessions whose record now exists.
        phase3: list[BatchRequest] = []
        owners = {}
        for plan in plans:
            session_id = session_ids.get(plan.lsid)
            outcome = outcomes[plan.lsid]
            if not session_id or outcome.error is not None or outcome.lost:
                continue
            done = ledger.get(plan.lsid, {})
            for n, row in enumerate(plan.survey_rows):
                effect = survey_effect(row)
                if effect in done:
                    continue
                if effect in surveys.get(plan.lsid, {}):
                    outcome.effects.append((effect, surveys[plan.lsid][effect]))
                    continue
                fields = dict(row.fields)
                if row.session_link_field:
                    fields[row.session_link_field] = session_id
                item_id = f"v:{plan.lsid}:{n}"
                phase3.append(
                    BatchRequest(
                        id=item_id,
                        method="POST",
                        url=table_url(row.table, fields=ANSWER_FIELDS),
                        body=fields,
                    )
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
        for item, resp in self._send(phase3, owners, outcomes, guard):
            lsid, effect = owners[item.id]
            if resp.error is not None:
                outcomes[lsid].fail(resp.error, doubt=in_doubt(resp.error))
            else:
                outcomes[lsid].effects.append((effect, _record(resp).get("sys_id", "")))
        return outcomes

    def _adopt_refused(
        self,
        refused: list[str],
        by_lsid: dict[str, ImportPlan],
        outcomes: dict[str, Outcome],
        session_ids: dict[str, str],
        phase2: list[BatchRequest],
    ) -> None:
        """Treat a refused insert as "already written" when the record is there after all.

        The instance refuses a second session record with the same key (the dictionary's unique
        flag), a last line of defence under the worker's own checks: the first one is adopted.
        """
        plans = [by_lsid[lsid] for lsid in refused]
        (resp,) = self.client.batch([self._sessions_query("refused", plans, refused)])
        found = _sessions_found(resp, plans) if resp.error is None else {}
        foreign = _foreign(resp, plans) if resp.error is None else {}
        sent = {item.id: item for item in phase2}
        for lsid in refused:
            sys_id = found.get(lsid)
            if sys_id:
                log.info(
                    "session record already there (unique key); adopting it", extra={"lsid": lsid}
                )
                session_ids[lsid] = sys_id
                outcomes[lsid].effects.append((SESSION_EFFECT, sys_id))
                continue
            item = sent[f"s:{lsid}"]
            why = f"the instance refused the session record ({item.url})"
            if lsid in foreign:
                why = (
                    f"another appliance's session record ({foreign[lsid]}) holds lsid {lsid};"
                    " the instance keeps lsids unique"
                )
            outcomes[lsid].fail(
                resp.error or StatusError(why, service="servicenow", status=400, permanent=True)
            )

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
        guard: Guard | None,
    ) -> list[tuple[BatchRequest, BatchResponse]]:
        """Send one write batch for the sessions still held; return (item, answer) pairs.

        Failures of the whole call are put on the sessions here; item answers, failed or not,
        go back to the caller, which knows what each one means.
        """
        if not items:
            return []
        if guard is not None:
            held = guard({owners[i.id][0] for i in items})
            for item in items:
                lsid = owners[item.id][0]
                if lsid not in held and not outcomes[lsid].lost:
                    outcomes[lsid].lost = True
                    log.warning("claim lost; not writing", extra={"lsid": lsid})
            items = [i for i in items if owners[i.id][0] in held]
            if not items:
                return []
        lsids = {owners[i.id][0] for i in items}

        def check_claims() -> None:
            if guard is not None and guard(lsids) != lsids:
                raise ClaimLost("a session of this write lost its claim")

        try:
            responses = self.client.batch(items, before_send=check_claims)
        except ClaimLost as exc:
            # Earlier rounds of this call may have written: whoever writes next must look first.
            still = guard(lsids) if guard is not None else lsids
            for lsid in lsids:
                if lsid in still:
                    outcomes[lsid].fail(
                        RemoteError(str(exc), service="servicenow", permanent=False), doubt=True
                    )
                else:
                    outcomes[lsid].lost = True
            return []
        except RemoteError as exc:
            for lsid in lsids:
                outcomes[lsid].fail(exc, doubt=in_doubt(exc))
            return []
        for resp in responses:
            outcomes[owners[resp.id][0]].writes += 1
        return list(zip(items, responses, strict=True))


def _key_field(plans: Sequence[ImportPlan]) -> str:
    return next(iter(plans[0].session_record.key))


def _sessions_found(resp: BatchResponse, plans: Sequence[ImportPlan]) -> dict[str, str]:
    """Return the sys_id of each plan's session record: its lsid, and not another appliance's."""
    key_field = _key_field(plans)
    by_lsid = {p.lsid: p.session_record for p in plans}
    found: dict[str, str] = {}
    for row in _rows(resp):
        lsid = row.get(key_field, "")
        record = by_lsid.get(lsid)
        if record is not None and _same_appliance(record, row):
            found.setdefault(lsid, row.get("sys_id", ""))
    return found


def _foreign(resp: BatchResponse, plans: Sequence[ImportPlan]) -> dict[str, str]:
    """Return, per lsid, another appliance's record that holds it (``field=value``)."""
    key_field = _key_field(plans)
    by_lsid = {p.lsid: p.session_record for p in plans}
    out: dict[str, str] = {}
    for row in _rows(resp):
        record = by_lsid.get(row.get(key_field, ""))
        if record is not None and record.appliance_field and not _same_appliance(record, row):
            field_name = record.appliance_field
            out[row[key_field]] = f"{field_name}={row.get(field_name, '')!r}"
    return out


def _same_appliance(record: RecordWrite, row: dict[str, str]) -> bool:
    """Tell whether a found row may be this session's: same appliance, or either not named."""
    name = record.appliance_field
    if not name:
        return True
    ours, theirs = record.fields.get(name, ""), row.get(name, "")
    return not ours or not theirs or ours == theirs


def _refusal(error: StatusError) -> bool:
    """Tell whether an insert was refused by the instance's rules (not throttled, not lost)."""
    return error.status is not None and 400 <= error.status < 500 and error.status != 429


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
