"""Which ticket a session may write onto: issued keys, reps taking part, and the policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector import signing
from connector.bomgar.models import Actor, Representative, SessionEvent, SupportSession
from connector.importer.matching import decide, rep_took_part

SECRET = b"k" * 32
INC1 = "a5000000000000000000000000000001"
ISSUED_AT = 1_750_000_000


def session(external_key: str = "", *, reps=(), events=(), start: float = ISSUED_AT + 60):
    return SupportSession(
        lsid="l" * 32,
        external_key=external_key,
        start_time=datetime.fromtimestamp(start, UTC),
        end_time=datetime.fromtimestamp(start + 300, UTC),
        reps=list(reps),
        events=list(events),
    )


def issued(ticket: str = INC1, channel: str = "k", secret: bytes = SECRET) -> str:
    return signing.issue_external_key(secret, ticket, channel, now=ISSUED_AT)


JANE = Representative(gsnumber="2", username="jane.rep", seconds_involved=240)


def test_issued_key_round_trips_and_names_its_ticket():
    """An issued key is ticket + channel + issue time + tag, short and in a safe alphabet."""
    key = issued(channel="s")
    assert key.startswith(INC1 + ".s")
    assert len(key) < 80
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyz0123456789.")
    found = signing.verify_external_key(SECRET, key)
    assert found == signing.IssuedKey(INC1, "s", ISSUED_AT)


@pytest.mark.parametrize(
    "key",
    [
        issued().replace(INC1, "a5000000000000000000000000000002"),  # another ticket
        issued()[:-1] + ("a" if issued()[-1] != "a" else "b"),  # tag changed
        issued().replace(".k", ".j"),  # another channel
        issued(secret=b"other-secret"),  # another installation
        INC1,  # no tag at all
    ],
)
def test_altered_or_foreign_keys_do_not_verify(key):
    """Changing the ticket, channel or tag, or another secret, fails verification."""
    assert signing.verify_external_key(SECRET, key) is None


def test_issued_key_attaches_without_a_rep():
    """A session from a key the connector issued writes onto its ticket, rep or not."""
    decision = decide(session(issued()), "", policy="issued_only", secret=SECRET)
    assert (decision.matched, decision.ticket_key) == (True, INC1)
    assert "issued by the connector" in decision.reason


def test_forged_key_without_a_rep_is_unmatched():
    """A typed ticket number with no rep taking part is refused under the default policy."""
    decision = decide(session("INC0000002"), "", policy="issued_or_rep", secret=SECRET)
    assert decision.matched is False
    assert decision.ticket_key == "INC0000002"
    assert "'INC0000002' was not issued by the connector" in decision.reason
    assert "no representative took part" in decision.reason


def test_rep_typed_ticket_attaches_under_the_default_policy():
    """A rep who took part vouches for the key they (or the customer) typed."""
    decision = decide(session("INC0000002", reps=[JANE]), "", policy="issued_or_rep", secret=SECRET)
    assert (decision.matched, decision.ticket_key) == (True, "INC0000002")


def test_issued_only_refuses_rep_typed_tickets():
    """issued_only keeps even a rep's typed ticket off the ticket."""
    decision = decide(session("INC0000002", reps=[JANE]), "", policy="issued_only", secret=SECRET)
    assert decision.matched is False
    assert "issued_only" in decision.reason


def test_any_policy_is_the_old_behaviour():
    """any attaches whatever key the session names, tag or not."""
    assert decide(session("INC0000002"), "", policy="any", secret=SECRET).ticket_key == "INC0000002"
    tagged_elsewhere = issued(secret=b"other")
    assert decide(session(tagged_elsewhere), "", policy="any", secret=SECRET).ticket_key == INC1


def test_admin_attachment_wins():
    """An administrator's chosen ticket is used whatever the session says."""
    decision = decide(session("INC0000002"), "", policy="issued_only", secret=SECRET, attached=INC1)
    assert (decision.matched, decision.ticket_key) == (True, INC1)


def test_event_key_is_used_when_the_report_has_none():
    """The event's key counts only when the report carries none; it gets the same scrutiny."""
    assert decide(session(""), issued(), policy="issued_only", secret=SECRET).ticket_key == INC1
    assert decide(session(""), "INC0000002", policy="issued_only", secret=SECRET).matched is False


def test_no_key_is_passed_on_as_empty():
    """A session without any key goes to the no-ticket path (skip or auto-create), not unmatched."""
    decision = decide(session(""), "", policy="issued_only", secret=SECRET)
    assert (decision.matched, decision.ticket_key) == (True, "")


@pytest.mark.parametrize("start", [ISSUED_AT - 3600, ISSUED_AT + 2 * 86400])
def test_issued_key_used_far_from_its_issue_time_does_not_count(start):
    """A tag proves issue, not forever: a session long after (or before) its key is unmatched."""
    decision = decide(session(issued(), start=start), "", policy="issued_or_rep", secret=SECRET)
    assert decision.matched is False
    assert "outside security.issued_key_max_age_seconds" in decision.reason


def test_tampered_tag_is_named_in_the_reason():
    """A key shaped like an issued one whose tag fails says so, for the admin reading it."""
    key = issued()[:-2] + "zz"
    decision = decide(session(key), "", policy="issued_or_rep", secret=SECRET)
    assert decision.matched is False
    assert "tag does not verify" in decision.reason


def test_rep_taking_part_is_read_from_rep_list_and_events():
    """seconds_involved above zero, or any event a rep performed, means a rep took part."""
    assert rep_took_part(session(reps=[JANE])) is True
    idle = Representative(gsnumber="3", seconds_involved=0)
    assert rep_took_part(session(reps=[idle])) is False
    chat = SessionEvent(
        timestamp=None,
        event_type="Chat Message",
        performed_by=Actor("representative", "3", "Sam Tech"),
    )
    assert rep_took_part(session(reps=[idle], events=[chat])) is True
    customer_chat = SessionEvent(
        timestamp=None, event_type="Chat Message", performed_by=Actor("customer", "1", "Mallory")
    )
    assert rep_took_part(session(events=[customer_chat])) is False


def test_unknown_policy_is_a_programming_error():
    """A policy outside the documented three is refused loudly."""
    with pytest.raises(ValueError, match="policy"):
        decide(session("INC1"), "", policy="maybe", secret=SECRET)
