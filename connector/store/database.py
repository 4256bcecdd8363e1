"""Where the store lives: a location picks the backend; short transactions; migrations at open.

A location is a file path or ``sqlite:///PATH`` (SQLite, the embedded default) or
``postgresql://…`` (PostgreSQL, shared by several nodes). The rooms write their SQL once, with
``?`` placeholders, in the part of SQL both engines speak (``INSERT … ON CONFLICT``, subqueries
with ``LIMIT``); the two places where the engines differ are the engine's ``lock`` and
``skip_locked`` suffixes, which PostgreSQL needs to lock the rows a transaction reads before it
writes them (SQLite's ``BEGIN IMMEDIATE`` already serialises every writer).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from connector.errors import ConfigError, ConfigProblem, StoreUnavailable
from connector.store import schema

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Location:
    """A parsed store location."""

    kind: str  # "sqlite" | "postgresql"
    target: str  # the file path, or the PostgreSQL URL

    def display(self) -> str:
        """Return the location with any password replaced, for logs and messages."""
        if self.kind != "postgresql":
            return self.target
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))


def parse_location(value: str | os.PathLike[str]) -> Location:
    """Read a path, ``sqlite:///PATH`` or ``postgresql://…`` as a store location."""
    text = os.fspath(value)
    if text.startswith(POSTGRES_SCHEMES):
        return Location("postgresql", text)
    if text.startswith("sqlite:///"):
        # As SQLAlchemy reads it: sqlite:///relative.db, sqlite:////absolute/path.db.
        return Location("sqlite", text[len("sqlite:///") :] or ":memory:")
    if "://" in text:
        raise ConfigError(
            ConfigProblem(
                "<store>", "store.url", "a path, sqlite:///PATH or postgresql://…", text[:60]
            )
        )
    return Location("sqlite", text)


class Engine(Protocol):
    """One backend: connections, transactions, and the SQL words it needs beyond the shared."""

    kind: str
    lock: str  # appended to a SELECT whose rows the transaction then writes
    skip_locked: str  # the same, passing over rows another transaction holds

    def transaction(self) -> AbstractContextManager[Any]:
        """Run one short write transaction."""
        ...

    def reading(self) -> AbstractContextManager[Any]:
        """Hand out a connection for reads outside a transaction."""
        ...

    def snapshot(self) -> AbstractContextManager[Any]:
        """Read a consistent view of the database without blocking writers."""
        ...

    def serialise_migrations(self, db: Any) -> None:
        """Make concurrent migrations of one database wait for each other."""
        ...

    def close(self) -> None:
        """Close this process's connections."""
        ...


def open_engine(location: Location, *, synchronous: str, pool_size: int) -> Engine:
    """Build the engine for a location (PostgreSQL's driver loads only when it is used)."""
    if location.kind == "postgresql":
        from connector.store.postgres import PostgresEngine

        return PostgresEngine(location.target, pool_size=pool_size)
    from connector.store.sqlite import SQLiteEngine

    return SQLiteEngine(location.target, synchronous=synchronous)


class Database:
    """Open (and migrate) the store; hand out transactions and read connections."""

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        pool_size: int = 8,
        migrate: bool | None = True,
    ) -> None:
        self.location = parse_location(location)
        self.path = self.location.target  # the file for SQLite; kept for older callers
        self.engine = open_engine(self.location, synchronous=synchronous, pool_size=pool_size)
        try:
            if migrate:
                self.migrate()
            elif migrate is not None:  # None: open as it is (the migrate command looks first)
                self.check_version()
        except BaseException:
            self.engine.close()
            raise

    @property
    def kind(self) -> str:
        """Name the backend: sqlite or postgresql."""
        return self.engine.kind

    def _tx(self) -> AbstractContextManager[Any]:
        """Run a short write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN)."""
        return self.engine.transaction()

    def _read(self) -> AbstractContextManager[Any]:
        """Hand out a connection for reads."""
        return self.engine.reading()

    def schema_version(self) -> int:
        """Return the store's schema version (0 for an empty database)."""
        with self._read() as db:
            return _version(db, missing_ok=True)

    def migrate(self) -> tuple[int, int]:
        """Bring the store to SCHEMA_VERSION; return the versions before and after."""
        migrations = (
            schema.POSTGRES_MIGRATIONS if self.kind == "postgresql" else schema.SQLITE_MIGRATIONS
        )
        with self._tx() as db:
            self.engine.serialise_migrations(db)
            db.execute(schema.META)
            before = _version(db)
            if before > schema.SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"{self.location.display()} has schema version {before}; this connector"
                    f" knows {schema.SCHEMA_VERSION}",
                    permanent=True,
                )
            todo = schema.pending(migrations, before)
            for version in todo:
                schema.apply(db, migrations[version])
            if todo or before == 0:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                    (str(schema.SCHEMA_VERSION),),
                )
        return before, schema.SCHEMA_VERSION

    def check_version(self) -> None:
        """Refuse a store whose schema is not this connector's (store.migrate_on_start off)."""
        version = self.schema_version()
        if version != schema.SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.location.display()} has schema version {version}; this connector needs"
                f" {schema.SCHEMA_VERSION}: run `connector store migrate`",
                permanent=True,
            )

    def close(self) -> None:
        """Close this process's connections (SQLite: this thread's)."""
        self.engine.close()

    def ping(self) -> None:
        """Check the database answers."""
        with self._read() as db:
            db.execute("SELECT 1").fetchone()


def _version(db: Any, *, missing_ok: bool = False) -> int:
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except Exception:
        if missing_ok:  # no meta table yet: an empty database
            return 0
        raise
    return int(row["value"]) if row else 0


def chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """Split a list for IN (…) lists that stay under every engine's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """Return ``n`` comma-separated placeholders."""
    return ",".join("?" * n)
