"""Validate an outbound event form the appliance posted; pure, no HTTP.

Only ``event``, ``version`` and ``timestamp`` are guaranteed by the vendor; ``lsid`` is required
here for ``support_conference_*`` events because the connector cannot pull a report without it.
Every problem raises DataError naming the field, what was expected and what was found. An event
name that is well formed but unknown is valid: the webhook stores it as "ignored" (a non-200
would stall the appliance's FIFO queue).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from connector.bomgar.models import OutboundEvent, valid_lsid
from connector.errors import DataError

KNOWN_EVENTS: frozenset[str] = frozenset(
    {
        "support_conference_begin",
        "support_conference_end",
        "support_conference_owner_changed",
        "support_conference_member_added",
        "support_conference_member_departed",
        "support_conference_customer_exit_survey_completed",
        "support_conference_rep_exit_survey_completed",
    }
)

_EVENT = re.compile(r"[a-z0-9_]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
MAX_VERSION = 16
MAX_EXTERNAL_KEY = 1024
MAX_OTHER = 4096
_CORE = {"event", "version", "timestamp", "lsid", "appliance_id", "external_key"}
# The shared secret belongs to the URL; never carry it into stored data even if a caller merges it.
_SECRET = {"outbound_event_token"}


def is_known(event: str) -> bool:
    """Tell whether the event name is one of the seven the vendor documents."""
    return event in KNOWN_EVENTS


def _shown(value: str, limit: int = 40) -> str:
    """Quote a value for an error message, truncated so logs stay readable."""
    if len(value) > limit:
        return repr(value[:limit]) + f"… ({len(value)} characters)"
    return repr(value)


def _problem(name: str, expected: str, found: str) -> DataError:
    return DataError(f"outbound event field {name!r}: expected {expected}, found {found}")


def _get(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _problem(name, "a text value", type(value).__name__)
    return value


def _required(form: Mapping[str, str], name: str, expected: str) -> str:
    value = _get(form, name)
    if value is None:
        raise _problem(name, expected, "no such field")
    value = value.strip()
    if not value:
        raise _problem(name, expected, "an empty value")
    return value


def parse_event(form: Mapping[str, str]) -> OutboundEvent:
    """Build an OutboundEvent from the posted form, raising DataError on the first problem."""
    event = _required(form, "event", "1-64 characters of a-z, 0-9 and _")
    if not _EVENT.fullmatch(event):
        raise _problem("event", "1-64 characters of a-z, 0-9 and _", _shown(event))

    version = _required(form, "version", f"a version of at most {MAX_VERSION} characters")
    if len(version) > MAX_VERSION:
        raise _problem(
            "version", f"a version of at most {MAX_VERSION} characters", _shown(version, 20)
        )

    raw_stamp = _required(form, "timestamp", "epoch seconds (a non-negative integer)")
    if not _TIMESTAMP.fullmatch(raw_stamp):
        raise _problem("timestamp", "epoch seconds (a non-negative integer)", _shown(raw_stamp))
    timestamp = int(raw_stamp)

    lsid = (_get(form, "lsid") or "").strip()
    if event.startswith("support_conference_") and not lsid:
        raise _problem("lsid", f"a session id for a {event} event", "no value")
    if lsid and not valid_lsid(lsid):
        raise _problem("lsid", "1-64 characters of A-Z, a-z, 0-9, _ and -", _shown(lsid))

    appliance_id = (_get(form, "appliance_id") or "").strip()
    if len(appliance_id) > 256:
        raise _problem("appliance_id", "at most 256 characters", _shown(appliance_id))

    external_key = (_get(form, "external_key") or "").strip()
    if len(external_key) > MAX_EXTERNAL_KEY:
        raise _problem(
            "external_key", f"at most {MAX_EXTERNAL_KEY} characters", _shown(external_key)
        )

    extra = []
    for name in form:
        if name in _CORE or name in _SECRET:
            continue
        value = _get(form, name) or ""
        if len(value) > MAX_OTHER:
            raise _problem(name, f"at most {MAX_OTHER} characters", _shown(value))
        extra.append((str(name), value))

    return OutboundEvent(
        event=event,
        version=version,
        timestamp=timestamp,
        lsid=lsid,
        appliance_id=appliance_id,
        external_key=external_key,
        extra=tuple(sorted(extra)),
    )
