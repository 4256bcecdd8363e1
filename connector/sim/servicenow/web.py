"""What every route of the emulated instance shares: state, parameters, answers, errors."""

from __future__ import annotations

import http
import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import Response, current_app, g, request

from connector.sim.faults import Decision
from connector.sim.servicenow import query as q
from connector.sim.servicenow.cost import charge_reads
from connector.sim.servicenow.records import (
    AclDenied,
    DataPolicyViolation,
    RecordNotFound,
    Row,
    UniqueViolation,
)
from connector.sim.servicenow.render import Renderer, resolve_fields
from connector.sim.servicenow.schema import Table
from connector.sim.servicenow.state import SimState

JSON_TYPE = "application/json;charset=UTF-8"
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_SEGMENT_ID = re.compile(r"^[0-9a-f]{32}$")


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


@lru_cache(maxsize=1024)  # every request and Batch item asks, mostly for the same few paths
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
            value = state().store.normalise(f, value, g.actor, display=True) or value
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
    page = rows[offset : offset + limit]
    charge_reads(len(page))  # the records the query returns
    return page, len(rows), limit, offset


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


_ACL_VERB = {"POST": "Insert", "PUT": "Update", "PATCH": "Update", "DELETE": "Delete"}


def after_fault_reply(fault: Decision, reply: Any, method: str) -> Response:
    """Replace the answer of a request that took effect: an error, or its status with no body."""
    if fault.action == "empty":
        return Response(b"", status=reply.status_code, content_type=JSON_TYPE)
    return fault_reply(fault.status, method, fault.retry_after)


def fault_reply(status: int, method: str = "GET", retry_after: int | None = None) -> Response:
    """Render an injected failure as the instance answers it (bodies from its documented errors)."""
    if retry_after is not None and status in (429, 503):
        response = fault_reply(status, method)
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
