"""Jobs: queueing, exclusive claims with leases, settling, dead letters and unmatched sessions.

A job is keyed by appliance + lsid. A claim takes the ready jobs of one appliance (the one whose
session has waited longest, among those not skipped), so everything a pass does with its claim
(report requests, lease renewals, the writer's guard) names sessions by lsid within it.

Jobs belong to a queue (``jobs.queue``): 'sessions', the session import's, unless told
otherwise. 3PA queues its work in '3pa' under appliance '' with namespaced keys
(``3pa:<sys_id>``), so a claim, a count or a retry of one queue never touches another's jobs.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from typing import Any

from connector.store.database import Database, chunks, marks
from connector.store.models import SESSIONS, Job, owner_alive

_READY = "((state='pending' AND not_before<=?) OR (state='running' AND lease_until<?))"


class Jobs(Database):
    """One row per session, moved by events and claimed by workers (see the package docstring)."""

    def queue_sessions(
        self,
        lsids: Iterable[str],
        reason: str,
        *,
        now: float | None = None,
        force: bool = False,
        appliance: str = "",
        queue: str = SESSIONS,
    ) -> int:
        """Queue sessions found by the poller, a replay or a backfill; return how many moved.

        ``queue`` names the job queue a new job joins (3PA queues ``3pa:<sys_id>`` in '3pa').
        """
        now = time.time() if now is None else now
        moved = 0
        with self._tx() as db:
            for lsid in lsids:
                moved += self._queue(db, appliance, lsid, reason, now, force=force, queue=queue)
        return moved

    def _queue(
        self,
        db: Any,
        appliance: str,
        lsid: str,
        reason: str,
        now: float,
        *,
        external_key: str = "",
        force: bool = True,
        queue: str = SESSIONS,
    ) -> int:
        """Create or re-arm a session's job inside an open transaction."""
        created = db.execute(
            "INSERT INTO jobs (appliance, lsid, state, reason, not_before, external_key,"
            " created_at, updated_at, queued_at, queue)"
            " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (appliance, lsid) DO NOTHING",
            (appliance, lsid, reason, now, external_key, now, now, now, queue),
        ).rowcount
        if created:
            return 1
        # The row exists (perhaps committed a moment ago by another node): lock it, then decide.
        row = db.execute(
            f"SELECT state FROM jobs WHERE appliance=? AND lsid=?{self.engine.lock}",  # noqa: S608
            (appliance, lsid),
        ).fetchone()
        state = row["state"]
        if state == "running":
            db.execute(
                "UPDATE jobs SET generation=generation+1, reason=?, updated_at=?"
                " WHERE appliance=? AND lsid=?",
                (reason, now, appliance, lsid),
            )
            return 1
        if state == "pending" or (state == "done" and not force) or (state == "dead" and not force):
            return 0
        db.execute(
            "UPDATE jobs SET state='pending', reason=?, not_before=?, generation=generation+1,"
            " attempts=CASE WHEN state='dead' THEN 0 ELSE attempts END, updated_at=?, queued_at=?"
            " WHERE appliance=? AND lsid=?",
            (reason, now, now, now, appliance, lsid),
        )
        return 1

    def claim(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        *,
        now: float | None = None,
        settle: float = 0.0,
        skip: Collection[str] = (),
        queue: str = SESSIONS,
    ) -> list[Job]:
        """Take up to ``limit`` ready jobs of ``queue`` and one appliance for the token ``owner``.

        The appliance is the one (not in ``skip``) whose ready session has waited longest. A
        running job whose lease lapsed is taken over only ``settle`` seconds after it lapsed:
        its holder may have a write in flight that the instance is still running.
        """
        now = time.time() if now is None else now
        skipped = sorted(set(skip))
        not_in = f" AND appliance NOT IN ({marks(len(skipped))})" if skipped else ""
        with self._tx() as db:
            first = db.execute(
                f"SELECT appliance FROM jobs WHERE queue=? AND {_READY}{not_in}"  # noqa: S608
                f" ORDER BY not_before LIMIT 1{self.engine.skip_locked}",
                (queue, now, now - settle, *skipped),
            ).fetchone()
            if first is None:
                return []
            appliance = first["appliance"]
            rows = db.execute(
                "SELECT lsid, generation, attempts, reason, external_key, queued_at FROM jobs"  # noqa: S608
                f" WHERE queue=? AND appliance=? AND {_READY}"
                f" ORDER BY not_before LIMIT ?{self.engine.skip_locked}",
                (queue, appliance, now, now - settle, limit),
            ).fetchall()
            jobs = [
                Job(
                    r["lsid"],
                    r["generation"],
                    r["attempts"],
                    r["reason"],
                    r["external_key"],
                    r["queued_at"],
                    owner,
                    appliance,
                )
                for r in rows
            ]
            db.executemany(
                "UPDATE jobs SET state='running', lease_owner=?, lease_until=?, updated_at=?"
                " WHERE appliance=? AND lsid=?",
                [(owner, now + lease_seconds, now, appliance, j.lsid) for j in jobs],
            )
        return jobs

    def renew(
        self, owner: str, lsids: Iterable[str], lease_seconds: float, *, now: float | None = None
    ) -> set[str]:
        """Extend the lease on jobs this claim still holds; return the lsids it still holds."""
        now = time.time() if now is None else now
        held: set[str] = set()
        with self._tx() as db:
            for lsid in lsids:
                # A lapsed lease nobody took over yet may be renewed: takeovers wait for settle.
                # The token names one claim, and a claim holds one appliance's sessions.
                cur = db.execute(
                    "UPDATE jobs SET lease_until=? WHERE lease_owner=? AND lsid=?"
                    " AND state='running'",
                    (now + lease_seconds, owner, lsid),
                )
                if cur.rowcount:
                    held.add(lsid)
        return held

    def holding(self, owner: str, lsids: Iterable[str], *, now: float | None = None) -> set[str]:
        """Return which of ``lsids`` this claim still holds with a lease that has not lapsed."""
        now = time.time() if now is None else now
        held: set[str] = set()
        with self._read() as db:
            for chunk in chunks(list(lsids)):
                rows = db.execute(
                    f"SELECT lsid FROM jobs WHERE lease_owner=? AND lsid IN ({marks(len(chunk))})"  # noqa: S608
                    " AND state='running' AND lease_until>=?",
                    (owner, *chunk, now),
                )
                held.update(r["lsid"] for r in rows)
        return held

    def release_dead_owners(self, settle: float = 0.0, *, node: str = "") -> int:
        """Re-queue running jobs whose owner process on this node (``node``) has died.

        A same-host shortcut only: another node's claims are never judged by a process id,
        they come back when their lease lapses. ``settle`` delays them: a write the dead worker
        sent may still be running remotely.
        """
        with self._read() as db:
            owners = [
                r["lease_owner"]
                for r in db.execute(
                    "SELECT DISTINCT lease_owner FROM jobs WHERE state='running'"
                ).fetchall()
            ]
        dead = [o for o in owners if o and not owner_alive(o, node)]
        if not dead:
            return 0
        with self._tx() as db:
            released = 0
            for owner in dead:
                released += db.execute(
                    "UPDATE jobs SET state='pending', not_before=?, lease_owner=NULL,"
                    " lease_until=NULL WHERE state='running' AND lease_owner=?",
                    (time.time() + settle, owner),
                ).rowcount
        return released

    def _finish(self, db: Any, job: Job, owner: str, sql: str, args: tuple) -> bool:
        """Apply ``sql`` if the owner still holds the job; re-queue when a newer trigger came."""
        row = db.execute(
            "SELECT state, generation, lease_owner FROM jobs WHERE appliance=? AND lsid=?"  # noqa: S608
            f"{self.engine.lock}",
            (job.appliance, job.lsid),
        ).fetchone()
        if row is None or row["state"] != "running" or row["lease_owner"] != owner:
            return False  # lost the lease; whoever holds it now finishes the job
        if row["generation"] != job.generation:
            db.execute(
                "UPDATE jobs SET state='pending', not_before=?, lease_owner=NULL, lease_until=NULL,"
                " updated_at=? WHERE appliance=? AND lsid=?",
                (time.time(), time.time(), job.appliance, job.lsid),
            )
            return True
        db.execute(sql + " WHERE appliance=? AND lsid=?", (*args, job.appliance, job.lsid))
        return True

    def _settle(self, job: Job, owner: str, sql: str, args: tuple) -> bool:
        with self._tx() as db:
            return self._finish(db, job, owner, sql, args)

    def complete(self, job: Job, owner: str, *, note: str | None = None) -> bool:
        """Mark a job done (``note`` says why when nothing was written)."""
        now = time.time()
        return self._settle(
            job,
            owner,
            "UPDATE jobs SET state='done', done_at=?, updated_at=?, last_error=?,"
            " lease_owner=NULL, lease_until=NULL",
            (now, now, note),
        )

    def wait(self, job: Job, owner: str, note: str) -> bool:
        """Park a job whose session has not ended; its end event or the poller re-queues it."""
        return self._settle(
            job,
            owner,
            "UPDATE jobs SET state='waiting', last_error=?, updated_at=?, lease_owner=NULL,"
            " lease_until=NULL",
            (note, time.time()),
        )

    def retry_later(self, job: Job, owner: str, error: str, delay: float) -> bool:
        """Put a job back after a retryable failure."""
        now = time.time()
        return self._settle(
            job,
            owner,
            "UPDATE jobs SET state='pending', attempts=attempts+1, not_before=?, last_error=?,"
            " updated_at=?, lease_owner=NULL, lease_until=NULL",
            (now + delay, error, now),
        )

    def dead_letter(self, job: Job, owner: str, error: str) -> bool:
        """Move a job to the dead letters with the reason."""
        return self._settle(
            job,
            owner,
            "UPDATE jobs SET state='dead', attempts=attempts+1, last_error=?, updated_at=?,"
            " lease_owner=NULL, lease_until=NULL",
            (error, time.time()),
        )

    def mark_unmatched(self, job: Job, owner: str, reason: str) -> bool:
        """Park a claimed job as unmatched: it is never written onto a ticket unless attached."""
        return self._settle(
            job,
            owner,
            "UPDATE jobs SET state='unmatched', last_error=?, updated_at=?,"
            " lease_owner=NULL, lease_until=NULL",
            (reason, time.time()),
        )

    def retry_dead(
        self, lsids: Iterable[str] | None = None, *, appliance: str = "", queue: str = SESSIONS
    ) -> int:
        """Re-queue dead letters (all of ``queue``'s, every appliance's, when ``lsids`` is None)."""
        now = time.time()
        sql = (
            "UPDATE jobs SET state='pending', attempts=0, not_before=?, updated_at=?,"
            " generation=generation+1 WHERE state='dead'"
        )
        with self._tx() as db:
            if lsids is None:
                return db.execute(sql + " AND queue=?", (now, now, queue)).rowcount
            return sum(
                db.execute(
                    sql + " AND appliance=? AND lsid=?", (now, now, appliance, lsid)
                ).rowcount
                for lsid in lsids
            )

    def attach(self, lsid: str, ticket: str, *, appliance: str = "") -> bool:
        """Record an administrator's ticket for an unmatched session and queue it for import."""
        now = time.time()
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE jobs SET ticket=?, state='pending', attempts=0, not_before=?,"
                    " generation=generation+1, updated_at=?, queued_at=?, reason='attach'"
                    " WHERE appliance=? AND lsid=? AND state='unmatched'",
                    (ticket, now, now, now, appliance, lsid),
                ).rowcount
                == 1
            )

    def dismiss(self, lsid: str, note: str, *, appliance: str = "") -> bool:
        """Close an unmatched session without writing it anywhere."""
        now = time.time()
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE jobs SET state='done', done_at=?, updated_at=?, last_error=?"
                    " WHERE appliance=? AND lsid=? AND state='unmatched'",
                    (now, now, note, appliance, lsid),
                ).rowcount
                == 1
            )
