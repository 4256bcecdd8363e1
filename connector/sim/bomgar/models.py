"""The appliance's records (session keys, sessions, their members) and the error it refuses with."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class SimError(Exception):
    """A request the appliance would refuse; ``message`` is the vendor-style error text."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class SessionKey:
    """A key from generate_session_key."""

    short_key: str
    queue: str
    expires: int
    custom: dict[str, str]
    created_by: str = ""
    used_by: list[str] = field(default_factory=list)


@dataclass
class Member:
    """A rep or customer in a session; gsnumber links them to session_details events."""

    gsnumber: int
    kind: str  # "representative" | "customer"
    name: str
    rep_id: int | None = None
    username: str = ""
    public_display_name: str = ""
    private_display_name: str = ""
    public_ip: str = ""
    private_ip: str = ""
    hostname: str = ""
    os: str = ""
    info: dict[str, str] = field(default_factory=dict)
    invited: bool = False
    joined: int = 0
    left: int | None = None
    seconds: int = 0


@dataclass
class SimSession:
    """One support session as the appliance records it."""

    lsid: str
    lseq: int
    start_time: int
    start_method: str  # session_key | click_to_chat | rep | issue | general | jump
    queue: str | None
    custom: dict[str, str] = field(default_factory=dict)
    end_time: int | None = None
    members: list[Member] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    cust_surveys: list[dict[str, Any]] = field(default_factory=list)
    rep_surveys: list[dict[str, Any]] = field(default_factory=list)
    owner_gs: int | None = None
    primary_rep_gs: int | None = None
    primary_customer_gs: int | None = None
    jump: dict[str, Any] | None = None
    send_events: bool = True
    next_gs: int = 1
    file_count: int = 0
    xml: str | None = None  # cached rendering of an ended session
    # False: the SupportSession report leaves out the survey lists (as appliances whose report
    # carries no cust_survey_list do); the exit-survey reports still hold the surveys.
    surveys_in_report: bool = True
    # Element name -> raw text put in the report instead of the real value (hostile-data tests).
    report_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def external_key(self) -> str:
        """Return the external key (the external_key custom attribute)."""
        return self.custom.get("external_key", "")

    @property
    def state(self) -> str:
        """Return waiting (in a queue), active or ended."""
        if self.end_time is not None:
            return "ended"
        return "waiting" if self.queue else "active"

    def member(self, gsnumber: int) -> Member:
        """Return the member with that gsnumber."""
        for m in self.members:
            if m.gsnumber == gsnumber:
                return m
        raise SimError(f"No member {gsnumber} in session {self.lsid}.", 404)

    def present(self, kind: str | None = None) -> list[Member]:
        """Return members that have not left (of one kind, if given)."""
        return [m for m in self.members if m.left is None and (kind is None or m.kind == kind)]


# SupportSession elements whose text a test may replace with raw, possibly unusable, text.
REPORT_OVERRIDES = frozenset({"duration", "lseq", "file_transfer_count"})


def with_port(ip: str, port: int) -> str:
    """Return ip:port as session members show it (IPv6 bracketed; Unknown when empty)."""
    if not ip:
        return "Unknown"
    if ":" in ip and not ip.startswith("["):
        return f"[{ip}]:{port}"  # IPv6 is bracketed before the port
    return f"{ip}:{port}"


def epoch_or_now(at: int | None) -> int:
    """Return ``at`` as epoch seconds, or now when it is None."""
    return int(time.time()) if at is None else int(at)


def int_or_none(value: Any) -> int | None:
    """Return value as an int, or None when it is not one."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def by_id(items: dict[int, T], ref: Any) -> T | None:
    """Return the item whose numeric id ``ref`` names (a number or its text), or None."""
    key = int_or_none(ref)
    return None if key is None else items.get(key)


def epoch_or_none(value: Any) -> int | None:
    """Return an optional epoch from a script (empty means none); refuse anything else."""
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError) as exc:
        raise SimError(f"expected an epoch number, got {value!r}") from exc


def iso_utc(epoch: int | float) -> str:
    """Format epoch seconds as RFC 3339 in UTC, written +00:00 (never Z)."""
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).isoformat()
