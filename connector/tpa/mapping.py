"""The 3PA mapping: YAML of sandboxed Jinja2 templates for the directory and SAP users.

Reuses the session mappings' engine (connector.mapping.engine): the same line-numbered YAML
loader, the same immutable sandbox and filters, the same "file:line: path: expected, found"
errors, and the same dry run at load time against a sample request, so a mistake stops the
connector at start. One file per directory profile ships in ``mappings/3pa/``::

    directory:
      profile: openldap | active_directory
      user:
        object_classes: [inetOrgPerson]
        identity_attribute: uid      # searched (escaped) before every add
        rdn_attribute: uid           # the DN is <rdn_attribute>=<value>,<tpa.ldap.users_base>
        attributes: {uid: "{{ request.email | lower }}", ...}
      groups: {object_class: groupOfNames, name_attribute: cn, member_attribute: member}
      profile_fields: {phone: telephoneNumber, ...}   # what a profile change may set
    sap:
      user: {userName: "...", givenName: "...", familyName: "...", email: "...", displayName: "..."}

Templates see ``request`` (sys_id, email, first_name, last_name, company, phone, answers) and
``application`` (sys_id, name, display_name, groups, sap_roles).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.errors import ConfigError, ConfigProblem, DataError
from connector.mapping import default_mapping_folder
from connector.mapping.filters import fit

# The session engine's building blocks (connector/mapping/); 3PA adds no second engine.
from connector.mapping.schema import Builder
from connector.mapping.templates import FieldSpec, make_env
from connector.mapping.yamlfile import empty_map, key_line, parse_file, value_line

PROFILES = ("openldap", "active_directory")
SAP_FIELDS = ("userName", "givenName", "familyName", "email", "displayName")
_SAM = re.compile(r"[^a-z0-9._-]")


def sam_account_name(email: str) -> str:
    """Derive an Active Directory logon name (at most 20 characters) from an e-mail address.

    The local part, cleaned, cut to 13 characters, plus ``-`` and 6 hex of the address's
    SHA-256: deterministic (a retry finds the same account) and distinct for distinct addresses
    in all but one case in 16 million.
    """
    local = _SAM.sub("", str(email).split("@", 1)[0].lower())[:13] or "user"
    digest = hashlib.sha256(str(email).lower().encode()).hexdigest()[:6]
    return f"{local}-{digest}"


TPA_FILTERS = {"sam_account_name": sam_account_name}


def default_mapping_path(profile: str) -> Path:
    """Return the built-in 3PA mapping of a directory profile."""
    return default_mapping_folder() / "3pa" / f"{profile}.yaml"


@dataclass(frozen=True)
class UserPlan:
    """The directory entry a request asks for."""

    dn_value: str  # the RDN value (unescaped)
    identity: str  # the identity attribute's value
    attributes: dict[str, list[str]]


@dataclass
class TpaMapping:
    """A checked, compiled 3PA mapping."""

    file: str
    profile: str
    object_classes: list[str]
    identity_attribute: str
    rdn_attribute: str
    user_fields: list[FieldSpec]
    group_object_class: str
    group_name_attribute: str
    member_attribute: str
    profile_fields: dict[str, str]
    sap_fields: list[FieldSpec] = field(default_factory=list)

    @property
    def user_object_class(self) -> str:
        """Return the most specific object class (searched together with the identity)."""
        return self.object_classes[-1]

    def render_user(self, request: dict[str, Any], application: dict[str, Any]) -> UserPlan:
        """Render the directory user's attributes (empty values are left out)."""
        ctx = {"request": request, "application": application}
        attrs: dict[str, list[str]] = {"objectClass": list(self.object_classes)}
        for f in self.user_fields:
            value = f.template.render(ctx).strip()
            if f.max_length:
                value = fit(value, f.max_length)
            if value:
                attrs[f.name] = [value]
        identity = _first(attrs, self.identity_attribute)
        rdn = _first(attrs, self.rdn_attribute)
        if not identity or not rdn:
            raise DataError(
                f"{self.file}: the mapping gives no {self.identity_attribute} or"
                f" {self.rdn_attribute} for request {request.get('sys_id', '')}"
            )
        return UserPlan(rdn, identity, attrs)

    def render_sap_user(
        self, request: dict[str, Any], application: dict[str, Any]
    ) -> dict[str, str]:
        """Render the SAP (SCIM) user's fields."""
        ctx = {"request": request, "application": application}
        return {f.name: f.template.render(ctx).strip() for f in self.sap_fields}


def _first(attrs: dict[str, list[str]], name: str) -> str:
    for key, values in attrs.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return ""


SAMPLE_REQUEST = {
    "sys_id": "0" * 32,
    "email": "Pat.O'Neil+test@partner.example.com",
    "first_name": "Pat",
    "last_name": "O'Neil",
    "company": "Partner, Inc.",
    "phone": "+1 555 0100",
    "answers": {"reason": "dry run"},
}
SAMPLE_APPLICATION = {
    "sys_id": "1" * 32,
    "name": "partner-portal",
    "display_name": "Partner Portal",
    "groups": ["partner-portal-users"],
    "sap_roles": ["PartnerPortal_User"],
}


def load_mapping(paths: Sequence[Path] | None = None, profile: str = "openldap") -> TpaMapping:
    """Load and check a 3PA mapping file; raise ConfigError listing every problem."""
    path = Path(paths[0]) if paths else default_mapping_path(profile)
    if paths and len(paths) > 1:
        raise ConfigError(
            ConfigProblem("<config>", "tpa.mappings", "one 3PA mapping file", f"{len(paths)} files")
        )
    problems: list[ConfigProblem] = []
    data = parse_file(path, problems)
    file = str(path)
    env = make_env({})
    env.filters.update(TPA_FILTERS)
    b = Builder(env, {}, problems)
    mapping = None
    if data is not None:
        mapping = _build(b, data, file, profile)
    if mapping is not None and not b.problems:
        try:  # the dry run: every template against a sample request
            mapping.render_user(SAMPLE_REQUEST, SAMPLE_APPLICATION)
            mapping.render_sap_user(SAMPLE_REQUEST, SAMPLE_APPLICATION)
        except DataError as exc:
            b.problems.append(ConfigProblem(file, "", "templates that render", str(exc)))
    if b.problems or mapping is None:
        raise ConfigError(b.problems or [ConfigProblem(file, "", "a 3PA mapping", "nothing")])
    return mapping


_DEFAULT_GROUPS = empty_map()


def _build(b: Builder, data: Any, file: str, profile: str) -> TpaMapping | None:
    top = b.mapping(data, file, "", 1, ("directory", "sap"))
    if top is None or "directory" not in top:
        b.problem(file, "directory", "a directory section", "nothing", 1)
        return None
    d = b.mapping(
        top["directory"],
        file,
        "directory",
        value_line(top, "directory", 1),
        ("profile", "user", "groups", "profile_fields"),
    )
    if d is None:
        return None
    line = value_line(top, "directory", 1)
    got_profile = d.get("profile", "openldap")
    if got_profile not in PROFILES:
        b.problem(
            file, "directory.profile", "one of " + ", ".join(PROFILES), repr(got_profile), line
        )
    elif got_profile != profile:
        b.problem(file, "directory.profile", f"{profile} (tpa.ldap.profile)", got_profile, line)
    user = b.mapping(
        d.get("user"),
        file,
        "directory.user",
        value_line(d, "user", line),
        ("object_classes", "identity_attribute", "rdn_attribute", "attributes"),
    )
    groups = b.mapping(
        d.get("groups", _DEFAULT_GROUPS),
        file,
        "directory.groups",
        value_line(d, "groups", line),
        ("object_class", "name_attribute", "member_attribute"),
    )
    if user is None or groups is None:
        return None
    uline = value_line(d, "user", line)
    classes = b.names(
        user.get("object_classes"),
        file,
        "directory.user.object_classes",
        value_line(user, "object_classes", uline),
    )
    ident = b.name(
        user.get("identity_attribute"),
        file,
        "directory.user.identity_attribute",
        value_line(user, "identity_attribute", uline),
    )
    rdn = b.name(
        user.get("rdn_attribute", ident),
        file,
        "directory.user.rdn_attribute",
        value_line(user, "rdn_attribute", uline),
    )
    fields = b.fields(
        user.get("attributes"),
        file,
        "directory.user.attributes",
        value_line(user, "attributes", uline),
        None,
    )
    profile_fields_raw = d.get("profile_fields", {})
    profile_fields: dict[str, str] = {}
    if not isinstance(profile_fields_raw, dict):
        b.problem(
            file,
            "directory.profile_fields",
            "a mapping of field: attribute",
            "something else",
            value_line(d, "profile_fields", line),
        )
    else:
        for key, attr in profile_fields_raw.items():
            checked = b.name(
                attr,
                file,
                f"directory.profile_fields.{key}",
                key_line(profile_fields_raw, key, line),
            )
            if checked:
                profile_fields[str(key)] = checked
    sap_fields: list[FieldSpec] = []
    if "sap" in top:
        sap = b.mapping(top["sap"], file, "sap", value_line(top, "sap", 1), ("user",))
        if sap is not None:
            sap_fields = (
                b.fields(sap.get("user"), file, "sap.user", value_line(sap, "user", 1), None) or []
            )
            for f in sap_fields:
                if f.name not in SAP_FIELDS:
                    b.problem(
                        file,
                        f"sap.user.{f.name}",
                        "one of " + ", ".join(SAP_FIELDS),
                        repr(f.name),
                        None,
                    )
            if not any(f.name == "userName" for f in sap_fields):
                b.problem(file, "sap.user.userName", "a template", "nothing", None)
    if None in (classes, ident, rdn, fields):
        return None
    assert classes is not None and ident is not None and rdn is not None and fields is not None
    return TpaMapping(
        file=file,
        profile=got_profile if got_profile in PROFILES else profile,
        object_classes=classes,
        identity_attribute=ident,
        rdn_attribute=rdn,
        user_fields=fields,
        group_object_class=str(groups.get("object_class", "groupOfNames")),
        group_name_attribute=str(groups.get("name_attribute", "cn")),
        member_attribute=str(groups.get("member_attribute", "member")),
        profile_fields=profile_fields,
        sap_fields=sap_fields,
    )
