"""Tests for connector.bomgar.reports: SupportSession and the other report/command parsers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from connector.bomgar import replies, reports, xmldoc, xmltext
from connector.bomgar.xmldoc import (
    BomgarAuthError,
    BomgarNotFound,
    BomgarRejected,
    BomgarServerError,
)
from connector.errors import AuthError, NotFound, ProtocolError, ServerError, StatusError
from tests.unit.bomgar.conftest import load

LSID = "3f2a7c0e9b1d4e6fa8c25d0b71e94c33"
RUNNING = "0b9e5d1c2a3f4e5d6c7b8a9f0e1d2c3b"


def utc(*args: int) -> datetime:
    """Build an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def sessions_by_lsid(namespace: str) -> dict:
    """Parse the SupportSession fixture in one namespace variant."""
    return {
        s.lsid: s for s in reports.parse_support_sessions(load("support_sessions.xml", namespace))
    }


def test_session_core_fields_in_every_namespace(namespace: str) -> None:
    """Top-level SupportSession fields parse the same whatever the default namespace is."""
    s = sessions_by_lsid(namespace)[LSID]
    assert s.lseq == 14
    assert s.session_type == "support"
    assert s.start_time == utc(2024, 6, 10, 9, 15)
    assert s.end_time == utc(2024, 6, 10, 9, 31, 5)
    assert s.duration_seconds == 16 * 60 + 5
    assert (s.public_site, s.public_site_id) == ("Default", "1")
    assert s.external_key == "INC0000001"
    assert s.custom_attributes == {"external_key": "INC0000001", "ci_name": "WS-LAB-0042"}
    assert s.chat_view_url.endswith("?lsid=" + LSID + "&dl_action=chat&view=1")
    assert s.chat_download_url.endswith("&dl_action=chat")
    assert s.recording_view_url.endswith("&dl_action=recording&view=1")
    assert s.recording_download_url == ""
    assert (s.file_transfer_count, s.file_move_count, s.file_delete_count) == (3, 0, 1)
    assert (s.primary_customer_name, s.primary_customer_gsnumber) == ("Abel Tuter", "2")
    assert (s.primary_rep_name, s.primary_rep_gsnumber, s.primary_rep_id) == ("Jane Rep", "5", "1")
    assert (s.jumpoint, s.jumpoint_id) == ("Lab Jumpoint", "3")
    assert (s.jump_group, s.jump_group_id, s.jump_group_type) == ("Lab Machines", "7", "shared")
    assert s.command_shell_recordings[0].view_url == "https://support.example.test/shell?i=0&view=1"
    assert s.ended


def test_session_people(namespace: str) -> None:
    """Customers (with info/*) and representatives are read with their flags and numbers."""
    s = sessions_by_lsid(namespace)[LSID]
    cust = s.customers[0]
    assert (cust.gsnumber, cust.username, cust.public_ip) == (
        "2",
        "abel.tuter",
        "203.0.113.7:50123",
    )
    assert (cust.private_ip, cust.hostname, cust.os) == (
        "10.20.0.42",
        "WS-LAB-0042",
        "Windows 11 Pro",
    )
    assert cust.primary is True
    assert cust.info == {
        "name": "Abel Tuter",
        "company": "Example Corp",
        "company_code": "EX1",
        "issue": "Printing",
        "details": "Printer offline on 3rd floor",
    }
    jane, sam = s.reps
    assert (jane.id, jane.username, jane.public_ip) == ("1", "jane.rep", "[2001:db8::5]:61000")
    assert jane.name == "Jane Rep (Service Desk)"
    assert (jane.session_owner, jane.primary_rep, jane.invited) == (True, True, False)
    assert jane.seconds_involved == 965
    assert (sam.gsnumber, sam.invited, sam.session_owner, sam.seconds_involved) == (
        "6",
        True,
        False,
        120,
    )
    assert s.primary_rep is jane and s.primary_customer is cust


def test_session_events_and_derived_lists(namespace: str) -> None:
    """session_details become SessionEvents and the chat/file/note/sysinfo/transfer lists."""
    s = sessions_by_lsid(namespace)[LSID]
    assert [e.event_type for e in s.events][:3] == ["Session Start", "Chat Message", "Chat Message"]
    start = s.events[0]
    assert start.performed_by is not None
    assert (start.performed_by.kind, start.performed_by.gsnumber) == ("system", "0")
    assert [(c.sender, c.sender_kind, c.body) for c in s.chat] == [
        ("Jane Rep", "representative", "Please open the printer panel & tell me what it says."),
        ("Abel Tuter", "customer", 'It says "Offline".'),  # from encoded_body (base64)
    ]
    assert s.chat[0].timestamp == utc(2024, 6, 10, 9, 16, 42)
    files = [
        (f.direction, f.filename, f.filesize, f.failed, f.performed_by, f.destination)
        for f in s.files
    ]
    assert files == [
        ("upload", "driver.zip", 204800, False, "Jane Rep", "Abel Tuter"),
        ("download", "log1.txt", 100, False, "Abel Tuter", "Jane Rep"),
        ("download", "log2.txt", None, False, "Abel Tuter", "Jane Rep"),
        ("upload", "big.iso", 999999, True, "Jane Rep", ""),
    ]
    assert [(n.author, n.body) for n in s.notes] == [("Jane Rep", "Replaced the printer driver.")]
    overview, drives = s.system_info
    assert overview.name == "Overview"
    assert overview.columns == {"os": "Operating System", "ram": "Memory"}
    assert overview.rows == [{"os": "Windows 11 Pro", "ram": "16 GB"}]
    assert drives.rows == [{"letter": "C:", "free": "120 GB"}, {"letter": "D:", "free": "1 TB"}]
    assert [(t.event_type, t.performed_by, t.destination) for t in s.transfers] == [
        ("Session Transferred to Queue", "Jane Rep", "Desktop Support"),
        ("Conference Owner Changed", "System", "Sam Tech"),
    ]
    unknown = [e for e in s.events if e.event_type == "Quantum Flux Calibrated"]
    assert unknown and unknown[0].data == {"level": "11"}
    assert s.events[-1].event_type == "Session End" and s.events[-1].performed_by is None


def test_inline_surveys(namespace: str) -> None:
    """cust_survey_list and rep_survey_list become Surveys with normalised answers."""
    s = sessions_by_lsid(namespace)[LSID]
    cust, rep = s.surveys
    assert (cust.kind, cust.lsid, cust.gsnumber) == ("customer", LSID, "2")
    assert {a.name: a.answer for a in cust.answers} == {
        "rating": "5",
        "comments": "Quick\nand friendly",
    }
    assert (rep.kind, rep.gsnumber, rep.answers[0].answer) == ("representative", "5", "yes")


def test_running_session_tolerates_missing_empty_unknown_and_whitespace(namespace: str) -> None:
    """A running session with empty, Unknown and oddly spaced elements parses to safe defaults."""
    s = sessions_by_lsid(namespace)[RUNNING]
    assert s.lseq == 15
    assert s.end_time is None and not s.ended
    assert s.start_time == utc(2024, 6, 10, 8, 0)  # ISO text with +02:00, no timestamp attribute
    assert s.duration_seconds == 125 * 3600 + 3 * 60 + 9  # hours are unbounded
    assert s.public_site == "Default"
    assert s.external_key == "" and s.custom_attributes == {}
    assert s.file_transfer_count == 0  # "Unknown"
    assert s.primary_customer_name == "" and s.primary_customer_gsnumber == "3"
    assert (s.customers[0].username, s.customers[0].public_ip) == ("", "")
    assert s.reps == [] and s.chat == [] and s.surveys == []
    assert s.chat_view_url == "" and s.jumpoint == ""


def test_stream_parser_matches_whole_document_parser(namespace: str) -> None:
    """iter_support_sessions yields exactly what parse_support_sessions returns."""
    data = load("support_sessions.xml", namespace)
    streamed = list(reports.iter_support_sessions(io.BytesIO(data)))
    assert streamed == reports.parse_support_sessions(data)
    assert [s.lsid for s in streamed] == [LSID, RUNNING]


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("00:00:00", 0),
        ("1:02:03", 3723),
        ("250:00:01", 900001),
        ("42", 42),
        ("", None),
        ("Unknown", None),
    ],
)
def test_parse_duration(text: str, duration: int | None) -> None:
    """Durations are HH:MM:SS with unbounded hours; absent or Unknown gives None."""
    assert xmltext.parse_duration(text) == duration


@pytest.mark.parametrize("text", ["x", "²", "1:²:00", "9" * 5000 + ":00:00", "12:75:00", "٣"])
def test_parse_duration_refuses_what_cannot_be_a_duration(text: str) -> None:
    """Text that is no duration (superscripts, foreign digits, 5,000-digit hours) is refused."""
    with pytest.raises(xmltext.BadValue):
        xmltext.parse_duration(text)


def test_a_session_with_unconvertible_data_comes_back_alone_with_its_problem() -> None:
    """One session's garbage does not spoil the report: it carries a problem, the others parse."""
    good = "0123456789abcdef0123456789abcdef"
    bad = "fedcba9876543210fedcba9876543210"
    data = (
        "<session_list>"
        f'<session lsid="{bad}"><duration>²</duration></session>'
        f'<session lsid="{good}"><duration>00:01:00</duration>'
        '<end_time timestamp="1718000000"/></session>'
        "</session_list>"
    ).encode()
    parsed = {s.lsid: s for s in reports.parse_support_sessions(data)}
    assert "duration" in parsed[bad].problem and "²" in parsed[bad].problem
    assert parsed[good].problem == "" and parsed[good].duration_seconds == 60
    streamed = {s.lsid: s for s in reports.iter_support_sessions(io.BytesIO(data))}
    assert streamed == parsed


def test_time_prefers_timestamp_attribute_over_text() -> None:
    """When both exist, the epoch timestamp attribute wins over the ISO text."""
    data = (
        b'<session_list><session lsid="a1"><start_time timestamp="0">2030-01-01T00:00:00Z'
        b"</start_time><end_time> 2024-06-10T09:31:05 </end_time></session></session_list>"
    )
    (s,) = reports.parse_support_sessions(data)
    assert s.start_time == utc(1970, 1, 1)
    assert s.end_time == utc(2024, 6, 10, 9, 31, 5)  # naive ISO text is read as UTC


def test_session_without_lsid_is_a_protocol_error() -> None:
    """A session element without lsid cannot be imported and is reported as a protocol error."""
    with pytest.raises(ProtocolError, match="lsid"):
        reports.parse_support_sessions(
            b"<session_list><session><lseq>1</lseq></session></session_list>"
        )


def test_empty_session_list() -> None:
    """An empty report is an empty list, not an error."""
    assert reports.parse_support_sessions(b"<session_list xmlns='urn:x'/>") == []
    assert list(reports.iter_support_sessions(io.BytesIO(b"<session_list/>"))) == []


# --- Error documents -----------------------------------------------------------------------


ERRORS = [
    ("Login failed", BomgarAuthError, AuthError, True),
    ("Invalid lsid.", BomgarNotFound, NotFound, True),
    ("No archives found for the given search criteria.", BomgarNotFound, NotFound, True),
    (
        "This recording has expired and can no longer be viewed or downloaded.",
        BomgarNotFound,
        NotFound,
        True,
    ),
    ("Request could not be completed.", BomgarServerError, ServerError, False),
    ("Unknown parameter lsidz.", BomgarRejected, StatusError, True),
]


@pytest.mark.parametrize(("message", "kind", "base", "permanent"), ERRORS)
@pytest.mark.parametrize("placement", ["root", "nested"])
def test_error_documents(
    namespace: str, placement: str, message: str, kind: type, base: type, permanent: bool
) -> None:
    """An <error> as root or child of the root raises the class its message implies."""
    ns = "" if namespace == "none" else f' xmlns="https://example.test/{namespace}/API/reporting"'
    if placement == "root":
        data = f"<error{ns}>{message}</error>".encode()
    else:
        data = f"<session_list{ns}>\n <error>{message}</error>\n</session_list>".encode()
    with pytest.raises(kind) as caught:
        reports.parse_support_sessions(data)
    assert isinstance(caught.value, base)
    assert caught.value.permanent is permanent
    assert message in str(caught.value) and caught.value.service == "bomgar"
    with pytest.raises(kind):
        list(reports.iter_support_sessions(io.BytesIO(data)))


def test_nested_error_in_command_reply() -> None:
    """Command replies check for a nested error before reading their content."""
    data = load("logged_in_reps.xml").replace(
        b'<rep id="1">', b'<error>Login failed</error><rep id="1">'
    )
    with pytest.raises(BomgarAuthError, match="Login failed"):
        replies.parse_logged_in_reps(data)


def test_non_2xx_status_decides_the_class() -> None:
    """With a failing HTTP status, the status picks the class whatever the text says."""
    assert xmldoc.classify_error("Login failed", 503) is BomgarServerError
    assert xmldoc.classify_error("whatever", 429) is xmldoc.BomgarRateLimited
    assert xmldoc.classify_error("whatever", 404) is BomgarNotFound
    assert xmldoc.classify_error("whatever", 200) is BomgarRejected


def test_wrong_root_is_protocol_error() -> None:
    """A document of the wrong kind is a (retryable) protocol error naming both roots."""
    with pytest.raises(ProtocolError, match="session_list.*logged_in_reps") as caught:
        reports.parse_support_sessions(load("logged_in_reps.xml"))
    assert caught.value.permanent is False
    with pytest.raises(ProtocolError, match="session_list"):
        list(reports.iter_support_sessions(io.BytesIO(load("logged_in_reps.xml"))))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"<session_list><session lsid='a'>",
        b"<session_list>&nbsp;</session_list>",
        b"not xml",
    ],
)
def test_malformed_xml_is_retryable_protocol_error(data: bytes) -> None:
    """Truncated or broken XML raises a retryable ProtocolError in both parsers."""
    with pytest.raises(ProtocolError) as caught:
        reports.parse_support_sessions(data)
    assert caught.value.permanent is False
    with pytest.raises(ProtocolError) as caught:
        list(reports.iter_support_sessions(io.BytesIO(data)))
    assert caught.value.permanent is False


# --- Other reports and command replies ------------------------------------------------------


def test_customer_exit_surveys(namespace: str) -> None:
    """SupportCustExitSurvey: answers per question, multi-answers joined, \\n normalised."""
    (survey,) = reports.parse_exit_surveys(load("cust_exit_survey.xml", namespace), "customer")
    assert (survey.kind, survey.lsid, survey.submitted_by, survey.gsnumber) == (
        "customer",
        LSID,
        "Abel Tuter",
        "2",
    )
    assert survey.submitted_at == utc(2024, 6, 10, 9, 31, 40)
    answers = {a.name: (a.question_id, a.label, a.answer) for a in survey.answers}
    assert answers == {
        "rating": ("1", "How satisfied are you?", "5"),
        "comments": ("2", "Comments", "Great help.\nPrinter works again."),
        "topics": ("3", "What did we fix?", "Printer; Driver"),
        "other": ("4", "Anything else?", ""),
    }


def test_rep_exit_surveys_read_any_time_attribute(namespace: str) -> None:
    """SupportRepExitSurvey: the (unconfirmed) time attribute is found by its epoch value."""
    (survey,) = reports.parse_exit_surveys(
        load("rep_exit_survey.xml", namespace), "SupportRepExitSurvey"
    )
    assert (survey.kind, survey.gsnumber) == ("representative", "5")
    assert survey.submitted_at == utc(2024, 6, 10, 9, 32, 30)
    assert survey.answers[0].answer == "yes"


def test_unknown_survey_kind_is_rejected() -> None:
    """A survey kind other than customer/representative is a programming error."""
    with pytest.raises(ValueError, match="kind"):
        reports.parse_exit_surveys(load("cust_exit_survey.xml"), "team")


def test_session_listing(namespace: str) -> None:
    """SupportSessionListing gives lsid, has_recording and the optional external_key."""
    listing = reports.parse_session_listing(load("session_listing.xml", namespace))
    assert [(s.lsid, s.has_recording, s.external_key) for s in listing] == [
        (LSID, True, "INC0000001"),
        (RUNNING, False, ""),
    ]


def test_session_key(namespace: str) -> None:
    """generate_session_key: the expires timestamp attribute wins over its text."""
    key = replies.parse_session_key(load("session_key.xml", namespace))
    assert key.short_key == "5180427"
    assert key.key_url == "https://support.example.test/?ak=5180427&l=en"
    assert (key.mail_subject, key.mail_body) == (
        "Remote support invitation",
        "Open the link to connect.",
    )
    assert key.expires == utc(2024, 6, 10, 7, 13, 20)


def test_session_key_expires_as_epoch_text() -> None:
    """Older builds send expires as epoch text without an attribute."""
    data = (
        b"<session_key><short_key>1234567</short_key><expires> 1718003600 </expires></session_key>"
    )
    key = replies.parse_session_key(data)
    assert key.expires == utc(2024, 6, 10, 7, 13, 20) and key.mail_subject == ""


def test_session_key_without_short_key_is_protocol_error() -> None:
    """A session_key reply with no key cannot be used."""
    with pytest.raises(ProtocolError, match="short_key"):
        replies.parse_session_key(b"<session_key><key_url>x</key_url></session_key>")


def test_logged_in_reps(namespace: str) -> None:
    """get_logged_in_reps: ids, names, counts, flags and the HTML direct link as text."""
    jane, una = replies.parse_logged_in_reps(load("logged_in_reps.xml", namespace))
    assert (jane.id, jane.name, jane.type) == ("1", "Jane Rep (Service Desk)", "Normal")
    assert jane.direct_link.startswith('<a href="https://support.example.test/?id=1&name=Jane"')
    assert jane.logged_in_since == utc(2024, 6, 10, 6, 13, 20)
    assert (jane.support_session_count, jane.showing_on_rep_list) == (2, True)
    assert (una.id, una.name, una.type, una.showing_on_rep_list) == (
        "3",
        "Una Mapped",
        "Invited",
        False,
    )
    assert una.logged_in_since == utc(2024, 6, 10, 8, 0)


def test_support_teams(namespace: str) -> None:
    """get_support_teams: id, name and code name when present."""
    teams = replies.parse_support_teams(load("support_teams.xml", namespace))
    assert [(t.id, t.name, t.code_name) for t in teams] == [
        ("1", "Service Desk", "service_desk"),
        ("2", "Desktop Support", ""),
    ]


def test_api_info_both_roots(namespace: str) -> None:
    """get_api_info is read from api_information (real) or get_api_info (documented)."""
    data = load("api_info.xml", namespace)
    for doc in (data, data.replace(b"api_information", b"get_api_info")):
        info = replies.parse_api_info(doc)
        assert (info.api_version, info.company_name) == ("1.18.0", "Example Corp")
        assert info.timestamp == utc(2024, 6, 10, 9, 0)
        assert info.permissions == {
            "perm_backup": "0",
            "perm_command": "full",
            "perm_reporting_support": "1",
        }


def test_session_attributes(namespace: str) -> None:
    """get_session_attributes gives values and labels by code name, empty values kept."""
    attrs = replies.parse_session_attributes(load("session_attributes.xml", namespace))
    assert attrs.values == {"external_key": "INC0000001", "ci_name": ""}
    assert attrs.labels["ci_name"] == "Configuration Item"


def test_success_reply() -> None:
    """set_session_attributes replies with a success element, as root or child."""
    assert (
        replies.parse_success(b"<success xmlns='urn:a'> Attributes set. </success>")
        == "Attributes set."
    )
    assert (
        replies.parse_success(
            b"<set_session_attributes><success>ok</success></set_session_attributes>"
        )
        == "ok"
    )
    with pytest.raises(ProtocolError):
        replies.parse_success(b"<something/>")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'<error xmlns="x">Invalid token</error>', "Invalid token"),
        (b"<?xml version='1.0'?><logged_in_reps><error>Denied</error></logged_in_reps>", "Denied"),
        (b"<!-- note --><r><!-- c --><error>tok</error></r>", "tok"),
        (b"<error/>", "unspecified error"),
        # An error after the first child belongs to whoever parses the whole document.
        (b'<session_list><session lsid="a"/><error>token</error></session_list>', None),
        (b"<session_list/>", None),
        (b"<a><b>", None),
        (b"not xml at all", None),
        (b'<!DOCTYPE r [<!ENTITY e "token">]><error>&e;</error>', None),
    ],
)
def test_leading_error(body, expected):
    """Only an <error> root or first child counts, and hostile or broken XML gives None."""
    assert xmldoc.leading_error(body) == expected


def test_leading_error_stops_at_the_first_session():
    """A report is decided at its first session: a broken tail is never read."""
    body = b'<session_list><session lsid="a"></session>' + b" " * 10_000 + b"<<<broken"
    assert xmldoc.leading_error(body) is None
