"""How many requests the client keeps in flight: up to a ceiling, less while the instance 429s.

The instance serves a fixed number of API requests at once (its ``API_INT`` semaphore) and
answers 429 beyond them and their queue. That number is the instance's, not ours: other
integrations share it, and an admin may have changed it. So the ceiling
(``servicenow.max_concurrent``) is only where the client starts. A 429 says the instance is full
with what this client still has in flight, so the limit drops to that many (never below the
floor); every window of successes raises it by one, probing for room that has come free. A 429
costs the instance almost nothing, and the requests it keeps serving keep its slots busy, so
settling on its number within one round trip loses less than halving would.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Outcome:
    """What became of one request, reported back to the limit."""

    ok: bool = False  # answered (any non-429 answer the caller accepted)
    congested: bool = False  # the instance answered 429


class AdaptiveLimit:
    """At most ``limit`` requests at once; the limit falls on a 429 and grows back on success.

    Hand-written: the maintained limiters for Python pace calls per second, not calls in flight.
    """

    def __init__(self, ceiling: int, *, floor: int = 1) -> None:
        if ceiling < 1 or not 1 <= floor <= ceiling:
            raise ValueError("need 1 <= floor <= ceiling")
        self.ceiling = ceiling
        self.floor = floor
        self._limit = float(ceiling)
        self._in_flight = 0
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        """Return how many requests may be in flight now."""
        return max(self.floor, int(self._limit))

    @property
    def in_flight(self) -> int:
        """Return how many requests are in flight now."""
        return self._in_flight

    @contextlib.contextmanager
    def slot(self) -> Iterator[Outcome]:
        """Hold one slot for a request; set the yielded Outcome to say how it went."""
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        outcome = Outcome()
        try:
            yield outcome
        finally:
            with self._cond:
                self._in_flight -= 1
                if outcome.congested:
                    self._limit = float(max(self.floor, min(self.limit, self._in_flight)))
                elif outcome.ok and self._limit < self.ceiling:
                    self._limit = min(float(self.ceiling), self._limit + 1.0 / self._limit)
                self._cond.notify_all()
