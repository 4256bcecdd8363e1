"""The exported update set holds its records in the form real ServiceNow exports use."""

from __future__ import annotations

import dataclasses

from lxml import etree

from connector.mapping import MappingSet, default_mapping_paths
from connector.servicenow.updateset import (
    BASE_ROLES,
    REPORTS,
    ROLE_INTEGRATION,
    ROLE_READER,
    ROLE_TPA_MANAGER,
    ROLE_TPA_USER,
    TABLES,
    Column,
    Table,
    build_update_set,
)
from tests.unit.updateset.conftest import Item, records_of

META = {"sys_class_name", "sys_id", "sys_package", "sys_scope", "sys_update_name"}
# The columns each record class has on an instance (its dictionary), as far as we write them.
# A field outside these would be dropped or refused on commit.
KNOWN_FIELDS: dict[str, set[str]] = {
    "sys_db_object": {
        "access",
        "actions_access",
        "alter_access",
        "client_scripts_access",
        "configuration_access",
        "create_access",
        "create_access_controls",
        "delete_access",
        "is_extendable",
        "label",
        "name",
        "read_access",
        "super_class",
        "sys_name",
        "update_access",
        "ws_access",
    },
    "sys_dictionary": {
        "active",
        "array",
        "audit",
        "choice",
        "column_label",
        "display",
        "element",
        "internal_type",
        "mandatory",
        "max_length",
        "name",
        "primary",
        "read_only",
        "reference",
        "spell_check",
        "sys_name",
        "text_index",
        "unique",
        "virtual",
        "xml_view",
    },
    "sys_documentation": {
        "element",
        "help",
        "hint",
        "label",
        "language",
        "name",
        "plural",
        "sys_name",
        "url",
        "url_target",
    },
    "sys_choice_set": {"element", "name", "sys_name"},
    "sys_user_role": {
        "assignable_by",
        "can_delegate",
        "description",
        "elevated_privilege",
        "grantable",
        "name",
        "suffix",
        "sys_name",
    },
    "sys_security_acl": {
        "active",
        "admin_overrides",
        "advanced",
        "condition",
        "description",
        "name",
        "operation",
        "script",
        "sys_name",
        "type",
    },
    "sys_security_acl_role": {"sys_security_acl", "sys_user_role"},
    "sys_report": {
        "aggregate",
        "chart_size",
        "field",
        "field_list",
        "filter",
        "is_published",
        "roles",
        "sum_field",
        "table",
        "title",
        "type",
    },
    "sys_script_fix": {"description", "name", "record_for_rollback", "script"},
    # 3PA's business rules
    "sys_script": {
        "abort_action",
        "action_delete",
        "action_insert",
        "action_query",
        "action_update",
        "active",
        "advanced",
        "collection",
        "condition",
        "description",
        "filter_condition",
        "name",
        "order",
        "priority",
        "script",
        "when",
    },
    "sys_properties": {
        "description",
        "ignore_cache",
        "is_private",
        "name",
        "read_roles",
        "suffix",
        "type",
        "value",
        "write_roles",
    },
    "sys_rest_message": {"authentication_type", "description", "name", "rest_endpoint"},
    "sys_rest_message_fn": {"function_name", "http_method", "rest_endpoint", "rest_message"},
    "sys_script_include": {
        "access",
        "active",
        "api_name",
        "client_callable",
        "name",
        "script",
    },
    "sys_ui_action": {
        "action_name",
        "active",
        "client",
        "condition",
        "form_button",
        "isolate_script",
        "name",
        "onclick",
        "order",
        "script",
        "show_insert",
        "show_update",
        "table",
    },
    "sys_ui_page": {"client_script", "description", "html", "name", "processing_script"},
    "sys_ui_script": {
        "active",
        "description",
        "global",
        "name",
        "script",
        "ui_type",
        "use_scoped_format",
    },
    "sys_ui_macro": {"active", "description", "name", "xml"},
    "sys_dictionary_override": {
        "attributes",
        "attributes_override",
        "base_table",
        "element",
        "name",
    },
}
CHOICE_ROW = {
    "dependent_value",
    "element",
    "hint",
    "inactive",
    "label",
    "language",
    "name",
    "sequence",
    "sys_id",
    "value",
}


def by_name(items: list[Item]) -> dict[str, Item]:
    return {i.name: i for i in items}


def test_each_table_is_a_sys_db_object_update_named_after_it(items: list[Item]) -> None:
    """sys_db_object_<table> holds <record_update table="sys_db_object"> with the table's name."""
    named = by_name(items)
    for t in TABLES:
        item = named[f"sys_db_object_{t.name}"]
        assert item.payload.tag == "record_update"
        assert item.payload.get("table") == "sys_db_object"
        (rec,) = item.payload
        assert rec.tag == "sys_db_object" and rec.get("action") == "INSERT_OR_UPDATE"
        assert rec.findtext("name") == t.name and rec.findtext("label") == t.label
        assert rec.findtext("ws_access") == "true"  # the Table API may reach it


def test_one_dictionary_update_per_column_plus_the_collection(items: list[Item]) -> None:
    """sys_dictionary_<table>_<element> per column and _null for the collection, in export form."""
    named = by_name(items)
    dictionary = [i for i in items if i.record.tag == "sys_dictionary"]
    assert len(dictionary) == sum(len(t.columns) + 1 for t in TABLES)
    for t in TABLES:
        for element, column in [("", None), *((c.name, c) for c in t.columns)]:
            item = named[f"sys_dictionary_{t.name}_{element or 'null'}"]
            # No table attribute on record_update: the element carries element and table.
            assert item.payload.tag == "record_update" and item.payload.get("table") is None
            (rec,) = item.payload
            assert rec.tag == "sys_dictionary"
            assert rec.attrib == {
                "action": "INSERT_OR_UPDATE",
                "element": element,
                "table": t.name,
            }
            assert rec.findtext("name") == t.name and (rec.findtext("element") or "") == element
            if column is None:
                assert rec.findtext("internal_type") == "collection"
                continue
            assert rec.findtext("internal_type") == column.type
            assert rec.findtext("max_length") == str(column.max_length)
            assert (rec.findtext("reference") or "") == column.reference
            for flag in ("read_only", "mandatory", "unique"):
                assert rec.findtext(flag) == ("true" if getattr(column, flag) else "false")


def test_every_column_has_its_label_in_sys_documentation(items: list[Item]) -> None:
    """sys_documentation_<table>_<element>_en carries the label, wrapped as exports wrap it."""
    named = by_name(items)
    for t in TABLES:
        for c in t.columns:
            item = named[f"sys_documentation_{t.name}_{c.name}_en"]
            (outer,) = item.payload
            assert outer.tag == "sys_documentation"
            assert outer.attrib == {
                "element": c.name,
                "label": c.label,
                "language": "en",
                "table": t.name,
            }
            (rec,) = outer
            assert rec.get("action") == "INSERT_OR_UPDATE"
            assert rec.findtext("label") == c.label and rec.findtext("language") == "en"
        table_doc = named[f"sys_documentation_{t.name}_null_en"].record
        assert table_doc.findtext("plural") == t.plural


def test_choices_are_one_composite_version_3_update_per_field(items: list[Item]) -> None:
    """sys_choice_<table>_<field>: <sys_choice version=3> with the sys_choice_set and each row."""
    choice_items = [i for i in items if i.name.startswith("sys_choice_")]
    expected = {
        f"sys_choice_{t.name}_{c.name}": (t, c) for t in TABLES for c in t.columns if c.choices
    }
    assert {i.name for i in choice_items} == set(expected)
    for item in choice_items:
        t, c = expected[item.name]
        (outer,) = item.payload
        assert outer.tag == "sys_choice"
        assert outer.attrib == {
            "action": "INSERT_OR_UPDATE",
            "field": c.name,
            "table": t.name,
            "version": "3",
        }
        sets = outer.findall("sys_choice_set")
        assert len(sets) == 1
        assert sets[0].findtext("name") == t.name and sets[0].findtext("element") == c.name
        rows = outer.findall("sys_choice")
        assert [(r.findtext("value"), r.findtext("label")) for r in rows] == list(c.choices)
        for r in rows:
            assert {child.tag for child in r} <= CHOICE_ROW
            assert r.findtext("name") == t.name and r.findtext("element") == c.name
        # The dictionary entry says the field is a choice list.
        named = by_name(items)
        assert named[f"sys_dictionary_{t.name}_{c.name}"].record.findtext("choice") == "1"


def test_related_lists_never_replace_the_customers_incident_form(items: list[Item]) -> None:
    """No related-list record is shipped; a fix script adds both lists and keeps theirs."""
    classes = {i.record.tag for i in items} | {i.payload[0].tag for i in items}
    assert not classes & {"sys_ui_related_list", "sys_ui_related_list_entry", "sys_ui_related"}
    assert not [i for i in items if i.name.startswith("sys_ui_related")]
    (fix,) = records_of(items, "sys_script_fix")
    script = fix.findtext("script")
    for t in TABLES:
        if t.task_field:  # 3PA tables are no ticket's related list
            assert f'"{t.related_list}"' in script
    assert '["incident"]' in script
    # It appends after existing entries and inserts only what is missing.
    assert "orderByDesc('position')" in script and "entry.next()" in script


def test_every_record_has_only_fields_its_table_has(items: list[Item]) -> None:
    """Each record's elements are columns of its class (plus the metadata every record carries)."""
    for item in items:
        rec = item.record
        fields = {child.tag for child in rec} - META
        assert fields <= KNOWN_FIELDS[rec.tag], (item.name, fields - KNOWN_FIELDS[rec.tag])


def test_every_payload_carries_scope_package_class_and_update_name(items: list[Item]) -> None:
    """Each record: sys_scope/sys_package global, its sys_class_name, sys_update_name = row name."""
    for item in items:
        rec = item.record
        assert rec.findtext("sys_scope") == "global", item.name
        assert rec.find("sys_scope").get("display_value") == "Global"
        assert rec.findtext("sys_package") == "global", item.name
        assert rec.findtext("sys_class_name") == rec.tag, item.name
        assert rec.findtext("sys_update_name") == item.name
        assert len(rec.findtext("sys_id")) == 32


def test_every_update_row_names_its_table(items: list[Item]) -> None:
    """Rows about a table name it in <table>; only records tied to no table leave it empty."""
    unbound = {
        "sys_user_role",
        "sys_script_fix",
        "sys_properties",
        "sys_rest_message",
        "sys_rest_message_fn",
        "sys_script_include",
        "sys_ui_page",
        "sys_ui_script",
        "sys_ui_macro",
    }
    for item in items:
        rec = item.record
        table = item.row.findtext("table") or ""
        if rec.tag in unbound:
            assert table == "", item.name
            continue
        if rec.tag in ("sys_report", "sys_ui_action"):
            expected = rec.findtext("table")
        elif rec.tag == "sys_security_acl_role":
            expected = rec.find("sys_security_acl").get("display_value")
        elif rec.tag == "sys_script":  # a business rule belongs to its collection (3PA)
            expected = rec.findtext("collection")
        else:
            expected = rec.findtext("name")
        assert table == expected and table, item.name
        for tag in ("type", "target_name", "payload_hash", "update_guid"):
            assert item.row.findtext(tag), (item.name, tag)


def test_remote_update_set_carries_remote_and_origin_ids(exported: etree._Element) -> None:
    """The remote update set has remote_sys_id, origin_sys_id, sys_class_name; rows name it."""
    (remote,) = exported.findall("sys_remote_update_set")
    assert remote.findtext("sys_class_name") == "sys_remote_update_set"
    assert len(remote.findtext("remote_sys_id")) == 32
    assert len(remote.findtext("origin_sys_id")) == 32
    assert remote.findtext("state") == "loaded"
    set_id = remote.findtext("sys_id")
    assert {r.findtext("remote_update_set") for r in exported.findall("sys_update_xml")} == {set_id}


def test_roles_and_acls_let_the_integration_write_and_itil_read(items: list[Item]) -> None:
    """Four record ACLs per table; create/write need the integration role, read adds itil."""
    roles = {r.findtext("name"): r.findtext("sys_id") for r in records_of(items, "sys_user_role")}
    assert set(roles) == {ROLE_INTEGRATION, ROLE_READER, ROLE_TPA_MANAGER, ROLE_TPA_USER}
    known = roles | BASE_ROLES
    acls = {a.findtext("sys_id"): a for a in records_of(items, "sys_security_acl")}
    granted: dict[tuple[str, str], set[str]] = {}
    for link in records_of(items, "sys_security_acl_role"):
        acl = acls[link.findtext("sys_security_acl")]
        role = link.find("sys_user_role")
        assert known[role.get("name")] == role.text  # references resolve, by id and by name
        key = (acl.findtext("name"), acl.findtext("operation"))
        granted.setdefault(key, set()).add(role.get("name"))
    for acl in acls.values():
        assert acl.findtext("type") == "record" and acl.findtext("active") == "true"
        assert acl.findtext("advanced") == "false" and not acl.findtext("script")
    for t in TABLES:
        if t.name.startswith("u_3pa_"):  # 3PA: its own roles, checked in tests/unit/tpa
            assert {op: granted[(t.name, op)] for op in t.access} == {
                op: set(roles) for op, roles in t.access.items()
            }
            assert ROLE_INTEGRATION in granted[(t.name, "create")] | granted[(t.name, "write")]
            continue
        assert granted[(t.name, "create")] == {ROLE_INTEGRATION}
        assert granted[(t.name, "write")] == {ROLE_INTEGRATION}
        assert granted[(t.name, "read")] == {ROLE_INTEGRATION, ROLE_READER, "itil"}
        assert granted[(t.name, "delete")] == {"admin"}
    assert len(acls) == 4 * len(TABLES)
    # The tables do not ask the instance for its own generated ACLs on top of ours.
    for db in records_of(items, "sys_db_object"):
        assert db.findtext("create_access_controls") == "false"


def test_lsid_is_unique_on_the_session_table_only(items: list[Item]) -> None:
    """u_lsid is unique on the session table only (surveys repeat it), and 3PA names its apps."""
    unique = {
        (r.findtext("name"), r.findtext("element"))
        for r in records_of(items, "sys_dictionary")
        if r.findtext("unique") == "true"
    }
    assert unique == {("u_bomgar_session", "u_lsid"), ("u_3pa_application", "u_name")}


def test_reports_cover_rep_category_duration_and_survey_answers(items: list[Item]) -> None:
    """Four sys_report definitions on the two tables, naming only fields those tables have."""
    reports = {r.findtext("title"): r for r in records_of(items, "sys_report")}
    assert len(reports) == len(REPORTS) == 4
    columns = {t.name: {c.name for c in t.columns} | {"sys_created_on"} for t in TABLES}

    def pick(word: str) -> etree._Element:
        (found,) = [r for title, r in reports.items() if word in title]
        return found

    assert pick("representative").findtext("field") in ("u_rep_name", "u_primary_rep")
    category = pick("category")
    assert category.findtext("field").startswith("u_task.") and category.findtext("field").endswith(
        ".category"
    )
    duration = pick("duration")
    assert (duration.findtext("aggregate"), duration.findtext("sum_field")) == ("AVG", "u_duration")
    survey = pick("survey")
    assert survey.findtext("table") == "u_bomgar_survey_response"
    for r in reports.values():
        table = r.findtext("table")
        assert table in columns
        for name in ("field", "sum_field"):
            value = r.findtext(name) or ""
            assert not value or value.split(".")[0] in columns[table], (r.findtext("title"), value)
        for name in (r.findtext("field_list") or "").split(","):
            assert not name or name in columns[table]
        assert "itil" in (r.findtext("roles") or "").split(",")


def test_tables_hold_every_field_the_mappings_write(items: list[Item]) -> None:
    """The columns the built-in mappings write are all created."""
    entries = {
        (r.findtext("name"), r.findtext("element")) for r in records_of(items, "sys_dictionary")
    }
    written = MappingSet.load(default_mapping_paths()).written_fields()
    for t in TABLES:
        assert written.get(t.name, set()) <= {e for n, e in entries if n == t.name}


def test_a_new_table_in_the_data_gets_every_kind_of_record() -> None:
    """Adding a Table entry is all it takes: dictionary, labels, choices, ACLs and related list."""
    extra = Table(
        "u_bomgar_access",
        "Bomgar Access",
        "Bomgar Accesses",
        (
            Column("u_key", "Key", "string", 64, unique=True, display=True),
            Column("u_task", "Task", "reference", 32, "task"),
            Column("u_kind", "Kind", "choice", choices=(("a", "Alpha"), ("b", "Beta"))),
        ),
    )
    root = etree.fromstring(build_update_set(tables=(*TABLES, extra)))
    names = {r.findtext("name") for r in root.findall("sys_update_xml")}
    assert {
        "sys_db_object_u_bomgar_access",
        "sys_dictionary_u_bomgar_access_null",
        "sys_dictionary_u_bomgar_access_u_key",
        "sys_documentation_u_bomgar_access_u_kind_en",
        "sys_choice_u_bomgar_access_u_kind",
    } <= names
    payloads = " ".join(r.findtext("payload") for r in root.findall("sys_update_xml"))
    assert payloads.count("<name>u_bomgar_access</name><operation") == 4
    assert "u_bomgar_access.u_task" in payloads  # the fix script adds its related list
    assert dataclasses.is_dataclass(extra)


def test_export_is_stable_apart_from_dates() -> None:
    """Two exports differ only in their timestamps, so re-imports update the same records."""
    import datetime as dt

    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert build_update_set(when) == build_update_set(when)
