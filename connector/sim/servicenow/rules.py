"""What the instance itself gives a record: system fields, task defaults, priority, policy."""

from __future__ import annotations

from typing import Any

from connector.sim.servicenow.records import Actor, DataPolicyViolation, Row
from connector.sim.servicenow.schema import Table

JOURNAL_LABELS = {"work_notes": "Work notes", "comments": "Additional comments"}


def blank_row(table: Table, sys_id: str, user: str, when: str) -> Row:
    """Return a new record of the table: field defaults and system fields."""
    row = {name: f.default for name, f in table.fields.items()}
    row.update(
        sys_id=sys_id,
        sys_created_on=when,
        sys_created_by=user,
        sys_updated_on=when,
        sys_updated_by=user,
        sys_mod_count="0",
    )
    if "sys_class_name" in table.fields:
        row["sys_class_name"] = table.name
    return row


def business_rules(
    table: Table, row: Row, values: dict[str, Any], actor: Actor, insert: bool
) -> None:
    """Run the rules clients notice: task opened_at/opened_by, priority from impact and urgency."""
    if "task" in table.ancestors:
        if insert:
            if not row.get("opened_at"):
                row["opened_at"] = row["sys_created_on"]
            if not row.get("opened_by"):
                row["opened_by"] = row.get("caller_id") or actor.sys_id
        if "priority" not in values and ("impact" in values or "urgency" in values or insert):
            try:
                row["priority"] = str(int(row["impact"]) + int(row["urgency"]) - 1)
            except (KeyError, ValueError):
                pass


def check_mandatory(table: Table, row: Row) -> None:
    """Raise DataPolicyViolation naming the mandatory fields the row leaves empty."""
    missing = [f.label for f in table.fields.values() if f.mandatory and row.get(f.name, "") == ""]
    if missing:
        raise DataPolicyViolation(missing)
