"""The inbox: outbound events as they arrived, what they announce, and how long they are kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from connector.bomgar.models import OutboundEvent
from connector.store.database import chunks, marks
from connector.store.jobs import Jobs
from connector.store.models import TRIGGERS


class Inbox(Jobs):
    """Store each outbound event once, committed before the webhook answers 200."""

    def record_event(
        self,
        event: OutboundEvent,
        *,
        known: bool,
        now: float | None = None,
        appliance: str = "",
    ) -> bool:
        """Store an event for ``appliance`` and queue its session; False when a duplicate."""
        now = time.time() if now is None else now
        payload = json.dumps(
            {
                "event": event.event,
                "version": event.version,
                "timestamp": event.timestamp,
                "lsid": event.lsid,
                "appliance_id": event.appliance_id,
                "external_key": event.external_key,
                "extra": dict(event.extra),
            },
            sort_keys=True,
        )
        triggers = known and event.event in TRIGGERS
        status = "queued" if triggers else ("recorded" if known else "ignored")
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO events (appliance, dedupe_key, lsid, event, timestamp, appliance_id,"
                " external_key, payload, status, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (appliance, dedupe_key) DO NOTHING",
                (
                    appliance,
                    event.dedupe_key,
                    event.lsid,
                    event.event,
                    event.timestamp,
                    event.appliance_id,
                    event.external_key,
                    payload,
                    status,
                    now,
                ),
            )
            if cur.rowcount == 0:
                return False
            if triggers:
                self._queue(
                    db, appliance, event.lsid, event.event, now, external_key=event.external_key
                )
        return True

    def announced_surveys(
        self, lsids: Iterable[str], *, appliance: str = ""
    ) -> dict[str, set[str]]:
        """Return, per session, the exit-survey kinds its events announced as completed."""
        kinds = {
            "support_conference_customer_exit_survey_completed": "customer",
            "support_conference_rep_exit_survey_completed": "representative",
        }
        out: dict[str, set[str]] = {}
        with self._read() as db:
            for chunk in chunks(list(lsids)):
                rows = db.execute(
                    "SELECT DISTINCT lsid, event FROM events WHERE appliance=?"  # noqa: S608
                    f" AND lsid IN ({marks(len(chunk))}) AND event IN (?, ?)",
                    (appliance, *chunk, *kinds),
                )
                for row in rows:
                    out.setdefault(row["lsid"], set()).add(kinds[row["event"]])
        return out

    def appliance_id(self, lsid: str, *, appliance: str = "") -> str:
        """Return the appliance_id the latest event of a session carried."""
        with self._read() as db:
            row = db.execute(
                "SELECT appliance_id FROM events WHERE appliance=? AND lsid=?"
                " ORDER BY id DESC LIMIT 1",
                (appliance, lsid),
            ).fetchone()
        return row["appliance_id"] if row else ""

    def prune_events(self, before: float, *, batch: int = 5000) -> int:
        """Delete events received before ``before``, in short transactions; return how many."""
        removed = 0
        while True:
            with self._tx() as db:
                n = db.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE received_at<?"
                    " LIMIT ?)",
                    (before, batch),
                ).rowcount
            removed += n
            if n < batch:
                return removed
