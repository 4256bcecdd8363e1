"""Batch API: run several REST requests in one call, one item after another."""

from __future__ import annotations

import base64
import binascii
import http
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, request
from werkzeug.wrappers import Response as BaseResponse

from connector.sim.servicenow.web import (
    ApiError,
    after_fault_reply,
    fault_reply,
    json_response,
    path_label,
    read_body,
    state,
)

bp = Blueprint("servicenow_batch", __name__)


@bp.route("/api/now/v1/batch", methods=["POST"])
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
            refused = fault_reply(fault.status, method, fault.retry_after)
            serviced.append(_serviced(item_id, refused, item, 0))
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
        reply: BaseResponse = client.open(
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
            reply = after_fault_reply(fault, reply, method)
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
