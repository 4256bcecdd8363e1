"""The PostgreSQL engine: psycopg 3 with its connection pool, shared by every node.

Connections are autocommit for reads; each write is one ``BEGIN … COMMIT`` at READ COMMITTED,
and a room that reads rows before it writes them locks them (``FOR UPDATE``; claims pass over
rows another node holds with ``SKIP LOCKED``). Placeholders are translated once per statement
from the rooms' ``?`` to psycopg's ``%s`` (a one-line rewrite instead of a query builder).
A dropped connection or a server that does not answer becomes ``StoreUnavailable``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from connector.errors import StoreUnavailable

MIGRATION_LOCK = 0x626F6D676172  # any constant: pg_advisory_xact_lock's key for migrations


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """Turn the rooms' qmark placeholders into psycopg's (no statement holds a literal ? or %)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConn:
    """A pooled connection that takes the rooms' SQL as written."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """Run one statement; return its cursor."""
        return self.conn.execute(translate(sql), tuple(args))

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> Any:
        """Run one statement per parameter row."""
        cur = self.conn.cursor()
        cur.executemany(translate(sql), list(seq))
        return cur


# Pools a forked child inherited: never used or closed there (closing would end the parent's
# sessions on the server), only kept from the garbage collector.
_INHERITED: list[ConnectionPool[Any]] = []


class PostgresEngine:
    """A pool of connections to one PostgreSQL database."""

    kind = "postgresql"
    lock = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, pool_size: int = 8, timeout: float = 5.0) -> None:
        self.url = url
        self.pool_size = pool_size
        self.timeout = timeout
        self._pool: ConnectionPool[Any] | None = None
        self._pid = 0
        self._guard = threading.Lock()

    def pool(self) -> ConnectionPool[Any]:
        """Return this process's pool, opening it on first use (and again after a fork)."""
        with self._guard:
            if self._pool is not None and self._pid != os.getpid():
                _INHERITED.append(self._pool)
                self._pool = None
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 5},
                    min_size=1,
                    max_size=self.pool_size,
                    # How long a caller waits for a connection before StoreUnavailable.
                    timeout=self.timeout,
                    # A connection the server dropped (a restart) is replaced, not handed out.
                    check=ConnectionPool.check_connection,
                    # Reconnection backs off exponentially with no cap short of this, so a long
                    # outage would delay the recovery as long again: give up early instead, and
                    # the next caller starts a fresh attempt at once.
                    reconnect_timeout=10.0,
                    name="connector-store",
                    open=True,
                )
                self._pid = os.getpid()
            return self._pool

    @contextmanager
    def transaction(self) -> Iterator[PgConn]:
        """Run one short write transaction on a pooled connection."""
        try:
            with self.pool().connection() as conn, conn.transaction():
                yield PgConn(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    @contextmanager
    def reading(self) -> Iterator[PgConn]:
        """Hand out a pooled connection for reads (autocommit)."""
        try:
            with self.pool().connection() as conn:
                yield PgConn(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    @contextmanager
    def snapshot(self) -> Iterator[PgConn]:
        """Read a consistent view of the whole database (REPEATABLE READ, read only)."""
        try:
            with self.pool().connection() as conn:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    yield PgConn(conn)
                finally:
                    conn.execute("ROLLBACK")
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise StoreUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    def serialise_migrations(self, db: Any) -> None:
        """Hold a transaction-scoped advisory lock, so two nodes starting at once migrate once."""
        db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))

    def close(self) -> None:
        """Close this process's pool."""
        with self._guard:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None
