"""The update set's 3PA tables agree with what the connector reads and writes."""

from __future__ import annotations

from connector.servicenow.updateset import ROLE_INTEGRATION, TABLES
from connector.tpa import models

BY_NAME = {t.name: t for t in TABLES}
WRITTEN = {
    "u_3pa_access_request": {
        "u_state",
        "u_approval",
        "u_preapproved",
        "u_approved_at",
        "u_expires_at",
        "u_error",
        "u_work_notes",
        "u_provisioned_at",
        "u_user_name",
        "u_directory_user",
        "u_result",
    },
    "u_3pa_profile_change": {"u_state", "u_applied_at", "u_summary", "u_error", "u_work_notes"},
    "u_3pa_profile_change_value": {"u_change", "u_attribute", "u_field", "u_before", "u_after"},
    "u_3pa_application": {"u_catalog_item", "u_sync_error"},
    "u_3pa_invitation": {
        "u_application",
        "u_email",
        "u_state",
        "u_expires_at",
        "u_first_name",
        "u_last_name",
        "u_message",
        "u_invited_by",
    },
}


def test_state_choices_are_the_models_states():
    """The choice lists in the update set are exactly the states the connector uses."""
    columns = {c.name: c for c in BY_NAME["u_3pa_access_request"].columns}
    assert columns["u_state"].choices == models.REQUEST_STATES
    assert columns["u_approval"].choices == models.APPROVAL_STATES
    change = {c.name: c for c in BY_NAME["u_3pa_profile_change"].columns}
    assert change["u_state"].choices == models.CHANGE_STATES
    invitation = {c.name: c for c in BY_NAME["u_3pa_invitation"].columns}
    assert invitation["u_state"].choices == models.INVITATION_STATES


def test_every_field_the_connector_writes_exists_and_its_role_may_write():
    """Each written field is a column, and the integration role may create and write there."""
    for table, fields in WRITTEN.items():
        t = BY_NAME[table]
        assert fields <= {c.name for c in t.columns}, table
        assert ROLE_INTEGRATION in t.access["write"] and ROLE_INTEGRATION in t.access["read"]
        assert not t.task_field  # no related list on the incident form
