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
    # Reference to the ticket: the related list is "<name>.<task_field>"; "" adds none (3PA).
    task_field: str = "u_task"
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

# -- 3PA (Third Party Access, connector/tpa): its tables, appended to TABLES and ROLES ------------
ROLE_TPA_MANAGER = "x_bomgar.3pa_manager"  # application owners, administrators and approvers
ROLE_TPA_USER = "x_bomgar.3pa_user"  # outside users on the portal: may submit requests


def _tpa_access(create: tuple[str, ...], read: tuple[str, ...], write: tuple[str, ...]) -> dict:
    return {"create": create, "read": read, "write": write, "delete": ("admin",)}


_TPA_REQUEST_STATES = (
    ("submitted", "Submitted"),
    ("pending_approval", "Pending approval"),
    ("approved", "Approved"),
    ("active", "Active"),
    ("rejected", "Rejected"),
    ("failed", "Failed"),
    ("removal_requested", "Removal requested"),
    ("removed", "Removed"),
    ("expired", "Expired"),
)
_TPA_APPROVAL = (
    ("not_requested", "Not yet requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
)
_TPA_CHANGE_STATES = (("submitted", "Submitted"), ("applied", "Applied"), ("failed", "Failed"))
_TPA_INVITATION_STATES = (("sent", "Sent"), ("accepted", "Accepted"), ("expired", "Expired"))
_I, _M, _U = ROLE_INTEGRATION, ROLE_TPA_MANAGER, ROLE_TPA_USER

TABLES += (
    Table(
        "u_3pa_application",
        "3PA Application",
        "3PA Applications",
        (
            Column("u_name", "Name", "string", 100, unique=True, display=True, mandatory=True),
            Column("u_display_name", "Portal display name", "string", 100),
            Column("u_image", "Portal image URL", "string", 1024),
            Column("u_description", "Description", "string", 1000),
            Column("u_service", "Business service", "reference", 32, "cmdb_ci_service"),
            Column("u_owner", "Owner", "reference", 32, "sys_user"),
            Column("u_administrators", "Administrators", "glide_list", 4000, "sys_user"),
            Column("u_directory_groups", "Directory groups", "string", 4000),
            Column("u_sap_roles", "SAP roles (SCIM groups)", "string", 4000),
            Column("u_approvers", "Approvers", "glide_list", 4000, "sys_user"),
            Column("u_approval_groups", "Approval groups", "glide_list", 4000, "sys_user_group"),
            Column("u_questions", "Registration questions", "string", 4000),
            Column("u_allowed_domains", "Allowed e-mail domains", "string", 1000),
            Column("u_preapproved_domains", "Pre-approved e-mail domains", "string", 1000),
            Column("u_reminder_days", "Reminder after (days)", "integer"),
            Column("u_escalation_days", "Escalation after (days)", "integer"),
            Column("u_expiration_days", "Access expires after (days)", "integer"),
            Column("u_active", "Active", "boolean"),
            Column(
                "u_catalog_item", "Catalog item", "reference", 32, "sc_cat_item", read_only=True
            ),
            Column("u_sync_error", "Catalog sync error", "string", 1000, read_only=True),
        ),
        task_field="",
        access=_tpa_access((_I, _M), (_I, _M, _U), (_I, _M)),
    ),
    Table(
        "u_3pa_invitation",
        "3PA Invitation",
        "3PA Invitations",
        (
            Column("u_application", "Application", "reference", 32, "u_3pa_application"),
            Column("u_email", "E-mail", "string", 100, display=True, mandatory=True),
            Column("u_first_name", "First name", "string", 50),
            Column("u_last_name", "Last name", "string", 50),
            Column("u_invited_by", "Invited by", "reference", 32, "sys_user"),
            Column("u_state", "State", "choice", 40, choices=_TPA_INVITATION_STATES),
            Column("u_expires_at", "Expires", "glide_date_time"),
            Column("u_message", "Message", "string", 1000),
        ),
        task_field="",
        access=_tpa_access((_I, _M), (_I, _M), (_I, _M)),
    ),
    Table(
        "u_3pa_access_request",
        "3PA Access Request",
        "3PA Access Requests",
        (
            Column("u_application", "Application", "reference", 32, "u_3pa_application"),
            Column("u_email", "E-mail", "string", 100, display=True, mandatory=True),
            Column("u_first_name", "First name", "string", 50),
            Column("u_last_name", "Last name", "string", 50),
            Column("u_company", "Company", "string", 100),
            Column("u_phone", "Phone", "string", 40),
            Column("u_requested_for", "Requested for", "reference", 32, "sys_user"),
            Column("u_answers", "Answers (JSON)", "string", 4000),
            Column("u_invitation", "Invitation", "reference", 32, "u_3pa_invitation"),
            Column("u_request_item", "Requested item", "reference", 32, "sc_req_item"),
            Column("u_state", "State", "choice", 40, choices=_TPA_REQUEST_STATES),
            Column("u_approval", "Approval", "choice", 40, choices=_TPA_APPROVAL),
            Column("u_preapproved", "Pre-approved", "boolean", read_only=True),
            Column("u_approved_by", "Approved by", "reference", 32, "sys_user"),
            Column("u_approved_at", "Approved", "glide_date_time"),
            Column("u_provisioned_at", "Provisioned", "glide_date_time", read_only=True),
            Column("u_expires_at", "Access expires", "glide_date_time"),
            Column("u_user_name", "Directory user name", "string", 100, read_only=True),
            Column("u_directory_user", "Directory DN", "string", 1024, read_only=True),
            Column("u_result", "Result", "string", 4000, read_only=True),
            Column("u_error", "Error", "string", 1000, read_only=True),
            Column("u_work_notes", "Work notes", "journal", 4000),
        ),
        task_field="",
        access=_tpa_access((_I, _M, _U), (_I, _M), (_I, _M)),
    ),
    Table(
        "u_3pa_profile_change",
        "3PA Profile Change",
        "3PA Profile Changes",
        (
            Column("u_user_name", "Directory user name", "string", 100, display=True),
            Column("u_requested_for", "Requested for", "reference", 32, "sys_user"),
            Column("u_changes", "Changes (JSON)", "string", 4000),
            Column("u_state", "State", "choice", 40, choices=_TPA_CHANGE_STATES),
            Column("u_summary", "Before and after", "string", 4000, read_only=True),
            Column("u_applied_at", "Applied", "glide_date_time", read_only=True),
            Column("u_error", "Error", "string", 1000, read_only=True),
            Column("u_work_notes", "Work notes", "journal", 4000),
        ),
        task_field="",
        access=_tpa_access((_I, _U), (_I, _M), (_I,)),
    ),
    Table(
        "u_3pa_profile_change_value",
        "3PA Profile Change Value",
        "3PA Profile Change Values",
        (
            Column("u_change", "Profile change", "reference", 32, "u_3pa_profile_change"),
            Column("u_attribute", "Attribute", "string", 100, display=True),
            Column("u_field", "Field", "string", 100),
            Column("u_before", "Before", "string", 1000),
            Column("u_after", "After", "string", 1000),
        ),
        task_field="",
        access=_tpa_access((_I,), (_I, _M), (_I,)),
    ),
)

ROLES: tuple[Role, ...] = (
    Role(ROLE_INTEGRATION, "The connector's account: writes Bomgar sessions and survey responses"),
    Role(ROLE_READER, "Reads Bomgar sessions and survey responses (itil users can too)"),
    # 3PA
    Role(ROLE_TPA_MANAGER, "3PA: owns, administers and approves access to applications"),
    Role(ROLE_TPA_USER, "3PA: an outside user of the portal; submits access and profile requests"),
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
