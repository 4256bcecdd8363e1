"""Read the appliance's XML safely: one hardened parser, and the error documents it may answer.

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
"""

from __future__ import annotations

import re
from typing import Protocol

from lxml import etree

from connector.bomgar.xmltext import local, raw_text
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
HEAD_BYTES = 64 * 1024
CHUNK = 64 * 1024


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


PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_pis": True,
}


def xml_parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers are not safe to share across threads.
    return etree.XMLParser(**PARSER_OPTIONS)


def check_head(head: bytes) -> None:
    """Reject a prolog that declares entities before handing the bytes to libxml2."""
    upper = head.upper()
    if b"<!DOCTYPE" in upper and b"<!ENTITY" in upper:
        raise UnsafeDocument(
            "refused an XML document whose DOCTYPE declares entities", service=SERVICE
        )


def check_docinfo(element: etree._Element) -> None:
    """Reject a parsed document whose DTD declares entities (catches encodings the scan missed)."""
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise UnsafeDocument(
            "refused an XML document whose DOCTYPE declares entities", service=SERVICE
        )


def too_large(limit: int) -> ReportTooLarge:
    return ReportTooLarge(
        f"XML document exceeds the {limit} byte limit; narrow the report window",
        service=SERVICE,
    )


def syntax_error(exc: etree.XMLSyntaxError) -> ProtocolError:
    text = str(exc)
    if "entit" in text.lower() and ("amplification" in text.lower() or "loop" in text.lower()):
        return UnsafeDocument(f"refused an XML entity attack: {text}", service=SERVICE)
    return ProtocolError(f"malformed XML from the appliance: {text[:200]}", service=SERVICE)


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse a whole XML document safely and return its root element."""
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    if not data.strip():
        raise ProtocolError("empty reply where XML was expected", service=SERVICE)
    check_head(data[:HEAD_BYTES])
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise syntax_error(exc) from exc
    check_docinfo(root)
    return root


class Readable(Protocol):
    """Anything with ``read(size)`` giving bytes: a file, a response's raw stream."""

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes; empty at the end."""
        ...


class LimitedReader:
    """A file-like view of a stream that re-delivers a peeked head and enforces a byte limit."""

    def __init__(self, stream: Readable, head: bytes, limit: int) -> None:
        self._stream = stream
        self._head = head
        self._limit = limit
        self.count = len(head)

    def read(self, size: int = -1) -> bytes:
        """Return the next chunk, raising ReportTooLarge once the limit is passed."""
        if self._head:
            chunk, self._head = self._head, b""
            return chunk
        chunk = self._stream.read(size if size and size > 0 else CHUNK)
        self.count += len(chunk)
        if self.count > self._limit:
            raise too_large(self._limit)
        return chunk


def read_head(stream: Readable, limit: int) -> bytes:
    head = b""
    while len(head) < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    if len(head) > limit:
        raise too_large(limit)
    return head


def find_error(root: etree._Element) -> str | None:
    """Return the message of an ``<error>`` root or child of the root, else None."""
    if local(root) == "error":
        return raw_text(root) or "unspecified error"
    for child in root:
        if local(child) == "error":
            return raw_text(child) or "unspecified error"
    return None


LEAD_CHUNK = 4096


def leading_error(data: bytes) -> str | None:
    """Return the message of an ``<error>`` that is the root or the root's first child, else None.

    Reads only as far as the answer needs (a report of sessions is decided at its first
    ``<session>``), so a large reply is not parsed twice just to learn it is no error.
    Malformed or unsafe documents give None: whoever parses the whole reply reports them.
    """
    try:
        check_head(data[:HEAD_BYTES])
    except ProtocolError:
        return None
    parser = etree.XMLPullParser(events=("start", "end"), **PARSER_OPTIONS)
    depth = 0
    target: etree._Element | None = None
    try:
        for offset in range(0, len(data), LEAD_CHUNK):
            parser.feed(data[offset : offset + LEAD_CHUNK])
            for event, el in parser.read_events():
                if event == "start":
                    depth += 1
                    if depth == 1 and local(el) == "error":
                        target = el
                    elif depth == 2 and target is None:
                        if local(el) != "error":
                            return None
                        target = el
                    continue
                if el is target:
                    return raw_text(el) or "unspecified error"
                depth -= 1
                if depth == 0:
                    return None
    except etree.XMLSyntaxError:
        return None
    return None


def check_error(root: etree._Element, status: int | None = None) -> None:
    """Raise the matching BomgarAPIError when the document is (or holds) an ``<error>``."""
    message = find_error(root)
    if message is None:
        return
    kind = classify_error(message, status)
    raise kind(message, service=SERVICE, status=status if status and status >= 300 else None)


def expect_root(root: etree._Element, *names: str) -> None:
    check_error(root)
    if local(root) not in names:
        raise ProtocolError(
            f"expected a <{'> or <'.join(names)}> document, found <{local(root)}>",
            service=SERVICE,
        )
