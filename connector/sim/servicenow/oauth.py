"""OAuth token endpoint: the password, refresh_token and client_credentials grants."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, request

from connector.sim.servicenow.web import json_response, state

bp = Blueprint("servicenow_oauth", __name__)


def _oauth_denied() -> Response:
    return json_response({"error_description": "access_denied", "error": "server_error"}, 401)


@bp.route("/oauth_token.do", methods=["POST"])
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
