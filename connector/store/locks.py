"""Leased rows: a named lock one process holds for a while, on every node, on either backend.

The poller takes ``poller:<appliance>`` before it lists a window, so two nodes never poll one
appliance at once. A lock is a row with its holder and an expiry: a holder that dies stops
renewing and the lock lapses; nothing depends on seeing another node's processes.
"""

from __future__ import annotations

import time

from connector.store.database import Database


class Locks(Database):
    """Take, renew and release leased locks."""

    def try_lock(self, name: str, owner: str, seconds: float, *, now: float | None = None) -> bool:
        """Take (or renew) ``name`` for ``owner`` for ``seconds``; False while another holds it."""
        now = time.time() if now is None else now
        with self._tx() as db:
            return (
                db.execute(
                    "INSERT INTO locks (name, owner, until) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET owner=excluded.owner, until=excluded.until"
                    " WHERE locks.until < ? OR locks.owner = excluded.owner",
                    (name, owner, now + seconds, now),
                ).rowcount
                == 1
            )

    def release_lock(self, name: str, owner: str) -> bool:
        """Give ``name`` up if ``owner`` still holds it."""
        with self._tx() as db:
            return (
                db.execute("DELETE FROM locks WHERE name=? AND owner=?", (name, owner)).rowcount
                == 1
            )
