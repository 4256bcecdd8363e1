"""3PA end to end: slapd, the SCIM server and the ServiceNow emulator over real sockets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from connector.tpa.poller import poll
from tests.e2e.tpa.conftest import notes, settle

pytestmark = pytest.mark.slow

ANSWERS = json.dumps({"company_id": "P-1", "region": "EMEA"})


def unique(domain: str = "partner.example.com") -> str:
    return f"user-{uuid.uuid4().hex[:8]}@{domain}"


def test_preapproved_request_lands_in_the_directory_and_sap_once(tpa_stack, tpa):
    """A pre-approved request: user, group, SAP user and role, result and one work note."""
    email = unique()
    sys_id = tpa_stack.submit("partner-portal", email, u_first_name="Pat", u_answers=ANSWERS)
    reply = tpa_stack.api("POST", f"/requests/{sys_id}")
    assert reply.status_code == 200 and reply.json()["state"] == "done", reply.text
    rec = tpa_stack.request(sys_id)
    assert (rec["u_state"], rec["u_approval"], rec["u_preapproved"]) == (
        "active",
        "approved",
        "true",
    )
    assert rec["u_expires_at"] and rec["u_user_name"] == email
    user = tpa.directory.find_user("uid", email, "inetOrgPerson")
    assert user is not None and user.dn == rec["u_directory_user"]
    assert any(v.startswith("cn=partner-portal-users,") for v in user.attributes["memberOf"])
    sap_user = tpa.sap.find_user(email)
    role = tpa.sap.find_group("PartnerPortal_User")
    assert str(sap_user.id) in tpa.sap.group_members(str(role.id))
    assert len(notes(tpa_stack, "u_3pa_access_request", sys_id, f"[3PA {sys_id} active]")) == 1
    assert len(notes(tpa_stack, "u_3pa_access_request", sys_id, f"[3PA {sys_id} approved]")) == 1
    # The instance calling again (a duplicate) changes nothing.
    assert tpa_stack.api("POST", f"/requests/{sys_id}").json()["note"].startswith("nothing to do")
    assert len(notes(tpa_stack, "u_3pa_access_request", sys_id, f"[3PA {sys_id} active]")) == 1


def test_other_domains_wait_for_approval_and_provision_after_it(tpa_stack, tpa):
    """A request outside the pre-approved domains waits; approved, it is applied on the call."""
    email = unique("supplier.example.org")
    sys_id = tpa_stack.submit(
        "supplier-invoices", email, u_answers=json.dumps({"vendor_number": "V-9"})
    )
    tpa_stack.api("POST", f"/requests/{sys_id}")
    assert tpa_stack.request(sys_id)["u_state"] == "pending_approval"
    assert tpa.directory.find_user("uid", email, "inetOrgPerson") is None
    tpa_stack.approve(sys_id)
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert rec["u_state"] == "active", rec["u_error"]
    assert rec["u_expires_at"]  # the application's 90 days, counted from provisioning
    user = tpa.directory.find_user("uid", email, "inetOrgPerson")
    assert any("supplier-invoices" in v for v in user.attributes["memberOf"])


def test_the_poller_applies_requests_whose_call_never_came(tpa_stack, tpa):
    """Without the instance's call, the poller finds the request and it is applied."""
    email = unique()
    sys_id = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    assert poll(tpa) >= 1
    assert settle(tpa_stack, f"3pa:{sys_id}") == "done"
    assert tpa_stack.request(sys_id)["u_state"] == "active"
    assert poll(tpa) == 0 or tpa_stack.services.store.job_state(f"3pa:{sys_id}") == "done"


def test_outside_the_allowed_domains_is_rejected_and_nothing_is_written(tpa_stack, tpa):
    """A user outside the allowed domains gets the reason on the request and no account."""
    email = unique("elsewhere.org")
    sys_id = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert rec["u_state"] == "rejected"
    assert "elsewhere.org is not allowed for Partner Portal" in rec["u_error"]
    assert tpa.directory.find_user("uid", email, "inetOrgPerson") is None
    assert tpa.sap.find_user(email) is None


def test_an_unknown_application_is_a_clear_error(tpa_stack, tpa):
    """A request naming no application fails with that message, and writes nothing else."""
    email = unique()
    sys_id = str(
        tpa_stack.sn.create_record(
            "u_3pa_access_request",
            {"u_application": "f" * 32, "u_email": email, "u_state": "submitted"},
        )["sys_id"]
    )
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert (
        rec["u_state"] == "failed"
        and f"the application {'f' * 32} does not exist" in rec["u_error"]
    )
    assert tpa.directory.find_user("uid", email, "inetOrgPerson") is None


def test_an_unknown_group_leaves_nothing_half_done(tpa_stack, tpa):
    """One missing group fails the request before any write: no user, no membership, no SAP."""
    app = tpa_stack.sn.create_record(
        "u_3pa_application",
        {
            "u_name": f"broken-{uuid.uuid4().hex[:6]}",
            "u_display_name": "Broken",
            "u_directory_groups": "partner-portal-users\nno-such-group",
            "u_sap_roles": "PartnerPortal_User",
            "u_preapproved_domains": "partner.example.com",
            "u_active": "true",
        },
    )
    email = unique()
    sys_id = str(
        tpa_stack.sn.create_record(
            "u_3pa_access_request",
            {"u_application": app["sys_id"], "u_email": email, "u_state": "submitted"},
        )["sys_id"]
    )
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert rec["u_state"] == "failed"
    assert "the directory group 'no-such-group' of Broken does not exist" in rec["u_error"]
    assert tpa.directory.find_user("uid", email, "inetOrgPerson") is None
    group = tpa.directory.find_group("partner-portal-users", "groupOfNames")
    assert not any(email in m for m in tpa.directory.members(group))
    assert tpa.sap.find_user(email) is None


def test_an_unknown_sap_role_leaves_nothing_half_done(tpa_stack, tpa):
    """A SAP role SAP does not know fails the request before the directory is touched."""
    app = tpa_stack.sn.create_record(
        "u_3pa_application",
        {
            "u_name": f"sap-broken-{uuid.uuid4().hex[:6]}",
            "u_display_name": "SAP Broken",
            "u_directory_groups": "partner-portal-users",
            "u_sap_roles": "NoSuchRole",
            "u_preapproved_domains": "partner.example.com",
            "u_active": "true",
        },
    )
    email = unique()
    sys_id = tpa_stack.sn.create_record(
        "u_3pa_access_request",
        {"u_application": app["sys_id"], "u_email": email, "u_state": "submitted"},
    )["sys_id"]
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert rec["u_state"] == "failed" and "'NoSuchRole'" in rec["u_error"]
    assert tpa.directory.find_user("uid", email, "inetOrgPerson") is None


def test_dn_and_filter_specials_in_an_address_are_escaped(tpa_stack, tpa):
    """An address with + = ' and # becomes one correctly escaped DN, found again by uid."""
    email = f"o'neil+x=y#{uuid.uuid4().hex[:4]}@partner.example.com"
    sys_id = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert rec["u_state"] == "active", rec["u_error"]
    assert "\\+x\\=y" in rec["u_directory_user"]
    user = tpa.directory.find_user("uid", email, "inetOrgPerson")
    assert user is not None and user.first("uid") == email


def test_profile_change_records_before_and_after(tpa_stack, tpa):
    """A profile change is applied and its rows hold each attribute before and after."""
    email = unique()
    sys_id = tpa_stack.submit("partner-portal", email, u_phone="+1 111", u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{sys_id}")
    change = tpa_stack.sn.create_record(
        "u_3pa_profile_change",
        {
            "u_user_name": email,
            "u_changes": json.dumps({"phone": "+1 222", "company": "New Co"}),
            "u_state": "submitted",
        },
    )["sys_id"]
    assert tpa_stack.api("POST", f"/profile-changes/{change}").status_code == 200
    rec = tpa_stack.sn.get_record("u_3pa_profile_change", change)
    assert rec["u_state"] == "applied", rec["u_error"]
    rows = tpa_stack.sn.query("u_3pa_profile_change_value", f"u_change={change}")
    assert {(r["u_field"], r["u_attribute"], r["u_before"], r["u_after"]) for r in rows} == {
        ("phone", "telephoneNumber", "+1 111", "+1 222"),
        ("company", "o", "", "New Co"),
    }
    assert "| before" in rec["u_summary"] and "+1 222" in rec["u_summary"]
    user = tpa.directory.find_user("uid", email, "inetOrgPerson")
    assert user.first("telephoneNumber") == "+1 222" and user.first("o") == "New Co"
    # Replaying it changes nothing and writes no second row.
    tpa_stack.api("POST", f"/profile-changes/{change}")
    assert len(tpa_stack.sn.query("u_3pa_profile_change_value", f"u_change={change}")) == 2


def test_a_profile_change_of_a_field_users_may_not_change_fails_clearly(tpa_stack):
    """Changing uid (not in profile_fields) is refused with the fields that are allowed."""
    change = tpa_stack.sn.create_record(
        "u_3pa_profile_change",
        {
            "u_user_name": "x@partner.example.com",
            "u_changes": '{"uid": "root"}',
            "u_state": "submitted",
        },
    )["sys_id"]
    tpa_stack.api("POST", f"/profile-changes/{change}")
    rec = tpa_stack.sn.get_record("u_3pa_profile_change", change)
    assert rec["u_state"] == "failed" and "cannot be changed" in rec["u_error"]


def test_password_change_binds_and_the_password_is_kept_nowhere(tpa_stack, tpa, caplog):
    """The new password binds; it is in no log line, no store byte, no ServiceNow record."""
    email = unique()
    sys_id = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{sys_id}")
    secret = f"Pw-{uuid.uuid4().hex}"
    caplog.set_level("DEBUG")
    reply = tpa_stack.api("POST", "/password", json={"user_name": email, "new_password": secret})
    assert reply.status_code == 200 and secret not in reply.text
    user = tpa.directory.find_user("uid", email, "inetOrgPerson")
    assert tpa.directory.check_password(user.dn, secret)
    assert secret not in caplog.text
    store_path = Path(tpa_stack.services.config.store.path)
    for path in (store_path, store_path.with_name(store_path.name + "-wal")):
        if path.exists():
            assert secret.encode() not in path.read_bytes()
    instance = tpa_stack.stack.servicenow_sim.store.records  # every record the instance holds
    assert not [r for r in instance.values() if secret in json.dumps(r)]
    bad = tpa_stack.api("POST", "/password", json={"user_name": email, "new_password": "short"})
    assert bad.status_code == 422 and "at least 12" in bad.text and "short" not in bad.text
    missing = tpa_stack.api(
        "POST", "/password", json={"user_name": "nobody@x.org", "new_password": secret}
    )
    assert missing.status_code == 404 and secret not in missing.text


def test_invitation_records_mails_and_preapproves(tpa_stack, tpa):
    """An invitation is recorded and mailed once; the invited address is pre-approved."""
    email = unique("bottler.example.net")
    body = {"application": tpa_stack.applications["partner-portal"], "email": email}
    first = tpa_stack.api("POST", "/invitations", json=body)
    again = tpa_stack.api("POST", "/invitations", json=body)
    assert first.status_code == 201 and again.json() == {
        "invitation": first.json()["invitation"],
        "created": False,
    }
    mails = tpa_stack.sn.query("sys_email", f"recipientsLIKE{email}")
    assert len(mails) == 1 and "Partner Portal" in mails[0]["subject"]
    sys_id = tpa_stack.submit(
        "partner-portal", email, u_invitation=first.json()["invitation"], u_answers=ANSWERS
    )
    tpa_stack.api("POST", f"/requests/{sys_id}")
    rec = tpa_stack.request(sys_id)
    assert rec["u_state"] == "active" and rec["u_preapproved"] == "true"
    invitation = tpa_stack.sn.get_record("u_3pa_invitation", first.json()["invitation"])
    assert invitation["u_state"] == "accepted"
    outside = tpa_stack.api("POST", "/invitations", json={**body, "email": unique("evil.org")})
    assert outside.status_code == 422


def test_removal_and_expiry_leave_the_groups_but_keep_shared_ones(tpa_stack, tpa):
    """Removed or expired access leaves the application's groups and SAP roles."""
    email = unique()
    first = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{first}")
    user = tpa.directory.find_user("uid", email, "inetOrgPerson")
    group = tpa.directory.find_group("partner-portal-users", "groupOfNames")
    assert tpa.directory.is_member(group, user.dn)
    tpa_stack.sn.update_record("u_3pa_access_request", first, {"u_state": "removal_requested"})
    tpa_stack.api("POST", f"/requests/{first}")
    assert tpa_stack.request(first)["u_state"] == "removed"
    assert not tpa.directory.is_member(group, user.dn)
    role = tpa.sap.find_group("PartnerPortal_User")
    assert str(tpa.sap.find_user(email).id) not in tpa.sap.group_members(str(role.id))
    # Expiry: an active request whose end passed is found by the poller and removed.
    second = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{second}")
    assert tpa.directory.is_member(group, user.dn)
    tpa_stack.sn.update_record(
        "u_3pa_access_request", second, {"u_expires_at": "2020-01-01 00:00:00"}
    )
    poll(tpa)
    assert settle(tpa_stack, f"3pa:{second}") == "done"
    assert tpa_stack.request(second)["u_state"] == "expired"
    assert not tpa.directory.is_member(group, user.dn)


def test_reconcile_lists_and_repairs_drift(tpa_stack, tpa):
    """A member removed by hand is missing, a stranger added by hand is extra; repair fixes both."""
    from connector.tpa.reconcile import reconcile

    email = unique()
    sys_id = tpa_stack.submit("partner-portal", email, u_answers=ANSWERS)
    tpa_stack.api("POST", f"/requests/{sys_id}")
    dn = tpa_stack.request(sys_id)["u_directory_user"]
    group = tpa.directory.find_group("partner-portal-users", "groupOfNames")
    tpa.directory.remove_member(group, dn)
    stranger = f"uid=stranger-{uuid.uuid4().hex[:6]},{tpa.directory.users_base}"
    tpa.directory.add(
        stranger,
        {"objectClass": ["inetOrgPerson"], "uid": [stranger[4:18]], "cn": ["s"], "sn": ["s"]},
    )
    tpa.directory.add_member(group, stranger)
    drift = reconcile(tpa, application="partner-portal")
    kinds = {(d.kind, d.user_dn) for d in drift}
    assert ("missing", dn.lower()) in kinds and ("extra", stranger.lower()) in kinds
    reconcile(tpa, repair=True, application="partner-portal")
    assert tpa.directory.is_member(group, dn) and not tpa.directory.is_member(group, stranger)
    assert reconcile(tpa, application="partner-portal") == []


def test_catalog_sync_keeps_one_item_per_application_and_is_idempotent(tpa_stack, tpa):
    """The sync creates items and variables once; a second run writes nothing; edits follow."""
    from connector.tpa.catalog import sync_catalog

    sync_catalog(tpa.records)
    second = sync_catalog(tpa.records)
    assert second.changes == 0 and not [e for e in second.errors if "broken" not in e]
    app = tpa.records.application_by_name("supplier-invoices")
    items = tpa_stack.sn.query("sc_cat_item", f"meta=3pa:{app.sys_id}")
    assert [i["sys_id"] for i in items] == [app.catalog_item]
    tpa_stack.sn.update_record(
        "u_3pa_application",
        app.sys_id,
        {
            "u_questions": "vendor_number | Vendor no. | text | required\nsite | Site | select "
            "| required | Berlin, Madrid"
        },
    )
    third = sync_catalog(tpa.records)
    assert third.variables_written >= 3  # the label, the new variable and its two choices
    variables = {
        v["name"]: v for v in tpa_stack.sn.query("item_option_new", f"cat_item={app.catalog_item}")
    }
    assert variables["vendor_number"]["question_text"] == "Vendor no."
    assert variables["site"]["type"] == "5" and variables["site"]["mandatory"] == "true"
    choices = tpa_stack.sn.query("question_choice", f"question={variables['site']['sys_id']}")
    assert sorted(c["value"] for c in choices) == ["Berlin", "Madrid"]
    tpa_stack.sn.update_record("u_3pa_application", app.sys_id, {"u_questions": "bad line"})
    fourth = sync_catalog(tpa.records)
    assert any("supplier-invoices" in e for e in fourth.errors)
    assert (
        "question line 1"
        in tpa_stack.sn.get_record("u_3pa_application", app.sys_id)["u_sync_error"]
    )


def test_the_api_needs_credentials_and_valid_ids(tpa_stack):
    """Without the API token: 401; a malformed sys_id: 400, nothing queued."""
    import requests

    url = f"{tpa_stack.stack.connector_url}/api/v1/3pa/requests/{'a' * 32}"
    assert requests.post(url, timeout=10).status_code == 401
    bad = tpa_stack.api("POST", "/requests/not-a-sys-id")
    assert bad.status_code == 400
    assert tpa_stack.services.store.job_state("3pa:not-a-sys-id") is None


def test_waiting_requests_remind_the_approvers_then_escalate_once_each(tpa_stack, tpa):
    """After the reminder days the approvers get one mail; after the escalation days the
    approval groups and the owner get one; running again sends nothing twice."""
    from datetime import UTC, datetime, timedelta

    from connector.tpa.reminders import remind

    email = unique("supplier.example.org")
    sys_id = tpa_stack.submit(
        "supplier-invoices", email, u_answers=json.dumps({"vendor_number": "V-7"})
    )
    tpa_stack.api("POST", f"/requests/{sys_id}")
    assert tpa_stack.request(sys_id)["u_state"] == "pending_approval"

    def mails(kind: str) -> list[dict]:
        return tpa_stack.sn.query("sys_email", f"subjectLIKE[3PA {sys_id} {kind}]")

    now = datetime.now(UTC)
    remind(tpa, now=now + timedelta(days=1))
    assert mails("reminder") == [] and mails("escalation") == []
    remind(tpa, now=now + timedelta(days=3))
    remind(tpa, now=now + timedelta(days=3))
    (reminder,) = mails("reminder")
    assert "jane.rep@example.com" in reminder["recipients"] and mails("escalation") == []
    remind(tpa, now=now + timedelta(days=6))
    (escalation,) = mails("escalation")
    assert "servicedesk@example.com" in escalation["recipients"]
    assert "beth.anglin@example.com" in escalation["recipients"]
    assert len(mails("reminder")) == 1
