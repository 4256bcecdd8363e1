"""Configuration API: Jump Clients and their installers, with pagination and rate limits."""

from __future__ import annotations

import base64
import math
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, jsonify, request

from connector.sim.bomgar.models import iso_utc
from connector.sim.bomgar.state import SimState
from connector.sim.bomgar.web import bearer_token, json_error, rate_limit, state

bp = Blueprint("bomgar_config", __name__)


JUMP_FILTERS = (
    "name",
    "hostname",
    "fqdn",
    "tag",
    "jump_group_id",
    "jump_group_type",
    "console_user",
    "public_ip",
    "private_ip",
    "connection_type",
)
JUMP_WRITABLE = (
    "jump_group_id",
    "jump_group_type",
    "name",
    "tag",
    "comments",
    "jump_policy_id",
    "attended_session_policy_id",
    "unattended_session_policy_id",
    "public_site_address",
    "support_button_profile_code_name",
    "support_button_direct_queue",
    "customer_client_start_mode",
    "is_quiet",
    "max_offline_minutes",
    "expiration_timestamp",
)
INSTALLER_FIELDS = (
    "jump_group_id",
    "name",
    "jump_group_type",
    "jump_policy_id",
    "tag",
    "comments",
    "connection_type",
    "attended_session_policy_id",
    "unattended_session_policy_id",
    "support_button_profile_code_name",
    "support_button_direct_queue",
    "valid_duration",
    "elevate_install",
    "elevate_prompt",
    "customer_client_start_mode",
    "allow_override_jump_group",
    "allow_override_jump_policy",
    "allow_override_name",
    "allow_override_tag",
    "allow_override_comments",
    "allow_override_session_policy",
    "allow_override_max_offline_minutes",
    "jumpoint_proxy",
    "is_quiet",
    "max_offline_minutes",
)
PLATFORMS = (
    "linux-64",
    "raspberry-pi-32-headless",
    "mac-dmg",
    "mac-zip",
    "windows-64-msi",
    "windows-32-msi",
    "linux-64-headless",
    "windows-64",
    "windows-32",
)


def config_account(label: str) -> dict[str, str]:
    """Authenticate and rate-limit a Configuration API call; return the rate headers."""
    st = state()
    st.stats.count(label)
    token = bearer_token()
    account = st.accounts.get(st.tokens.lookup(token) or "") if token else None
    if account is None or not account.enabled:
        abort(json_error(401, "access_denied", "The access token is invalid or has expired."))
    headers = rate_limit(account)
    if not account.perm_configuration:
        abort(
            json_error(
                403, "access_denied", "The API account lacks Configuration API access.", **headers
            )
        )
    return headers


def _json(data: Any, status: int, headers: dict[str, str]) -> Response:
    response = jsonify(data)
    response.status_code = status
    response.headers.update(headers)
    return response


def _unprocessable(errors: dict[str, list[str]], headers: dict[str, str]) -> Response:
    return _json({"message": "The request is invalid.", "errors": errors}, 422, headers)


def _unknown_fields(given: Any, allowed: tuple[str, ...], headers: dict[str, str]) -> None:
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        # The vendor answers 401 (not 400) for unrecognised query or body fields.
        abort(
            json_error(
                401, "invalid_request", f"Unrecognised field(s): {', '.join(unknown)}", **headers
            )
        )


@bp.route("/api/config/v1/jump-client", methods=["GET"])
def jump_client_list() -> Response:
    """List Jump Clients with filters and pagination headers."""
    st = state()
    headers = config_account("api/config/v1/jump-client")
    args = request.args
    _unknown_fields(args, (*JUMP_FILTERS, "per_page", "current_page"), headers)
    errors: dict[str, list[str]] = {}
    try:
        per_page = int(args.get("per_page", 100))
        if not 1 <= per_page <= 100:
            errors["per_page"] = ["must be between 1 and 100"]
    except ValueError:
        errors["per_page"] = ["must be an integer"]
        per_page = 100
    try:
        page = int(args.get("current_page", 1))
        if page < 1:
            errors["current_page"] = ["must be at least 1"]
    except ValueError:
        errors["current_page"] = ["must be an integer"]
        page = 1
    if errors:
        return _unprocessable(errors, headers)
    with st.lock:
        items = sorted(st.jump_clients.values(), key=lambda j: j["id"])
    for name in JUMP_FILTERS:
        if name in args:
            want = args[name].lower()
            if name in ("name", "hostname", "fqdn", "tag", "console_user"):
                items = [j for j in items if want in str(j.get(name) or "").lower()]
            else:
                items = [j for j in items if str(j.get(name) or "").lower() == want]
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    base = request.base_url
    others = [(k, v) for k, v in args.items(multi=True) if k not in ("current_page", "per_page")]

    def link(n: int) -> str:
        return f"{base}?{urlencode([*others, ('per_page', per_page), ('current_page', n)])}"

    rels = [f'<{link(1)}>; rel="first"']
    if page > 1:
        rels.append(f'<{link(page - 1)}>; rel="previous"')
    if page < last:
        rels.append(f'<{link(page + 1)}>; rel="next"')
    rels.append(f'<{link(last)}>; rel="last"')
    headers.update(
        {
            "Link": ", ".join(rels),
            "X-BT-Pagination-Current-Page": str(page),
            "X-BT-Pagination-Per-Page": str(per_page),
            "X-BT-Pagination-Last-Page": str(last),
            "X-BT-Pagination-Total": str(total),
        }
    )
    return _json(chunk, 200, headers)


@bp.route("/api/config/v1/jump-client/<int:jc_id>", methods=["GET", "PATCH", "DELETE"])
def jump_client_item(jc_id: int) -> Response:
    """Read, change or delete one Jump Client."""
    st = state()
    headers = config_account("api/config/v1/jump-client/{id}")
    with st.lock:
        jc = st.jump_clients.get(jc_id)
        if jc is None:
            return _json({"message": "Not found"}, 404, headers)
        if request.method == "GET":
            return _json(jc, 200, headers)
        if request.method == "DELETE":
            del st.jump_clients[jc_id]
            return Response(status=204, headers=headers)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _unprocessable({"body": ["must be a JSON object"]}, headers)
        _unknown_fields(body, JUMP_WRITABLE, headers)
        errors = _validate_jump_fields(st, body)
        if errors:
            return _unprocessable(errors, headers)
        jc.update(body)
        return _json(jc, 200, headers)


def _validate_jump_fields(st: SimState, body: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "jump_group_id" in body and (
        not isinstance(body["jump_group_id"], int) or body["jump_group_id"] not in st.jump_groups
    ):
        errors["jump_group_id"] = ["must be the id of an existing Jump Group"]
    if "name" in body and (not isinstance(body["name"], str) or len(body["name"]) > 128):
        errors["name"] = ["must be a string of at most 128 characters"]
    if body.get("customer_client_start_mode", "normal") not in ("normal", "minimized", "hidden"):
        errors["customer_client_start_mode"] = ["must be normal, minimized or hidden"]
    if body.get("jump_group_type", "shared") not in ("shared", "personal"):
        errors["jump_group_type"] = ["must be shared or personal"]
    return errors


@bp.route("/api/config/v1/jump-client/<int:jc_id>/copy", methods=["POST"])
def jump_client_copy(jc_id: int) -> Response:
    """Copy a Jump Client, optionally changing fields."""
    st = state()
    headers = config_account("api/config/v1/jump-client/{id}/copy")
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        return _unprocessable({"body": ["must be a JSON object"]}, headers)
    _unknown_fields(body, JUMP_WRITABLE, headers)
    errors = _validate_jump_fields(st, body)
    if errors:
        return _unprocessable(errors, headers)
    source = st.jump_clients.get(jc_id)
    if source is None:
        return _json({"message": "Not found"}, 404, headers)
    copy = st.add_jump_client({**{k: v for k, v in source.items() if k != "id"}, **body})
    return _json(copy, 201, headers)


@bp.route("/api/config/v1/jump-client/installer", methods=["POST"])
def installer_create() -> Response:
    """Create a Jump Client installer; encodedInfo is shown only in this reply."""
    st = state()
    headers = config_account("api/config/v1/jump-client/installer")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _unprocessable({"body": ["must be a JSON object"]}, headers)
    _unknown_fields(body, INSTALLER_FIELDS, headers)
    errors = _validate_jump_fields(st, body)
    if "jump_group_id" not in body:
        errors["jump_group_id"] = ["is required"]
    duration = body.get("valid_duration", 1440)
    if not isinstance(duration, int) or not 10 <= duration <= 525600:
        errors["valid_duration"] = ["must be an integer between 10 and 525600"]
    if errors:
        return _unprocessable(errors, headers)
    installer_id = secrets.token_hex(16)
    expires = int(time.time()) + duration * 60
    encoded = base64.b64encode(secrets.token_bytes(48)).decode("ascii")
    with st.lock:
        st.installers[installer_id] = {"fields": body, "expires": expires}
    return _json(
        {
            "installer_id": installer_id,
            "expiration_timestamp": iso_utc(expires),
            "key_info": {
                "encodedInfo": encoded,
                "filename": f"bomgar-scc-{installer_id[:8]}.bin",
                "installerPath": f"/api/config/v1/jump-client/installer/{installer_id}",
            },
        },
        201,
        headers,
    )


@bp.route("/api/config/v1/jump-client/installer/<installer_id>/<platform>", methods=["GET"])
def installer_download(installer_id: str, platform: str) -> Response:
    """Download an installer binary for a platform."""
    st = state()
    headers = config_account("api/config/v1/jump-client/installer/{id}/{platform}")
    installer = st.installers.get(installer_id)
    if installer is None or installer["expires"] <= time.time():
        return _json({"message": "Not found"}, 404, headers)
    if platform not in PLATFORMS:
        return _json({"message": f"Unknown platform {platform!r}"}, 404, headers)
    payload = b"BOMGAR-SIM-INSTALLER\0" + installer_id.encode() + b"\0" + platform.encode()
    headers["Content-Disposition"] = (
        f'attachment; filename="bomgar-scc-{installer_id[:8]}-{platform}"'
    )
    return Response(payload, mimetype="application/octet-stream", headers=headers)
