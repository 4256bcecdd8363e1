"""The store's tables and its versioned migrations, per backend (each runs once, in a transaction).

Versions: 1, the first; 2 adds ``jobs.ticket`` (the ticket an administrator attached an unmatched
session to) and an index on ``events.received_at`` for pruning; 3 names the appliance in every
key (``events``, ``jobs`` and ``ledger`` are keyed by appliance + lsid) and adds ``locks`` (leased
rows, e.g. the poller's); 4 adds ``jobs.queue`` (one job machinery, several queues: 'sessions' is
the session import's, '3pa' Third Party Access's, whose keys are namespaced, e.g.
``3pa:<sys_id>``) with an index for claiming per queue. PostgreSQL support starts at version 3,
so its first migration creates everything. A migration is a list of statements, or a function
for what SQL alone cannot decide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

SCHEMA_VERSION = 4

Step = str | Callable[[Any], None]

_SQLITE_V1: tuple[Step, ...] = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE,"
    " lsid TEXT NOT NULL, event TEXT NOT NULL, timestamp INTEGER NOT NULL,"
    " appliance_id TEXT NOT NULL, external_key TEXT NOT NULL, payload TEXT NOT NULL,"
    " status TEXT NOT NULL, received_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_lsid ON events (lsid)",
    "CREATE TABLE IF NOT EXISTS jobs (lsid TEXT PRIMARY KEY, state TEXT NOT NULL,"
    " reason TEXT NOT NULL, not_before REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " generation INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_until REAL,"
    " last_error TEXT, external_key TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL,"
    " updated_at REAL NOT NULL, queued_at REAL NOT NULL, done_at REAL)",
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, not_before)",
    "CREATE TABLE IF NOT EXISTS ledger (lsid TEXT NOT NULL, effect TEXT NOT NULL,"
    " sys_id TEXT NOT NULL, written_at REAL NOT NULL, PRIMARY KEY (lsid, effect))",
)


def _sqlite_v2(db: Any) -> None:
    columns = {r["name"] for r in db.execute("PRAGMA table_info(jobs)")}
    if "ticket" not in columns:
        db.execute("ALTER TABLE jobs ADD COLUMN ticket TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX IF NOT EXISTS events_received ON events (received_at)")


# The tables of version 3, in each backend's words (REAL / DOUBLE PRECISION, id columns).
def _tables(real: str, serial: str, big: str) -> tuple[str, ...]:
    return (
        f"CREATE TABLE events (id {serial}, appliance TEXT NOT NULL DEFAULT '',"
        " dedupe_key TEXT NOT NULL, lsid TEXT NOT NULL, event TEXT NOT NULL,"
        f" timestamp {big} NOT NULL, appliance_id TEXT NOT NULL, external_key TEXT NOT NULL,"
        f" payload TEXT NOT NULL, status TEXT NOT NULL, received_at {real} NOT NULL,"
        " UNIQUE (appliance, dedupe_key))",
        "CREATE TABLE jobs (appliance TEXT NOT NULL DEFAULT '', lsid TEXT NOT NULL,"
        f" state TEXT NOT NULL, reason TEXT NOT NULL, not_before {real} NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,"
        f" lease_owner TEXT, lease_until {real}, last_error TEXT,"
        f" external_key TEXT NOT NULL DEFAULT '', created_at {real} NOT NULL,"
        f" updated_at {real} NOT NULL, queued_at {real} NOT NULL, done_at {real},"
        " ticket TEXT NOT NULL DEFAULT '', PRIMARY KEY (appliance, lsid))",
        "CREATE TABLE ledger (appliance TEXT NOT NULL DEFAULT '', lsid TEXT NOT NULL,"
        f" effect TEXT NOT NULL, sys_id TEXT NOT NULL, written_at {real} NOT NULL,"
        " PRIMARY KEY (appliance, lsid, effect))",
    )


_INDEXES = (
    "CREATE INDEX events_lsid ON events (appliance, lsid)",
    "CREATE INDEX events_received ON events (received_at)",
    "CREATE INDEX jobs_ready ON jobs (state, not_before)",
    "CREATE INDEX jobs_lsid ON jobs (lsid)",
)
_LOCKS = (
    "CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " until {real} NOT NULL)"
)

_EVENT_COLUMNS = (
    "id, dedupe_key, lsid, event, timestamp, appliance_id, external_key, payload, status,"
    " received_at"
)
_JOB_COLUMNS = (
    "lsid, state, reason, not_before, attempts, generation, lease_owner, lease_until,"
    " last_error, external_key, created_at, updated_at, queued_at, done_at, ticket"
)


def _sqlite_v3(db: Any) -> None:
    # SQLite cannot change a key in place: build the keyed tables anew and move the rows over.
    for name in ("events", "jobs", "ledger"):
        db.execute(f"ALTER TABLE {name} RENAME TO {name}_v2")
    for statement in _tables("REAL", "INTEGER PRIMARY KEY", "INTEGER"):
        db.execute(statement)
    db.execute(
        f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM events_v2"  # noqa: S608
        " ORDER BY id"
    )
    db.execute(f"INSERT INTO jobs ({_JOB_COLUMNS}) SELECT {_JOB_COLUMNS} FROM jobs_v2")  # noqa: S608
    db.execute(
        "INSERT INTO ledger (lsid, effect, sys_id, written_at)"
        " SELECT lsid, effect, sys_id, written_at FROM ledger_v2"
    )
    for name in ("events", "jobs", "ledger"):
        db.execute(f"DROP TABLE {name}_v2")  # its indexes go with it
    for statement in _INDEXES:
        db.execute(statement)
    db.execute(_LOCKS.format(real="REAL"))


# Version 4, the same on both backends: every job that exists is a session import.
_QUEUE_INDEX = "CREATE INDEX IF NOT EXISTS jobs_queue_ready ON jobs (queue, state, not_before)"


def _sqlite_v4(db: Any) -> None:
    columns = {r["name"] for r in db.execute("PRAGMA table_info(jobs)")}
    if "queue" not in columns:  # SQLite has no ADD COLUMN IF NOT EXISTS
        db.execute("ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'sessions'")
    db.execute(_QUEUE_INDEX)


SQLITE_MIGRATIONS: dict[int, Sequence[Step]] = {
    1: _SQLITE_V1,
    2: (_sqlite_v2,),
    3: (_sqlite_v3,),
    4: (_sqlite_v4,),
}

POSTGRES_MIGRATIONS: dict[int, Sequence[Step]] = {
    3: (
        *_tables(
            "DOUBLE PRECISION", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT"
        ),
        *_INDEXES,
        _LOCKS.format(real="DOUBLE PRECISION"),
    ),
    4: (
        "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS queue TEXT NOT NULL DEFAULT 'sessions'",
        _QUEUE_INDEX,
    ),
}

META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def pending(migrations: dict[int, Sequence[Step]], current: int) -> list[int]:
    """Return the versions still to apply to a store at ``current``, in order."""
    return sorted(v for v in migrations if current < v <= SCHEMA_VERSION)


def apply(db: Any, steps: Sequence[Step]) -> None:
    """Run one migration's steps on an open transaction."""
    for step in steps:
        if callable(step):
            step(db)
        else:
            db.execute(step)
