"""OAuth token endpoint: bearer tokens for API accounts (client credentials)."""

from __future__ import annotations

import base64
import binascii
import math
import secrets

from flask import Blueprint, Response, jsonify, request

from connector.sim.bomgar.web import json_error, state

bp = Blueprint("bomgar_oauth", __name__)


@bp.route("/oauth2/token", methods=["POST"])
def oauth_token() -> Response:
    """Issue a bearer token for client credentials sent with Basic auth."""
    st = state()
    st.stats.count("POST /oauth2/token")
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return json_error(401, "invalid_client", "Client authentication is required.")
    try:
        client_id, _, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return json_error(400, "invalid_request", "Malformed Basic authorization header.")
    if request.mimetype == "application/json":
        if not st.options.json_token_request:
            return json_error(400, "invalid_request", "The request body must be form-encoded.")
        body = request.get_json(silent=True) or {}
        grant = body.get("grant_type") if isinstance(body, dict) else None
    else:
        grant = request.form.get("grant_type")
    account = st.accounts.get(client_id)
    if account is None or not secrets.compare_digest(account.secret, secret):
        return json_error(401, "invalid_client", "The client credentials are invalid.")
    if not account.enabled:
        return json_error(401, "access_denied", "The API account is disabled.")
    if not grant:
        return json_error(400, "invalid_request", "grant_type is required.")
    if grant != "client_credentials":
        return json_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}.")
    token = st.tokens.issue(client_id)
    response = jsonify(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": max(1, math.ceil(st.options.token_lifetime)),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response
