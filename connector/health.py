"""Health checks: what /health reports, computed without Flask (the web layer renders it).

The document follows the IETF draft "Health Check Response Format for HTTP APIs"
(application/health+json): an overall ``status`` of pass, warn or fail and named checks. A remote
system's outage is a warning, never a failure, so the appliance keeps delivering events. A check
about several appliances has one entry per appliance, each naming it as ``componentId`` (the
draft's way of listing the instances of one component).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from connector import __version__
from connector.config import Config
from connector.store import LAST_POLL, Store, appliance_key

_ORDER = {"pass": 0, "warn": 1, "fail": 2}


class RemoteChecks:
    """Ping ServiceNow and each appliance in the background, at most every ``max_age`` seconds.

    ``/health`` only reads the latest results: a hanging remote system never holds a request
    thread (which the webhook shares), and concurrent health callers start at most one ping
    per system. A ping still unanswered after ``timeout`` seconds is reported as a warning.
    Pings are named by the caller (``servicenow``, ``bomgar:<appliance id>``).
    """

    def __init__(self, max_age: float = 15.0, timeout: float = 10.0) -> None:
        self.max_age = max_age
        self.timeout = timeout
        self._lock = threading.Lock()
        self._results: dict[str, dict[str, Any]] = {}
        self._checked_at: dict[str, float] = {}
        self._running: dict[str, float] = {}  # name → when its unanswered ping started

    def get(self, pings: Mapping[str, Callable[[], object]]) -> dict[str, dict[str, Any]]:
        """Return the latest results, starting fresh pings in the background when due."""
        now = time.monotonic()
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for name in pings:
                started = self._running.get(name)
                if started is None and now - self._checked_at.get(name, -1e18) >= self.max_age:
                    self._running[name] = started = now
                    threading.Thread(
                        target=self._ping,
                        args=(name, pings[name]),
                        name=f"health-{name}",
                        daemon=True,
                    ).start()
                result = self._results.get(name)
                if started is not None and now - started > self.timeout:
                    out[name] = {
                        "status": "warn",
                        "output": f"no answer within {self.timeout:g} s",
                        "time": _now(),
                    }
                elif result is None:
                    out[name] = {"status": "warn", "output": "not checked yet", "time": _now()}
                else:
                    out[name] = result
        return out

    def _ping(self, name: str, ping: Callable[[], object]) -> None:
        started = time.monotonic()
        try:
            ping()
        except Exception as exc:  # any failure is a warning: events keep being accepted
            result: dict[str, Any] = {
                "status": "warn",
                "output": f"{type(exc).__name__}: {exc}"[:300],
            }
        else:
            result = {"status": "pass"}
        result.update(
            observedValue=round((time.monotonic() - started) * 1000, 1),
            observedUnit="ms",
            time=_now(),
        )
        with self._lock:
            self._results[name] = result
            self._checked_at[name] = time.monotonic()
            self._running.pop(name, None)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bomgar_ping_name(appliance: str) -> str:
    """Name an appliance's ping."""
    return f"bomgar:{appliance}"


def health_report(
    config: Config, store: Store, remote: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Build the health document from the store, the latest remote results and the limits."""
    checks: dict[str, list[dict[str, Any]]] = {}
    started = time.monotonic()
    try:
        store.ping()
        counts = store.counts()
        by_appliance = store.counts_by_appliance()
        oldest = store.oldest_pending_by_appliance()
        last_polls = {
            a.id: store.get_meta(appliance_key(LAST_POLL, a.id)) for a in config.appliances
        }
    except Exception as exc:
        checks["store:responseTime"] = [
            {"status": "fail", "output": f"{type(exc).__name__}: {exc}", "time": _now()}
        ]
        return _document(checks)
    checks["store:responseTime"] = [
        {
            "status": "pass",
            "observedValue": round((time.monotonic() - started) * 1000, 2),
            "observedUnit": "ms",
            "time": _now(),
        }
    ]
    if "servicenow" in remote:
        checks["servicenow:connectivity"] = [remote["servicenow"]]
    checks["bomgar:connectivity"] = [
        _component(a.id, remote.get(bomgar_ping_name(a.id)) or _unchecked())
        for a in config.appliances
    ]
    limit = config.health.max_pending_age_seconds
    waiting: list[dict[str, Any]] = []
    for a in config.appliances:
        since = oldest.get(a.id)
        age = 0.0 if since is None else max(0.0, time.time() - since)
        mine = by_appliance.get(a.id, {})
        queued = mine.get("pending", 0) + mine.get("running", 0)
        entry = {
            "status": "warn" if age > limit else "pass",
            "observedValue": round(age, 1),
            "observedUnit": "s",
            "output": f"{queued} sessions waiting to be imported",
            "time": _now(),
        }
        waiting.append(_component(a.id, entry))
    checks["inbox:oldestPending"] = waiting
    checks["inbox:deadLetters"] = [
        {
            "status": "warn" if counts["dead"] else "pass",
            "observedValue": counts["dead"],
            "observedUnit": "sessions",
            "time": _now(),
        }
    ]
    unmatched = counts.get("unmatched", 0)
    checks["inbox:unmatched"] = [
        {
            "status": "warn" if unmatched > config.health.max_unmatched else "pass",
            "observedValue": unmatched,
            "observedUnit": "sessions",
            "output": "sessions kept off their tickets: `connector unmatched` lists them",
            "time": _now(),
        }
    ]
    polls: list[dict[str, Any]] = []
    for a in config.appliances:
        if not a.poller.enabled:
            continue
        interval = a.poller.interval_seconds
        last_poll = last_polls.get(a.id)
        poll: dict[str, Any]
        if last_poll is None:
            poll = {"status": "warn", "output": "the poller has not completed a run yet"}
        else:
            since = time.time() - float(last_poll)
            poll = {
                "status": "warn" if since > 3 * interval else "pass",
                "observedValue": round(since, 1),
                "observedUnit": "s",
            }
        poll["time"] = _now()
        polls.append(_component(a.id, poll))
    if polls:
        checks["poller:lastSuccess"] = polls
    return _document(checks)


def _component(appliance: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Name the appliance an entry is about (the unnamed single appliance goes without)."""
    return {"componentId": appliance, **entry} if appliance else dict(entry)


def _unchecked() -> dict[str, Any]:
    return {"status": "warn", "output": "not checked yet", "time": _now()}


def _document(checks: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    status = "pass"
    for entries in checks.values():
        for entry in entries:
            if _ORDER[entry["status"]] > _ORDER[status]:
                status = entry["status"]
    return {
        "status": status,
        "version": "1",
        "releaseId": __version__,
        "serviceId": "bomgar-servicenow-connector",
        "description": "Bomgar / BeyondTrust Remote Support to ServiceNow connector",
        "checks": checks,
    }


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """Keep what a stranger may see: the overall status and each check's name and status."""
    return {
        "status": doc["status"],
        "checks": {
            name: [{"status": entry["status"]} for entry in entries]
            for name, entries in doc["checks"].items()
        },
    }
