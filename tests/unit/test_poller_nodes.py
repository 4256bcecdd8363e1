"""The missed-session poller with several nodes and appliances, on both store backends."""

from __future__ import annotations

import threading

from connector.bomgar.models import SessionSummary
from connector.importer.poller import poll_missed_sessions

GOOD = "0123456789abcdef0123456789abcdef"


class Listing:
    """An appliance client that lists one session and counts (and can slow) its listings."""

    def __init__(self, lsid: str = GOOD, delay: float = 0.0) -> None:
        self.lsid = lsid
        self.delay = delay
        self.calls = 0
        self.entered = threading.Event()

    def session_listing(self, since, until, by="start"):
        self.calls += 1
        self.entered.set()
        threading.Event().wait(self.delay)
        return [SessionSummary(lsid=self.lsid)]


def poll(store, client, appliance: str, **kw):
    return poll_missed_sessions(
        store,
        client,
        overlap=60,
        initial_lookback=3600,
        appliance=appliance,
        interval=kw.pop("interval", 300),
        **kw,
    )


def test_each_appliance_has_its_own_watermark_and_queue(open_store):
    """Polling one appliance queues its sessions and moves its watermark only."""
    store = open_store()
    result = poll(store, Listing(), "emea", now=10_000)
    assert (result.queued, result.skipped) == (1, False)
    assert store.job_state(GOOD, appliance="emea") == "pending"
    assert store.job_state(GOOD, appliance="amer") is None
    assert store.get_meta("poller.watermark:emea") == "10000"
    assert store.get_meta("poller.watermark:amer") is None
    assert poll(store, Listing(), "amer", now=10_000).queued == 1  # the same lsid, elsewhere


def test_two_nodes_never_list_one_appliance_at_once(open_store):
    """While one node's poll of an appliance runs, another node's poll of it is skipped."""
    store = open_store()
    slow, other = Listing(delay=0.3), Listing()
    first = threading.Thread(target=poll, args=(store, slow, "emea"), kwargs={"node": "node-a"})
    first.start()
    assert slow.entered.wait(10)
    second = poll(open_store(), other, "emea", node="node-b")
    first.join(30)
    assert second.skipped and other.calls == 0
    assert slow.calls == 1
    # Another appliance is not held up by it.
    assert not poll(store, Listing(), "amer", node="node-b").skipped


def test_a_poll_just_finished_elsewhere_is_not_repeated(open_store):
    """Within half an interval of a finished poll, another node leaves the appliance alone."""
    store = open_store()
    assert not poll(store, Listing(), "emea", node="node-a", interval=300).skipped
    again = Listing()
    assert poll(store, again, "emea", node="node-b", interval=300).skipped
    assert again.calls == 0
    assert not poll(store, again, "emea", node="node-b", interval=0).skipped  # due again


def test_a_dead_pollers_lock_lapses(open_store):
    """A node that died holding the poll lock holds it only until the lock lapses."""
    store = open_store()
    assert store.try_lock("poller:emea", "dead-node:1:x", 0.2)
    assert poll(store, Listing(), "emea").skipped
    threading.Event().wait(0.3)
    assert not poll(store, Listing(), "emea").skipped
