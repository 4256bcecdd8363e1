"""Table API: list, read, insert, update and delete records of any table."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from connector.sim.servicenow.cost import charge_reads
from connector.sim.servicenow.render import resolve_fields
from connector.sim.servicenow.web import (
    ApiError,
    base_url,
    field_list,
    flag,
    json_response,
    list_headers,
    list_rows,
    load_table,
    param,
    record_body,
    renderer,
    state,
    store_call,
    write_reply,
)

bp = Blueprint("servicenow_table", __name__)


def _table_routes(rule: str, **kw: Any) -> Any:
    def deco(fn: Any) -> Any:
        bp.add_url_rule(f"/api/now/table{rule}", view_func=fn, defaults={"version": None}, **kw)
        bp.add_url_rule(f"/api/now/<any(v1,v2):version>/table{rule}", view_func=fn, **kw)
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
    charge_reads(1)  # the lookup costs a read, found or not
    if row is None:
        raise ApiError(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    paths = resolve_fields(st.schema, table, field_list(), param("sysparm_view"))
    with st.store.lock:
        body = renderer().row(table, row, paths)
    return json_response({"result": body})
