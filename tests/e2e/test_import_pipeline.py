"""The import pipeline end to end: both emulators and the connector over real sockets."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import requests
import yaml

from connector.demo import DEMO_WEBHOOK_TOKEN, landed, running_stack, wait_for

INC1 = "a5000000000000000000000000000001"
INC2 = "a5000000000000000000000000000002"
JANE = "a1000000000000000000000000000001"

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path):
    with running_stack(str(tmp_path)) as s:
        yield s


def play(stack, **body) -> str:
    reply = requests.post(f"{stack.bomgar_url}/_sim/sessions", json=body, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.json()["lsid"]


def sim_session(stack, lsid: str) -> dict:
    return requests.get(f"{stack.bomgar_url}/_sim/sessions/{lsid}", timeout=10).json()


def wait_done(stack, *lsids: str, timeout: float = 30) -> None:
    store = stack.services.store
    ok = wait_for(lambda: all(store.job_state(x) == "done" for x in lsids), timeout)
    assert ok, [(r.lsid, r.state, r.last_error) for r in store.jobs() if r.lsid in lsids]


def post_event(stack, event: str, lsid: str, timestamp: int, external_key: str = "") -> int:
    reply = requests.post(
        f"{stack.connector_url}/bomgar/events",
        params={"outbound_event_token": DEMO_WEBHOOK_TOKEN},
        data={
            "event": event,
            "version": "3",
            "timestamp": str(timestamp),
            "appliance_id": "sim",
            "lsid": lsid,
            "external_key": external_key,
        },
        timeout=10,
    )
    return reply.status_code


def assert_exactly_once(stack, lsid: str, *, surveys: int) -> dict:
    data = landed(stack, lsid)
    assert len(data["session"]) == 1, data["session"]
    markers = [n for n in data["notes"] if f"[Bomgar session {lsid}]" in n["value"]]
    assert len(markers) == 1, data["notes"]
    keys = Counter((r["u_survey_type"], r["u_question"]) for r in data["surveys"])
    assert all(n == 1 for n in keys.values()), keys
    assert len(data["surveys"]) == surveys
    return data


def test_full_session_lands_exactly_as_listed(stack):
    """A session with chat, files, notes, system info and both surveys lands field for field."""
    lsid = play(stack, external_key=INC1)
    wait_done(stack, lsid)
    data = assert_exactly_once(stack, lsid, surveys=5)
    record = data["session"][0]
    report = stack.services.bomgar.support_session(lsid)
    assert record["u_lsid"] == lsid
    assert record["u_task"] == INC1
    assert record["u_primary_rep"] == JANE
    assert record["u_rep_name"] == "Jane Rep"
    assert record["u_customer_name"] == "Abel Tuter"
    assert record["u_customer_hostname"] == "ws-lab-0042"
    assert record["u_duration"] == str(report.duration_seconds)
    assert record["u_start_time"] == report.start_time.strftime("%Y-%m-%d %H:%M:%S")
    assert record["u_end_time"] == report.end_time.strftime("%Y-%m-%d %H:%M:%S")
    assert record["u_file_transfer_count"] == "2"
    for line in report.chat:
        assert line.body.splitlines()[0] in record["u_chat_transcript"]
    assert "Overview" in record["u_system_info"]
    assert record["u_chat_url"] == report.chat_view_url or record["u_chat_url"]
    note = data["notes"][0]["value"]
    for needle in ("Jane Rep", "Abel Tuter", report.files[0].filename, report.notes[0].body):
        assert needle in note
    types = Counter(r["u_survey_type"] for r in data["surveys"])
    assert types == {"customer": 3, "representative": 2}
    for row in data["surveys"]:
        assert row["u_session"] == record["sys_id"]
        assert row["u_task"] == INC1
        assert row["u_lsid"] == lsid
    assert data["attachments"] == []


def test_long_chat_is_attached_and_field_truncated(stack):
    """A transcript longer than the field goes whole into an attachment on the session record."""
    lines = [f"line {n}: " + "x" * 80 for n in range(80)]
    lsid = play(stack, external_key=INC1, chat=lines)
    wait_done(stack, lsid)
    data = assert_exactly_once(stack, lsid, surveys=5)
    assert len(data["session"][0]["u_chat_transcript"]) <= 4000
    assert [a["file_name"] for a in data["attachments"]] == [f"chat-transcript-{lsid}.txt"]
    att = data["attachments"][0]
    body = requests.get(
        f"{stack.servicenow_url}/api/now/attachment/{att['sys_id']}/file",
        auth=("admin", "admin"),
        timeout=10,
    ).text
    assert "line 79" in body and "line 0" in body


def test_ticket_by_number_and_missing_ticket_and_no_ticket(stack):
    """External keys may be task numbers; an unknown ticket is dead-lettered; none is skipped."""
    by_number = play(stack, external_key="INC0000002")
    missing = play(stack, external_key="INC0099999")
    no_key = play(stack, external_key="")
    store = stack.services.store
    assert wait_for(
        lambda: (
            [store.job_state(x) for x in (by_number, missing, no_key)] == ["done", "dead", "done"]
        ),
        30,
    ), [(r.lsid, r.state, r.last_error) for r in store.jobs()]
    assert landed(stack, by_number)["session"][0]["u_task"] == INC2
    dead = {r.lsid: r.last_error for r in store.jobs("dead")}
    assert "INC0099999" in dead[missing]
    assert landed(stack, missing)["session"] == []
    assert landed(stack, no_key)["session"] == []


def test_duplicated_and_reordered_events_import_once(stack):
    """Survey-before-end, repeated and late events all end in one set of records."""
    lsid = play(stack, external_key=INC1, send_events=False)
    ts = int(time.time())
    events = [
        ("support_conference_customer_exit_survey_completed", ts + 2),
        ("support_conference_end", ts),
        ("support_conference_end", ts),
        ("support_conference_begin", ts - 300),
        ("support_conference_rep_exit_survey_completed", ts + 3),
        ("support_conference_customer_exit_survey_completed", ts + 2),
    ]
    for name, when in events:
        assert post_event(stack, name, lsid, when, INC1) == 200
    wait_done(stack, lsid)
    # Late redeliveries after the import re-run it; nothing may be written twice.
    for name, when in random.Random(4).sample(events, len(events)):
        assert post_event(stack, name, lsid, when, INC1) == 200
    assert post_event(stack, "support_conference_end", lsid, ts + 60, INC1) == 200
    wait_done(stack, lsid)
    time.sleep(0.5)
    wait_done(stack, lsid)
    assert_exactly_once(stack, lsid, surveys=5)


def test_event_that_never_arrives_is_found_by_the_poller(tmp_path):
    """A session whose events were never sent is imported by the missed-session poller."""
    with running_stack(str(tmp_path), **{"poller.interval_seconds": 1.0}) as stack:
        lsid = play(stack, external_key=INC1, send_events=False)
        wait_done(stack, lsid, timeout=30)
        assert_exactly_once(stack, lsid, surveys=5)
        assert stack.services.store.jobs()[0].reason == "poller"


def test_survey_completed_after_import_adds_its_rows(stack):
    """A survey submitted after the session was imported adds rows, and no second work note."""
    lsid = play(stack, external_key=INC1, customer_survey=False, rep_survey=False)
    wait_done(stack, lsid)
    assert_exactly_once(stack, lsid, surveys=0)
    reply = requests.post(
        f"{stack.bomgar_url}/_sim/sessions/{lsid}/surveys",
        json={"customer": {"rating": "4", "resolved": "Yes", "comments": "ok"}},
        timeout=10,
    )
    assert reply.status_code < 300, reply.text
    store = stack.services.store
    assert wait_for(lambda: len(landed(stack, lsid)["surveys"]) == 3, 30), store.jobs()
    wait_done(stack, lsid)
    assert_exactly_once(stack, lsid, surveys=3)


def test_servicenow_throttling_errors_and_timeouts(tmp_path):
    """429s with Retry-After, 5xx, dropped connections and timeouts still give exactly once."""
    with running_stack(
        str(tmp_path),
        **{
            "servicenow.timeout_seconds": 1.0,
            "worker.batch_size": 3,
            # The emulator finishes a "timed out" write after 1.5 s; re-check only after that.
            "servicenow.write_settle_seconds": 2.0,
        },
    ) as stack:
        requests.post(
            f"{stack.servicenow_url}/_sim/faults",
            json={
                "error_rate": 0.15,
                "error_statuses": [429, 500, 503],
                "drop_rate": 0.05,
                "timeout_rate": 0.05,
                "timeout_seconds": 1.5,
                "seed": 11,
            },
            timeout=10,
        ).raise_for_status()
        lsids = [play(stack, external_key=random.choice([INC1, INC2])) for _ in range(8)]
        wait_done(stack, *lsids, timeout=120)
        calm = {"error_rate": 0, "drop_rate": 0, "timeout_rate": 0}
        requests.post(
            f"{stack.servicenow_url}/_sim/faults", json=calm, timeout=10
        ).raise_for_status()
        for lsid in lsids:
            assert_exactly_once(stack, lsid, surveys=5)
        assert stack.services.store.counts()["dead"] == 0


def _start_worker(config_file) -> subprocess.Popen:
    with open(config_file.with_suffix(".log"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "connector", "worker", "--config", str(config_file)],
            stdout=log,
            stderr=log,
        )


def _rows(stack, table: str) -> int:
    return len(stack.servicenow_sim.store.by_table[table])


def test_worker_killed_mid_import_and_restarted(tmp_path):
    """SIGKILL right after each kind of write, before the ledger records it, duplicates nothing."""
    with running_stack(
        str(tmp_path / "state"),
        worker=False,
        servicenow_options={"faults": {"latency_ms": 150}},
        **{
            "worker.batch_size": 2,
            "poller.enabled": False,
            "servicenow.write_settle_seconds": 1.0,
        },
    ) as stack:
        config_file = tmp_path / "connector.yaml"
        config_file.write_text(yaml.safe_dump(stack.config.as_values()))
        lsids = [play(stack, external_key=INC1 if n % 2 else INC2) for n in range(6)]
        assert wait_for(lambda: stack.services.store.counts()["pending"] == len(lsids), 20), (
            stack.services.store.counts()
        )
        # Kill as soon as a work note, a session record or a survey row lands: the worker has
        # not yet recorded it (its next call takes 150 ms), so the restart must find it.
        for table in ("sys_journal_field", "u_bomgar_session", "u_bomgar_survey_response"):
            before = _rows(stack, table)
            worker = _start_worker(config_file)
            try:
                assert wait_for(lambda t=table, b=before: _rows(stack, t) > b, 20, 0.005)
            finally:
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(10)
        log = config_file.with_suffix(".log")
        log.write_text("")
        worker = _start_worker(config_file)
        try:
            wait_done(stack, *lsids, timeout=90)
            assert wait_for(lambda: "worker started" in log.read_text(), 30)
        finally:
            worker.terminate()
            assert worker.wait(30) == 0
        for lsid in lsids:
            assert_exactly_once(stack, lsid, surveys=5)


def test_auto_created_incident_for_a_session_without_ticket(tmp_path):
    """With auto-create on, a session without a ticket gets one incident, even when replayed."""
    with running_stack(str(tmp_path), **{"worker.auto_create_incident": True}) as stack:
        lsid = play(stack, external_key="")
        wait_done(stack, lsid)
        sn = stack.services.servicenow
        created = sn.query("incident", f"correlation_id={lsid}")
        assert len(created) == 1
        stack.services.store.queue_sessions([lsid], "replay", force=True)
        wait_done(stack, lsid)
        assert len(sn.query("incident", f"correlation_id={lsid}")) == 1
        assert_exactly_once(stack, lsid, surveys=5)
        assert landed(stack, lsid)["session"][0]["u_task"] == created[0]["sys_id"]
