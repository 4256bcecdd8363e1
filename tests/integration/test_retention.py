"""The worker keeps the events table to store.events_retention_days and no longer."""

from __future__ import annotations

import threading
import time

from connector.bomgar.models import OutboundEvent
from connector.demo import wait_for
from connector.importer.runner import run_worker
from connector.services import Services
from tests.integration.test_webhook import make_config


def ev(n: int) -> OutboundEvent:
    return OutboundEvent(
        event="support_conference_member_added", version="3", timestamp=n, lsid=f"{n:032x}"
    )


def test_worker_prunes_events_older_than_the_retention(tmp_path):
    """Started, the worker deletes events past the retention and keeps newer ones and all jobs."""
    cfg = make_config(tmp_path, **{"poller.enabled": False, "store.events_retention_days": 30})
    svc = Services(cfg)
    now = time.time()
    for n in range(40):
        svc.store.record_event(ev(n), known=True, now=now - 31 * 86400)
    for n in range(40, 45):
        svc.store.record_event(ev(n), known=True, now=now - 29 * 86400)
    assert sum(svc.store.event_counts().values()) == 45
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(svc.importer(), stop), daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: sum(svc.store.event_counts().values()) == 5, 20), (
            svc.store.event_counts()
        )
    finally:
        stop.set()
        worker.join(30)
    assert svc.metrics.value("connector_events_pruned_total") == 40


def test_zero_retention_keeps_events_forever(tmp_path):
    """store.events_retention_days: 0 schedules no pruning at all."""
    cfg = make_config(tmp_path, **{"poller.enabled": False, "store.events_retention_days": 0})
    svc = Services(cfg)
    svc.store.record_event(ev(1), known=True, now=time.time() - 400 * 86400)
    ready = threading.Event()
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(svc.importer(), stop), kwargs={"on_ready": ready.set}, daemon=True
    )
    worker.start()
    try:
        assert ready.wait(20)
        time.sleep(1)
        assert sum(svc.store.event_counts().values()) == 1
    finally:
        stop.set()
        worker.join(30)
