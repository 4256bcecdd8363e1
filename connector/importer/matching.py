"""Decide which ticket, if any, a session may write onto; pure, no I/O.

Anyone who can open the appliance's public site can start a session whose URL says
``session.custom.external_key=INC0000002``; the key alone proves nothing. What does:

- the key was issued by the connector (``connector.signing.issue_external_key``: session keys,
  Get Support Now, Jump links carry an HMAC tag bound to the ticket and the issue time), and the
  session started within ``max_age`` seconds of the issue;
- a representative took part (they may type the ticket into the console, the normal way): a rep
  in the report's rep list with ``seconds_involved`` above zero, or any session event a rep
  performed (chat, file transfer, note, system information, joining);
- an administrator attached the session to a ticket (``connector unmatched --attach``).

``security.attach_policy`` says which of these is enough:

===============  ===================================================================
issued_or_rep    (default) issued keys attach; other keys only when a rep took part
issued_only      only issued keys (and an administrator's choice) attach
any              every key attaches, as before this check existed (not recommended)
===============  ===================================================================

A session with no key at all is not matched to any existing ticket: it is skipped, or gets a new
incident when ``worker.auto_create_incident`` is on, as before. Everything else is *unmatched*:
recorded with the reason, never written onto a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connector.bomgar.models import SupportSession
from connector.signing import ISSUED_CHANNELS, split_external_key, verify_external_key

POLICIES = ("issued_or_rep", "issued_only", "any")
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Decision:
    """Where a session may write: ``ticket_key`` when matched, else why not."""

    matched: bool
    ticket_key: str
    reason: str


def rep_took_part(session: SupportSession) -> bool:
    """Tell whether a representative took part in the session, by the report's own record."""
    if any(rep.seconds_involved > 0 for rep in session.reps):
        return True
    return any(
        ev.performed_by is not None and ev.performed_by.kind == "representative"
        for ev in session.events
    )


def _started(session: SupportSession) -> float | None:
    start: datetime | None = session.start_time
    return None if start is None else start.timestamp()


def decide(
    session: SupportSession,
    event_key: str,
    *,
    policy: str,
    secret: bytes,
    attached: str = "",
    max_age: float = 86400.0,
) -> Decision:
    """Return the ticket key the session may write onto, or an unmatched decision with a reason.

    ``event_key`` is the external key the outbound event carried (the report's wins when both
    exist); ``attached`` is a ticket an administrator chose for this session.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    if attached:
        return Decision(True, attached, "attached by an administrator")
    raw = (session.ticket_key or event_key or "").strip()
    if not raw:
        return Decision(True, "", "the session has no external key")
    issued = verify_external_key(secret, raw)
    doubt = ""
    if issued is not None:
        started = _started(session)
        channel = ISSUED_CHANNELS[issued.channel]
        if started is None:
            doubt = f"; its {channel} key cannot be dated (the report has no start time)"
        elif not issued.issued_at - CLOCK_SKEW_SECONDS <= started <= issued.issued_at + max_age:
            doubt = (
                f"; its {channel} key was issued at {issued.issued_at} but the session started at"
                f" {int(started)}, outside security.issued_key_max_age_seconds"
            )
        else:
            return Decision(True, issued.ticket, f"issued by the connector ({channel})")
    elif split_external_key(raw) is not None:
        doubt = "; its tag does not verify (altered, or issued with another secret)"
    parts = split_external_key(raw)
    ticket = parts[0] if parts is not None else raw
    if policy == "any":
        return Decision(True, ticket, "security.attach_policy is any")
    if policy == "issued_or_rep" and rep_took_part(session):
        return Decision(True, ticket, "a representative took part")
    shown = raw if len(raw) <= 80 else raw[:77] + "..."
    why = (
        "and no representative took part"
        if policy == "issued_or_rep"
        else "and security.attach_policy is issued_only"
    )
    return Decision(
        False, ticket, f"external key {shown!r} was not issued by the connector{doubt}, {why}"
    )
