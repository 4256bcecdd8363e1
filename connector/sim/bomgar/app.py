"""Appliance-facing routes: OAuth, Command, Reporting, public site, client scripts, Config API."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import html
import math
import random
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request

from connector.sim.bomgar import render
from connector.sim.bomgar.state import Account, SimError, SimSession, SimState, iso_utc
from connector.sim.faults import Decision, drop_connection

appliance = Blueprint("bomgar_appliance", __name__)

XML_TYPE = "text/xml; charset=utf-8"


def state() -> SimState:
    """Return the emulator state of the current app."""
    return current_app.extensions["bomgar_sim"]


def base_url() -> str:
    """Return the public-site base URL used in links."""
    return state().options.public_url or request.host_url.rstrip("/")


# --------------------------------------------------------------------------- hooks


def install_hooks(app: Flask) -> None:
    """Apply faults before appliance requests and malformed-XML faults after them."""
    rng = random.Random()

    @app.before_request
    def _faults() -> Response | None:
        if request.path.startswith("/_sim/"):
            return None
        st = state()
        decision = st.faults.decide()
        if decision.after:
            g.after_fault = decision  # applied to the answer once the request has taken effect
            return None
        if decision.action != "pass":
            st.stats.fault(decision.action, "before")
        return _fault_answer(decision)

    @app.after_request
    def _malformed(response: Response) -> Response:
        st = state()
        fault = g.pop("after_fault", None)
        if fault is not None:
            st.stats.fault(fault.action, "after")
            if fault.action == "timeout":
                time.sleep(fault.hold_seconds)
            else:
                return _fault_answer(fault) or response
        if (
            st.malformed_rate > 0
            and not request.path.startswith("/_sim/")
            and response.mimetype == "text/xml"
            and rng.random() < st.malformed_rate
        ):
            body = response.get_data()
            # Cut mid-document: an unclosed root, as a truncated or corrupted reply would be.
            st.stats.fault("malformed", "after")
            response.set_data(body[: max(1, len(body) // 2)] + b"<")
        return response


def _fault_answer(decision: Decision) -> Response | None:
    """Render an injected drop or error as the appliance's web server would (an HTML page)."""
    if decision.action == "drop":
        drop_connection(request)
        return Response("", status=500)
    if decision.action == "error":
        return Response(
            f"<html><body><h1>{decision.status} Error</h1></body></html>",
            status=decision.status,
            mimetype="text/html",
        )
    return None


# --------------------------------------------------------------------------- XML helpers


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


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def xml_account(api: str, root: str) -> Account:
    """Authenticate an XML API call (bearer token, or legacy username/password) or abort."""
    st = state()
    values = request.values
    token = _bearer()
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


def _reject_multipart(api: str, root: str) -> None:
    if request.mimetype == "multipart/form-data":
        abort(xml_error(api, root, "Multipart requests are not supported."))


def _rate_limit(account: Account) -> dict[str, str]:
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


# --------------------------------------------------------------------------- OAuth


@appliance.route("/oauth2/token", methods=["POST"])
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


# --------------------------------------------------------------------------- Command API

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


@appliance.route("/api/command", methods=["GET", "POST"])
@appliance.route("/api/command.ns", methods=["GET", "POST"])
def command() -> Response:
    """Serve the Command API."""
    st = state()
    values = request.values
    action = values.get("action", "")
    root = COMMAND_ROOTS.get(action, "error")
    st.stats.count(f"api/command {action or '(none)'}")
    _reject_multipart("command", root)
    account = xml_account("command", root)
    if st.options.rate_limit_xml:
        _rate_limit(account)
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


# --------------------------------------------------------------------------- Reporting API

REPORT_ROOTS = {
    "SupportSession": "session_list",
    "SupportSessionListing": "session_summary_list",
    "SupportCustExitSurvey": "exit_survey_list",
    "SupportRepExitSurvey": "exit_survey_list",
}
_WINDOW = ("start_date", "start_time", "end_date", "end_time")


def select_sessions(st: SimState, values: Any, *, allow_lsid: bool = True) -> list[SimSession]:
    """Apply exactly one selector: a time window (with duration) or lsid / lsids."""
    given = [k for k in (*_WINDOW, "lsid", "lsids") if values.get(k, "") != ""]
    if len(given) != 1 or (not allow_lsid and given[0] in ("lsid", "lsids")):
        raise SimError(
            "Give exactly one of start_date, start_time, end_date, end_time"
            + (", lsid, lsids." if allow_lsid else ".")
        )
    sel = given[0]
    if sel in ("lsid", "lsids"):
        wanted = [x.strip() for x in values[sel].split(",") if x.strip()]
        if sel == "lsid" and len(wanted) != 1:
            raise SimError("Invalid lsid.")
        with st.lock:
            found = [st.sessions[x] for x in dict.fromkeys(wanted) if x in st.sessions]
        if sel == "lsid" and not found:
            raise SimError("Invalid lsid.")
        return sorted(found, key=lambda s: s.lseq)
    try:
        duration = int(values.get("duration", "0") or 0)
    except ValueError as exc:
        raise SimError("duration must be an integer.") from exc
    if duration < 0:
        raise SimError("duration must not be negative.")
    raw = values[sel]
    if sel.endswith("_date"):
        try:
            day = dt.datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise SimError(f"{sel} must be YYYY-MM-DD.") from exc
        low = int(day.timestamp())
        high = low + duration * 86400 if duration else None  # days for the date forms
    else:
        try:
            low = int(raw)
        except ValueError as exc:
            raise SimError(f"{sel} must be epoch seconds.") from exc
        high = low + duration if duration else None  # seconds for the time forms
    by_end = sel.startswith("end")
    with st.lock:
        out = []
        for s in st.sessions.values():
            if by_end:
                t = s.end_time
                if t is None:
                    continue  # end-based selectors return closed sessions only
            else:
                t = s.start_time
            if t >= low and (high is None or t < high):
                out.append(s)
    out.sort(key=lambda s: s.lseq)
    return out


@appliance.route("/api/reporting", methods=["GET", "POST"])
@appliance.route("/api/reporting.ns", methods=["GET", "POST"])
def reporting() -> Response:
    """Serve the Reporting API."""
    st = state()
    values = request.values
    report = values.get("generate_report", "")
    root = REPORT_ROOTS.get(report, "error")
    st.stats.count(f"api/reporting {report or '(none)'}")
    _reject_multipart("reporting", root)
    account = xml_account("reporting", root)
    if st.options.rate_limit_xml:
        _rate_limit(account)
    if report in ("ArchiveListing", "Archive"):
        return xml_error("reporting", "error", "No archives found for the given search criteria.")
    if report not in REPORT_ROOTS:
        return xml_error("reporting", root, f"Invalid report type: {report!r}.")
    if not account.perm_reporting_support:
        return xml_error("reporting", root, "Document Not Found")
    now = int(time.time())
    try:
        if report == "SupportSession":
            sessions = select_sessions(st, values)
            with st.lock:
                text = render.session_list(st, sessions, base_url(), now)
            return xml_reply(text)
        if report == "SupportSessionListing":
            sessions = select_sessions(st, values, allow_lsid=False)
            return xml_reply(render.session_listing(st, sessions))
        return xml_reply(_surveys(st, values, report))
    except SimError as exc:
        return xml_error("reporting", root, exc.message)


def _surveys(st: SimState, values: Any, report: str) -> str:
    report_type = values.get("report_type", "rep")
    if report_type not in ("rep", "team"):
        raise SimError("report_type must be rep or team.")
    wanted = values.get("id", "all") or "all"
    kind = "customer" if report == "SupportCustExitSurvey" else "rep"
    sessions = select_sessions(st, values)
    items = []
    with st.lock:
        for s in sessions:
            if wanted != "all":
                reps = [m for m in s.members if m.kind == "representative"]
                if report_type == "rep" and not any(str(m.rep_id) == wanted for m in reps):
                    continue
                if report_type == "team" and not any(
                    int(wanted) in st.reps[m.rep_id].get("teams", [])
                    for m in reps
                    if m.rep_id in st.reps and wanted.isdigit()
                ):
                    continue
            for survey in s.cust_surveys if kind == "customer" else s.rep_surveys:
                items.append((s, survey, kind))
        return render.exit_surveys(st, items)


# --------------------------------------------------------------------------- public site


@appliance.route("/api/start_session", methods=["GET", "POST"])
@appliance.route("/api/start_session.ns", methods=["GET", "POST"])
def start_session() -> Response:
    """Start a session from the public site (session key, rep, issue or general queue)."""
    st = state()
    st.stats.count("api/start_session")
    v = request.values

    def first(*names: str, limit: int) -> str:
        for name in names:
            if v.get(name):
                # The appliance caps these fields (name/company/code 100, details 1024).
                return v[name][:limit]
        return ""

    customer = {
        "name": first("customer.name", "customer_name", limit=100),
        "company": first("customer.company", "customer_company", limit=100),
        "company_code": first("customer.company_code", "customer_company_code", limit=100),
        "details": first("customer.details", "customer_desc", limit=1024),
    }
    method = "click_to_chat" if v.get("c2cjs") == "1" else "general"
    try:
        custom = custom_params(v)
        if v.get("short_key"):
            key = st.use_key(v["short_key"])
            queue = key.queue
            custom = {**key.custom, **custom}
            method = "session_key"
        elif v.get("issue_menu") == "1" and (v.get("codeName") or v.get("id")):
            if v.get("codeName"):
                queue = st.resolve_queue(f"issue:{v['codeName']}")
            else:
                match = next((i for i in st.issues.values() if str(i["id"]) == v["id"]), None)
                queue = (
                    f"issue:{match['code_name']}" if match else st.resolve_queue(f"rep:{v['id']}")
                )
            customer["issue"] = (
                st.issues[queue.partition(":")[2]]["description"]
                if queue.startswith("issue:")
                else ""
            )
            method = method if method == "click_to_chat" else "issue"
        elif v.get("id"):
            queue = st.resolve_queue(f"rep:{v['id']}")
            method = method if method == "click_to_chat" else "rep"
        else:
            queue = "general"
        custom = st.check_custom(custom)
        session = st.start_session(queue=queue, customer=customer, custom=custom, method=method)
    except SimError as exc:
        page = f"<!doctype html><title>Support</title><p>{html.escape(exc.message)}</p>"
        return Response(page, status=exc.status if exc.status >= 400 else 400, mimetype="text/html")
    st.start_requests.append({"params": dict(v.items()), "lsid": session.lsid})
    title = "Chat with support" if method == "click_to_chat" else "Download the support client"
    page = (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>Your session is waiting in the "
        f"{html.escape(st.queue_name(queue))} queue.</p></body></html>"
    )
    response = Response(page, mimetype="text/html")
    # Test hook: no real appliance sends this header.
    response.headers["X-Sim-Lsid"] = session.lsid
    return response


# --------------------------------------------------------------------------- client scripts

CLIENT_SCRIPT_ACTIONS = {
    "login",
    "generate_session_key",
    "push_and_start_local",
    "push_and_start_remote",
    "start_jump_item_session",
    "start_rdp_session",
    "start_vnc_session",
    "start_shell_jump_session",
    "start_vpro_session",
    "start_pinned_client_session",
}


@appliance.route("/api/client_script", methods=["GET", "POST"])
@appliance.route("/api/client_script.ns", methods=["GET", "POST"])
def client_script() -> Response:
    """Return a BRCS script echoing the requested console command."""
    st = state()
    v = request.values
    action = v.get("action", "")
    st.stats.count(f"api/client_script {action or '(none)'}")
    problems = []
    if v.get("type") != "rep":
        problems.append("type must be rep")
    if v.get("operation") != "generate":
        problems.append("operation must be generate")
    if action not in CLIENT_SCRIPT_ACTIONS:
        problems.append(f"unknown action {action!r}")
    if action == "push_and_start_local" and not v.get("hostname"):
        problems.append("push_and_start_local needs hostname")
    if action == "start_shell_jump_session" and not v.get("target"):
        problems.append("start_shell_jump_session needs target")
    if (
        action == "start_jump_item_session"
        and not v.get("search_string")
        and not any(k.startswith("client.") for k in v)
    ):
        problems.append("start_jump_item_session needs search_string or a client.* filter")
    for k in v:
        if k.startswith("client.") and len(v[k]) > 255:
            problems.append(f"{k} exceeds 255 characters")
    if problems:
        return Response("; ".join(problems) + "\n", status=400, mimetype="text/plain")
    params = [
        (k, val) for k, val in v.items(multi=True) if k not in ("type", "operation", "action")
    ]
    line = urlencode([("action", action), *params], quote_via=quote, safe="")
    site = st.seed["public_site"].get("hostname", "support").split(".")[0]
    response = Response(f"BRCS1.0\n{line}\n", mimetype="text/plain")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="bomgar-{int(time.time())}.brcs-{site}"'
    )
    return response


# --------------------------------------------------------------------------- Configuration API

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
    token = _bearer()
    account = st.accounts.get(st.tokens.lookup(token) or "") if token else None
    if account is None or not account.enabled:
        abort(json_error(401, "access_denied", "The access token is invalid or has expired."))
    headers = _rate_limit(account)
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


@appliance.route("/api/config/v1/jump-client", methods=["GET"])
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


@appliance.route("/api/config/v1/jump-client/<int:jc_id>", methods=["GET", "PATCH", "DELETE"])
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


@appliance.route("/api/config/v1/jump-client/<int:jc_id>/copy", methods=["POST"])
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


@appliance.route("/api/config/v1/jump-client/installer", methods=["POST"])
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


@appliance.route("/api/config/v1/jump-client/installer/<installer_id>/<platform>", methods=["GET"])
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
