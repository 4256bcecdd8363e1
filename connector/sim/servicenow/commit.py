"""Read an update set (unload XML) and turn it into what Commit would create on an instance.

The emulator applies the records clients can notice: tables (``sys_db_object`` and the
dictionary's collection entries), columns (``sys_dictionary``, labels from ``sys_documentation``),
choice lists (composite ``sys_choice``), system properties and access rules (``sys_user_role``,
``sys_security_acl``, ``sys_security_acl_role``). Other records (UI actions, pages, scripts,
reports, ...) only run in the instance's UI and are counted as skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree

from connector.sim.servicenow.schema import SchemaError

# sys_dictionary.internal_type -> the emulator's field type (anything else stores as a string).
_TYPES = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "glide_date_time": "glide_date_time",
    "reference": "reference",
    "choice": "choice",
    "journal": "journal",
    "journal_input": "journal",
    "sys_class_name": "sys_class_name",
    "glide_list": "glide_list",
}
RECORD_TABLES = ("sys_properties", "sys_user_role", "sys_security_acl", "sys_security_acl_role")


@dataclass
class Committed:
    """What one update set creates: schema tables (schema.yaml form) and plain records."""

    name: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """Describe what was applied, for the control API."""
        return {
            "name": self.name,
            "tables": sorted(self.tables),
            "fields": sum(len(t.get("fields", {})) for t in self.tables.values()),
            "choices": sum(
                len(f.get("choices") or {})
                for t in self.tables.values()
                for f in t.get("fields", {}).values()
            ),
            "records": {k: len(v) for k, v in sorted(self.records.items())},
            "skipped": dict(sorted(self.skipped.items())),
        }


def _parser() -> etree.XMLParser:
    # No entities, no DTD, no network: the file may come from anywhere.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _text(el: etree._Element, name: str) -> str:
    return (el.findtext(name) or "").strip()


def _values(el: etree._Element) -> dict[str, str]:
    """Return a record element's fields as strings (references by sys_id)."""
    return {child.tag: (child.text or "") for child in el if isinstance(child.tag, str)}


def parse_update_set(data: bytes, where: str = "<update set>") -> Committed:
    """Parse unload XML and return what committing it creates; SchemaError names the problem."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise SchemaError(f"{where}: not XML: {exc}") from exc
    if root.tag != "unload":
        raise SchemaError(f"{where}: expected an <unload> document, found <{root.tag}>")
    committed = Committed(_text(root, "sys_remote_update_set/name") or where)
    rows = root.findall("sys_update_xml")
    if not rows:
        raise SchemaError(f"{where}: no sys_update_xml rows")
    labels: dict[tuple[str, str], tuple[str, str]] = {}
    for row in rows:
        name = _text(row, "name")
        try:
            payload = etree.fromstring(row.findtext("payload", "").encode(), _parser())
        except etree.XMLSyntaxError as exc:
            raise SchemaError(f"{where}: payload of {name} is not XML: {exc}") from exc
        for record in payload:
            if not isinstance(record.tag, str):
                continue
            _apply(committed, record, labels, f"{where}: {name}")
    for (table, element), (label, _plural) in labels.items():
        spec = committed.tables.setdefault(table, {})
        if not element:
            spec["label"] = label
        elif element in spec.setdefault("fields", {}):
            spec["fields"][element]["label"] = label
    for spec in committed.tables.values():
        for fspec in spec.get("fields", {}).values():
            # A string column with a choice list behaves as a choice field.
            if fspec.get("choices") and fspec.get("type", "string") == "string":
                fspec["type"] = "choice"
            fspec.setdefault("type", "string")
    return committed


def _apply(
    committed: Committed,
    record: etree._Element,
    labels: dict[tuple[str, str], tuple[str, str]],
    where: str,
) -> None:
    tag = record.tag
    if tag == "sys_db_object":
        name = _text(record, "name")
        spec = committed.tables.setdefault(name, {})
        spec.setdefault("label", _text(record, "label") or name)
        parent = record.find("super_class")
        if parent is not None and (parent.text or "").strip():
            spec["extends"] = parent.get("name") or parent.get("display_value") or parent.text
    elif tag == "sys_dictionary":
        _dictionary(committed, record, where)
    elif tag == "sys_documentation":
        inner = record.find("sys_documentation")
        doc = inner if inner is not None else record
        key = (_text(doc, "name") or record.get("table", ""), _text(doc, "element"))
        labels[key] = (_text(doc, "label"), _text(doc, "plural"))
    elif tag == "sys_choice" and record.get("version") == "3":
        table, element = record.get("table", ""), record.get("field", "")
        choices = [
            (int(_text(c, "sequence") or 0), _text(c, "value"), _text(c, "label"))
            for c in record.findall("sys_choice")
            if _text(c, "inactive") != "true"
        ]
        fspec = committed.tables.setdefault(table, {}).setdefault("fields", {})
        fspec.setdefault(element, {})["choices"] = {v: lab for _, v, lab in sorted(choices)}
    elif tag in RECORD_TABLES:
        committed.records.setdefault(tag, []).append(_values(record))
    else:
        committed.skipped[tag] += 1


def _dictionary(committed: Committed, record: etree._Element, where: str) -> None:
    table = record.get("table") or _text(record, "name")
    element = record.get("element", _text(record, "element"))
    if not table:
        raise SchemaError(f"{where}: sys_dictionary without a table")
    spec = committed.tables.setdefault(table, {})
    internal = _text(record, "internal_type")
    if not element or internal == "collection":
        spec.setdefault("label", _text(record, "column_label") or table)
        return
    fields = spec.setdefault("fields", {})
    fspec = fields.setdefault(element, {})
    ftype = _TYPES.get(internal, "string")
    fspec.update(
        type=ftype,
        label=_text(record, "column_label") or element,
        max_length=int(_text(record, "max_length") or (32 if ftype == "reference" else 40)),
        mandatory=_text(record, "mandatory") == "true",
        unique=_text(record, "unique") == "true",
        read_only=_text(record, "read_only") == "true",
        default=_text(record, "default_value"),
    )
    if ftype == "reference":
        fspec["reference"] = _text(record, "reference")
    if _text(record, "display") == "true":
        spec["display"] = element


@lru_cache(maxsize=1)
def _builtin_bytes() -> bytes:
    from datetime import UTC, datetime

    from connector.servicenow.updateset import build_update_set

    # A fixed date: the file is the same on every start, so parsing it once is enough.
    return build_update_set(datetime(2024, 1, 1, tzinfo=UTC))


def builtin_update_set() -> Committed:
    """Return our own update set (what ``connector servicenow export-update-set`` writes)."""
    return parse_update_set(_builtin_bytes(), "<connector update set>")
