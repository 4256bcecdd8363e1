"""Move an installation from one store to another (SQLite to PostgreSQL, or back).

The source is read in one consistent snapshot that does not stop its writers, so a running
installation keeps taking events while it is copied. Rows are upserted into the target, so the
copy can run again: run it once while the old installation runs, stop the old installation, run
it again (only what changed moves for real), then start the nodes on the target. Events keep
their order and are deduplicated as the webhook does; jobs keep their state, attempts and
leases (a job running on the old installation comes back on the target when its lease lapses);
the ledger and the meta values (poller watermarks, the external-key secret) come along, so no
session is imported again and none is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.store.database import Database

BATCH = 1000

_EVENT = (
    "appliance",
    "dedupe_key",
    "lsid",
    "event",
    "timestamp",
    "appliance_id",
    "external_key",
    "payload",
    "status",
    "received_at",
)
_JOB = (
    "appliance",
    "lsid",
    "state",
    "reason",
    "not_before",
    "attempts",
    "generation",
    "lease_owner",
    "lease_until",
    "last_error",
    "external_key",
    "created_at",
    "updated_at",
    "queued_at",
    "done_at",
    "ticket",
    "queue",
)
_LEDGER = ("appliance", "lsid", "effect", "sys_id", "written_at")

# table → (columns, order, what a row already in the target does)
TABLES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "events": (_EVENT, "id", "ON CONFLICT (appliance, dedupe_key) DO NOTHING"),
    "jobs": (
        _JOB,
        "appliance, lsid",
        "ON CONFLICT (appliance, lsid) DO UPDATE SET "
        + ", ".join(f"{c}=excluded.{c}" for c in _JOB[2:]),
    ),
    "ledger": (
        _LEDGER,
        "appliance, lsid, effect",
        "ON CONFLICT (appliance, lsid, effect) DO UPDATE SET sys_id=excluded.sys_id,"
        " written_at=excluded.written_at",
    ),
    "meta": (("key", "value"), "key", "ON CONFLICT (key) DO UPDATE SET value=excluded.value"),
}


def copy_store(
    source: Database, target: Database, *, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy events, jobs, ledger and meta from ``source`` into ``target``; return rows per table."""
    copied: dict[str, int] = {}
    with source.engine.snapshot() as src:
        for table, (columns, order, conflict) in TABLES.items():
            names = ", ".join(columns)
            where = " WHERE key != 'schema_version'" if table == "meta" else ""
            cur = src.execute(f"SELECT {names} FROM {table}{where} ORDER BY {order}")  # noqa: S608
            insert = (
                f"INSERT INTO {table} ({names}) VALUES ({','.join('?' * len(columns))}) {conflict}"  # noqa: S608
            )
            count = 0
            while True:
                rows = cur.fetchmany(BATCH)
                if not rows:
                    break
                with target._tx() as db:
                    db.executemany(insert, [tuple(r[c] for c in columns) for r in rows])
                count += len(rows)
                if progress:
                    progress(table, count)
            copied[table] = count
    return copied
