"""Find sessions whose outbound events never arrived, and queue them.

Each run lists the sessions that ended between the stored watermark (minus an overlap,
because reports can lag) and now, in windows sized to what they hold, and queues every session
the store has not imported yet. The watermark only moves forward after a whole run
succeeds, so a failed run is repeated from the same point.

Each appliance has its own watermark and its own poll. Several nodes may run a worker: a poll
first takes the store's leased lock ``poller:<appliance>`` (renewed after every window), and a
node that finds it held, or finds a poll finished less than half an interval ago, leaves the
run to the other node. So two nodes never list the same window at once, and one appliance is
polled about once an interval however many nodes there are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from connector.bomgar.client import BomgarClient
from connector.bomgar.models import valid_lsid
from connector.metrics import Metrics
from connector.store import LAST_POLL, WATERMARK, Store, appliance_key, claim_token

log = logging.getLogger(__name__)

LAST_SUCCESS = LAST_POLL
# A listing has no pagination, so one request covers a bounded window: it widens while the
# appliance's answers stay small and narrows when one is large (a year's backfill is ~60
# requests instead of 1,460; a busy day's listing stays a few hundred kilobytes).
WINDOW_SECONDS = 24 * 3600
MIN_WINDOW_SECONDS = 900
MAX_WINDOW_SECONDS = 7 * 86400
WIDEN_BELOW = 2000  # sessions in a window
NARROW_ABOVE = 10000
QUEUE_CHUNK = 500


def next_window(window: int, listed: int) -> int:
    """Return the next listing window after one of ``window`` seconds listed ``listed`` sessions."""
    if listed > NARROW_ABOVE:
        return max(MIN_WINDOW_SECONDS, window // 2)
    if listed < WIDEN_BELOW:
        return min(MAX_WINDOW_SECONDS, window * 2)
    return window


@dataclass
class PollResult:
    """What one poll or backfill found."""

    since: int
    until: int
    listed: int = 0
    queued: int = 0
    refused: int = 0  # listed ids that cannot be session ids
    skipped: bool = False  # another node holds this appliance's poll, or just ran it


def find_missed(
    store: Store,
    bomgar: BomgarClient,
    since: int,
    until: int,
    *,
    reason: str = "poller",
    progress: Callable[[PollResult], None] | None = None,
    appliance: str = "",
) -> PollResult:
    """Queue every session of ``appliance`` that ended in [since, until) and is not imported."""
    result = PollResult(since, until)
    start = since
    window = WINDOW_SECONDS
    while start < until:
        end = min(until, start + window)
        listing = bomgar.session_listing(start, end, by="end")
        lsids = [s.lsid for s in listing]
        result.listed += len(lsids)
        window = next_window(window, len(lsids))
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
                chunk,
                states=("done", "dead", "pending", "running", "unmatched"),
                appliance=appliance,
            )
            fresh = [lsid for lsid in chunk if lsid not in known]
            if fresh:
                result.queued += store.queue_sessions(
                    fresh, reason, force=False, appliance=appliance
                )
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
    appliance: str = "",
    interval: float = 0.0,
    lock_seconds: float = 300.0,
    node: str = "",
) -> PollResult:
    """Run one poll of ``appliance`` from its watermark to now and advance the watermark.

    Skipped (``skipped``) when another node holds the appliance's poll, or finished one less
    than ``interval / 2`` seconds ago.
    """
    now_i = int(time.time() if now is None else now)
    lock, owner = f"poller:{appliance}", claim_token(node)
    if not store.try_lock(lock, owner, lock_seconds):
        return PollResult(now_i, now_i, skipped=True)
    try:
        last = store.get_meta(appliance_key(LAST_SUCCESS, appliance))
        if last and time.time() - float(last) < interval / 2:
            return PollResult(now_i, now_i, skipped=True)  # another node has just polled
        stored = store.get_meta(appliance_key(WATERMARK, appliance))
        watermark = int(float(stored)) if stored else int(now_i - initial_lookback)
        since = max(0, int(watermark - overlap))
        if since >= now_i:
            since = now_i - 1

        def keep_lock(_: PollResult) -> None:
            if not store.try_lock(lock, owner, lock_seconds):
                raise RuntimeError(f"lost the poll lock of appliance {appliance!r}")

        result = find_missed(store, bomgar, since, now_i, progress=keep_lock, appliance=appliance)
        store.set_meta(
            {
                appliance_key(WATERMARK, appliance): str(now_i),
                appliance_key(LAST_SUCCESS, appliance): str(time.time()),
            }
        )
    finally:
        store.release_lock(lock, owner)
    if metrics:
        metrics.inc("connector_poller_runs_total", appliance=appliance)
        metrics.inc("connector_poller_queued_total", result.queued, appliance=appliance)
    if result.queued:
        log.warning(
            "poller queued %d sessions whose events never arrived (%d listed)",
            result.queued,
            result.listed,
        )
    else:
        log.info("poller found nothing missed (%d sessions listed)", result.listed)
    return result
