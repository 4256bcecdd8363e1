"""The importer's appliances: one client each, and which of them did not answer lately.

A claim holds one appliance's sessions, and its pass asks that appliance's client. An appliance
whose report request could not reach it (a refused or dropped connection, a timeout) is
*suspect* until a request gets through: while one pass of this worker waits on a suspect
appliance, the worker's other threads leave it alone and import the other appliances' sessions,
so one appliance down never holds up another.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from connector.bomgar.client import BomgarClient
from connector.errors import DataError, TransportError


class Appliances:
    """The appliance clients by id, and the suspect ones."""

    def __init__(self, clients: Mapping[str, BomgarClient]) -> None:
        self.clients = dict(clients)
        self.first = next(iter(self.clients.values()))
        self._suspect: set[str] = set()
        self._asking: Counter[str] = Counter()  # report requests in flight, per appliance
        self._lock = threading.Lock()

    def client(self, appliance: str) -> BomgarClient:
        """Return an appliance's client ('' is the first: sessions stored before ids)."""
        found = self.clients.get(appliance)
        if found is None and appliance == "":
            found = self.first
        if found is None:
            raise DataError(f"appliance {appliance!r} is not configured (bomgar.appliances)")
        return found

    def busy_and_suspect(self) -> set[str]:
        """Return the suspect appliances a request of this worker is waiting on right now."""
        with self._lock:
            return {a for a in self._suspect if self._asking[a]}

    @contextmanager
    def asking(self, appliance: str) -> Iterator[None]:
        """Count a request in flight; mark the appliance suspect when it did not get there."""
        with self._lock:
            self._asking[appliance] += 1
        reached = True
        try:
            yield
        except TransportError:
            reached = False
            raise
        finally:
            with self._lock:
                self._asking[appliance] -= 1
                if reached:
                    self._suspect.discard(appliance)
                else:
                    self._suspect.add(appliance)
