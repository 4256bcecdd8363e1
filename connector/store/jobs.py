"""Jobs: queueing, exclusive claims with leases, settling, dead letters and unmatched sessions."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable

from connector.store.database import Database
from connector.store.models import Job, owner_alive


class Jobs(Database):
    """One row per session, moved by events and claimed by workers (see the package docstring)."""

    def queue_sessions(
        self, lsids: Iterable[str], reason: str, *, now: float | None = None, force: bool = False
    ) -> int:
        """Queue sessions found by the poller, a replay or a backfill; return how many moved."""
        now = time.time() if now is None else now
        moved = 0
        with self._tx() as db:
            for lsid in lsids:
                moved += self._queue(db, lsid, reason, now, force=force)
        return moved

    def _queue(
        self,
        db: sqlite3.Connection,
        lsid: str,
        reason: str,
        now: float,
        *,
        external_key: str = "",
        force: bool = True,
    ) -> int:
        """Create or re-arm a session's job inside an open transaction."""
        row = db.execute("SELECT state FROM jobs WHERE lsid=?", (lsid,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO jobs (lsid, state, reason, not_before, external_key, created_at,"
                " updated_at, queued_at) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)",
                (lsid, reason, now, external_key, now, now, now),
            )
            return 1
        state = row["state"]
        if state == "running":
            db.execute(
                "UPDATE jobs SET generation=generation+1, reason=?, updated_at=? WHERE lsid=?",
                (reason, now, lsid),
            )
            return 1
        if state == "pending" or (state == "done" and not force) or (state == "dead" and not force):
            return 0
        db.execute(
            "UPDATE jobs SET state='pending', reason=?, not_before=?, generation=generation+1,"
            " attempts=CASE WHEN state='dead' THEN 0 ELSE attempts END, updated_at=?, queued_at=?"
            " WHERE lsid=?",
            (reason, now, now, now, lsid),
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
    ) -> list[Job]:
        """Take up to ``limit`` ready jobs for the claim token ``owner``.

        A running job whose lease lapsed is taken over only ``settle`` seconds after it lapsed:
        its holder may have a write in flight that the instance is still running.
        """
        now = time.time() if now is None else now
        with self._tx() as db:
            rows = db.execute(
                "SELECT lsid, generation, attempts, reason, external_key, queued_at FROM jobs"
                " WHERE (state='pending' AND not_before<=?) OR (state='running' AND lease_until<?)"
                " ORDER BY not_before LIMIT ?",
                (now, now - settle, limit),
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
                )
                for r in rows
            ]
            db.executemany(
                "UPDATE jobs SET state='running', lease_owner=?, lease_until=?, updated_at=?"
                " WHERE lsid=?",
                [(owner, now + lease_seconds, now, j.lsid) for j in jobs],
            )
        return jobs

    def renew(
        self, owner: str, lsids: Iterable[str], lease_seconds: float, *, now: float | None = None
    ) -> set[str]:
        """Extend the lease on jobs this claim still holds; return the lsids it still holds."""
        now = time.time() if now is None else now
        lsids = list(lsids)
        held: set[str] = set()
        with self._tx() as db:
            for lsid in lsids:
                # A lapsed lease nobody took over yet may be renewed: takeovers wait for settle.
                cur = db.execute(
                    "UPDATE jobs SET lease_until=? WHERE lsid=? AND state='running'"
                    " AND lease_owner=?",
                    (now + lease_seconds, lsid, owner),
                )
                if cur.rowcount:
                    held.add(lsid)
        return held

    def holding(self, owner: str, lsids: Iterable[str], *, now: float | None = None) -> set[str]:
        """Return which of ``lsids`` this claim still holds with a lease that has not lapsed."""
        now = time.time() if now is None else now
        lsids = list(lsids)
        held: set[str] = set()
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT lsid FROM jobs WHERE lsid IN ({marks}) AND state='running'"  # noqa: S608
                " AND lease_owner=? AND lease_until>=?",
                (*chunk, owner, now),
            )
            held.update(r[0] for r in rows)
        return held

    def release_dead_owners(self, settle: float = 0.0) -> int:
        """Re-queue running jobs whose owner process on this host has died.

        ``settle`` delays them: a write the dead worker sent may still be running remotely.
        """
        conn = self._conn()
        owners = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT lease_owner FROM jobs WHERE state='running'"
            ).fetchall()
        ]
        dead = [o for o in owners if o and not owner_alive(o)]
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

    def _finish(self, db: sqlite3.Connection, job: Job, owner: str, sql: str, args: tuple) -> bool:
        """Apply ``sql`` if the owner still holds the job; re-queue when a newer trigger came."""
        row = db.execute(
            "SELECT state, generation, lease_owner FROM jobs WHERE lsid=?", (job.lsid,)
        ).fetchone()
        if row is None or row["state"] != "running" or row["lease_owner"] != owner:
            return False  # lost the lease; whoever holds it now finishes the job
        if row["generation"] != job.generation:
            db.execute(
                "UPDATE jobs SET state='pending', not_before=?, lease_owner=NULL, lease_until=NULL,"
                " updated_at=? WHERE lsid=?",
                (time.time(), time.time(), job.lsid),
            )
            return True
        db.execute(sql, args)
        return True

    def complete(self, job: Job, owner: str, *, note: str | None = None) -> bool:
        """Mark a job done (``note`` says why when nothing was written)."""
        now = time.time()
        with self._tx() as db:
            return self._finish(
                db,
                job,
                owner,
                "UPDATE jobs SET state='done', done_at=?, updated_at=?, last_error=?,"
                " lease_owner=NULL, lease_until=NULL WHERE lsid=?",
                (now, now, note, job.lsid),
            )

    def wait(self, job: Job, owner: str, note: str) -> bool:
        """Park a job whose session has not ended; its end event or the poller re-queues it."""
        now = time.time()
        with self._tx() as db:
            return self._finish(
                db,
                job,
                owner,
                "UPDATE jobs SET state='waiting', last_error=?, updated_at=?, lease_owner=NULL,"
                " lease_until=NULL WHERE lsid=?",
                (note, now, job.lsid),
            )

    def retry_later(self, job: Job, owner: str, error: str, delay: float) -> bool:
        """Put a job back after a retryable failure."""
        now = time.time()
        with self._tx() as db:
            return self._finish(
                db,
                job,
                owner,
                "UPDATE jobs SET state='pending', attempts=attempts+1, not_before=?, last_error=?,"
                " updated_at=?, lease_owner=NULL, lease_until=NULL WHERE lsid=?",
                (now + delay, error, now, job.lsid),
            )

    def dead_letter(self, job: Job, owner: str, error: str) -> bool:
        """Move a job to the dead letters with the reason."""
        now = time.time()
        with self._tx() as db:
            return self._finish(
                db,
                job,
                owner,
                "UPDATE jobs SET state='dead', attempts=attempts+1, last_error=?, updated_at=?,"
                " lease_owner=NULL, lease_until=NULL WHERE lsid=?",
                (error, now, job.lsid),
            )

    def retry_dead(self, lsids: Iterable[str] | None = None) -> int:
        """Re-queue dead letters (all of them when ``lsids`` is None)."""
        now = time.time()
        with self._tx() as db:
            if lsids is None:
                return db.execute(
                    "UPDATE jobs SET state='pending', attempts=0, not_before=?, updated_at=?,"
                    " generation=generation+1 WHERE state='dead'",
                    (now, now),
                ).rowcount
            return sum(
                db.execute(
                    "UPDATE jobs SET state='pending', attempts=0, not_before=?, updated_at=?,"
                    " generation=generation+1 WHERE state='dead' AND lsid=?",
                    (now, now, lsid),
                ).rowcount
                for lsid in lsids
            )

    def mark_unmatched(self, job: Job, owner: str, reason: str) -> bool:
        """Park a claimed job as unmatched: it is never written onto a ticket unless attached."""
        now = time.time()
        with self._tx() as db:
            return self._finish(
                db,
                job,
                owner,
                "UPDATE jobs SET state='unmatched', last_error=?, updated_at=?,"
                " lease_owner=NULL, lease_until=NULL WHERE lsid=?",
                (reason, now, job.lsid),
            )

    def attach(self, lsid: str, ticket: str) -> bool:
        """Record an administrator's ticket for an unmatched session and queue it for import."""
        now = time.time()
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE jobs SET ticket=?, state='pending', attempts=0, not_before=?,"
                    " generation=generation+1, updated_at=?, queued_at=?, reason='attach'"
                    " WHERE lsid=? AND state='unmatched'",
                    (ticket, now, now, now, lsid),
                ).rowcount
                == 1
            )

    def dismiss(self, lsid: str, note: str) -> bool:
        """Close an unmatched session without writing it anywhere."""
        now = time.time()
        with self._tx() as db:
            return (
                db.execute(
                    "UPDATE jobs SET state='done', done_at=?, updated_at=?, last_error=?"
                    " WHERE lsid=? AND state='unmatched'",
                    (now, now, note, lsid),
                ).rowcount
                == 1
            )
