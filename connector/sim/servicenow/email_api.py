"""Email API: record an outbound email in sys_email and read it back."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g

from connector.sim.servicenow.cost import charge_reads
from connector.sim.servicenow.web import (
    ApiError,
    field_list,
    json_response,
    load_table,
    record_body,
    state,
)

bp = Blueprint("servicenow_email", __name__)


def _address_list(body: dict[str, Any], name: str, required: bool) -> list[str]:
    value = body.get(name)
    if value in (None, "", []):
        if required:
            raise ApiError(400, "Missing required field", f"'{name}' is required")
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ApiError(400, "Invalid field", f"'{name}' must be an array of addresses")
    if len(items) > 100:
        raise ApiError(400, "Invalid field", f"'{name}' accepts at most 100 addresses")
    return items


@bp.route("/api/now/email", methods=["POST"], endpoint="email_send")
@bp.route("/api/now/v1/email", methods=["POST"], endpoint="email_send_v1")
def email_send() -> Response:
    """Record an outbound email in sys_email."""
    body = record_body()
    to = _address_list(body, "to", True)
    cc = _address_list(body, "cc", False)
    bcc = _address_list(body, "bcc", False)
    table_name, record_id = body.get("table_name"), body.get("table_record_id")
    if bool(table_name) != bool(record_id):
        raise ApiError(
            400, "Invalid field", "table_name and table_record_id must be given together"
        )
    if table_name:
        target = load_table(str(table_name))
        if state().store.get(target, str(record_id)) is None:
            raise ApiError(
                404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
            )
    headers = body.get("headers")
    row = state().store.insert(
        state().schema.tables["sys_email"],
        {
            "recipients": ",".join(to),
            "copied": ",".join(cc),
            "blind_copied": ",".join(bcc),
            "subject": body.get("subject") or "",
            "body_text": body.get("text") or "",
            "body": body.get("html") or "",
            "importance": body.get("importance") or "",
            "headers": json.dumps(headers) if isinstance(headers, dict) else "",
            "target_table": table_name or "",
            "instance": record_id or "",
            "type": "send-ready",
            "state": "ready",
            "user": g.actor.user_name,
        },
        g.actor,
        enforce_acl=False,
    )
    sys_id = row["sys_id"]
    return json_response(
        {
            "result": {
                "id": sys_id,
                "links": [
                    {"rel": "self", "href": f"/now/v1/email/{sys_id}"},
                    {
                        "rel": "status",
                        "href": f"/now/v1/email/{sys_id}?sysparm_fields=id,type,state,error",
                    },
                ],
            }
        }
    )


@bp.route("/api/now/email/<sys_id>", methods=["GET"], endpoint="email_read")
@bp.route("/api/now/v1/email/<sys_id>", methods=["GET"], endpoint="email_read_v1")
def email_read(sys_id: str) -> Response:
    """Read an email back from sys_email."""
    row = state().store.get(state().schema.tables["sys_email"], sys_id)
    charge_reads(1)
    if row is None:
        raise ApiError(
            403, "Operation Failed", "Record doesn't exist or ACL restricts the record retrieval"
        )
    headers: Any = {}
    if row.get("headers"):
        try:
            headers = json.loads(row["headers"])
        except ValueError:
            headers = {}
    full = {
        "id": sys_id,
        "to": [a for a in row.get("recipients", "").split(",") if a],
        "cc": [a for a in row.get("copied", "").split(",") if a],
        "bcc": [a for a in row.get("blind_copied", "").split(",") if a],
        "subject": row.get("subject", ""),
        "text": row.get("body_text", ""),
        "html": row.get("body", ""),
        "headers": headers,
        "importance": row.get("importance", ""),
        "type": row.get("type", ""),
        "state": row.get("state", ""),
    }
    wanted = field_list()
    if wanted:
        full = {k: v for k, v in full.items() if k in wanted}
    return json_response({"result": full})
