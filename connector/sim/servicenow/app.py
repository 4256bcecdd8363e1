"""Instance routes: Table, Batch, Attachment, Email and Import Set APIs, OAuth, and /_sim/."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from connector.sim.faults import Decision, drop_connection
from connector.sim.servicenow import query as q
from connector.sim.servicenow.render import Renderer, resolve_fields
from connector.sim.servicenow.schema import SchemaError, Table
from connector.sim.servicenow.state import RATE_RULE_ID, SimState
from connector.sim.servicenow.store import (
    AclDenied,
    Actor,
    DataPolicyViolation,
    RecordNotFound,
    Row,
    UniqueViolation,
)

instance = Blueprint("servicenow_instance", __name__)
control = Blueprint("servicenow_control", __name__, url_prefix="/_sim")

JSON_TYPE = "application/json;charset=UTF-8"
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_SEGMENT_ID = re.compile(r"^[0-9a-f]{32}$")
VERSIONS = ("v1", "v2")


def state() -> SimState:
    """Return the emulator state of the current app."""
    return current_app.extensions["servicenow_sim"]


class ApiError(Exception):
    """Raise to answer with the instance's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Answer JSON the way the instance does."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    response = Response(data, status=status, content_type=JSON_TYPE)
    if headers:
        response.headers.update(headers)
    return response


def error_response(
    status: int, message: str, detail: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """Answer the instance's error envelope."""
    return json_response(
        {"error": {"message": message, "detail": detail}, "status": "failure"}, status, headers
    )


def unauthorized() -> Response:
    """Answer the real 401 body and challenge."""
    return error_response(
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
        {"WWW-Authenticate": 'BASIC realm="Service-now"'},
    )


def api_name(path: str) -> str:
    """Name the API a path belongs to, as rate-limit details do."""
    for marker, name in (
        ("/table/", "Table API"),
        ("/attachment", "Attachment API"),
        ("/batch", "Batch API"),
        ("/import/", "Import Set API"),
        ("/email", "Email API"),
    ):
        if marker in path:
            return name
    return "REST API"


def path_label(path: str) -> str:
    """Turn a path into a stats label, with every sys_id segment replaced by {sys_id}."""
    return "/".join("{sys_id}" if _SEGMENT_ID.match(p) else p for p in path.split("/"))


def flag(name: str) -> bool:
    """Read a boolean sysparm (pysnow sends True/False; empty means absent)."""
    return (request.args.get(name) or "").strip().lower() == "true"


def param(name: str) -> str | None:
    """Read a parameter, treating an empty value as absent."""
    value = request.args.get(name)
    return value if value not in (None, "") else None


def base_url() -> str:
    """Return the instance URL used in links and Location headers."""
    cached = g.get("base_url")
    if cached is None:
        cached = g.base_url = (state().options.base_url_override or request.host_url).rstrip("/")
    return cached


def table_base(version: str | None) -> str:
    """Return the link prefix for references: it mirrors the API version the client used."""
    return f"{base_url()}/api/now/{version}/table" if version else f"{base_url()}/api/now/table"


def load_table(name: str) -> Table:
    """Return the table or raise the real 400."""
    table = state().schema.get(name)
    if table is None:
        raise ApiError(400, f"Invalid table {name}", None)
    return table


def read_body() -> Any:
    """Parse a JSON body; an empty body counts as an empty object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "Exception while reading request", f"Cannot decode: {exc}") from exc


def record_body() -> dict[str, Any]:
    """Return the record a write carries: only the first element of an array counts."""
    body = read_body()
    if isinstance(body, list):
        body = body[0] if body else {}
    if not isinstance(body, dict):
        raise ApiError(400, "Exception while reading request", "The payload is not a JSON object")
    return body


def renderer(exclude_default: bool = False) -> Renderer:
    """Build a renderer for this request's display options."""
    mode = (param("sysparm_display_value") or "false").lower()
    if mode not in ("true", "false", "all"):
        mode = "false"
    return Renderer(
        state().store,
        g.actor,
        mode=mode,
        exclude_link=flag("sysparm_exclude_reference_link") or exclude_default,
        link_base=table_base(g.get("version")),
    )


def field_list() -> list[str] | None:
    """Return sysparm_fields as a list, or None."""
    raw = param("sysparm_fields")
    if not raw:
        return None
    return [f.strip() for f in raw.split(",") if f.strip()] or None


def int_param(name: str, default: int) -> int:
    """Read an integer sysparm; garbage falls back to the default."""
    raw = param(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return default


def name_value_query(table: Table) -> str:
    """Build an encoded query from name=value filters (display values allowed)."""
    terms = []
    for key, value in request.args.items(multi=True):
        if key.startswith("sysparm_") or key not in table.fields:
            continue
        f = table.fields[key]
        if f.type in ("reference", "choice") and value and not _HEX32.match(value):
            value = state().store._normalise(f, value, g.actor, display=True) or value
        terms.append(f"{key}={value}")
    return "^".join(terms)


def link_header(total: int, limit: int, offset: int) -> str:
    """Build the Link header: first, prev (negative on page one, as real ones are), next, last."""
    kept = [
        (k, v)
        for k, v in parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
        if k not in ("sysparm_limit", "sysparm_offset")
    ]
    url = f"{base_url()}{request.path}"
    step = max(limit, 1)
    last = ((total - 1) // step) * step if total > 0 else 0

    def make(off: int, rel: str) -> str:
        qs = urlencode([*kept, ("sysparm_limit", str(limit)), ("sysparm_offset", str(off))])
        return f'<{url}?{qs}>;rel="{rel}"'

    links = [make(0, "first"), make(offset - limit, "prev")]
    if offset + limit < total:  # next only while records remain: clients follow it until gone
        links.append(make(offset + limit, "next"))
    links.append(make(last, "last"))
    return ",".join(links)


def list_rows(table: Table, default_limit: int) -> tuple[list[Row], int, int, int]:
    """Run a list GET's query; return the page, total, limit and offset."""
    st = state()
    text = request.args.get("sysparm_query")
    if text is None:
        text = name_value_query(table)
    parsed = q.parse(text, table, st.schema, g.actor.sys_id)
    if parsed.dropped and st.instance_faults.invalid_query_returns_no_rows:
        rows: list[Row] = []
    else:
        rows = st.store.select(table, parsed)
    limit = int_param("sysparm_limit", default_limit)
    if limit <= 0:
        limit = default_limit
    offset = int_param("sysparm_offset", 0)
    if offset < 0:
        raise ApiError(400, "Invalid query parameter", "sysparm_offset must not be negative")
    return rows[offset : offset + limit], len(rows), limit, offset


def list_headers(total: int, limit: int, offset: int) -> dict[str, str]:
    """Return X-Total-Count (always, PySNC reads it) and Link unless suppressed."""
    headers = {"X-Total-Count": str(total)}
    if not flag("sysparm_suppress_pagination_header"):
        headers["Link"] = link_header(total, limit, offset)
    return headers


def write_reply(
    table: Table, row: Row, status: int, headers: dict[str, str] | None = None
) -> Response:
    """Answer a write with the full record (or nothing under X-no-response-body)."""
    if (request.headers.get("X-no-response-body") or "").lower() == "true":
        response = Response(b"", status=status)
        if headers:
            response.headers.update(headers)
        return response
    paths = resolve_fields(state().schema, table, field_list(), param("sysparm_view"))
    body = renderer().row(table, row, paths)
    return json_response({"result": body}, status, headers)


def store_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store write and translate its errors into the instance's bodies."""
    try:
        return fn(*args, **kwargs)
    except RecordNotFound as exc:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        ) from exc
    except AclDenied as exc:
        raise ApiError(
            403,
            "Operation Failed",
            f"ACL Exception {exc.operation} Failed due to security constraints",
        ) from exc
    except DataPolicyViolation as exc:
        raise ApiError(
            403,
            "Operation Failed",
            "Data Policy Exception: \n\tThe following fields are mandatory: "
            + ", ".join(exc.labels),
        ) from exc
    except UniqueViolation as exc:
        # The unique index refuses the row; the exact status and text are UNCONFIRMED
        # (docs/emulators/servicenow.md "Unique columns").
        raise ApiError(
            403, "Operation Failed", f"Error during {exc.operation} of {exc.table} ({exc.display})"
        ) from exc


# ====================================================================== Table API


def _table_routes(rule: str, **kw: Any) -> Any:
    def deco(fn: Any) -> Any:
        instance.add_url_rule(
            f"/api/now/table{rule}", view_func=fn, defaults={"version": None}, **kw
        )
        instance.add_url_rule(f"/api/now/<any(v1,v2):version>/table{rule}", view_func=fn, **kw)
        return fn

    return deco


@_table_routes("/<table_name>", methods=["GET", "POST"])
def table_collection(table_name: str, version: str | None) -> Response:
    """List records or insert one."""
    g.version = version
    table = load_table(table_name)
    if request.method == "POST":
        st = state()
        display = flag("sysparm_input_display_value")
        row = store_call(st.store.insert, table, record_body(), g.actor, display=display)
        prefix = f"/api/now/{version}/table" if version else "/api/now/table"
        location = f"{base_url()}{prefix}/{table.name}/{row['sys_id']}"
        return write_reply(table, row, 201, {"Location": location})
    rows, total, limit, offset = list_rows(table, 10000)
    paths = resolve_fields(state().schema, table, field_list(), param("sysparm_view"))
    r = renderer()
    with state().store.lock:
        result = [r.row(table, row, paths) for row in rows]
    return json_response({"result": result}, 200, list_headers(total, limit, offset))


@_table_routes("/<table_name>/<sys_id>", methods=["GET", "PUT", "PATCH", "DELETE"])
def table_record(table_name: str, sys_id: str, version: str | None) -> Response:
    """Read, update or delete one record."""
    g.version = version
    table = load_table(table_name)
    st = state()
    if request.method == "DELETE":
        store_call(st.store.delete, table, sys_id)
        return Response(b"", status=204)
    if request.method in ("PUT", "PATCH"):
        display = flag("sysparm_input_display_value")
        row = store_call(st.store.update, table, sys_id, record_body(), g.actor, display=display)
        return write_reply(table, row, 200)
    row = st.store.get(table, sys_id)
    if row is None:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    paths = resolve_fields(st.schema, table, field_list(), param("sysparm_view"))
    with st.store.lock:
        body = renderer().row(table, row, paths)
    return json_response({"result": body})


# ====================================================================== Batch API


@instance.route("/api/now/v1/batch", methods=["POST"])
def batch() -> Response:
    """Run several REST requests in one call, one after another, each answered on its own."""
    body = read_body()
    if not isinstance(body, dict) or not isinstance(body.get("rest_requests"), list):
        raise ApiError(400, "Exception while reading request", "rest_requests is required")
    st = state()
    items = body["rest_requests"]
    cutoff = st.instance_faults.batch_unserviced_after or len(items)
    budget_out_at = st.batch_cutoff(len(items))
    if budget_out_at is not None:
        st.stats.fault("batch_cutoff", "before")
        cutoff = min(cutoff, budget_out_at)
    client = current_app.test_client()
    serviced: list[dict[str, Any]] = []
    unserviced: list[str] = []
    started = time.monotonic()
    for index, item in enumerate(items):
        item_id = str(item.get("id", index)) if isinstance(item, dict) else str(index)
        # The batch's time budget (30 s on an instance): items not reached stay unserviced.
        if not isinstance(item, dict) or index >= cutoff or time.monotonic() - started > 30:
            unserviced.append(item_id)
            continue
        method = str(item.get("method") or "GET").upper()
        url = str(item.get("url") or "")
        fault = st.batch_item_fault(f"batch {method} {path_label(urlsplit(url).path)}")
        if fault is not None and not fault.after:
            st.stats.fault(f"batch_item_{fault.action}", "before")
            reply = _fault_reply(fault.status, method, fault.retry_after)
            serviced.append(_serviced(item_id, reply, item, 0))
            continue
        headers = {
            h["name"]: h["value"]
            for h in item.get("headers") or []
            if isinstance(h, dict)
            and str(h.get("name", "")).lower() not in ("content-length", "host")
        }
        try:
            data = base64.b64decode(item.get("body") or "", validate=True)
        except (binascii.Error, ValueError):
            serviced.append(
                {
                    "id": item_id,
                    "status_code": 400,
                    "status_text": "Bad Request",
                    "headers": [],
                    "body": "",
                    "execution_time": 0,
                    "error_message": "body is not valid base64",
                }
            )
            continue
        t0 = time.monotonic()
        reply = client.open(
            url,
            method=method,
            headers=headers,
            data=data,
            base_url=request.host_url,
            environ_overrides={"sn.batch": True, "sn.actor": g.actor},
        )
        if fault is not None:
            # The item ran and committed; its answer is lost to a cancelled transaction.
            st.stats.fault(f"batch_item_{fault.action}", "after")
            reply = _after_fault_reply(fault, reply, method)
        serviced.append(_serviced(item_id, reply, item, int((time.monotonic() - t0) * 1000)))
    return json_response(
        {
            "batch_request_id": str(body.get("batch_request_id", "")),
            "serviced_requests": serviced,
            "unserviced_requests": unserviced,
        }
    )


def _serviced(item_id: str, reply: Any, item: dict[str, Any], elapsed_ms: int) -> dict[str, Any]:
    """Render one serviced_requests entry from an item's answer."""
    out_headers = (
        []
        if item.get("exclude_response_headers")
        else [
            {"name": k, "value": v} for k, v in reply.headers.items() if k.lower() != "set-cookie"
        ]
    )
    return {
        "id": item_id,
        "status_code": reply.status_code,
        "status_text": http.HTTPStatus(reply.status_code).phrase,
        "headers": out_headers,
        "body": base64.b64encode(reply.get_data()).decode("ascii"),
        "execution_time": elapsed_ms,
    }


# ====================================================================== Attachment API


def _attachment_routes(rule: str, **kw: Any) -> Any:
    def deco(fn: Any) -> Any:
        instance.add_url_rule(
            f"/api/now/attachment{rule}", view_func=fn, endpoint=f"{fn.__name__}", **kw
        )
        instance.add_url_rule(
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
    row = _attachment(sys_id)
    if request.method == "DELETE":
        store_call(state().store.delete, state().schema.tables["sys_attachment"], sys_id)
        return Response(b"", status=204)
    return json_response({"result": attachment_meta(row)})


@_attachment_routes("/<sys_id>/file", methods=["GET"])
def attachment_file(sys_id: str) -> Response:
    """Download an attachment's bytes."""
    row = _attachment(sys_id)
    data = state().store.files.get(sys_id, b"")
    response = Response(
        data, status=200, content_type=row.get("content_type") or "application/octet-stream"
    )
    response.headers["X-Attachment-Metadata"] = json.dumps(
        attachment_meta(row), separators=(",", ":")
    )
    return response


# ====================================================================== Email API


EMAIL_FIELDS = (
    "id",
    "to",
    "cc",
    "bcc",
    "subject",
    "text",
    "html",
    "headers",
    "importance",
    "type",
    "state",
)


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


@instance.route("/api/now/email", methods=["POST"], endpoint="email_send")
@instance.route("/api/now/v1/email", methods=["POST"], endpoint="email_send_v1")
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


@instance.route("/api/now/email/<sys_id>", methods=["GET"], endpoint="email_read")
@instance.route("/api/now/v1/email/<sys_id>", methods=["GET"], endpoint="email_read_v1")
def email_read(sys_id: str) -> Response:
    """Read an email back from sys_email."""
    row = state().store.get(state().schema.tables["sys_email"], sys_id)
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


# ====================================================================== Import Set API


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


@instance.route("/api/now/import/<staging_name>", methods=["POST"], endpoint="import_insert")
@instance.route("/api/now/v1/import/<staging_name>", methods=["POST"], endpoint="import_insert_v1")
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
        row.update(
            sys_import_state=status,
            sys_import_state_comment=comment,
            sys_target_table=target.name,
            sys_target_sys_id=target_id,
            sys_transform_map=str(transform.get("name", "")),
        )
        st.store._persist(row["sys_id"])
    return json_response(_import_result(staging, row), 201)


@instance.route("/api/now/import/<staging_name>/<sys_id>", methods=["GET"], endpoint="import_read")
@instance.route(
    "/api/now/v1/import/<staging_name>/<sys_id>", methods=["GET"], endpoint="import_read_v1"
)
def import_read(staging_name: str, sys_id: str) -> Response:
    """Return the transform result of a staging row."""
    staging = _staging(staging_name)
    row = state().store.get(staging, sys_id)
    if row is None:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    return json_response(_import_result(staging, row))


# ====================================================================== OAuth


def _oauth_denied() -> Response:
    return json_response({"error_description": "access_denied", "error": "server_error"}, 401)


@instance.route("/oauth_token.do", methods=["POST"])
def oauth_token() -> Response:
    """Issue tokens for the password, refresh_token and client_credentials grants."""
    st = state()
    form = request.form
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    auth = request.authorization
    if auth is not None and auth.type == "basic" and not client_id:
        client_id, client_secret = auth.username, auth.password
    opts = st.options
    if not (
        client_id
        and hmac.compare_digest(str(client_id), opts.oauth_client_id)
        and hmac.compare_digest(str(client_secret or ""), opts.oauth_client_secret)
    ):
        return _oauth_denied()
    grant = form.get("grant_type", "")
    if grant == "password":
        if not (
            hmac.compare_digest(form.get("username", ""), opts.user)
            and hmac.compare_digest(form.get("password", ""), opts.password)
        ):
            return _oauth_denied()
        return json_response(st.issue_token(opts.user, client_id, with_refresh=True))
    if grant == "refresh_token":
        token = form.get("refresh_token", "")
        with st.lock:
            found = st.refresh_tokens.get(token)
        if found is None or found.expires_at <= time.time() or found.client_id != client_id:
            return _oauth_denied()
        current = found.refresh  # the access token issued with it
        if current and st.token_user(current):
            # While the access token is still valid the same one is returned.
            left = st.access_tokens[current].expires_at - time.time()
            return json_response(
                {
                    "access_token": current,
                    "refresh_token": token,
                    "scope": "useraccount",
                    "token_type": "Bearer",
                    "expires_in": max(0, int(left)),
                }
            )
        body = st.issue_token(found.user, client_id, with_refresh=False)
        with st.lock:
            found.refresh = body["access_token"]
        body["refresh_token"] = token
        return json_response(body)
    if grant == "client_credentials":
        if not opts.client_credentials_enabled:
            return _oauth_denied()
        return json_response(st.issue_token(opts.user, client_id, with_refresh=False))
    return _oauth_denied()


# ====================================================================== /_sim/ control API


@control.route("/health", methods=["GET"])
def sim_health() -> Response:
    """Say the emulator is up."""
    return json_response({"status": "ok", "records": len(state().store.records)})


@control.route("/faults", methods=["GET", "POST"])
def sim_faults() -> Response:
    """Read or change fault settings."""
    st = state()
    if request.method == "POST":
        changes = request.get_json(silent=True)
        if not isinstance(changes, dict):
            return json_response({"error": "send a JSON object of settings"}, 400)
        try:
            st.configure_faults(changes)
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response(st.fault_settings())


@control.route("/faults/script", methods=["GET", "POST", "DELETE"])
def sim_fault_script() -> Response:
    """Read, add to or clear the scripted faults (deterministic faults for named requests)."""
    st = state()
    if request.method == "DELETE":
        st.faults.clear_script()
    elif request.method == "POST":
        rules = request.get_json(silent=True)
        if isinstance(rules, dict):
            rules = [rules]
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            return json_response({"error": "send a rule object or a list of them"}, 400)
        try:
            st.faults.script(rules)
        except (ValueError, TypeError, re.error) as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response({"rules": st.faults.scripted()})


@control.route("/stats", methods=["GET"])
def sim_stats() -> Response:
    """Return request counts per method and path pattern."""
    return json_response(state().stats.snapshot())


@control.route("/stats/reset", methods=["POST"])
def sim_stats_reset() -> Response:
    """Forget request counts."""
    state().stats.reset()
    return json_response(state().stats.snapshot())


@control.route("/update-sets", methods=["POST"])
def sim_update_sets() -> Response:
    """Commit an update set (unload XML in the body): its tables, columns, choices, records."""
    try:
        commit = state().load_update_set(request.get_data())
    except SchemaError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(commit.summary(), 201)


@control.route("/reset", methods=["POST"])
def sim_reset() -> Response:
    """Restore the seed and clear stats, tokens and faults."""
    state().reset()
    return json_response({"status": "reset"})


# ====================================================================== hooks


def _authenticate() -> Actor | None:
    st = state()
    header = request.headers.get("Authorization", "")
    user: str | None = None
    sid = request.cookies.get("JSESSIONID")
    if sid and st.session_user(sid):
        g.has_session = True  # keep the client's cookie session instead of starting another
    known = st.basic_cache.get(header) if header else None
    if known is not None:
        return st.cached_actor(known)
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        name, _, password = decoded.partition(":")
        if hmac.compare_digest(name, st.options.user) and hmac.compare_digest(
            password, st.options.password
        ):
            user = name
            st.basic_cache[header] = name  # verified once; skip base64 and compare next time
        else:
            return None
    elif header[:7].lower() == "bearer ":
        user = st.token_user(header[7:].strip())
        if user is None:
            return None
    else:
        user = st.session_user(sid) if sid else None
        if user is None:
            return None
    return st.cached_actor(user)


def install_hooks(app: Flask) -> None:
    """Count, limit, fault and authenticate every instance request; decorate every answer."""

    @app.before_request
    def _before() -> Response | None:
        path = request.path
        if path.startswith("/_sim/"):
            return None
        st = state()
        env = request.environ
        if env.get("sn.batch"):
            st.stats.count(f"batch {request.method}", path_label(path))
            g.actor = env["sn.actor"]
            return None
        st.stats.count(request.method, path_label(path))
        if not st.enter():
            return error_response(
                429,
                "Rate limit exceeded",
                f"Maximum concurrent requests ({st.instance_faults.max_concurrent}) for semaphore "
                "API_INT exceeded",
                {"Retry-After": "1"},
            )
        g.slot = True
        decision = st.faults.decide(f"{request.method} {path_label(path)}")
        if decision.action != "pass" and not decision.after:
            st.stats.fault(decision.action, "before")
            if decision.action == "drop":
                drop_connection(request)
                return Response(b"", status=500)
            if decision.action == "error":
                return _fault_reply(decision.status, request.method, decision.retry_after)
        length = request.content_length
        limit = st.options.max_body_bytes
        if length is not None and length > limit:
            return error_response(
                400,
                "Exception while reading request",
                f"Rejected large REST payload with content-length = {length} bytes. "
                f"Max allowed: {limit} bytes.",
                {"Connection": "close"},
            )
        if path == "/oauth_token.do":
            return None
        actor = _authenticate()
        if actor is None:
            return unauthorized()
        g.actor = actor
        if st.instance_faults.hourly_limit and path.startswith("/api/"):
            limit_n, reset, allowed = st.count_hourly()
            g.rate_headers = {
                "X-RateLimit-Limit": str(limit_n),
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Rule": RATE_RULE_ID,
            }
            if not allowed:
                retry = max(1, reset - int(time.time()))
                return error_response(
                    429,
                    "Rate limit exceeded",
                    f"Rate limit of {limit_n} requests per hour for {api_name(path)} exceeded",
                    {"Retry-After": str(retry)},
                )
        if decision.after:
            g.after_fault = decision  # applied to the answer once the request has taken effect
        return None

    @app.after_request
    def _after(response: Response) -> Response:
        if request.path.startswith("/_sim/"):
            return response
        # Batch items run nested in the batch's app context: only the outer request is faulted.
        fault = None if request.environ.get("sn.batch") else g.pop("after_fault", None)
        if fault is not None:
            state().stats.fault(fault.action, "after")
            if fault.action == "drop":
                drop_connection(request)
                return Response(b"", status=500)
            if fault.action == "timeout":
                time.sleep(fault.hold_seconds)
            else:
                response = _after_fault_reply(fault, response, request.method)
        response.headers["Server"] = "ServiceNow"
        response.headers["X-Is-Logged-In"] = "true" if g.get("actor") else "false"
        response.headers["X-Transaction-ID"] = secrets.token_hex(6)
        rate = g.get("rate_headers")
        if rate:
            response.headers.update(rate)
        if g.get("actor") and not g.get("has_session") and not request.environ.get("sn.batch"):
            sid = state().remember_session(g.actor.user_name)
            response.set_cookie(
                "JSESSIONID", sid, httponly=True, secure=request.is_secure, path="/"
            )
            response.set_cookie(
                "glide_session_store",
                secrets.token_hex(16).upper(),
                max_age=1800,
                httponly=True,
                secure=request.is_secure,
                path="/",
            )
        return response

    @app.teardown_request
    def _release(exc: BaseException | None) -> None:
        # Batch items share the batch's app context (and g): the slot is the outer request's.
        if request.environ.get("sn.batch"):
            return
        if g.pop("slot", False):
            state().leave()

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.detail, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        if code == 405:
            return error_response(
                405, "Method not Supported", f"{request.method} method not supported for API"
            )
        if code == 413:
            length = request.content_length
            return error_response(
                400,
                "Exception while reading request",
                f"Rejected large REST payload with content-length = {length} bytes. "
                f"Max allowed: {state().options.max_body_bytes} bytes.",
            )
        if code == 404:
            # Any path under /api/ that matches no API is a 400 on an instance (reference §1.7).
            if request.path.startswith("/api/"):
                return error_response(400, "Requested URI does not represent any resource", None)
            return error_response(404, "Requested URI does not represent any resource", None)
        return error_response(code, exc.name, exc.description)


_ACL_VERB = {"POST": "Insert", "PUT": "Update", "PATCH": "Update", "DELETE": "Delete"}


def _after_fault_reply(fault: Decision, reply: Any, method: str) -> Response:
    """Replace the answer of a request that took effect: an error, or its status with no body."""
    if fault.action == "empty":
        return Response(b"", status=reply.status_code, content_type=JSON_TYPE)
    return _fault_reply(fault.status, method, fault.retry_after)


def _fault_reply(status: int, method: str = "GET", retry_after: int | None = None) -> Response:
    """Render an injected failure as the instance answers it (bodies from its documented errors)."""
    if retry_after is not None and status in (429, 503):
        response = _fault_reply(status, method)
        response.headers["Retry-After"] = str(retry_after)
        return response
    if status == 500:
        detail = (
            "Transaction cancelled: maximum execution time exceeded Check logs for error trace "
            "or enable glide.rest.debug property to verify REST request processing"
        )
        return error_response(500, "Transaction cancelled: maximum execution time exceeded", detail)
    if status == 202:
        return Response(b"", status=202)
    if status == 429:
        return error_response(
            429, "Rate limit exceeded", "Rate limit exceeded", {"Retry-After": "1"}
        )
    if status == 403:
        verb = _ACL_VERB.get(method.upper())
        if verb is None:
            return error_response(403, "User Not Authorized", "Failed API level ACL Validation")
        return error_response(
            403, "Operation Failed", f"ACL Exception {verb} Failed due to security constraints"
        )
    if status == 400:
        return error_response(400, "Exception while reading request", "Cannot decode: injected")
    phrase = (
        http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Error"
    )
    headers = {"Retry-After": "1"} if status == 503 else None
    return error_response(status, phrase, None, headers)


class MethodOverride:
    """Honour X-HTTP-Method-Override on POST, as the instance does."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE")
        if override and environ.get("REQUEST_METHOD") == "POST":
            environ["REQUEST_METHOD"] = override.strip().upper()
        return self.wsgi_app(environ, start_response)
