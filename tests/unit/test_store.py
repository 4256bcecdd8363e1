"""The store on both backends: durable inbox, exclusive claims, no lost triggers, leases."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys

from connector.bomgar.models import OutboundEvent
from connector.store import Store, claim_token, owner_id


def ev(lsid: str, event: str = "support_conference_end", ts: int = 100) -> OutboundEvent:
    return OutboundEvent(event=event, version="3", timestamp=ts, lsid=lsid)


def test_event_is_durable_across_connections(open_store):
    """A recorded event is visible to a new Store on the same database (it was committed)."""
    first = open_store()
    first.record_event(ev("a" * 32), known=True)
    first.close()
    again = open_store()
    assert again.job_state("a" * 32) == "pending"
    assert again.event_counts() == {"queued": 1}


def test_duplicate_event_is_absorbed(open_store):
    """The same (lsid, event, timestamp) is stored once; record_event says it was a duplicate."""
    store = open_store()
    assert store.record_event(ev("a" * 32), known=True) is True
    assert store.record_event(ev("a" * 32), known=True) is False
    assert store.event_counts() == {"queued": 1}


def _claim_all(path: str, out: multiprocessing.Queue) -> None:
    store = Store(path)
    got = []
    while True:
        jobs = store.claim(owner_id(), 3, 300)
        if not jobs:
            break
        got += [j.lsid for j in jobs]
    store.close()
    out.put(got)


def test_claims_are_exclusive_across_processes(location, open_store):
    """Four processes claiming concurrently never take the same session twice."""
    path = location
    store = open_store()
    store.queue_sessions([f"{n:032x}" for n in range(200)], "test")
    out: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    procs = [
        multiprocessing.get_context("fork").Process(target=_claim_all, args=(path, out))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    claimed = [lsid for _ in procs for lsid in out.get(timeout=60)]
    for p in procs:
        p.join(30)
    assert len(claimed) == 200
    assert len(set(claimed)) == 200


def test_trigger_during_import_requeues_instead_of_done(open_store):
    """An event arriving while a job runs is not lost: completing re-queues the job."""
    store = open_store()
    store.record_event(ev("a" * 32), known=True)
    [job] = store.claim("me:1", 10, 300)
    store.record_event(
        ev("a" * 32, "support_conference_customer_exit_survey_completed", 200), known=True
    )
    assert store.complete(job, "me:1") is True
    assert store.job_state("a" * 32) == "pending"
    [again] = store.claim("me:1", 10, 300)
    assert store.complete(again, "me:1") is True
    assert store.job_state("a" * 32) == "done"


def test_lost_lease_cannot_settle_the_job(open_store):
    """A worker whose lease was taken over cannot mark the job done."""
    store = open_store()
    store.queue_sessions(["a" * 32], "test")
    [job] = store.claim("slow:1", 10, 0.0)
    [taken] = store.claim("fast:2", 10, 300, now=job.queued_at + 10)
    assert store.complete(job, "slow:1") is False
    assert store.complete(taken, "fast:2") is True


def test_dead_owner_claims_are_released(open_store):
    """Jobs held by a process on this host that no longer exists go back to pending."""
    store = open_store()
    store.queue_sessions(["a" * 32, "b" * 32], "test")
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = owner_id().rsplit(":", 1)[0] + ":" + gone.stdout.strip()
    store.claim(dead_owner, 1, 300)
    store.claim(owner_id(), 1, 300)
    assert store.release_dead_owners() == 1
    assert store.counts()["pending"] == 1
    assert store.counts()["running"] == 1


def test_poller_does_not_requeue_done_or_dead(open_store):
    """queue_sessions without force leaves imported and dead sessions alone."""
    store = open_store()
    store.queue_sessions(["a" * 32, "b" * 32], "test")
    jobs = {j.lsid: j for j in store.claim("me:1", 10, 300)}
    store.complete(jobs["a" * 32], "me:1")
    store.dead_letter(jobs["b" * 32], "me:1", "boom")
    assert store.queue_sessions(["a" * 32, "b" * 32, "c" * 32], "poller") == 1
    assert store.retry_dead() == 1
    assert store.job_state("b" * 32) == "pending"


def test_every_claim_has_its_own_owner_token(open_store):
    """Two claims from one process hold their jobs under different tokens of this process."""
    first, second = claim_token(), claim_token()
    assert first != second
    assert first.startswith(owner_id() + ":") and second.startswith(owner_id() + ":")
    store = open_store()
    store.queue_sessions(["a" * 32, "b" * 32], "test")
    [a] = store.claim(first, 1, 300)
    [b] = store.claim(second, 1, 300)
    assert (a.owner, b.owner) == (first, second)
    assert store.holding(first, [a.lsid, b.lsid]) == {a.lsid}
    assert store.complete(b, first) is False  # another claim's job is not this token's to settle


def test_renewing_keeps_a_lease_and_reports_what_is_still_held(open_store):
    """renew extends the lease of held jobs and leaves out jobs settled or taken over."""
    store = open_store()
    store.queue_sessions(["a" * 32, "b" * 32, "c" * 32], "test", now=1000.0)
    jobs = {j.lsid: j for j in store.claim("me:1:x", 10, 10, now=1000.0)}
    store.complete(jobs["b" * 32], "me:1:x")
    assert store.renew("me:1:x", jobs, 10, now=1008.0) == {"a" * 32, "c" * 32}
    # Renewed at 1008 for 10 s: still held at 1015, when the first lease would have lapsed.
    assert store.holding("me:1:x", jobs, now=1015.0) == {"a" * 32, "c" * 32}
    assert store.claim("other:2:y", 10, 300, now=1015.0) == []


def test_a_lapsed_lease_is_taken_over_only_after_the_settle_time(open_store):
    """A lapsed lease stops its holder's writes at once but waits settle before a takeover."""
    store = open_store()
    store.queue_sessions(["a" * 32], "test", now=1000.0)
    [job] = store.claim("slow:1:x", 10, 10, now=1000.0)
    assert store.holding("slow:1:x", [job.lsid], now=1011.0) == set()
    assert store.claim("fast:2:y", 10, 300, now=1011.0, settle=5.0) == []
    [taken] = store.claim("fast:2:y", 10, 300, now=1016.0, settle=5.0)
    assert taken.owner == "fast:2:y"
    assert store.renew("slow:1:x", [job.lsid], 10) == set()
    assert store.complete(job, "slow:1:x") is False


def test_announced_surveys_come_from_every_stored_survey_event(open_store):
    """Survey events count whenever they arrived, also while the job was already pending."""
    store = open_store()
    store.record_event(ev("a" * 32), known=True)
    store.record_event(
        ev("a" * 32, "support_conference_customer_exit_survey_completed", 101), known=True
    )
    store.record_event(
        ev("b" * 32, "support_conference_rep_exit_survey_completed", 102), known=True
    )
    assert store.announced_surveys(["a" * 32, "b" * 32, "c" * 32]) == {
        "a" * 32: {"customer"},
        "b" * 32: {"representative"},
    }
