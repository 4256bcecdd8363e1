"""``/api/v1``: what ServiceNow calls to start support (session keys, Jump)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from connector import signing
from connector.bomgar import BomgarRejected
from connector.bomgar.configuration import INSTALLER_PLATFORMS as KNOWN_PLATFORMS
from connector.bomgar.models import JumpClient
from connector.errors import RemoteError, error_body
from connector.servicenow import query as q
from connector.web import services
from connector.web.auth import api_credentials_ok
from connector.web.errors import ApiProblem, authentication_required, json_body

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_NAME = re.compile(r"[a-z][a-z0-9_]{0,79}")
_SYS_ID = re.compile(r"[0-9a-f]{32}")
_QUEUE = re.compile(
    r"(general|(rep|team|embassy):\d+|rep_username:[^\s]{1,100}|issue:[\w.-]{1,100})"
)
TICKET_FIELDS = ["sys_id", "number", "short_description", "caller_id", "cmdb_ci"]
USER_FIELDS = ["sys_id", "user_name", "name", "email"]
CI_FIELDS = ["sys_id", "name", "host_name", "ip_address"]
INSTALLER_PLATFORMS = ("windows-64-msi", "windows-32-msi", "mac-dmg", "linux-64")


@bp.before_request
def _authenticate() -> Response | None:
    """Accept a configured bearer token or the configured Basic credentials, nothing else."""
    if api_credentials_ok(request.headers.get("Authorization"), services().config):
        return None
    return authentication_required()


def _shown(value: Any) -> Any:
    """Echo a bad value back only when it is short text (never a whole hostile structure)."""
    return value[:100] if isinstance(value, str) else type(value).__name__


def _table(data: dict[str, Any], key: str = "table", default: str = "incident") -> str:
    value = data.get(key, default)
    tables = services().config.api.task_tables
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value not in tables:
        raise ApiProblem(
            400, f"{key}: expected one of the task tables {', '.join(tables)}", _shown(value)
        )
    return value


def _sys_id(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _SYS_ID.fullmatch(value):
        raise ApiProblem(400, f"{key}: expected a 32-character sys_id", _shown(value))
    return value


def _valid(check: Any, value: str) -> bool:
    try:
        check(value)
    except q.QueryValueError:
        return False
    return True


def _ticket(table: str, sys_id: str) -> dict[str, Any]:
    ticket = services().servicenow.get_record(table, sys_id, fields=TICKET_FIELDS)
    if ticket is None:
        raise ApiProblem(404, f"no {table} record with sys_id {sys_id}")
    return ticket


def _user(ident: str) -> dict[str, Any] | None:
    """Find a sys_user by sys_id or user_name (QueryValueError when it can be neither)."""
    sn = services().servicenow
    if _SYS_ID.fullmatch(ident):
        found = sn.get_record("sys_user", ident, fields=USER_FIELDS)
        if found is not None:
            return found
    query = q.equals("user_name", ident, q.user_name)
    rows = sn.query("sys_user", query, fields=USER_FIELDS, limit=1)
    return rows[0] if rows else None


def _caller(ticket: dict[str, Any]) -> dict[str, Any] | None:
    """Return the ticket's caller, or None when it names nobody we can look up."""
    try:
        return _user(ticket["caller_id"]) if ticket.get("caller_id") else None
    except q.QueryValueError:
        return None


def rep_queue_candidates(user: dict[str, Any], match: str) -> list[str]:
    """Return the personal-queue ids to try for a ServiceNow user, per bomgar.rep_match."""
    # Mirrors the importer: in email mode the appliance's rep username is the person's email.
    names: list[str] = []
    if match in ("username", "username_then_email") and user.get("user_name"):
        names.append(user["user_name"])
    if match in ("email", "username_then_email") and user.get("email"):
        names.append(user["email"])
    return [f"rep_username:{n}" for n in dict.fromkeys(names)]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.post("/session-keys")
def session_keys() -> Response:
    """Mint a session key for a ticket, optionally emailing it to the caller."""
    svc = services()
    data = json_body()
    table = _table(data)
    sys_id = _sys_id(data, "sys_id")
    email_caller = data.get("email_caller", False)
    if not isinstance(email_caller, bool):
        raise ApiProblem(400, "email_caller: expected true or false", _shown(email_caller))
    named_queue = data.get("queue")
    if named_queue is not None and (
        not isinstance(named_queue, str) or not _QUEUE.fullmatch(named_queue)
    ):
        raise ApiProblem(
            400, "queue: expected general, rep:ID, team:ID or issue:CODE", _shown(named_queue)
        )
    requested_by = data.get("requested_by")
    if requested_by is not None and (
        not isinstance(requested_by, str)
        or not (_SYS_ID.fullmatch(requested_by) or _valid(q.user_name, requested_by))
    ):
        raise ApiProblem(
            400, "requested_by: expected a sys_user sys_id or user name", _shown(requested_by)
        )

    ticket = _ticket(table, sys_id)
    caller = _caller(ticket)
    if email_caller and (caller is None or not caller.get("email")):
        who = caller.get("name") if caller else "the ticket"
        raise ApiProblem(
            422,
            f"cannot email the caller: {who} has no email address",
            {"ticket": ticket.get("number"), "caller": caller.get("sys_id") if caller else None},
        )
    requester = None
    candidates: list[str] = []
    if requested_by:
        requester = _user(requested_by)
        if requester is None:
            raise ApiProblem(422, f"requested_by: no ServiceNow user {requested_by!r}")
        candidates = rep_queue_candidates(requester, svc.config.bomgar.rep_match)
    fallback = named_queue or ("general" if not requested_by else None)

    custom = {"short_description": ticket.get("short_description") or ""}
    if caller and caller.get("name"):
        custom["caller"] = caller["name"]
    ttl = svc.config.support.session_key_ttl_seconds
    external_key = signing.issue_external_key(svc.key_secret, sys_id, "k")
    key = None
    queue = ""
    for candidate in candidates:
        try:
            key = svc.bomgar.generate_session_key(
                candidate, external_key=external_key, custom=custom, ttl=ttl
            )
        except BomgarRejected as exc:
            # The appliance refuses rep_username:<name> unless exactly one rep has that name.
            log.info("no rep for queue %s: %s", candidate, exc.message)
            continue
        queue = candidate
        break
    if key is None:
        if fallback is None:
            raise ApiProblem(
                422,
                f"{requester.get('user_name') if requester else requested_by} has no Bomgar "
                "representative; name a queue or map the user",
                {"tried": candidates, "rep_match": svc.config.bomgar.rep_match},
            )
        try:
            key = svc.bomgar.generate_session_key(
                fallback, external_key=external_key, custom=custom, ttl=ttl
            )
        except BomgarRejected as exc:
            raise ApiProblem(422, "the appliance refused the queue", exc.message) from exc
        except RemoteError as exc:
            raise ApiProblem(
                502, "the appliance could not generate a session key", str(exc)
            ) from exc
        queue = fallback

    context = {
        "short_key": key.short_key,
        "key_url": key.key_url,
        "expires_at": key.expires,
        "ticket": ticket,
        "caller_name": (caller or {}).get("name", ""),
        "rep_name": (requester or {}).get("name", ""),
        "company": "",
    }
    mappings = svc.mappings
    answer: dict[str, Any] = {
        "short_key": key.short_key,
        "key_url": key.key_url,
        "expires_at": _iso(key.expires),
        "queue": queue,
        "mail_subject": mappings.render_text("session_key_mail_subject", **context),
        "mail_body": mappings.render_text("session_key_mail_body", **context),
    }
    if email_caller and caller is not None:
        try:
            answer["email_id"] = svc.servicenow.send_email(
                to=[caller["email"]],
                subject=answer["mail_subject"],
                text=answer["mail_body"],
                table_name=table,
                table_record_id=sys_id,
            )
        except RemoteError as exc:
            # The key exists but the caller was not told; say so rather than pretend.
            body = error_body(502, "the session key was generated but the email failed", str(exc))
            body.update({k: answer[k] for k in ("short_key", "key_url", "expires_at", "queue")})
            response = jsonify(body)
            response.status_code = 502
            return response
        note = mappings.render_text("session_key_work_note", **context)
        try:
            svc.servicenow.update_record(table, sys_id, {"work_notes": note})
            answer["work_note"] = True
        except RemoteError as exc:
            log.warning("session key emailed but the work note failed: %s", exc)
            answer["work_note"] = False
            answer["warning"] = f"the email was sent but the work note failed: {exc}"
    return jsonify(answer)


# --------------------------------------------------------------------------- Jump


def _jump_client_json(jc: JumpClient) -> dict[str, Any]:
    return {
        "id": jc.id,
        "name": jc.name,
        "hostname": jc.hostname,
        "private_ip": jc.private_ip,
        "jump_group_id": jc.jump_group_id,
    }


def find_jump_client(ci: dict[str, Any]) -> tuple[JumpClient | None, str]:
    """Find the CI's Jump Client by name, then host name, then IP; return it and how it matched."""
    bomgar = services().bomgar
    for field, value in (
        ("name", ci.get("name")),
        ("hostname", ci.get("host_name")),
        ("private_ip", ci.get("ip_address")),
    ):
        if not value:
            continue
        for jc in bomgar.list_jump_clients(**{field: value}):
            # Filters match partially on the appliance; insist on the whole value.
            if str(getattr(jc, field)).lower() == str(value).lower() and not jc.is_lost:
                return jc, field
    return None, ""


@bp.post("/jump")
def jump() -> Response:
    """Answer the client_script URL that jumps to a CI (or a ticket's CI) from the rep console."""
    svc = services()
    data = json_body()
    ticket_id = None
    if "ci_sys_id" in data:
        ci_id = _sys_id(data, "ci_sys_id")
        if "sys_id" in data:
            ticket_id = _sys_id(data, "sys_id")
    else:
        table = _table(data)
        ticket_id = _sys_id(data, "sys_id")
        ticket = _ticket(table, ticket_id)
        ci_id = ticket.get("cmdb_ci") or ""
        if not ci_id:
            raise ApiProblem(422, f"{ticket.get('number') or ticket_id} has no configuration item")
    ci = svc.servicenow.get_record("cmdb_ci", ci_id, fields=[*CI_FIELDS, "sys_class_name"])
    if ci is None:
        raise ApiProblem(404, f"no configuration item with sys_id {ci_id}")
    ci_class = ci.get("sys_class_name") or "cmdb_ci"
    if ci_class != "cmdb_ci" and _NAME.fullmatch(ci_class):
        # Read through the parent, a CI shows only cmdb_ci's columns; host_name lives lower down.
        ci = svc.servicenow.get_record(ci_class, ci_id, fields=CI_FIELDS) or ci
    jc, matched_by = find_jump_client(ci)
    params: dict[str, Any] = {}
    answer: dict[str, Any] = {"ci": {k: ci.get(k, "") for k in CI_FIELDS}}
    if jc is not None:
        if matched_by == "private_ip":
            params["client.private_ip"] = jc.private_ip
        elif matched_by == "hostname":
            params["client.hostname"] = jc.hostname
        else:
            params["search_string"] = jc.name
        answer["jump_client"] = _jump_client_json(jc)
    else:
        # No Jump Client matched: let the console search its Jump Items for the CI itself.
        params["search_string"] = ci.get("host_name") or ci.get("name") or ci.get("ip_address")
        if not params["search_string"]:
            raise ApiProblem(422, "the configuration item has no name, host name or IP to jump to")
        answer["jump_client"] = None
        answer["warning"] = (
            f"no Jump Client matches {ci.get('name') or ci_id}; the console will search for "
            f"{params['search_string']!r}"
        )
    answer["matched_by"] = matched_by or "search_string"
    if ticket_id:
        params["session.custom.external_key"] = signing.issue_external_key(
            svc.key_secret, ticket_id, "j"
        )
    answer["url"] = svc.bomgar.client_script_url("start_jump_item_session", params)
    return jsonify(answer)


@bp.post("/jump-client-installers")
def jump_client_installers() -> Response:
    """Create a mass-deployment Jump Client installer and answer its download links."""
    svc = services()
    data = json_body()
    group = data.get("jump_group_id")
    if isinstance(group, bool) or not isinstance(group, int):
        raise ApiProblem(400, "jump_group_id: expected an integer", _shown(group))
    options: dict[str, Any] = {}
    for key, kind in (("name", str), ("tag", str), ("comments", str), ("valid_duration", int)):
        if key in data:
            if not isinstance(data[key], kind) or isinstance(data[key], bool):
                raise ApiProblem(400, f"{key}: expected {kind.__name__}", _shown(data[key]))
            options[key] = data[key]
    platforms = data.get("platforms", list(INSTALLER_PLATFORMS))
    if not isinstance(platforms, list) or not all(isinstance(p, str) for p in platforms):
        raise ApiProblem(400, "platforms: expected a list of platform names")
    unknown = sorted(set(platforms) - set(KNOWN_PLATFORMS))
    if unknown:
        # Checked before the installer is minted, so a typo creates nothing.
        raise ApiProblem(
            400,
            f"platforms: {unknown[0][:40]!r} is not one of {', '.join(sorted(KNOWN_PLATFORMS))}",
        )
    installer = svc.bomgar.create_jump_client_installer(group, **options)
    links = {p: svc.bomgar.installer_download_url(installer.installer_id, p) for p in platforms}
    return jsonify(
        {
            "installer_id": installer.installer_id,
            "expiration_timestamp": installer.expiration_timestamp,
            "filename": installer.filename,
            "downloads": links,
        }
    )
