"""Import Set API: insert a staging row and run its transform synchronously."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g

from connector.sim.servicenow.cost import charge_reads
from connector.sim.servicenow.records import AclDenied, DataPolicyViolation, Row, UniqueViolation
from connector.sim.servicenow.schema import Table
from connector.sim.servicenow.web import (
    ApiError,
    base_url,
    json_response,
    load_table,
    record_body,
    state,
)

bp = Blueprint("servicenow_import", __name__)


def _import_result(staging: Table, row: Row) -> dict[str, Any]:
    st = state()
    transform = staging.transform or {}
    target_name = row.get("sys_target_table") or transform.get("target", "")
    target_id = row.get("sys_target_sys_id", "")
    target_table = st.schema.tables.get(target_name)
    target = st.store.lookup(target_id) if target_id else None
    display_name = (target_table.display if target_table else "") or ""
    item: dict[str, Any] = {
        "transform_map": row.get("sys_transform_map", ""),
        "table": target_name,
        "display_name": display_name,
        "display_value": target.get(display_name, "") if target else "",
        "record_link": f"{base_url()}/api/now/table/{target_name}/{target_id}" if target_id else "",
        "status": row.get("sys_import_state", ""),
        "sys_id": target_id,
    }
    if row.get("sys_import_state") == "error":
        item["error_message"] = row.get("sys_import_state_comment", "")
    return {
        "import_set": row.get("sys_import_set", ""),
        "staging_table": staging.name,
        "result": [item],
    }


def _staging(name: str) -> Table:
    table = load_table(name)
    if not table.transform:
        raise ApiError(400, f"Invalid table {name}", None)
    return table


@bp.route("/api/now/import/<staging_name>", methods=["POST"], endpoint="import_insert")
@bp.route("/api/now/v1/import/<staging_name>", methods=["POST"], endpoint="import_insert_v1")
def import_insert(staging_name: str) -> Response:
    """Insert one staging row and run its field-for-field transform synchronously."""
    st = state()
    staging = _staging(staging_name)
    body = record_body()
    transform = staging.transform or {}
    target = st.schema.tables[transform["target"]]
    mapping: dict[str, str] = transform.get("fields") or {}
    values = {k: v for k, v in body.items() if k in staging.fields and not k.startswith("sys_")}
    values["sys_import_set"] = st.store.next_import_set()
    with st.store.lock:
        row = st.store.insert(staging, values, g.actor, enforce_acl=False)
        target_values = {tf: row.get(sf, "") for sf, tf in mapping.items() if row.get(sf, "") != ""}
        status, comment, target_id = "inserted", "", ""
        try:
            existing = None
            coalesce = transform.get("coalesce")
            if coalesce and row.get(coalesce):
                key_field = mapping.get(coalesce, coalesce)
                existing = next(
                    (r for r in st.store.iter_rows(target) if r.get(key_field) == row[coalesce]),
                    None,
                )
            if existing is not None:
                st.store.update(target, existing["sys_id"], target_values, g.actor, display=True)
                status, target_id = "updated", existing["sys_id"]
            else:
                created = st.store.insert(target, target_values, g.actor, display=True)
                target_id = created["sys_id"]
        except (AclDenied, DataPolicyViolation, UniqueViolation) as exc:
            status, comment = "error", str(exc)
        row = st.store.update(
            staging,
            row["sys_id"],
            {},
            g.actor,
        )
        row = st.store.set_system_fields(
            row["sys_id"],
            {
                "sys_import_state": status,
                "sys_import_state_comment": comment,
                "sys_target_table": target.name,
                "sys_target_sys_id": target_id,
                "sys_transform_map": str(transform.get("name", "")),
            },
        )
    return json_response(_import_result(staging, row), 201)


@bp.route("/api/now/import/<staging_name>/<sys_id>", methods=["GET"], endpoint="import_read")
@bp.route("/api/now/v1/import/<staging_name>/<sys_id>", methods=["GET"], endpoint="import_read_v1")
def import_read(staging_name: str, sys_id: str) -> Response:
    """Return the transform result of a staging row."""
    staging = _staging(staging_name)
    row = state().store.get(staging, sys_id)
    charge_reads(1)
    if row is None:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    return json_response(_import_result(staging, row))
