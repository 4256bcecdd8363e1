"""What the update set ships: its tables and columns, roles, access, reports and properties.

Data, not code: a new table is one more ``Table`` entry, and every record it needs (table,
dictionary, labels, choices, access rules, related list) follows from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from connector.servicenow.scripts import (
    AGENT_ROLE,
    PROPERTY_LINK_TTL,
    PROPERTY_SECRET,
    PROPERTY_TOKEN,
    PROPERTY_URL,
)

UPDATE_SET_NAME = "Bomgar Remote Support connector"
ROLE_INTEGRATION = "x_bomgar.integration"
ROLE_READER = "x_bomgar.reader"
# Base-system roles the ACLs name: referenced by sys_id and, for the commit's coalescing, by name.
BASE_ROLES = {
    "itil": "282bf1fac6112285017366cb5f867469",
    "admin": "2831a114c611228501d4ea6c309d626d",
}
# Who may do what on each table the update set creates (sys_security_acl + _role, OR of roles).
# The connector never deletes, so delete is left to admins.
TABLE_ACCESS: dict[str, tuple[str, ...]] = {
    "create": (ROLE_INTEGRATION,),
    "read": (ROLE_INTEGRATION, ROLE_READER, AGENT_ROLE),
    "write": (ROLE_INTEGRATION,),
    "delete": ("admin",),
}
# Forms that get our related lists (by the fix script, which keeps the customer's lists).
RELATED_LIST_PARENTS = ("incident",)


def stable_id(*parts: str) -> str:
    """Return a 32-hex sys_id derived from names (same input, same id, on every export)."""
    return hashlib.md5("/".join(("bomgar-connector", *parts)).encode()).hexdigest()  # noqa: S324


@dataclass(frozen=True)
class Column:
    """One column of a table the update set creates."""

    name: str
    label: str
    type: str  # ServiceNow internal_type: string, integer, glide_date_time, reference, choice
    max_length: int = 40
    reference: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    mandatory: bool = False
    unique: bool = False  # a unique index: the instance refuses a second row with this value
    read_only: bool = False
    display: bool = False  # the table's display column


@dataclass(frozen=True)
class Table:
    """A table the update set creates, its access rules and the related list it adds to tickets."""

    name: str
    label: str
    plural: str
    columns: tuple[Column, ...]
    task_field: str = "u_task"  # reference to the ticket: the related list is "<name>.<task_field>"
    access: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(TABLE_ACCESS))

    @property
    def related_list(self) -> str:
        """Return the related-list name a ticket form shows this table under."""
        return f"{self.name}.{self.task_field}"


@dataclass(frozen=True)
class Role:
    """A role the update set creates."""

    name: str
    description: str


@dataclass(frozen=True)
class Report:
    """A report definition (sys_report) shipped with the update set."""

    title: str
    table: str
    type: str  # bar, pie, list, single_score, ...
    field: str = ""  # group by
    aggregate: str = "COUNT"
    sum_field: str = ""  # the field AVG/SUM aggregate
    filter: str = ""
    field_list: str = ""
    roles: tuple[str, ...] = (AGENT_ROLE, ROLE_READER)


TABLES: tuple[Table, ...] = (
    Table(
        "u_bomgar_session",
        "Bomgar Session",
        "Bomgar Sessions",
        (
            Column("u_lsid", "LSID", "string", 64, unique=True, display=True),
            Column("u_task", "Task", "reference", 32, "task"),
            Column("u_start_time", "Start time", "glide_date_time"),
            Column("u_end_time", "End time", "glide_date_time"),
            Column("u_duration", "Duration", "integer"),
            Column("u_primary_rep", "Primary rep", "reference", 32, "sys_user"),
            Column("u_rep_name", "Rep name", "string", 100),
            Column("u_customer_name", "Customer name", "string", 100),
            Column("u_customer_hostname", "Customer hostname", "string", 255),
            Column("u_customer_os", "Customer OS", "string", 255),
            Column("u_customer_public_ip", "Customer public IP", "string", 64),
            Column("u_customer_private_ip", "Customer private IP", "string", 64),
            Column("u_public_site", "Public site", "string", 100),
            Column("u_appliance_id", "Appliance ID", "string", 64),
            Column("u_chat_transcript", "Chat transcript", "string", 4000),
            Column("u_system_info", "System info", "string", 4000),
            Column("u_file_transfer_count", "File transfer count", "integer"),
            Column("u_chat_url", "Chat URL", "string", 1024),
            Column("u_recording_url", "Recording URL", "string", 1024),
        ),
    ),
    Table(
        "u_bomgar_survey_response",
        "Bomgar Survey Response",
        "Bomgar Survey Responses",
        (
            Column("u_session", "Session", "reference", 32, "u_bomgar_session"),
            Column("u_task", "Task", "reference", 32, "task"),
            Column("u_lsid", "LSID", "string", 64),
            Column(
                "u_survey_type",
                "Survey type",
                "choice",
                40,
                choices=(("customer", "Customer"), ("representative", "Representative")),
            ),
            Column("u_question", "Question", "string", 255, display=True),
            Column("u_question_label", "Question label", "string", 255),
            Column("u_answer", "Answer", "string", 4000),
            Column("u_submitted_by", "Submitted by", "string", 100),
        ),
    ),
)

ROLES: tuple[Role, ...] = (
    Role(ROLE_INTEGRATION, "The connector's account: writes Bomgar sessions and survey responses"),
    Role(ROLE_READER, "Reads Bomgar sessions and survey responses (itil users can too)"),
)

REPORTS: tuple[Report, ...] = (
    Report("Bomgar sessions by representative", "u_bomgar_session", "bar", field="u_rep_name"),
    # task has no category: ref_incident walks to the incident the session belongs to.
    Report(
        "Bomgar sessions by ticket category",
        "u_bomgar_session",
        "bar",
        field="u_task.ref_incident.category",
    ),
    Report(
        "Bomgar session average duration (seconds)",
        "u_bomgar_session",
        "single_score",
        aggregate="AVG",
        sum_field="u_duration",
    ),
    Report(
        "Bomgar customer survey answers",
        "u_bomgar_survey_response",
        "list",
        field="u_question",
        filter="u_survey_type=customer",
        field_list="u_question,u_answer,u_submitted_by,u_lsid,sys_created_on",
    ),
)

PROPERTIES: tuple[tuple[str, str, str, str], ...] = (
    (
        PROPERTY_URL,
        "string",
        "",
        "Base https URL of the Bomgar connector, e.g. https://connector.example.com",
    ),
    (PROPERTY_TOKEN, "password2", "", "Bearer token the connector accepts (one of api.tokens)"),
    (
        PROPERTY_SECRET,
        "password2",
        "",
        "Shared secret for Get Support Now links (support.signing_secret)",
    ),
    (PROPERTY_LINK_TTL, "integer", "600", "Seconds a Get Support Now link stays valid"),
)
