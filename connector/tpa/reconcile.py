"""Compare approved access (active requests in ServiceNow) with actual group membership.

A group's expected members are the directory users of every active request whose application
lists the group; its actual members are the entries under ``tpa.ldap.users_base`` the group
lists (other members, such as staff or the placeholder, are none of 3PA's business). Drift is
listed, and with ``repair`` the missing members are added and the extra ones removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.tpa.directory import normalise_dn


@dataclass(frozen=True)
class Drift:
    """One difference between approved access and the directory."""

    group: str
    user_dn: str
    kind: str  # "missing" (approved, not a member) | "extra" (a member, not approved) | "no group"
    repaired: bool = False


def _ref(value: Any) -> str:
    return str(value.get("value", "")) if isinstance(value, dict) else str(value or "")


def reconcile(tpa: Any, *, repair: bool = False, application: str | None = None) -> list[Drift]:
    """Return the drift between active requests and group members (repairing it if asked)."""
    records, directory, m = tpa.records, tpa.directory, tpa.mapping
    apps = records.applications()
    if application:
        apps = [a for a in apps if application in (a.name, a.sys_id)]
    by_id = {a.sys_id: a for a in records.applications()}
    expected: dict[str, set[str]] = {name: set() for a in apps for name in a.groups}
    for req in records.active_requests():
        app = by_id.get(_ref(req.get("u_application")))
        dn = str(req.get("u_directory_user") or "")
        if app is None or not dn:
            continue
        for name in app.groups:
            if name in expected:
                expected[name].add(normalise_dn(dn))
    base = normalise_dn(directory.users_base)
    out: list[Drift] = []
    for name, wanted in sorted(expected.items()):
        group_dn = directory.find_group(name, m.group_object_class, m.group_name_attribute)
        if group_dn is None:
            out.append(Drift(name, "", "no group"))
            continue
        actual = {
            dn for dn in directory.members(group_dn, m.member_attribute) if dn.endswith("," + base)
        }
        for dn in sorted(wanted - actual):
            if repair:
                directory.add_member(group_dn, dn, m.member_attribute)
            out.append(Drift(name, dn, "missing", repair))
        for dn in sorted(actual - wanted):
            if repair:
                directory.remove_member(group_dn, dn, m.member_attribute)
            out.append(Drift(name, dn, "extra", repair))
    return out
