"""Outbound event delivery: one strict-FIFO queue and one daemon thread per recipient URL.

The appliance retries the head event every retry interval until the give-up period passes and
sends nothing behind it meanwhile (head-of-line blocking); only HTTP 200 counts as delivered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import requests

from connector.http import redact

log = logging.getLogger(__name__)

_HISTORY = 1000  # delivered/dropped events kept per recipient for /_sim/events


@dataclass
class QueuedEvent:
    """One event waiting for (or done with) delivery to one recipient."""

    seq: int
    form: dict[str, str]
    queued_at: float
    attempts: int = 0
    first_attempt: float | None = None
    last_error: str = ""
    finished_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "seq": self.seq,
            "form": dict(self.form),
            "queued_at": self.queued_at,
            "attempts": self.attempts,
            "first_attempt": self.first_attempt,
            "last_error": self.last_error,
            "finished_at": self.finished_at,
        }


@dataclass
class Recipient:
    """A configured recipient URL with its queue and history."""

    url: str
    pending: deque[QueuedEvent] = field(default_factory=deque)
    delivered: deque[QueuedEvent] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    dropped: deque[QueuedEvent] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    delivered_total: int = 0
    dropped_total: int = 0
    attempts_total: int = 0


class EventDelivery:
    """Deliver outbound events to every recipient, each in its own thread."""

    def __init__(
        self,
        urls: list[str],
        *,
        retry_interval: float,
        retry_period: float,
        timeout: float = 5.0,
    ) -> None:
        self.retry_interval = retry_interval
        self.retry_period = retry_period
        self.timeout = timeout
        self.recipients = [Recipient(url) for url in urls]
        self._cond = threading.Condition()
        self._stop = False
        self._seq = 0
        self._threads: list[threading.Thread] = []
        self._started = False

    def start(self) -> None:
        """Start one daemon thread per recipient (idempotent)."""
        with self._cond:
            if self._started or self._stop:
                return
            self._started = True
        for index, recipient in enumerate(self.recipients):
            thread = threading.Thread(
                target=self._run,
                args=(recipient,),
                name=f"bomgar-sim-events-{index}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads; undelivered events stay pending."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout)

    close = stop

    def enqueue(self, form: dict[str, str]) -> None:
        """Queue an event for every recipient."""
        with self._cond:
            self._seq += 1
            now = time.time()
            for recipient in self.recipients:
                recipient.pending.append(QueuedEvent(self._seq, dict(form), now))
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget pending events and history (for /_sim/reset)."""
        with self._cond:
            for r in self.recipients:
                r.pending.clear()
                r.delivered.clear()
                r.dropped.clear()
                r.delivered_total = r.dropped_total = r.attempts_total = 0

    def snapshot(self) -> dict[str, Any]:
        """Return delivered, pending and dropped events per recipient."""
        with self._cond:
            return {
                "retry_interval": self.retry_interval,
                "retry_period": self.retry_period,
                "recipients": [
                    {
                        "url": redact(r.url),
                        "pending": [e.as_dict() for e in r.pending],
                        "delivered": [e.as_dict() for e in r.delivered],
                        "dropped": [e.as_dict() for e in r.dropped],
                        "delivered_total": r.delivered_total,
                        "dropped_total": r.dropped_total,
                        "attempts_total": r.attempts_total,
                    }
                    for r in self.recipients
                ],
            }

    def _run(self, recipient: Recipient) -> None:
        session = requests.Session()
        session.trust_env = False
        try:
            while True:
                with self._cond:
                    while not self._stop and not recipient.pending:
                        self._cond.wait()
                    if self._stop:
                        return
                    head = recipient.pending[0]
                ok, error = self._post(session, recipient.url, head.form)
                now = time.time()
                with self._cond:
                    head.attempts += 1
                    recipient.attempts_total += 1
                    if head.first_attempt is None:
                        head.first_attempt = now
                    if ok:
                        head.finished_at = now
                        head.last_error = ""
                        recipient.pending.popleft()
                        recipient.delivered.append(head)
                        recipient.delivered_total += 1
                        continue
                    head.last_error = error
                    if now - head.first_attempt >= self.retry_period:
                        head.finished_at = now
                        recipient.pending.popleft()
                        recipient.dropped.append(head)
                        recipient.dropped_total += 1
                        log.warning(
                            "dropped outbound event %s for %s after %d attempts: %s",
                            head.form.get("event"),
                            redact(recipient.url),
                            head.attempts,
                            error,
                        )
                        continue
                    # Head-of-line blocking: wait, then retry the same event; nothing overtakes it.
                    deadline = now + self.retry_interval
                    while not self._stop and (remaining := deadline - time.time()) > 0:
                        self._cond.wait(timeout=remaining)
                    if self._stop:
                        return
        finally:
            session.close()

    def _post(self, session: requests.Session, url: str, form: dict[str, str]) -> tuple[bool, str]:
        try:
            response = session.post(url, data=form, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            return False, f"{type(exc).__name__}"
        # Only 200 counts: 201, 204 and redirects are failures on the appliance too.
        if response.status_code == 200:
            return True, ""
        return False, f"HTTP {response.status_code}"
