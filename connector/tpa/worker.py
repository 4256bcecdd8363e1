"""Claim 3PA jobs from the store's '3pa' queue and apply them, exactly once; start 3PA.

The same machinery as the session import (connector.store's jobs, claim tokens, leases renewed
by the importer's LeaseKeeper, dead letters): a job is claimed with a conditional UPDATE, its
lease is renewed while it runs, the provisioner checks the claim before every write, and a
job that fails is retried with backoff or, when permanent or out of attempts, dead-lettered
(``connector 3pa dead-letters --retry``). A ServiceNow write whose answer was lost is retried only
after ``servicenow.write_settle_seconds``, because the instance may still be running it; the
directory and SAP are re-read before every write, so their lost answers need no wait.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connector.errors import ClaimLost, ConnectorError, RemoteError
from connector.importer.leases import LeaseKeeper
from connector.servicenow.answers import in_doubt
from connector.store import Job, claim_token
from connector.tpa import QUEUE
from connector.tpa.runtime import TpaServices

if TYPE_CHECKING:
    from connector.services import Services

log = logging.getLogger(__name__)


class TpaWorker:
    """Run the provisioner in a few threads until stopped."""

    def __init__(self, tpa: TpaServices, *, threads: int = 2, poll_seconds: float = 0.5) -> None:
        self.tpa = tpa
        self.config = tpa.config
        self.store = tpa.store
        self.metrics = tpa.metrics
        self.provisioner = tpa.provisioner()
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.batch_size = int(self.config.tpa.worker.batch_size)
        self.lease = float(self.config.worker.lease_seconds)
        self.settle = float(self.config.servicenow.write_settle_seconds)
        self.node = self.config.worker.node_name  # claims name their node, as the importer's do
        self.leases = LeaseKeeper(self.store, self.lease)
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- one pass -------------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and apply one group of jobs; return how many were claimed."""
        token = claim_token(self.node)
        jobs = self.store.claim(token, self.batch_size, self.lease, settle=self.settle, queue=QUEUE)
        if not jobs:
            return 0
        with self.leases.hold(token, [j.lsid for j in jobs]):
            for job in jobs:
                if self.stop_event.is_set():
                    # Hand the rest back at once rather than let their leases run out.
                    self.store.retry_later(job, job.owner, "worker stopping", 0)
                    continue
                self.process(job)
        return len(jobs)

    def process(self, job: Job) -> None:
        """Apply one job and settle it."""

        def guard() -> None:
            if job.lsid not in self.store.holding(job.owner, [job.lsid]):
                raise ClaimLost(f"claim on {job.lsid} lost")

        try:
            note = self.provisioner.run(job.lsid, guard)
        except ClaimLost:
            self.metrics.inc("connector_3pa_claims_lost_total")
            return
        except ConnectorError as exc:
            self._fail(job, exc)
            return
        except Exception as exc:  # keep the thread alive; the attempt counts
            log.exception("3PA job failed unexpectedly", extra={"ticket": job.lsid})
            self._fail(job, RemoteError(f"internal error: {type(exc).__name__}: {exc}"))
            return
        self.store.complete(job, job.owner, note=note[:1000])

    def _fail(self, job: Job, error: ConnectorError) -> None:
        permanent = getattr(error, "permanent", True)
        attempts = job.attempts + 1
        reason = f"{type(error).__name__}: {error}"
        if permanent or attempts >= int(self.config.worker.max_attempts):
            if self.store.dead_letter(job, job.owner, reason):
                self.metrics.inc("connector_3pa_dead_total")
                log.error("3PA job dead-lettered: %s", reason, extra={"ticket": job.lsid})
            return
        delay = self.backoff(attempts, getattr(error, "retry_after", None))
        if getattr(error, "service", "") == "servicenow" and in_doubt(error):
            delay = max(delay, self.settle)
        if self.store.retry_later(job, job.owner, reason, delay):
            self.metrics.inc("connector_3pa_retries_total")
            log.warning(
                "3PA job failed, retrying in %.1fs: %s", delay, reason, extra={"ticket": job.lsid}
            )

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Return the delay before the next attempt: exponential with jitter, or Retry-After."""
        cap = float(self.config.worker.retry_max_seconds)
        if retry_after is not None:
            return min(cap, retry_after)
        base = float(self.config.worker.retry_base_seconds)
        ceiling = min(cap, base * (2 ** (attempts - 1)))
        return random.uniform(ceiling / 2, ceiling)

    # -- threads --------------------------------------------------------------------------

    def start(self) -> None:
        """Release dead workers' claims and start the provisioning threads."""
        released = self.store.release_dead_owners(self.settle, node=self.node)
        if released:
            log.warning("re-queued %d jobs claimed by a worker that died", released)
        for n in range(self.threads):
            t = threading.Thread(target=self._run, name=f"3pa-{n}", daemon=True)
            t.start()
            self._threads.append(t)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                claimed = self.run_once()
            except Exception:  # a locked database: the lease brings the jobs back
                log.exception("3PA pass failed")
                claimed = 0
            if not claimed:
                self.stop_event.wait(self.poll_seconds)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the threads to finish their current job and wait for them."""
        self.stop_event.set()
        for t in self._threads:
            t.join(timeout)
        self.leases.close()
        self.tpa.directory.close()


def start(services: Services, scheduler: Any) -> Callable[[], None]:
    """Start 3PA in the worker: provisioning threads, the poller and the catalog sync.

    The one hook in ``connector worker``'s start-up; returns the function that stops it.
    Does nothing (and returns a no-op) while tpa.enabled is false.
    """
    if not services.config.tpa.enabled:
        return lambda: None
    from connector.tpa.catalog import sync_catalog_job
    from connector.tpa.poller import poll_job
    from connector.tpa.reminders import remind_job

    tpa = TpaServices(services)
    tpa.mapping  # noqa: B018 - a broken 3PA mapping stops the start
    worker = TpaWorker(
        tpa,
        threads=int(services.config.tpa.worker.threads),
        poll_seconds=float(services.config.worker.poll_seconds),
    )
    scheduler.add_job(
        poll_job,
        "interval",
        args=[tpa],
        id="3pa-poll-requests",
        seconds=float(services.config.tpa.poller.interval_seconds),
        next_run_time=dt.datetime.now(dt.UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.add_job(
        remind_job,
        "interval",
        args=[tpa],
        id="3pa-approval-reminders",
        seconds=3600,
        max_instances=1,
        coalesce=True,
    )
    interval = float(services.config.tpa.catalog.sync_interval_seconds)
    if interval > 0:
        scheduler.add_job(
            sync_catalog_job,
            "interval",
            args=[tpa],
            id="3pa-sync-catalog",
            seconds=interval,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
        )
    worker.start()
    log.info("3PA provisioning started (%d threads)", worker.threads)
    return worker.stop
