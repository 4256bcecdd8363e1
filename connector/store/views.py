"""What the store reads back: the ledger of writes, job listings and counts, meta values."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from connector.store.database import Database
from connector.store.models import JobRow


class Views(Database):
    """Read the ledger, list and count jobs, keep small meta values (watermark, secret)."""

    def ledger(self, lsids: Iterable[str]) -> dict[str, dict[str, str]]:
        """Return what was already written per session: effect → sys_id."""
        lsids = list(lsids)
        out: dict[str, dict[str, str]] = {lsid: {} for lsid in lsids}
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT lsid, effect, sys_id FROM ledger WHERE lsid IN ({marks})",  # noqa: S608
                chunk,
            ):
                out[row["lsid"]][row["effect"]] = row["sys_id"]
        return out

    def record_effects(self, effects: Iterable[tuple[str, str, str]]) -> None:
        """Remember writes that ServiceNow confirmed: (lsid, effect, sys_id)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO ledger (lsid, effect, sys_id, written_at) VALUES (?,?,?,?)",
                [(lsid, effect, sys_id, now) for lsid, effect, sys_id in effects],
            )

    # -- operator views --------------------------------------------------------------------

    def jobs(self, state: str | None = None, limit: int = 1000) -> list[JobRow]:
        """List jobs, newest first, optionally of one state."""
        sql = (
            "SELECT lsid, state, reason, attempts, last_error, external_key, updated_at, not_before"
            " FROM jobs"
        )
        args: tuple[Any, ...] = ()
        if state:
            sql += " WHERE state=?"
            args = (state,)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        rows = self._conn().execute(sql, (*args, limit)).fetchall()
        return [JobRow(**dict(r)) for r in rows]

    def job_state(self, lsid: str) -> str | None:
        """Return one job's state, or None when unknown."""
        row = self._conn().execute("SELECT state FROM jobs WHERE lsid=?", (lsid,)).fetchone()
        return row[0] if row else None

    def known_lsids(self, lsids: Iterable[str], states: tuple[str, ...] = ("done",)) -> set[str]:
        """Return which of ``lsids`` have a job in one of ``states``."""
        lsids = list(lsids)
        found: set[str] = set()
        conn = self._conn()
        state_marks = ",".join("?" * len(states))
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT lsid FROM jobs WHERE lsid IN ({marks}) AND state IN ({state_marks})",  # noqa: S608
                (*chunk, *states),
            )
            found.update(r[0] for r in rows)
        return found

    def counts(self) -> dict[str, int]:
        """Count jobs per state."""
        rows = self._conn().execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        counts = {s: 0 for s in ("pending", "running", "waiting", "done", "dead", "unmatched")}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    def event_counts(self) -> dict[str, int]:
        """Count stored events per status."""
        rows = (
            self._conn().execute("SELECT status, COUNT(*) FROM events GROUP BY status").fetchall()
        )
        return {r[0]: r[1] for r in rows}

    def oldest_pending(self) -> float | None:
        """Return when the longest-waiting pending or running job was queued."""
        row = (
            self._conn()
            .execute("SELECT MIN(queued_at) FROM jobs WHERE state IN ('pending', 'running')")
            .fetchone()
        )
        return row[0]

    def next_due(self) -> float | None:
        """Return the earliest not_before among pending jobs."""
        row = (
            self._conn()
            .execute("SELECT MIN(not_before) FROM jobs WHERE state='pending'")
            .fetchone()
        )
        return row[0]

    # -- meta (watermark, poll status) -----------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """Read one meta value."""
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        """Write meta values in one transaction."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items())
            )

    def attached_tickets(self, lsids: Iterable[str]) -> dict[str, str]:
        """Return the tickets administrators attached, for those of ``lsids`` that have one."""
        lsids = list(lsids)
        found: dict[str, str] = {}
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT lsid, ticket FROM jobs WHERE lsid IN ({marks}) AND ticket != ''",  # noqa: S608
                chunk,
            )
            found.update({r[0]: r[1] for r in rows})
        return found

    def key_secret(self) -> bytes:
        """Return this installation's random external-key secret, creating it on first use."""
        stored = self.get_meta("external_key_secret")
        if stored:
            return bytes.fromhex(stored)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('external_key_secret', ?)",
                (secrets.token_hex(32),),
            )
            row = db.execute("SELECT value FROM meta WHERE key='external_key_secret'").fetchone()
        return bytes.fromhex(row[0])
