"""The store's tables and its versioned migrations (each runs once, inside a transaction)."""

from __future__ import annotations

import sqlite3

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


def _migrate_to_2(db: sqlite3.Connection) -> None:
    columns = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
    if "ticket" not in columns:
        db.execute("ALTER TABLE jobs ADD COLUMN ticket TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX IF NOT EXISTS events_received ON events (received_at)")


MIGRATIONS = {2: _migrate_to_2}


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a store from ``version`` to SCHEMA_VERSION inside the caller's transaction."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[target](db)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
