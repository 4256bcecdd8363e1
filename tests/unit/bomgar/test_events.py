"""Tests for connector.bomgar.events: validating the appliance's outbound event forms."""

from __future__ import annotations

import pytest

from connector.bomgar.events import KNOWN_EVENTS, is_known, parse_event
from connector.errors import DataError

GOOD = {
    "event": "support_conference_end",
    "version": "3",
    "timestamp": "1718011865",
    "appliance_id": "a1b2c3d4-0000-4000-8000-000000000001",
    "lsid": "3f2a7c0e9b1d4e6fa8c25d0b71e94c33",
    "external_key": " INC0000001 ",
    "username": "jane.rep",
    "display_name": "Jane Rep",
}


def form(**changes: str | None) -> dict[str, str]:
    """Return the good form with fields changed (None removes a field)."""
    out = dict(GOOD)
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def test_good_form_parses() -> None:
    """A complete form becomes an OutboundEvent with extras sorted and the key trimmed."""
    event = parse_event(GOOD)
    assert (event.event, event.version, event.timestamp) == (
        "support_conference_end",
        "3",
        1718011865,
    )
    assert event.lsid == GOOD["lsid"] and event.appliance_id == GOOD["appliance_id"]
    assert event.external_key == "INC0000001"
    assert event.extra == (("display_name", "Jane Rep"), ("username", "jane.rep"))
    assert event.dedupe_key == f"{GOOD['lsid']}|support_conference_end|1718011865"


def test_minimal_form_parses() -> None:
    """Only event, version, timestamp and (for conference events) lsid are required."""
    event = parse_event(
        {"event": "support_conference_begin", "version": "1", "timestamp": "0", "lsid": "abc-1_2"}
    )
    assert (event.appliance_id, event.external_key, event.extra) == ("", "", ())


def test_unknown_but_valid_event_is_accepted() -> None:
    """A well-formed unknown event name is valid (the webhook stores it as ignored)."""
    event = parse_event({"event": "rep_login", "version": "1", "timestamp": "5"})
    assert event.event == "rep_login" and event.lsid == ""
    assert not is_known(event.event)


def test_known_events() -> None:
    """The seven documented event names are known, others are not."""
    assert len(KNOWN_EVENTS) == 7
    assert is_known("support_conference_customer_exit_survey_completed")
    assert is_known("support_conference_rep_exit_survey_completed")
    assert not is_known("support_conference_ended")


def test_secret_token_is_never_kept() -> None:
    """An outbound_event_token that leaked into the form is not stored among the extras."""
    event = parse_event(form(outbound_event_token="s3cret"))
    assert all(name != "outbound_event_token" for name, _ in event.extra)


@pytest.mark.parametrize(
    ("changes", "field", "found"),
    [
        ({"event": None}, "event", "no such field"),
        ({"event": ""}, "event", "an empty value"),
        ({"event": "Support-Conference-End"}, "event", "'Support-Conference-End'"),
        ({"event": "e" * 65}, "event", "(65 characters)"),
        ({"version": None}, "version", "no such field"),
        ({"version": "1" * 17}, "version", repr("1" * 17)),
        ({"version": "v" * 300}, "version", "(300 characters)"),
        ({"timestamp": None}, "timestamp", "no such field"),
        ({"timestamp": "-5"}, "timestamp", "'-5'"),
        ({"timestamp": "17180.5"}, "timestamp", "'17180.5'"),
        ({"timestamp": "yesterday"}, "timestamp", "'yesterday'"),
        ({"lsid": None}, "lsid", "no value"),
        ({"lsid": "   "}, "lsid", "no value"),
        ({"lsid": "../../etc/passwd"}, "lsid", "'../../etc/passwd'"),
        ({"lsid": "a" * 65}, "lsid", "(65 characters)"),
        ({"external_key": "K" * 1025}, "external_key", "(1025 characters)"),
    ],
)
def test_bad_forms_name_field_expectation_and_value(changes: dict, field: str, found: str) -> None:
    """Each problem raises DataError naming the field, what was expected and what was found."""
    with pytest.raises(DataError) as caught:
        parse_event(form(**changes))
    message = str(caught.value)
    assert f"'{field}'" in message and "expected" in message and found in message
    assert len(message) < 250  # long values are truncated, not echoed whole


def test_non_text_value_is_rejected() -> None:
    """A non-string value (e.g. a list from a careless caller) is a DataError, not a crash."""
    with pytest.raises(DataError, match="'timestamp'.*text"):
        parse_event(form(timestamp=[1]))  # type: ignore[arg-type]


def test_overlong_extra_field_is_rejected() -> None:
    """Extra fields are kept but bounded in length."""
    with pytest.raises(DataError, match="'display_name'"):
        parse_event(form(display_name="x" * 5000))
