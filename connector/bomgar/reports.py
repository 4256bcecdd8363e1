"""Parse the appliance's XML replies (Reporting and Command API) into models; pure, no HTTP.

Every document goes through one hardened lxml parser: no entity resolution, no network, no DTD
loading, no huge-tree mode. Namespaces are ignored (local names only), because the appliance has
shipped at least four default namespaces and some documents carry none.

Errors, and why each is what it is::

    ProtocolError                 malformed XML or the wrong root element: the emulator (and a
                                  struggling appliance) truncate or garble bodies transiently, so
                                  a retry can help (permanent=False)
     ├── UnsafeDocument           a DOCTYPE declaring entities (XXE, billion laughs); no honest
                                  appliance sends one and a retry returns the same (permanent=True)
     └── ReportTooLarge           the document exceeds ``max_bytes``; the same query returns the
                                  same size, so the caller must narrow the window (permanent=True)
    BomgarAPIError (StatusError)  an ``<error>`` document, as root or as a child of the root; the
                                  concrete class follows the message (see ``classify_error``)

The literal ``Unknown`` (the appliance's "undetermined") becomes the empty string in structured
fields; free text (chat, notes, survey answers) is kept verbatim apart from trimming.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

from lxml import etree

from connector.bomgar.models import (
    Actor,
    ApiInfo,
    ChatMessage,
    CommandShellRecording,
    Customer,
    FileTransfer,
    LoggedInRep,
    Representative,
    SessionAttributes,
    SessionEvent,
    SessionKey,
    SessionNote,
    SessionSummary,
    SupportSession,
    SupportTeam,
    Survey,
    SurveyAnswer,
    SystemInfoCategory,
    Transfer,
)
from connector.errors import (
    AuthError,
    NotFound,
    ProtocolError,
    RateLimited,
    Rejected,
    ServerError,
    StatusError,
)

SERVICE = "bomgar"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_HEAD_BYTES = 64 * 1024
_CHUNK = 64 * 1024


class UnsafeDocument(ProtocolError):
    """Raise when a document declares entities or otherwise tries to attack the parser."""

    permanent = True


class ReportTooLarge(ProtocolError):
    """Raise when a document is larger than the configured limit."""

    permanent = True


class BomgarAPIError(StatusError):
    """Base of errors the appliance reports in an ``<error>`` document."""


class BomgarAuthError(BomgarAPIError, AuthError):
    """Raise when the appliance rejects the credentials or the account lacks a permission."""


class BomgarNotFound(BomgarAPIError, NotFound):
    """Raise when the appliance says the session, recording or archive does not exist."""


class BomgarRejected(BomgarAPIError, Rejected):
    """Raise for any other error document: the request itself is wrong."""


class BomgarServerError(BomgarAPIError, ServerError):
    """Raise when the appliance says it could not complete the request right now."""


class BomgarRateLimited(BomgarAPIError, RateLimited):
    """Raise when the appliance reports too many requests."""


_AUTH_TEXT = re.compile(
    r"login failed|access[ _]denied|permission|not allowed|not authori[sz]ed|"
    r"document not found|invalid[ _](?:token|client|credentials)|token",
    re.IGNORECASE,
)
_NOT_FOUND_TEXT = re.compile(
    r"invalid lsid|no archives found|expired|not found|no such|does not exist", re.IGNORECASE
)
_RATE_TEXT = re.compile(r"rate limit|too many requests", re.IGNORECASE)
_TRANSIENT_TEXT = re.compile(
    r"could not be completed|try again|temporar|unavailable|busy|timed out", re.IGNORECASE
)


def classify_error(message: str, status: int | None = None) -> type[BomgarAPIError]:
    """Pick the error class for an appliance error message (and HTTP status, when not 2xx)."""
    if status is not None and not 200 <= status < 300:
        if status == 429:
            return BomgarRateLimited
        if status >= 500:
            return BomgarServerError
        if status in (401, 403):
            return BomgarAuthError
        if status == 404:
            return BomgarNotFound
        return BomgarRejected
    # "Document Not Found" usually means a missing permission (vendor advice), so test auth first.
    if _AUTH_TEXT.search(message):
        return BomgarAuthError
    if _RATE_TEXT.search(message):
        return BomgarRateLimited
    if _NOT_FOUND_TEXT.search(message):
        return BomgarNotFound
    if _TRANSIENT_TEXT.search(message):
        return BomgarServerError
    return BomgarRejected


def is_token_problem(message: str) -> bool:
    """Tell whether an error message suggests a bad or expired bearer token."""
    return bool(re.search(r"access[ _]denied|token", message, re.IGNORECASE))


# --- The hardened parser -------------------------------------------------------------------


_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_pis": True,
}


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers are not safe to share across threads.
    return etree.XMLParser(**_PARSER_OPTIONS)


def _check_head(head: bytes) -> None:
    """Reject a prolog that declares entities before handing the bytes to libxml2."""
    upper = head.upper()
    if b"<!DOCTYPE" in upper and b"<!ENTITY" in upper:
        raise UnsafeDocument(
            "refused an XML document whose DOCTYPE declares entities", service=SERVICE
        )


def _check_docinfo(element: etree._Element) -> None:
    """Reject a parsed document whose DTD declares entities (catches encodings the scan missed)."""
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise UnsafeDocument(
            "refused an XML document whose DOCTYPE declares entities", service=SERVICE
        )


def _too_large(limit: int) -> ReportTooLarge:
    return ReportTooLarge(
        f"XML document exceeds the {limit} byte limit; narrow the report window",
        service=SERVICE,
    )


def _syntax_error(exc: etree.XMLSyntaxError) -> ProtocolError:
    text = str(exc)
    if "entit" in text.lower() and ("amplification" in text.lower() or "loop" in text.lower()):
        return UnsafeDocument(f"refused an XML entity attack: {text}", service=SERVICE)
    return ProtocolError(f"malformed XML from the appliance: {text[:200]}", service=SERVICE)


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse a whole XML document safely and return its root element."""
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data.strip():
        raise ProtocolError("empty reply where XML was expected", service=SERVICE)
    _check_head(data[:_HEAD_BYTES])
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from exc
    _check_docinfo(root)
    return root


class _LimitedReader:
    """A file-like view of a stream that re-delivers a peeked head and enforces a byte limit."""

    def __init__(self, stream: IO[bytes], head: bytes, limit: int) -> None:
        self._stream = stream
        self._head = head
        self._limit = limit
        self.count = len(head)

    def read(self, size: int = -1) -> bytes:
        """Return the next chunk, raising ReportTooLarge once the limit is passed."""
        if self._head:
            chunk, self._head = self._head, b""
            return chunk
        chunk = self._stream.read(size if size and size > 0 else _CHUNK)
        self.count += len(chunk)
        if self.count > self._limit:
            raise _too_large(self._limit)
        return chunk


def _read_head(stream: IO[bytes], limit: int) -> bytes:
    head = b""
    while len(head) < _HEAD_BYTES:
        chunk = stream.read(_HEAD_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    if len(head) > limit:
        raise _too_large(limit)
    return head


# --- Small helpers -------------------------------------------------------------------------


def local(el: etree._Element) -> str:
    """Return an element's name without its namespace ('' for comments and PIs)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _children(el: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if el is None:
        return iter(())
    # "{*}name" matches the local name in any namespace or none (done in C by lxml).
    return el.iterchildren("{*}" + name)


def _child(el: etree._Element | None, name: str) -> etree._Element | None:
    if el is None:
        return None
    return el.find("{*}" + name)


class _Kids:
    """Children of one element indexed by local name (one pass instead of a scan per lookup)."""

    __slots__ = ("map",)

    def __init__(self, el: etree._Element | None) -> None:
        self.map: dict[str, list[etree._Element]] = {}
        if el is not None:
            for child in el:
                tag = child.tag
                if isinstance(tag, str):
                    self.map.setdefault(tag.rpartition("}")[2], []).append(child)

    def first(self, name: str) -> etree._Element | None:
        found = self.map.get(name)
        return found[0] if found else None

    def text(self, name: str) -> str:
        return _text(self.first(name))


def _raw_text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return "".join(el.itertext()).strip()


def _clean(value: str | None) -> str:
    value = (value or "").strip()
    return "" if value == "Unknown" else value


def _text(el: etree._Element | None, name: str | None = None) -> str:
    """Return the trimmed text of ``el`` (or its child ``name``), with ``Unknown`` as ''."""
    if name is not None:
        el = _child(el, name)
    return _clean(_raw_text(el))


def _attr(el: etree._Element | None, name: str) -> str:
    if el is None:
        return ""
    return _clean(el.get(name))


def _int(value: str, default: int | None = 0) -> int | None:
    value = _clean(value)
    try:
        return int(value)
    except ValueError:
        return default


def _flag(value: str) -> bool:
    return _clean(value).lower() in ("1", "true", "yes")


def epoch_to_datetime(value: str | int | None) -> datetime | None:
    """Turn epoch seconds (text or int) into an aware UTC datetime, or None."""
    if value is None:
        return None
    try:
        seconds = int(str(value).strip())
    except ValueError:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_iso(value: str) -> datetime | None:
    """Turn ISO 8601 text (offset or Z; naive means UTC) into an aware UTC datetime, or None."""
    value = _clean(value)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _time(el: etree._Element | None) -> datetime | None:
    """Read a time element: the epoch ``timestamp`` attribute first, else the ISO text."""
    if el is None:
        return None
    stamp = epoch_to_datetime(el.get("timestamp"))
    if stamp is not None:
        return stamp
    text = _text(el)
    return parse_iso(text) or epoch_to_datetime(text)


# ASCII digits only: str.isdigit() and \d also accept "²" and other digits int() refuses. Hours
# are unbounded in the vendor's format; nine digits (over 100,000 years) is bound enough.
_DURATION = re.compile(r"([0-9]{1,9}):([0-5]?[0-9]):([0-5]?[0-9])")
_SECONDS = re.compile(r"[0-9]{1,15}")


class BadValue(ValueError):
    """Raise when a report field holds text that cannot be what the field means."""


def parse_duration(value: str) -> int | None:
    """Turn HH:MM:SS (hours unbounded) or plain seconds into seconds; None when absent."""
    value = _clean(value)
    if not value:
        return None
    match = _DURATION.fullmatch(value)
    if match:
        hours, minutes, seconds = (int(g) for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    if _SECONDS.fullmatch(value):
        return int(value)
    raise BadValue(f"<duration> {value[:40]!r} is not HH:MM:SS")


def _actor(el: etree._Element | None) -> Actor | None:
    if el is None:
        return None
    return Actor(kind=_attr(el, "type"), gsnumber=_attr(el, "gsnumber"), name=_text(el))


def _values(el: etree._Element | None) -> dict[str, str]:
    """Read ``value [name, value]`` children (value attribute first, else text)."""
    out: dict[str, str] = {}
    for value in _children(el, "value"):
        name = (value.get("name") or "").strip()
        if not name:
            continue
        raw = value.get("value")
        out[name] = (raw if raw is not None else _raw_text(value)).strip()
    return out


# --- Error documents -----------------------------------------------------------------------


def find_error(root: etree._Element) -> str | None:
    """Return the message of an ``<error>`` root or child of the root, else None."""
    if local(root) == "error":
        return _raw_text(root) or "unspecified error"
    for child in root:
        if local(child) == "error":
            return _raw_text(child) or "unspecified error"
    return None


def check_error(root: etree._Element, status: int | None = None) -> None:
    """Raise the matching BomgarAPIError when the document is (or holds) an ``<error>``."""
    message = find_error(root)
    if message is None:
        return
    kind = classify_error(message, status)
    raise kind(message, service=SERVICE, status=status if status and status >= 300 else None)


def _expect_root(root: etree._Element, *names: str) -> None:
    check_error(root)
    if local(root) not in names:
        raise ProtocolError(
            f"expected a <{'> or <'.join(names)}> document, found <{local(root)}>",
            service=SERVICE,
        )


# --- SupportSession ------------------------------------------------------------------------


_FILE_EVENTS = {
    "File Upload": ("upload", False),
    "File Upload Failed": ("upload", True),
    "File Download": ("download", False),
    "File Download Failed": ("download", True),
}


def _body(k: _Kids) -> str:
    body = k.first("body")
    if body is not None:
        return _raw_text(body)
    encoded = k.first("encoded_body")
    if encoded is None:
        return ""
    try:
        return base64.b64decode(_raw_text(encoded), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _system_info(el: etree._Element | None) -> list[SystemInfoCategory]:
    categories = []
    for cat in _children(el, "category"):
        columns = {
            (f.get("name") or "").strip(): _raw_text(f)
            for f in _children(_child(cat, "description"), "field")
        }
        rows = [
            {(f.get("name") or "").strip(): _raw_text(f) for f in _children(row, "field")}
            for row in _children(_child(cat, "data"), "row")
        ]
        categories.append(SystemInfoCategory(name=_attr(cat, "name"), columns=columns, rows=rows))
    return categories


def _file_items(event: etree._Element, data: dict[str, str]) -> list[tuple[str, int | None]]:
    items = [
        (_text(f, "filename"), _int(_text(f, "filesize"), None))
        for f in _children(_child(event, "files"), "file")
    ]
    if items:
        return items
    name = _text(event, "filename") or data.get("filename", "").strip()
    size = _text(event, "filesize") or data.get("filesize", "")
    return [(name, _int(size, None))]


def _apply_event(session: SupportSession, ev: etree._Element) -> None:
    """Add one session_details/event to the session and to the derived lists."""
    k = _Kids(ev)
    event_type = (ev.get("event_type") or "").strip()
    when = epoch_to_datetime(ev.get("timestamp")) or parse_iso(ev.get("timestamp") or "")
    performed_by = _actor(k.first("performed_by"))
    destination = _actor(k.first("destination"))
    body = _body(k)
    data = _values(k.first("data"))
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
    k = _Kids(el)
    info_el = k.first("info")
    info = {}
    if info_el is not None:
        for child in info_el:
            name = local(child)
            if name:
                info[name] = _text(child)
    return Customer(
        gsnumber=_attr(el, "gsnumber"),
        username=k.text("username"),
        public_ip=k.text("public_ip"),
        private_ip=k.text("private_ip"),
        hostname=k.text("hostname"),
        os=k.text("os"),
        primary=_flag(k.text("primary_cust")),
        info=info,
    )


def _representative(el: etree._Element) -> Representative:
    k = _Kids(el)
    return Representative(
        gsnumber=_attr(el, "gsnumber"),
        id=_attr(el, "id"),
        username=k.text("username"),
        display_name=k.text("display_name"),
        public_display_name=k.text("public_display_name"),
        private_display_name=k.text("private_display_name"),
        public_ip=k.text("public_ip"),
        private_ip=k.text("private_ip"),
        hostname=k.text("hostname"),
        os=k.text("os"),
        session_owner=_flag(k.text("session_owner")),
        primary_rep=_flag(k.text("primary_rep")),
        seconds_involved=_int(k.text("seconds_involved")) or 0,
        invited=_flag(k.text("invited")),
    )


def _inline_surveys(el: etree._Element | None, kind: str, tag: str, lsid: str) -> list[Survey]:
    surveys = []
    for survey in _children(el, tag):
        answers = [
            SurveyAnswer(question_id="", name=name, label=name, answer=_normalise_answer(value))
            for name, value in _values(survey).items()
        ]
        surveys.append(
            Survey(kind=kind, lsid=lsid, gsnumber=_attr(survey, "gsnumber"), answers=answers)
        )
    return surveys


def parse_session_element(el: etree._Element) -> SupportSession:
    """Build a SupportSession from one ``session`` element.

    Data that cannot be converted (a duration of "²", a number of 5,000 digits) does not stop
    the report: that one session comes back with only its lsid and ``problem`` saying why.
    """
    lsid = _attr(el, "lsid")
    if not lsid:
        raise ProtocolError("a <session> element has no lsid attribute", service=SERVICE)
    try:
        return _session(el, lsid)
    except (ValueError, OverflowError) as exc:
        return SupportSession(lsid=lsid, problem=f"the report's data cannot be used: {exc}")


def _session(el: etree._Element, lsid: str) -> SupportSession:
    k = _Kids(el)
    site = k.first("public_site")
    primary_customer = k.first("primary_customer")
    primary_rep = k.first("primary_rep")
    jumpoint = k.first("jumpoint")
    jump_group = k.first("jump_group")
    session = SupportSession(
        lsid=lsid,
        lseq=_int(k.text("lseq"), None),
        session_type=k.text("session_type"),
        start_time=_time(k.first("start_time")),
        end_time=_time(k.first("end_time")),
        duration_seconds=parse_duration(k.text("duration")),
        public_site=_text(site),
        public_site_id=_attr(site, "id"),
        external_key=k.text("external_key"),
        custom_attributes={
            (ca.get("code_name") or "").strip(): _raw_text(ca)
            for ca in _children(k.first("custom_attributes"), "custom_attribute")
            if (ca.get("code_name") or "").strip()
        },
        chat_view_url=k.text("session_chat_view_url"),
        chat_download_url=k.text("session_chat_download_url"),
        recording_view_url=k.text("session_recording_view_url"),
        recording_download_url=k.text("session_recording_download_url"),
        file_transfer_count=_int(k.text("file_transfer_count")) or 0,
        file_move_count=_int(k.text("file_move_count")) or 0,
        file_delete_count=_int(k.text("file_delete_count")) or 0,
        primary_customer_name=_text(primary_customer),
        primary_customer_gsnumber=_attr(primary_customer, "gsnumber"),
        primary_rep_name=_text(primary_rep),
        primary_rep_gsnumber=_attr(primary_rep, "gsnumber"),
        primary_rep_id=_attr(primary_rep, "id"),
        jumpoint=_text(jumpoint),
        jumpoint_id=_attr(jumpoint, "id"),
        jump_group=_text(jump_group),
        jump_group_id=_attr(jump_group, "id"),
        jump_group_type=_attr(jump_group, "type"),
        customers=[_customer(c) for c in _children(k.first("customer_list"), "customer")],
        reps=[_representative(r) for r in _children(k.first("rep_list"), "representative")],
        command_shell_recordings=[
            CommandShellRecording(
                instance=_text(r, "instance"),
                view_url=_text(r, "view_url"),
                download_url=_text(r, "download_url"),
            )
            for r in _children(k.first("command_shell_recordings"), "command_shell_recording")
        ],
    )
    for ev in _children(k.first("session_details"), "event"):
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
    _expect_root(root, "session_list")
    return [parse_session_element(el) for el in _children(root, "session")]


def iter_support_sessions(
    stream: IO[bytes], max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[SupportSession]:
    """Stream a SupportSession report, yielding sessions and freeing each element after use."""
    head = _read_head(stream, max_bytes)
    if not head.strip():
        raise ProtocolError("empty reply where XML was expected", service=SERVICE)
    _check_head(head)
    reader = _LimitedReader(stream, head, max_bytes)
    events = etree.iterparse(reader, events=("start", "end"), **_PARSER_OPTIONS)
    depth = 0
    root: etree._Element | None = None
    try:
        for action, el in events:
            if action == "start":
                depth += 1
                if root is None:
                    root = el
                    _check_docinfo(el)
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
        raise _syntax_error(exc) from exc


# --- Other reports -------------------------------------------------------------------------


def _normalise_answer(text: str) -> str:
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
        stamp_el = _child(el, name)
        if stamp_el is not None:
            return _time(stamp_el)
    return None


def parse_exit_surveys(
    data: bytes, kind: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[Survey]:
    """Parse a SupportCustExitSurvey or SupportRepExitSurvey report."""
    kind = survey_kind(kind)
    root = parse_xml(data, max_bytes=max_bytes)
    _expect_root(root, "exit_survey_list")
    surveys = []
    for el in _children(root, "exit_survey"):
        submitted = _child(el, "submitted_by")
        who = _child(el, "primary_customer" if kind == "customer" else "primary_rep")
        answers = []
        for question in _children(_child(el, "question_list"), "question"):
            texts = [
                _normalise_answer(_raw_text(a))
                for a in _children(_child(question, "answer_list"), "answer")
            ]
            answers.append(
                SurveyAnswer(
                    question_id=_attr(question, "id"),
                    name=_text(question, "name"),
                    label=_raw_text(_child(question, "label")),
                    answer="; ".join(t for t in texts if t),
                )
            )
        surveys.append(
            Survey(
                kind=kind,
                lsid=_attr(el, "lsid"),
                submitted_by=_text(submitted),
                gsnumber=_attr(who, "gsnumber") or _attr(submitted, "gsnumber"),
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
    _expect_root(root, "session_summary_list")
    return [
        SessionSummary(
            lsid=_attr(el, "lsid"),
            has_recording=_flag(el.get("has_recording") or ""),
            external_key=(el.get("external_key") or "").strip(),
        )
        for el in _children(root, "session_summary")
        if _attr(el, "lsid")
    ]


# --- Command API replies -------------------------------------------------------------------


def parse_session_key(data: bytes) -> SessionKey:
    """Parse a generate_session_key reply."""
    root = parse_xml(data)
    _expect_root(root, "session_key")
    short_key = _text(root, "short_key")
    if not short_key:
        raise ProtocolError("session_key reply has no short_key", service=SERVICE)
    return SessionKey(
        short_key=short_key,
        key_url=_text(root, "key_url"),
        mail_subject=_raw_text(_child(root, "mail_subject")),
        mail_body=_raw_text(_child(root, "mail_body")),
        expires=_time(_child(root, "expires")),
    )


def parse_logged_in_reps(data: bytes) -> list[LoggedInRep]:
    """Parse a get_logged_in_reps reply."""
    root = parse_xml(data)
    _expect_root(root, "logged_in_reps")
    return [
        LoggedInRep(
            id=_attr(el, "id"),
            display_name=_text(el, "display_name"),
            public_display_name=_text(el, "public_display_name"),
            private_display_name=_text(el, "private_display_name"),
            type=_text(el, "type"),
            direct_link=_raw_text(_child(el, "direct_link")),
            logged_in_since=_time(_child(el, "logged_in_since")),
            presentation_count=_int(_text(el, "presentation_count")) or 0,
            support_session_count=_int(_text(el, "support_session_count")) or 0,
            showing_on_rep_list=_flag(_text(el, "showing_on_rep_list")),
        )
        for el in _children(root, "rep")
    ]


def parse_support_teams(data: bytes) -> list[SupportTeam]:
    """Parse a get_support_teams reply."""
    root = parse_xml(data)
    _expect_root(root, "support_teams")
    return [
        SupportTeam(
            id=_attr(el, "id"),
            name=_text(el, "name"),
            code_name=_text(el, "code_name") or _attr(el, "code_name"),
        )
        for el in _children(root, "support_team")
    ]


def parse_api_info(data: bytes) -> ApiInfo:
    """Parse a get_api_info reply (root api_information, or get_api_info as documented)."""
    root = parse_xml(data)
    _expect_root(root, "api_information", "get_api_info")
    permissions: dict[str, str] = {}
    perms = _child(root, "permissions")
    if perms is not None:
        permissions.update({k: v.strip() for k, v in perms.attrib.items()})
        for child in perms:
            name = local(child)
            if name == "permission" and child.get("name"):
                permissions[child.get("name", "")] = child.get("value") or _raw_text(child)
            elif name:
                permissions[name] = _raw_text(child)
    stamp = _child(root, "timestamp")
    return ApiInfo(
        api_version=_text(root, "api_version"),
        company_name=_text(root, "company_name"),
        timestamp=_time(stamp),
        permissions=permissions,
    )


def parse_session_attributes(data: bytes) -> SessionAttributes:
    """Parse a get_session_attributes reply."""
    root = parse_xml(data)
    _expect_root(root, "custom_attributes")
    attrs = SessionAttributes()
    for el in _children(root, "custom_attribute"):
        code = (el.get("code_name") or "").strip()
        if not code:
            continue
        attrs.values[code] = _raw_text(el)
        attrs.labels[code] = (el.get("display_name") or "").strip()
    return attrs


def parse_success(data: bytes) -> str:
    """Parse a command reply that holds a ``success`` element; return its message."""
    root = parse_xml(data)
    check_error(root)
    if local(root) == "success":
        return _raw_text(root)
    success = _child(root, "success")
    if success is None:
        raise ProtocolError(f"expected a <success> reply, found <{local(root)}>", service=SERVICE)
    return _raw_text(success)
