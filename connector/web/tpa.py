"""``/api/v1/3pa``: what the instance calls in real time (authenticated like ``/api/v1``).

- ``POST /api/v1/3pa/requests/<sys_id>``: queue an access request (new, approved, to remove)
  and wait up to ``tpa.api.wait_seconds`` for it to be applied
- ``POST /api/v1/3pa/profile-changes/<sys_id>``: the same for a profile change
- ``POST /api/v1/3pa/password``: set a user's password in the directory, in this call
- ``POST /api/v1/3pa/invitations``: invite an address to an application (record and e-mail)
- ``GET /api/v1/3pa/status``: the 3PA queue's counts

A password is handled only here, in memory, for the duration of the call: it is never queued,
stored, logged, echoed in an error or written to ServiceNow. That is why a password change is
the one 3PA operation that is not a durable job: if the directory is unreachable the caller is
told (503) and asks the user to try again, instead of the connector keeping the secret to
retry later.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from connector.errors import DataError, RemoteError
from connector.servicenow import query as q

# Nothing here imports python-ldap at module level: the app must start without the 3pa extra.
from connector.tpa import QUEUE, models, policy, profile_key, request_key
from connector.tpa.runtime import TpaServices, for_app
from connector.web import services
from connector.web.auth import api_credentials_ok
from connector.web.errors import ApiProblem, authentication_required, json_body, json_error

log = logging.getLogger(__name__)

bp = Blueprint("tpa", __name__, url_prefix="/api/v1/3pa")

_SYS_ID = re.compile(r"[0-9a-f]{32}")
_USER_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


@bp.before_request
def _authenticate() -> Response | None:
    """Accept the /api/v1 credentials; answer 404 while 3PA is disabled."""
    if not api_credentials_ok(request.headers.get("Authorization"), services().config):
        return authentication_required()
    if not services().config.tpa.enabled:
        return json_error(404, "3PA is not enabled on this connector (tpa.enabled)")
    return None


def tpa() -> TpaServices:
    """Return this app's 3PA services."""
    return for_app(current_app.extensions, services())


def _sys_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SYS_ID.fullmatch(value):
        shown = value[:100] if isinstance(value, str) else type(value).__name__
        raise ApiProblem(400, f"{what}: expected a 32-character sys_id", shown)
    return value


def _queue_and_wait(key: str) -> Response:
    t = tpa()
    t.store.queue_sessions([key], "api", force=True, queue=QUEUE)
    deadline = time.monotonic() + float(t.config.tpa.api.wait_seconds)
    state = t.store.job_state(key)
    while state not in ("done", "dead") and time.monotonic() < deadline:
        time.sleep(0.05)
        state = t.store.job_state(key)
    row = t.store.job(key)
    body = {"job": key, "state": state, "note": (row.last_error if row else None)}
    response = jsonify(body)
    response.status_code = 200 if state in ("done", "dead") else 202
    return response


@bp.post("/requests/<sys_id>")
def access_request(sys_id: str) -> Response:
    """Queue an access request and wait (a while) for it to be applied."""
    return _queue_and_wait(request_key(_sys_id(sys_id, "sys_id")))


@bp.post("/profile-changes/<sys_id>")
def profile_change(sys_id: str) -> Response:
    """Queue a profile change and wait (a while) for its before/after table."""
    return _queue_and_wait(profile_key(_sys_id(sys_id, "sys_id")))


@bp.post("/password")
def password() -> Response:
    """Set a user's directory password now; the password lives only in this call's memory."""
    data = json_body()
    user_name = data.get("user_name")
    if not isinstance(user_name, str) or not _USER_NAME.fullmatch(user_name):
        raise ApiProblem(400, "user_name: expected the directory user name")
    old = data.get("old_password")
    if old is not None and not isinstance(old, str):
        raise ApiProblem(400, "old_password: expected a string")
    t = tpa()
    from connector.tpa.directory import DirectoryRejected

    try:
        new = policy.check_password(data.get("new_password"), int(t.config.tpa.password.min_length))
    except policy.RequestProblem as exc:
        raise ApiProblem(422, str(exc)) from None
    m = t.mapping
    try:
        user = t.directory.find_user(m.identity_attribute, user_name, m.user_object_class)
        if user is None:
            raise ApiProblem(404, "no such directory user", user_name[:100])
        t.directory.set_password(user.dn, new, old)
    except DirectoryRejected as exc:
        t.metrics.inc("connector_3pa_password_failures_total")
        # The directory's reason (policy, wrong old password) never contains the password.
        raise ApiProblem(422, "the directory refused the new password", str(exc)) from None
    except RemoteError as exc:
        t.metrics.inc("connector_3pa_password_failures_total")
        log.warning("password change failed: %s", exc)
        raise ApiProblem(503, "the directory cannot be reached; try again", str(exc)) from None
    finally:
        del new, old
        data.clear()
    t.metrics.inc("connector_3pa_password_changes_total")
    log.info("password changed", extra={"ticket": user_name})
    return jsonify({"user_name": user_name, "changed": True})


@bp.post("/invitations")
def invitation() -> Response:
    """Invite an address to request an application: an invitation record and an e-mail."""
    data = json_body()
    application = _sys_id(data.get("application"), "application")
    given = data.get("email")
    email = given if isinstance(given, str) else ""  # anything else fails the checks below
    t = tpa()
    try:
        policy.email_domain(email)
        q.email(email)
    except DataError as exc:
        raise ApiProblem(400, f"email: {exc}") from None
    app = t.records.application(application)
    if app is None:
        raise ApiProblem(404, f"no application {application}")
    domain = policy.email_domain(email)
    if app.allowed_domains and not policy.domain_matches(domain, app.allowed_domains):
        raise ApiProblem(422, f"the e-mail domain {domain} is not allowed for {app.display_name}")
    fields: dict[str, Any] = {
        "u_application": application,
        "u_email": email,
        "u_state": "sent",
        "u_expires_at": models.sn_time(
            datetime.now(UTC) + timedelta(days=int(t.config.tpa.invitation_days))
        ),
    }
    for key in ("first_name", "last_name", "message"):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise ApiProblem(400, f"{key}: expected text")
        fields[f"u_{key}"] = policy.clean_value(key, value, 1000)
    if data.get("invited_by"):
        fields["u_invited_by"] = _sys_id(data.get("invited_by"), "invited_by")
    existing = t.records.open_invitation(application, email)  # the instance may call twice
    if existing is not None:
        return jsonify({"invitation": existing.get("sys_id"), "created": False})
    created = t.records.create_invitation(fields)
    link = f"{t.config.servicenow.instance_url}/sp?id=sc_cat_item&sys_id={app.catalog_item}"
    t.services.servicenow.send_email(
        to=[email],
        subject=f"Invitation: access to {app.display_name}",
        text=(
            f"You are invited to use {app.display_name}.\n\n"
            f"Request your access here (the invitation is valid for "
            f"{int(t.config.tpa.invitation_days)} days): {link}\n"
            + (f"\n{fields['u_message']}\n" if fields.get("u_message") else "")
        ),
        table_name="u_3pa_invitation",
        table_record_id=str(created.get("sys_id")),
    )
    response = jsonify({"invitation": created.get("sys_id"), "created": True})
    response.status_code = 201
    return response


@bp.get("/status")
def status() -> Response:
    """Return the 3PA queue's counts."""
    return jsonify({"jobs": tpa().store.counts(queue=QUEUE)})
