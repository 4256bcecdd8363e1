"""Schema version 4: one job machinery, several queues (the session import's and 3PA's).

Run on both backends (the ``backend`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import sqlite3

from connector.store import SCHEMA_VERSION, Store, claim_token
from connector.store import schema as store_schema

# The version 2 DDL as shipped before appliance keys and the queue column, to prove both
# migrations one after the other (2 → 3 → 4) on a file an old connector left behind.
SCHEMA_V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE, lsid TEXT NOT NULL,
    event TEXT NOT NULL, timestamp INTEGER NOT NULL, appliance_id TEXT NOT NULL,
    external_key TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX events_lsid ON events (lsid);
CREATE INDEX events_received ON events (received_at);
CREATE TABLE jobs (
    lsid TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL, not_before REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT, lease_until REAL, last_error TEXT,
    external_key TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, updated_at REAL NOT NULL,
    queued_at REAL NOT NULL, done_at REAL, ticket TEXT NOT NULL DEFAULT ''
);
CREATE INDEX jobs_ready ON jobs (state, not_before);
CREATE TABLE ledger (
    lsid TEXT NOT NULL, effect TEXT NOT NULL, sys_id TEXT NOT NULL, written_at REAL NOT NULL,
    PRIMARY KEY (lsid, effect)
);
INSERT INTO meta (key, value) VALUES ('schema_version', '2');
INSERT INTO jobs (lsid, state, reason, not_before, created_at, updated_at, queued_at)
    VALUES ('s1', 'pending', 'support_conference_end', 1, 1, 1, 1);
"""


def _job_indexes(store: Store) -> set[str]:
    with store._read() as db:
        if store.kind == "sqlite":
            return {r["name"] for r in db.execute("PRAGMA index_list(jobs)")}
        rows = db.execute("SELECT indexname FROM pg_indexes WHERE tablename='jobs'").fetchall()
        return {r["indexname"] for r in rows}


def test_version_2_file_gets_the_queue_column_and_keeps_its_jobs(tmp_path):
    """A v2 SQLite file is migrated in place: its jobs are session imports, claimable as such."""
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_V2)
    store = Store(path)
    assert SCHEMA_VERSION == 4
    assert store.get_meta("schema_version") == "4"
    assert "jobs_queue_ready" in _job_indexes(store)
    assert store.claim(claim_token(), 10, 60, queue="3pa") == []
    (job,) = store.claim(claim_token(), 10, 60)
    assert job.lsid == "s1"
    store.close()
    Store(path).close()  # opening again is a no-op


def test_version_3_store_gets_the_queue_column_and_keeps_its_jobs(open_store, location, backend):
    """A v3 store (either backend) is migrated to 4; its jobs stay session imports."""
    migrations = (
        store_schema.POSTGRES_MIGRATIONS
        if backend == "postgresql"
        else store_schema.SQLITE_MIGRATIONS
    )
    old = open_store(migrate=None)  # as it is: empty
    with old._tx() as db:
        db.execute(store_schema.META)
        for version in sorted(v for v in migrations if v <= 3):
            store_schema.apply(db, migrations[version])
        db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '3')")
        db.execute(
            "INSERT INTO jobs (appliance, lsid, state, reason, not_before, created_at,"
            " updated_at, queued_at) VALUES ('prod', 's1', 'pending', 'poll', 1, 1, 1, 1)"
        )
    assert old.schema_version() == 3
    store = open_store()
    assert store.schema_version() == 4
    assert "jobs_queue_ready" in _job_indexes(store)
    assert store.counts(appliance="prod")["pending"] == 1
    assert store.claim(claim_token(), 10, 60, queue="3pa") == []
    (job,) = store.claim(claim_token(), 10, 60)
    assert (job.appliance, job.lsid) == ("prod", "s1")
    assert store.migrate() == (4, 4)  # nothing left to do


def test_queues_never_claim_each_others_jobs(open_store):
    """The session importer's claim (default queue) never takes a 3PA job, nor the reverse."""
    store = open_store()
    store.queue_sessions(["a" * 32], "poll")
    store.queue_sessions(["3pa:" + "b" * 32], "api", queue="3pa")
    assert [j.lsid for j in store.claim(claim_token(), 10, 60)] == ["a" * 32]
    assert [j.lsid for j in store.claim(claim_token(), 10, 60, queue="3pa")] == ["3pa:" + "b" * 32]


def test_operator_views_are_per_queue(open_store):
    """Counts, listings, dead-letter retries and the oldest pending job see one queue only."""
    store = open_store()
    store.queue_sessions(["a" * 32], "poll")
    store.queue_sessions(["3pa:x", "3pa:y"], "api", queue="3pa")
    token = claim_token()
    (job,) = store.claim(token, 1, 60, queue="3pa")
    assert store.dead_letter(job, token, "Rejected: no such application")
    assert store.counts()["pending"] == 1
    assert store.counts()["dead"] == 0
    assert store.counts(queue="3pa") == {**store.counts(queue="none"), "pending": 1, "dead": 1}
    assert [r.lsid for r in store.jobs("dead")] == []
    assert [r.lsid for r in store.jobs("dead", queue="3pa")] == [job.lsid]
    row = store.job(job.lsid)
    assert row is not None and row.state == "dead" and row.queue == "3pa"
    assert store.job("3pa:unknown") is None
    assert store.retry_dead() == 0  # the sessions' --retry-all leaves 3PA's dead letters alone
    assert store.retry_dead(queue="3pa") == 1
    assert store.oldest_pending() is not None
    assert store.next_due(queue="3pa") is not None
    assert set(store.counts_by_appliance()) == {""}
    assert store.counts_by_appliance()[""]["pending"] == 1  # the session only


def test_adopting_unnamed_rows_leaves_other_queues_where_they_are(open_store):
    """The first appliance adopts unnamed session rows, never 3PA's jobs or their ledger rows."""
    store = open_store()
    store.queue_sessions(["a" * 32], "poll")
    store.record_effects([("a" * 32, "session", "s1")])
    store.queue_sessions(["3pa:x"], "api", queue="3pa")
    store.record_effects([("3pa:x", "user_created", "uid=x,ou=people")])
    assert store.adopt_unnamed("prod") == 1
    assert store.job_state("a" * 32, appliance="prod") == "pending"
    assert store.job_state("3pa:x") == "pending"
    assert store.ledger(["3pa:x"]) == {"3pa:x": {"user_created": "uid=x,ou=people"}}
    assert store.ledger(["a" * 32], appliance="prod") == {"a" * 32: {"session": "s1"}}
