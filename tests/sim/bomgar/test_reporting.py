"""Reporting API: selectors, SupportSession content, listing, exit surveys, speed."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from tests.sim.bomgar.conftest import find, local

DAY = 86400
BASE = int(dt.datetime(2024, 6, 10, tzinfo=dt.UTC).timestamp())  # a Monday, 00:00 UTC


def _lsids(root) -> list[str]:
    return [s.get("lsid") for s in find(root, "session")]


def _past(sim, start: int, end: int, **extra) -> str:
    return sim.sim(
        "POST", "/sessions", {"start_time": start, "end_time": end, "send_events": False, **extra}
    )["lsid"]


def test_default_session_has_every_outline_element(sim):
    """The default scripted session reports reps, customer, chat, files, note, sysinfo, surveys."""
    lsid = sim.sim("POST", "/sessions", {"external_key": "INC0000001"})["lsid"]
    root = sim.report("SupportSession", lsid=lsid)
    assert local(root) == "session_list"
    (s,) = find(root, "session")
    assert find(s, "session_type")[0].text == "support"
    assert int(find(s, "lseq")[0].text) >= 1
    start, end = find(s, "start_time")[0], find(s, "end_time")[0]
    assert int(end.get("timestamp")) - int(start.get("timestamp")) == 300
    assert start.text.endswith("+00:00")
    assert find(s, "duration")[0].text == "00:05:00"
    assert find(s, "external_key")[0].text == "INC0000001"
    attr = find(s, "custom_attributes/custom_attribute")[0]
    assert (attr.get("code_name"), attr.text) == ("external_key", "INC0000001")
    assert "dl_action=chat" in find(s, "session_chat_view_url")[0].text
    assert find(s, "session_chat_download_url")[0].text
    assert find(s, "file_transfer_count")[0].text == "2"
    assert find(s, "primary_customer")[0].text == "Abel Tuter"
    primary_rep = find(s, "primary_rep")[0]
    assert (primary_rep.get("id"), primary_rep.text) == ("1", "Jane Rep")
    cust = find(s, "customer_list/customer")[0]
    assert find(cust, "info/name")[0].text == "Abel Tuter"
    assert find(cust, "public_ip")[0].text == "203.0.113.42:51234"
    assert find(cust, "hostname")[0].text == "ws-lab-0042"
    rep = find(s, "rep_list/representative")[0]
    assert find(rep, "username")[0].text == "jane.rep"
    assert find(rep, "session_owner")[0].text == "1"
    assert int(find(rep, "seconds_involved")[0].text) > 0
    types = [e.get("event_type") for e in find(s, "session_details/event")]
    assert types[0] == "Session Start" and types[-1] == "Representative Exit Survey"
    for needed in (
        "Conference Member Added",
        "Chat Message",
        "File Upload",
        "File Download",
        "Session Note Added",
        "System Information Retrieved",
        "Conference Member Departed",
        "Session End",
        "Customer Exit Survey",
    ):
        assert needed in types, needed
    chats = [e for e in find(s, "session_details/event") if e.get("event_type") == "Chat Message"]
    senders = {find(e, "performed_by")[0].get("type") for e in chats}
    assert senders == {"customer", "representative"}
    assert "&" in find(chats[2], "body")[0].text  # escaped in XML, intact after parsing
    download = next(
        e for e in find(s, "session_details/event") if e.get("event_type") == "File Download"
    )
    assert find(download, "performed_by")[0].get("type") == "customer"
    assert find(download, "destination")[0].get("type") == "representative"
    assert find(download, "filesize")[0].text == "18422"
    overview = find(s, "//category")[0]
    assert overview.get("name") == "Overview"
    cells = {f.get("name"): f.text for f in find(overview, "data/row/field")}
    assert cells["os"] == "Windows 10 Enterprise" and cells["memory"]
    survey = {
        v.get("name"): v.get("value") for v in find(s, "cust_survey_list/cust_exit_survey/value")
    }
    assert set(survey) == {"rating", "resolved", "comments"}
    assert find(s, "rep_survey_list/rep_exit_survey/value")


def test_running_session_has_no_end_time_nor_chat_urls(make_sim):
    """A running session lacks end_time (or has it empty, per option) and the chat URLs."""
    for variant in ("absent", "empty"):
        sim = make_sim(running_end_time=variant)
        lsid = sim.sim("POST", "/sessions", {"end": False})["lsid"]
        (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
        ends = find(s, "end_time")
        assert (len(ends) == 0) if variant == "absent" else (ends[0].text is None)
        assert not find(s, "session_chat_view_url")
        assert not find(s, "cust_survey_list/cust_exit_survey")


def test_lsid_and_lsids(sim):
    """lsid selects one session; lsids a comma list; unknown lsid is an error."""
    a, b, c = (sim.sim("POST", "/sessions", {"send_events": False})["lsid"] for _ in range(3))
    assert _lsids(sim.report("SupportSession", lsid=b)) == [b]
    assert _lsids(sim.report("SupportSession", lsids=f"{c},{a}")) == [a, c]
    err = sim.report("SupportSession", lsid="0" * 32)
    assert local(err) == "error" and err.text == "Invalid lsid."


def test_time_windows(sim):
    """start_/end_ × date/time select by start or end; durations: days for dates, else seconds."""
    s1 = _past(sim, BASE + 3600, BASE + 4000)  # Jun 10, ends same day
    s2 = _past(sim, BASE + DAY - 100, BASE + DAY + 500)  # starts Jun 10, ends Jun 11
    s3 = _past(sim, BASE + 2 * DAY + 60, BASE + 2 * DAY + 900)  # Jun 12
    running = sim.sim(
        "POST", "/sessions", {"start_time": BASE + DAY + 10, "end": False, "send_events": False}
    )["lsid"]
    report = sim.report
    assert _lsids(report("SupportSession", start_date="2024-06-10", duration=1)) == [s1, s2]
    assert _lsids(report("SupportSession", start_date="2024-06-11", duration=1)) == [running]
    assert _lsids(report("SupportSession", start_date="2024-06-10", duration=3)) == [
        s1,
        s2,
        s3,
        running,
    ]
    assert _lsids(report("SupportSession", end_date="2024-06-11", duration=1)) == [s2]
    assert _lsids(report("SupportSession", end_date="2024-06-10", duration=0)) == [s1, s2, s3]
    assert _lsids(report("SupportSession", start_time=BASE + 3600, duration=1)) == [s1]
    assert _lsids(report("SupportSession", start_time=BASE + 3601, duration=DAY)) == [s2, running]
    assert _lsids(report("SupportSession", end_time=BASE + 4000, duration=DAY)) == [s1, s2]
    assert _lsids(report("SupportSession", end_time=BASE + DAY, duration=0)) == [s2, s3]


def test_selector_errors(sim):
    """No selector, two selectors or a malformed date are errors (there is no pagination)."""
    assert local(sim.report("SupportSession")) == "error"
    assert local(sim.report("SupportSession", start_time=0, lsid="x")) == "error"
    assert local(sim.report("SupportSession", start_date="10/06/2024", duration=1)) == "error"
    assert local(sim.report("NoSuchReport", start_time=0)) == "error"
    arch = sim.report("ArchiveListing")
    assert arch.text == "No archives found for the given search criteria."


def test_session_listing(sim):
    """SupportSessionListing lists session_summary elements by time window only."""
    lsid = _past(sim, BASE + 100, BASE + 200, external_key="INC7")
    root = sim.report("SupportSessionListing", start_time=BASE, duration=DAY)
    assert local(root) == "session_summary_list"
    (summary,) = find(root, "session_summary")
    assert summary.get("lsid") == lsid and summary.get("has_recording") == "0"
    assert summary.get("external_key") == "INC7"
    assert local(sim.report("SupportSessionListing", lsid=lsid)) == "error"


def test_exit_survey_reports(sim):
    """Customer and rep exit surveys report questions with labels and answers, filterable by rep."""
    lsid = _past(sim, BASE + 100, BASE + 400, rep=2)
    other = _past(sim, BASE + 500, BASE + 900, rep=1, customer_survey={"rating": "2"})
    cust = sim.report(
        "SupportCustExitSurvey", start_time=BASE, duration=DAY, report_type="rep", id="all"
    )
    assert local(cust) == "exit_survey_list"
    assert [s.get("lsid") for s in find(cust, "exit_survey")] == [lsid, other]
    first = find(cust, "exit_survey")[0]
    assert find(first, "submitted_by")[0].get("type") == "customer"
    questions = {find(q, "name")[0].text: q for q in find(first, "question_list/question")}
    assert set(questions) == {"rating", "resolved", "comments"}
    assert find(questions["rating"], "answer_list/answer")[0].text == "5"
    assert find(questions["comments"], "label")[0].text
    assert "\\n" in find(questions["comments"], "answer_list/answer")[0].text
    only_sam = sim.report(
        "SupportCustExitSurvey", start_time=BASE, duration=DAY, report_type="rep", id="2"
    )
    assert [s.get("lsid") for s in find(only_sam, "exit_survey")] == [lsid]
    rep = sim.report("SupportRepExitSurvey", lsid=other, report_type="rep")
    (survey,) = find(rep, "exit_survey")
    assert find(survey, "submitted_by")[0].get("type") == "representative"
    assert find(survey, "primary_rep")[0].text == "Jane Rep"


def test_step_by_step_session_with_transfer(sim):
    """A session driven step by step shows join, transfer (owner change), leave and end."""
    lsid = sim.sim(
        "POST", "/sessions/start", {"queue": "team:1", "customer": {"name": "Beth Anglin"}}
    )["lsid"]
    assert sim.sim("GET", "/queues")["team:1"][0]["lsid"] == lsid
    sim.sim("POST", f"/sessions/{lsid}/join", {"rep": "jane.rep"})
    assert "team:1" not in sim.sim("GET", "/queues")
    sim.sim("POST", f"/sessions/{lsid}/chat", {"from": "customer", "text": "hello"})
    sim.sim("POST", f"/sessions/{lsid}/transfer", {"to_rep": 2})
    sim.sim("POST", f"/sessions/{lsid}/note", {"text": "took over"})
    sim.sim("POST", f"/sessions/{lsid}/end")
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    types = [e.get("event_type") for e in find(s, "session_details/event")]
    assert "Conference Owner Changed" in types
    owner = [
        r for r in find(s, "rep_list/representative") if find(r, "session_owner")[0].text == "1"
    ]
    assert find(owner[0], "username")[0].text == "sam.tech"
    assert find(s, "primary_rep")[0].get("id") == "1"  # primary stays the first rep
    note = next(
        e for e in find(s, "session_details/event") if e.get("event_type") == "Session Note Added"
    )
    assert find(note, "performed_by")[0].text == "Sam Tech"


def test_jump_session_reports_jumpoint_and_group(sim):
    """A Jump session to a Jump Client shows jumpoint, jump_group and the machine as customer."""
    lsid = sim.sim(
        "POST",
        "/sessions/jump",
        {"jump_client": "WS-LAB-0043", "rep": 2, "external_key": "INC0000002"},
    )["lsid"]
    sim.sim("POST", f"/sessions/{lsid}/end")
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert find(s, "jumpoint")[0].text == "Lab Jumpoint"
    assert find(s, "jump_group")[0].get("type") == "shared"
    assert find(s, "customer_list/customer/hostname")[0].text == "ws-lab-0043"


def test_report_of_500_sessions_is_fast(sim):
    """A SupportSession report with 500 full sessions is served well under a second."""
    end = int(time.time())
    created = sim.sim(
        "POST", "/sessions/bulk", {"count": 500, "start_time": end - DAY, "end_time": end}
    )
    assert created["created"] == 500
    started = time.perf_counter()
    root = sim.report("SupportSession", start_time=end - DAY, duration=0)
    first = time.perf_counter() - started
    assert len(find(root, "session")) == 500
    assert first < 1.0, first


@pytest.mark.slow
def test_bulk_creates_ten_thousand_over_thirty_days_quickly(sim):
    """Bulk creation of 10,000 ended sessions over 30 days takes a few seconds and sends nothing."""
    end = int(time.time())
    started = time.perf_counter()
    created = sim.sim(
        "POST",
        "/sessions/bulk",
        {
            "count": 10000,
            "start_time": end - 30 * DAY,
            "end_time": end,
            "external_key_prefix": "INC",
        },
    )
    assert time.perf_counter() - started < 8
    assert created["created"] == 10000
    listing = sim.report("SupportSessionListing", end_time=end - 30 * DAY, duration=0)
    assert len(find(listing, "session_summary")) == 10000
    assert find(listing, "session_summary")[-1].get("external_key") == "INC0010000"


def test_a_survey_submitted_after_the_report_was_read_shows_in_the_next_report(sim):
    """A later exit survey is not hidden by a cached rendering of the ended session."""
    lsid = sim.sim("POST", "/sessions", {"customer_survey": False, "rep_survey": False})["lsid"]
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert find(s, "cust_survey_list/cust_exit_survey") == []
    sim.sim("POST", f"/sessions/{lsid}/surveys", {"customer": {"rating": "5"}})
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert [v.get("name") for v in find(s, "cust_survey_list/cust_exit_survey/value")] == ["rating"]


def test_sessions_can_keep_their_surveys_out_of_the_support_session_report(sim):
    """surveys_in_report false leaves out the survey lists; the exit-survey report keeps them."""
    lsid = sim.sim("POST", "/sessions", {"surveys_in_report": False})["lsid"]
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert find(s, "cust_survey_list") == [] and find(s, "rep_survey_list") == []
    surveys = sim.report("SupportCustExitSurvey", lsid=lsid, report_type="rep", id="all")
    assert len(find(surveys, "exit_survey")) == 1
    sim.sim("POST", f"/sessions/{lsid}/report", {"surveys_in_report": True})
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert len(find(s, "cust_survey_list/cust_exit_survey")) == 1


def test_report_overrides_put_raw_text_into_the_report(sim):
    """report_overrides replaces an element's text verbatim; unknown elements are refused."""
    lsid = sim.sim("POST", "/sessions", {"report_overrides": {"duration": "²"}})["lsid"]
    (s,) = find(sim.report("SupportSession", lsid=lsid), "session")
    assert find(s, "duration")[0].text == "²"
    reply = requests.post(
        f"{sim.url}/_sim/sessions/{lsid}/report", json={"overrides": {"chat": "x"}}, timeout=10
    )
    assert reply.status_code == 400
