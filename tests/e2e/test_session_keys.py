"""POST /api/v1/session-keys against both emulators: auth, rep mapping, email, failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from connector import signing
from connector.demo import Stack, running_stack

pytestmark = pytest.mark.slow

TOKEN = "test-api-token"  # noqa: S105 - loopback test value
INC1 = "a5000000000000000000000000000001"  # Abel Tuter, "Printer offline on 3rd floor"
INC3 = "a5000000000000000000000000000003"  # Carl Noemail, no email address
SAM = "a1000000000000000000000000000002"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Run both emulators and the connector (no worker: nothing here imports sessions)."""
    with running_stack(
        worker=False,
        **{"api.tokens": [TOKEN], "api.username": "snow", "api.password": "snow-pass"},
    ) as s:
        yield s


def post(stack: Stack, body: dict, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
    kwargs.setdefault("headers", {"Authorization": f"Bearer {TOKEN}"})
    return requests.post(
        f"{stack.connector_url}/api/v1/session-keys", json=body, timeout=30, **kwargs
    )


def sim_keys(stack: Stack) -> list[dict]:
    return requests.get(f"{stack.bomgar_url}/_sim/keys", timeout=10).json()


def emails(stack: Stack) -> list[dict]:
    return stack.services.servicenow.query("sys_email", "")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic c25vdzp3cm9uZw=="},  # snow:wrong
        {"Authorization": f"Token {TOKEN}"},
    ],
)
def test_requests_without_valid_credentials_get_401(stack: Stack, headers: dict) -> None:
    """No, wrong or oddly-schemed credentials are refused with 401 before any key is minted."""
    before = len(sim_keys(stack))
    reply = post(stack, {"table": "incident", "sys_id": INC1}, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"]["status"] == 401
    assert "Bearer" in reply.headers["WWW-Authenticate"]
    assert len(sim_keys(stack)) == before


def test_basic_credentials_from_config_are_accepted(stack: Stack) -> None:
    """api.username/api.password as Basic auth work like a token."""
    reply = post(
        stack, {"table": "incident", "sys_id": INC1}, headers={}, auth=("snow", "snow-pass")
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["queue"] == "general"


def test_key_lands_in_the_requesting_reps_personal_queue(stack: Stack) -> None:
    """jane.rep's key goes to rep:1 with the issued ticket key, short description and caller."""
    reply = post(stack, {"table": "incident", "sys_id": INC1, "requested_by": "jane.rep"})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert len(data["short_key"]) == 7
    assert data["short_key"] in data["key_url"]
    assert data["expires_at"].endswith("Z")
    assert "INC0000001" in data["mail_subject"]
    assert data["key_url"] in data["mail_body"] and "Abel Tuter" in data["mail_body"]
    key = next(k for k in sim_keys(stack) if k["short_key"] == data["short_key"])
    assert key["queue"] == "rep:1"
    issued = signing.verify_external_key(
        stack.services.key_secret, key["custom_attributes"]["external_key"]
    )
    assert issued is not None and (issued.ticket, issued.channel) == (INC1, "k")
    assert key["custom_attributes"]["short_description"] == "Printer offline on 3rd floor"
    assert key["custom_attributes"]["caller"] == "Abel Tuter"


def test_requester_given_by_sys_id_maps_to_their_rep(stack: Stack) -> None:
    """requested_by may be a sys_user sys_id; sam.tech maps to rep:2."""
    reply = post(stack, {"table": "incident", "sys_id": INC1, "requested_by": SAM})
    assert reply.status_code == 200, reply.text
    key = next(k for k in sim_keys(stack) if k["short_key"] == reply.json()["short_key"])
    assert key["queue"] == "rep:2"


def test_unmappable_user_gets_422_and_no_key(stack: Stack) -> None:
    """A ServiceNow user with no Bomgar rep and no named queue is refused; nothing is minted."""
    before = len(sim_keys(stack))
    reply = post(stack, {"table": "incident", "sys_id": INC1, "requested_by": "problem.admin"})
    assert reply.status_code == 422
    assert "no Bomgar representative" in reply.json()["error"]["message"]
    assert len(sim_keys(stack)) == before


def test_unmappable_user_falls_back_to_the_named_queue(stack: Stack) -> None:
    """When the request names a queue, an unmappable requester's key goes there."""
    reply = post(
        stack,
        {"table": "incident", "sys_id": INC1, "requested_by": "problem.admin", "queue": "team:1"},
    )
    assert reply.status_code == 200, reply.text
    key = next(k for k in sim_keys(stack) if k["short_key"] == reply.json()["short_key"])
    assert key["queue"] == "team:1"


def test_email_caller_sends_mail_on_the_ticket_and_adds_a_work_note(stack: Stack) -> None:
    """email_caller mails the caller through the Email API tied to the ticket and notes it."""
    reply = post(
        stack,
        {"table": "incident", "sys_id": INC1, "requested_by": "jane.rep", "email_caller": True},
    )
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["work_note"] is True
    sn = stack.services.servicenow
    mail = sn.get_record("sys_email", data["email_id"])
    assert mail is not None
    assert "abel.tuter@example.com" in mail["recipients"]
    assert (mail["target_table"], mail["instance"]) == ("incident", INC1)
    assert data["short_key"] in mail["body_text"]
    notes = sn.query(
        "sys_journal_field", f"element_id={INC1}^element=work_notes^valueLIKE{data['short_key']}"
    )
    assert len(notes) == 1 and "Abel Tuter" in notes[0]["value"]


def test_caller_without_email_is_refused_before_a_key_is_minted(stack: Stack) -> None:
    """email_caller on a ticket whose caller has no email answers 422 and writes nothing."""
    keys_before, mails_before = len(sim_keys(stack)), len(emails(stack))
    reply = post(
        stack,
        {"table": "incident", "sys_id": INC3, "requested_by": "jane.rep", "email_caller": True},
    )
    assert reply.status_code == 422
    assert "Carl Noemail has no email" in reply.json()["error"]["message"]
    assert len(sim_keys(stack)) == keys_before
    assert len(emails(stack)) == mails_before
    notes = stack.services.servicenow.query("sys_journal_field", f"element_id={INC3}")
    assert notes == []


def test_unknown_ticket_is_404_and_bad_body_is_400(stack: Stack) -> None:
    """A sys_id naming no record answers 404; a malformed body answers 400."""
    missing = post(stack, {"table": "incident", "sys_id": "f" * 32})
    assert missing.status_code == 404
    bad = post(stack, {"table": "incident", "sys_id": "INC0000001"})
    assert bad.status_code == 400
    assert "sys_id" in bad.json()["error"]["message"]


def test_appliance_error_answers_502_and_writes_nothing(stack: Stack) -> None:
    """An appliance failure answers 5xx, and no email or work note is written."""
    mails_before = len(emails(stack))
    requests.post(
        f"{stack.bomgar_url}/_sim/faults",
        json={"error_rate": 1.0, "error_statuses": [500]},
        timeout=10,
    ).raise_for_status()
    try:
        reply = post(
            stack,
            {"table": "incident", "sys_id": INC1, "requested_by": "jane.rep", "email_caller": True},
        )
    finally:
        requests.post(f"{stack.bomgar_url}/_sim/faults", json={"reset": True}, timeout=10)
    assert reply.status_code == 502
    assert reply.json()["error"]["status"] == 502
    assert len(emails(stack)) == mails_before
