"""Batch API: run several REST requests in one call, one item after another."""

from __future__ import annotations

import base64
import binascii
import http
import re
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from io import BytesIO
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Response, current_app, g, request
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder
from werkzeug.urls import iri_to_uri

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

# What a test client adds to every environ (items used to run through one).
_CLIENT_ENVIRON = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": f"Werkzeug/{version('werkzeug')}"}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~-]*")  # iri_to_uri and unquote leave these unchanged


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
    base = base_environ(request.host_url)
    overrides = {"sn.batch": True, "sn.actor": g.actor}
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
        reply: Any = _run_item(item_environ(base, overrides, method, url, headers, data))
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


@dataclass
class ItemReply:
    """What a Batch item answered: status, headers and body as a client would have read them."""

    status_code: int
    headers: Headers
    data: bytes

    def get_data(self) -> bytes:
        """Return the body."""
        return self.data


def base_environ(host_url: str) -> dict[str, Any]:
    """Build the environ keys every item of one batch shares (host, scheme, WSGI constants)."""
    scheme, host, root, _, _ = urlsplit(iri_to_uri(host_url))
    name, sep, port = host.partition(":")
    try:
        port_number = int(port) if sep else None
    except ValueError:
        port_number = None
    return {
        **_CLIENT_ENVIRON,
        "SCRIPT_NAME": _wsgi(unquote(root.rstrip("/"))),
        "SERVER_NAME": name,
        "SERVER_PORT": str(port_number or (443 if scheme == "https" else 80)),
        "HTTP_HOST": host,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _wsgi(text: str) -> str:
    """Carry a str in a WSGI environ (UTF-8 bytes read as latin-1), as werkzeug does."""
    return text.encode().decode("latin1")


def item_environ(
    base: dict[str, Any],
    overrides: dict[str, Any],
    method: str,
    url: str,
    headers: dict[str, Any],
    data: bytes,
) -> dict[str, Any]:
    """Build an item's WSGI environ: what werkzeug's test client builds, without its machinery.

    Items used to run through ``app.test_client().open(...)``; building the same environ directly
    (and reading the answer straight from the WSGI call) leaves routing, hooks, ACLs and the cost
    meter exactly as they were and drops per-item URL, cookie-jar and response-wrapper work.
    An empty form body is rare and has its own encoding rules: it is left to werkzeug.
    """
    pairs = _header_pairs(headers)
    content_type = next((v for k, v in pairs if k.lower() == "content-type"), None)
    if not data and content_type and content_type.partition(";")[0].strip() in _FORM_TYPES:
        host = f"{base['wsgi.url_scheme']}://{base['HTTP_HOST']}{base['SCRIPT_NAME']}/"
        builder = EnvironBuilder(
            url,
            method=method,
            headers=pairs,
            base_url=host,
            environ_base=_CLIENT_ENVIRON,
            environ_overrides=overrides,
        )
        environ = builder.get_environ()
        environ.pop("HTTP_COOKIE", None)
        return environ
    parts = urlsplit(url)
    path = parts.path
    if not _PLAIN_PATH.fullmatch(path):
        path = _wsgi(unquote(iri_to_uri(path)))
    raw = _wsgi(url)
    environ = dict(base)
    environ.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": _wsgi(parts.query if "?" in url else ""),
            "REQUEST_URI": raw,
            "RAW_URI": raw,
            "wsgi.input": BytesIO(data),
        }
    )
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if data:
        environ["CONTENT_LENGTH"] = str(len(data))
    combined: dict[str, list[str]] = {}
    for key, value in pairs:
        if key.lower() not in ("content-type", "content-length"):
            combined.setdefault(f"HTTP_{key.upper().replace('-', '_')}", []).append(value)
    for key, values in combined.items():
        environ[key] = ", ".join(values)
    environ.pop("HTTP_COOKIE", None)  # the client's cookie jar was empty: it dropped the header
    environ.update(overrides)
    return environ


def _header_pairs(headers: dict[str, Any]) -> list[tuple[str, str]]:
    """Return an item's headers as (name, text) pairs, refusing newlines as werkzeug does."""
    for key, value in headers.items():
        if type(key) is not str or type(value) is not str or "\n" in value or "\r" in value:
            return Headers(headers).to_wsgi_list()  # stringifies, expands lists, raises
    return list(headers.items())


def _run_item(environ: dict[str, Any]) -> ItemReply:
    """Run one item through the whole app (middleware, routing, hooks) and read its answer."""
    answer: list[Any] = []

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        if exc_info:
            raise exc_info[1].with_traceback(exc_info[2])
        answer[:] = [status, response_headers]
        return answer.append  # a write() callable; Flask never uses it

    body_iter = current_app.wsgi_app(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    status, response_headers = answer[:2]
    return ItemReply(int(status.split(" ", 1)[0]), Headers(response_headers), body)
