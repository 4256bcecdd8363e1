"""``GET /health`` (application/health+json) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, request

from connector.health import health_report, public_view
from connector.metrics import CONTENT_TYPE, Gauges
from connector.web import services
from connector.web.auth import api_credentials_ok

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    """Report pass, warn or fail per check; the details only to callers with API credentials."""
    svc = services()
    remote = svc.remote_checks.get(
        {"servicenow": lambda: svc.servicenow.ping(), "bomgar": lambda: svc.bomgar.ping()}
    )
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
    """Expose counters and queue gauges in the Prometheus text format."""
    svc = services()
    counts = svc.store.counts()
    oldest = svc.store.oldest_pending()
    gauges: Gauges = {
        "connector_jobs": (
            "Sessions by import state.",
            {(("state", state),): float(n) for state, n in counts.items()},
        ),
        "connector_oldest_pending_seconds": (
            "Age of the longest-waiting session import.",
            {(): 0.0 if oldest is None else max(0.0, time.time() - oldest)},
        ),
    }
    return Response(svc.metrics.render(gauges), content_type=CONTENT_TYPE)
