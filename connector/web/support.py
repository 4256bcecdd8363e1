"""``/support/<table>/<sys_id>``: the Get Support Now page shown inside a ServiceNow frame.

Access is by a signed, expiring link (see connector.signing) that names the caller; the page
only opens tickets whose caller is that user. The choice is posted back here and re-checked,
then the browser is sent to the appliance's public-site click-to-chat start.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request

from connector import signing
from connector.bomgar.models import LoggedInRep
from connector.errors import ConnectorError, RemoteError
from connector.servicenow import query as q
from connector.web import services

log = logging.getLogger(__name__)

bp = Blueprint(
    "support",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/support/static",
)

_NAME = re.compile(r"[a-z][a-z0-9_]{0,79}")
_SYS_ID = re.compile(r"[0-9a-f]{32}")
TICKET_FIELDS = ["sys_id", "number", "short_description", "caller_id"]


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    # Meant to sit in a ServiceNow frame; any other framing site is not ours to allow here,
    # so admins set frame-ancestors at the proxy (documented) rather than us guessing.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _refuse(status: int, title: str, message: str) -> Response:
    return _page("support_error.html", status, title=title, message=message)


@bp.errorhandler(ConnectorError)
def _unavailable(exc: ConnectorError) -> Response:
    """Show the caller the error page; ServiceNow's or the appliance's words stay in the log."""
    log.warning("support page failed: %s: %s", type(exc).__name__, exc)
    if isinstance(exc, RemoteError):
        return _refuse(
            503,
            "Support is not available right now",
            "Please try again in a few minutes, or call the service desk.",
        )
    return _refuse(400, "This request cannot be used", "Open the ticket in ServiceNow again.")


def _check(
    table: str, sys_id: str, values: Any
) -> tuple[signing.SignedLink, dict, dict] | Response:
    """Verify the link and that its user is the ticket's caller; return link, ticket, caller."""
    svc = services()
    if (
        not _NAME.fullmatch(table)
        or table not in svc.config.api.task_tables
        or not _SYS_ID.fullmatch(sys_id)
    ):
        return _refuse(404, "Not found", "This support link does not name a ticket.")
    try:
        link = signing.verify(
            svc.config.support.signing_secret,
            table,
            sys_id,
            values.get("user"),
            values.get("expires"),
            values.get("sig"),
            max_ttl=svc.config.support.link_ttl_seconds,
        )
    except signing.SignatureError as exc:
        log.info("support link refused for %s/%s: %s", table, sys_id, exc)
        if exc.expired:
            return _refuse(
                410,
                "This link has expired",
                "Open the ticket in ServiceNow and click Get Support Now again.",
            )
        return _refuse(
            403,
            "This link is not valid",
            "Open the ticket in ServiceNow and click Get Support Now.",
        )
    sn = svc.servicenow
    ticket = sn.get_record(table, sys_id, fields=TICKET_FIELDS)
    if ticket is None:
        return _refuse(404, "Not found", "The ticket does not exist.")
    if ticket.get("caller_id") != link.user:
        log.warning(
            "support link for user %s refused on %s/%s: not the caller", link.user, table, sys_id
        )
        return _refuse(403, "Not your ticket", "You can only request support for your own tickets.")
    caller = sn.get_record("sys_user", link.user, fields=["sys_id", "name", "user_name"]) or {}
    return link, ticket, caller


def last_rep(table: str, caller_id: str) -> tuple[dict[str, Any] | None, LoggedInRep | None]:
    """Return the caller's most recent session record and its rep, when that rep is logged in."""
    svc = services()
    # caller_id lives on incident, not task, so u_task.caller_id would be an invalid term (which
    # an instance drops, matching everyone's sessions); look the caller's tickets up first.
    tickets = svc.servicenow.query(
        table,
        q.equals("caller_id", caller_id, q.sys_id),
        fields=["sys_id"],
        order_by="-sys_updated_on",
        limit=200,
    )
    ids = [t["sys_id"] for t in tickets if _SYS_ID.fullmatch(t.get("sys_id") or "")]
    if not ids:
        return None, None
    rows = svc.servicenow.query(
        "u_bomgar_session",
        q.all_of(q.one_of("u_task", ids, q.sys_id), q.is_not_empty("u_rep_name")),
        fields=["sys_id", "u_lsid", "u_rep_name", "u_primary_rep", "u_end_time"],
        order_by="-u_end_time",
        limit=1,
    )
    if not rows:
        return None, None
    name = rows[0].get("u_rep_name", "").strip().lower()
    try:
        reps = svc.bomgar.get_logged_in_reps()
    except RemoteError as exc:
        log.warning("cannot list logged-in reps: %s", exc)
        return rows[0], None
    for rep in reps:
        names = {rep.display_name, rep.public_display_name, rep.private_display_name}
        if name and name in {n.strip().lower() for n in names if n}:
            return rows[0], rep
    return rows[0], None


@bp.get("/support/<table>/<sys_id>")
def page(table: str, sys_id: str) -> Response:
    """Show the caller's choice: the rep who helped last (when logged in) or the next one."""
    checked = _check(table, sys_id, request.args)
    if isinstance(checked, Response):
        return checked
    link, ticket, caller = checked
    _, rep = last_rep(table, link.user)
    rep_name = (rep.public_display_name or rep.display_name) if rep else ""
    return _page(
        "support.html",
        ticket=ticket,
        caller=caller,
        rep_name=rep_name,
        link=link,
        action=f"/support/{table}/{sys_id}/start",
        title=services().mappings.render_text("support_page_title", company="", ticket=ticket),
    )


@bp.post("/support/<table>/<sys_id>/start")
def start(table: str, sys_id: str) -> Response:
    """Start a click-to-chat session for the caller's ticket and send the browser to it."""
    checked = _check(table, sys_id, request.form)
    if isinstance(checked, Response):
        return checked
    link, ticket, caller = checked
    choice = request.form.get("choice", "next")
    params: dict[str, Any] = {
        "c2cjs": "1",
        "customer.name": (caller.get("name") or "")[:100],
        "customer.details": (ticket.get("short_description") or "")[:1024],
        "session.custom.external_key": signing.issue_external_key(
            services().key_secret, sys_id, "s"
        ),
        "session.custom.short_description": (ticket.get("short_description") or "")[:1024],
    }
    if choice == "rep":
        # Recompute the rep here: the form's choice is a wish, not an authority.
        _, rep = last_rep(table, link.user)
        if rep is None:
            return _refuse(
                409,
                "That representative is no longer available",
                "Go back and choose the next available representative.",
            )
        params["id"] = rep.id
        params["name"] = rep.public_display_name or rep.display_name
    elif choice != "next":
        return _refuse(400, "Unknown choice", "Choose a representative and try again.")
    url = services().bomgar.start_session_url(params)
    log.info("support chat started for %s/%s (%s)", table, sys_id, choice)
    return redirect(url, code=303)  # type: ignore[return-value]
