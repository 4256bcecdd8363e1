"""Keep the leases of the claims in progress alive from one background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from connector.store import Store

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renew the leases of the claims in progress from one background thread."""

    def __init__(self, store: Store, lease_seconds: float) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3
        self._held: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def hold(self, token: str, lsids: Iterable[str]) -> Iterator[None]:
        """Keep renewing this claim's leases until the block ends."""
        with self._lock:
            self._held[token] = set(lsids)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(token, None)

    def renew_all(self) -> None:
        """Renew every held claim once; a session no longer held is dropped from the renewals."""
        with self._lock:
            claims = {token: set(lsids) for token, lsids in self._held.items()}
        for token, lsids in claims.items():
            try:
                kept = self.store.renew(token, lsids, self.lease_seconds)
            except Exception as exc:  # a locked database: the next round tries again
                log.warning("could not renew leases: %s", exc)
                continue
            with self._lock:
                if token in self._held:
                    self._held[token] &= kept

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.renew_all()

    def close(self) -> None:
        """Stop renewing."""
        self._stop.set()
