"""Reporting API: SupportSession, SupportSessionListing and the exit-survey reports."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import Blueprint, Response, request

from connector.sim.bomgar import render
from connector.sim.bomgar.models import SimError, SimSession
from connector.sim.bomgar.state import SimState
from connector.sim.bomgar.web import (
    base_url,
    rate_limit,
    reject_multipart,
    state,
    xml_account,
    xml_error,
    xml_reply,
)

bp = Blueprint("bomgar_reporting", __name__)


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


@bp.route("/api/reporting", methods=["GET", "POST"])
@bp.route("/api/reporting.ns", methods=["GET", "POST"])
def reporting() -> Response:
    """Serve the Reporting API."""
    st = state()
    values = request.values
    report = values.get("generate_report", "")
    root = REPORT_ROOTS.get(report, "error")
    st.stats.count(f"api/reporting {report or '(none)'}")
    reject_multipart("reporting", root)
    account = xml_account("reporting", root)
    if st.options.rate_limit_xml:
        rate_limit(account)
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
