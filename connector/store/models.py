"""Jobs as the store hands them out, and the names of claim owners."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

# The session import's job queue; other queues (3PA's '3pa') namespace their keys.
SESSIONS = "sessions"

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
    appliance: str = ""  # the configured id of the appliance the session belongs to


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
    appliance: str = ""
    queue: str = SESSIONS


def node_name(configured: str = "") -> str:
    """Name this node in claim tokens: worker.node_name when set, else the host name."""
    return configured or socket.gethostname()


def owner_id(node: str = "") -> str:
    """Name this process as a claim owner: node and pid."""
    return f"{node_name(node)}:{os.getpid()}"


def claim_token(node: str = "") -> str:
    """Name one claim: this process plus a random part, unique per claim."""
    return f"{owner_id(node)}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str, node: str = "") -> bool:
    """Tell whether a claim's process may live: only this node's own processes can be checked."""
    parts = owner.split(":")  # node:pid[:claim]; node names hold no colon (config checks)
    if len(parts) < 2:
        return True
    node_of, pid = parts[0], parts[1]
    if node_of != node_name(node):
        return True  # another node's worker: only its lease can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
