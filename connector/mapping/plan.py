"""The plan of ServiceNow writes for one session: what the mapping makes and the writer applies."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordWrite:
    """Insert or update one record, found by its key fields (an upsert)."""

    table: str
    key: dict[str, str]  # field → value identifying the record, e.g. {"u_lsid": "..."}
    fields: dict[str, str]  # every field to write, key fields included
    # Name of a reference field the writer fills with the session record's sys_id once known.
    session_link_field: str | None = None
    # The field naming the session's appliance: a record found by key whose field names
    # another appliance is not this session's (empty on either side: written before ids).
    appliance_field: str | None = None


@dataclass
class JournalWrite:
    """Append a journal entry (work note or comment) to the ticket, at most once per session."""

    table: str
    sys_id: str
    element: str  # "work_notes" | "comments"
    text: str
    marker: str  # unique text inside ``text`` that proves the note was already written


@dataclass
class AttachmentWrite:
    """Attach a file to the session record."""

    file_name: str
    content_type: str
    content: bytes


@dataclass
class ImportPlan:
    """Every write one session causes, in the order they must happen."""

    lsid: str
    session_record: RecordWrite
    work_note: JournalWrite | None = None
    survey_rows: list[RecordWrite] = field(default_factory=list)
    attachments: list[AttachmentWrite] = field(default_factory=list)
