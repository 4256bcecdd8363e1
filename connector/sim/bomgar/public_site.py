"""The public site: start_session from keys, reps and issues, and BRCS client scripts."""

from __future__ import annotations

import html
import time
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, request

from connector.sim.bomgar.models import SimError
from connector.sim.bomgar.web import custom_params, state

bp = Blueprint("bomgar_public_site", __name__)


@bp.route("/api/start_session", methods=["GET", "POST"])
@bp.route("/api/start_session.ns", methods=["GET", "POST"])
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


@bp.route("/api/client_script", methods=["GET", "POST"])
@bp.route("/api/client_script.ns", methods=["GET", "POST"])
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
