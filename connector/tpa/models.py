"""The 3PA records as the connector reads them from ServiceNow: pure dataclasses and states."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.errors import DataError

# u_3pa_access_request.u_state: what a requester follows from submission to completion.
SUBMITTED = "submitted"  # new; the connector decides pre-approval
PENDING_APPROVAL = "pending_approval"  # waits for the application's approvers
APPROVED = "approved"  # approved (by a person or pre-approval); the connector provisions
ACTIVE = "active"  # provisioned: the user is in the application's groups
REJECTED = "rejected"  # refused by an approver or by the rules (outside the allowed domains)
FAILED = "failed"  # the request cannot be applied (unknown application or group); see u_error
REMOVAL_REQUESTED = "removal_requested"  # access to be withdrawn
REMOVED = "removed"
EXPIRED = "expired"
REQUEST_STATES = (
    (SUBMITTED, "Submitted"),
    (PENDING_APPROVAL, "Pending approval"),
    (APPROVED, "Approved"),
    (ACTIVE, "Active"),
    (REJECTED, "Rejected"),
    (FAILED, "Failed"),
    (REMOVAL_REQUESTED, "Removal requested"),
    (REMOVED, "Removed"),
    (EXPIRED, "Expired"),
)
# States the connector acts on (the poller queues requests in them).
ACTIONABLE = (SUBMITTED, APPROVED, REMOVAL_REQUESTED)

APPROVAL_STATES = (
    ("not_requested", "Not yet requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
)

# u_3pa_profile_change.u_state
CHANGE_SUBMITTED = "submitted"
CHANGE_APPLIED = "applied"
CHANGE_FAILED = "failed"
CHANGE_STATES = (
    (CHANGE_SUBMITTED, "Submitted"),
    (CHANGE_APPLIED, "Applied"),
    (CHANGE_FAILED, "Failed"),
)

INVITATION_STATES = (("sent", "Sent"), ("accepted", "Accepted"), ("expired", "Expired"))

SN_TIME = "%Y-%m-%d %H:%M:%S"


def sn_time(when: datetime | None = None) -> str:
    """Format a moment (default now) as ServiceNow's UTC date-time."""
    return (when or datetime.now(UTC)).astimezone(UTC).strftime(SN_TIME)


def parse_sn_time(text: str) -> datetime | None:
    """Read ServiceNow's UTC date-time; empty or unreadable text is None."""
    try:
        return datetime.strptime(text.strip(), SN_TIME).replace(tzinfo=UTC) if text else None
    except ValueError:
        return None


def _ref(value: Any) -> str:
    """Return a reference field's sys_id whether the API sent text or {value, link}."""
    if isinstance(value, dict):
        return str(value.get("value", ""))
    return str(value or "")


def split_list(text: str) -> list[str]:
    """Split a list field: one item per line or comma, blanks dropped, order and case kept."""
    items = []
    for line in (text or "").replace(",", "\n").splitlines():
        item = line.strip()
        if item and item not in items:
            items.append(item)
    return items


@dataclass(frozen=True)
class Application:
    """An application outside users can request access to."""

    sys_id: str
    name: str
    display_name: str
    active: bool
    groups: list[str]  # directory group names that grant access
    sap_roles: list[str]  # SCIM group display names in SAP Cloud Identity Services
    allowed_domains: list[str]  # empty: any domain may request
    preapproved_domains: list[str]
    questions: str
    expiration_days: int
    description: str = ""
    image: str = ""
    catalog_item: str = ""
    service: str = ""
    owner: str = ""
    approvers: list[str] = field(default_factory=list)  # sys_user sys_ids
    approval_groups: list[str] = field(default_factory=list)  # sys_user_group sys_ids
    reminder_days: int = 0
    escalation_days: int = 0

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Application:
        """Build from a u_3pa_application record."""

        def days(name: str) -> int:
            try:
                return max(0, int(rec.get(name) or 0))
            except ValueError:
                return 0

        return cls(
            sys_id=_ref(rec.get("sys_id")),
            name=str(rec.get("u_name", "")),
            display_name=str(rec.get("u_display_name") or rec.get("u_name", "")),
            active=str(rec.get("u_active", "true")).lower() in ("true", "1"),
            groups=split_list(str(rec.get("u_directory_groups", ""))),
            sap_roles=split_list(str(rec.get("u_sap_roles", ""))),
            allowed_domains=split_list(str(rec.get("u_allowed_domains", ""))),
            preapproved_domains=split_list(str(rec.get("u_preapproved_domains", ""))),
            questions=str(rec.get("u_questions", "")),
            expiration_days=days("u_expiration_days"),
            description=str(rec.get("u_description", "")),
            image=str(rec.get("u_image", "")),
            catalog_item=_ref(rec.get("u_catalog_item")),
            service=_ref(rec.get("u_service")),
            owner=_ref(rec.get("u_owner")),
            approvers=split_list(_ref(rec.get("u_approvers"))),
            approval_groups=split_list(_ref(rec.get("u_approval_groups"))),
            reminder_days=days("u_reminder_days"),
            escalation_days=days("u_escalation_days"),
        )

    def context(self) -> dict[str, Any]:
        """Return what mapping templates see as ``application``."""
        return {
            "sys_id": self.sys_id,
            "name": self.name,
            "display_name": self.display_name,
            "groups": list(self.groups),
            "sap_roles": list(self.sap_roles),
        }


@dataclass(frozen=True)
class AccessRequest:
    """A request for access to one application."""

    sys_id: str
    application: str
    state: str
    approval: str
    email: str
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    phone: str = ""
    requested_for: str = ""
    invitation: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    approved_at: datetime | None = None
    expires_at: datetime | None = None
    user_name: str = ""

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> AccessRequest:
        """Build from a u_3pa_access_request record; bad answers JSON is a DataError."""
        raw = str(rec.get("u_answers") or "")
        answers: dict[str, str] = {}
        if raw.strip():
            try:
                loaded = json.loads(raw)
            except ValueError as exc:
                raise DataError(f"u_answers: expected a JSON object, found {raw[:60]!r}") from exc
            if not isinstance(loaded, dict):
                raise DataError("u_answers: expected a JSON object of answers")
            answers = {str(k): "" if v is None else str(v) for k, v in loaded.items()}
        return cls(
            sys_id=_ref(rec.get("sys_id")),
            application=_ref(rec.get("u_application")),
            state=str(rec.get("u_state") or SUBMITTED),
            approval=str(rec.get("u_approval") or "not_requested"),
            email=str(rec.get("u_email", "")).strip(),
            first_name=str(rec.get("u_first_name", "")).strip(),
            last_name=str(rec.get("u_last_name", "")).strip(),
            company=str(rec.get("u_company", "")).strip(),
            phone=str(rec.get("u_phone", "")).strip(),
            requested_for=_ref(rec.get("u_requested_for")),
            invitation=_ref(rec.get("u_invitation")),
            answers=answers,
            approved_at=parse_sn_time(str(rec.get("u_approved_at") or "")),
            expires_at=parse_sn_time(str(rec.get("u_expires_at") or "")),
            user_name=str(rec.get("u_user_name", "")),
        )

    def context(self) -> dict[str, Any]:
        """Return what mapping templates see as ``request``."""
        return {
            "sys_id": self.sys_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "phone": self.phone,
            "answers": dict(self.answers),
        }


@dataclass(frozen=True)
class ProfileChange:
    """A user's change of their own profile attributes."""

    sys_id: str
    user_name: str
    state: str
    changes: dict[str, str]

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ProfileChange:
        """Build from a u_3pa_profile_change record; bad changes JSON is a DataError."""
        raw = str(rec.get("u_changes") or "")
        try:
            loaded = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise DataError(f"u_changes: expected a JSON object, found {raw[:60]!r}") from exc
        if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
            raise DataError("u_changes: expected a JSON object of field: new value")
        return cls(
            sys_id=_ref(rec.get("sys_id")),
            user_name=str(rec.get("u_user_name", "")).strip(),
            state=str(rec.get("u_state") or CHANGE_SUBMITTED),
            changes={k: "" if v is None else str(v) for k, v in loaded.items()},
        )


@dataclass(frozen=True)
class Invitation:
    """An invitation for one e-mail address to request one application."""

    sys_id: str
    application: str
    email: str
    state: str
    expires_at: datetime | None

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Invitation:
        """Build from a u_3pa_invitation record."""
        return cls(
            sys_id=_ref(rec.get("sys_id")),
            application=_ref(rec.get("u_application")),
            email=str(rec.get("u_email", "")).strip(),
            state=str(rec.get("u_state") or "sent"),
            expires_at=parse_sn_time(str(rec.get("u_expires_at") or "")),
        )
