"""SQLite inbox, job queue, ledger and watermark; the only module that speaks SQL.

Every outbound event is committed (WAL, synchronous=FULL) before the webhook answers 200.
Each session has one row in ``jobs``; events only move that row, so duplicates collapse.
A job is claimed with a conditional UPDATE inside ``BEGIN IMMEDIATE`` so two workers never
hold the same session. Every claim has its own owner token (``host:pid:claim``), so two threads
of one process never mistake each other's claims, and a killed worker's sessions are released as
soon as its process is seen gone instead of waiting for the lease to run out. A claim's lease is
renewed while its pass lives; a lapsed lease is taken over only after ``settle`` seconds more,
because a write its holder started may still be running on the instance.

Job states::

    pending ──claim──▶ running ──▶ done
       ▲                  │  └───▶ waiting   (still running; end event or poller re-queues)
       └──retryable error─┘  ├───▶ dead      (permanent error; `connector dead-letters --retry`)
       ▲                     └───▶ unmatched (no proof it belongs to its ticket; never written)
       └──── `connector unmatched --attach LSID TICKET` (records the admin's ticket) ─┘

Schema versions: 1, the first; 2 adds ``jobs.ticket`` (the ticket an administrator attached an
unmatched session to) and an index on ``events.received_at`` for pruning old events.

``generation`` counts triggers: an event arriving while a job runs bumps it, and the finishing
worker sees the change and re-queues instead of marking the job done, so no trigger is lost.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.bomgar.models import OutboundEvent

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    lsid TEXT NOT NULL,
    event TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    appliance_id TEXT NOT NULL,
    external_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_lsid ON events (lsid);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE TABLE IF NOT EXISTS jobs (
    lsid TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    not_before REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    last_error TEXT,
    external_key TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    queued_at REAL NOT NULL,
    done_at REAL,
    ticket TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before);
CREATE TABLE IF NOT EXISTS ledger (
    lsid TEXT NOT NULL,
    effect TEXT NOT NULL,
    sys_id TEXT NOT NULL,
    written_at REAL NOT NULL,
    PRIMARY KEY (lsid, effect)
);
"""

# Events that mean "the session's facts changed; import (again)".
TRIGGERS = frozenset(
    {
        "support_conference_end",
        "support_conference_customer_exit_survey_completed",
        "support_conference_rep_exit_survey_completed",
    }
)


@dataclass(frozen=True)
class Job:
    """A claimed session import."""

    lsid: str
    generation: int
    attempts: int
    reason: str
    external_key: str
    queued_at: float
    owner: str = ""  # the claim's token; settling needs it


@dataclass(frozen=True)
class JobRow:
    """A job as listed for operators."""

    lsid: str
    state: str
    reason: str
    attempts: int
    last_error: str | None
    external_key: str
    updated_at: float
    not_before: float


def owner_id() -> str:
    """Name this process as a claim owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_token() -> str:
    """Name one claim: this process plus a random part, unique per claim."""
    return f"{owner_id()}:{uuid.uuid4().hex[:12]}"


def _owner_alive(owner: str) -> bool:
    parts = owner.split(":")
    if len(parts) < 2:
        return True
    host, pid = parts[0], parts[1]
    if host != socket.gethostname():
        return True  # another machine's worker: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _migrate_to_2(db: sqlite3.Connection) -> None:
    columns = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
    if "ticket" not in columns:
        db.execute("ALTER TABLE jobs ADD COLUMN ticket TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX IF NOT EXISTS events_received ON events (received_at)")


MIGRATIONS = {2: _migrate_to_2}


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a store from ``version`` to SCHEMA_VERSION inside the caller's transaction."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[target](db)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))


class Store:
    """The connector's durable state in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        self._local = threading.local()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # executescript commits on its own, so the DDL runs outside _tx (it is idempotent).
        self._conn().executescript(SCHEMA)
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {row[0]}; this connector knows "
                    f"{SCHEMA_VERSION}"
                )
            elif int(row[0]) < SCHEMA_VERSION:
                _migrate(db, int(row[0]))

    # -- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """Run a short write transaction (BEGIN IMMEDIATE takes the write lock up front)."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def ping(self) -> None:
        """Check the database answers."""
        self._conn().execute("SELECT 1").fetchone()

    # -- inbox -----------------------------------------------------------------------------

    def record_event(self, event: OutboundEvent, *, known: bool, now: float | None = None) -> bool:
        """Store an event and queue its session; return False when it was a duplicate."""
        now = time.time() if now is None else now
        payload = json.dumps(
            {
                "event": event.event,
                "version": event.version,
                "timestamp": event.timestamp,
                "lsid": event.lsid,
                "appliance_id": event.appliance_id,
                "external_key": event.external_key,
                "extra": dict(event.extra),
            },
            sort_keys=True,
        )
        triggers = known and event.event in TRIGGERS
        status = "queued" if triggers else ("recorded" if known else "ignored")
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO events (dedupe_key, lsid, event, timestamp, appliance_id,"
                " external_key, payload, status, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    event.dedupe_key,
                    event.lsid,
                    event.event,
                    event.timestamp,
                    event.appliance_id,
                    event.external_key,
                    payload,
                    status,
                    now,
                ),
            )
            if cur.rowcount == 0:
                return False
            if triggers:
                self._queue(db, event.lsid, event.event, now, external_key=event.external_key)
        return True

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

    # -- claiming and finishing ------------------------------------------------------------

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
        dead = [o for o in owners if o and not _owner_alive(o)]
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

    def announced_surveys(self, lsids: Iterable[str]) -> dict[str, set[str]]:
        """Return, per session, the exit-survey kinds its events announced as completed."""
        kinds = {
            "support_conference_customer_exit_survey_completed": "customer",
            "support_conference_rep_exit_survey_completed": "representative",
        }
        lsids = list(lsids)
        out: dict[str, set[str]] = {}
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT DISTINCT lsid, event FROM events WHERE lsid IN ({marks})"  # noqa: S608
                " AND event IN (?, ?)",
                (*chunk, *kinds),
            )
            for row in rows:
                out.setdefault(row[0], set()).add(kinds[row[1]])
        return out

    def appliance_id(self, lsid: str) -> str:
        """Return the appliance_id of the latest event seen for a session."""
        row = (
            self._conn()
            .execute(
                "SELECT appliance_id FROM events WHERE lsid=? ORDER BY id DESC LIMIT 1", (lsid,)
            )
            .fetchone()
        )
        return row[0] if row else ""

    # -- ledger ----------------------------------------------------------------------------

    def ledger(self, lsids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Return what was already written per session: effect → sys_id."""
        lsids = list(lsids)
        out: dict[str, dict[str, str]] = {lsid: {} for lsid in lsids}
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT lsid, effect, sys_id FROM ledger WHERE lsid IN ({marks})",  # noqa: S608
                chunk,
            ):
                out[row["lsid"]][row["effect"]] = row["sys_id"]
        return out

    def record_effects(self, effects: Iterable[tuple[str, str, str]]) -> None:
        """Remember writes that ServiceNow confirmed: (lsid, effect, sys_id)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO ledger (lsid, effect, sys_id, written_at) VALUES (?,?,?,?)",
                [(lsid, effect, sys_id, now) for lsid, effect, sys_id in effects],
            )

    # -- operator views --------------------------------------------------------------------

    def jobs(self, state: str | None = None, limit: int = 1000) -> list[JobRow]:
        """List jobs, newest first, optionally of one state."""
        sql = (
            "SELECT lsid, state, reason, attempts, last_error, external_key, updated_at, not_before"
            " FROM jobs"
        )
        args: tuple[Any, ...] = ()
        if state:
            sql += " WHERE state=?"
            args = (state,)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        rows = self._conn().execute(sql, (*args, limit)).fetchall()
        return [JobRow(**dict(r)) for r in rows]

    def job_state(self, lsid: str) -> str | None:
        """Return one job's state, or None when unknown."""
        row = self._conn().execute("SELECT state FROM jobs WHERE lsid=?", (lsid,)).fetchone()
        return row[0] if row else None

    def known_lsids(self, lsids: Iterable[str], states: tuple[str, ...] = ("done",)) -> set[str]:
        """Return which of ``lsids`` have a job in one of ``states``."""
        lsids = list(lsids)
        found: set[str] = set()
        conn = self._conn()
        state_marks = ",".join("?" * len(states))
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT lsid FROM jobs WHERE lsid IN ({marks}) AND state IN ({state_marks})",  # noqa: S608
                (*chunk, *states),
            )
            found.update(r[0] for r in rows)
        return found

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

    def counts(self) -> dict[str, int]:
        """Count jobs per state."""
        rows = self._conn().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        counts = {s: 0 for s in ("pending", "running", "waiting", "done", "dead", "unmatched")}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    def event_counts(self) -> dict[str, int]:
        """Count stored events per status."""
        rows = (
            self._conn().execute("SELECT status, COUNT(*) FROM events GROUP BY status").fetchall()
        )
        return {r[0]: r[1] for r in rows}

    def oldest_pending(self) -> float | None:
        """Return when the longest-waiting pending or running job was queued."""
        row = (
            self._conn()
            .execute("SELECT MIN(queued_at) FROM jobs WHERE state IN ('pending', 'running')")
            .fetchone()
        )
        return row[0]

    def next_due(self) -> float | None:
        """Return the earliest not_before among pending jobs."""
        row = (
            self._conn()
            .execute("SELECT MIN(not_before) FROM jobs WHERE state='pending'")
            .fetchone()
        )
        return row[0]

    # -- meta (watermark, poll status) -----------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """Read one meta value."""
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        """Write meta values in one transaction."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items())
            )

    # -- unmatched sessions (no proof they belong to their ticket) --------------------------

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

    def attached_tickets(self, lsids: Iterable[str]) -> dict[str, str]:
        """Return the tickets administrators attached, for those of ``lsids`` that have one."""
        lsids = list(lsids)
        found: dict[str, str] = {}
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT lsid, ticket FROM jobs WHERE lsid IN ({marks}) AND ticket != ''",  # noqa: S608
                chunk,
            )
            found.update({r[0]: r[1] for r in rows})
        return found

    # -- the secret inside issued external keys ---------------------------------------------

    def key_secret(self) -> bytes:
        """Return this installation's random external-key secret, creating it on first use."""
        stored = self.get_meta("external_key_secret")
        if stored:
            return bytes.fromhex(stored)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('external_key_secret', ?)",
                (secrets.token_hex(32),),
            )
            row = db.execute("SELECT value FROM meta WHERE key='external_key_secret'").fetchone()
        return bytes.fromhex(row[0])

    # -- retention --------------------------------------------------------------------------

    def prune_events(self, before: float, *, batch: int = 5000) -> int:
        """Delete events received before ``before``, in short transactions; return how many."""
        removed = 0
        while True:
            with self._tx() as db:
                n = db.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at<?"
                    " LIMIT ?)",
                    (before, batch),
                ).rowcount
            removed += n
            if n < batch:
                return removed
