"""3PA exactly once when ServiceNow, SAP or the directory fail after acting, or a claim is lost.

The worker is driven pass by pass in the test's thread (no background worker), and each fault is
scripted to hit exactly the write it is about, so the order of events is the same on every run.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from connector.demo.tpa import TpaStack, running_tpa_stack
from connector.store import claim_token
from connector.tpa import QUEUE
from connector.tpa.runtime import TpaServices
from connector.tpa.worker import TpaWorker
from tests.e2e.tpa.conftest import FAST, notes

pytestmark = pytest.mark.slow

ANSWERS = json.dumps({"company_id": "P-1", "region": "EMEA"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TpaStack]:
    """A stack without a background worker: the tests run passes themselves."""
    with running_tpa_stack(
        str(tmp_path_factory.mktemp("tpa-once")),
        worker=False,
        **{**FAST, "tpa.api.wait_seconds": 0.0},
    ) as s:
        yield s


@pytest.fixture
def tpa(stack: TpaStack) -> TpaServices:
    """Return 3PA services over the stack."""
    return TpaServices(stack.services)


def script_sn(stack: TpaStack, **rule) -> None:
    """Queue one scripted fault on the ServiceNow emulator."""
    reply = requests.post(
        f"{stack.stack.servicenow_url}/_sim/faults/script", json=[rule], timeout=10
    )
    assert reply.status_code == 200, reply.text


def drain(tpa: TpaServices, key: str, timeout: float = 30) -> str:
    """Run passes until the job is done or dead; return its state."""
    worker = TpaWorker(tpa, threads=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            state = tpa.store.job_state(key)
            if state in ("done", "dead"):
                return state
            if not worker.run_once():
                time.sleep(0.05)
    finally:
        worker.leases.close()
    return tpa.store.job_state(key) or ""


def submit(stack: TpaStack, email: str) -> str:
    sys_id = stack.submit("partner-portal", email, u_answers=ANSWERS, u_phone="+1 100")
    assert stack.api("POST", f"/requests/{sys_id}").status_code == 202  # queued, not waited
    return sys_id


def email() -> str:
    return f"once-{uuid.uuid4().hex[:8]}@partner.example.com"


def test_write_back_lost_after_the_instance_committed_is_not_written_twice(stack, tpa):
    """The final PATCH commits but answers 500: the retry re-reads and writes no second note."""
    address = email()
    sys_id = submit(stack, address)
    script_sn(
        stack,
        match=r"^PATCH /api/now/table/u_3pa_access_request/\{sys_id\}$",
        fault="error",
        status=500,
        phase="after",
        skip=1,  # the first PATCH approves; the second writes the result
    )
    assert drain(tpa, f"3pa:{sys_id}") == "done"
    job = tpa.store.job(f"3pa:{sys_id}")
    assert job.attempts == 1 and "nothing to do" in job.last_error
    assert stack.request(sys_id)["u_state"] == "active"
    assert len(notes(stack, "u_3pa_access_request", sys_id, f"[3PA {sys_id} active]")) == 1
    assert len(notes(stack, "u_3pa_access_request", sys_id, f"[3PA {sys_id} approved]")) == 1


def test_sap_answers_lost_after_acting_create_one_user_and_one_membership(stack, tpa):
    """SCIM create and group PATCH land but answer 503: one SAP user, one membership."""
    address = email()
    sys_id = submit(stack, address)
    stack.scim_app.script("POST", r"/v2/Users$", "after")
    stack.scim_app.script("PATCH", r"/v2/Groups/", "after")
    assert drain(tpa, f"3pa:{sys_id}") == "done"
    assert stack.request(sys_id)["u_state"] == "active"
    from connector.sim.scim import list_resources

    users = [
        u
        for u in list_resources(stack.scim_url, "demo-scim-token", "Users")
        if u["userName"] == address
    ]
    assert len(users) == 1
    role = tpa.sap.find_group("PartnerPortal_User")
    members = [
        m
        for m in tpa.sap.client.query(type(role), str(role.id)).members or []
        if str(m.value) == users[0]["id"]
    ]
    assert len(members) == 1
    assert tpa.store.job(f"3pa:{sys_id}").attempts == 2


def test_profile_rows_lost_after_insert_keep_the_true_before_values(stack, tpa):
    """A before/after row inserted but answered 500: no second row, and 'before' is still the
    value read before the change (the retry must not read the new value as 'before')."""
    address = email()
    sys_id = submit(stack, address)
    assert drain(tpa, f"3pa:{sys_id}") == "done"
    change = stack.sn.create_record(
        "u_3pa_profile_change",
        {
            "u_user_name": address,
            "u_changes": json.dumps({"phone": "+1 200"}),
            "u_state": "submitted",
        },
    )["sys_id"]
    script_sn(
        stack,
        match="^POST /api/now/table/u_3pa_profile_change_value$",
        fault="error",
        status=500,
        phase="after",
    )
    stack.api("POST", f"/profile-changes/{change}")
    assert drain(tpa, f"3pa:profile:{change}") == "done"
    rows = stack.sn.query("u_3pa_profile_change_value", f"u_change={change}")
    assert [(r["u_before"], r["u_after"]) for r in rows] == [("+1 100", "+1 200")]
    record = stack.sn.get_record("u_3pa_profile_change", change)
    assert record["u_state"] == "applied"
    (line,) = [x for x in record["u_summary"].splitlines() if x.startswith("phone")]
    assert [c.strip() for c in line.split("|")] == ["phone", "telephoneNumber", "+1 100", "+1 200"]


def test_a_directory_outage_is_retried_not_dead_lettered(stack, tpa):
    """With slapd down the job waits and retries; once it is back the request is applied once."""
    address = email()
    sys_id = submit(stack, address)
    stack.slapd.stop()
    try:
        worker = TpaWorker(tpa, threads=1)
        worker.run_once()
        worker.leases.close()
        job = tpa.store.job(f"3pa:{sys_id}")
        assert job.state == "pending" and "DirectoryUnavailable" in job.last_error
    finally:
        stack.slapd.start()
    assert drain(tpa, f"3pa:{sys_id}") == "done"
    assert stack.request(sys_id)["u_state"] == "active"


def test_a_lost_claim_stops_writing_and_the_new_holder_finishes_once(stack, tpa):
    """A worker whose lease was taken over writes nothing more; the new holder applies it once."""
    address = email()
    sys_id = submit(stack, address)
    key = f"3pa:{sys_id}"
    old = claim_token()
    (stale,) = tpa.store.claim(old, 1, 0.01, queue=QUEUE)
    time.sleep(0.05)
    (taken,) = tpa.store.claim(claim_token(), 1, 300, queue=QUEUE)  # lease lapsed: taken over
    worker = TpaWorker(tpa, threads=1)
    worker.process(stale)  # the old holder wakes up
    assert tpa.directory.find_user("uid", address, "inetOrgPerson") is None
    assert tpa.services.metrics.value("connector_3pa_claims_lost_total") >= 1
    worker.process(taken)
    worker.leases.close()
    assert tpa.store.job_state(key) == "done"
    assert len(notes(stack, "u_3pa_access_request", sys_id, f"[3PA {sys_id} active]")) == 1


def test_dead_letters_are_listed_and_replayed(stack, tpa):
    """A job for a request that vanished is dead-lettered with the reason; --retry re-runs it."""
    key = f"3pa:{'e' * 32}"
    tpa.store.queue_sessions([key], "test", queue=QUEUE)
    assert drain(tpa, key) == "dead"
    (row,) = [r for r in tpa.store.jobs("dead", queue=QUEUE) if r.lsid == key]
    assert "no access request" in row.last_error
    assert tpa.store.retry_dead([key], queue=QUEUE) == 1
    assert tpa.store.job_state(key) == "pending"
