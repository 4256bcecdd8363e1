"""Outbound events: form fields, token in the URL, retries, head-of-line blocking, drops."""

from __future__ import annotations

import time

LIFECYCLE = [
    "support_conference_begin",
    "support_conference_member_added",  # customer
    "support_conference_member_added",  # rep
    "support_conference_member_departed",
    "support_conference_member_departed",
    "support_conference_end",
    "support_conference_customer_exit_survey_completed",
    "support_conference_rep_exit_survey_completed",
]


def _wait_events(sim, predicate, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = sim.sim("GET", "/events")["recipients"][0]
        if predicate(snap):
            return snap
        time.sleep(0.02)
    raise AssertionError(f"condition not reached: {snap}")


def test_default_session_posts_its_life_cycle_in_order(make_sim, receiver):
    """A scripted session posts begin, member added/departed, end and both surveys as forms."""
    sim = make_sim(events_urls=[receiver.url], retry_interval=0.05)
    lsid = sim.sim("POST", "/sessions", {"external_key": "INC0000001"})["lsid"]
    got = receiver.wait_for(len(LIFECYCLE))
    assert [e["event"] for e in got] == LIFECYCLE
    for event in got:
        assert event["_token"] == "s3cret"
        assert event["_content_type"] == "application/x-www-form-urlencoded"
        assert event["lsid"] == lsid and event["external_key"] == "INC0000001"
        assert event["timestamp"].isdigit() and event["version"]
        assert event["appliance_id"] == sim.state.options.appliance_id
    rep_added = got[2]
    assert (rep_added["username"], rep_added["user_id"], rep_added["type"]) == (
        "jane.rep",
        "1",
        "representative",
    )
    assert rep_added["display_name"] == "Jane Rep"
    assert got[1]["type"] == "customer"
    assert "username" not in got[0]
    # The receiver sees the last event a moment before the emulator reads its 200.
    deadline = time.monotonic() + 5
    while True:
        snap = sim.sim("GET", "/events")["recipients"][0]
        if snap["delivered_total"] == len(LIFECYCLE) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert snap["delivered_total"] == len(LIFECYCLE) and not snap["pending"]
    assert "s3cret" not in snap["url"]


def test_owner_change_event_on_transfer(make_sim, receiver):
    """A transfer to another rep posts support_conference_owner_changed."""
    sim = make_sim(events_urls=[receiver.url])
    lsid = sim.sim("POST", "/sessions", {"end": False})["lsid"]
    sim.sim("POST", f"/sessions/{lsid}/transfer", {"to_rep": 2})
    events = [e["event"] for e in receiver.wait_for(6)]
    assert "support_conference_owner_changed" in events


def test_send_events_false_sends_nothing(make_sim, receiver):
    """Sessions created with send_events false (and bulk sessions) post no events."""
    sim = make_sim(events_urls=[receiver.url])
    sim.sim("POST", "/sessions", {"send_events": False})
    sim.sim("POST", "/sessions/bulk", {"count": 5})
    sim.sim("POST", "/sessions/start", {"queue": "general", "send_events": False})
    marker = sim.sim("POST", "/sessions/start", {"queue": "general"})["lsid"]
    got = receiver.wait_for(2)
    assert {e["lsid"] for e in got} == {marker}


def test_failing_head_is_retried_and_blocks_the_queue(make_sim, receiver):
    """While the head fails nothing else is sent; after recovery the backlog drains in order."""
    receiver.status = 503
    sim = make_sim(events_urls=[receiver.url], retry_interval=0.1, retry_period=30)
    first = sim.sim("POST", "/sessions/start", {"queue": "general"})["lsid"]
    second = sim.sim("POST", "/sessions/start", {"queue": "general"})["lsid"]
    time.sleep(0.45)
    with receiver.lock:
        tried = [event for _, event, _ in receiver.attempts]
    assert len(tried) >= 3
    assert set(tried) == {"support_conference_begin"}  # only the head was tried
    intervals = [
        b[0] - a[0] for a, b in zip(receiver.attempts, receiver.attempts[1:], strict=False)
    ]
    assert min(intervals[:3]) >= 0.08
    snap = sim.sim("GET", "/events")["recipients"][0]
    assert len(snap["pending"]) == 4 and snap["pending"][0]["attempts"] >= 3
    assert snap["pending"][0]["last_error"] == "HTTP 503"
    receiver.status = 200
    got = receiver.wait_for(4)
    assert [(e["lsid"], e["event"]) for e in got] == [
        (first, "support_conference_begin"),
        (first, "support_conference_member_added"),
        (second, "support_conference_begin"),
        (second, "support_conference_member_added"),
    ]


def test_non_200_success_codes_count_as_failures(make_sim, receiver):
    """A 204 from the recipient is not delivery: the event stays pending."""
    receiver.status = 204
    sim = make_sim(events_urls=[receiver.url], retry_interval=0.05, retry_period=30)
    sim.sim("POST", "/sessions/start", {"queue": "general"})
    snap = _wait_events(sim, lambda r: r["attempts_total"] >= 2)
    assert snap["delivered_total"] == 0 and snap["pending"][0]["last_error"] == "HTTP 204"


def test_event_dropped_after_retry_period_then_queue_moves_on(make_sim, receiver):
    """A head failing past the retry period is dropped and logged; the next event is then sent."""
    receiver.status = 500
    sim = make_sim(events_urls=[receiver.url], retry_interval=0.05, retry_period=0.2)
    sim.sim("POST", "/sessions/start", {"queue": "general"})
    snap = _wait_events(sim, lambda r: r["dropped_total"] >= 1)
    dropped = snap["dropped"][0]
    assert dropped["form"]["event"] == "support_conference_begin"
    assert dropped["attempts"] >= 3
    assert dropped["finished_at"] - dropped["first_attempt"] >= 0.2
    receiver.status = 200
    got = receiver.wait_for(1)
    assert got[0]["event"] == "support_conference_member_added"


def test_unreachable_recipient_does_not_block_another(make_sim, receiver):
    """Each recipient has its own queue: a dead URL does not delay a live one."""
    sim = make_sim(events_urls=["http://127.0.0.1:9/dead", receiver.url], retry_interval=0.05)
    sim.sim("POST", "/sessions/start", {"queue": "general"})
    assert len(receiver.wait_for(2)) == 2
    snap = sim.sim("GET", "/events")["recipients"]
    assert snap[0]["pending"] and snap[0]["pending"][0]["last_error"] == "ConnectionError"
