"""3PA's pure rules: domains, pre-approval, questions, profile values and passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.errors import DataError
from connector.tpa import models, policy


def app(**kw):
    base = {
        "sys_id": "a" * 32,
        "u_name": "portal",
        "u_display_name": "Portal",
        "u_active": "true",
        "u_directory_groups": "g1\ng2, g1",
        "u_allowed_domains": "",
        "u_preapproved_domains": "",
    }
    base.update(kw)
    return models.Application.from_record(base)


def req(email="pat@partner.example.com", **kw):
    rec = {"sys_id": "b" * 32, "u_application": "a" * 32, "u_email": email}
    rec.update(kw)
    return models.AccessRequest.from_record(rec)


def test_list_fields_split_on_lines_and_commas_without_duplicates():
    """Groups, roles and domains are one per line or comma; repeats and blanks are dropped."""
    assert app().groups == ["g1", "g2"]


@pytest.mark.parametrize(
    ("domain", "rules", "match"),
    [
        ("partner.example.com", ["partner.example.com"], "partner.example.com"),
        ("PARTNER.example.com", ["partner.example.com"], "partner.example.com"),
        ("eu.partner.example.com", ["*.partner.example.com"], "*.partner.example.com"),
        ("partner.example.com", ["*.partner.example.com"], None),
        ("evilpartner.example.com", ["*.partner.example.com"], None),
        ("partner.example.com.evil.org", ["partner.example.com"], None),
        ("partner.example.com", ["*"], None),  # a malformed rule matches nothing
        ("partner.example.com", ["*.com*"], None),
    ],
)
def test_domain_rules_match_exactly_or_below_a_wildcard(domain, rules, match):
    """A rule matches its domain exactly, or with *. only the subdomains; nothing else."""
    assert policy.domain_matches(domain, rules) == match


def test_preapproved_domain_is_approved_without_a_person():
    """A requester whose domain matches the pre-approval rules is approved by the connector."""
    decision = policy.decide(req(), app(u_preapproved_domains="partner.example.com"))
    assert decision.action == "preapprove" and "partner.example.com" in decision.reason


def test_other_domains_wait_for_approvers():
    """Everything else waits for the application's approvers."""
    assert policy.decide(req(), app()).action == "await_approval"


def test_outside_the_allowed_domains_is_rejected_with_the_reason():
    """A user outside the allowed domains gets a clear reason naming the domain."""
    decision = policy.decide(req("x@elsewhere.org"), app(u_allowed_domains="partner.example.com"))
    assert decision.action == "reject"
    assert "elsewhere.org is not allowed" in decision.reason


def test_a_valid_invitation_preapproves_and_a_stale_one_does_not():
    """An unexpired invitation for this address and application pre-approves; others do not."""
    now = datetime.now(UTC)
    good = models.Invitation("i" * 32, "a" * 32, "PAT@partner.example.com", "sent", None)
    assert policy.decide(req(), app(), good, now=now).action == "preapprove"
    expired = models.Invitation(
        "i" * 32, "a" * 32, "pat@partner.example.com", "sent", now - timedelta(days=1)
    )
    other = models.Invitation("i" * 32, "c" * 32, "pat@partner.example.com", "sent", None)
    used = models.Invitation("i" * 32, "a" * 32, "pat@partner.example.com", "accepted", None)
    for inv in (expired, other, used):
        assert policy.decide(req(), app(), inv, now=now).action == "await_approval"


@pytest.mark.parametrize(
    "email", ["", "no-at-sign", "a@b", "a@@b.com", "a b@c.com", "x@c.com\nbcc@d.com"]
)
def test_invalid_addresses_are_refused(email):
    """An address that is not one is a clear problem, never a match."""
    with pytest.raises(policy.RequestProblem, match="not valid"):
        policy.decide(req(email), app())


def test_inactive_application_is_a_problem():
    """An application switched off takes no new requests."""
    with pytest.raises(policy.RequestProblem, match="not active"):
        policy.decide(req(), app(u_active="false"))


def test_questions_parse_into_variables():
    """Question lines become typed, ordered questions with choices for select."""
    qs = policy.parse_questions(
        "# comment\ncompany | Company | text | required\n\nregion | Region | select | optional"
        " | EMEA, APAC\nnotes | Notes"
    )
    assert [(q.name, q.type, q.mandatory, q.choices) for q in qs] == [
        ("company", "text", True, ()),
        ("region", "select", False, ("EMEA", "APAC")),
        ("notes", "text", False, ()),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Company | Company", "lower-case"),
        ("a | A\na | B", "used twice"),
        ("a | A | colour", "expected a type"),
        ("a | A | select", "choices are needed"),
        ("a | A | text | optional | x, y", "choices are needed"),
        ("a | A | text | maybe", "required or optional"),
        ("just one", "expected 'name | label"),
    ],
)
def test_bad_questions_name_the_line_and_the_problem(text, message):
    """A mistake in the questions is reported with its line, never half-applied."""
    with pytest.raises(DataError, match=message):
        policy.parse_questions(text)


def test_answers_must_cover_required_questions_and_choices():
    """A required question without answer, or an unknown choice, is a problem on the request."""
    qs = policy.parse_questions("a | A | text | required\nr | R | select | optional | X, Y")
    policy.check_answers(qs, {"a": "1", "r": "X"})
    with pytest.raises(policy.RequestProblem, match="'A' has no answer"):
        policy.check_answers(qs, {"r": "X"})
    with pytest.raises(policy.RequestProblem, match="not one of the choices"):
        policy.check_answers(qs, {"a": "1", "r": "Z"})


def test_profile_changes_map_to_allowed_attributes_only():
    """Only the mapped fields may change, as clean text."""
    allowed = {"phone": "telephoneNumber", "company": "o"}
    assert policy.check_profile_changes({"phone": " +1 5 "}, allowed) == {"telephoneNumber": "+1 5"}
    for bad, message in (
        ({"uid": "root"}, "cannot be changed"),
        ({"phone": "1\n2"}, "control characters"),
        ({"phone": "x" * 300}, "at most"),
        ({}, "names no field"),
    ):
        with pytest.raises(policy.RequestProblem, match=message):
            policy.check_profile_changes(bad, allowed)


def test_password_checks_never_echo_the_password():
    """A refused password's message says why, never what it was."""
    for bad in ("short", "x" * 300, 12345, "abcdefghijkl\x00m"):
        with pytest.raises(policy.RequestProblem) as info:
            policy.check_password(bad, 12)
        assert str(bad) not in str(info.value)
    assert policy.check_password("long enough pass", 12) == "long enough pass"


def test_answers_that_are_not_a_json_object_are_a_data_error():
    """u_answers must be a JSON object; anything else is an error on the request."""
    with pytest.raises(DataError, match="JSON object"):
        req(u_answers="[1, 2]")
    assert req(u_answers='{"a": 1, "b": null}').answers == {"a": "1", "b": ""}
