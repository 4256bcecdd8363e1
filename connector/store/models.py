"""Jobs as the store hands them out, and the names of claim owners."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

# Events that mean "the session's facts changed; import (again)".
TRIGGERS = frozenset(
    {
        "support_conference_end",
        "support_conference_customer_exit_survey_completed",
        "support_conference_rep_exit_survey_completed",
    }
)


@dataclass(frozen=True)
class Job:
    """A claimed session import."""

    lsid: str
    generation: int
    attempts: int
    reason: str
    external_key: str
    queued_at: float
    owner: str = ""  # the claim's token; settling needs it


@dataclass(frozen=True)
class JobRow:
    """A job as listed for operators."""

    lsid: str
    state: str
    reason: str
    attempts: int
    last_error: str | None
    external_key: str
    updated_at: float
    not_before: float


def owner_id() -> str:
    """Name this process as a claim owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_token() -> str:
    """Name one claim: this process plus a random part, unique per claim."""
    return f"{owner_id()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str) -> bool:
    parts = owner.split(":")
    if len(parts) < 2:
        return True
    host, pid = parts[0], parts[1]
    if host != socket.gethostname():
        return True  # another machine's worker: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
