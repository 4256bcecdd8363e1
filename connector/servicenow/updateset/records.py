"""Build each record of the update set in the form real exports use (one ``Update`` per row)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from connector.servicenow.updateset.contents import (
    BASE_ROLES,
    Column,
    Report,
    Role,
    Table,
    stable_id,
)


@dataclass(frozen=True)
class Ref:
    """A reference value with the attributes real exports put on it."""

    value: str
    display: str
    name: str = ""  # coalescing key the commit uses when the sys_id is unknown


Value = str | Ref


@dataclass
class Update:
    """One sys_update_xml row: its name, what it concerns and its payload element."""

    name: str  # sys_update_name
    cls: str  # the record's table (sys_dictionary, sys_ui_action, ...)
    type: str  # sys_update_xml.type, as the instance labels it
    target: str  # target_name
    table: str  # the table the update concerns ("" for records tied to no table)
    payload: ET.Element  # <record_update>


META = {
    "sys_package": Ref("global", "Global", "global"),
    "sys_scope": Ref("global", "Global"),
}


def fill(parent: ET.Element, values: dict[str, Value]) -> None:
    """Append one element per field, sorted by name as real exports are."""
    for name in sorted(values):
        value = values[name]
        el = ET.SubElement(parent, name)
        if isinstance(value, Ref):
            el.set("display_value", value.display)
            if value.name and name == "sys_package":
                el.set("source", value.name)
            elif value.name:
                el.set("name", value.name)
            el.text = value.value
        elif value != "":
            el.text = value


def record(cls: str, sys_id: str, update_name: str, values: dict[str, Value]) -> dict[str, Value]:
    """Return a record's fields with the metadata every payload carries."""
    return {
        **values,
        **META,
        "sys_class_name": cls,
        "sys_id": sys_id,
        "sys_update_name": update_name,
    }


def simple(
    cls: str, key: str, type_label: str, target: str, table: str, values: dict[str, Value]
) -> Update:
    """Build an update for a plain record: ``<record_update table=T><T action=…>``."""
    sys_id = stable_id(cls, key)
    name = f"{cls}_{sys_id}"
    root = ET.Element("record_update", {"table": cls})
    rec = ET.SubElement(root, cls, {"action": "INSERT_OR_UPDATE"})
    fill(rec, record(cls, sys_id, name, values))
    return Update(name, cls, type_label, target, table, root)


def flag(value: bool) -> str:
    return "true" if value else "false"


def table_updates(t: Table) -> Iterator[Update]:
    """Yield the table, its dictionary, labels and choices."""
    name = f"sys_db_object_{t.name}"
    root = ET.Element("record_update", {"table": "sys_db_object"})
    rec = ET.SubElement(root, "sys_db_object", {"action": "INSERT_OR_UPDATE"})
    fill(
        rec,
        record(
            "sys_db_object",
            stable_id("sys_db_object", t.name),
            name,
            {
                "access": "public",
                "actions_access": "true",
                "alter_access": "true",
                "client_scripts_access": "true",
                "configuration_access": "false",
                "create_access": "true",
                # Our own ACLs below; true would also create a <table>_user role and its ACLs.
                "create_access_controls": "false",
                "delete_access": "true",
                "is_extendable": "false",
                "label": t.label,
                "name": t.name,
                "read_access": "true",
                "super_class": "",
                "sys_name": t.label,
                "update_access": "true",
                "ws_access": "true",
            },
        ),
    )
    yield Update(name, "sys_db_object", "Table", t.name, t.name, root)
    yield dictionary(t.name, "", t.label, "collection", 40)
    yield documentation(t.name, "", t.label, t.plural)
    for c in t.columns:
        yield dictionary(
            t.name,
            c.name,
            c.label,
            c.type,
            c.max_length,
            reference=c.reference,
            choice=bool(c.choices),
            mandatory=c.mandatory,
            unique=c.unique,
            read_only=c.read_only,
            display=c.display,
        )
        yield documentation(t.name, c.name, c.label, c.label + "s")
        if c.choices:
            yield choices(t.name, c)


def dictionary(
    table: str,
    element: str,
    label: str,
    internal_type: str,
    max_length: int,
    *,
    reference: str = "",
    choice: bool = False,
    mandatory: bool = False,
    unique: bool = False,
    read_only: bool = False,
    display: bool = False,
) -> Update:
    name = f"sys_dictionary_{table}_{element or 'null'}"
    root = ET.Element("record_update")
    rec = ET.SubElement(
        root,
        "sys_dictionary",
        {"action": "INSERT_OR_UPDATE", "element": element, "table": table},
    )
    values: dict[str, Value] = {
        "active": "true",
        "array": "false",
        "audit": "false",
        "choice": "1" if choice else "",
        "column_label": label,
        "display": flag(display),
        "element": element,
        "internal_type": Ref(internal_type, internal_type.replace("_", " ").title()),
        "mandatory": flag(mandatory),
        "max_length": str(max_length),
        "name": table,
        "primary": "false",
        "read_only": flag(read_only),
        "spell_check": "false",
        "sys_name": label,
        "text_index": "false",
        "unique": flag(unique),
        "virtual": "false",
        "xml_view": "false",
    }
    if reference:
        values["reference"] = Ref(reference, reference)
    fill(rec, record("sys_dictionary", stable_id("sys_dictionary", table, element), name, values))
    target = f"{table}.{element}" if element else table
    return Update(name, "sys_dictionary", "Dictionary", target, table, root)


def documentation(table: str, element: str, label: str, plural: str) -> Update:
    name = f"sys_documentation_{table}_{element or 'null'}_en"
    root = ET.Element("record_update")
    outer = ET.SubElement(
        root,
        "sys_documentation",
        {"element": element, "label": label, "language": "en", "table": table},
    )
    rec = ET.SubElement(outer, "sys_documentation", {"action": "INSERT_OR_UPDATE"})
    values: dict[str, Value] = {
        "element": element,
        "help": "",
        "hint": "",
        "label": label,
        "language": "en",
        "name": table,
        "plural": plural,
        "sys_name": label,
        "url": "",
        "url_target": "",
    }
    sys_id = stable_id("sys_documentation", table, element, "en")
    fill(rec, record("sys_documentation", sys_id, name, values))
    target = f"{table}.{element}" if element else table
    return Update(name, "sys_documentation", "Field Label", target, table, root)


def choices(table: str, c: Column) -> Update:
    name = f"sys_choice_{table}_{c.name}"
    root = ET.Element("record_update")
    outer = ET.SubElement(
        root,
        "sys_choice",
        {"action": "INSERT_OR_UPDATE", "field": c.name, "table": table, "version": "3"},
    )
    choice_set = ET.SubElement(outer, "sys_choice_set", {"action": "INSERT_OR_UPDATE"})
    fill(
        choice_set,
        record(
            "sys_choice_set",
            stable_id("sys_choice_set", table, c.name),
            name,
            {"element": c.name, "name": table, "sys_name": c.name},
        ),
    )
    for order, (value, label) in enumerate(c.choices):
        row = ET.SubElement(outer, "sys_choice", {"action": "INSERT_OR_UPDATE"})
        fill(
            row,
            {
                "dependent_value": "",
                "element": c.name,
                "hint": "",
                "inactive": "false",
                "label": label,
                "language": "en",
                "name": table,
                "sequence": str(order),
                "sys_id": stable_id("sys_choice", table, c.name, value),
                "value": value,
            },
        )
    return Update(name, "sys_choice", "Choice List", f"{table}.{c.name}", table, root)


def role_update(role: Role) -> Update:
    # Roles are keyed by name in update names (UNCONFIRMED; see docs/servicenow-setup.md).
    sys_id = stable_id("sys_user_role", role.name)
    name = f"sys_user_role_{role.name}"
    root = ET.Element("record_update", {"table": "sys_user_role"})
    rec = ET.SubElement(root, "sys_user_role", {"action": "INSERT_OR_UPDATE"})
    values: dict[str, Value] = {
        "assignable_by": "",
        "can_delegate": "true",
        "description": role.description,
        "elevated_privilege": "false",
        "grantable": "true",
        "name": role.name,
        "suffix": role.name.split(".", 1)[-1],
        "sys_name": role.name,
    }
    fill(rec, record("sys_user_role", sys_id, name, values))
    return Update(name, "sys_user_role", "Role", role.name, "", root)


def role_ref(name: str) -> Ref:
    """Return the reference to a role by sys_id, with its name for coalescing."""
    sys_id = BASE_ROLES.get(name) or stable_id("sys_user_role", name)
    return Ref(sys_id, name, name)


def acl_updates(t: Table) -> Iterator[Update]:
    """Yield a record ACL per operation and one ACL-role row per role allowed."""
    for operation, roles in t.access.items():
        key = f"{t.name}.{operation}"
        acl = simple(
            "sys_security_acl",
            key,
            "Access Control",
            t.name,
            t.name,
            {
                "active": "true",
                "admin_overrides": "true",
                "advanced": "false",
                "condition": "",
                "description": f"{operation} on {t.label}: {', '.join(roles)}",
                "name": t.name,
                "operation": Ref(operation, operation),
                "script": "",
                "sys_name": t.name,
                "type": Ref("record", "record"),
            },
        )
        yield acl
        acl_id = stable_id("sys_security_acl", key)
        for role in roles:
            yield simple(
                "sys_security_acl_role",
                f"{key}.{role}",
                "Access Role",
                f"{t.name} {operation} {role}",
                t.name,
                {
                    "sys_security_acl": Ref(acl_id, t.name),
                    "sys_user_role": role_ref(role),
                },
            )


def report_update(r: Report) -> Update:
    return simple(
        "sys_report",
        r.title,
        "Report",
        r.title,
        r.table,
        {
            "aggregate": r.aggregate,
            "chart_size": "medium",
            "field": r.field,
            "field_list": r.field_list,
            "filter": r.filter,
            "is_published": "false",
            "roles": ",".join(r.roles),
            "sum_field": r.sum_field,
            "table": r.table,
            "title": r.title,
            "type": r.type,
        },
    )


def ui_action(
    table: str,
    name: str,
    action_name: str,
    *,
    client: bool,
    onclick: str,
    condition: str,
    script: str,
) -> Update:
    return simple(
        "sys_ui_action",
        f"{table}.{name}",
        "UI Action",
        name,
        table,
        {
            "action_name": action_name,
            "active": "true",
            "client": flag(client),
            "condition": condition,
            "form_button": "true",
            "isolate_script": flag(client),
            "name": name,
            "onclick": onclick,
            "order": "100",
            "script": script,
            "show_insert": "false",
            "show_update": "true",
            "table": table,
        },
    )
