"""Unmatched sessions, attach-later, event retention, the key secret, and schema migrations."""

from __future__ import annotations

import sqlite3
import time

import pytest

from connector.bomgar.models import OutboundEvent
from connector.errors import StoreUnavailable
from connector.store import SCHEMA_VERSION, Store, owner_id

LSID = "a" * 32

# The version 1 DDL as shipped before schema version 2, to prove the migration.
SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, lsid TEXT NOT NULL,
    event TEXT NOT NULL, timestamp INTEGER NOT NULL, appliance_id TEXT NOT NULL,
    external_key TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX events_lsid ON events (lsid);
CREATE TABLE jobs (
    lsid TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL, not_before REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT, lease_until REAL, last_error TEXT,
    external_key TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    queued_at REAL NOT NULL, done_at REAL
);
CREATE INDEX jobs_ready ON jobs (state, not_before);
CREATE TABLE ledger (
    lsid TEXT NOT NULL, effect TEXT NOT NULL, sys_id TEXT NOT NULL, written_at REAL NOT NULL,
    PRIMARY KEY (lsid, effect)
);
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
INSERT INTO jobs (lsid, state, reason, not_before, external_key, created_at, updated_at,
                  queued_at, done_at)
    VALUES ('LSID', 'done', 'support_conference_end', 1, 'INC0000001', 1, 1, 1, 2);
""".replace("LSID", LSID)


def ev(lsid: str, ts: int = 100) -> OutboundEvent:
    return OutboundEvent(event="support_conference_end", version="3", timestamp=ts, lsid=lsid)


def unmatched_job(store: Store, lsid: str = LSID) -> None:
    store.queue_sessions([lsid], "test")
    (job,) = store.claim(owner_id(), 1, 300)
    assert store.mark_unmatched(job, owner_id(), "external key 'INC0000002' was not issued")


def test_version_1_store_is_migrated_in_place(tmp_path):
    """Opening a version 1 file adds jobs.ticket, the indexes and appliance keys, keeping rows."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_V1)
        db.execute(
            "INSERT INTO events (dedupe_key, lsid, event, timestamp, appliance_id, external_key,"
            " payload, status, received_at) VALUES ('k', ?, 'support_conference_end', 1, 'ap',"
            " '', '{}', 'queued', 1)",
            (LSID,),
        )
        db.execute("INSERT INTO ledger VALUES (?, 'session', 'sys1', 1)", (LSID,))
    store = Store(path)
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert store.job_state(LSID) == "done"
    assert store.appliance_id(LSID) == "ap"
    assert store.ledger([LSID]) == {LSID: {"session": "sys1"}}
    with sqlite3.connect(path) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
        indexes = {r[1] for r in db.execute("PRAGMA index_list(events)")}
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"ticket", "appliance"} <= columns
    assert {"events_received", "events_lsid"} <= indexes
    assert "locks" in tables and not any(t.endswith("_v2") for t in tables)
    assert store.record_event(ev(LSID, ts=1), known=True) is True  # new key: appliance + key
    Store(path)  # opening again is a no-op


def test_newer_store_is_refused(open_store, location):
    """A database from a newer connector is not silently used."""
    store = open_store()
    store.set_meta({"schema_version": str(SCHEMA_VERSION + 1)})
    with pytest.raises(StoreUnavailable, match="schema version"):
        Store(location)


def test_unmatched_job_is_listed_counted_and_not_claimed(open_store):
    """An unmatched job keeps its reason, shows in counts and is never claimed again by itself."""
    store = open_store()
    unmatched_job(store)
    assert store.job_state(LSID) == "unmatched"
    assert store.counts()["unmatched"] == 1
    (row,) = store.jobs("unmatched")
    assert "INC0000002" in row.last_error
    assert store.claim(owner_id(), 10, 300) == []


def test_attach_records_the_ticket_and_requeues(open_store):
    """attach stores the admin's ticket and makes the job claimable at once."""
    store = open_store()
    unmatched_job(store)
    assert store.attach(LSID, "INC0000001") is True
    assert store.attached_tickets([LSID, "b" * 32]) == {LSID: "INC0000001"}
    (job,) = store.claim(owner_id(), 1, 300)
    assert job.lsid == LSID and job.attempts == 0
    assert store.attach(LSID, "INC0000001") is False  # only unmatched jobs can be attached


def test_dismiss_closes_without_a_ticket(open_store):
    """dismiss marks an unmatched job done with a note; other states are left alone."""
    store = open_store()
    unmatched_job(store)
    assert store.dismiss(LSID, "dismissed") is True
    assert store.job_state(LSID) == "done"
    assert store.dismiss(LSID, "dismissed") is False


def test_new_event_requeues_an_unmatched_session(open_store):
    """A later trigger (a survey) re-decides the session rather than being lost."""
    store = open_store()
    unmatched_job(store)
    store.record_event(ev(LSID, ts=200), known=True)
    assert store.job_state(LSID) == "pending"


def test_prune_events_deletes_only_old_ones(open_store):
    """Events received before the cut-off go, in batches; newer ones and the jobs stay."""
    store = open_store()
    now = time.time()
    for n in range(25):
        store.record_event(ev(f"{n:032x}"), known=True, now=now - 40 * 86400)
    store.record_event(ev("f" * 32), known=True, now=now)
    assert store.prune_events(now - 30 * 86400, batch=10) == 25
    assert store.event_counts() == {"queued": 1}
    assert store.counts()["pending"] == 26


def test_key_secret_is_created_once_and_shared(open_store, tmp_path):
    """The generated external-key secret is random, 32 bytes, and the same for every process."""
    first = open_store().key_secret()
    assert len(first) == 32
    assert open_store().key_secret() == first
    assert open_store(tmp_path / "other.db").key_secret() != first
