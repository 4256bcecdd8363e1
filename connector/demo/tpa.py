"""``connector demo --3pa``: slapd, the SCIM server, both emulators and the connector, and 3PA.

Like ``connector.demo`` (whose stack it extends), this module may import ``connector.sim``: it
is a demo entry point. Tests, the chaos run and the benchmark use ``running_tpa_stack`` too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from connector.demo import hold_until_interrupted
from connector.errors import ConnectorError

API_TOKEN = "demo-3pa-api-token"  # noqa: S105 - loopback demo only
SCIM_TOKEN = "demo-scim-token"  # noqa: S105 - loopback demo only
APPROVER = "a1000000000000000000000000000001"  # jane.rep in the emulator's seed

GROUPS = ("partner-portal-users", "partner-portal-admins", "supplier-invoices")
SAP_ROLES = ("PartnerPortal_User", "SupplierInvoices_Viewer")
APPLICATIONS: tuple[dict[str, str], ...] = (
    {
        "u_name": "partner-portal",
        "u_display_name": "Partner Portal",
        "u_description": "Orders, price lists and marketing material for partners and bottlers.",
        "u_image": "https://portal.example.com/images/partner-portal.png",
        "u_directory_groups": "partner-portal-users",
        "u_sap_roles": "PartnerPortal_User",
        "u_allowed_domains": "partner.example.com, bottler.example.net, *.bottler.example.net",
        "u_preapproved_domains": "partner.example.com",
        "u_questions": (
            "company_id | Customer or partner number | text | required\n"
            "region | Region | select | required | EMEA, Americas, APAC\n"
            "reason | Why do you need access? | multi_line | optional"
        ),
        "u_expiration_days": "365",
        "u_reminder_days": "3",
        "u_escalation_days": "7",
        "u_active": "true",
        "u_approvers": APPROVER,
    },
    {
        "u_name": "supplier-invoices",
        "u_display_name": "Supplier Invoices",
        "u_description": "Invoice status for suppliers.",
        "u_directory_groups": "supplier-invoices",
        "u_sap_roles": "SupplierInvoices_Viewer",
        "u_questions": "vendor_number | Vendor number | text | required",
        "u_expiration_days": "90",
        "u_reminder_days": "2",
        "u_escalation_days": "5",
        "u_active": "true",
        "u_approvers": APPROVER,
        "u_approval_groups": "a3000000000000000000000000000001",  # Service Desk in the seed
        "u_owner": "a2000000000000000000000000000002",  # beth.anglin
    },
)


def tpa_settings(ldap_url: str, scim_url: str) -> dict[str, Any]:
    """Return the settings that point 3PA at the throwaway slapd and SCIM server."""
    from connector.sim import slapd

    return {
        "tpa.enabled": True,
        "tpa.ldap.url": ldap_url,
        "tpa.ldap.bind_dn": slapd.ADMIN_DN,
        "tpa.ldap.bind_password": slapd.ADMIN_PASSWORD,
        "tpa.ldap.users_base": slapd.USERS_BASE,
        "tpa.ldap.groups_base": slapd.GROUPS_BASE,
        "tpa.ldap.timeout_seconds": 5.0,
        "tpa.scim.url": scim_url,
        "tpa.scim.token": SCIM_TOKEN,
        "tpa.poller.interval_seconds": 5.0,
        "tpa.catalog.sync_interval_seconds": 0.0,
        "api.tokens": [API_TOKEN],
    }


@dataclass
class TpaStack:
    """The running 3PA stack."""

    stack: Any  # connector.demo.Stack
    slapd: Any
    scim_url: str
    scim_app: Any
    applications: dict[str, str]  # name → sys_id

    @property
    def services(self) -> Any:
        """Return the connector's Services."""
        return self.stack.services

    @property
    def sn(self) -> Any:
        """Return the connector's ServiceNow client (to play the instance's part)."""
        return self.stack.services.servicenow

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the connector's /api/v1/3pa as the instance does."""
        return requests.request(
            method,
            f"{self.stack.connector_url}/api/v1/3pa{path}",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=60,
            **kwargs,
        )

    def submit(self, application: str, email: str, **fields: str) -> str:
        """Create an access request as the catalog item's business rule would; return sys_id."""
        record = {
            "u_application": self.applications[application],
            "u_email": email,
            "u_state": "submitted",
            "u_approval": "not_requested",
            **fields,
        }
        return str(self.sn.create_record("u_3pa_access_request", record)["sys_id"])

    def request(self, sys_id: str) -> dict[str, Any]:
        """Read an access request back."""
        return self.sn.get_record("u_3pa_access_request", sys_id) or {}

    def approve(self, sys_id: str) -> None:
        """Approve a waiting request in ServiceNow as its approver (jane.rep) does."""
        from connector.tpa.models import sn_time

        self.sn.update_record(
            "u_3pa_access_request",
            sys_id,
            {
                "u_state": "approved",
                "u_approval": "approved",
                "u_approved_by": APPROVER,
                "u_approved_at": sn_time(),
            },
        )


@contextmanager
def running_tpa_stack(
    workdir: str | None = None,
    *,
    worker: bool = True,
    scim_fault_rate: float = 0.0,
    servicenow_options: dict[str, Any] | None = None,
    **overrides: Any,
) -> Iterator[TpaStack]:
    """Start slapd, the SCIM server, both emulators and the connector with 3PA enabled."""
    import tempfile

    from connector.tpa.runtime import require_extra

    require_extra()
    from connector.demo import running_stack
    from connector.sim.runtime import ServerThread
    from connector.sim.scim import FaultyApp, create_scim_app, seed_groups
    from connector.sim.slapd import Slapd, SlapdMissing

    with ExitStack() as cleanup:
        if workdir is None:
            workdir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="connector-3pa-"))
        try:
            directory = Slapd(Path(workdir) / "slapd")
        except SlapdMissing as exc:
            raise ConnectorError(str(exc)) from None
        directory.start()
        cleanup.callback(directory.close)
        directory.add_groups(GROUPS)
        scim_app = FaultyApp(create_scim_app(SCIM_TOKEN), rate=scim_fault_rate)
        scim = ServerThread(scim_app).start()
        cleanup.callback(scim.stop)
        scim_url = f"{scim.url}/v2"
        seed_groups(scim_url, SCIM_TOKEN, SAP_ROLES)
        settings = {**tpa_settings(directory.url, scim_url), **overrides}
        stack = cleanup.enter_context(
            running_stack(workdir, worker=worker, servicenow_options=servicenow_options, **settings)
        )
        sn = stack.services.servicenow
        apps = {}
        for app in APPLICATIONS:
            apps[app["u_name"]] = str(sn.create_record("u_3pa_application", app)["sys_id"])
        yield TpaStack(stack, directory, scim_url, scim_app, apps)


def wait_state(stack: TpaStack, sys_id: str, states: tuple[str, ...], timeout: float) -> str:
    """Wait until a request reaches one of ``states``; return the state it has."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = str(stack.request(sys_id).get("u_state", ""))
        if state in states:
            return state
        time.sleep(0.1)
    raise ConnectorError(f"request {sys_id} is {state!r}, not {'/'.join(states)}, after {timeout}s")


def run_demo(*, keep_running: bool, timeout: float, echo: Callable[[str], None]) -> None:
    """Play the 3PA story end to end and print what happened."""
    from connector.tpa.catalog import sync_catalog
    from connector.tpa.runtime import TpaServices

    with running_tpa_stack() as t:
        tpa = TpaServices(t.services)
        echo(f"ServiceNow emulator  {t.stack.servicenow_url}  (admin / admin)")
        echo(f"connector            {t.stack.connector_url}  (API token {API_TOKEN})")
        echo(f"OpenLDAP slapd       {t.slapd.url}  ({tpa.directory.bind_dn})")
        echo(f"SAP (SCIM 2.0)       {t.scim_url}")

        result = sync_catalog(tpa.records)
        echo(f"\n== catalog: {result.items_created} items, {result.variables_written} variables ==")
        for app in tpa.records.applications():
            variables = tpa.records.find(
                "item_option_new", f"cat_item={app.catalog_item}^ORDERBYorder"
            )
            names = ", ".join(f"{v['name']} ({v['question_text']})" for v in variables)
            echo(f"  {app.display_name:18} item {app.catalog_item}: {names}")

        echo("\n== 1. an invitation ==")
        reply = t.api(
            "POST",
            "/invitations",
            json={
                "application": t.applications["partner-portal"],
                "email": "dana@bottler.example.net",
                "first_name": "Dana",
                "last_name": "Bottler",
                "invited_by": APPROVER,
            },
        )
        _ok(reply)
        invitation = reply.json()["invitation"]
        echo(f"  invitation {invitation} for dana@bottler.example.net (e-mail queued)")
        dana = t.submit(
            "partner-portal",
            "dana@bottler.example.net",
            u_first_name="Dana",
            u_last_name="Bottler",
            u_invitation=invitation,
            u_answers=json.dumps({"company_id": "B-7", "region": "EMEA"}),
        )
        _ok(t.api("POST", f"/requests/{dana}"))
        echo(f"  Dana's request: {wait_state(t, dana, ('active',), timeout)} (invited)")

        echo("\n== 2. a pre-approved request ==")
        started = time.monotonic()
        alex = t.submit(
            "partner-portal",
            "alex.doe@partner.example.com",
            u_first_name="Alex",
            u_last_name="Doe",
            u_company="Partner GmbH",
            u_phone="+49 30 1234",
            u_answers=json.dumps({"company_id": "P-42", "region": "EMEA"}),
        )
        reply = t.api("POST", f"/requests/{alex}")
        _ok(reply)
        state = wait_state(t, alex, ("active",), timeout)
        echo(f"  request {alex}: {state} in {time.monotonic() - started:.2f} s")
        _echo_request(t, alex, echo)
        _echo_user(tpa, "alex.doe@partner.example.com", echo)

        echo("\n== 3. a request that waits for approval ==")
        sam = t.submit(
            "supplier-invoices",
            "sam@supplier.example.org",
            u_first_name="Sam",
            u_last_name="Supplier",
            u_answers=json.dumps({"vendor_number": "V-1001"}),
        )
        _ok(t.api("POST", f"/requests/{sam}"))
        echo(f"  request {sam}: {wait_state(t, sam, ('pending_approval',), timeout)}")
        t.approve(sam)
        echo(
            "  the approver (jane.rep) approves it in ServiceNow; the instance calls the connector"
        )
        started = time.monotonic()
        _ok(t.api("POST", f"/requests/{sam}"))
        state = wait_state(t, sam, ("active",), timeout)
        echo(f"  request {sam}: {state} {time.monotonic() - started:.2f} s after the approval")
        _echo_user(tpa, "sam@supplier.example.org", echo)

        echo("\n== 4. a profile change ==")
        change = str(
            t.sn.create_record(
                "u_3pa_profile_change",
                {
                    "u_user_name": "alex.doe@partner.example.com",
                    "u_changes": json.dumps({"phone": "+49 30 9876", "company": "Partner AG"}),
                    "u_state": "submitted",
                },
            )["sys_id"]
        )
        _ok(t.api("POST", f"/profile-changes/{change}"))
        record = t.sn.get_record("u_3pa_profile_change", change) or {}
        echo(f"  profile change {change}: {record.get('u_state')}")
        for line in str(record.get("u_summary", "")).splitlines():
            echo(f"    {line}")

        echo("\n== 5. a password change ==")
        new_password = "Demo-" + __import__("secrets").token_urlsafe(12)
        reply = t.api(
            "POST",
            "/password",
            json={"user_name": "alex.doe@partner.example.com", "new_password": new_password},
        )
        _ok(reply)
        user = tpa.directory.find_user("uid", "alex.doe@partner.example.com", "inetOrgPerson")
        bound = user is not None and tpa.directory.check_password(user.dn, new_password)
        echo(
            f"  password changed; an LDAP bind as {user.dn if user else '?'}: "
            f"{'succeeds' if bound else 'FAILS'}"
        )
        wrong = user is not None and tpa.directory.check_password(user.dn, new_password + "x")
        echo(f"  a bind with a wrong password: {'succeeds (!)' if wrong else 'refused'}")
        if not bound:
            raise ConnectorError("the new password does not bind")
        if keep_running:
            hold_until_interrupted(echo)


def _ok(reply: requests.Response) -> None:
    if reply.status_code >= 400:
        raise ConnectorError(
            f"{reply.request.method} {reply.url}: {reply.status_code} {reply.text}"
        )


def _echo_request(t: TpaStack, sys_id: str, echo: Callable[[str], None]) -> None:
    rec = t.request(sys_id)
    for name in (
        "u_state",
        "u_approval",
        "u_preapproved",
        "u_user_name",
        "u_expires_at",
        "u_result",
    ):
        echo(f"    {name:16} {rec.get(name, '')}")


def _echo_user(tpa: Any, uid: str, echo: Callable[[str], None]) -> None:
    user = tpa.directory.find_user("uid", uid, "inetOrgPerson")
    if user is None:
        echo(f"  directory: no user {uid}")
        return
    echo(f"  directory entry {user.dn}")
    for name in ("cn", "mail", "o", "telephoneNumber", "memberOf"):
        for value in user.attributes.get(name, []):
            echo(f"    {name:16} {value}")
    if tpa.sap is not None:
        sap_user = tpa.sap.find_user(uid)
        if sap_user is None:
            echo(f"  SAP: no user {uid}")
        else:
            echo(f"  SAP user {sap_user.user_name} id {sap_user.id}")
