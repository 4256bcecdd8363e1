"""XML documents of the Command and Reporting APIs, built as strings for speed.

A session element carries no namespace of its own (it inherits the root's default namespace), so
an ended session is rendered once and the string reused for every report that includes it.
Whitespace is deliberately irregular (blank lines, a space before ``>``) as on real appliances.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from connector.sim.bomgar.models import Member, SimSession
from connector.sim.bomgar.state import SimState

XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


# The saxutils functions build an entity dict and run up to six replaces on every call, which was
# most of the appliance emulator's CPU; nearly every value holds none of the characters they
# change, so those are answered directly and the rest are left to saxutils (same output).


def e(text: Any) -> str:
    """Escape element text."""
    s = text if type(text) is str else ("" if text is None else str(text))
    if "&" in s or "<" in s or ">" in s:
        return escape(s)
    return s


def a(value: Any) -> str:
    """Quote an attribute value."""
    s = value if type(value) is str else ("" if value is None else str(value))
    if "&" in s or "<" in s or ">" in s or '"' in s or "\n" in s or "\r" in s or "\t" in s:
        return quoteattr(s)
    return f'"{s}"'


def iso(epoch: int) -> str:
    """Format epoch seconds as ISO 8601 with offset."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def hms(seconds: int) -> str:
    """Format a duration as HH:MM:SS (hours unbounded)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def document(ns: str, root: str, inner: str, *, xsi: bool = False) -> str:
    """Wrap inner XML in a namespaced root element."""
    extra = f" {XSI}" if xsi else ""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{ns}"{extra}>{inner}</{root}>\n'


def error_document(ns: str, root: str, message: str, placement: str) -> str:
    """Render an <error>, as the root or nested in the root the call normally returns."""
    if placement == "nested":
        return document(ns, root, f"<error>{e(message)}</error>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<error xmlns="{ns}">{e(message)}</error>\n'


def _actor(tag: str, actor: tuple[str, int, str] | None) -> str:
    if actor is None:
        return ""
    kind, gs, name = actor
    return f'<{tag} type={a(kind)} gsnumber="{gs}">{e(name)}</{tag}>'


def _sysinfo(categories: list[dict[str, Any]]) -> str:
    parts = ["<system_information>"]
    for cat in categories:
        parts.append(f"<category name={a(cat.get('name', ''))}><description>")
        for fname, label in (cat.get("columns") or {}).items():
            parts.append(f"<field name={a(fname)}>{e(label)}</field>")
        parts.append("</description><data>")
        for row in cat.get("rows") or []:
            parts.append("<row>")
            for fname, value in row.items():
                parts.append(f"<field name={a(fname)}>{e(value)}</field>")
            parts.append("</row>")
        parts.append("</data></category>")
    parts.append("</system_information>")
    return "".join(parts)


def _event(ev: dict[str, Any]) -> str:
    parts = [f'\n   <event timestamp="{ev["timestamp"]}" event_type={a(ev["event_type"])}>']
    parts.append(_actor("performed_by", ev.get("performed_by")))
    parts.append(_actor("destination", ev.get("destination")))
    if "body" in ev:
        parts.append(f"<body>{e(ev['body'])}</body>")
    if "filename" in ev:
        parts.append(
            f"<filename>{e(ev['filename'])}</filename><filesize>{ev['filesize']}</filesize>"
        )
        parts.append(
            f"<files><file><filename>{e(ev['filename'])}</filename>"
            f"<filesize>{ev['filesize']}</filesize></file></files>"
        )
    if ev.get("data"):
        parts.append("<data>")
        for name, value in ev["data"].items():
            parts.append(f"<value name={a(name)} value={a(value)} />")
        parts.append("</data>")
    if ev.get("system_information"):
        parts.append(_sysinfo(ev["system_information"]))
    parts.append("</event>")
    return "".join(parts)


def _seconds_involved(m: Member, end: int | None, now: int) -> int:
    if m.left is not None:
        return m.seconds
    return m.seconds + max(0, (end or now) - m.joined)


def _survey_values(tag: str, entries: list[dict[str, Any]]) -> str:
    parts = []
    for s in entries:
        parts.append(f'<{tag} gsnumber="{s["gsnumber"]}">')
        for ans in s["answers"]:
            parts.append(f"<value name={a(ans['name'])} value={a(ans['answer'])} />")
        parts.append(f"</{tag}>")
    return "".join(parts)


def session_xml(state: SimState, s: SimSession, base_url: str, now: int) -> str:
    """Render one <session> of a SupportSession report (cached once the session has ended)."""
    if s.xml is not None:
        return s.xml
    opts = state.options
    site = state.seed["public_site"]
    ended = s.end_time is not None
    p: list[str] = [f"\n <session lsid={a(s.lsid)} >"]
    lseq = s.report_overrides.get("lseq", str(s.lseq))
    p.append(f"\n  <session_type>support</session_type>\n  <lseq>{e(lseq)}</lseq>")
    p.append(f'\n  <start_time timestamp="{s.start_time}">{iso(s.start_time)}</start_time>')
    if s.end_time is not None:
        p.append(f'\n  <end_time timestamp="{s.end_time}">{iso(s.end_time)}</end_time>')
    elif opts.running_end_time == "empty":
        p.append("\n  <end_time />")
    duration = s.report_overrides.get("duration", hms((s.end_time or now) - s.start_time))
    p.append(f"\n  <duration>{e(duration)}</duration>")
    p.append(f'\n  <public_site id="{site.get("id", 1)}">{e(site.get("name", ""))}</public_site>')
    p.append(f"\n  <external_key>{e(s.external_key)}</external_key>")
    p.append("\n  <custom_attributes>")
    for name, value in s.custom.items():
        p.append(
            f"<custom_attribute code_name={a(name)} display_name={a(state.display_name(name))}>"
            f"{e(value)}</custom_attribute>"
        )
    p.append("</custom_attributes>")
    if ended:
        dl = f"{base_url}/session_download?lsid={s.lsid}&sessionType=sup"
        p.append(
            f"\n  <session_chat_view_url>{e(dl + '&dl_action=chat&view=1')}</session_chat_view_url>"
        )
        p.append(
            f"\n  <session_chat_download_url>{e(dl + '&dl_action=chat')}"
            "</session_chat_download_url>"
        )
    p.append("\n  <session_recording_view_url></session_recording_view_url>")
    p.append("\n  <session_recording_download_url></session_recording_download_url>")
    files = s.report_overrides.get("file_transfer_count", str(s.file_count))
    p.append(f"\n  <file_transfer_count>{e(files)}</file_transfer_count>")
    p.append("<file_move_count>0</file_move_count><file_delete_count>0</file_delete_count>")
    cust = next((m for m in s.members if m.gsnumber == s.primary_customer_gs), None)
    if cust is not None:
        p.append(
            f'\n  <primary_customer gsnumber="{cust.gsnumber}">{e(cust.name)}</primary_customer>'
        )
    rep = next((m for m in s.members if m.gsnumber == s.primary_rep_gs), None)
    if rep is not None:
        p.append(
            f'\n  <primary_rep gsnumber="{rep.gsnumber}" id="{rep.rep_id}">'
            f"{e(rep.name)}</primary_rep>"
        )
    if s.jump:
        j = s.jump
        p.append(f'\n  <jumpoint id="{j["jumpoint_id"]}">{e(j["jumpoint_name"])}</jumpoint>')
        p.append(
            f'<jump_group type={a(j["group_type"])} id="{j["group_id"]}">'
            f"{e(j['group_name'])}</jump_group>"
        )
    p.append("\n\n  <customer_list>")
    for m in s.members:
        if m.kind != "customer":
            continue
        info = "".join(f"<{k}>{e(v)}</{k}>" for k, v in m.info.items())
        p.append(
            f'\n   <customer gsnumber="{m.gsnumber}"><username>{e(m.username)}</username>'
            f"<public_ip>{e(m.public_ip)}</public_ip><private_ip>{e(m.private_ip)}</private_ip>"
            f"<hostname>{e(m.hostname)}</hostname><os>{e(m.os)}</os>"
            f"<primary_cust>{int(m.gsnumber == s.primary_customer_gs)}</primary_cust>"
            f"<info>{info}</info></customer>"
        )
    p.append("\n  </customer_list>\n  <rep_list>")
    seen: dict[int, Member] = {}
    for m in s.members:
        if m.kind == "representative" and m.rep_id is not None:
            seen.setdefault(m.rep_id, m)
    for m in seen.values():
        secs = sum(
            _seconds_involved(x, s.end_time, now)
            for x in s.members
            if x.kind == "representative" and x.rep_id == m.rep_id
        )
        p.append(
            f'\n   <representative gsnumber="{m.gsnumber}" id="{m.rep_id}">'
            f"<username>{e(m.username)}</username><display_name>{e(m.public_display_name)}</display_name>"
            f"<public_display_name>{e(m.public_display_name)}</public_display_name>"
            f"<private_display_name>{e(m.private_display_name)}</private_display_name>"
            f"<public_ip>{e(m.public_ip)}</public_ip><private_ip>{e(m.private_ip)}</private_ip>"
            f"<hostname>{e(m.hostname)}</hostname><os>{e(m.os)}</os>"
            f"<session_owner>{int(m.gsnumber == s.owner_gs)}</session_owner>"
            f"<primary_rep>{int(m.gsnumber == s.primary_rep_gs)}</primary_rep>"
            f"<seconds_involved>{secs}</seconds_involved><invited>{int(m.invited)}</invited>"
            "</representative>"
        )
    p.append("\n  </rep_list>\n  <session_details>")
    p.extend(_event(ev) for ev in s.events)
    p.append("\n  </session_details>")
    if s.surveys_in_report:
        p.append(
            "\n  <cust_survey_list>"
            f"{_survey_values('cust_exit_survey', s.cust_surveys)}</cust_survey_list>"
        )
        p.append(
            "\n  <rep_survey_list>"
            f"{_survey_values('rep_exit_survey', s.rep_surveys)}</rep_survey_list>"
        )
    p.append("\n </session>")
    text = "".join(p)
    if ended:
        s.xml = text
    return text


def session_list(state: SimState, sessions: list[SimSession], base_url: str, now: int) -> str:
    """Render a SupportSession report."""
    inner = "".join(session_xml(state, s, base_url, now) for s in sessions) + "\n"
    return document(state.options.reporting_ns, "session_list", inner, xsi=True)


def session_listing(state: SimState, sessions: list[SimSession]) -> str:
    """Render a SupportSessionListing report (external_key attribute is an unconfirmed RS extra)."""
    inner = "".join(
        f'\n <session_summary lsid={a(s.lsid)} has_recording="0"'
        f" external_key={a(s.external_key)} />"
        for s in sessions
    )
    return document(state.options.reporting_ns, "session_summary_list", inner + "\n")


def exit_surveys(state: SimState, items: list[tuple[SimSession, dict[str, Any], str]]) -> str:
    """Render an exit_survey_list of (session, survey, kind) triples."""
    parts = []
    for s, survey, kind in items:
        by = survey["submitted_by"]
        rep = next((m for m in s.members if m.gsnumber == s.primary_rep_gs), None)
        cust = next((m for m in s.members if m.gsnumber == s.primary_customer_gs), None)
        parts.append(f'\n <exit_survey lsid={a(s.lsid)} timestamp="{survey["timestamp"]}">')
        parts.append(
            f"<submitted_by type={a('customer' if kind == 'customer' else 'representative')}"
            f' gsnumber="{by.gsnumber}">{e(by.name)}</submitted_by>'
        )
        if rep is not None:
            parts.append(
                f'<primary_rep gsnumber="{rep.gsnumber}" id="{rep.rep_id}">'
                f"{e(rep.name)}</primary_rep>"
            )
        if cust is not None:
            parts.append(
                f'<primary_customer gsnumber="{cust.gsnumber}">{e(cust.name)}</primary_customer>'
            )
        parts.append("<rep_list>")
        for m in s.members:
            if m.kind == "representative":
                parts.append(
                    f'<representative gsnumber="{m.gsnumber}" id="{m.rep_id}">'
                    f"{e(m.name)}</representative>"
                )
        parts.append("</rep_list><question_list>")
        for q in survey["answers"]:
            parts.append(
                f'<question id="{q["id"]}"><type>{e(q["type"])}</type>'
                f"<label>{e(q['label'])}</label>"
                f"<name>{e(q['name'])}</name><report_header>{e(q['report_header'])}</report_header>"
                f"<answer_list><answer>{e(q['answer'])}</answer></answer_list></question>"
            )
        parts.append("</question_list></exit_survey>")
    return document(state.options.reporting_ns, "exit_survey_list", "".join(parts) + "\n")
