"""The appliance side: client (HTTP), reports and replies (XML → models), events (form → event)."""

from __future__ import annotations

from connector.bomgar.client import BomgarClient
from connector.bomgar.events import KNOWN_EVENTS, is_known, parse_event
from connector.bomgar.xmldoc import (
    BomgarAPIError,
    BomgarAuthError,
    BomgarNotFound,
    BomgarRateLimited,
    BomgarRejected,
    BomgarServerError,
    ReportTooLarge,
    UnsafeDocument,
)

__all__ = [
    "KNOWN_EVENTS",
    "BomgarAPIError",
    "BomgarAuthError",
    "BomgarClient",
    "BomgarNotFound",
    "BomgarRateLimited",
    "BomgarRejected",
    "BomgarServerError",
    "ReportTooLarge",
    "UnsafeDocument",
    "is_known",
    "parse_event",
]
