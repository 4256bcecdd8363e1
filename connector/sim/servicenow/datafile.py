"""SQLite write-through of the emulated instance: records, attachment bytes and number counters."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records (sys_id TEXT PRIMARY KEY, tbl TEXT NOT NULL,"
    " data TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS files (sys_id TEXT PRIMARY KEY, data BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS counters (tbl TEXT PRIMARY KEY, next INTEGER NOT NULL);"
)


class DataFile:
    """One SQLite file mirroring the store: each record as JSON, files as blobs, counters."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def has_records(self) -> bool:
        """Tell whether the file holds any record (else the store starts from its seed)."""
        return self.db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None

    def records(self) -> Iterator[tuple[str, str, dict[str, str]]]:
        """Yield every stored record as (sys_id, table, values)."""
        for sys_id, tbl, data in self.db.execute("SELECT sys_id, tbl, data FROM records"):
            yield sys_id, tbl, json.loads(data)

    def files(self) -> Iterator[tuple[str, bytes]]:
        """Yield every stored attachment's bytes by sys_id."""
        for sys_id, blob in self.db.execute("SELECT sys_id, data FROM files"):
            yield sys_id, bytes(blob)

    def counters(self) -> dict[str, int]:
        """Return the number counters per table."""
        return dict(self.db.execute("SELECT tbl, next FROM counters").fetchall())

    def clear(self) -> None:
        """Forget everything, in one transaction."""
        self.db.executescript(
            "BEGIN; DELETE FROM records; DELETE FROM files; DELETE FROM counters; COMMIT;"
        )

    def save_record(self, sys_id: str, table: str, row: dict[str, str]) -> None:
        """Write one record (replacing what the file held for it)."""
        self.db.execute(
            "INSERT OR REPLACE INTO records (sys_id, tbl, data) VALUES (?, ?, ?)",
            (sys_id, table, json.dumps(row)),
        )

    def delete_record(self, sys_id: str) -> None:
        """Remove one record and the bytes stored under its sys_id."""
        self.db.execute("DELETE FROM records WHERE sys_id = ?", (sys_id,))
        self.db.execute("DELETE FROM files WHERE sys_id = ?", (sys_id,))

    def save_file(self, sys_id: str, data: bytes) -> None:
        """Write an attachment's bytes."""
        self.db.execute("INSERT OR REPLACE INTO files (sys_id, data) VALUES (?, ?)", (sys_id, data))

    def save_counters(self, counters: dict[str, int]) -> None:
        """Write the number counters."""
        self.db.executemany(
            "INSERT OR REPLACE INTO counters (tbl, next) VALUES (?, ?)", list(counters.items())
        )

    def close(self) -> None:
        """Close the file."""
        self.db.close()
