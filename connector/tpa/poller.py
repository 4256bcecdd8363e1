"""Find what the real-time calls missed: requests to decide, provision or remove, access that
expired, and profile changes not applied yet; queue them as 3PA jobs."""

from __future__ import annotations

import logging
from typing import Any

from connector.tpa import QUEUE, models, profile_key, request_key

log = logging.getLogger(__name__)


def _ref(value: Any) -> str:
    return str(value.get("value", "")) if isinstance(value, dict) else str(value or "")


def poll(tpa: Any) -> int:
    """Queue every actionable request and change not queued already; return how many."""
    records = tpa.records
    keys = [request_key(_ref(r.get("sys_id"))) for r in records.requests_in(models.ACTIONABLE)]
    keys += [request_key(_ref(r.get("sys_id"))) for r in records.expired(models.sn_time())]
    keys += [
        profile_key(_ref(r.get("sys_id"))) for r in records.changes_in(models.CHANGE_SUBMITTED)
    ]
    keys = list(dict.fromkeys(k for k in keys if len(k) > len(request_key(""))))
    # Queued or running ones need nothing; dead letters wait for an operator's --retry.
    busy = tpa.store.known_lsids(keys, states=("pending", "running", "dead"))
    fresh = [k for k in keys if k not in busy]
    moved = tpa.store.queue_sessions(fresh, "poll", force=True, queue=QUEUE) if fresh else 0
    tpa.metrics.inc("connector_3pa_poller_queued_total", moved)
    if moved:
        log.info("3PA poller queued %d requests", moved)
    return moved


def poll_job(tpa: Any) -> None:
    """Run the poller from the scheduler; a failure is logged and the next run tries again."""
    try:
        poll(tpa)
    except Exception as exc:
        log.error("3PA poll failed: %s", exc)
