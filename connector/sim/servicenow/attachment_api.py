"""Attachment API: upload, list, describe, download and delete files on records."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response, g, request

from connector.sim.servicenow.cost import charge_reads
from connector.sim.servicenow.records import Row
from connector.sim.servicenow.web import (
    ApiError,
    base_url,
    json_response,
    list_headers,
    list_rows,
    load_table,
    param,
    state,
    store_call,
)

bp = Blueprint("servicenow_attachment", __name__)


def _attachment_routes(rule: str, **kw: Any) -> Any:
    def deco(fn: Any) -> Any:
        bp.add_url_rule(f"/api/now/attachment{rule}", view_func=fn, endpoint=f"{fn.__name__}", **kw)
        bp.add_url_rule(
            f"/api/now/v1/attachment{rule}", view_func=fn, endpoint=f"{fn.__name__}_v1", **kw
        )
        return fn

    return deco


def attachment_meta(row: Row) -> dict[str, str]:
    """Render attachment metadata as the Attachment API does (all strings)."""
    table = state().schema.tables["sys_attachment"]
    out = {name: row.get(name, "") for name in table.fields}
    out["download_link"] = f"{base_url()}/api/now/attachment/{row['sys_id']}/file"
    names = {
        u.get("user_name"): u.get("name", "") for u in state().store.by_table["sys_user"].values()
    }
    out["created_by_name"] = names.get(row["sys_created_by"], row["sys_created_by"])
    out["updated_by_name"] = names.get(row["sys_updated_by"], row["sys_updated_by"])
    return out


def _create_attachment(
    table_name: str | None,
    table_sys_id: str | None,
    file_name: str | None,
    content_type: str | None,
    data: bytes,
) -> Response:
    missing = [
        n
        for n, v in (
            ("table_name", table_name),
            ("table_sys_id", table_sys_id),
            ("file_name", file_name),
        )
        if not v
    ]
    if missing:
        raise ApiError(400, "Missing required parameter", ", ".join(missing))
    if not content_type:
        raise ApiError(400, "Content-Type header is required", "The file's MIME type is required")
    st = state()
    target = load_table(table_name or "")
    if st.store.get(target, table_sys_id or "") is None:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    table = st.schema.tables["sys_attachment"]
    with st.store.lock:
        row = st.store.insert(
            table,
            {
                "file_name": file_name,
                "content_type": content_type,
                "size_bytes": len(data),
                "size_compressed": len(data),
                "table_name": table_name,
                "table_sys_id": table_sys_id,
                "hash": hashlib.sha256(data).hexdigest(),
            },
            g.actor,
            enforce_acl=False,
        )
        st.store.save_file(row["sys_id"], data)
    location = f"{base_url()}/api/now/attachment/{row['sys_id']}/file"
    return json_response({"result": attachment_meta(row)}, 201, {"Location": location})


@_attachment_routes("/file", methods=["POST"])
def attachment_upload_raw() -> Response:
    """Attach the raw request body to a record."""
    content_type = request.headers.get("Content-Type")
    return _create_attachment(
        param("table_name"),
        param("table_sys_id"),
        param("file_name"),
        content_type,
        request.get_data(),
    )


@_attachment_routes("/upload", methods=["POST"])
def attachment_upload_multipart() -> Response:
    """Attach the last file part of a multipart form to a record."""
    files = list(request.files.values())
    if not files:
        raise ApiError(
            400, "Failed to create the attachment. File part might be missing in the request.", None
        )
    part = files[-1]
    return _create_attachment(
        request.form.get("table_name"),
        request.form.get("table_sys_id"),
        part.filename,
        part.mimetype or "application/octet-stream",
        part.read(),
    )


@_attachment_routes("", methods=["GET"])
def attachment_list() -> Response:
    """List attachment metadata."""
    table = state().schema.tables["sys_attachment"]
    rows, total, limit, offset = list_rows(table, 1000)
    return json_response(
        {"result": [attachment_meta(r) for r in rows]}, 200, list_headers(total, limit, offset)
    )


def _attachment(sys_id: str) -> Row:
    row = state().store.get(state().schema.tables["sys_attachment"], sys_id)
    if row is None:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    return row


@_attachment_routes("/<sys_id>", methods=["GET", "DELETE"])
def attachment_one(sys_id: str) -> Response:
    """Read or delete one attachment's metadata."""
    if request.method != "DELETE":
        charge_reads(1)  # the lookup costs a read, found or not
    row = _attachment(sys_id)
    if request.method == "DELETE":
        store_call(state().store.delete, state().schema.tables["sys_attachment"], sys_id)
        return Response(b"", status=204)
    return json_response({"result": attachment_meta(row)})


@_attachment_routes("/<sys_id>/file", methods=["GET"])
def attachment_file(sys_id: str) -> Response:
    """Download an attachment's bytes."""
    charge_reads(1)
    row = _attachment(sys_id)
    data = state().store.files.get(sys_id, b"")
    response = Response(
        data, status=200, content_type=row.get("content_type") or "application/octet-stream"
    )
    response.headers["X-Attachment-Metadata"] = json.dumps(
        attachment_meta(row), separators=(",", ":")
    )
    return response
