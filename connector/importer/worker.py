"""Claim queued sessions, pull their reports, map them and write them to ServiceNow.

One pass handles a group of sessions together: one SupportSession request for all of them,
one Batch API call to look up their tickets and reps, and the writer's batched, idempotent
writes. Errors are sorted per session: a retryable one puts the session back with backoff,
a permanent one (or too many attempts) sends it to the dead letters with the reason. A report
request that fails for a reason one session could cause (a report too large, a garbled
document, an unusable lsid) is split until only the bad session fails, and a pass that breaks
unexpectedly still counts an attempt for every session it held.

Each pass claims its group under its own token; the lease is renewed from a background thread
while the pass lives, and every write first checks that the claim still holds.
A claim holds one appliance's sessions, and the pass asks that appliance (``appliances``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.bomgar.client import BomgarClient
from connector.bomgar.models import SupportSession
from connector.config import Config
from connector.errors import ClaimLost, ConnectorError, DataError, ProtocolError, RemoteError
from connector.http import RetryPolicy
from connector.importer.appliances import Appliances
from connector.importer.leases import LeaseKeeper
from connector.importer.matching import decide
from connector.importer.writer import Guard, Outcome, PlanWriter
from connector.mapping.engine import MappingSet
from connector.mapping.plan import ImportPlan
from connector.metrics import Metrics
from connector.servicenow import query as q
from connector.servicenow.answers import in_doubt
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.models import BatchRequest
from connector.servicenow.urls import table_url
from connector.store import Job, Store, claim_token

log = logging.getLogger(__name__)

TICKET_FIELDS = "sys_id,number,sys_class_name,short_description,caller_id,opened_by,cmdb_ci,company"
USER_FIELDS = "sys_id,user_name,email,name"


class TicketNotFound(DataError):
    """Raise when a session's external key names no ticket."""


SURVEY_EVENTS = {
    "customer": "support_conference_customer_exit_survey_completed",
    "representative": "support_conference_rep_exit_survey_completed",
}


@dataclass
class Pending:
    """A session between fetching and writing."""

    job: Job
    session: SupportSession
    ticket: dict[str, str] | None = None
    rep_user: dict[str, str] | None = None
    plan: ImportPlan | None = None
    # Survey kinds an event announced that neither report holds yet: the job must come back.
    missing_surveys: set[str] = field(default_factory=set)
    survey_error: RemoteError | None = None


class Importer:
    """Turn claimed jobs into ServiceNow records."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        bomgar: BomgarClient | Mapping[str, BomgarClient],
        servicenow: ServiceNowClient,
        mappings: MappingSet,
        key_secret: bytes,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.key_secret = key_secret  # proves an external key was issued by this connector
        self.store = store
        # appliance: one client per appliance id (a single client serves the only appliance)
        self.appliances = Appliances(
            bomgar if isinstance(bomgar, Mapping) else {config.appliances[0].id: bomgar}
        )
        self.bomgar = self.appliances.first
        self.node = config.worker.node_name
        self.servicenow = servicenow
        self.mappings = mappings
        self.metrics = metrics or Metrics()
        self.writer = PlanWriter(servicenow)
        self.batch_size = config.worker.batch_size
        self.lease = config.worker.lease_seconds
        self.settle = config.servicenow.write_settle_seconds
        self.leases = LeaseKeeper(store, self.lease)
        # The same backoff as every outbound call, at the job's own pace and cap.
        self.retry = RetryPolicy(
            base=config.worker.retry_base_seconds,
            cap=config.worker.retry_max_seconds,
            retry_after_cap=config.worker.retry_max_seconds,
        )

    # -- one pass ---------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and import one group of sessions; return how many were claimed."""
        token = claim_token(self.node)
        jobs = self._claim(token)  # appliance: one appliance's sessions, skipping a suspect one
        if not jobs:
            return 0
        with self.leases.hold(token, [j.lsid for j in jobs]):
            try:
                self.import_jobs(jobs)
            except Exception as exc:
                # Count the attempt of every job the pass left unsettled (settled ones ignore
                # this), so nothing stays "running" and a session that always breaks ends dead.
                log.exception("import pass failed")
                reason = RemoteError(f"internal error: {type(exc).__name__}: {exc}")
                for job in jobs:
                    self._fail(job, reason)
        return len(jobs)

    def _claim(self, token: str) -> list[Job]:
        """Claim one appliance's ready sessions, leaving a suspect one another pass waits on."""
        skip = self.appliances.busy_and_suspect()
        return self.store.claim(token, self.batch_size, self.lease, settle=self.settle, skip=skip)

    def guard(self, token: str) -> Guard:
        """Return the check the writer makes before each write: which sessions are still ours."""
        return lambda lsids: self.store.holding(token, lsids)

    def import_jobs(self, jobs: Sequence[Job]) -> None:
        """Import a group of claimed jobs, settling each one."""
        started = time.monotonic()
        sessions, failures = self._fetch(list(jobs))
        for job, exc in failures:
            self._fail(job, exc)
        failed = {job.lsid for job, _ in failures}
        ready: list[Pending] = []
        for job in jobs:
            if job.lsid in failed:
                continue
            session = sessions.get(job.lsid)
            if session is None:
                # Reports can lag events; retry, and dead-letter after max attempts.
                self._fail(
                    job,
                    RemoteError(f"the appliance reports no session {job.lsid}", service="bomgar"),
                )
            elif session.problem:
                self._fail(job, DataError(session.problem))
            elif not session.ended:
                self.store.wait(job, job.owner, "session still running")
                self.metrics.inc("connector_sessions_waiting_total", appliance=job.appliance)
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
        appliance = jobs[0].appliance  # appliance: a claim holds one appliance's sessions
        ledger = self.store.ledger((p.job.lsid for p in plans), appliance=appliance)
        try:
            outcomes = self.writer.write(
                [p.plan for p in plans if p.plan], ledger, guard=self.guard(jobs[0].owner)
            )
        except ConnectorError as exc:  # the read before writing failed, or a value was refused
            for p in plans:
                self._fail(p.job, exc)
            return
        effects = [
            (lsid, effect, sys_id)
            for lsid, outcome in outcomes.items()
            for effect, sys_id in outcome.effects
        ]
        if effects:
            self.store.record_effects(effects, appliance=appliance)
        for p in plans:
            self._settle(p, outcomes[p.job.lsid])
        self.metrics.observe(
            "connector_import_batch_seconds", time.monotonic() - started, appliance=appliance
        )

    # -- steps ------------------------------------------------------------------------------

    def _fetch(
        self, jobs: list[Job]
    ) -> tuple[dict[str, SupportSession], list[tuple[Job, ConnectorError]]]:
        """Pull the group's reports; split the group when one session may spoil the request."""
        try:
            appliance = jobs[0].appliance
            with self.appliances.asking(appliance):
                found = self.appliances.client(appliance).support_sessions([j.lsid for j in jobs])
        except ConnectorError as exc:
            # A permanent error (report too large, an lsid the appliance refuses) or a garbled
            # document may belong to one session: halve until it names one, not its neighbours.
            if len(jobs) > 1 and (exc.permanent or isinstance(exc, ProtocolError)):
                half = len(jobs) // 2
                first, first_failed = self._fetch(jobs[:half])
                second, second_failed = self._fetch(jobs[half:])
                return {**first, **second}, first_failed + second_failed
            return {}, [(job, exc) for job in jobs]
        return {s.lsid: s for s in found}, []

    def _merge_exit_surveys(self, ready: list[Pending]) -> None:
        """Pull the exit surveys that events announced when the session report lacks them.

        Every survey event stored before the import counts, not just the one that queued the
        job: an event that arrived while the job was pending changes what it must bring in.
        """
        appliance = ready[0].job.appliance
        announced = self.store.announced_surveys((p.job.lsid for p in ready), appliance=appliance)
        for kind, reason in SURVEY_EVENTS.items():
            wanted = [
                p
                for p in ready
                if (kind in announced.get(p.job.lsid, ()) or p.job.reason == reason)
                and not any(s.kind == kind for s in p.session.surveys)
            ]
            if not wanted:
                continue
            try:
                surveys = self.appliances.client(appliance).exit_surveys(
                    kind, [p.session.lsid for p in wanted]
                )
            except RemoteError as exc:
                log.warning("could not pull %s exit surveys: %s", kind, exc)
                for p in wanted:
                    p.survey_error = exc
                continue
            by_lsid: dict[str, list[Any]] = {}
            for survey in surveys:
                by_lsid.setdefault(survey.lsid, []).append(survey)
            for p in wanted:
                found = by_lsid.get(p.session.lsid, [])
                p.session.surveys.extend(found)
                if not found:
                    p.missing_surveys.add(kind)

    def _lookup(self, ready: list[Pending]) -> None:
        """Find each session's ticket and primary rep's user with one Batch API call."""
        keys = self._match(ready)  # lsid → ticket key; unmatched sessions are settled here
        ready = [p for p in ready if p.job.lsid in keys]
        sys_ids, numbers = set(), set()
        for p in ready:
            key = keys[p.job.lsid]
            if _passes(q.sys_id, key):
                sys_ids.add(key)
            elif _passes(q.task_number, key):
                numbers.add(key)
        # Rep names come straight from the report: one with query syntax in it stays unmapped.
        rep_names = sorted(
            {
                rep.username
                for p in ready
                if (rep := p.session.primary_rep) is not None and _passes(q.user_name, rep.username)
            }
        )
        items: list[BatchRequest] = []
        ticket_terms = []
        if sys_ids:
            ticket_terms.append(q.one_of("sys_id", sorted(sys_ids), q.sys_id))
        if numbers:
            ticket_terms.append(q.one_of("number", sorted(numbers), q.task_number))
        if ticket_terms:
            items.append(
                BatchRequest(
                    id="tickets",
                    method="GET",
                    url=table_url(
                        "task",
                        sysparm_query=q.any_of(*ticket_terms),
                        sysparm_fields=TICKET_FIELDS,
                        sysparm_limit=str(2 * len(ready) + 10),
                    ),
                )
            )
        match = self.config.bomgar.rep_match
        emails = [n for n in rep_names if _passes(q.email, n)]
        user_terms = []
        if match in ("username", "username_then_email") and rep_names:
            user_terms.append(q.one_of("user_name", rep_names, q.user_name))
        if match in ("email", "username_then_email") and emails:
            user_terms.append(q.one_of("email", emails, q.email))
        if user_terms:
            items.append(
                BatchRequest(
                    id="users",
                    method="GET",
                    url=table_url(
                        "sys_user",
                        sysparm_query=q.all_of(q.any_of(*user_terms), q.equals("active", "true")),
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
                if self.config.worker.auto_create_incident:
                    try:
                        p.ticket = self._auto_incident(p.job, p.session)
                    except ClaimLost:
                        self.metrics.inc("connector_claims_lost_total", appliance=p.job.appliance)
                    except (RemoteError, DataError) as exc:
                        # An insert whose answer was lost may still land: settle, then look.
                        self._fail(p.job, exc, in_doubt=in_doubt(exc))
                    continue
                self.store.complete(p.job, p.job.owner, note="skipped: session has no external key")
                self.metrics.inc("connector_sessions_skipped_total", appliance=p.job.appliance)
                log.info("session has no ticket; skipped", extra={"lsid": p.job.lsid})
                continue
            ticket = tickets.get(key)
            if ticket is None:
                self._fail(p.job, TicketNotFound(f"no task matches external key {key!r}"))
                continue
            p.ticket = ticket

    def _match(self, ready: list[Pending]) -> dict[str, str]:
        """Return each session's ticket key by lsid; park those without proof as unmatched."""
        secret = self.key_secret
        attached = self.store.attached_tickets(
            (p.job.lsid for p in ready), appliance=ready[0].job.appliance
        )
        keys: dict[str, str] = {}
        for p in ready:
            decision = decide(
                p.session,
                p.job.external_key,
                policy=self.config.security.attach_policy,
                secret=secret,
                attached=attached.get(p.job.lsid, ""),
                max_age=self.config.security.issued_key_max_age_seconds,
            )
            if decision.matched:
                keys[p.job.lsid] = decision.ticket_key
            elif self.store.mark_unmatched(p.job, p.job.owner, decision.reason):
                self.metrics.inc("connector_sessions_unmatched_total", appliance=p.job.appliance)
                log.warning(
                    "session not written: %s",
                    decision.reason,
                    extra={"lsid": p.job.lsid, "ticket": decision.ticket_key},
                )
        return keys

    def _auto_incident(self, job: Job, session: SupportSession) -> dict[str, str]:
        """Find or create the incident for a session that names no ticket."""
        fields_wanted = [*TICKET_FIELDS.split(","), "correlation_id"]
        existing = self.servicenow.query(
            "incident",
            q.equals("correlation_id", session.lsid, q.lsid),
            fields=fields_wanted,
            limit=5,
        )
        # An instance drops query terms on fields it lacks and returns everything: check.
        for row in existing:
            if row.get("correlation_id") == session.lsid:
                return row
        if session.lsid not in self.store.holding(job.owner, [session.lsid]):
            raise ClaimLost(f"claim on {session.lsid} lost before creating its incident")
        fields = dict(self.mappings.auto_incident(session))
        fields["correlation_id"] = session.lsid
        fields["correlation_display"] = "Bomgar session"
        created = self.servicenow.create_record("incident", fields)
        return {k: created.get(k, "") for k in TICKET_FIELDS.split(",")}

    def _appliance_id(self, job: Job) -> str:
        # The configured id; for the unnamed appliance, what its latest event said.
        return job.appliance or self.store.appliance_id(job.lsid, appliance=job.appliance)

    # -- settling ---------------------------------------------------------------------------

    def _settle(self, p: Pending, outcome: Outcome) -> None:
        if outcome.lost:
            # Whoever holds the session now finishes it; this pass must not touch it.
            self.metrics.inc("connector_claims_lost_total", appliance=p.job.appliance)
            return
        if outcome.error is not None:
            self._fail(p.job, outcome.error, in_doubt=outcome.in_doubt)
            return
        if p.survey_error is not None or p.missing_surveys:
            # Written what there was; the announced survey still has to come in.
            missing = ", ".join(sorted(p.missing_surveys))
            self._fail(
                p.job,
                p.survey_error
                or RemoteError(
                    f"{missing} exit survey announced by an event but not in the appliance's"
                    " reports yet",
                    service="bomgar",
                ),
            )
            return
        if self.store.complete(p.job, p.job.owner):
            self.metrics.inc("connector_sessions_imported_total", appliance=p.job.appliance)
            self.metrics.observe(
                "connector_event_to_import_seconds",
                max(0.0, time.time() - p.job.queued_at),
                appliance=p.job.appliance,
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
        max_attempts = self.config.worker.max_attempts
        reason = f"{type(error).__name__}: {error}"
        if permanent or attempts >= max_attempts:
            if self.store.dead_letter(job, job.owner, reason):
                self.metrics.inc("connector_sessions_dead_total", appliance=job.appliance)
                log.error("session dead-lettered: %s", reason, extra={"lsid": job.lsid})
            return
        delay = self.retry.delay(attempts, error)
        if in_doubt:
            delay = max(delay, self.settle)
        if self.store.retry_later(job, job.owner, reason, delay):
            self.metrics.inc("connector_import_retries_total", appliance=job.appliance)
            log.warning(
                "import failed, retrying in %.1fs: %s", delay, reason, extra={"lsid": job.lsid}
            )


def _passes(check: q.Check, value: str) -> bool:
    """Tell whether a value may go into an encoded query as what ``check`` expects."""
    try:
        check(value)
    except q.QueryValueError:
        return False
    return True


def _result_rows(resp: Any) -> list[dict[str, str]]:
    if resp is None or not isinstance(resp.body, dict):
        return []
    result = resp.body.get("result", [])
    return result if isinstance(result, list) else [result]
