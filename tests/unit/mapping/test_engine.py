"""Tests of MappingSet with the default mappings: what one session turns into."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.bomgar.models import SupportSession
from connector.errors import ConfigError, DataError
from connector.mapping import MappingSet, default_mapping_paths
from tests.unit.mapping.sessions import LSID, REP_USER, TICKET, full_session

SESSION_FIELDS = {
    "u_lsid",
    "u_task",
    "u_start_time",
    "u_end_time",
    "u_duration",
    "u_primary_rep",
    "u_rep_name",
    "u_customer_name",
    "u_customer_hostname",
    "u_customer_os",
    "u_customer_public_ip",
    "u_customer_private_ip",
    "u_public_site",
    "u_appliance_id",
    "u_chat_transcript",
    "u_system_info",
    "u_file_transfer_count",
    "u_chat_url",
    "u_recording_url",
}
MARKER = f"[Bomgar session {LSID}]"


@pytest.fixture(scope="module")
def mappings() -> MappingSet:
    """Load the shipped default mappings once."""
    return MappingSet.load(default_mapping_paths())


def copy_defaults(tmp_path: Path, **replace: str) -> list[Path]:
    """Copy the default mapping files into tmp_path, replacing the named files' text."""
    for path in default_mapping_paths():
        shutil.copy(path, tmp_path / path.name)
    for name, text in replace.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return sorted(tmp_path.glob("*.yaml"))


def test_default_mapping_paths_lists_the_shipped_files():
    """default_mapping_paths returns the sorted *.yaml files embedded in the package."""
    names = [p.name for p in default_mapping_paths()]
    assert names == sorted(names)
    assert {"session.yaml", "work_note.yaml", "survey.yaml", "texts.yaml"} <= set(names)
    assert all(p.is_file() for p in default_mapping_paths())


def test_session_record_has_exactly_the_listed_fields(mappings):
    """The default mapping writes exactly the 19 u_bomgar_session fields, all as strings."""
    plan = mappings.plan_session(
        full_session(), ticket=TICKET, rep_user=REP_USER, appliance_id="appliance-7"
    )
    record = plan.session_record
    assert record.table == "u_bomgar_session"
    assert record.key == {"u_lsid": LSID}
    assert set(record.fields) == SESSION_FIELDS
    assert all(isinstance(v, str) for v in record.fields.values())
    f = record.fields
    assert f["u_task"] == TICKET["sys_id"]
    assert f["u_start_time"] == "2024-03-04 14:00:00"
    assert f["u_end_time"] == "2024-03-04 15:02:03"
    assert f["u_duration"] == "3723"
    assert f["u_primary_rep"] == REP_USER["sys_id"]
    assert f["u_rep_name"] == "Sam Tech"
    assert f["u_customer_name"] == "Beth Anglin"
    assert f["u_customer_hostname"] == "ws-lab-0043"
    assert f["u_customer_os"] == "Windows 11 Pro"
    assert f["u_customer_public_ip"] == "203.0.113.9"
    assert f["u_customer_private_ip"] == "10.20.0.43"
    assert f["u_public_site"] == "Main Site"
    assert f["u_appliance_id"] == "appliance-7"
    assert f["u_chat_transcript"].splitlines()[0] == "[14:00:00] Sam Tech: message number 0"
    assert f["u_system_info"] == "[Overview]\nOperating System: Windows 11 Pro"
    assert f["u_file_transfer_count"] == "2"
    assert f["u_chat_url"].endswith("dl_action=chat")
    assert f["u_recording_url"].endswith("view=1")


def test_missing_rep_user_and_sparse_session_render_empty_fields(mappings):
    """A session with only an lsid and no matched rep renders empty strings, not errors."""
    plan = mappings.plan_session(SupportSession(lsid=LSID), ticket=TICKET, rep_user=None)
    f = plan.session_record.fields
    assert set(f) == SESSION_FIELDS
    assert f["u_primary_rep"] == ""
    assert f["u_start_time"] == f["u_end_time"] == f["u_duration"] == ""
    assert f["u_rep_name"] == ""
    assert plan.survey_rows == []
    assert plan.attachments == []


def test_duration_falls_back_to_start_and_end(mappings):
    """Without a reported duration, u_duration is the seconds between start and end."""
    session = dataclasses.replace(full_session(), duration_seconds=None)
    plan = mappings.plan_session(session, ticket=TICKET, rep_user=None)
    assert plan.session_record.fields["u_duration"] == "3723"


def test_one_survey_row_per_answered_question(mappings):
    """Each non-empty survey answer becomes one row keyed on the question's internal name."""
    plan = mappings.plan_session(full_session(), ticket=TICKET, rep_user=REP_USER)
    rows = [
        (
            r.fields["u_survey_type"],
            r.fields["u_question"],
            r.fields["u_question_label"],
            r.fields["u_answer"],
        )
        for r in plan.survey_rows
    ]
    assert rows == [
        ("customer", "satisfaction", "How satisfied are you?", "Very satisfied"),
        ("customer", "recommend", "recommend", "Yes"),
        ("representative", "resolved", "Was the issue resolved?", "Yes"),
    ]
    first = plan.survey_rows[0]
    assert first.table == "u_bomgar_survey_response"
    assert first.key == {
        "u_lsid": LSID,
        "u_survey_type": "customer",
        "u_question": "satisfaction",
    }
    assert first.session_link_field == "u_session"
    assert first.fields["u_task"] == TICKET["sys_id"]
    assert first.fields["u_submitted_by"] == "Beth Anglin"
    assert "u_session" not in first.fields


def test_long_transcript_is_truncated_and_attached(mappings):
    """A transcript over 4000 characters is cut in the field and attached whole as UTF-8 text."""
    session = full_session(chat_lines=200)
    plan = mappings.plan_session(session, ticket=TICKET, rep_user=REP_USER)
    field = plan.session_record.fields["u_chat_transcript"]
    assert len(field) <= 4000
    assert field.startswith("[14:00:00] Sam Tech: message number 0")
    name = f"chat-transcript-{LSID}.txt"
    assert field.endswith(f"the full text is attached as {name}]")
    assert len(plan.attachments) == 1
    attachment = plan.attachments[0]
    assert attachment.file_name == name
    assert attachment.content_type == "text/plain; charset=utf-8"
    text = attachment.content.decode("utf-8")
    assert "message number 0\n" in text
    assert text.rstrip().endswith("message number 199")


def test_short_transcript_has_no_attachment(mappings):
    """A transcript that fits in the field is written whole and nothing is attached."""
    plan = mappings.plan_session(full_session(chat_lines=3), ticket=TICKET, rep_user=None)
    assert plan.attachments == []
    assert plan.session_record.fields["u_chat_transcript"].count("\n") == 2


def test_overlong_values_are_fit_to_the_column(mappings):
    """A value longer than its column (u_rep_name, 100) is cut with a visible marker."""
    session = full_session()
    session.reps[1].private_display_name = "S" * 300
    plan = mappings.plan_session(session, ticket=TICKET, rep_user=None)
    name = plan.session_record.fields["u_rep_name"]
    assert len(name) == 100
    assert name.endswith("…")


def test_work_note_targets_the_ticket_and_carries_the_marker(mappings):
    """The work note goes to the ticket's table and sys_id and contains the session marker."""
    plan = mappings.plan_session(full_session(), ticket=TICKET, rep_user=REP_USER)
    note = plan.work_note
    assert note is not None
    assert (note.table, note.sys_id, note.element) == ("incident", TICKET["sys_id"], "work_notes")
    assert note.marker == MARKER
    assert note.text.count(MARKER) == 1
    assert "Representative: Sam Tech" in note.text
    assert "Duration: 1 h 02 min 03 s" in note.text
    assert "- sent to the customer: vpn-fix.ps1 (12.3 KB)" in note.text
    assert "Reinstalled VPN client." in note.text


def test_work_note_falls_back_to_task_table(mappings):
    """A ticket without sys_class_name gets its note on the task table."""
    ticket = {k: v for k, v in TICKET.items() if k != "sys_class_name"}
    plan = mappings.plan_session(full_session(), ticket=ticket, rep_user=None)
    assert plan.work_note.table == "task"


def test_marker_is_added_when_the_template_omits_it(tmp_path):
    """The engine appends the marker when an admin's work-note template leaves it out."""
    paths = copy_defaults(tmp_path, work_note="work_note:\n  template: 'Session {{ lsid }} done'\n")
    plan = MappingSet.load(paths).plan_session(full_session(), ticket=TICKET, rep_user=None)
    assert plan.work_note.text == f"Session {LSID} done\n\n{MARKER}"


def test_marker_survives_work_note_truncation(tmp_path):
    """A work note cut to max_length still ends with the whole marker."""
    text = "work_note:\n  max_length: 80\n  template: \"{{ 'x' * 500 }}\"\n"
    paths = copy_defaults(tmp_path, work_note=text)
    plan = MappingSet.load(paths).plan_session(full_session(), ticket=TICKET, rep_user=None)
    assert len(plan.work_note.text) <= 80
    assert plan.work_note.text.endswith("\n" + MARKER)


def test_ticket_without_sys_id_is_a_data_error(mappings):
    """Planning for a ticket that has no sys_id raises DataError instead of writing nowhere."""
    with pytest.raises(DataError, match="sys_id"):
        mappings.plan_session(full_session(), ticket={"number": "INC1"}, rep_user=None)


def test_render_text_fills_the_session_key_mail(mappings):
    """render_text renders the session-key mail with its documented context."""
    context = {
        "short_key": "7654321",
        "key_url": "https://support.example.com/?ak=7654321",
        "expires_at": datetime(2024, 3, 4, 15, 0, tzinfo=UTC),
        "ticket": TICKET,
        "caller_name": "Beth Anglin",
        "rep_name": "Sam Tech",
        "company": "Example Corp",
    }
    subject = mappings.render_text("session_key_mail_subject", **context)
    assert subject == "Example Corp: your remote support session for INC0000002"
    body = mappings.render_text("session_key_mail_body", **context)
    assert body.startswith("Hello Beth Anglin,")
    assert "https://support.example.com/?ak=7654321" in body
    assert "7654321" in body
    assert "2024-03-04 15:00:00 UTC" in body
    note = mappings.render_text("session_key_work_note", **context)
    assert "7654321" in note and "Sam Tech" in note


def test_text_names_include_the_required_texts(mappings):
    """text_names lists every text the connector needs."""
    assert {
        "session_key_mail_subject",
        "session_key_mail_body",
        "session_key_work_note",
        "support_page_title",
    } <= mappings.text_names()


def test_render_text_of_unknown_name_is_a_config_error(mappings):
    """Asking for a text the mapping does not define raises ConfigError naming it."""
    with pytest.raises(ConfigError, match="texts.nope"):
        mappings.render_text("nope")


def test_render_text_runtime_failure_is_a_data_error(mappings):
    """A text rendered without the context it needs raises DataError naming file and path."""
    with pytest.raises(DataError, match=r"texts\.yaml:\d+: texts\.session_key_mail_subject"):
        mappings.render_text("session_key_mail_subject", company="X")


def test_auto_incident_fields(mappings):
    """auto_incident renders short_description and description for a ticketless session."""
    fields = mappings.auto_incident(full_session())
    assert fields["short_description"] == "Remote support session with Beth Anglin"
    assert LSID in fields["description"]
    assert all(isinstance(v, str) for v in fields.values())


def test_written_fields_lists_tables_and_fields(mappings):
    """written_fields names every table and field the mapping writes, link field included."""
    written = mappings.written_fields()
    assert written["u_bomgar_session"] == SESSION_FIELDS
    assert written["u_bomgar_survey_response"] == {
        "u_session",
        "u_task",
        "u_lsid",
        "u_survey_type",
        "u_question",
        "u_question_label",
        "u_answer",
        "u_submitted_by",
    }
    assert written["task"] == {"work_notes"}
    assert written["incident"] == {"short_description", "description"}


def test_lookup_section_feeds_the_lookup_filter(tmp_path):
    """A lookups table defined in YAML translates values in templates."""
    paths = copy_defaults(
        tmp_path,
        lookups='lookups:\n  sites:\n    "Main Site": "HQ"\n  file_directions: {}\n',
    )
    session_yaml = (tmp_path / "session.yaml").read_text()
    (tmp_path / "session.yaml").write_text(
        session_yaml.replace(
            'u_public_site: "{{ session.public_site }}"',
            "u_public_site: \"{{ session.public_site | lookup('sites', 'other') }}\"",
        )
    )
    plan = MappingSet.load(paths).plan_session(full_session(), ticket=TICKET, rep_user=None)
    assert plan.session_record.fields["u_public_site"] == "HQ"
