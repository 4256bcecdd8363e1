"""Run the importer as a long-lived worker: import threads, the scheduler, signals, draining.

``run_worker`` starts the import threads and the scheduled jobs (the missed-session poller, one
job per appliance so one appliance that hangs never delays another's poll; releasing the claims
of this node's dead workers; pruning old events) and keeps them until ``stop`` is set; the
command line sets it on SIGTERM or SIGINT. ``import_backlog`` runs the same threads until nothing
is ready (``backfill``); ``drain`` imports in the calling thread until given sessions are
settled (``replay``, the demo).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from connector.importer.poller import poll_missed_sessions
from connector.importer.worker import Importer

log = logging.getLogger(__name__)


#: The GIL hand-over interval for a process that does nothing but import. The threads wait on
#: the network nearly all the time; forcing a hand-over every 5 ms (Python's default) while two
#: of them parse costs about a tenth of the worker's CPU in switches (scripts/bench).
IMPORT_SWITCH_INTERVAL = 0.05


def tune_for_import() -> None:
    """Set this process up as an import worker (call from the command, not from a library)."""
    sys.setswitchinterval(IMPORT_SWITCH_INTERVAL)


class WorkerLoop:
    """Run the importer in a few threads until stopped."""

    def __init__(
        self,
        importer: Importer,
        *,
        threads: int = 2,
        poll_seconds: float = 0.5,
        until_idle: bool = False,
    ) -> None:
        self.importer = importer
        self.threads = threads
        self.poll_seconds = poll_seconds
        # until_idle: a thread leaves when it finds nothing ready (a backlog, not a service).
        self.until_idle = until_idle
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Release dead workers' claims and start the import threads."""
        released = self.importer.store.release_dead_owners(
            self.importer.settle, node=self.importer.node
        )
        if released:
            log.warning("re-queued %d sessions claimed by a worker that died", released)
        for n in range(self.threads):
            t = threading.Thread(target=self._run, name=f"importer-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                claimed = self.importer.run_once()
            except Exception:  # keep the worker alive; the job's lease brings it back
                log.exception("import pass failed")
                claimed = 0
            if not claimed:
                if self.until_idle:
                    return
                self.stop_event.wait(self.poll_seconds)

    def running(self) -> bool:
        """Tell whether any import thread is still at work."""
        return any(t.is_alive() for t in self._threads)

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the threads to leave."""
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the threads to finish their current pass and wait for them."""
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout)
        self.importer.leases.close()


def run_worker(
    importer: Importer,
    stop: threading.Event,
    *,
    threads: int = 2,
    on_ready: Callable[[], None] | None = None,
    start_more: Callable[[BackgroundScheduler], Callable[[], None]] | None = None,
) -> None:
    """Run the import threads and the scheduled jobs until ``stop`` is set.

    ``start_more`` starts other work of the worker process (3PA's, connector.tpa.runtime.start)
    given the scheduler, before the import threads; the function it returns stops that work.
    """
    config = importer.config
    loop = WorkerLoop(importer, threads=threads, poll_seconds=config.worker.poll_seconds)
    scheduler = BackgroundScheduler(timezone="UTC")
    for appliance in config.appliances:
        if not appliance.poller.enabled:
            continue
        scheduler.add_job(
            poll_job,
            "interval",
            args=[importer, appliance.id],
            id=f"poll-missed-sessions:{appliance.id}",
            seconds=appliance.poller.interval_seconds,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    scheduler.add_job(
        importer.store.release_dead_owners,
        "interval",
        args=[importer.settle],
        kwargs={"node": importer.node},
        id="release-dead-claims",
        seconds=10,
        max_instances=1,
        coalesce=True,
    )
    if config.store.events_retention_days > 0:
        scheduler.add_job(
            prune_events,
            "interval",
            args=[importer],
            id="prune-events",
            seconds=3600,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
        )
    stop_more = start_more(scheduler) if start_more is not None else None
    loop.start()
    scheduler.start()
    log.info("worker started (%d import threads)", threads)
    if on_ready is not None:
        on_ready()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        loop.stop()
        if stop_more is not None:
            stop_more()
        log.info("worker stopped")


def poll_job(importer: Importer, appliance: str = "") -> None:
    """Run one missed-session poll of an appliance; a failure waits for the next run."""
    settings = importer.config.appliance(appliance)
    if settings is None:
        return
    poller = settings.poller
    try:
        poll_missed_sessions(
            importer.store,
            importer.appliances.client(appliance),
            overlap=poller.overlap_seconds,
            initial_lookback=poller.initial_lookback_seconds,
            metrics=importer.metrics,
            appliance=appliance,
            interval=poller.interval_seconds,
            # A poll lists a few windows; a node that dies mid-poll frees it within this long.
            lock_seconds=max(60.0, 2 * settings.timeout_seconds),
            node=importer.node,
        )
    except Exception as exc:  # the next run retries from the same watermark
        log.error("poll of appliance %r failed: %s", appliance, exc)


def prune_events(importer: Importer) -> int:
    """Delete stored events older than store.events_retention_days; return how many."""
    days = importer.config.store.events_retention_days
    try:
        removed = importer.store.prune_events(time.time() - days * 86400)
    except Exception as exc:  # the next run tries again
        log.error("pruning old events failed: %s", exc)
        return 0
    importer.metrics.inc("connector_events_pruned_total", removed)
    if removed:
        log.info("pruned %d events older than %g days", removed, days)
    return removed


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT, so the worker finishes its current pass and leaves."""

    def handler(signum: int, frame: Any) -> None:
        log.info("signal %d received; finishing current work", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@contextlib.contextmanager
def stopping_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGTERM and SIGINT while inside, then give the old handlers back."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    stop_on_signals(stop)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def import_backlog(
    importer: Importer,
    *,
    threads: int,
    stop: threading.Event | None = None,
    progress: Callable[[], None] | None = None,
    progress_seconds: float = 2.0,
) -> None:
    """Import every ready session on the worker's own path (its threads) until none is left."""
    loop = WorkerLoop(importer, threads=threads, until_idle=True)
    loop.start()
    try:
        while loop.running():
            if stop is not None and stop.is_set():
                break
            loop.join(progress_seconds)
            if progress is not None and loop.running():
                progress()
    finally:
        loop.stop()


def drain(
    importer: Importer,
    lsids: set[str] | None = None,
    timeout: float = 600,
    *,
    appliance: str = "",
) -> None:
    """Import in this thread until the given sessions (of ``appliance``), or all, are settled."""
    store = importer.store
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claimed = importer.run_once()
        if lsids is not None:
            states = [store.job_state(x, appliance=appliance) for x in lsids]
            if all(state not in ("pending", "running") for state in states):
                return
        elif not claimed:
            return
        if not claimed:
            time.sleep(0.2)
