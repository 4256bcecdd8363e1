"""Property tests: whatever the appliance (or a stranger) sends, the parsers answer in kind.

The event form parser returns a valid OutboundEvent or raises DataError; the report parsers
return models or raise a ConnectorError (ProtocolError, an appliance error document); nothing
else escapes. Reports built from arbitrary values read back the values they were built from.
"""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.bomgar import replies, reports
from connector.bomgar.events import MAX_EXTERNAL_KEY, parse_event
from connector.errors import ConnectorError, DataError

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = ["event", "version", "timestamp", "lsid", "appliance_id", "external_key", "username"]
LSID = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Text as a form decoder can hand it over: any code point but surrogates.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
form_values = st.one_of(
    any_text,
    st.sampled_from(["support_conference_end", "3", "1718011865", "a" * 32, "", " ", "-1"]),
    st.text(alphabet="0123456789", min_size=1, max_size=20),
    st.just("k" * (MAX_EXTERNAL_KEY + 1)),
)
forms = st.dictionaries(st.one_of(st.sampled_from(FIELDS), any_text), form_values, max_size=10)


@SETTINGS
@given(forms)
def test_event_parser_returns_a_valid_event_or_data_error(form):
    """Any form gives a well-formed OutboundEvent or a DataError naming the field, nothing else."""
    try:
        event = parse_event(form)
    except DataError as exc:
        assert "outbound event field" in str(exc)
        return
    assert re.fullmatch(r"[a-z0-9_]{1,64}", event.event)
    assert event.timestamp >= 0
    assert event.lsid == "" or LSID.fullmatch(event.lsid)
    assert len(event.external_key) <= MAX_EXTERNAL_KEY
    assert event.external_key == event.external_key.strip()
    assert "outbound_event_token" not in dict(event.extra)


@SETTINGS
@given(
    lsid=st.from_regex(LSID, fullmatch=True),
    ts=st.integers(min_value=0, max_value=10**12 - 1),
    key=st.text(st.characters(exclude_categories=("Cs", "Zs", "Cc")), max_size=200),
)
def test_valid_event_fields_survive_parsing(lsid, ts, key):
    """A valid event's lsid, timestamp and external key come through unchanged."""
    event = parse_event(
        {
            "event": "support_conference_end",
            "version": "3",
            "timestamp": str(ts),
            "lsid": lsid,
            "external_key": key,
        }
    )
    assert (event.lsid, event.timestamp, event.external_key) == (lsid, ts, key.strip())


PARSERS = [
    reports.parse_support_sessions,
    lambda data: list(reports.iter_support_sessions(io.BytesIO(data))),
    reports.parse_session_listing,
    lambda data: reports.parse_exit_surveys(data, "customer"),
    replies.parse_session_key,
    replies.parse_logged_in_reps,
    replies.parse_api_info,
]

xml_fragments = st.lists(
    st.sampled_from(
        [
            b"<session_list>",
            b"</session_list>",
            b'<session lsid="a1">',
            b"</session>",
            b"<rep_list><representative><seconds_involved>x</seconds_involved>",
            b"</representative></rep_list>",
            b"<external_key>INC1</external_key>",
            b"<start_time timestamp='-99999999999999'>",
            b"</start_time>",
            b"<error>Invalid lsid</error>",
            b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
            b"<?xml version='1.0' encoding='utf-16'?>",
            b"&amp;&lt;&#0;&#xD800;",
            b"<![CDATA[",
            b"\xff\xfe",
            b"\x00",
        ]
    ),
    max_size=12,
).map(b"".join)


@SETTINGS
@given(st.one_of(st.binary(max_size=400), xml_fragments))
def test_report_parsers_raise_only_connector_errors(data):
    """Arbitrary bytes and broken XML give models or a ConnectorError, never a stray exception."""
    for parse in PARSERS:
        try:
            parse(data)
        except ConnectorError:
            pass


xml_text = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc"),
        exclude_characters="\ufffe\uffff",
    ),
    max_size=60,
)


@SETTINGS
@given(
    lsid=st.from_regex(LSID, fullmatch=True),
    key=xml_text,
    seconds=st.integers(min_value=0, max_value=10**6),
    username=xml_text,
    chat=xml_text,
)
def test_report_values_read_back_as_built(lsid, key, seconds, username, chat):
    """A session built from arbitrary values parses back to them, whole and streamed alike."""
    doc = (
        '<session_list xmlns="http://www.bomgar.com/namespaces/API/reporting">'
        f"<session lsid={quoteattr(lsid)}>"
        f"<external_key>{escape(key)}</external_key>"
        '<rep_list><representative gsnumber="2" id="1">'
        f"<username>{escape(username)}</username>"
        f"<seconds_involved>{seconds}</seconds_involved>"
        "</representative></rep_list>"
        '<session_details><event timestamp="1718011002" event_type="Chat Message">'
        '<performed_by type="customer" gsnumber="1">C</performed_by>'
        f"<body>{escape(chat)}</body></event></session_details>"
        "</session></session_list>"
    ).encode()
    whole = reports.parse_support_sessions(doc)
    streamed = list(reports.iter_support_sessions(io.BytesIO(doc)))
    for (session,) in (whole, streamed):
        assert session.lsid == lsid
        expected_key = key.strip()
        assert session.ticket_key == ("" if expected_key == "Unknown" else expected_key)
        (rep,) = session.reps
        assert rep.seconds_involved == seconds
        assert rep.username == ("" if username.strip() == "Unknown" else username.strip())
        assert [m.body for m in session.chat] == (
            [chat.strip()] if chat.strip() else [chat.strip()]
        )
