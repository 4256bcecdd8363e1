"""What every route of the emulated appliance shares: state, answers, authentication, limits."""

from __future__ import annotations

import math
import secrets
from typing import Any

from flask import Response, abort, current_app, jsonify, request

from connector.sim.bomgar import render
from connector.sim.bomgar.accounts import Account
from connector.sim.bomgar.state import SimState

XML_TYPE = "text/xml; charset=utf-8"


def state() -> SimState:
    """Return the emulator state of the current app."""
    return current_app.extensions["bomgar_sim"]


def base_url() -> str:
    """Return the public-site base URL used in links."""
    return state().options.public_url or request.host_url.rstrip("/")


def xml_reply(text: str, status: int = 200) -> Response:
    """Answer an XML document."""
    return Response(text, status=status, content_type=XML_TYPE)


def xml_error(api: str, root: str, message: str) -> Response:
    """Answer an XML <error> with the configured placement and HTTP status."""
    opts = state().options
    ns = opts.command_ns if api == "command" else opts.reporting_ns
    return xml_reply(
        render.error_document(ns, root, message, opts.error_placement), opts.error_status
    )


def json_error(status: int, error: str, message: str, **headers: str) -> Response:
    """Answer the JSON error body of the token endpoint and the Configuration API."""
    response = jsonify({"error": error, "message": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def bearer_token() -> str | None:
    """Return the bearer token the request carries, or None."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def xml_account(api: str, root: str) -> Account:
    """Authenticate an XML API call (bearer token, or legacy username/password) or abort."""
    st = state()
    values = request.values
    token = bearer_token()
    if token is not None:
        client_id = st.tokens.lookup(token)
        account = st.accounts.get(client_id or "")
        if account is None or not account.enabled:
            if st.options.bad_token_reply == "xml":
                abort(xml_error(api, root, "Login failed"))
            abort(json_error(401, "access_denied", "The access token is invalid or has expired."))
        return account
    if st.options.legacy_auth and ("username" in values or "password" in values):
        user = st.legacy_users.get(values.get("username", ""))
        if user is None or not secrets.compare_digest(user.secret, values.get("password", "")):
            abort(xml_error(api, root, "Login failed"))
        return user
    if st.options.bad_token_reply == "xml" or st.options.legacy_auth:
        abort(xml_error(api, root, "Login failed"))
    abort(json_error(401, "access_denied", "An access token is required."))


def reject_multipart(api: str, root: str) -> None:
    """Refuse a multipart body as the XML APIs do."""
    if request.mimetype == "multipart/form-data":
        abort(xml_error(api, root, "Multipart requests are not supported."))


def rate_limit(account: Account) -> dict[str, str]:
    """Count a request against the account's limits; return the rate headers or abort with 429."""
    st = state()
    allowed, remaining, wait = st.limiter.hit(account.client_id)
    headers = {
        "X-RateLimit-Limit": str(st.limiter.per_second),
        "X-RateLimit-Remaining": str(remaining),
    }
    if not allowed:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        abort(json_error(429, "rate_limited", "Too many requests.", **headers))
    return headers


def custom_params(values: Any) -> dict[str, str]:
    """Collect session.custom.* and the legacy external_key spelling."""
    custom: dict[str, str] = {}
    if "external_key" in values:
        custom["external_key"] = values.get("external_key", "")
    for name in values:
        if name.startswith("session.custom."):
            custom[name[len("session.custom.") :]] = values.get(name, "")
    return custom
