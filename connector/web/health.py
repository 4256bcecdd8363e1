"""``GET /health`` (application/health+json) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import Blueprint, Response

from connector import __version__
from connector.services import Services
from connector.web import services

bp = Blueprint("health", __name__)

_ORDER = {"pass": 0, "warn": 1, "fail": 2}


class RemoteChecks:
    """Ping ServiceNow and the appliance at most every ``max_age`` seconds, in parallel."""

    def __init__(self, max_age: float = 15.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._at = 0.0
        self._results: dict[str, dict[str, Any]] = {}

    def get(self, svc: Services) -> dict[str, dict[str, Any]]:
        """Return cached or fresh results for both remote systems."""
        with self._lock:
            if time.monotonic() - self._at < self.max_age and self._results:
                return self._results
            results: dict[str, dict[str, Any]] = {}
            threads = [
                threading.Thread(target=self._ping, args=(name, svc, results))
                for name in ("servicenow", "bomgar")
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            for name in ("servicenow", "bomgar"):
                # A ping still running after 10 s is an answer too: the system is not healthy.
                results.setdefault(name, {"status": "warn", "output": "no answer within 10 s"})
            self._results = dict(results)
            self._at = time.monotonic()
            return results

    @staticmethod
    def _ping(name: str, svc: Services, results: dict[str, dict[str, Any]]) -> None:
        started = time.monotonic()
        try:
            getattr(svc, name).ping()
        except Exception as exc:  # any failure is a warning: events keep being accepted
            results[name] = {"status": "warn", "output": f"{type(exc).__name__}: {exc}"[:300]}
        else:
            results[name] = {"status": "pass"}
        results[name].update(
            observedValue=round((time.monotonic() - started) * 1000, 1),
            observedUnit="ms",
            time=_now(),
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def health_report(svc: Services, remote: RemoteChecks) -> dict[str, Any]:
    """Build the health document."""
    checks: dict[str, list[dict[str, Any]]] = {}
    started = time.monotonic()
    try:
        svc.store.ping()
        counts = svc.store.counts()
        oldest = svc.store.oldest_pending()
        last_poll = svc.store.get_meta("poller.last_success")
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
    for name, result in remote.get(svc).items():
        checks[f"{name}:connectivity"] = [result]
    age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
    limit = float(svc.config["health.max_pending_age_seconds"])
    checks["inbox:oldestPending"] = [
        {
            "status": "warn" if age > limit else "pass",
            "observedValue": round(age, 1),
            "observedUnit": "s",
            "output": f"{counts['pending'] + counts['running']} sessions waiting to be imported",
            "time": _now(),
        }
    ]
    checks["inbox:deadLetters"] = [
        {
            "status": "warn" if counts["dead"] else "pass",
            "observedValue": counts["dead"],
            "observedUnit": "sessions",
            "time": _now(),
        }
    ]
    if svc.config["poller.enabled"]:
        interval = float(svc.config["poller.interval_seconds"])
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
        checks["poller:lastSuccess"] = [poll]
    return _document(checks)


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


@bp.get("/health")
def health() -> Response:
    """Report pass, warn or fail for the store, both remote systems, the inbox and the poller."""
    svc = services()
    doc = health_report(svc, svc.remote_checks)
    status = 503 if doc["status"] == "fail" else 200
    return Response(
        json.dumps(doc, indent=2) + "\n",
        status=status,
        mimetype="application/health+json",
        headers={"Cache-Control": "no-store"},
    )


@bp.get("/metrics")
def metrics() -> Response:
    """Expose counters and queue gauges in the Prometheus text format."""
    svc = services()
    counts = svc.store.counts()
    oldest = svc.store.oldest_pending()
    gauges = {
        "connector_jobs": (
            "Sessions by import state.",
            {(("state", state),): float(n) for state, n in counts.items()},
        ),
        "connector_oldest_pending_seconds": (
            "Age of the longest-waiting session import.",
            {(): 0.0 if oldest is None else max(0.0, time.time() - oldest)},
        ),
    }
    return Response(svc.metrics.render(gauges), mimetype="text/plain; version=0.0.4; charset=utf-8")
