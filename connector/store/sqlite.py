"""The SQLite engine: one file, WAL, a connection per thread, short BEGIN IMMEDIATE transactions."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SQLiteEngine:
    """Connections to one SQLite file; every writer takes the write lock up front."""

    kind = "sqlite"
    lock = ""  # BEGIN IMMEDIATE already holds the whole database for the transaction
    skip_locked = ""

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

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
    def transaction(self) -> Iterator[Any]:
        """Run a short write transaction (BEGIN IMMEDIATE takes the write lock up front)."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """Hand out this thread's connection (autocommit: each read sees the latest commit)."""
        yield self._conn()

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        """Read a consistent view without holding the write lock (WAL keeps writers going)."""
        db = self._conn()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("ROLLBACK")

    def serialise_migrations(self, db: Any) -> None:
        """Nothing to do: BEGIN IMMEDIATE already keeps a second migration waiting."""

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
