"""Build the ServiceNow update set (unload XML) that installs the connector's ServiceNow side.

The file has the shape an instance writes for System Update Sets > Retrieved Update Sets >
Import Update Set from XML::

    <unload unload_date="…">
      <sys_remote_update_set action="INSERT_OR_UPDATE"> … </sys_remote_update_set>
      <sys_update_xml action="INSERT_OR_UPDATE">
        <name>sys_dictionary_u_bomgar_session_u_lsid</name> <table>u_bomgar_session</table> …
        <payload>&lt;?xml …?&gt;&lt;record_update&gt;&lt;sys_dictionary …</payload>
      </sys_update_xml>
      …
    </unload>

Each payload is one record (or one composite record) in the form real exports use:

- ``sys_db_object_<table>``: ``<record_update table="sys_db_object"><sys_db_object …>``
- ``sys_dictionary_<table>_<element>`` (``_null`` for the table's collection entry):
  ``<record_update><sys_dictionary action="INSERT_OR_UPDATE" element="…" table="…">``
- ``sys_documentation_<table>_<element>_en``: the label, wrapped in an outer
  ``<sys_documentation element label language table>``
- ``sys_choice_<table>_<field>``: ``<sys_choice … version="3">`` holding the ``sys_choice_set``
  and every ``sys_choice`` row of the field
- everything else: ``<record_update table="T"><T action="INSERT_OR_UPDATE">``, named ``T_<sys_id>``
  (roles by name)

Every record carries ``sys_scope``/``sys_package`` (global), ``sys_class_name`` and
``sys_update_name``. Tables, columns, choices, roles, ACLs and reports are data (TABLES, ROLES,
REPORTS): a new table is one more ``Table`` entry. Sys_ids are derived from stable names, so a
re-export updates the same records on the instance instead of adding copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from connector.servicenow.scripts import (
    AGENT_ROLE,
    AJAX_INCLUDE,
    JUMP_CI_ACTION,
    JUMP_CI_CONDITION,
    JUMP_CLIENT_SCRIPT,
    JUMP_MACRO,
    PROPERTY_LINK_TTL,
    PROPERTY_SECRET,
    PROPERTY_TOKEN,
    PROPERTY_URL,
    SCRIPT_INCLUDE,
    SESSION_KEY_ACTION,
    SESSION_KEY_CONDITION,
    SESSION_KEY_PAGE_CLIENT,
    SESSION_KEY_PAGE_HTML,
    SUPPORT_FRAME_PAGE_HTML,
    SUPPORT_NOW_ACTION,
    SUPPORT_NOW_CONDITION,
    related_lists_fix_script,
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
    task_field: str = "u_task"  # reference to the ticket: the related list is "<name>.<task_field>"
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

ROLES: tuple[Role, ...] = (
    Role(ROLE_INTEGRATION, "The connector's account: writes Bomgar sessions and survey responses"),
    Role(ROLE_READER, "Reads Bomgar sessions and survey responses (itil users can too)"),
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

# -- records ------------------------------------------------------------------------------


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


_META = {
    "sys_package": Ref("global", "Global", "global"),
    "sys_scope": Ref("global", "Global"),
}


def _fill(parent: ET.Element, values: dict[str, Value]) -> None:
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


def _record(cls: str, sys_id: str, update_name: str, values: dict[str, Value]) -> dict[str, Value]:
    """Return a record's fields with the metadata every payload carries."""
    return {
        **values,
        **_META,
        "sys_class_name": cls,
        "sys_id": sys_id,
        "sys_update_name": update_name,
    }


def _simple(
    cls: str, key: str, type_label: str, target: str, table: str, values: dict[str, Value]
) -> Update:
    """Build an update for a plain record: ``<record_update table=T><T action=…>``."""
    sys_id = stable_id(cls, key)
    name = f"{cls}_{sys_id}"
    root = ET.Element("record_update", {"table": cls})
    rec = ET.SubElement(root, cls, {"action": "INSERT_OR_UPDATE"})
    _fill(rec, _record(cls, sys_id, name, values))
    return Update(name, cls, type_label, target, table, root)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _table_updates(t: Table) -> Iterator[Update]:
    """Yield the table, its dictionary, labels and choices."""
    name = f"sys_db_object_{t.name}"
    root = ET.Element("record_update", {"table": "sys_db_object"})
    rec = ET.SubElement(root, "sys_db_object", {"action": "INSERT_OR_UPDATE"})
    _fill(
        rec,
        _record(
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
    yield _dictionary(t.name, "", t.label, "collection", 40)
    yield _documentation(t.name, "", t.label, t.plural)
    for c in t.columns:
        yield _dictionary(
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
        yield _documentation(t.name, c.name, c.label, c.label + "s")
        if c.choices:
            yield _choices(t.name, c)


def _dictionary(
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
        "display": _bool(display),
        "element": element,
        "internal_type": Ref(internal_type, internal_type.replace("_", " ").title()),
        "mandatory": _bool(mandatory),
        "max_length": str(max_length),
        "name": table,
        "primary": "false",
        "read_only": _bool(read_only),
        "spell_check": "false",
        "sys_name": label,
        "text_index": "false",
        "unique": _bool(unique),
        "virtual": "false",
        "xml_view": "false",
    }
    if reference:
        values["reference"] = Ref(reference, reference)
    _fill(rec, _record("sys_dictionary", stable_id("sys_dictionary", table, element), name, values))
    target = f"{table}.{element}" if element else table
    return Update(name, "sys_dictionary", "Dictionary", target, table, root)


def _documentation(table: str, element: str, label: str, plural: str) -> Update:
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
    _fill(rec, _record("sys_documentation", sys_id, name, values))
    target = f"{table}.{element}" if element else table
    return Update(name, "sys_documentation", "Field Label", target, table, root)


def _choices(table: str, c: Column) -> Update:
    name = f"sys_choice_{table}_{c.name}"
    root = ET.Element("record_update")
    outer = ET.SubElement(
        root,
        "sys_choice",
        {"action": "INSERT_OR_UPDATE", "field": c.name, "table": table, "version": "3"},
    )
    choice_set = ET.SubElement(outer, "sys_choice_set", {"action": "INSERT_OR_UPDATE"})
    _fill(
        choice_set,
        _record(
            "sys_choice_set",
            stable_id("sys_choice_set", table, c.name),
            name,
            {"element": c.name, "name": table, "sys_name": c.name},
        ),
    )
    for order, (value, label) in enumerate(c.choices):
        row = ET.SubElement(outer, "sys_choice", {"action": "INSERT_OR_UPDATE"})
        _fill(
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


def _role_update(role: Role) -> Update:
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
    _fill(rec, _record("sys_user_role", sys_id, name, values))
    return Update(name, "sys_user_role", "Role", role.name, "", root)


def role_ref(name: str) -> Ref:
    """Return the reference to a role by sys_id, with its name for coalescing."""
    sys_id = BASE_ROLES.get(name) or stable_id("sys_user_role", name)
    return Ref(sys_id, name, name)


def _acl_updates(t: Table) -> Iterator[Update]:
    """Yield a record ACL per operation and one ACL-role row per role allowed."""
    for operation, roles in t.access.items():
        key = f"{t.name}.{operation}"
        acl = _simple(
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
            yield _simple(
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


def _report_update(r: Report) -> Update:
    return _simple(
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


def _updates() -> list[Update]:
    """Return every update of the set, dependencies (tables, roles) first."""
    out: list[Update] = []
    for t in TABLES:
        out.extend(_table_updates(t))
    out.extend(_role_update(r) for r in ROLES)
    for t in TABLES:
        out.extend(_acl_updates(t))
    out.extend(_report_update(r) for r in REPORTS)
    out.append(
        _simple(
            "sys_script_fix",
            "Bomgar connector: add related lists",
            "Fix Script",
            "Bomgar connector: add related lists",
            "",
            {
                "description": "Adds the Bomgar related lists to the "
                + ", ".join(RELATED_LIST_PARENTS)
                + " form (default view) after the ones already there. Run it once after "
                "committing; it changes nothing when the lists are present.",
                "name": "Bomgar connector: add related lists",
                "record_for_rollback": "true",
                "script": related_lists_fix_script(
                    RELATED_LIST_PARENTS, tuple(t.related_list for t in TABLES)
                ),
            },
        )
    )
    for name, kind, value, description in PROPERTIES:
        out.append(
            _simple(
                "sys_properties",
                name,
                "System Property",
                name,
                "",
                {
                    "description": description,
                    "ignore_cache": "false",
                    "is_private": "true",
                    "name": name,
                    "read_roles": "",
                    "suffix": name.split(".", 1)[-1],
                    "type": kind,
                    "value": value,
                    "write_roles": "admin",
                },
            )
        )
    message_id = stable_id("sys_rest_message", "Bomgar Connector")
    out.append(
        _simple(
            "sys_rest_message",
            "Bomgar Connector",
            "REST Message",
            "Bomgar Connector",
            "",
            {
                "authentication_type": "no_authentication",
                "description": "Calls the Bomgar connector; the endpoint comes from "
                + PROPERTY_URL,
                "name": "Bomgar Connector",
                "rest_endpoint": "${" + PROPERTY_URL + "}",
            },
        )
    )
    out.append(
        _simple(
            "sys_rest_message_fn",
            "Bomgar Connector.post",
            "HTTP Method",
            "Bomgar Connector post",
            "",
            {
                "function_name": "post",
                "http_method": "post",
                "rest_endpoint": "${" + PROPERTY_URL + "}",
                "rest_message": Ref(message_id, "Bomgar Connector"),
            },
        )
    )
    for name, script, callable_ in (
        ("BomgarConnector", SCRIPT_INCLUDE, False),
        ("BomgarConnectorAjax", AJAX_INCLUDE, True),
    ):
        out.append(
            _simple(
                "sys_script_include",
                name,
                "Script Include",
                name,
                "",
                {
                    "access": "package_private",
                    "active": "true",
                    "api_name": f"global.{name}",
                    "client_callable": _bool(callable_),
                    "name": name,
                    "script": script,
                },
            )
        )
    out.append(
        _ui_action(
            "incident",
            "Bomgar Session Key",
            "bomgar_session_key",
            client=True,
            onclick="bomgarSessionKey()",
            condition=SESSION_KEY_CONDITION,
            script=SESSION_KEY_ACTION,
        )
    )
    out.append(
        _simple(
            "sys_ui_page",
            "x_bomgar_session_key",
            "UI Page",
            "x_bomgar_session_key",
            "",
            {
                "client_script": SESSION_KEY_PAGE_CLIENT,
                "description": "Popup of the Bomgar Session Key button",
                "html": SESSION_KEY_PAGE_HTML,
                "name": "x_bomgar_session_key",
                "processing_script": "",
            },
        )
    )
    out.append(
        _ui_action(
            "incident",
            "Get Support Now",
            "bomgar_get_support_now",
            client=False,
            onclick="",
            condition=SUPPORT_NOW_CONDITION,
            script=SUPPORT_NOW_ACTION,
        )
    )
    out.append(
        _simple(
            "sys_ui_page",
            "x_bomgar_support",
            "UI Page",
            "x_bomgar_support",
            "",
            {
                "client_script": "",
                "description": "Frames the connector's Get Support Now page for the caller",
                "html": SUPPORT_FRAME_PAGE_HTML,
                "name": "x_bomgar_support",
                "processing_script": "",
            },
        )
    )
    out.append(
        _simple(
            "sys_ui_script",
            "bomgar_jump",
            "UI Script",
            "bomgar_jump",
            "",
            {
                "active": "true",
                "description": "bomgarJump(): asks the connector for a Jump to a CI",
                "global": "true",
                "name": "bomgar_jump",
                "script": JUMP_CLIENT_SCRIPT,
                "ui_type": "0",
                "use_scoped_format": "false",
            },
        )
    )
    out.append(
        _simple(
            "sys_ui_macro",
            "bomgar_jump",
            "UI Macro",
            "bomgar_jump",
            "",
            {
                "active": "true",
                "description": "Jump button beside a configuration item reference field",
                "name": "bomgar_jump",
                "xml": JUMP_MACRO,
            },
        )
    )
    out.append(
        _simple(
            "sys_dictionary_override",
            "incident.cmdb_ci.ref_contributions",
            "Dictionary Override",
            "incident.cmdb_ci",
            "incident",
            {
                "attributes": "ref_contributions=bomgar_jump",
                "attributes_override": "true",
                "base_table": "task",
                "element": "cmdb_ci",
                "name": "incident",
            },
        )
    )
    out.append(
        _ui_action(
            "cmdb_ci",
            "Bomgar Jump",
            "bomgar_jump_ci",
            client=True,
            onclick="bomgarJumpCi()",
            condition=JUMP_CI_CONDITION,
            script=JUMP_CI_ACTION,
        )
    )
    return out


def _ui_action(
    table: str,
    name: str,
    action_name: str,
    *,
    client: bool,
    onclick: str,
    condition: str,
    script: str,
) -> Update:
    return _simple(
        "sys_ui_action",
        f"{table}.{name}",
        "UI Action",
        name,
        table,
        {
            "action_name": action_name,
            "active": "true",
            "client": _bool(client),
            "condition": condition,
            "form_button": "true",
            "isolate_script": _bool(client),
            "name": name,
            "onclick": onclick,
            "order": "100",
            "script": script,
            "show_insert": "false",
            "show_update": "true",
            "table": table,
        },
    )


def java_hash(text: str) -> int:
    """Return Java's String.hashCode of text (real exports' payload_hash)."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def payload_text(root: ET.Element) -> str:
    """Return a payload element as the text a sys_update_xml row holds."""
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def build_update_set(now: datetime | None = None) -> bytes:
    """Return the complete update set as unload XML bytes (UTF-8)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
    set_id = stable_id("sys_remote_update_set", UPDATE_SET_NAME)
    local_id = stable_id("sys_update_set", UPDATE_SET_NAME)
    updates = _updates()
    root = ET.Element("unload", {"unload_date": stamp})
    remote = ET.SubElement(root, "sys_remote_update_set", {"action": "INSERT_OR_UPDATE"})
    _fill(
        remote,
        {
            "application": Ref("global", "Global"),
            "application_name": "Global",
            "application_scope": "global",
            "application_version": "",
            "collisions": "",
            "commit_date": "",
            "deleted": "",
            "description": "Tables, access rules, reports, buttons, properties and REST message "
            "of the Bomgar connector.",
            "inserted": "",
            "name": UPDATE_SET_NAME,
            # The update set this one was exported from, as the instance records it.
            "origin_sys_id": local_id,
            "parent": "",
            "release_date": "",
            "remote_base_update_set": "",
            "remote_parent_id": "",
            "remote_sys_id": local_id,
            "state": "loaded",
            "summary": "",
            "sys_class_name": "sys_remote_update_set",
            "sys_created_by": "admin",
            "sys_created_on": stamp,
            "sys_id": set_id,
            "sys_mod_count": "0",
            "sys_updated_by": "admin",
            "sys_updated_on": stamp,
            "update_set": Ref(local_id, UPDATE_SET_NAME),
            "update_source": "",
            "updated": "",
        },
    )
    for u in updates:
        text = payload_text(u.payload)
        digest = java_hash(text)
        guid = stable_id("update_guid", u.name, text)
        item = ET.SubElement(root, "sys_update_xml", {"action": "INSERT_OR_UPDATE"})
        _fill(
            item,
            {
                "action": "INSERT_OR_UPDATE",
                "application": Ref("global", "Global"),
                "category": "customer",
                "comments": "",
                "name": u.name,
                "payload": text,
                "payload_hash": str(digest),
                "remote_update_set": Ref(set_id, UPDATE_SET_NAME),
                "replace_on_upgrade": "false",
                "sys_class_name": "sys_update_xml",
                "sys_created_by": "admin",
                "sys_created_on": stamp,
                "sys_id": stable_id("sys_update_xml", u.name),
                "sys_mod_count": "0",
                "sys_updated_by": "admin",
                "sys_updated_on": stamp,
                "table": u.table,
                "target_name": u.target,
                "type": u.type,
                "update_domain": "global",
                "update_guid": guid,
                "update_guid_history": f"{guid}:{digest}",
                "update_set": "",
                "view": "",
            },
        )
    ET.indent(root)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(root, encoding="utf-8").split(b"?>", 1)[-1].lstrip()
        + b"\n"
    )
