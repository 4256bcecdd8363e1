"""Read and write the 3PA tables in ServiceNow through the connector's ServiceNow client.

Every value put into an encoded query passes ``connector.servicenow.query``. The work note a
request gets when it changes state carries a marker, ``[3PA <sys_id> <state>]``, and is written
in the same PATCH as the state: a retry re-reads the request first, finds the state (and the
note) already there, and writes nothing twice.
"""

from __future__ import annotations

from typing import Any

from connector.servicenow import query as q
from connector.servicenow.client import ServiceNowClient
from connector.tpa import models

APPLICATIONS = "u_3pa_application"
REQUESTS = "u_3pa_access_request"
INVITATIONS = "u_3pa_invitation"
CHANGES = "u_3pa_profile_change"
CHANGE_VALUES = "u_3pa_profile_change_value"


def marker(sys_id: str, what: str) -> str:
    """Return the text that starts the work note of one state change of one request."""
    return f"[3PA {sys_id} {what}]"


class Records:
    """The 3PA side of the instance."""

    def __init__(self, servicenow: ServiceNowClient) -> None:
        self.sn = servicenow

    # -- applications --------------------------------------------------------------------

    def application(self, sys_id: str) -> models.Application | None:
        """Return an application by sys_id, or None."""
        if not sys_id:
            return None
        rec = self.sn.get_record(APPLICATIONS, q.sys_id(sys_id))
        return models.Application.from_record(rec) if rec else None

    def application_by_name(self, name: str) -> models.Application | None:
        """Return an application by its unique name, or None."""
        rows = self.sn.query(APPLICATIONS, q.equals("u_name", name), limit=2)
        return models.Application.from_record(rows[0]) if rows else None

    def applications(self, *, active_only: bool = False) -> list[models.Application]:
        """Return every application."""
        rows = self.sn.query(APPLICATIONS, "u_active=true" if active_only else "")
        return [models.Application.from_record(r) for r in rows]

    def update_application(self, sys_id: str, fields: dict[str, Any]) -> None:
        """Write fields the connector owns on an application (catalog item, sync error)."""
        self.sn.update_record(APPLICATIONS, q.sys_id(sys_id), fields)

    # -- access requests -----------------------------------------------------------------

    def request(self, sys_id: str) -> dict[str, Any] | None:
        """Return an access request's record, or None."""
        return self.sn.get_record(REQUESTS, q.sys_id(sys_id))

    def update_request(self, sys_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change an access request (state, result, work note) in one PATCH."""
        return self.sn.update_record(REQUESTS, q.sys_id(sys_id), fields)

    def requests_in(self, states: tuple[str, ...], *, limit: int = 5000) -> list[dict[str, Any]]:
        """Return requests in the given states (sys_id and state only)."""
        return self.sn.query(
            REQUESTS,
            q.one_of("u_state", states, q.name),
            fields=["sys_id", "u_state", "u_expires_at"],
            limit=limit,
        )

    def expired(self, now_text: str, *, limit: int = 5000) -> list[dict[str, Any]]:
        """Return active requests whose access expired before ``now_text`` (ServiceNow time)."""
        return self.sn.query(
            REQUESTS,
            q.all_of(
                q.equals("u_state", models.ACTIVE, q.name),
                q.is_not_empty("u_expires_at"),
                f"u_expires_at<{q.text(now_text)}",
            ),
            fields=["sys_id", "u_state", "u_expires_at"],
            limit=limit,
        )

    def active_requests_of(self, user_name: str) -> list[dict[str, Any]]:
        """Return the active requests of one directory user (for removal and reconciliation)."""
        return self.sn.query(
            REQUESTS,
            q.all_of(
                q.equals("u_user_name", user_name),
                q.equals("u_state", models.ACTIVE, q.name),
            ),
            fields=["sys_id", "u_application", "u_user_name", "u_directory_user"],
        )

    def active_requests(self, application: str | None = None) -> list[dict[str, Any]]:
        """Return every active request (of one application)."""
        terms = [q.equals("u_state", models.ACTIVE, q.name)]
        if application:
            terms.append(q.equals("u_application", application, q.sys_id))
        return self.sn.query(
            REQUESTS,
            q.all_of(*terms),
            fields=["sys_id", "u_application", "u_user_name", "u_directory_user", "u_email"],
        )

    # -- invitations ---------------------------------------------------------------------

    def invitation(self, sys_id: str) -> models.Invitation | None:
        """Return an invitation, or None."""
        if not sys_id:
            return None
        rec = self.sn.get_record(INVITATIONS, q.sys_id(sys_id))
        return models.Invitation.from_record(rec) if rec else None

    def open_invitation(self, application: str, email: str) -> dict[str, Any] | None:
        """Return the sent invitation of an address for an application, if there is one."""
        rows = self.sn.query(
            INVITATIONS,
            q.all_of(
                q.equals("u_application", application, q.sys_id),
                q.equals("u_email", email, q.email),
                "u_state=sent",
            ),
            limit=1,
        )
        return rows[0] if rows else None

    def create_invitation(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Insert an invitation."""
        return self.sn.create_record(INVITATIONS, fields)

    def accept_invitation(self, sys_id: str) -> None:
        """Mark an invitation accepted (a request used it)."""
        self.sn.update_record(INVITATIONS, q.sys_id(sys_id), {"u_state": "accepted"})

    # -- profile changes -----------------------------------------------------------------

    def profile_change(self, sys_id: str) -> dict[str, Any] | None:
        """Return a profile change's record, or None."""
        return self.sn.get_record(CHANGES, q.sys_id(sys_id))

    def update_profile_change(self, sys_id: str, fields: dict[str, Any]) -> None:
        """Change a profile change (state, summary, work note) in one PATCH."""
        self.sn.update_record(CHANGES, q.sys_id(sys_id), fields)

    def change_values(self, change: str) -> list[dict[str, Any]]:
        """Return the before/after rows already written for a profile change."""
        return self.sn.query(
            CHANGE_VALUES, q.equals("u_change", change, q.sys_id), order_by="u_attribute"
        )

    def add_change_value(self, fields: dict[str, Any]) -> None:
        """Insert one before/after row."""
        self.sn.create_record(CHANGE_VALUES, fields)

    def changes_in(self, state: str, *, limit: int = 5000) -> list[dict[str, Any]]:
        """Return profile changes in a state (sys_id only)."""
        return self.sn.query(
            CHANGES, q.equals("u_state", state, q.name), fields=["sys_id"], limit=limit
        )

    # -- catalog -------------------------------------------------------------------------

    def find(self, table: str, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Query any table (the catalog sync's items, variables and choices)."""
        return self.sn.query(table, query, **kwargs)

    def get(self, table: str, sys_id: str) -> dict[str, Any] | None:
        """Read one record of any table."""
        return self.sn.get_record(table, q.sys_id(sys_id))

    def create(self, table: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Insert into any table."""
        return self.sn.create_record(table, fields)

    def update(self, table: str, sys_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Update a record of any table."""
        return self.sn.update_record(table, q.sys_id(sys_id), fields)
