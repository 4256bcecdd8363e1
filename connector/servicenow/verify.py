"""Check that an instance has every table and field the mappings write (``servicenow verify``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connector.servicenow import query as q
from connector.servicenow.client import ServiceNowClient

# Where the ticket-side fields live when a mapping says "task" (the ticket's table).
_TICKET_TABLE = "task"


def _table_chain(sn: ServiceNowClient, table: str) -> list[str] | None:
    """Return the table and its parents (sys_db_object.super_class), or None if it is missing."""
    chain: list[str] = []
    rows = sn.query(
        "sys_db_object", q.equals("name", table, q.name), fields=["sys_id", "name", "super_class"]
    )
    if not rows:
        return None
    while rows and len(chain) < 10:
        chain.append(rows[0]["name"])
        parent = rows[0].get("super_class") or ""
        if not parent:
            break
        found = sn.get_record("sys_db_object", parent, fields=["sys_id", "name", "super_class"])
        rows = [found] if found else []
    return chain


MISSING_TABLE = "(table)"  # marks a table that does not exist at all, ahead of its fields


def missing_fields(
    sn: ServiceNowClient, written: Mapping[str, Iterable[str]]
) -> dict[str, list[str]]:
    """Return table → fields (of ``written``) the instance lacks; a lost table comes first."""
    missing: dict[str, list[str]] = {}
    for table, fields in sorted(written.items()):
        chain = _table_chain(sn, table or _TICKET_TABLE)
        if chain is None:
            missing[table] = [MISSING_TABLE, *sorted(fields)]
            continue
        rows = sn.query(
            "sys_dictionary",
            q.all_of(q.one_of("name", chain, q.name), q.one_of("element", sorted(fields), q.name)),
            fields=["name", "element"],
        )
        present = {r.get("element") for r in rows}
        absent = sorted(f for f in fields if f not in present)
        if absent:
            missing[table] = absent
    return missing
