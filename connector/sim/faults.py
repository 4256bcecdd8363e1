"""Fault injection and request statistics shared by both emulators.

Each emulator calls ``Faults.decide()`` at the start of a request (never for ``/_sim/`` paths)
and renders an injected error in its own vendor's format; latency and timeouts are applied here.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from flask import Request


@dataclass
class FaultSettings:
    """Knobs that make an emulator slow or unreliable; all off by default."""

    latency_ms: float = 0.0  # added to every request
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter
    error_rate: float = 0.0  # share of requests answered with a random status from error_statuses
    error_statuses: tuple[int, ...] = (500, 503)
    drop_rate: float = 0.0  # share of requests whose connection is closed without an answer
    timeout_rate: float = 0.0  # share of requests answered only after timeout_seconds
    timeout_seconds: float = 65.0
    seed: int | None = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes from the control API, rejecting unknown keys and bad types."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(
                    f"unknown fault setting {name!r}; known: {', '.join(sorted(known))}"
                )
            current = getattr(self, name)
            if name == "error_statuses":
                value = tuple(int(v) for v in value)
            elif name == "seed":
                value = None if value is None else int(value)
            elif isinstance(current, float):
                value = float(value)
                if name.endswith("_rate") and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1, got {value}")
                if value < 0:
                    raise ValueError(f"{name} must not be negative, got {value}")
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data


@dataclass
class Decision:
    """What to do to one request."""

    action: str = "pass"  # "pass" | "error" | "drop"
    status: int = 0


class Faults:
    """Decide per request whether to delay, fail or drop it."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.settings = settings or FaultSettings()
        self._rng = random.Random(self.settings.seed)
        self._lock = threading.Lock()

    def configure(self, changes: dict[str, Any]) -> None:
        """Change settings at run time."""
        with self._lock:
            self.settings.update(changes)
            if "seed" in changes:
                self._rng = random.Random(self.settings.seed)

    def reset(self, settings: FaultSettings | None = None) -> None:
        """Turn every fault off (or to the given settings)."""
        with self._lock:
            self.settings = settings or FaultSettings()
            self._rng = random.Random(self.settings.seed)

    def decide(self) -> Decision:
        """Apply latency and timeouts, and say whether to answer normally, fail or drop."""
        s = self.settings
        with self._lock:
            delay = s.latency_ms / 1000.0
            if s.jitter_ms:
                delay += self._rng.uniform(0, s.jitter_ms) / 1000.0
            roll = self._rng.random()
            status = self._rng.choice(s.error_statuses) if s.error_statuses else 500
        if roll < s.timeout_rate:
            delay += s.timeout_seconds
        if delay > 0:
            time.sleep(delay)
        roll -= s.timeout_rate
        if 0 <= roll < s.drop_rate:
            return Decision("drop")
        roll -= s.drop_rate
        if 0 <= roll < s.error_rate:
            return Decision("error", status)
        return Decision()


def drop_connection(request: Request) -> None:
    """Close the client's connection so it sees a reset instead of an answer."""
    sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if sock is None:
        raise ConnectionAbortedError("emulator dropped the connection")
    try:
        # SO_LINGER 0 makes close() send RST: the client sees "connection reset", as on a real drop.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Stats:
    """Count requests per method and endpoint label, thread-safely."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, method: str, label: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[f"{method} {label}"] += 1

    def snapshot(self) -> dict[str, Any]:
        """Return the counts and their total."""
        with self._lock:
            counts = dict(sorted(self._counts.items()))
        return {"total": sum(counts.values()), "requests": counts}

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
