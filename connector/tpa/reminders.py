"""Remind approvers of requests that wait, and escalate the ones that wait too long.

Each application says after how many days (``u_reminder_days``, ``u_escalation_days``, counted
from the request's creation). A reminder goes by the instance's Email API to the application's
approvers; an escalation to its approval groups' addresses and its owner. Exactly once: the
subject carries ``[3PA <sys_id> reminder]`` or ``[3PA <sys_id> escalation]`` and the instance's
sys_email is read for it before a mail is sent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.servicenow import query as q
from connector.tpa import models
from connector.tpa.records import REQUESTS, marker

log = logging.getLogger(__name__)


def _ref(value: Any) -> str:
    return str(value.get("value", "")) if isinstance(value, dict) else str(value or "")


def remind(tpa: Any, *, now: datetime | None = None) -> dict[str, int]:
    """Send the reminders and escalations that are due; return how many of each were sent."""
    now = now or datetime.now(UTC)
    records, sn = tpa.records, tpa.services.servicenow
    sent = {"reminder": 0, "escalation": 0}
    waiting = sn.query(
        REQUESTS,
        q.equals("u_state", models.PENDING_APPROVAL, q.name),
        fields=["sys_id", "u_application", "u_email", "sys_created_on"],
    )
    apps: dict[str, models.Application | None] = {}
    for req in waiting:
        app_id = _ref(req.get("u_application"))
        if app_id not in apps:
            apps[app_id] = records.application(app_id)
        app = apps[app_id]
        created = models.parse_sn_time(str(req.get("sys_created_on") or ""))
        if app is None or created is None:
            continue
        sys_id = _ref(req.get("sys_id"))
        for kind, days in (("reminder", app.reminder_days), ("escalation", app.escalation_days)):
            if not days or now - created < timedelta(days=days):
                continue
            subject = f"{marker(sys_id, kind)} Access to {app.display_name} waits for approval"
            already = sn.query("sys_email", q.like("subject", marker(sys_id, kind)), limit=1)
            if already:
                continue
            to = _recipients(sn, app, kind)
            if not to:
                log.warning("3PA %s for %s: nobody to send it to", kind, sys_id)
                continue
            sn.send_email(
                to=to,
                subject=subject,
                text=(
                    f"{req.get('u_email', '')} asked for access to {app.display_name} on"
                    f" {req.get('sys_created_on', '')} (UTC) and waits for approval.\n\n"
                    f"{tpa.config.servicenow.instance_url}/{REQUESTS}.do?sys_id={sys_id}\n"
                ),
                table_name=REQUESTS,
                table_record_id=sys_id,
            )
            sent[kind] += 1
    return sent


def _recipients(sn: Any, app: models.Application, kind: str) -> list[str]:
    if kind == "reminder":
        users = app.approvers
        groups: list[str] = []
    else:
        users = [app.owner] if app.owner else []
        groups = app.approval_groups
    out: list[str] = []
    ids = [u for u in users if _is_sys_id(u)]
    if ids:
        rows = sn.query("sys_user", q.one_of("sys_id", ids, q.sys_id), fields=["email"])
        out += [r["email"] for r in rows if r.get("email")]
    gids = [g for g in groups if _is_sys_id(g)]
    if gids:
        rows = sn.query("sys_user_group", q.one_of("sys_id", gids, q.sys_id), fields=["email"])
        out += [r["email"] for r in rows if r.get("email")]
    return sorted(set(out))


def _is_sys_id(value: str) -> bool:
    try:
        q.sys_id(value)
    except q.QueryValueError:
        return False
    return True


def remind_job(tpa: Any) -> None:
    """Run the reminders from the scheduler; a failure is logged and the next run tries again."""
    try:
        sent = remind(tpa)
    except Exception as exc:
        log.error("3PA reminders failed: %s", exc)
        return
    if sent["reminder"] or sent["escalation"]:
        log.info("3PA sent %d reminders and %d escalations", sent["reminder"], sent["escalation"])
