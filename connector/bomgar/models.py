"""What the appliance tells us, as plain dataclasses (built by reports.py and events.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# Session ids: 32 hex characters in every sample; accept what a URL and an encoded query carry
# safely, and refuse anything else before it reaches a report request or the store.
LSID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def valid_lsid(value: object) -> bool:
    """Tell whether a value can be a session id (1-64 of A-Z, a-z, 0-9, _ and -)."""
    return isinstance(value, str) and LSID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class Actor:
    """Someone (or the system) named in a session event."""

    kind: str  # "representative" | "customer" | "system" | other vendor text
    gsnumber: str
    name: str


@dataclass
class Representative:
    """A rep who took part in a session."""

    gsnumber: str
    id: str = ""
    username: str = ""
    display_name: str = ""
    public_display_name: str = ""
    private_display_name: str = ""
    public_ip: str = ""
    private_ip: str = ""
    hostname: str = ""
    os: str = ""
    session_owner: bool = False
    primary_rep: bool = False
    seconds_involved: int = 0
    invited: bool = False

    @property
    def name(self) -> str:
        """Return the best name we have for the rep."""
        return (
            self.private_display_name
            or self.display_name
            or self.public_display_name
            or self.username
        )


@dataclass
class Customer:
    """A customer (end user) in a session."""

    gsnumber: str
    username: str = ""
    public_ip: str = ""
    private_ip: str = ""
    hostname: str = ""
    os: str = ""
    primary: bool = False
    info: dict[str, str] = field(
        default_factory=dict
    )  # name, company, company_code, issue, details

    @property
    def name(self) -> str:
        """Return the best name we have for the customer."""
        return self.info.get("name") or self.username


@dataclass
class SessionEvent:
    """One entry of session_details, kept whole for templates that want it."""

    timestamp: datetime | None
    event_type: str
    performed_by: Actor | None = None
    destination: Actor | None = None
    body: str = ""
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class ChatMessage:
    """One chat line."""

    timestamp: datetime | None
    sender: str
    sender_kind: str
    body: str


@dataclass
class FileTransfer:
    """A file moved between rep and customer."""

    timestamp: datetime | None
    direction: str  # "upload" (rep → customer) | "download" (customer → rep)
    filename: str
    filesize: int | None
    performed_by: str = ""
    destination: str = ""
    failed: bool = False


@dataclass
class SessionNote:
    """A note a rep added during the session."""

    timestamp: datetime | None
    author: str
    body: str


@dataclass
class SystemInfoCategory:
    """One category of the system information a rep retrieved (Overview, Drives, …)."""

    name: str
    columns: dict[str, str] = field(default_factory=dict)  # field name → column label
    rows: list[dict[str, str]] = field(default_factory=list)  # field name → cell value


@dataclass
class SurveyAnswer:
    """One answered question of an exit survey."""

    question_id: str
    name: str
    label: str
    answer: str

    @property
    def key(self) -> str:
        """Return the question's canonical key: its internal name, whatever report it came from.

        The SupportSession report names a question only by its internal name, the exit-survey
        reports add its label; keying on the name keeps a re-import through the other report
        from writing the answer again.
        """
        return self.name or self.question_id or self.label


@dataclass
class Survey:
    """An exit survey, from SupportSession's survey lists or the exit-survey reports."""

    kind: str  # "customer" | "representative"
    lsid: str
    submitted_by: str = ""
    gsnumber: str = ""
    submitted_at: datetime | None = None
    answers: list[SurveyAnswer] = field(default_factory=list)


@dataclass
class Transfer:
    """A session moved between queues or reps."""

    timestamp: datetime | None
    event_type: str
    performed_by: str = ""
    destination: str = ""


@dataclass
class SupportSession:
    """A SupportSession report entry, everything optional but the lsid."""

    lsid: str
    lseq: int | None = None
    session_type: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_seconds: int | None = None
    public_site: str = ""
    public_site_id: str = ""
    external_key: str = ""
    custom_attributes: dict[str, str] = field(default_factory=dict)
    chat_view_url: str = ""
    chat_download_url: str = ""
    recording_view_url: str = ""
    recording_download_url: str = ""
    file_transfer_count: int = 0
    file_move_count: int = 0
    file_delete_count: int = 0
    primary_customer_name: str = ""
    primary_customer_gsnumber: str = ""
    primary_rep_name: str = ""
    primary_rep_gsnumber: str = ""
    primary_rep_id: str = ""
    jumpoint: str = ""
    jump_group: str = ""
    customers: list[Customer] = field(default_factory=list)
    reps: list[Representative] = field(default_factory=list)
    events: list[SessionEvent] = field(default_factory=list)
    chat: list[ChatMessage] = field(default_factory=list)
    files: list[FileTransfer] = field(default_factory=list)
    notes: list[SessionNote] = field(default_factory=list)
    system_info: list[SystemInfoCategory] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    surveys: list[Survey] = field(default_factory=list)
    # Added fields: keep them after the original ones so positional construction still works.
    jumpoint_id: str = ""
    jump_group_id: str = ""
    jump_group_type: str = ""
    command_shell_recordings: list[CommandShellRecording] = field(default_factory=list)
    # Set when the report's entry for this session held data that cannot be converted (a
    # duration of "²"): the session cannot be imported as reported and goes to the dead letters.
    problem: str = ""

    @property
    def ended(self) -> bool:
        """Tell whether the appliance reports the session as over."""
        return self.end_time is not None

    @property
    def ticket_key(self) -> str:
        """Return the ticket reference: external_key, else the external_key custom attribute."""
        return (self.external_key or self.custom_attributes.get("external_key", "")).strip()

    @property
    def primary_rep(self) -> Representative | None:
        """Return the primary rep, matched by gsnumber, id or flag."""
        for rep in self.reps:
            if self.primary_rep_gsnumber and rep.gsnumber == self.primary_rep_gsnumber:
                return rep
        for rep in self.reps:
            if rep.primary_rep or rep.session_owner:
                return rep
        return self.reps[0] if self.reps else None

    @property
    def primary_customer(self) -> Customer | None:
        """Return the primary customer, matched by gsnumber or flag."""
        for cust in self.customers:
            if self.primary_customer_gsnumber and cust.gsnumber == self.primary_customer_gsnumber:
                return cust
        for cust in self.customers:
            if cust.primary:
                return cust
        return self.customers[0] if self.customers else None


@dataclass(frozen=True)
class OutboundEvent:
    """An outbound event as the appliance posted it (validated by events.parse_event)."""

    event: str
    version: str
    timestamp: int
    lsid: str
    appliance_id: str = ""
    external_key: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def dedupe_key(self) -> str:
        """Return the identity used to absorb redelivered events."""
        return f"{self.lsid}|{self.event}|{self.timestamp}"


# --- Added for the client and report parser (reports.py, client.py) -------------------------


@dataclass
class CommandShellRecording:
    """A command shell recording listed in a SupportSession."""

    instance: str = ""
    view_url: str = ""
    download_url: str = ""


@dataclass
class SessionSummary:
    """One entry of SupportSessionListing."""

    lsid: str
    has_recording: bool = False
    external_key: str = ""  # (unconfirmed) attribute; empty when the appliance does not send it


@dataclass
class SessionKey:
    """A session key minted by generate_session_key."""

    short_key: str
    key_url: str = ""
    mail_subject: str = ""
    mail_body: str = ""
    expires: datetime | None = None


@dataclass
class LoggedInRep:
    """A rep currently logged in to the appliance (get_logged_in_reps)."""

    id: str
    display_name: str = ""
    public_display_name: str = ""
    private_display_name: str = ""
    type: str = ""
    direct_link: str = ""
    logged_in_since: datetime | None = None
    presentation_count: int = 0
    support_session_count: int = 0
    showing_on_rep_list: bool = False

    @property
    def name(self) -> str:
        """Return the best name we have for the rep."""
        return self.private_display_name or self.public_display_name or self.display_name


@dataclass
class SupportTeam:
    """A support team (get_support_teams)."""

    id: str
    name: str = ""
    code_name: str = ""


@dataclass
class ApiInfo:
    """What get_api_info reports about the appliance and the API account."""

    api_version: str = ""
    company_name: str = ""
    timestamp: datetime | None = None
    permissions: dict[str, str] = field(default_factory=dict)


@dataclass
class SessionAttributes:
    """Custom attributes of an active session (get_session_attributes)."""

    values: dict[str, str] = field(default_factory=dict)  # code_name → value
    labels: dict[str, str] = field(default_factory=dict)  # code_name → display_name


@dataclass
class JumpClient:
    """A Jump Client from the Configuration API (fields the connector uses, plus the rest raw)."""

    id: int
    name: str = ""
    hostname: str = ""
    fqdn: str = ""
    tag: str = ""
    comments: str = ""
    jump_group_id: int | None = None
    jump_group_type: str = ""
    connection_type: str = ""
    operating_system: str = ""
    public_ip: str = ""
    private_ip: str = ""
    console_user: str = ""
    is_lost: bool = False
    raw: dict = field(default_factory=dict)


@dataclass
class JumpClientInstaller:
    """A Jump Client installer created through the Configuration API."""

    installer_id: str
    expiration_timestamp: str = ""
    encoded_info: str = ""  # only returned once, in the creation reply
    filename: str = ""
    installer_path: str = ""
    raw: dict = field(default_factory=dict)
