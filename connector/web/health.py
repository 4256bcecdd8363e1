"""``GET /health`` (application/health+json) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from flask import Blueprint, Response, request

from connector.health import bomgar_ping_name, health_report, public_view
from connector.metrics import CONTENT_TYPE, Gauges
from connector.web import services
from connector.web.auth import api_credentials_ok

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    """Report pass, warn or fail per check; the details only to callers with API credentials."""
    svc = services()
    pings: dict[str, Callable[[], object]] = {"servicenow": lambda: svc.servicenow.ping()}
    for ident, client in svc.bomgar_clients.items():
        pings[bomgar_ping_name(ident)] = client.ping
    remote = svc.remote_checks.get(pings)
    doc = health_report(svc.config, svc.store, remote)
    status = 503 if doc["status"] == "fail" else 200
    if not api_credentials_ok(request.headers.get("Authorization"), svc.config):
        # Outputs carry internal URLs and upstream error texts: not for strangers.
        doc = public_view(doc)
    return Response(
        json.dumps(doc, indent=2) + "\n",
        status=status,
        mimetype="application/health+json",
        headers={"Cache-Control": "no-store"},
    )


@bp.get("/metrics")
def metrics() -> Response:
    """Expose counters and queue gauges in the Prometheus text format, per appliance."""
    svc = services()
    counts = svc.store.counts_by_appliance()
    oldest = svc.store.oldest_pending_by_appliance()
    appliances = sorted({a.id for a in svc.config.appliances} | set(counts))
    empty = dict.fromkeys(("pending", "running", "waiting", "done", "dead", "unmatched"), 0)
    gauges: Gauges = {
        "connector_jobs": (
            "Sessions by appliance and import state.",
            {
                (("appliance", a), ("state", state)): float(n)
                for a in appliances
                for state, n in {**empty, **counts.get(a, {})}.items()
            },
        ),
        "connector_oldest_pending_seconds": (
            "Age of the longest-waiting session import, per appliance.",
            {
                (("appliance", a),): max(0.0, time.time() - oldest[a]) if a in oldest else 0.0
                for a in appliances
            },
        ),
    }
    return Response(svc.metrics.render(gauges), content_type=CONTENT_TYPE)
