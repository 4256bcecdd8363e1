"""The inbox: outbound events as they arrived, what they announce, and how long they are kept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from connector.bomgar.models import OutboundEvent
from connector.store.jobs import Jobs
from connector.store.models import TRIGGERS


class Inbox(Jobs):
    """Store each outbound event once, committed before the webhook answers 200."""

    def record_event(self, event: OutboundEvent, *, known: bool, now: float | None = None) -> bool:
        """Store an event and queue its session; return False when it was a duplicate."""
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
                "INSERT OR IGNORE INTO events (dedupe_key, lsid, event, timestamp, appliance_id,"
                " external_key, payload, status, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
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
                self._queue(db, event.lsid, event.event, now, external_key=event.external_key)
        return True

    def announced_surveys(self, lsids: Iterable[str]) -> dict[str, set[str]]:
        """Return, per session, the exit-survey kinds its events announced as completed."""
        kinds = {
            "support_conference_customer_exit_survey_completed": "customer",
            "support_conference_rep_exit_survey_completed": "representative",
        }
        lsids = list(lsids)
        out: dict[str, set[str]] = {}
        conn = self._conn()
        for start in range(0, len(lsids), 500):
            chunk = lsids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT DISTINCT lsid, event FROM events WHERE lsid IN ({marks})"  # noqa: S608
                " AND event IN (?, ?)",
                (*chunk, *kinds),
            )
            for row in rows:
                out.setdefault(row[0], set()).add(kinds[row[1]])
        return out

    def appliance_id(self, lsid: str) -> str:
        """Return the appliance_id of the latest event seen for a session."""
        row = (
            self._conn()
            .execute(
                "SELECT appliance_id FROM events WHERE lsid=? ORDER BY id DESC LIMIT 1", (lsid,)
            )
            .fetchone()
        )
        return row[0] if row else ""

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
