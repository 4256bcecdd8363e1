"""What the store reads back: the ledger of writes, job listings and counts, meta values.

Listings, counts and ages are of one job queue ('sessions' unless told), so the session
import's operators and gauges never see 3PA's jobs, nor the reverse.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from connector.store.database import Database, chunks, marks
from connector.store.models import SESSIONS, JobRow

STATES = ("pending", "running", "waiting", "done", "dead", "unmatched")
_ROW = (
    "lsid, state, reason, attempts, last_error, external_key, updated_at, not_before,"
    " appliance, queue"
)

# The poller's meta values, one of each per appliance.
WATERMARK = "poller.watermark"
LAST_POLL = "poller.last_success"


def appliance_key(name: str, appliance: str) -> str:
    """Name a per-appliance meta value (the unnamed appliance keeps the plain name)."""
    return f"{name}:{appliance}" if appliance else name


class Views(Database):
    """Read the ledger, list and count jobs, keep small meta values (watermark, secret)."""

    def ledger(self, lsids: Iterable[str], *, appliance: str = "") -> dict[str, dict[str, str]]:
        """Return what was already written per session: effect → sys_id."""
        lsids = list(lsids)
        out: dict[str, dict[str, str]] = {lsid: {} for lsid in lsids}
        with self._read() as db:
            for chunk in chunks(lsids):
                for row in db.execute(
                    "SELECT lsid, effect, sys_id FROM ledger WHERE appliance=?"  # noqa: S608
                    f" AND lsid IN ({marks(len(chunk))})",
                    (appliance, *chunk),
                ):
                    out[row["lsid"]][row["effect"]] = row["sys_id"]
        return out

    def record_effects(
        self, effects: Iterable[tuple[str, str, str]], *, appliance: str = ""
    ) -> None:
        """Remember writes that ServiceNow confirmed: (lsid, effect, sys_id)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT INTO ledger (appliance, lsid, effect, sys_id, written_at)"
                " VALUES (?,?,?,?,?) ON CONFLICT (appliance, lsid, effect)"
                " DO UPDATE SET sys_id=excluded.sys_id, written_at=excluded.written_at",
                [(appliance, lsid, effect, sys_id, now) for lsid, effect, sys_id in effects],
            )

    # -- operator views --------------------------------------------------------------------

    def jobs(
        self,
        state: str | None = None,
        limit: int = 1000,
        *,
        appliance: str | None = None,
        queue: str = SESSIONS,
    ) -> list[JobRow]:
        """List jobs of ``queue``, newest first, optionally of one state and one appliance."""
        sql = f"SELECT {_ROW} FROM jobs WHERE queue=?"  # noqa: S608
        args: list[Any] = [queue]
        if state:
            sql += " AND state=?"
            args.append(state)
        if appliance is not None:
            sql += " AND appliance=?"
            args.append(appliance)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        with self._read() as db:
            rows = db.execute(sql, (*args, limit)).fetchall()
        return [JobRow(**dict(r)) for r in rows]

    def job(self, lsid: str, *, appliance: str = "") -> JobRow | None:
        """Return one job as listed for operators (any queue), or None when unknown."""
        with self._read() as db:
            row = db.execute(
                f"SELECT {_ROW} FROM jobs WHERE appliance=? AND lsid=?",  # noqa: S608
                (appliance, lsid),
            ).fetchone()
        return JobRow(**dict(row)) if row else None

    def job_state(self, lsid: str, *, appliance: str = "") -> str | None:
        """Return one job's state, or None when unknown."""
        with self._read() as db:
            row = db.execute(
                "SELECT state FROM jobs WHERE appliance=? AND lsid=?", (appliance, lsid)
            ).fetchone()
        return row["state"] if row else None

    def appliances_of(self, lsid: str) -> list[str]:
        """Return the appliances that have a session job for this lsid (commands given one lsid)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT appliance FROM jobs WHERE lsid=? AND queue=? ORDER BY appliance",
                (lsid, SESSIONS),
            ).fetchall()
        return [r["appliance"] for r in rows]

    def known_lsids(
        self, lsids: Iterable[str], states: tuple[str, ...] = ("done",), *, appliance: str = ""
    ) -> set[str]:
        """Return which of ``lsids`` have a job in one of ``states``."""
        found: set[str] = set()
        with self._read() as db:
            for chunk in chunks(list(lsids)):
                rows = db.execute(
                    f"SELECT lsid FROM jobs WHERE appliance=? AND lsid IN ({marks(len(chunk))})"  # noqa: S608
                    f" AND state IN ({marks(len(states))})",
                    (appliance, *chunk, *states),
                )
                found.update(r["lsid"] for r in rows)
        return found

    def counts(self, *, appliance: str | None = None, queue: str = SESSIONS) -> dict[str, int]:
        """Count the jobs of ``queue`` per state (of every appliance, or of one)."""
        counts = {s: 0 for s in STATES}
        for (app, state), n in self._counted(queue).items():
            if appliance is None or app == appliance:
                counts[state] = counts.get(state, 0) + n
        return counts

    def counts_by_appliance(self, *, queue: str = SESSIONS) -> dict[str, dict[str, int]]:
        """Count the jobs of ``queue`` per appliance and state."""
        out: dict[str, dict[str, int]] = {}
        for (app, state), n in self._counted(queue).items():
            out.setdefault(app, {s: 0 for s in STATES})[state] = n
        return out

    def _counted(self, queue: str) -> dict[tuple[str, str], int]:
        with self._read() as db:
            rows = db.execute(
                "SELECT appliance, state, COUNT(*) AS n FROM jobs WHERE queue=?"
                " GROUP BY appliance, state",
                (queue,),
            ).fetchall()
        return {(r["appliance"], r["state"]): int(r["n"]) for r in rows}

    def event_counts(self) -> dict[str, int]:
        """Count stored events per status."""
        with self._read() as db:
            rows = db.execute("SELECT status, COUNT(*) AS n FROM events GROUP BY status").fetchall()
        return {r["status"]: int(r["n"]) for r in rows}

    def oldest_pending(
        self, *, appliance: str | None = None, queue: str = SESSIONS
    ) -> float | None:
        """Return when the longest-waiting pending or running job of ``queue`` was queued."""
        oldest = self.oldest_pending_by_appliance(queue=queue)
        if appliance is not None:
            return oldest.get(appliance)
        return min(oldest.values(), default=None)

    def oldest_pending_by_appliance(self, *, queue: str = SESSIONS) -> dict[str, float]:
        """Return, per appliance with work waiting in ``queue``, when its oldest job was queued."""
        with self._read() as db:
            rows = db.execute(
                "SELECT appliance, MIN(queued_at) AS oldest FROM jobs"
                " WHERE queue=? AND state IN ('pending', 'running') GROUP BY appliance",
                (queue,),
            ).fetchall()
        return {r["appliance"]: float(r["oldest"]) for r in rows}

    def next_due(self, *, queue: str = SESSIONS) -> float | None:
        """Return the earliest not_before among the pending jobs of ``queue``."""
        with self._read() as db:
            row = db.execute(
                "SELECT MIN(not_before) AS due FROM jobs WHERE state='pending' AND queue=?",
                (queue,),
            ).fetchone()
        return row["due"]

    # -- meta (watermark, poll status) -----------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """Read one meta value."""
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        """Write meta values in one transaction."""
        with self._tx() as db:
            db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                list(values.items()),
            )

    def attached_tickets(self, lsids: Iterable[str], *, appliance: str = "") -> dict[str, str]:
        """Return the tickets administrators attached, for those of ``lsids`` that have one."""
        found: dict[str, str] = {}
        with self._read() as db:
            for chunk in chunks(list(lsids)):
                rows = db.execute(
                    "SELECT lsid, ticket FROM jobs WHERE appliance=? AND ticket != ''"  # noqa: S608
                    f" AND lsid IN ({marks(len(chunk))})",
                    (appliance, *chunk),
                )
                found.update({r["lsid"]: r["ticket"] for r in rows})
        return found

    def key_secret(self) -> bytes:
        """Return this installation's random external-key secret, creating it on first use."""
        stored = self.get_meta("external_key_secret")
        if stored:
            return bytes.fromhex(stored)
        with self._tx() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('external_key_secret', ?)"
                " ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(32),),
            )
            row = db.execute("SELECT value FROM meta WHERE key='external_key_secret'").fetchone()
        return bytes.fromhex(row["value"])

    def adopt_unnamed(self, appliance: str) -> int:
        """Give rows stored before appliances had ids (appliance '') to ``appliance``.

        They belong to the first configured appliance: the one the single-appliance keys
        described. A session that already has a row under ``appliance`` keeps that row; its
        unnamed twin stays where it is. Other queues' jobs (3PA's, which belong to no
        appliance) and their ledger rows stay too. Returns how many jobs moved.
        """
        if not appliance:
            return 0
        with self._tx() as db:
            moved = db.execute(
                "UPDATE jobs SET appliance=? WHERE appliance='' AND queue=? AND lsid NOT IN"
                " (SELECT lsid FROM jobs WHERE appliance=?)",
                (appliance, SESSIONS, appliance),
            ).rowcount
            db.execute(
                "UPDATE events SET appliance=? WHERE appliance='' AND dedupe_key NOT IN"
                " (SELECT dedupe_key FROM events WHERE appliance=?)",
                (appliance, appliance),
            )
            db.execute(
                "UPDATE ledger SET appliance=? WHERE appliance='' AND lsid NOT IN"
                " (SELECT lsid FROM ledger WHERE appliance=?) AND lsid NOT IN"
                " (SELECT lsid FROM jobs WHERE appliance='' AND queue!=?)",
                (appliance, appliance, SESSIONS),
            )
            for name in (WATERMARK, LAST_POLL):
                db.execute(
                    "UPDATE meta SET key=? WHERE key=? AND NOT EXISTS"
                    " (SELECT 1 FROM meta WHERE key=?)",
                    (appliance_key(name, appliance), name, appliance_key(name, appliance)),
                )
        return moved
