"""The server time an instance spends per record: the meter that counts it and its totals.

A real instance spends time on every record it reads or writes (ACLs, business rules, the journal,
the audit trail), runs a Batch request's items one after another, and serves a limited number of
API requests at once. The emulator models that with three numbers: ``latency_ms`` per HTTP request
(in ``connector.sim.faults``), and ``read_ms`` per record read and ``write_ms`` per record written,
charged here. Each request (and each Batch item) runs under its own meter; the views and the store
charge records to whichever meter is current, and the request hooks sleep the total before
answering, while the request still holds its concurrency slot.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

from connector.sim.faults import Stats


@dataclass
class Charges:
    """Records one request (or one Batch item) has read and written so far, since when."""

    reads: int = 0
    writes: int = 0
    started: float = field(default_factory=time.monotonic)

    def ms(self, read_ms: float, write_ms: float) -> float:
        """Return the server time these records cost."""
        return self.reads * read_ms + self.writes * write_ms


# The meter of the request running on this thread. A ContextVar rather than flask.g because a
# Batch item runs nested inside its batch's app context, where g is shared with the batch.
_current: ContextVar[Charges | None] = ContextVar("servicenow_sim_charges", default=None)


def start() -> tuple[Charges, Token[Charges | None]]:
    """Start metering a request; return its charges and the token that ends the meter."""
    charges = Charges()
    return charges, _current.set(charges)


def stop(token: Token[Charges | None]) -> None:
    """End a meter, making the enclosing request's (a Batch item's batch) current again."""
    _current.reset(token)


def charge_reads(n: int) -> None:
    """Charge ``n`` records read (returned by a query or looked up by sys_id)."""
    charges = _current.get()
    if charges is not None and n > 0:
        charges.reads += n


def charge_writes(n: int) -> None:
    """Charge ``n`` records written (inserted, updated, deleted or journalled)."""
    charges = _current.get()
    if charges is not None and n > 0:
        charges.writes += n


class InstanceStats(Stats):
    """Request counts and faults, plus what the cost model charged and how long slots were held."""

    def __init__(self) -> None:
        super().__init__()
        self._cost_lock = threading.Lock()
        self._requests = 0
        self._reads = 0
        self._writes = 0
        self._server_ms = 0.0
        self._slot_ms = 0.0

    def charge(self, charges: Charges, server_ms: float) -> None:
        """Add one request's (or one Batch item's) records and the server time they cost."""
        with self._cost_lock:
            self._reads += charges.reads
            self._writes += charges.writes
            self._server_ms += server_ms

    def held(self, slot_ms: float) -> None:
        """Add one request that held a concurrency slot for ``slot_ms``."""
        with self._cost_lock:
            self._requests += 1
            self._slot_ms += slot_ms

    def snapshot(self) -> dict[str, Any]:
        """Return the counts, faults and the cost block."""
        data = super().snapshot()
        with self._cost_lock:
            data["cost"] = {
                "requests": self._requests,
                "reads": self._reads,
                "writes": self._writes,
                "server_ms": round(self._server_ms, 3),
                "slot_ms": round(self._slot_ms, 3),
            }
        return data

    def reset(self) -> None:
        """Forget every count."""
        super().reset()
        with self._cost_lock:
            self._requests = self._reads = self._writes = 0
            self._server_ms = self._slot_ms = 0.0
