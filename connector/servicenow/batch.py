"""Encode Batch API items and decode the instance's answers to them (bodies are base64)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from connector.errors import DataError, ProtocolError, StatusError
from connector.servicenow.answers import SERVICE, error_fields
from connector.servicenow.models import BatchRequest, BatchResponse

log = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
# PySNC resends unserviced batch items up to 3 times; so do we.
BATCH_RESENDS = 3


def encode_item(item: BatchRequest) -> dict[str, Any]:
    if not item.url.startswith("/api/"):
        raise DataError(f"batch item {item.id}: url must be relative to the instance (/api/...)")
    headers = CaseInsensitiveDict(JSON_HEADERS)
    headers.update(item.headers)
    encoded: dict[str, Any] = {
        "id": str(item.id),
        "method": item.method.upper(),
        "url": item.url,
        "headers": [{"name": name, "value": value} for name, value in headers.items()],
        "exclude_response_headers": False,
    }
    if item.body is not None:
        raw = item.body if isinstance(item.body, bytes) else json.dumps(item.body).encode("utf-8")
        encoded["body"] = base64.b64encode(raw).decode("ascii")
    return encoded


def decode_item(item: Any) -> BatchResponse:
    if not isinstance(item, dict) or "id" not in item:
        raise ProtocolError("Batch API answer has an item without id", service=SERVICE)
    try:
        status = int(item["status_code"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"batch item {item['id']} has no status_code", service=SERVICE) from exc
    headers = _header_dict(item.get("headers"))
    raw_body = item.get("body") or ""
    try:
        raw = base64.b64decode(raw_body) if isinstance(raw_body, str) else b""
    except (binascii.Error, ValueError):
        # Not base64 after all; keep what came so the caller can look at it.
        raw = raw_body.encode("utf-8")
    body: Any = raw
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
    status_text = str(item.get("status_text") or "")
    response = BatchResponse(
        id=str(item["id"]),
        status_code=status,
        body=body,
        headers=headers,
        status_text=status_text,
    )
    if status >= 400:
        response.error = _item_error(status, status_text, headers, body, item.get("error_message"))
    return response


def _header_dict(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    headers: dict[str, str] = {}
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        for entry in value:
            if isinstance(entry, dict) and "name" in entry:
                headers[str(entry["name"])] = str(entry.get("value", ""))
    return headers


def _item_error(
    status: int, status_text: str, headers: dict[str, str], body: Any, error_message: Any
) -> StatusError:
    # from_response picks the subclass and reads Retry-After from a requests.Response.
    stand_in = requests.Response()
    stand_in.status_code = status
    stand_in.reason = status_text
    stand_in.headers = CaseInsensitiveDict(headers)
    message, detail = error_fields(body)
    if not message and error_message:
        message = str(error_message)
    return StatusError.from_response(stand_in, service=SERVICE, message=message, detail=detail)


def read_answer(response: requests.Response, batch_id: str) -> list[BatchResponse]:
    """Read a Batch API answer into one BatchResponse per serviced item."""
    data = response.json()
    if not isinstance(data, dict) or not isinstance(data.get("serviced_requests", []), list):
        raise ProtocolError("Batch API answer has no serviced_requests list", service=SERVICE)
    if str(data.get("batch_request_id", batch_id)) != batch_id:
        log.warning("ServiceNow batch answer names another batch_request_id; using it anyway")
    return [decode_item(item) for item in data.get("serviced_requests") or []]
