"""Find sessions whose outbound events never arrived, and queue them.

Each run lists the sessions that ended between the stored watermark (minus an overlap,
because reports can lag) and now, in windows of bounded size, and queues every session
the store has not imported yet. The watermark only moves forward after a whole run
succeeds, so a failed run is repeated from the same point.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from connector.bomgar.client import BomgarClient
from connector.bomgar.models import valid_lsid
from connector.metrics import Metrics
from connector.store import Store

log = logging.getLogger(__name__)

WATERMARK = "poller.watermark"
LAST_SUCCESS = "poller.last_success"
WINDOW_SECONDS = 6 * 3600  # one report request covers at most this much time
QUEUE_CHUNK = 500


@dataclass
class PollResult:
    """What one poll or backfill found."""

    since: int
    until: int
    listed: int = 0
    queued: int = 0
    refused: int = 0  # listed ids that cannot be session ids


def find_missed(
    store: Store,
    bomgar: BomgarClient,
    since: int,
    until: int,
    *,
    reason: str = "poller",
    progress: Callable[[PollResult], None] | None = None,
) -> PollResult:
    """Queue every session that ended in [since, until) and is not imported yet."""
    result = PollResult(since, until)
    start = since
    while start < until:
        end = min(until, start + WINDOW_SECONDS)
        listing = bomgar.session_listing(start, end, by="end")
        lsids = [s.lsid for s in listing]
        result.listed += len(lsids)
        garbled = [lsid for lsid in lsids if not valid_lsid(lsid)]
        if garbled:
            # One unusable id would spoil the report request of every session grouped with it.
            log.error(
                "the listing named %d unusable session ids; not queued: %s",
                len(garbled),
                ", ".join(repr(x)[:70] for x in garbled[:5]),
            )
            result.refused += len(garbled)
            lsids = [lsid for lsid in lsids if valid_lsid(lsid)]
        for i in range(0, len(lsids), QUEUE_CHUNK):
            chunk = lsids[i : i + QUEUE_CHUNK]
            known = store.known_lsids(
                chunk, states=("done", "dead", "pending", "running", "unmatched")
            )
            fresh = [lsid for lsid in chunk if lsid not in known]
            if fresh:
                result.queued += store.queue_sessions(fresh, reason, force=False)
        if progress:
            progress(result)
        start = end
    return result


def poll_missed_sessions(
    store: Store,
    bomgar: BomgarClient,
    *,
    overlap: float,
    initial_lookback: float,
    metrics: Metrics | None = None,
    now: float | None = None,
) -> PollResult:
    """Run one poll from the watermark to now and advance the watermark."""
    now_i = int(time.time() if now is None else now)
    stored = store.get_meta(WATERMARK)
    watermark = int(float(stored)) if stored else int(now_i - initial_lookback)
    since = max(0, int(watermark - overlap))
    if since >= now_i:
        since = now_i - 1
    result = find_missed(store, bomgar, since, now_i)
    store.set_meta({WATERMARK: str(now_i), LAST_SUCCESS: str(time.time())})
    if metrics:
        metrics.inc("connector_poller_runs_total")
        metrics.inc("connector_poller_queued_total", result.queued)
    if result.queued:
        log.warning(
            "poller queued %d sessions whose events never arrived (%d listed)",
            result.queued,
            result.listed,
        )
    else:
        log.info("poller found nothing missed (%d sessions listed)", result.listed)
    return result
