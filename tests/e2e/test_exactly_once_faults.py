"""Exactly once when ServiceNow fails the way instances fail: after acting, inside a batch, slowly.

Each test pins one hole: the emulator's scripted faults hit exactly the write it is about, and
the importer is driven pass by pass so the order of events is the same on every run.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml

from connector.demo import DEMO_WEBHOOK_TOKEN, landed, running_stack, wait_for
from connector.mapping import default_mapping_paths
from connector.store import claim_token

INC1 = "a5000000000000000000000000000001"

pytestmark = pytest.mark.slow


def play(stack, **body) -> str:
    """Play a scripted session on the appliance emulator; its events reach the connector."""
    reply = requests.post(f"{stack.bomgar_url}/_sim/sessions", json=body, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.json()["lsid"]


def post_event(stack, event: str, lsid: str, external_key: str) -> None:
    """Post one outbound event to the connector as the appliance would."""
    reply = requests.post(
        f"{stack.connector_url}/bomgar/events",
        params={"outbound_event_token": DEMO_WEBHOOK_TOKEN},
        data={
            "event": event,
            "version": "3",
            "timestamp": str(int(time.time())),
            "appliance_id": "sim",
            "lsid": lsid,
            "external_key": external_key,
        },
        timeout=10,
    )
    assert reply.status_code == 200, reply.text


def script(stack, *rules: dict) -> None:
    """Queue scripted faults on the ServiceNow emulator."""
    reply = requests.post(
        f"{stack.servicenow_url}/_sim/faults/script", json=list(rules), timeout=10
    )
    assert reply.status_code == 200, reply.text


def queued(stack, *lsids: str, events: int | None = None) -> None:
    """Wait until the appliance's events for these sessions are stored (nothing imports yet)."""
    store = stack.services.store
    assert wait_for(lambda: all(store.job_state(x) == "pending" for x in lsids), 20)
    if events is not None:
        assert wait_for(lambda: sum(store.event_counts().values()) >= events * len(lsids), 20), (
            store.event_counts()
        )


def drain(stack, *lsids: str, timeout: float = 60) -> None:
    """Run import passes in this thread until every session is settled (done or dead)."""
    store = stack.services.store
    importer = stack.services.importer()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(store.job_state(x) in ("done", "dead") for x in lsids):
            return
        if not importer.run_once():
            time.sleep(0.1)
    raise AssertionError([(r.lsid, r.state, r.last_error) for r in store.jobs()])


def journal(stack, ticket: str, lsid: str) -> list[dict[str, str]]:
    """Return every journal entry on the ticket carrying the session's marker, any field."""
    return stack.services.servicenow.query(
        "sys_journal_field", f"element_id={ticket}^valueLIKEBomgar session {lsid}"
    )


def survey_keys(stack, lsid: str) -> Counter:
    """Count survey rows per (survey type, question) for one session."""
    rows = landed(stack, lsid)["surveys"]
    return Counter((r["u_survey_type"], r["u_question"]) for r in rows)


def comments_mappings(tmp_path: Path) -> str:
    """Copy the default mappings with the session note written as a comment."""
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in default_mapping_paths():
        shutil.copy(path, folder / path.name)
    note = folder / "work_note.yaml"
    data = yaml.safe_load(note.read_text())
    data["work_note"]["element"] = "comments"
    note.write_text(yaml.safe_dump(data))
    return str(folder)


def test_a_comment_whose_answer_was_lost_is_not_written_again(tmp_path):
    """The note goes to comments; its write commits but answers 500; the retry writes no twin."""
    with running_stack(str(tmp_path), worker=False, mappings=comments_mappings(tmp_path)) as stack:
        lsid = play(stack, external_key=INC1)
        queued(stack, lsid)
        script(
            stack,
            {
                "match": "^batch PATCH /api/now/table/incident/",
                "fault": "error",
                "phase": "after",
                "status": 500,
            },
        )
        drain(stack, lsid)
        entries = journal(stack, INC1, lsid)
        assert [e["element"] for e in entries] == ["comments"]
        assert stack.services.store.job_state(lsid) == "done"


def test_survey_rows_are_keyed_the_same_through_either_report(tmp_path):
    """Rows written from the exit-survey report are found again when the survey comes inline."""
    with running_stack(str(tmp_path), worker=False) as stack:
        lsid = play(
            stack, external_key=INC1, surveys_in_report=False, rep_survey=False, send_events=False
        )
        # Only the survey event arrives: the answers come from the exit-survey report.
        post_event(stack, "support_conference_customer_exit_survey_completed", lsid, INC1)
        queued(stack, lsid)
        drain(stack, lsid)
        first = survey_keys(stack, lsid)
        assert sum(first.values()) == 3 and set(first.values()) == {1}
        # The report now carries the survey lists: a replay reads the answers from there.
        requests.post(
            f"{stack.bomgar_url}/_sim/sessions/{lsid}/report",
            json={"surveys_in_report": True},
            timeout=10,
        ).raise_for_status()
        stack.services.store.queue_sessions([lsid], "replay", force=True)
        drain(stack, lsid)
        assert survey_keys(stack, lsid) == first
        labels = {r["u_question_label"] for r in landed(stack, lsid)["surveys"]}
        assert "How would you rate this support session?" in labels


def test_a_survey_event_that_arrives_while_the_job_is_pending_is_honoured(tmp_path):
    """End and survey events queue one job; the surveys missing from the report are pulled."""
    with running_stack(str(tmp_path), worker=False) as stack:
        lsid = play(stack, external_key=INC1, surveys_in_report=False)
        queued(stack, lsid, events=5)
        drain(stack, lsid)
        assert Counter(t for t, _ in survey_keys(stack, lsid).elements()) == {
            "customer": 3,
            "representative": 2,
        }


def test_a_pass_held_up_by_retry_after_keeps_its_claim(tmp_path):
    """A write held up 8 s by a 429 outlives a 5 s lease; renewal keeps a second thread out."""
    with running_stack(
        str(tmp_path),
        worker=False,
        **{"worker.lease_seconds": 5, "servicenow.write_settle_seconds": 0.5},
    ) as stack:
        lsid = play(stack, external_key=INC1)
        queued(stack, lsid)
        # The third batch of a pass is its first write: ticket look-up, read, then write.
        script(
            stack,
            {
                "match": "^POST /api/now/v1/batch$",
                "skip": 2,
                "fault": "error",
                "status": 429,
                "retry_after": 8,
            },
        )
        slow = threading.Thread(target=stack.services.importer().run_once)
        slow.start()
        time.sleep(6.5)  # the first lease has lapsed and settle has passed
        claimed = stack.services.importer().run_once()
        slow.join(30)
        drain(stack, lsid)
        assert claimed == 0
        data = landed(stack, lsid)
        assert len(data["session"]) == 1
        assert len(journal(stack, INC1, lsid)) == 1


def test_a_claim_taken_over_stops_before_its_next_write(tmp_path):
    """A pass whose claim another worker took over writes nothing; the new holder writes once."""
    with running_stack(str(tmp_path), worker=False) as stack:
        lsid = play(stack, external_key=INC1)
        queued(stack, lsid)
        store = stack.services.store
        importer = stack.services.importer()
        jobs = store.claim(claim_token(), 10, 5)
        # Another worker takes the session over once the lease has run out (simulated clock).
        [taken] = store.claim(claim_token(), 10, 300, now=time.time() + 60)
        importer.import_jobs(jobs)
        assert landed(stack, lsid)["session"] == []
        assert journal(stack, INC1, lsid) == []
        importer.import_jobs([taken])
        assert store.job_state(lsid) == "done"
        assert len(landed(stack, lsid)["session"]) == 1
        assert len(journal(stack, INC1, lsid)) == 1


def test_an_incident_insert_that_lands_late_is_found_not_duplicated(tmp_path):
    """The incident insert times out and lands later; the retry waits and finds it."""
    with running_stack(
        str(tmp_path),
        worker=False,
        **{
            "worker.auto_create_incident": True,
            "servicenow.timeout_seconds": 1,
            "servicenow.write_settle_seconds": 3.0,
        },
    ) as stack:
        lsid = play(stack)
        queued(stack, lsid)
        script(
            stack,
            {
                "match": "^POST /api/now/table/incident$",
                "fault": "timeout",
                "phase": "before",
                "hold_seconds": 2.0,
            },
        )
        started = time.monotonic()
        drain(stack, lsid)
        # Let the held insert land before counting: it does 2 s after it was sent.
        time.sleep(max(0.0, started + 2.5 - time.monotonic()))
        created = stack.services.servicenow.query("incident", f"correlation_id={lsid}")
        assert len(created) == 1
        assert landed(stack, lsid)["session"][0]["u_task"] == created[0]["sys_id"]


def test_unconvertible_report_data_dead_letters_only_that_session(tmp_path):
    """A duration of "²" or with 5,000-digit hours sends its session to the dead letters, alone."""
    with running_stack(str(tmp_path), worker=False) as stack:
        superscript = play(stack, external_key=INC1, report_overrides={"duration": "²"})
        huge = play(stack, external_key=INC1, report_overrides={"duration": "9" * 5000 + ":00:00"})
        healthy = play(stack, external_key=INC1)
        queued(stack, superscript, huge, healthy)
        drain(stack, superscript, huge, healthy)
        store = stack.services.store
        dead = {r.lsid: r for r in store.jobs("dead")}
        assert set(dead) == {superscript, huge}
        assert all(r.attempts == 1 and "duration" in (r.last_error or "") for r in dead.values())
        assert store.job_state(healthy) == "done"
        assert landed(stack, superscript)["session"] == []


def test_a_report_too_large_dead_letters_only_its_session(tmp_path):
    """One session's huge report splits the group; its neighbours import, it alone ends dead."""
    with running_stack(str(tmp_path), worker=False, **{"bomgar.max_report_bytes": 40_000}) as stack:
        small = [play(stack, external_key=INC1) for _ in range(3)]
        big = play(stack, external_key=INC1, chat=["x" * 200] * 200)
        lsids = [*small[:2], big, small[2]]
        queued(stack, *lsids)
        drain(stack, *lsids)
        store = stack.services.store
        assert [r.lsid for r in store.jobs("dead")] == [big]
        assert "ReportTooLarge" in (store.jobs("dead")[0].last_error or "")
        assert all(store.job_state(x) == "done" for x in small)
        # Retrying every dead letter regroups them; still only the bad one ends dead.
        store.retry_dead()
        store.queue_sessions(small, "replay", force=True)
        drain(stack, *lsids)
        assert [r.lsid for r in store.jobs("dead")] == [big]


def test_a_session_record_written_without_a_sys_id_is_not_taken_as_done(tmp_path):
    """The insert commits but its answer has no body: survey rows still come, once."""
    with running_stack(str(tmp_path), worker=False) as stack:
        lsid = play(stack, external_key=INC1)
        queued(stack, lsid)
        script(
            stack,
            {
                "match": "^batch POST /api/now/table/u_bomgar_session$",
                "fault": "empty",
                "phase": "after",
            },
        )
        drain(stack, lsid)
        data = landed(stack, lsid)
        assert len(data["session"]) == 1
        assert len(data["surveys"]) == 5
        assert all(r["u_session"] == data["session"][0]["sys_id"] for r in data["surveys"])


def test_a_session_record_the_instance_refuses_as_a_duplicate_is_adopted(tmp_path):
    """The insert's answer is lost, the re-read misses it; the unique lsid refusal is adopted."""
    with running_stack(str(tmp_path), worker=False) as stack:
        lsid = play(stack, external_key=INC1)
        queued(stack, lsid)
        script(
            stack,
            {
                "match": "^batch POST /api/now/table/u_bomgar_session$",
                "fault": "error",
                "phase": "after",
                "status": 500,
            },
            {
                "match": "^batch GET /api/now/table/u_bomgar_session$",
                "skip": 1,
                "fault": "empty",
                "phase": "after",
            },
        )
        drain(stack, lsid)
        assert stack.services.store.job_state(lsid) == "done"
        data = landed(stack, lsid)
        assert len(data["session"]) == 1 and len(data["surveys"]) == 5
        assert len(journal(stack, INC1, lsid)) == 1
