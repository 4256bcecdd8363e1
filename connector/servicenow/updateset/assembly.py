"""Assemble the update set: every record in dependency order, wrapped in the unload envelope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from connector.servicenow.scripts import (
    AJAX_INCLUDE,
    JUMP_CI_ACTION,
    JUMP_CI_CONDITION,
    JUMP_CLIENT_SCRIPT,
    JUMP_MACRO,
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
from connector.servicenow.tpa_scripts import BUSINESS_RULES as TPA_BUSINESS_RULES
from connector.servicenow.updateset.contents import (
    PROPERTIES,
    RELATED_LIST_PARENTS,
    REPORTS,
    ROLES,
    TABLES,
    UPDATE_SET_NAME,
    Table,
    stable_id,
)
from connector.servicenow.updateset.records import (
    Ref,
    Update,
    acl_updates,
    fill,
    flag,
    report_update,
    role_update,
    simple,
    table_updates,
    ui_action,
)


def all_updates(tables: Sequence[Table] = TABLES) -> list[Update]:
    """Return every update of the set, dependencies (tables, roles) first."""
    out: list[Update] = []
    for t in tables:
        out.extend(table_updates(t))
    out.extend(role_update(r) for r in ROLES)
    for t in tables:
        out.extend(acl_updates(t))
    out.extend(report_update(r) for r in REPORTS)
    out.append(
        simple(
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
                    RELATED_LIST_PARENTS, tuple(t.related_list for t in tables if t.task_field)
                ),
            },
        )
    )
    for name, kind, value, description in PROPERTIES:
        out.append(
            simple(
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
        simple(
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
        simple(
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
            simple(
                "sys_script_include",
                name,
                "Script Include",
                name,
                "",
                {
                    "access": "package_private",
                    "active": "true",
                    "api_name": f"global.{name}",
                    "client_callable": flag(callable_),
                    "name": name,
                    "script": script,
                },
            )
        )
    out.append(
        ui_action(
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
        simple(
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
        ui_action(
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
        simple(
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
        simple(
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
        simple(
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
        simple(
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
        ui_action(
            "cmdb_ci",
            "Bomgar Jump",
            "bomgar_jump_ci",
            client=True,
            onclick="bomgarJumpCi()",
            condition=JUMP_CI_CONDITION,
            script=JUMP_CI_ACTION,
        )
    )
    # 3PA's business rules, for those of its tables the set holds.
    names = {t.name for t in tables}
    out.extend(tpa_business_rule(*rule) for rule in TPA_BUSINESS_RULES if rule[1] in names)
    return out


def tpa_business_rule(
    name: str, table: str, when: str, insert: bool, update: bool, condition: str, script: str
) -> Update:
    """Return a 3PA business rule (sys_script): the instance's real-time calls to the connector."""
    return simple(
        "sys_script",
        name,
        "Business Rule",
        name,
        table,
        {
            "abort_action": "false",
            "action_delete": "false",
            "action_insert": flag(insert),
            "action_query": "false",
            "action_update": flag(update),
            "active": "true",
            "advanced": "true",
            "collection": table,
            "condition": condition,
            "description": "Third Party Access (connector/tpa): see docs/3pa.md",
            "filter_condition": "",
            "name": name,
            "order": "100",
            "priority": "100",
            "script": script,
            "when": when,
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


def build_update_set(now: datetime | None = None, tables: Sequence[Table] = TABLES) -> bytes:
    """Return the complete update set as unload XML bytes (UTF-8)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S")
    set_id = stable_id("sys_remote_update_set", UPDATE_SET_NAME)
    local_id = stable_id("sys_update_set", UPDATE_SET_NAME)
    updates = all_updates(tables)
    root = ET.Element("unload", {"unload_date": stamp})
    remote = ET.SubElement(root, "sys_remote_update_set", {"action": "INSERT_OR_UPDATE"})
    fill(
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
        fill(
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
