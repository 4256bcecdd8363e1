"""The store shared by several nodes and appliances, on both backends.

Appliance + lsid is a session's identity; a claim takes one appliance's sessions; leases, not
process ids, bring back another node's claims; a leased lock keeps the poller on one node; the
copy command moves a running installation without losing or repeating a session.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psycopg
import pytest

from connector.bomgar.models import OutboundEvent
from connector.store import SCHEMA_VERSION, Store, owner_id
from connector.store.copying import copy_store

A, B = "a" * 32, "b" * 32


def ev(lsid: str, event: str = "support_conference_end", ts: int = 100) -> OutboundEvent:
    return OutboundEvent(event=event, version="3", timestamp=ts, lsid=lsid, appliance_id="x")


def test_the_same_lsid_on_two_appliances_is_two_sessions(open_store):
    """Events, jobs and the ledger are keyed by appliance + lsid, so neither hides the other."""
    store = open_store()
    assert store.record_event(ev(A), known=True, appliance="prod") is True
    assert store.record_event(ev(A), known=True, appliance="test") is True
    assert store.record_event(ev(A), known=True, appliance="prod") is False  # a redelivery
    assert store.counts_by_appliance()["prod"]["pending"] == 1
    assert store.counts_by_appliance()["test"]["pending"] == 1
    [job] = store.claim("n:1:c", 10, 300)
    store.record_effects([(A, "session", "sys1")], appliance=job.appliance)
    other = "test" if job.appliance == "prod" else "prod"
    assert store.ledger([A], appliance=job.appliance) == {A: {"session": "sys1"}}
    assert store.ledger([A], appliance=other) == {A: {}}
    assert store.complete(job, "n:1:c") is True
    assert store.job_state(A, appliance=job.appliance) == "done"
    assert store.job_state(A, appliance=other) == "pending"
    assert store.appliances_of(A) == ["prod", "test"]


def test_a_claim_takes_one_appliance_and_skips_what_it_is_told(open_store):
    """A claim holds the sessions of one appliance only; ``skip`` leaves an appliance for later."""
    store = open_store()
    store.queue_sessions([A, B], "t", appliance="down", now=1000.0)
    store.queue_sessions(["c" * 32, "d" * 32], "t", appliance="up", now=1001.0)
    up = store.claim("n:1:c1", 10, 300, now=2000.0, skip={"down"})
    assert {(j.appliance, j.lsid) for j in up} == {("up", "c" * 32), ("up", "d" * 32)}
    down = store.claim("n:1:c2", 10, 300, now=2000.0)
    assert {(j.appliance, j.lsid) for j in down} == {("down", A), ("down", B)}
    assert store.claim("n:1:c3", 10, 300, now=2000.0) == []


def test_another_nodes_claims_come_back_by_their_lease_never_by_a_process_id(open_store):
    """A claim of another node is not released by pid; it is taken over once its lease lapses."""
    store = open_store()
    store.queue_sessions([A], "t", now=1000.0)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    [job] = store.claim(f"node-b:{gone}:c", 1, 10, now=1000.0)
    # node-a sees node-b's pid as dead on its own host, but node-b is another node.
    assert store.release_dead_owners(node="node-a") == 0
    assert store.claim("node-a:1:c", 1, 300, now=1009.0, settle=2.0) == []
    assert store.claim("node-a:1:c", 1, 300, now=1011.0, settle=2.0) == []  # settling
    [taken] = store.claim("node-a:1:c", 1, 300, now=1012.5, settle=2.0)
    assert taken.lsid == A and store.complete(job, job.owner) is False
    # On its own node the same dead pid is released at once (the same-host shortcut).
    store.queue_sessions([B], "t")
    store.claim(f"node-b:{gone}:d", 1, 300)
    assert store.release_dead_owners(node="node-b") == 1


def test_a_leased_lock_has_one_holder_until_it_lapses_or_is_released(open_store):
    """try_lock gives a name to one owner at a time; it lapses, renews and releases."""
    store = open_store()
    assert store.try_lock("poller:prod", "node-a", 10, now=1000.0) is True
    assert store.try_lock("poller:prod", "node-b", 10, now=1005.0) is False
    assert store.try_lock("poller:test", "node-b", 10, now=1005.0) is True  # another name
    assert store.try_lock("poller:prod", "node-a", 10, now=1008.0) is True  # renewed to 1018
    assert store.try_lock("poller:prod", "node-b", 10, now=1015.0) is False
    assert store.try_lock("poller:prod", "node-b", 10, now=1019.0) is True  # lapsed
    assert store.release_lock("poller:prod", "node-a") is False
    assert store.release_lock("poller:prod", "node-b") is True
    assert store.try_lock("poller:prod", "node-a", 10, now=1020.0) is True


def test_concurrent_lock_takers_get_one_winner(location, open_store):
    """Eight threads, each with its own connection, race for one lock: exactly one wins."""
    open_store()  # create the schema once
    stores = [open_store() for _ in range(8)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def take(n: int) -> None:
        barrier.wait()
        results.append(stores[n].try_lock("poller:x", f"node-{n}", 60))

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_claims_pass_over_rows_another_transaction_holds(location, open_store):
    """PostgreSQL: a claim skips a job another node has locked (SKIP LOCKED) instead of waiting."""
    store = open_store()
    store.queue_sessions([A, B], "t", now=1000.0)
    with psycopg.connect(location) as other:
        other.execute("SELECT lsid FROM jobs WHERE lsid = %s FOR UPDATE", (A,))
        started = time.monotonic()
        jobs = store.claim("n:1:c", 10, 300, now=2000.0)
        assert time.monotonic() - started < 2
        assert [j.lsid for j in jobs] == [B]
    [later] = store.claim("n:1:d", 10, 300, now=2000.0)
    assert later.lsid == A


def test_a_trigger_racing_a_finish_is_never_lost(location, open_store):
    """Events for a running job, from several connections while it settles, re-queue it."""
    store = open_store()
    store.queue_sessions([A], "t")
    [job] = store.claim("n:1:c", 1, 300)
    others = [open_store() for _ in range(4)]

    def send(n: int) -> None:
        others[n].record_event(ev(A, ts=200 + n), known=True)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    store.complete(job, "n:1:c")
    for t in threads:
        t.join(30)
    # Whatever the interleaving, a trigger that came after the claim leaves the job pending.
    assert store.job_state(A) == "pending"


def test_migrate_off_refuses_an_old_store_and_migrate_brings_it_up(open_store, location):
    """With migrations left to `connector store migrate`, an unmigrated store is refused."""
    with pytest.raises(Exception, match="connector store migrate"):
        Store(location, migrate=False)
    store = open_store()
    assert store.schema_version() == SCHEMA_VERSION
    assert store.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)  # nothing left to do
    open_store(migrate=False)  # now accepted


def test_unnamed_rows_are_adopted_by_the_first_appliance(open_store):
    """Rows stored before appliance ids move to the first appliance, watermark included."""
    store = open_store()
    store.record_event(ev(A), known=True)
    store.queue_sessions([B], "poller")
    store.record_effects([(A, "session", "s1")])
    store.set_meta({"poller.watermark": "1234"})
    store.record_event(ev(B, ts=300), known=True, appliance="prod")  # B already under prod
    assert store.adopt_unnamed("prod") == 1
    assert store.job_state(A, appliance="prod") == "pending"
    assert store.ledger([A], appliance="prod") == {A: {"session": "s1"}}
    assert store.get_meta("poller.watermark:prod") == "1234"
    assert store.appliances_of(B) == ["", "prod"]  # the twin stays where it was
    assert store.adopt_unnamed("prod") == 0


def test_copy_moves_a_running_installation_without_losing_or_repeating(
    request, tmp_path, open_store, location
):
    """SQLite to the test's backend: copy, keep running, stop, copy again; nothing lost or new."""
    source = open_store(tmp_path / "old.db")
    source.record_event(ev(A), known=True, appliance="prod")
    source.record_event(ev(B), known=True, appliance="prod")
    now = time.time()
    # The old worker holds both; it will finish A, and is stopped while it still holds B.
    [a_job] = [j for j in source.claim("old:1:c", 10, 300, now=now) if j.lsid == A]
    source.record_effects([(A, "session", "sysA")], appliance="prod")
    source.set_meta({"poller.watermark:prod": "5000", "external_key_secret": "ab" * 32})
    target = open_store()
    first = copy_store(source, target)
    assert first["events"] == 2 and first["jobs"] == 2 and first["ledger"] == 1
    # The old installation keeps working: A finishes, a new session arrives.
    source.complete(a_job, "old:1:c")
    source.record_event(ev("c" * 32), known=True, appliance="prod")
    second = copy_store(source, target)
    assert second["events"] == 3  # offered again; the target keeps one of each
    assert target.event_counts() == {"queued": 3}
    assert target.job_state(A, appliance="prod") == "done"
    assert target.ledger([A], appliance="prod") == {A: {"session": "sysA"}}
    assert target.get_meta("poller.watermark:prod") == "5000"
    assert target.key_secret() == source.key_secret()
    claimed = {j.lsid for j in target.claim(owner_id(), 10, 300, now=now + 10)}
    assert claimed == {"c" * 32}  # the done one is not imported again; B is still leased
    [b_job] = target.claim(owner_id(), 10, 300, now=now + 301)  # B's lease lapsed
    assert b_job.lsid == B
    assert target.schema_version() == SCHEMA_VERSION
