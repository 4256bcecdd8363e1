"""Command API: reps, teams, API info, session keys and session attributes."""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, request

from connector.sim.bomgar import render
from connector.sim.bomgar.accounts import Account
from connector.sim.bomgar.models import SimError, SimSession
from connector.sim.bomgar.state import SimState
from connector.sim.bomgar.web import (
    base_url,
    custom_params,
    rate_limit,
    reject_multipart,
    state,
    xml_account,
    xml_error,
    xml_reply,
)

bp = Blueprint("bomgar_command", __name__)


COMMAND_ROOTS = {
    "get_logged_in_reps": "logged_in_reps",
    "get_support_teams": "support_teams",
    "generate_session_key": "session_key",
    "get_api_info": "api_information",
    "get_session_attributes": "custom_attributes",
    "set_session_attributes": "success",
    "terminate_session": "success",
}
WRITE_COMMANDS = {"generate_session_key", "set_session_attributes", "terminate_session"}


@bp.route("/api/command", methods=["GET", "POST"])
@bp.route("/api/command.ns", methods=["GET", "POST"])
def command() -> Response:
    """Serve the Command API."""
    st = state()
    values = request.values
    action = values.get("action", "")
    root = COMMAND_ROOTS.get(action, "error")
    st.stats.count(f"api/command {action or '(none)'}")
    reject_multipart("command", root)
    account = xml_account("command", root)
    if st.options.rate_limit_xml:
        rate_limit(account)
    if action not in COMMAND_ROOTS:
        return xml_error("command", root, f"Invalid action: {action!r}.")
    if account.perm_command == "deny":
        return xml_error("command", root, "Document Not Found")
    if action in WRITE_COMMANDS and account.perm_command != "full":
        return xml_error(
            "command", root, "The API account does not have permission to perform this action."
        )
    ns = st.options.command_ns
    try:
        inner = COMMANDS[action](st, values, account)
    except SimError as exc:
        return xml_error("command", root, exc.message)
    return xml_reply(render.document(ns, root, inner))


def _cmd_logged_in_reps(st: SimState, values: Any, account: Account) -> str:
    parts = []
    now = int(time.time())
    with st.lock:
        counts: dict[int, int] = {}
        for s in st.sessions.values():
            if s.end_time is None:
                for m in s.present("representative"):
                    counts[m.rep_id or 0] = counts.get(m.rep_id or 0, 0) + 1
    for rep in st.reps.values():
        if not rep.get("logged_in"):
            continue
        link = (
            f'<a href="{base_url()}/api/start_session?id={rep["id"]}'
            f'&amp;name={quote(rep["public_display_name"])}">{html.escape(rep["public_display_name"])}</a>'
        )
        parts.append(
            f'\n <rep id="{rep["id"]}">'
            f"<display_name>{render.e(rep['public_display_name'])}</display_name>"
            f"<public_display_name>{render.e(rep['public_display_name'])}</public_display_name>"
            f"<private_display_name>{render.e(rep['private_display_name'])}</private_display_name>"
            f"<type>{render.e(rep.get('type', 'Normal'))}</type>"
            f"<direct_link>{render.e(link)}</direct_link>"
            f'<logged_in_since timestamp="{now - 3600}">{render.iso(now - 3600)}</logged_in_since>'
            f"<presentation_count>0</presentation_count>"
            f"<support_session_count>{counts.get(rep['id'], 0)}</support_session_count>"
            f"<showing_on_rep_list>1</showing_on_rep_list></rep>"
        )
    return "".join(parts) + "\n"


def _cmd_support_teams(st: SimState, values: Any, account: Account) -> str:
    show = values.get("showmembers") == "1"
    parts = []
    for team in st.teams.values():
        members = ""
        if show:
            members = (
                "<members>"
                + "".join(
                    f'<member id="{r["id"]}"><display_name>{render.e(r["public_display_name"])}'
                    f"</display_name><username>{render.e(r['username'])}</username></member>"
                    for r in st.reps.values()
                    if team["id"] in r.get("teams", [])
                )
                + "</members>"
            )
        parts.append(
            f'\n <support_team id="{team["id"]}"><name>{render.e(team["name"])}</name>'
            f"<code_name>{render.e(team.get('code_name', ''))}</code_name>{members}</support_team>"
        )
    return "".join(parts) + "\n"


def _cmd_generate_session_key(st: SimState, values: Any, account: Account) -> str:
    if values.get("type") != "support":
        raise SimError("Invalid type: support is the only supported value.")
    if not values.get("queue_id"):
        raise SimError("queue_id is required.")
    ttl_raw = values.get("ttl")
    try:
        ttl = int(ttl_raw) if ttl_raw not in (None, "") else None
    except ValueError as exc:
        raise SimError("ttl must be a number of seconds.") from exc
    key = st.generate_key(values["queue_id"], ttl, custom_params(values), account.client_id)
    host = values.get("url_hostname")
    url = f"https://{host}" if host else base_url()
    key_url = f"{url}/api/start_session?short_key={key.short_key}"
    mail = (
        f"To start the support session, open {key_url} or enter the key {key.short_key} at {url}."
    )
    expires = {
        "text": f"<expires>{key.expires}</expires>",
        "attribute": f'<expires timestamp="{key.expires}"></expires>',
        "both": f'<expires timestamp="{key.expires}">{key.expires}</expires>',
    }[st.options.expires_format]
    return (
        f"<short_key>{key.short_key}</short_key><key_url>{render.e(key_url)}</key_url>"
        "<mail_subject>Remote support invitation</mail_subject>"
        f"<mail_body>{render.e(mail)}"
        f"</mail_body>{expires}"
    )


def _cmd_api_info(st: SimState, values: Any, account: Account) -> str:
    perms = {
        "perm_backup": "0",
        "perm_command": account.perm_command,
        "perm_configuration": str(int(account.perm_configuration)),
        "perm_configuration_vault_account": "0",
        "perm_ecm": "0",
        "perm_real_time_state": "0",
        "perm_reporting_archive": "0",
        "perm_reporting_license": "0",
        "perm_reporting_presentation": "0",
        "perm_reporting_support": str(int(account.perm_reporting_support)),
    }
    perm_xml = "".join(f"<{k}>{v}</{k}>" for k, v in perms.items())
    return (
        f"<api_version>{render.e(st.seed['api_version'])}</api_version>"
        f"<company_name>{render.e(st.seed['company_name'])}</company_name>"
        f"<timestamp>{int(time.time())}</timestamp><permissions>{perm_xml}</permissions>"
    )


def _active(st: SimState, values: Any) -> SimSession:
    session = st.sessions.get(values.get("lsid", ""))
    if session is None or session.end_time is not None:
        raise SimError("Invalid lsid: the session is not active.")
    return session


def _cmd_get_attributes(st: SimState, values: Any, account: Account) -> str:
    session = _active(st, values)
    return "".join(
        f"<custom_attribute code_name={render.a(k)} display_name={render.a(st.display_name(k))}>"
        f"{render.e(v)}</custom_attribute>"
        for k, v in session.custom.items()
    )


def _cmd_set_attributes(st: SimState, values: Any, account: Account) -> str:
    session = _active(st, values)
    st.set_attributes(session.lsid, custom_params(values))
    return "Session attributes were set."


def _cmd_terminate(st: SimState, values: Any, account: Account) -> str:
    session = _active(st, values)
    st.end(session.lsid)
    return "Session terminated."


COMMANDS = {
    "get_logged_in_reps": _cmd_logged_in_reps,
    "get_support_teams": _cmd_support_teams,
    "generate_session_key": _cmd_generate_session_key,
    "get_api_info": _cmd_api_info,
    "get_session_attributes": _cmd_get_attributes,
    "set_session_attributes": _cmd_set_attributes,
    "terminate_session": _cmd_terminate,
}
