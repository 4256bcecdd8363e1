"""Fault injection and request statistics shared by both emulators.

Each emulator calls ``Faults.decide()`` at the start of a request (never for ``/_sim/`` paths).
A fault happens either *before* the request takes effect (nothing is written; the answer is an
error, a reset connection or a late answer) or *after* it (the write is committed, then the answer
is lost), as a real instance fails: a node restart or a proxy timeout after the transaction
committed. Each emulator renders an injected error in its own vendor's format, applies a "before"
fault instead of running the view and an "after" fault to the view's answer, and counts what it
actually injected with ``Stats.fault()`` so a run can report what it survived.

Before and after, per kind::

    error    before: the status instead of the view          after: the view runs, then the status
    drop     before: connection reset, nothing runs          after: the view runs, then a reset
    timeout  before: held timeout_seconds, then the view     after: the view runs, the answer is
             runs (the client has given up; the write lands         held timeout_seconds
             late, as an instance finishes a transaction)
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

from flask import Request

# The kinds and phases a Decision can carry, in the order their shares are laid on [0, 1).
KINDS = ("timeout", "drop", "error")
PHASES = ("before", "after")


@dataclass
class FaultSettings:
    """Knobs that make an emulator slow or unreliable; all off by default."""

    latency_ms: float = 0.0  # added to every request
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter
    error_rate: float = 0.0  # share answered with a status from error_statuses, nothing written
    error_after_rate: float = 0.0  # share whose write is committed, then answered with the status
    error_statuses: tuple[int, ...] = (500, 503)
    # Statuses of "after" errors: a 429 is refused before anything runs, so 5xx only by default.
    error_after_statuses: tuple[int, ...] = (500, 503)
    drop_rate: float = 0.0  # share whose connection is reset, nothing written
    drop_after_rate: float = 0.0  # share whose write is committed, then the connection is reset
    timeout_rate: float = 0.0  # share held timeout_seconds before they run (they still run)
    timeout_after_rate: float = 0.0  # share that run at once, their answer held timeout_seconds
    timeout_seconds: float = 65.0
    seed: int | None = None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes from the control API, rejecting unknown keys and bad values."""
        known = {f.name: f for f in fields(self)}
        staged = asdict(self)
        for name, value in changes.items():
            if name not in known:
                raise ValueError(
                    f"unknown fault setting {name!r}; known: {', '.join(sorted(known))}"
                )
            current = getattr(self, name)
            if name in ("error_statuses", "error_after_statuses"):
                value = tuple(int(v) for v in value)
                if not value:
                    raise ValueError(f"{name} must name at least one status")
            elif name == "seed":
                value = None if value is None else int(value)
            elif isinstance(current, float):
                value = float(value)
                if name.endswith("_rate") and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1, got {value}")
                if value < 0:
                    raise ValueError(f"{name} must not be negative, got {value}")
            staged[name] = value
        total = sum(staged[f"{kind}{suffix}"] for kind in KINDS for suffix in _SUFFIXES)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the fault rates add up to {total:g}; at most 1 is possible")
        for name, value in staged.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["error_after_statuses"] = list(self.error_after_statuses)
        return data


_SUFFIXES = ("_rate", "_after_rate")


@dataclass
class Decision:
    """What to do to one request."""

    action: str = "pass"  # "pass" | "error" | "drop" | "timeout" | "empty"
    phase: str = "before"  # "before" | "after": before the view runs, or to its answer
    status: int = 0
    hold_seconds: float = 0.0  # for "timeout": how long the answer is held
    retry_after: int | None = None  # for a scripted 429/503: the Retry-After it carries

    @property
    def after(self) -> bool:
        """Tell whether the fault applies to the view's answer rather than replacing the view."""
        return self.action != "pass" and self.phase == "after"


@dataclass
class ScriptedFault:
    """A fault for the next requests whose "METHOD label" matches: deterministic tests use these."""

    match: (
        str  # regular expression searched in "METHOD /path/{sys_id}" ("batch METHOD …" for items)
    )
    fault: (
        str  # "error" | "drop" | "timeout" | "empty" (the answer keeps its status, loses its body)
    )
    phase: str = "before"
    status: int = 500
    times: int = 1
    skip: int = 0  # let this many matching requests pass before the rule fires
    hold_seconds: float = 0.0
    retry_after: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScriptedFault:
        """Build a rule from the control API's JSON, refusing what cannot be injected."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown scripted fault key(s): {', '.join(sorted(unknown))}")
        rule = cls(**data)
        re.compile(rule.match)
        if rule.fault not in (*KINDS, "empty"):
            raise ValueError(f"fault must be one of {', '.join((*KINDS, 'empty'))}")
        if rule.phase not in PHASES or (rule.fault == "empty" and rule.phase != "after"):
            raise ValueError("phase must be before or after (empty answers are always after)")
        if rule.times < 1 or rule.skip < 0:
            raise ValueError("times must be at least 1 and skip not negative")
        return rule

    def decision(self) -> Decision:
        """Turn the rule into a Decision for one request."""
        return Decision(
            self.fault,
            self.phase,
            self.status if self.fault == "error" else 0,
            self.hold_seconds,
            self.retry_after,
        )


class Faults:
    """Decide per request whether to delay, fail or drop it, before or after it takes effect."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.settings = settings or FaultSettings()
        self._rng = random.Random(self.settings.seed)
        self._lock = threading.Lock()
        self._script: list[ScriptedFault] = []

    def script(self, rules: list[dict[str, Any]]) -> None:
        """Queue scripted faults (all or none: a bad rule raises ValueError)."""
        parsed = [ScriptedFault.from_dict(dict(r)) for r in rules]
        with self._lock:
            self._script.extend(parsed)

    def scripted(self) -> list[dict[str, Any]]:
        """Return the scripted faults still waiting, with how many times each is left."""
        with self._lock:
            return [asdict(r) for r in self._script]

    def clear_script(self) -> None:
        """Forget every scripted fault."""
        with self._lock:
            self._script.clear()

    def take_scripted(self, label: str) -> Decision | None:
        """Consume the first scripted fault matching ``label``, if any."""
        with self._lock:
            for rule in self._script:
                if re.search(rule.match, label):
                    if rule.skip:
                        rule.skip -= 1
                        continue
                    rule.times -= 1
                    if rule.times <= 0:
                        self._script.remove(rule)
                    return rule.decision()
        return None

    def configure(self, changes: dict[str, Any]) -> None:
        """Change settings at run time."""
        with self._lock:
            self.settings.update(changes)
            if "seed" in changes:
                self._rng = random.Random(self.settings.seed)

    def reset(self, settings: FaultSettings | None = None) -> None:
        """Turn every fault off (or to the given settings) and forget scripted faults."""
        with self._lock:
            self.settings = settings or FaultSettings()
            self._rng = random.Random(self.settings.seed)
            self._script.clear()

    def random(self) -> float:
        """Draw a number in [0, 1) from the fault generator (seeded runs stay repeatable)."""
        with self._lock:
            return self._rng.random()

    def choice(self, options: tuple[Any, ...] | list[Any]) -> Any:
        """Pick one of ``options`` with the fault generator."""
        with self._lock:
            return self._rng.choice(options)

    def decide(self, label: str = "") -> Decision:
        """Apply latency and a "before" timeout's hold; say which fault, if any, to inject.

        A scripted fault matching ``label`` ("METHOD /path") wins over the random shares.
        """
        s = self.settings
        scripted = self.take_scripted(label) if self._script else None
        if scripted is not None:
            delay = s.latency_ms / 1000.0
            if scripted.action == "timeout" and scripted.phase == "before":
                delay += scripted.hold_seconds
            if delay > 0:
                time.sleep(delay)
            return scripted
        with self._lock:
            delay = s.latency_ms / 1000.0
            if s.jitter_ms:
                delay += self._rng.uniform(0, s.jitter_ms) / 1000.0
            roll = self._rng.random()
            before_status = self._rng.choice(s.error_statuses)
            after_status = self._rng.choice(s.error_after_statuses)
        decision = Decision()
        for kind in KINDS:
            for phase, suffix in zip(PHASES, _SUFFIXES, strict=True):
                share = getattr(s, f"{kind}{suffix}")
                if roll < share:
                    status = before_status if phase == "before" else after_status
                    decision = Decision(kind, phase, status if kind == "error" else 0)
                    break
                roll -= share
            if decision.action != "pass":
                break
        if decision.action == "timeout":
            if decision.phase == "before":
                delay += s.timeout_seconds
            else:
                decision.hold_seconds = s.timeout_seconds
        if delay > 0:
            time.sleep(delay)
        return decision


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
    """Count requests per method and endpoint label, and the faults injected, thread-safely."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._faults: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def count(self, method: str, label: str) -> None:
        """Count one request."""
        self._bump(f"{method} {label}")

    def _bump(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def fault(self, kind: str, phase: str, n: int = 1) -> None:
        """Count a fault that was really injected (kind such as "error", phase "before"/"after")."""
        with self._lock:
            self._faults[(kind, phase)] += n

    def snapshot(self) -> dict[str, Any]:
        """Return the counts, their total and the injected faults by kind and phase."""
        with self._lock:
            counts = dict(sorted(self._counts.items()))
            faults: dict[str, dict[str, int]] = {}
            for (kind, phase), n in sorted(self._faults.items()):
                faults.setdefault(kind, {})[phase] = n
        return {
            "total": sum(counts.values()),
            "requests": counts,
            "faults": faults,
            "faults_total": sum(sum(v.values()) for v in faults.values()),
        }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
            self._faults.clear()
