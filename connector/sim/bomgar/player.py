"""Play whole scripted sessions, one at a time or in bulk, and start Jump sessions."""

from __future__ import annotations

import time
from typing import Any

from connector.sim.bomgar.content import (
    DEFAULT_CHAT,
    DEFAULT_CUSTOMER_SURVEY,
    DEFAULT_FILES,
    DEFAULT_NOTES,
    DEFAULT_REP_SURVEY,
)
from connector.sim.bomgar.jump_clients import JumpClients, jump_customer
from connector.sim.bomgar.models import SimError, SimSession, epoch_or_none
from connector.sim.bomgar.sessions import SessionLifecycle


class ScriptPlayer(SessionLifecycle, JumpClients):
    """Play scripted sessions through the life cycle; a room of the appliance's state."""

    def play(self, body: dict[str, Any]) -> SimSession:
        """Play a whole scripted session (defaults: the full session of the brief)."""
        send_events = bool(body.get("send_events", True))
        end = bool(body.get("end", True))
        rep = self.find_rep(body.get("rep", 1))
        customer_in = body.get("customer")
        if isinstance(customer_in, str):
            customer = self.find_customer(customer_in)
        elif isinstance(customer_in, dict):
            customer = {**self.find_customer(customer_in.get("name", "Abel Tuter")), **customer_in}
        else:
            customer = self.find_customer("Abel Tuter")
        custom = dict(body.get("custom") or body.get("custom_attributes") or {})
        if body.get("external_key") is not None:
            custom["external_key"] = str(body["external_key"])
        custom = self.check_custom(custom)

        chat = body.get("chat")
        chat_lines = (
            DEFAULT_CHAT
            if chat is None
            else [
                (line.get("from", "customer"), line.get("text", ""))
                if isinstance(line, dict)
                else (("customer", "rep")[i % 2], str(line))
                for i, line in enumerate(chat)
            ]
        )
        files = DEFAULT_FILES if body.get("files") is None else list(body["files"])
        notes = DEFAULT_NOTES if body.get("notes") is None else list(body["notes"])
        sysinfo = body.get("system_info", True)
        cust_survey = body.get("customer_survey", DEFAULT_CUSTOMER_SURVEY)
        rep_survey = body.get("rep_survey", DEFAULT_REP_SURVEY)
        method = body.get("start_method", "session_key")

        steps = 3 + len(chat_lines) + len(files) + len(notes) + (1 if sysinfo else 0)
        now = int(time.time())
        end_time = epoch_or_none(body.get("end_time"))
        start_time = epoch_or_none(body.get("start_time"))
        if start_time is None:
            start_time = (end_time if end_time is not None else now) - 300
        if end_time is None:
            end_time = now if start_time <= now - 60 else start_time + 300
        if end_time < start_time:
            raise SimError("end_time is before start_time.")
        span = end_time - start_time

        def tick(i: int) -> int:
            return start_time + (span * i) // (steps + 1)

        queue: str | None = f"rep:{rep['id']}"
        jump = None
        if method == "jump":
            jc = self.jump_clients.get(int(body.get("jump_client_id", 1)))
            queue = None
            jump = self.jump_info(jc)
            customer = {**customer, **jump_customer(jc)}
        with self.lock:
            session = self.start_session(
                queue=queue,
                customer=customer,
                custom=custom,
                method=method,
                at=start_time,
                send_events=send_events,
                jump=jump,
            )
            lsid = session.lsid
            self.set_report_options(
                lsid,
                surveys_in_report=body.get("surveys_in_report"),
                overrides=body.get("report_overrides"),
            )
            step = 1
            self.join(lsid, rep["id"], tick(step))
            for sender, text in chat_lines:
                step += 1
                self.chat(lsid, rep["id"] if sender == "rep" else "customer", text, tick(step))
            if sysinfo:
                step += 1
                cats = sysinfo if isinstance(sysinfo, list) else None
                self.sysinfo(lsid, cats, None, tick(step))
            for f in files:
                step += 1
                self.file(
                    lsid,
                    f.get("direction", "upload"),
                    f.get("filename", "file.txt"),
                    int(f.get("filesize", 1024)),
                    None,
                    tick(step),
                )
            for n in notes:
                step += 1
                self.note(lsid, str(n), None, tick(step))
            if end:
                self.end(lsid, end_time)
                if cust_survey:
                    self.survey(lsid, "customer", dict(cust_survey), None, end_time)
                if rep_survey:
                    self.survey(lsid, "rep", dict(rep_survey), None, end_time)
            return session

    def start_jump(
        self,
        jump_client: Any,
        rep_ref: Any,
        custom: dict[str, str],
        at: int | None = None,
        send_events: bool = True,
    ) -> SimSession:
        """Start a Jump session: the rep connects straight to the Jump Client's machine."""
        jc = self.find_jump_client(jump_client)
        custom = self.check_custom(custom)
        with self.lock:
            session = self.start_session(
                queue=None,
                customer=jump_customer(jc),
                custom=custom,
                method="jump",
                at=at,
                send_events=send_events,
                jump=self.jump_info(jc),
            )
            self.join(session.lsid, rep_ref if rep_ref is not None else 1, at)
            return session

    def bulk(self, body: dict[str, Any]) -> list[str]:
        """Create many ended sessions spread over a time range, quickly and without events."""
        count = int(body.get("count", 100))
        if not 0 < count <= 100_000:
            raise SimError("count must be between 1 and 100000.")
        now = int(time.time())
        end_time = epoch_or_none(body.get("end_time")) or now
        start_time = epoch_or_none(body.get("start_time"))
        if start_time is None:
            start_time = end_time - 30 * 86400
        if end_time <= start_time:
            raise SimError("end_time must be after start_time.")
        template = {
            k: v
            for k, v in body.items()
            if k not in ("count", "start_time", "end_time", "external_key_prefix")
        }
        template.setdefault("send_events", False)
        prefix = body.get("external_key_prefix")
        span = end_time - start_time
        reps = [r["id"] for r in self.reps.values() if r.get("logged_in")] or [1]
        customers = [c["name"] for c in self.seed["customers"]] or ["Abel Tuter"]
        lsids = []
        for i in range(count):
            s = start_time + (span * i) // count
            length = 120 + (i * 37) % 1500
            e = min(s + length, end_time)
            script = dict(template)
            script["start_time"], script["end_time"] = s, e
            script.setdefault("rep", reps[i % len(reps)])
            if "customer" not in template:
                script["customer"] = customers[i % len(customers)]
            if prefix is not None:
                script["external_key"] = f"{prefix}{i + 1:07d}"
            lsids.append(self.play(script).lsid)
        return lsids
