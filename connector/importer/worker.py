"""Claim queued sessions, pull their reports, map them and write them to ServiceNow.

One pass handles a group of sessions together: one SupportSession request for all of them,
one Batch API call to look up their tickets and reps, and the writer's batched, idempotent
writes. Errors are sorted per session: a retryable one puts the session back with backoff,
a permanent one (or too many attempts) sends it to the dead letters with the reason.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connector.bomgar.client import BomgarClient
from connector.bomgar.models import SupportSession
from connector.config import Config
from connector.errors import ConnectorError, DataError, RemoteError
from connector.importer.matching import decide
from connector.importer.writer import Outcome, PlanWriter
from connector.mapping.engine import MappingSet
from connector.mapping.plan import ImportPlan
from connector.metrics import Metrics
from connector.servicenow.client import ServiceNowClient, table_url
from connector.servicenow.models import BatchRequest
from connector.services import key_secret
from connector.store import Job, Store, owner_id

log = logging.getLogger(__name__)

SYS_ID = re.compile(r"^[0-9a-f]{32}$")
TASK_NUMBER = re.compile(r"^[A-Z]{2,8}[0-9]{4,12}$")
TICKET_FIELDS = "sys_id,number,sys_class_name,short_description,caller_id,opened_by,cmdb_ci,company"
USER_FIELDS = "sys_id,user_name,email,name"


class TicketNotFound(DataError):
    """Raise when a session's external key names no ticket."""


@dataclass
class Pending:
    """A session between fetching and writing."""

    job: Job
    session: SupportSession
    ticket: dict[str, str] | None = None
    rep_user: dict[str, str] | None = None
    plan: ImportPlan | None = None


class Importer:
    """Turn claimed jobs into ServiceNow records."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        bomgar: BomgarClient,
        servicenow: ServiceNowClient,
        mappings: MappingSet,
        metrics: Metrics | None = None,
        owner: str | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.bomgar = bomgar
        self.servicenow = servicenow
        self.mappings = mappings
        self.metrics = metrics or Metrics()
        self.owner = owner or owner_id()
        self.writer = PlanWriter(servicenow)
        self.batch_size = int(config["worker.batch_size"])
        self.lease = float(config["worker.lease_seconds"])

    # -- one pass ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and import one group of sessions; return how many were claimed."""
        jobs = self.store.claim(self.owner, self.batch_size, self.lease)
        if jobs:
            self.import_jobs(jobs)
        return len(jobs)

    def import_jobs(self, jobs: Sequence[Job]) -> None:
        """Import a group of claimed jobs, settling each one."""
        started = time.monotonic()
        try:
            sessions = {s.lsid: s for s in self.bomgar.support_sessions([j.lsid for j in jobs])}
        except ConnectorError as exc:  # remote failures, and hostile or unusable reports
            for job in jobs:
                self._fail(job, exc)
            return
        ready: list[Pending] = []
        for job in jobs:
            session = sessions.get(job.lsid)
            if session is None:
                # Reports can lag events; retry, and dead-letter after max attempts.
                self._fail(
                    job,
                    RemoteError(f"the appliance reports no session {job.lsid}", service="bomgar"),
                )
            elif not session.ended:
                self.store.wait(job, self.owner, "session still running")
                self.metrics.inc("connector_sessions_waiting_total")
            else:
                ready.append(Pending(job, session))
        if not ready:
            return
        self._merge_exit_surveys(ready)
        try:
            self._lookup(ready)
        except RemoteError as exc:
            for p in ready:
                self._fail(p.job, exc)
            return
        plans: list[Pending] = []
        for p in ready:
            if p.ticket is None:
                continue  # settled by _lookup (skipped or dead-lettered)
            try:
                p.plan = self.mappings.plan_session(
                    p.session,
                    ticket=p.ticket,
                    rep_user=p.rep_user,
                    appliance_id=self._appliance_id(p.job),
                )
            except DataError as exc:
                self._fail(p.job, exc)
                continue
            plans.append(p)
        if not plans:
            return
        ledger = self.store.ledger(p.job.lsid for p in plans)
        try:
            outcomes = self.writer.write([p.plan for p in plans if p.plan], ledger)
        except RemoteError as exc:
            for p in plans:
                self._fail(p.job, exc)
            return
        effects = [
            (lsid, effect, sys_id)
            for lsid, outcome in outcomes.items()
            for effect, sys_id in outcome.effects
        ]
        if effects:
            self.store.record_effects(effects)
        for p in plans:
            self._settle(p, outcomes[p.job.lsid])
        self.metrics.observe("connector_import_batch_seconds", time.monotonic() - started)

    # -- steps ------------------------------------------------------------------------------

    def _merge_exit_surveys(self, ready: list[Pending]) -> None:
        """Pull exit surveys named by survey events when the session report lacks them."""
        for kind, reason in (
            ("customer", "support_conference_customer_exit_survey_completed"),
            ("representative", "support_conference_rep_exit_survey_completed"),
        ):
            wanted = [
                p
                for p in ready
                if p.job.reason == reason and not any(s.kind == kind for s in p.session.surveys)
            ]
            if not wanted:
                continue
            try:
                surveys = self.bomgar.exit_surveys(kind, [p.session.lsid for p in wanted])
            except RemoteError as exc:
                log.warning("could not pull %s exit surveys: %s", kind, exc)
                continue
            by_lsid: dict[str, list[Any]] = {}
            for survey in surveys:
                by_lsid.setdefault(survey.lsid, []).append(survey)
            for p in wanted:
                p.session.surveys.extend(by_lsid.get(p.session.lsid, []))

    def _lookup(self, ready: list[Pending]) -> None:
        """Find each session's ticket and primary rep's user with one Batch API call."""
        keys = self._match(ready)  # lsid → ticket key; unmatched sessions are settled here
        ready = [p for p in ready if p.job.lsid in keys]
        sys_ids, numbers = set(), set()
        for p in ready:
            key = keys[p.job.lsid]
            if SYS_ID.match(key):
                sys_ids.add(key)
            elif TASK_NUMBER.match(key):
                numbers.add(key)
        rep_names = sorted(
            {
                rep.username
                for p in ready
                if (rep := p.session.primary_rep) is not None and rep.username
            }
        )
        items: list[BatchRequest] = []
        terms = []
        if sys_ids:
            terms.append("sys_idIN" + ",".join(sorted(sys_ids)))
        if numbers:
            terms.append("numberIN" + ",".join(sorted(numbers)))
        if terms:
            items.append(
                BatchRequest(
                    id="tickets",
                    method="GET",
                    url=table_url(
                        "task",
                        sysparm_query="^OR".join(terms),
                        sysparm_fields=TICKET_FIELDS,
                        sysparm_limit=str(2 * len(ready) + 10),
                    ),
                )
            )
        match = self.config["bomgar.rep_match"]
        if rep_names:
            names = ",".join(rep_names)
            query = {
                "username": f"user_nameIN{names}",
                "email": f"emailIN{names}",
                "username_then_email": f"user_nameIN{names}^ORemailIN{names}",
            }[match]
            items.append(
                BatchRequest(
                    id="users",
                    method="GET",
                    url=table_url(
                        "sys_user",
                        sysparm_query=query + "^active=true",
                        sysparm_fields=USER_FIELDS,
                        sysparm_limit=str(4 * len(rep_names) + 10),
                    ),
                )
            )
        results = {r.id: r for r in self.servicenow.batch(items)} if items else {}
        for r in results.values():
            if r.error is not None:
                raise r.error
        tickets: dict[str, dict[str, str]] = {}
        for row in _result_rows(results.get("tickets")):
            tickets[row.get("sys_id", "")] = row
            tickets[row.get("number", "")] = row
        by_username: dict[str, dict[str, str]] = {}
        by_email: dict[str, dict[str, str]] = {}
        for row in _result_rows(results.get("users")):
            by_username[row.get("user_name", "")] = row
            if row.get("email"):
                by_email[row["email"].lower()] = row
        for p in ready:
            rep = p.session.primary_rep
            if rep is not None and rep.username:
                user = None
                if match in ("username", "username_then_email"):
                    user = by_username.get(rep.username)
                if user is None and match in ("email", "username_then_email"):
                    user = by_email.get(rep.username.lower())
                p.rep_user = user
            key = keys[p.job.lsid]
            if not key:
                if self.config["worker.auto_create_incident"]:
                    try:
                        p.ticket = self._auto_incident(p.session)
                    except (RemoteError, DataError) as exc:
                        self._fail(p.job, exc)
                    continue
                self.store.complete(p.job, self.owner, note="skipped: session has no external key")
                self.metrics.inc("connector_sessions_skipped_total")
                log.info("session has no ticket; skipped", extra={"lsid": p.job.lsid})
                continue
            ticket = tickets.get(key)
            if ticket is None:
                self._fail(p.job, TicketNotFound(f"no task matches external key {key!r}"))
                continue
            p.ticket = ticket

    def _match(self, ready: list[Pending]) -> dict[str, str]:
        """Return each session's ticket key by lsid; park those without proof as unmatched."""
        secret = key_secret(self.config, self.store)
        attached = self.store.attached_tickets(p.job.lsid for p in ready)
        keys: dict[str, str] = {}
        for p in ready:
            decision = decide(
                p.session,
                p.job.external_key,
                policy=self.config["security.attach_policy"],
                secret=secret,
                attached=attached.get(p.job.lsid, ""),
                max_age=float(self.config["security.issued_key_max_age_seconds"]),
            )
            if decision.matched:
                keys[p.job.lsid] = decision.ticket_key
            elif self.store.mark_unmatched(p.job, self.owner, decision.reason):
                self.metrics.inc("connector_sessions_unmatched_total")
                log.warning(
                    "session not written: %s",
                    decision.reason,
                    extra={"lsid": p.job.lsid, "ticket": decision.ticket_key},
                )
        return keys

    def _auto_incident(self, session: SupportSession) -> dict[str, str]:
        """Find or create the incident for a session that names no ticket."""
        fields_wanted = [*TICKET_FIELDS.split(","), "correlation_id"]
        existing = self.servicenow.query(
            "incident", f"correlation_id={session.lsid}", fields=fields_wanted, limit=5
        )
        # An instance drops query terms on fields it lacks and returns everything: check.
        for row in existing:
            if row.get("correlation_id") == session.lsid:
                return row
        fields = dict(self.mappings.auto_incident(session))
        fields["correlation_id"] = session.lsid
        fields["correlation_display"] = "Bomgar session"
        created = self.servicenow.create_record("incident", fields)
        return {k: created.get(k, "") for k in TICKET_FIELDS.split(",")}

    def _appliance_id(self, job: Job) -> str:
        configured = self.config["bomgar.appliance_id"]
        return configured or self.store.appliance_id(job.lsid)

    # -- settling ---------------------------------------------------------------------------

    def _settle(self, p: Pending, outcome: Outcome) -> None:
        if outcome.error is not None:
            self._fail(p.job, outcome.error, in_doubt=outcome.in_doubt)
            return
        if self.store.complete(p.job, self.owner):
            self.metrics.inc("connector_sessions_imported_total")
            self.metrics.observe(
                "connector_event_to_import_seconds", max(0.0, time.time() - p.job.queued_at)
            )
            log.info(
                "session imported",
                extra={
                    "lsid": p.job.lsid,
                    "ticket": (p.ticket or {}).get("number", ""),
                    "writes": outcome.writes,
                },
            )

    def _fail(self, job: Job, error: Exception, *, in_doubt: bool = False) -> None:
        permanent = getattr(error, "permanent", True)
        attempts = job.attempts + 1
        max_attempts = int(self.config["worker.max_attempts"])
        reason = f"{type(error).__name__}: {error}"
        if permanent or attempts >= max_attempts:
            if self.store.dead_letter(job, self.owner, reason):
                self.metrics.inc("connector_sessions_dead_total")
                log.error("session dead-lettered: %s", reason, extra={"lsid": job.lsid})
            return
        delay = self.backoff(attempts, getattr(error, "retry_after", None))
        if in_doubt:
            delay = max(delay, float(self.config["servicenow.write_settle_seconds"]))
        if self.store.retry_later(job, self.owner, reason, delay):
            self.metrics.inc("connector_import_retries_total")
            log.warning(
                "import failed, retrying in %.1fs: %s", delay, reason, extra={"lsid": job.lsid}
            )

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Return the delay before the next attempt: exponential with jitter, or Retry-After."""
        cap = float(self.config["worker.retry_max_seconds"])
        if retry_after is not None:
            return min(cap, retry_after)
        base = float(self.config["worker.retry_base_seconds"])
        ceiling = min(cap, base * (2 ** (attempts - 1)))
        return random.uniform(ceiling / 2, ceiling)


def _result_rows(resp: Any) -> list[dict[str, str]]:
    if resp is None or not isinstance(resp.body, dict):
        return []
    result = resp.body.get("result", [])
    return result if isinstance(result, list) else [result]


class WorkerLoop:
    """Run the importer in a few threads until stopped."""

    def __init__(self, importer: Importer, *, threads: int = 2, poll_seconds: float = 0.5) -> None:
        self.importer = importer
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Release dead workers' claims and start the import threads."""
        settle = float(self.importer.config["servicenow.write_settle_seconds"])
        released = self.importer.store.release_dead_owners(settle)
        if released:
            log.warning("re-queued %d sessions claimed by a worker that died", released)
        for n in range(self.threads):
            t = threading.Thread(target=self._run, name=f"importer-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                claimed = self.importer.run_once()
            except Exception:  # keep the worker alive; the job's lease brings it back
                log.exception("import pass failed")
                claimed = 0
            if not claimed:
                self.stop_event.wait(self.poll_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the threads to finish their current pass and wait for them."""
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout)
