"""Parse the Reporting API's documents into models: SupportSession, the listing, exit surveys.

Pure, no HTTP: bytes (or a stream) in, dataclasses out, through the hardened parser of
``xmldoc``. Data a session's entry holds that cannot be converted does not spoil the report:
that session comes back carrying a ``problem``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import datetime

from lxml import etree

from connector.bomgar.models import (
    ChatMessage,
    CommandShellRecording,
    Customer,
    FileTransfer,
    Representative,
    SessionEvent,
    SessionNote,
    SessionSummary,
    SupportSession,
    Survey,
    SurveyAnswer,
    SystemInfoCategory,
    Transfer,
)
from connector.bomgar.xmldoc import (
    DEFAULT_MAX_BYTES,
    PARSER_OPTIONS,
    SERVICE,
    LimitedReader,
    Readable,
    check_docinfo,
    check_error,
    check_head,
    expect_root,
    parse_xml,
    read_head,
    syntax_error,
)
from connector.bomgar.xmltext import (
    Kids,
    actor_of,
    attr_of,
    child_of,
    children_of,
    epoch_to_datetime,
    flag_of,
    local,
    parse_duration,
    parse_iso,
    raw_text,
    text_of,
    time_of,
    to_int,
    values_of,
)
from connector.errors import ProtocolError

# --- SupportSession ------------------------------------------------------------------------


_FILE_EVENTS = {
    "File Upload": ("upload", False),
    "File Upload Failed": ("upload", True),
    "File Download": ("download", False),
    "File Download Failed": ("download", True),
}


def _body(k: Kids) -> str:
    body = k.first("body")
    if body is not None:
        return raw_text(body)
    encoded = k.first("encoded_body")
    if encoded is None:
        return ""
    try:
        return base64.b64decode(raw_text(encoded), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _system_info(el: etree._Element | None) -> list[SystemInfoCategory]:
    categories = []
    for cat in children_of(el, "category"):
        columns = {
            (f.get("name") or "").strip(): raw_text(f)
            for f in children_of(child_of(cat, "description"), "field")
        }
        rows = [
            {(f.get("name") or "").strip(): raw_text(f) for f in children_of(row, "field")}
            for row in children_of(child_of(cat, "data"), "row")
        ]
        categories.append(SystemInfoCategory(name=attr_of(cat, "name"), columns=columns, rows=rows))
    return categories


def _file_items(event: etree._Element, data: dict[str, str]) -> list[tuple[str, int | None]]:
    items = [
        (text_of(f, "filename"), to_int(text_of(f, "filesize"), None))
        for f in children_of(child_of(event, "files"), "file")
    ]
    if items:
        return items
    name = text_of(event, "filename") or data.get("filename", "").strip()
    size = text_of(event, "filesize") or data.get("filesize", "")
    return [(name, to_int(size, None))]


def _apply_event(session: SupportSession, ev: etree._Element) -> None:
    """Add one session_details/event to the session and to the derived lists."""
    k = Kids(ev)
    parts = k.map
    event_type = (ev.get("event_type") or "").strip()
    stamp = ev.get("timestamp")
    when = epoch_to_datetime(stamp) or parse_iso(stamp or "")
    performed_by = actor_of(parts.get("performed_by"))
    destination = actor_of(parts.get("destination"))
    body = _body(k)
    data = values_of(parts.get("data"))
    if "filename" in parts or "filesize" in parts:
        for name in ("filename", "filesize"):
            text = k.text(name)
            if text:
                data.setdefault(name, text)
    session.events.append(
        SessionEvent(
            timestamp=when,
            event_type=event_type,
            performed_by=performed_by,
            destination=destination,
            body=body,
            data=data,
        )
    )
    by_name = performed_by.name if performed_by else ""
    to_name = destination.name if destination else ""
    if event_type == "Chat Message":
        session.chat.append(
            ChatMessage(
                timestamp=when,
                sender=by_name,
                sender_kind=performed_by.kind if performed_by else "",
                body=body,
            )
        )
    elif event_type in _FILE_EVENTS:
        direction, failed = _FILE_EVENTS[event_type]
        for filename, filesize in _file_items(ev, data):
            session.files.append(
                FileTransfer(
                    timestamp=when,
                    direction=direction,
                    filename=filename,
                    filesize=filesize,
                    performed_by=by_name,
                    destination=to_name,
                    failed=failed,
                )
            )
    elif event_type == "Session Note Added":
        session.notes.append(SessionNote(timestamp=when, author=by_name, body=body))
    elif event_type == "System Information Retrieved":
        session.system_info.extend(_system_info(k.first("system_information")))
    elif event_type.startswith("Session Transferred") or event_type == "Conference Owner Changed":
        session.transfers.append(
            Transfer(
                timestamp=when,
                event_type=event_type,
                performed_by=by_name,
                destination=to_name or data.get("owner", ""),
            )
        )


def _customer(el: etree._Element) -> Customer:
    k = Kids(el)
    info_el = k.first("info")
    info = {}
    if info_el is not None:
        for child in info_el:
            name = local(child)
            if name:
                info[name] = text_of(child)
    return Customer(
        gsnumber=attr_of(el, "gsnumber"),
        username=k.text("username"),
        public_ip=k.text("public_ip"),
        private_ip=k.text("private_ip"),
        hostname=k.text("hostname"),
        os=k.text("os"),
        primary=flag_of(k.text("primary_cust")),
        info=info,
    )


def _representative(el: etree._Element) -> Representative:
    k = Kids(el)
    return Representative(
        gsnumber=attr_of(el, "gsnumber"),
        id=attr_of(el, "id"),
        username=k.text("username"),
        display_name=k.text("display_name"),
        public_display_name=k.text("public_display_name"),
        private_display_name=k.text("private_display_name"),
        public_ip=k.text("public_ip"),
        private_ip=k.text("private_ip"),
        hostname=k.text("hostname"),
        os=k.text("os"),
        session_owner=flag_of(k.text("session_owner")),
        primary_rep=flag_of(k.text("primary_rep")),
        seconds_involved=to_int(k.text("seconds_involved")) or 0,
        invited=flag_of(k.text("invited")),
    )


def _inline_surveys(el: etree._Element | None, kind: str, tag: str, lsid: str) -> list[Survey]:
    surveys = []
    for survey in children_of(el, tag):
        answers = [
            SurveyAnswer(question_id="", name=name, label=name, answer=normalise_answer(value))
            for name, value in values_of(survey).items()
        ]
        surveys.append(
            Survey(kind=kind, lsid=lsid, gsnumber=attr_of(survey, "gsnumber"), answers=answers)
        )
    return surveys


def parse_session_element(el: etree._Element) -> SupportSession:
    """Build a SupportSession from one ``session`` element.

    Data that cannot be converted (a duration of "²", a number of 5,000 digits) does not stop
    the report: that one session comes back with only its lsid and ``problem`` saying why.
    """
    lsid = attr_of(el, "lsid")
    if not lsid:
        raise ProtocolError("a <session> element has no lsid attribute", service=SERVICE)
    try:
        return _session(el, lsid)
    except (ValueError, OverflowError) as exc:
        return SupportSession(lsid=lsid, problem=f"the report's data cannot be used: {exc}")


def _session(el: etree._Element, lsid: str) -> SupportSession:
    k = Kids(el)
    site = k.first("public_site")
    primary_customer = k.first("primary_customer")
    primary_rep = k.first("primary_rep")
    jumpoint = k.first("jumpoint")
    jump_group = k.first("jump_group")
    session = SupportSession(
        lsid=lsid,
        lseq=to_int(k.text("lseq"), None),
        session_type=k.text("session_type"),
        start_time=time_of(k.first("start_time")),
        end_time=time_of(k.first("end_time")),
        duration_seconds=parse_duration(k.text("duration")),
        public_site=text_of(site),
        public_site_id=attr_of(site, "id"),
        external_key=k.text("external_key"),
        custom_attributes={
            (ca.get("code_name") or "").strip(): raw_text(ca)
            for ca in children_of(k.first("custom_attributes"), "custom_attribute")
            if (ca.get("code_name") or "").strip()
        },
        chat_view_url=k.text("session_chat_view_url"),
        chat_download_url=k.text("session_chat_download_url"),
        recording_view_url=k.text("session_recording_view_url"),
        recording_download_url=k.text("session_recording_download_url"),
        file_transfer_count=to_int(k.text("file_transfer_count")) or 0,
        file_move_count=to_int(k.text("file_move_count")) or 0,
        file_delete_count=to_int(k.text("file_delete_count")) or 0,
        primary_customer_name=text_of(primary_customer),
        primary_customer_gsnumber=attr_of(primary_customer, "gsnumber"),
        primary_rep_name=text_of(primary_rep),
        primary_rep_gsnumber=attr_of(primary_rep, "gsnumber"),
        primary_rep_id=attr_of(primary_rep, "id"),
        jumpoint=text_of(jumpoint),
        jumpoint_id=attr_of(jumpoint, "id"),
        jump_group=text_of(jump_group),
        jump_group_id=attr_of(jump_group, "id"),
        jump_group_type=attr_of(jump_group, "type"),
        customers=[_customer(c) for c in children_of(k.first("customer_list"), "customer")],
        reps=[_representative(r) for r in children_of(k.first("rep_list"), "representative")],
        command_shell_recordings=[
            CommandShellRecording(
                instance=text_of(r, "instance"),
                view_url=text_of(r, "view_url"),
                download_url=text_of(r, "download_url"),
            )
            for r in children_of(k.first("command_shell_recordings"), "command_shell_recording")
        ],
    )
    for ev in children_of(k.first("session_details"), "event"):
        _apply_event(session, ev)
    session.surveys.extend(
        _inline_surveys(k.first("cust_survey_list"), "customer", "cust_exit_survey", lsid)
    )
    session.surveys.extend(
        _inline_surveys(k.first("rep_survey_list"), "representative", "rep_exit_survey", lsid)
    )
    return session


def parse_support_sessions(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[SupportSession]:
    """Parse a whole SupportSession report."""
    root = parse_xml(data, max_bytes=max_bytes)
    expect_root(root, "session_list")
    return [parse_session_element(el) for el in children_of(root, "session")]


def iter_support_sessions(
    stream: Readable, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[SupportSession]:
    """Stream a SupportSession report, yielding sessions and freeing each element after use."""
    head = read_head(stream, max_bytes)
    if not head.strip():
        raise ProtocolError("empty reply where XML was expected", service=SERVICE)
    check_head(head)
    reader = LimitedReader(stream, head, max_bytes)
    events = etree.iterparse(reader, events=("start", "end"), **PARSER_OPTIONS)
    depth = 0
    root: etree._Element | None = None
    try:
        for action, el in events:
            if action == "start":
                depth += 1
                if root is None:
                    root = el
                    check_docinfo(el)
                    if local(el) not in ("session_list", "error"):
                        raise ProtocolError(
                            f"expected a <session_list> document, found <{local(el)}>",
                            service=SERVICE,
                        )
                continue
            depth -= 1
            if depth == 0:
                check_error(el)
            elif depth == 1:
                name = local(el)
                if name == "error":
                    check_error(el.getparent())
                if name == "session":
                    session = parse_session_element(el)
                    yield session
                # Free the finished child and everything before it, so memory stays flat.
                el.clear()
                parent = el.getparent()
                if parent is not None:
                    while el.getprevious() is not None:
                        del parent[0]
    except etree.XMLSyntaxError as exc:
        raise syntax_error(exc) from exc


# --- Other reports -------------------------------------------------------------------------


def normalise_answer(text: str) -> str:
    # The appliance escapes newlines in survey answers as a literal backslash-n pair.
    return text.replace("\\r\\n", "\n").replace("\\n", "\n").strip()


_SURVEY_KINDS = {
    "customer": "customer",
    "cust": "customer",
    "supportcustexitsurvey": "customer",
    "representative": "representative",
    "rep": "representative",
    "supportrepexitsurvey": "representative",
}


def survey_kind(kind: str) -> str:
    """Normalise a survey kind ('customer'/'cust'/report name) to 'customer' or 'representative'."""
    try:
        return _SURVEY_KINDS[kind.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown exit survey kind {kind!r}") from None


def _survey_time(el: etree._Element) -> datetime | None:
    # The name of the time attribute is unconfirmed: take the first attribute holding epoch seconds.
    for name, value in el.attrib.items():
        if name == "lsid":
            continue
        stamp = epoch_to_datetime(value)
        if stamp is not None:
            return stamp
    for name in ("timestamp", "submitted_at", "time"):
        stamp_el = child_of(el, name)
        if stamp_el is not None:
            return time_of(stamp_el)
    return None


def parse_exit_surveys(
    data: bytes, kind: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Survey]:
    """Parse a SupportCustExitSurvey or SupportRepExitSurvey report."""
    kind = survey_kind(kind)
    root = parse_xml(data, max_bytes=max_bytes)
    expect_root(root, "exit_survey_list")
    surveys = []
    for el in children_of(root, "exit_survey"):
        submitted = child_of(el, "submitted_by")
        who = child_of(el, "primary_customer" if kind == "customer" else "primary_rep")
        answers = []
        for question in children_of(child_of(el, "question_list"), "question"):
            texts = [
                normalise_answer(raw_text(a))
                for a in children_of(child_of(question, "answer_list"), "answer")
            ]
            answers.append(
                SurveyAnswer(
                    question_id=attr_of(question, "id"),
                    name=text_of(question, "name"),
                    label=raw_text(child_of(question, "label")),
                    answer="; ".join(t for t in texts if t),
                )
            )
        surveys.append(
            Survey(
                kind=kind,
                lsid=attr_of(el, "lsid"),
                submitted_by=text_of(submitted),
                gsnumber=attr_of(who, "gsnumber") or attr_of(submitted, "gsnumber"),
                submitted_at=_survey_time(el),
                answers=answers,
            )
        )
    return surveys


def parse_session_listing(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[SessionSummary]:
    """Parse a SupportSessionListing report."""
    root = parse_xml(data, max_bytes=max_bytes)
    expect_root(root, "session_summary_list")
    return [
        SessionSummary(
            lsid=attr_of(el, "lsid"),
            has_recording=flag_of(el.get("has_recording") or ""),
            external_key=(el.get("external_key") or "").strip(),
        )
        for el in children_of(root, "session_summary")
        if attr_of(el, "lsid")
    ]
