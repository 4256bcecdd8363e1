"""Apply one 3PA job: decide a new request, provision an approved one, remove access, or apply
a profile change. Each step reads before it writes, so running a job again does nothing twice.

Job keys: ``3pa:<sys_id>`` for an access request, ``3pa:profile:<sys_id>`` for a profile change.

An access request goes::

    submitted ─decide─▶ rejected            (outside the allowed domains)
        │        └────▶ pending_approval    (approvers decide in ServiceNow → approved)
        └─pre-approved─▶ approved ─provision─▶ active ─removal/expiry─▶ removed / expired
                            └──▶ failed     (unknown application or group; error on the request)

Provisioning first validates everything it can without writing (the application, the domain,
the answers, every directory group, every SAP role, the rendered user), so a request that
cannot be applied leaves nothing half-done; then it writes: the user if missing, each missing
membership, the SAP user and roles, and last the result on the request (state, work note) in one
PATCH. The claim is checked before every write (``guard``), so a worker that lost its claim
stops writing.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.errors import DataError
from connector.metrics import Metrics
from connector.store import Store
from connector.tpa import models, policy, profile_key, request_key
from connector.tpa.directory import AlreadyExists, Directory, Entry, normalise_dn, user_dn
from connector.tpa.mapping import TpaMapping
from connector.tpa.records import Records, marker
from connector.tpa.scim import SapIdentity

log = logging.getLogger(__name__)

Guard = Callable[[], None]
PROFILE_PREFIX = "3pa:profile:"
REQUEST_PREFIX = "3pa:"


def _now() -> datetime:
    return datetime.now(UTC)


class Provisioner:
    """Apply 3PA jobs against ServiceNow, the directory and SAP."""

    def __init__(
        self,
        *,
        records: Records,
        directory: Directory,
        sap: SapIdentity | None,
        mapping: TpaMapping,
        store: Store,
        metrics: Metrics,
    ) -> None:
        self.records = records
        self.directory = directory
        self.sap = sap
        self.mapping = mapping
        self.store = store
        self.metrics = metrics

    def run(self, key: str, guard: Guard) -> str:
        """Apply the job ``key``; return a note for the job. Errors propagate to the worker."""
        if key.startswith(PROFILE_PREFIX):
            return self.profile_change(key[len(PROFILE_PREFIX) :], key, guard)
        if key.startswith(REQUEST_PREFIX):
            return self.access_request(key[len(REQUEST_PREFIX) :], key, guard)
        raise DataError(f"not a 3PA job key: {key[:80]!r}")

    # -- access requests -------------------------------------------------------------------

    def access_request(self, sys_id: str, key: str, guard: Guard) -> str:
        """Move one access request on from the state ServiceNow holds now."""
        rec = self.records.request(sys_id)
        if rec is None:
            raise DataError(f"no access request {sys_id} in ServiceNow")
        try:
            req = models.AccessRequest.from_record(rec)
        except DataError as exc:
            return self._fail(sys_id, str(exc), guard)
        if req.state == models.SUBMITTED:
            return self._decide(req, key, guard)
        if req.state == models.APPROVED:
            return self._provision(req, key, guard)
        if req.state == models.REMOVAL_REQUESTED:
            return self._remove(req, rec, key, guard, models.REMOVED)
        if req.state == models.ACTIVE and req.expires_at and req.expires_at <= _now():
            return self._remove(req, rec, key, guard, models.EXPIRED)
        return f"nothing to do: the request is {req.state}"

    def _fail(self, sys_id: str, message: str, guard: Guard) -> str:
        """Record on the request why it cannot be applied."""
        guard()
        self.records.update_request(
            sys_id,
            {
                "u_state": models.FAILED,
                "u_error": message[:1000],
                "u_work_notes": f"{marker(sys_id, models.FAILED)} {message}",
            },
        )
        self.metrics.inc("connector_3pa_requests_failed_total")
        log.warning("3PA request failed: %s", message, extra={"ticket": sys_id})
        return f"failed: {message}"

    def _decide(self, req: models.AccessRequest, key: str, guard: Guard) -> str:
        app = self.records.application(req.application)
        if app is None:
            return self._fail(req.sys_id, _no_application(req.application), guard)
        invitation = self.records.invitation(req.invitation) if req.invitation else None
        try:
            decision = policy.decide(req, app, invitation, now=_now())
        except policy.RequestProblem as exc:
            return self._fail(req.sys_id, str(exc), guard)
        if decision.action == "reject":
            guard()
            self.records.update_request(
                req.sys_id,
                {
                    "u_state": models.REJECTED,
                    "u_approval": "rejected",
                    "u_error": decision.reason[:1000],
                    "u_work_notes": f"{marker(req.sys_id, models.REJECTED)} {decision.reason}",
                },
            )
            self.metrics.inc("connector_3pa_requests_rejected_total")
            return f"rejected: {decision.reason}"
        if decision.action == "await_approval":
            guard()
            self.records.update_request(
                req.sys_id,
                {
                    "u_state": models.PENDING_APPROVAL,
                    "u_approval": "requested",
                    "u_work_notes": f"{marker(req.sys_id, models.PENDING_APPROVAL)}"
                    f" {decision.reason}",
                },
            )
            self.metrics.inc("connector_3pa_requests_awaiting_approval_total")
            return f"pending approval: {decision.reason}"
        now = _now()
        expires = now + timedelta(days=app.expiration_days) if app.expiration_days else None
        fields: dict[str, Any] = {
            "u_state": models.APPROVED,
            "u_approval": "approved",
            "u_preapproved": "true",
            "u_approved_at": models.sn_time(now),
            "u_work_notes": f"{marker(req.sys_id, models.APPROVED)} {decision.reason}",
        }
        if expires:
            fields["u_expires_at"] = models.sn_time(expires)
        guard()
        self.records.update_request(req.sys_id, fields)
        self.metrics.inc("connector_3pa_requests_preapproved_total")
        if invitation is not None and invitation.state == "sent":
            self.records.accept_invitation(invitation.sys_id)
        approved = dataclasses.replace(
            req, state=models.APPROVED, approved_at=now, expires_at=expires
        )
        return self._provision(approved, key, guard, app=app)

    def _provision(
        self,
        req: models.AccessRequest,
        key: str,
        guard: Guard,
        *,
        app: models.Application | None = None,
    ) -> str:
        app = app or self.records.application(req.application)
        if app is None:
            return self._fail(req.sys_id, _no_application(req.application), guard)
        m = self.mapping
        # 1. Everything that can be checked without writing.
        try:
            policy.check_allowed(req, app)
            policy.check_answers(policy.parse_questions(app.questions), req.answers)
            plan = m.render_user(req.context(), app.context())
        except DataError as exc:
            return self._fail(req.sys_id, str(exc), guard)
        groups: dict[str, str] = {}
        missing = []
        for name in app.groups:
            dn = self.directory.find_group(name, m.group_object_class, m.group_name_attribute)
            if dn is None:
                missing.append(name)
            else:
                groups[name] = dn
        if missing:
            return self._fail(
                req.sys_id,
                f"the directory group{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(n) for n in missing)} of {app.display_name} "
                f"{'do' if len(missing) > 1 else 'does'} not exist",
                guard,
            )
        sap_groups: dict[str, str] = {}
        if app.sap_roles:
            if self.sap is None:
                return self._fail(
                    req.sys_id,
                    f"{app.display_name} names SAP roles but no SAP service is configured"
                    " (tpa.scim.url)",
                    guard,
                )
            unknown = []
            for role in app.sap_roles:
                group = self.sap.find_group(role)
                if group is None:
                    unknown.append(role)
                else:
                    sap_groups[role] = str(group.id)
            if unknown:
                return self._fail(
                    req.sys_id,
                    f"the SAP role(s) {', '.join(repr(r) for r in unknown)} of"
                    f" {app.display_name} do not exist",
                    guard,
                )
        existing = self.directory.find_user(
            m.identity_attribute, plan.identity, m.user_object_class
        )
        if existing is not None and not _same_person(existing, req.email):
            return self._fail(
                req.sys_id,
                f"the directory user {plan.identity!r} exists and belongs to another address",
                guard,
            )
        # 2. Writes, each one only when missing.
        dn = (
            existing.dn
            if existing
            else user_dn(m.rdn_attribute, plan.dn_value, self.directory.users_base)
        )
        if existing is None:
            guard()
            try:
                self.directory.add(dn, plan.attributes)
            except AlreadyExists:
                # An earlier attempt's add whose answer was lost, or a stranger's entry there.
                found = self.directory.read(dn, ["mail"])
                if found is None or not _same_person(found, req.email):
                    return self._fail(req.sys_id, f"an entry {dn} exists already", guard)
            self.store.record_effects([(key, "user_created", dn)])
        added = []
        for name, group_dn in groups.items():
            if not self.directory.is_member(group_dn, dn, m.member_attribute):
                guard()
                self.directory.add_member(group_dn, dn, m.member_attribute)
                added.append(name)
        sap_text = ""
        if self.sap is not None and (sap_groups or self.mapping.sap_fields):
            fields = m.render_sap_user(req.context(), app.context())
            guard()
            sap_id, _ = self.sap.ensure_user(fields)
            for group_id in sap_groups.values():
                guard()
                self.sap.add_member(group_id, sap_id)
            sap_text = f"; SAP user {fields['userName']} ({sap_id})" + (
                f" in {', '.join(sap_groups)}" if sap_groups else ""
            )
        if req.approved_at:
            self.metrics.observe(
                "connector_3pa_approval_to_membership_seconds",
                max(0.0, time.time() - req.approved_at.timestamp()),
            )
        created = "user_created" in self.store.ledger([key])[key]
        result = (
            f"directory user {dn} ({'created' if created else 'existed'});"
            f" groups: {', '.join(groups) or 'none'}{sap_text}"
        )
        fields_back: dict[str, Any] = {
            "u_state": models.ACTIVE,
            "u_provisioned_at": models.sn_time(),
            "u_user_name": plan.identity,
            "u_directory_user": dn,
            "u_result": result[:4000],
            "u_error": "",
            "u_work_notes": f"{marker(req.sys_id, models.ACTIVE)} {result}",
        }
        if req.expires_at is None and app.expiration_days:
            fields_back["u_expires_at"] = models.sn_time(
                _now() + timedelta(days=app.expiration_days)
            )
        guard()
        self.records.update_request(req.sys_id, fields_back)
        self.metrics.inc("connector_3pa_requests_provisioned_total")
        log.info("3PA request provisioned: %s", result, extra={"ticket": req.sys_id})
        return f"provisioned: {result}"

    def _remove(
        self,
        req: models.AccessRequest,
        rec: dict[str, Any],
        key: str,
        guard: Guard,
        final: str,
    ) -> str:
        app = self.records.application(req.application)
        if app is None:
            return self._fail(req.sys_id, _no_application(req.application), guard)
        m = self.mapping
        dn = str(rec.get("u_directory_user") or "")
        if not dn and req.user_name:
            found = self.directory.find_user(
                m.identity_attribute, req.user_name, m.user_object_class
            )
            dn = found.dn if found else ""
        # Groups and roles another active request of the same user still grants stay.
        kept_groups: set[str] = set()
        kept_roles: set[str] = set()
        if req.user_name:
            for other in self.records.active_requests_of(req.user_name):
                other_id = _ref(other.get("sys_id"))
                if other_id == req.sys_id:
                    continue
                other_app = self.records.application(_ref(other.get("u_application")))
                if other_app is not None:
                    kept_groups.update(other_app.groups)
                    kept_roles.update(other_app.sap_roles)
        removed = []
        if dn:
            for name in app.groups:
                if name in kept_groups:
                    continue
                group_dn = self.directory.find_group(
                    name, m.group_object_class, m.group_name_attribute
                )
                if group_dn and self.directory.is_member(group_dn, dn, m.member_attribute):
                    guard()
                    self.directory.remove_member(group_dn, dn, m.member_attribute)
                    removed.append(name)
        if self.sap is not None and app.sap_roles:
            user = self.sap.find_user(m.render_sap_user(req.context(), app.context())["userName"])
            if user is not None:
                for role in app.sap_roles:
                    if role in kept_roles:
                        continue
                    group = self.sap.find_group(role)
                    if group is not None:
                        guard()
                        self.sap.remove_member(str(group.id), str(user.id))
        text = (
            f"access {final}: {dn or 'no directory user'} left "
            f"{', '.join(n for n in app.groups if n not in kept_groups) or 'no group'}"
        )
        kept = sorted(kept_groups & set(app.groups))
        if kept:
            text += f" (kept, granted by another request: {', '.join(kept)})"
        guard()
        self.records.update_request(
            req.sys_id,
            {
                "u_state": final,
                "u_result": text[:4000],
                "u_work_notes": f"{marker(req.sys_id, final)} {text}",
            },
        )
        self.metrics.inc("connector_3pa_access_removed_total")
        return text

    # -- profile changes -------------------------------------------------------------------

    def profile_change(self, sys_id: str, key: str, guard: Guard) -> str:
        """Apply a profile change and record each attribute's value before and after."""
        rec = self.records.profile_change(sys_id)
        if rec is None:
            raise DataError(f"no profile change {sys_id} in ServiceNow")
        try:
            change = models.ProfileChange.from_record(rec)
        except DataError as exc:
            return self._fail_change(sys_id, str(exc), guard)
        if change.state != models.CHANGE_SUBMITTED:
            return f"nothing to do: the profile change is {change.state}"
        m = self.mapping
        try:
            attributes = policy.check_profile_changes(change.changes, m.profile_fields)
        except policy.RequestProblem as exc:
            return self._fail_change(sys_id, str(exc), guard)
        user = self.directory.find_user(m.identity_attribute, change.user_name, m.user_object_class)
        if user is None:
            return self._fail_change(sys_id, f"no directory user {change.user_name[:80]!r}", guard)
        # The values before the change, read once: a retry after the change must not read the
        # new values as "before", so the first reading is kept in the store's ledger.
        ledger = self.store.ledger([key])[key]
        before = {a: ledger.get(f"before:{a}", user.first(a)) for a in attributes}
        fresh = [(key, f"before:{a}", v) for a, v in before.items() if f"before:{a}" not in ledger]
        if fresh:
            self.store.record_effects(fresh)
        guard()
        self.directory.replace(user.dn, attributes)
        fields_of = {attr: field for field, attr in m.profile_fields.items()}
        written = {r.get("u_attribute") for r in self.records.change_values(sys_id)}
        for attr, after in attributes.items():
            if attr in written:
                continue
            guard()
            self.records.add_change_value(
                {
                    "u_change": sys_id,
                    "u_attribute": attr,
                    "u_field": fields_of.get(attr, ""),
                    "u_before": before[attr][:1000],
                    "u_after": after[:1000],
                }
            )
        table = change_table(
            [(fields_of.get(a, a), a, before[a], after) for a, after in attributes.items()]
        )
        guard()
        self.records.update_profile_change(
            sys_id,
            {
                "u_state": models.CHANGE_APPLIED,
                "u_applied_at": models.sn_time(),
                "u_summary": table[:4000],
                "u_error": "",
                "u_work_notes": f"{marker(sys_id, models.CHANGE_APPLIED)}\n{table}",
            },
        )
        self.metrics.inc("connector_3pa_profile_changes_total")
        return f"profile change applied to {user.dn}"

    def _fail_change(self, sys_id: str, message: str, guard: Guard) -> str:
        guard()
        self.records.update_profile_change(
            sys_id,
            {
                "u_state": models.CHANGE_FAILED,
                "u_error": message[:1000],
                "u_work_notes": f"{marker(sys_id, models.CHANGE_FAILED)} {message}",
            },
        )
        return f"failed: {message}"


def change_table(rows: list[tuple[str, str, str, str]]) -> str:
    """Render before/after rows as a plain-text table (field, attribute, before, after)."""
    header = ("field", "attribute", "before", "after")
    cells = [header, *[tuple(str(c) or "(empty)" for c in r) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _same_person(entry: Entry, email: str) -> bool:
    mail = entry.first("mail")
    return not mail or mail.lower() == email.lower()


def _no_application(sys_id: str) -> str:
    return f"the application {sys_id or '(none)'} does not exist"


def _ref(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("value", ""))
    return str(value or "")


__all__ = ["Provisioner", "change_table", "normalise_dn", "profile_key", "request_key"]
