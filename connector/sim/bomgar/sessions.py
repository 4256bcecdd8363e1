"""Session life cycle: start, join, chat, files, notes, transfers, end and exit surveys.

Each step records the session_details event the Reporting API shows and queues the outbound
event the appliance would post.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from connector.sim.bomgar.content import CUSTOMER_QUESTIONS, REP_QUESTIONS, default_system_info
from connector.sim.bomgar.delivery import EventDelivery
from connector.sim.bomgar.directory import Directory
from connector.sim.bomgar.models import (
    REPORT_OVERRIDES,
    Member,
    SimError,
    SimSession,
    epoch_or_now,
    with_port,
)


class SessionLifecycle(Directory):
    """Run sessions through their life cycle; a room of the appliance's state."""

    lock: threading.RLock
    delivery: EventDelivery
    sessions: dict[str, SimSession]
    _lseq: int

    def get_session(self, lsid: str) -> SimSession:
        """Return a session or raise the vendor's invalid-lsid error."""
        session = self.sessions.get(lsid)
        if session is None:
            raise SimError("Invalid lsid.", 404)
        return session

    def _emit(self, session: SimSession, event: str, at: int, member: Member | None = None) -> None:
        if not session.send_events or not self.delivery.recipients:
            return
        form = {
            "event": event,
            "version": self.options.event_version,
            "timestamp": str(at),
            "appliance_id": self.options.appliance_id,
            "lsid": session.lsid,
            "external_key": session.external_key,
        }
        if member is not None:
            form.update(
                username=member.username,
                user_id=str(member.rep_id) if member.rep_id is not None else "",
                display_name=member.name,
                type=member.kind,
            )
        self.delivery.enqueue(form)

    @staticmethod
    def _actor(member: Member | None) -> tuple[str, int, str]:
        if member is None:
            return ("system", 0, "")
        return (member.kind, member.gsnumber, member.name)

    def _event(self, session: SimSession, at: int, event_type: str, **parts: Any) -> None:
        session.events.append({"timestamp": at, "event_type": event_type, **parts})
        session.xml = None

    def start_session(
        self,
        *,
        queue: str | None,
        customer: dict[str, Any] | None = None,
        custom: dict[str, str] | None = None,
        method: str = "general",
        at: int | None = None,
        send_events: bool = True,
        jump: dict[str, Any] | None = None,
    ) -> SimSession:
        """Start a session waiting in a queue (or, for Jump, without one) with its customer."""
        at = epoch_or_now(at)
        given = {k: v for k, v in (customer or {}).items() if v not in (None, "")}
        cust = {**self.find_customer(given.get("name")), **given}
        with self.lock:
            self._lseq += 1
            session = SimSession(
                lsid=uuid.uuid4().hex,
                lseq=self._lseq,
                start_time=at,
                start_method=method,
                queue=queue,
                custom=dict(custom or {}),
                send_events=send_events,
                jump=jump,
            )
            self.sessions[session.lsid] = session
            self._event(session, at, "Session Start", performed_by=("system", 0, ""))
            member = self._add_member(
                session,
                Member(
                    gsnumber=0,
                    kind="customer",
                    name=str(cust.get("name") or "Unknown"),
                    username=str(cust.get("name") or "Unknown"),
                    public_ip=with_port(cust.get("public_ip", ""), 51234),
                    private_ip=str(cust.get("private_ip", "") or "Unknown"),
                    hostname=str(cust.get("hostname", "") or "Unknown"),
                    os=str(cust.get("os", "") or "Unknown"),
                    info={
                        "name": str(cust.get("name") or ""),
                        "company": str(cust.get("company") or ""),
                        "company_code": str(cust.get("company_code") or ""),
                        "issue": str(cust.get("issue") or ""),
                        "details": str(cust.get("details") or ""),
                    },
                ),
                at,
            )
            session.primary_customer_gs = member.gsnumber
            if session.external_key:
                self._event(
                    session,
                    at,
                    "External Key",
                    performed_by=("system", 0, ""),
                    body=session.external_key,
                )
            if queue:
                self._event(
                    session,
                    at,
                    "Session Transferred to Queue",
                    performed_by=("system", 0, ""),
                    destination=("queue", 0, self.queue_name(queue)),
                )
            self._emit(session, "support_conference_begin", at)
            self._emit(session, "support_conference_member_added", at, member)
            return session

    def _add_member(self, session: SimSession, member: Member, at: int) -> Member:
        member.gsnumber = session.next_gs
        session.next_gs += 1
        member.joined = at
        session.members.append(member)
        data = {
            "private_name": member.private_display_name or member.name,
            "public_name": member.public_display_name or member.name,
            "username": member.username,
            "private_ip": member.private_ip,
            "public_ip": member.public_ip,
            "hostname": member.hostname,
            "os": member.os,
        }
        if member.rep_id is not None:
            data["user_id"] = str(member.rep_id)
            data["support_teams"] = ", ".join(
                self.teams[t]["name"]
                for t in self.reps[member.rep_id].get("teams", [])
                if t in self.teams
            )
        self._event(
            session, at, "Conference Member Added", performed_by=self._actor(member), data=data
        )
        return member

    def _rep_member(self, rep: dict[str, Any], invited: bool = False) -> Member:
        return Member(
            gsnumber=0,
            kind="representative",
            name=rep["private_display_name"],
            rep_id=rep["id"],
            username=rep["username"],
            public_display_name=rep["public_display_name"],
            private_display_name=rep["private_display_name"],
            public_ip=with_port(rep.get("public_ip", ""), 443),
            private_ip=rep.get("private_ip") or "Unknown",
            hostname=rep.get("hostname") or "Unknown",
            os=rep.get("os") or "Unknown",
            invited=invited,
        )

    def _live(self, lsid: str) -> SimSession:
        session = self.get_session(lsid)
        if session.end_time is not None:
            raise SimError("The session has ended.", 409)
        return session

    def join(self, lsid: str, rep_ref: Any, at: int | None = None, invited: bool = False) -> Member:
        """Have a rep join; the first rep takes the session out of its queue and owns it."""
        at = epoch_or_now(at)
        rep = self.find_rep(rep_ref)
        with self.lock:
            session = self._live(lsid)
            for m in session.present("representative"):
                if m.rep_id == rep["id"]:
                    raise SimError(f"{rep['username']} is already in the session.", 409)
            member = self._add_member(session, self._rep_member(rep, invited), at)
            if session.owner_gs is None:
                session.owner_gs = member.gsnumber
                if session.primary_rep_gs is None:
                    session.primary_rep_gs = member.gsnumber
                session.queue = None
            self._emit(session, "support_conference_member_added", at, member)
            return member

    def _find_member(self, session: SimSession, ref: Any) -> Member:
        if ref in (None, "customer"):
            customers = session.present("customer")
            if not customers:
                raise SimError("The customer is not in the session.", 409)
            return customers[0]
        rep = self.find_rep(ref)
        for m in session.present("representative"):
            if m.rep_id == rep["id"]:
                return m
        raise SimError(f"{rep['username']} is not in the session.", 409)

    def _depart(self, session: SimSession, member: Member, at: int) -> None:
        member.left = at
        member.seconds += max(0, at - member.joined)
        self._event(session, at, "Conference Member Departed", performed_by=self._actor(member))
        self._emit(session, "support_conference_member_departed", at, member)

    def leave(self, lsid: str, who: Any, at: int | None = None) -> None:
        """Have a rep (or the customer) leave; ownership passes to a remaining rep."""
        at = epoch_or_now(at)
        with self.lock:
            session = self._live(lsid)
            member = self._find_member(session, who)
            self._depart(session, member, at)
            if member.gsnumber == session.owner_gs:
                remaining = session.present("representative")
                session.owner_gs = remaining[0].gsnumber if remaining else None
                if remaining:
                    self._owner_changed(session, member, remaining[0], at)

    def _owner_changed(self, session: SimSession, old: Member | None, new: Member, at: int) -> None:
        self._event(
            session,
            at,
            "Conference Owner Changed",
            performed_by=self._actor(old),
            destination=self._actor(new),
            data={"owner": new.name},
        )
        self._emit(session, "support_conference_owner_changed", at)

    def chat(self, lsid: str, sender: Any, body: str, at: int | None = None) -> None:
        """Add a chat line from a rep or the customer."""
        at = epoch_or_now(at)
        with self.lock:
            session = self._live(lsid)
            member = self._find_member(session, sender)
            self._event(session, at, "Chat Message", performed_by=self._actor(member), body=body)

    def file(
        self,
        lsid: str,
        direction: str,
        filename: str,
        filesize: int,
        rep_ref: Any = None,
        at: int | None = None,
        failed: bool = False,
    ) -> None:
        """Record a file upload (rep to customer) or download (customer to rep)."""
        at = epoch_or_now(at)
        if direction not in ("upload", "download"):
            raise SimError("direction must be upload or download.")
        with self.lock:
            session = self._live(lsid)
            rep = self._owner_or(session, rep_ref)
            customer = self._find_member(session, "customer")
            # Observed downloads name the customer in performed_by and the rep in destination.
            perf, dest = (rep, customer) if direction == "upload" else (customer, rep)
            kind = "File Upload" if direction == "upload" else "File Download"
            if failed:
                kind += " Failed"
            else:
                session.file_count += 1
            self._event(
                session,
                at,
                kind,
                performed_by=self._actor(perf),
                destination=self._actor(dest),
                filename=filename,
                filesize=int(filesize),
                data={"filename": filename, "filesize": str(int(filesize))},
            )

    def _owner_or(self, session: SimSession, rep_ref: Any) -> Member:
        if rep_ref is not None:
            return self._find_member(session, rep_ref)
        if session.owner_gs is None:
            raise SimError("No representative has joined the session.", 409)
        return session.member(session.owner_gs)

    def note(self, lsid: str, body: str, rep_ref: Any = None, at: int | None = None) -> None:
        """Add a session note by a rep."""
        at = epoch_or_now(at)
        with self.lock:
            session = self._live(lsid)
            rep = self._owner_or(session, rep_ref)
            self._event(session, at, "Session Note Added", performed_by=self._actor(rep), body=body)

    def sysinfo(
        self,
        lsid: str,
        categories: list[dict[str, Any]] | None = None,
        rep_ref: Any = None,
        at: int | None = None,
    ) -> None:
        """Record system information a rep retrieved from the customer's machine."""
        at = epoch_or_now(at)
        with self.lock:
            session = self._live(lsid)
            rep = self._owner_or(session, rep_ref)
            customer = self._find_member(session, "customer")
            cats = categories or default_system_info(customer)
            self._event(
                session,
                at,
                "System Information Retrieved",
                performed_by=self._actor(rep),
                destination=self._actor(customer),
                system_information=cats,
            )

    def transfer(
        self,
        lsid: str,
        *,
        to_rep: Any = None,
        to_queue: str | None = None,
        at: int | None = None,
    ) -> None:
        """Transfer ownership to another rep, or put the session back into a queue."""
        at = epoch_or_now(at)
        with self.lock:
            session = self._live(lsid)
            old = session.member(session.owner_gs) if session.owner_gs is not None else None
            if to_rep is not None:
                rep = self.find_rep(to_rep)
                new = next(
                    (m for m in session.present("representative") if m.rep_id == rep["id"]), None
                )
                if new is None:
                    new = self.join(lsid, rep["id"], at)
                session.owner_gs = new.gsnumber
                session.queue = None
                self._owner_changed(session, old, new, at)
                if old is not None and old is not new:
                    self._depart(session, old, at)
                return
            if not to_queue:
                raise SimError("Give to_rep or to_queue.")
            queue = self.resolve_queue(to_queue)
            self._event(
                session,
                at,
                "Session Transferred Away from Queue",
                performed_by=self._actor(old),
                destination=("queue", 0, self.queue_name(queue)),
            )
            self._event(
                session,
                at,
                "Session Transferred to Queue",
                performed_by=self._actor(old),
                destination=("queue", 0, self.queue_name(queue)),
            )
            if old is not None:
                self._depart(session, old, at)
            session.owner_gs = None
            session.queue = queue

    def end(self, lsid: str, at: int | None = None) -> None:
        """End the session: everyone departs, then Session End."""
        at = epoch_or_now(at)
        with self.lock:
            session = self._live(lsid)
            for member in sorted(session.present(), key=lambda m: m.kind != "representative"):
                self._depart(session, member, at)
            session.end_time = at
            session.queue = None
            self._event(session, at, "Session End", performed_by=("system", 0, ""))
            self._emit(session, "support_conference_end", at)

    def survey(
        self,
        lsid: str,
        kind: str,
        answers: dict[str, Any],
        rep_ref: Any = None,
        at: int | None = None,
    ) -> None:
        """Record a customer or rep exit survey (after the session ended, or as it ends)."""
        at = epoch_or_now(at)
        if kind not in ("customer", "rep"):
            raise SimError("kind must be customer or rep.")
        with self.lock:
            session = self.get_session(lsid)
            if kind == "customer":
                customers = [m for m in session.members if m.kind == "customer"]
                if not customers:
                    raise SimError("The session has no customer.", 409)
                by = customers[0]
            else:
                reps = [m for m in session.members if m.kind == "representative"]
                if rep_ref is not None:
                    rep = self.find_rep(rep_ref)
                    reps = [m for m in reps if m.rep_id == rep["id"]]
                elif session.primary_rep_gs is not None:
                    reps = [session.member(session.primary_rep_gs)]
                if not reps:
                    raise SimError("No such representative in the session.", 409)
                by = reps[0]
            questions = CUSTOMER_QUESTIONS if kind == "customer" else REP_QUESTIONS
            entry = {
                "timestamp": at,
                "gsnumber": by.gsnumber,
                "submitted_by": by,
                "answers": [
                    {
                        "id": idx,
                        "name": name,
                        "type": questions.get(name, ("text", name, name))[0],
                        "label": questions.get(name, ("text", name, name))[1],
                        "report_header": questions.get(name, ("text", name, name))[2],
                        "answer": "" if value is None else str(value),
                    }
                    for idx, (name, value) in enumerate(answers.items(), start=1)
                ],
            }
            session.xml = None  # the report changes: a cached rendering is stale
            if kind == "customer":
                session.cust_surveys.append(entry)
                self._event(session, at, "Customer Exit Survey", performed_by=self._actor(by))
                self._emit(session, "support_conference_customer_exit_survey_completed", at)
            else:
                session.rep_surveys.append(entry)
                self._event(session, at, "Representative Exit Survey", performed_by=self._actor(by))
                self._emit(session, "support_conference_rep_exit_survey_completed", at)

    def set_report_options(
        self,
        lsid: str,
        *,
        surveys_in_report: Any = None,
        overrides: Any = None,
    ) -> None:
        """Change how a session shows in the SupportSession report (None keeps a setting)."""
        with self.lock:
            session = self.get_session(lsid)
            if surveys_in_report is not None:
                if not isinstance(surveys_in_report, bool):
                    raise SimError("surveys_in_report must be true or false.")
                session.surveys_in_report = surveys_in_report
            if overrides is not None:
                if not isinstance(overrides, dict) or not all(
                    k in REPORT_OVERRIDES and isinstance(v, str) for k, v in overrides.items()
                ):
                    raise SimError(
                        "report_overrides must map "
                        + ", ".join(sorted(REPORT_OVERRIDES))
                        + " to text."
                    )
                session.report_overrides = dict(overrides)
            session.xml = None

    def set_attributes(self, lsid: str, custom: dict[str, str]) -> None:
        """Change custom attributes of an active session: omitted keep, empty clears."""
        custom = self.check_custom(custom)
        with self.lock:
            session = self.sessions.get(lsid)
            if session is None or session.end_time is not None:
                raise SimError("Invalid lsid: the session is not active.")
            merged = dict(session.custom)
            for name, value in custom.items():
                if value == "":
                    merged.pop(name, None)
                else:
                    merged[name] = value
            self.check_custom(merged)
            old_key = session.external_key
            session.custom = merged
            if session.external_key != old_key:
                self._event(
                    session,
                    epoch_or_now(None),
                    "External Key",
                    performed_by=("system", 0, ""),
                    body=session.external_key,
                )
            session.xml = None
