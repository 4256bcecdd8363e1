"""Faults after the request took effect, per-item Batch API faults, and injected-fault counts."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from tests.sim.servicenow.conftest import INC1, Sim


def incidents(sim: Sim, description: str) -> list[dict[str, str]]:
    """Return the incidents carrying a short description (read with faults off)."""
    with sim.state.store.lock:
        return [
            dict(r)
            for r in sim.state.store.by_table["incident"].values()
            if r.get("short_description") == description
        ]


def injected(sim: Sim) -> dict[str, dict[str, int]]:
    """Return the faults the emulator reports having injected."""
    return requests.get(f"{sim.url}/_sim/stats", timeout=10).json()["faults"]


def batch_body(*descriptions: str) -> dict[str, object]:
    """Build a Batch API body inserting one incident per description."""
    return {
        "batch_request_id": "1",
        "rest_requests": [
            {
                "id": str(n),
                "method": "POST",
                "url": "/api/now/table/incident",
                "headers": [
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Accept", "value": "application/json"},
                ],
                "body": base64.b64encode(json.dumps({"short_description": d}).encode()).decode(),
            }
            for n, d in enumerate(descriptions)
        ],
    }


@pytest.mark.parametrize("status", [500, 503])
def test_error_after_commits_the_write_then_answers_the_error(sim: Sim, status: int) -> None:
    """error_after_rate 1: the insert is committed, yet the caller sees the instance's 5xx."""
    sim.state.configure_faults({"error_after_rate": 1.0, "error_after_statuses": [status]})
    r = sim.call("POST", "/api/now/table/incident", json={"short_description": "after-5xx"})
    assert r.status_code == status and r.json()["status"] == "failure"
    assert len(incidents(sim, "after-5xx")) == 1
    assert injected(sim) == {"error": {"after": 1}}


def test_error_before_writes_nothing_and_is_counted(sim: Sim) -> None:
    """error_rate 1: nothing is written, and the fault is counted as injected before."""
    sim.state.configure_faults({"error_rate": 1.0, "error_statuses": [500]})
    r = sim.call("POST", "/api/now/table/incident", json={"short_description": "before-5xx"})
    assert r.status_code == 500
    assert incidents(sim, "before-5xx") == []
    assert injected(sim) == {"error": {"before": 1}}


def test_drop_after_commits_the_write_then_resets_the_connection(sim: Sim) -> None:
    """drop_after_rate 1: the caller gets a reset connection, but the record exists."""
    sim.state.configure_faults({"drop_after_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        sim.call("POST", "/api/now/table/incident", json={"short_description": "after-drop"})
    assert len(incidents(sim, "after-drop")) == 1
    assert injected(sim) == {"drop": {"after": 1}}


def test_drop_before_writes_nothing(sim: Sim) -> None:
    """drop_rate 1: the connection is reset and nothing is written."""
    sim.state.configure_faults({"drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        sim.call("POST", "/api/now/table/incident", json={"short_description": "before-drop"})
    assert incidents(sim, "before-drop") == []
    assert injected(sim) == {"drop": {"before": 1}}


def test_timeout_after_commits_at_once_and_holds_the_answer(sim: Sim) -> None:
    """timeout_after_rate 1: the record is there at once while the caller's read times out."""
    sim.state.configure_faults({"timeout_after_rate": 1.0, "timeout_seconds": 1.5})
    with pytest.raises(requests.ReadTimeout):
        sim.call(
            "POST", "/api/now/table/incident", json={"short_description": "t-after"}, timeout=0.5
        )
    assert len(incidents(sim, "t-after")) == 1
    time.sleep(1.2)  # let the held answer go before the next test resets the emulator


def test_timeout_before_lands_the_write_late(sim: Sim) -> None:
    """timeout_rate 1: the caller times out first, and the write lands after the hold."""
    sim.state.configure_faults({"timeout_rate": 1.0, "timeout_seconds": 1.0})
    with pytest.raises(requests.ReadTimeout):
        sim.call(
            "POST", "/api/now/table/incident", json={"short_description": "t-before"}, timeout=0.3
        )
    assert incidents(sim, "t-before") == []
    deadline = time.monotonic() + 5
    while not incidents(sim, "t-before") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(incidents(sim, "t-before")) == 1
    assert injected(sim) == {"timeout": {"before": 1}}


def test_after_faults_apply_to_a_whole_batch(sim: Sim) -> None:
    """A Batch API call faulted after taking effect commits every item, then answers 500."""
    sim.state.configure_faults({"error_after_rate": 1.0, "error_after_statuses": [500]})
    r = sim.call("POST", "/api/now/v1/batch", json=batch_body("wb-1", "wb-2"))
    assert r.status_code == 500
    assert len(incidents(sim, "wb-1")) == 1 and len(incidents(sim, "wb-2")) == 1


@pytest.mark.parametrize("status", [429, 500, 403, 400])
def test_batch_items_fail_on_their_own_without_running(sim: Sim, status: int) -> None:
    """batch_item_error_rate 1: every item answers the status in its own entry; none is written."""
    sim.state.configure_faults(
        {"batch_item_error_rate": 1.0, "batch_item_error_statuses": [status]}
    )
    r = sim.call("POST", "/api/now/v1/batch", json=batch_body("bi-1", "bi-2"))
    assert r.status_code == 200
    items = r.json()["serviced_requests"]
    assert [i["status_code"] for i in items] == [status, status]
    body = json.loads(base64.b64decode(items[0]["body"]))
    assert body["status"] == "failure" and body["error"]["message"]
    if status == 429:
        assert {"name": "Retry-After", "value": "1"} in items[0]["headers"]
    assert incidents(sim, "bi-1") == [] and incidents(sim, "bi-2") == []
    assert injected(sim) == {"batch_item_error": {"before": 2}}


def test_batch_items_can_commit_and_lose_their_answer(sim: Sim) -> None:
    """batch_item_error_after_rate 1: each item is committed, and its entry says 500."""
    sim.state.configure_faults({"batch_item_error_after_rate": 1.0})
    r = sim.call("POST", "/api/now/v1/batch", json=batch_body("ba-1", "ba-2"))
    assert [i["status_code"] for i in r.json()["serviced_requests"]] == [500, 500]
    assert len(incidents(sim, "ba-1")) == 1 and len(incidents(sim, "ba-2")) == 1
    assert injected(sim) == {"batch_item_error": {"after": 2}}


def test_mixed_item_faults_leave_the_healthy_items_committed(sim: Sim) -> None:
    """With half the items failing before they run, exactly the 201 items are in the table."""
    sim.state.configure_faults(
        {"batch_item_error_rate": 0.5, "batch_item_error_statuses": [429], "seed": 3}
    )
    names = [f"mix-{n}" for n in range(20)]
    items = sim.call("POST", "/api/now/v1/batch", json=batch_body(*names)).json()[
        "serviced_requests"
    ]
    written = {n for n in names if incidents(sim, n)}
    ok = {names[int(i["id"])] for i in items if i["status_code"] == 201}
    failed = {names[int(i["id"])] for i in items if i["status_code"] == 429}
    assert written == ok and ok and failed and not (ok & failed)


def test_batch_time_budget_cutoff_leaves_the_rest_unserviced(sim: Sim) -> None:
    """batch_cutoff_rate 1: items from a random point on are unserviced and were not run."""
    sim.state.configure_faults({"batch_cutoff_rate": 1.0, "seed": 11})
    names = [f"cut-{n}" for n in range(10)]
    body = sim.call("POST", "/api/now/v1/batch", json=batch_body(*names)).json()
    serviced = [i["id"] for i in body["serviced_requests"]]
    unserviced = body["unserviced_requests"]
    assert unserviced and serviced + unserviced == [str(n) for n in range(10)]
    assert {n for n in names if incidents(sim, n)} == {names[int(i)] for i in serviced}
    assert injected(sim) == {"batch_cutoff": {"before": 1}}


def test_fault_rates_must_add_up_to_at_most_one(sim: Sim) -> None:
    """Fault shares that cannot all happen are refused at the control API."""
    r = requests.post(
        f"{sim.url}/_sim/faults", json={"error_rate": 0.6, "drop_after_rate": 0.6}, timeout=10
    )
    assert r.status_code == 400 and "add up" in r.json()["error"]
    r = requests.post(
        f"{sim.url}/_sim/faults", json={"batch_item_error_statuses": [200]}, timeout=10
    )
    assert r.status_code == 400
    settings = requests.get(f"{sim.url}/_sim/faults", timeout=10).json()
    assert settings["error_rate"] == 0.0 and settings["batch_item_error_statuses"] == [429, 500]


def test_a_batch_holds_its_concurrency_slot_until_it_is_answered(sim: Sim) -> None:
    """Items inside a batch do not give the batch's semaphore slot back early."""
    sim.state.configure_faults({"max_concurrent": 1})
    seen: list[int] = []
    original = sim.state.store.insert

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(sim.state.in_flight)
        return original(*args, **kwargs)

    sim.state.store.insert = spy  # type: ignore[method-assign]
    try:
        r = sim.call("POST", "/api/now/v1/batch", json=batch_body("slot-1", "slot-2", "slot-3"))
    finally:
        del sim.state.store.insert
    assert r.status_code == 200
    assert seen == [1, 1, 1]
    assert sim.state.in_flight == 0


def script(sim: Sim, *rules: dict[str, object]) -> requests.Response:
    """Queue scripted faults through the control API."""
    return requests.post(f"{sim.url}/_sim/faults/script", json=list(rules), timeout=10)


def test_scripted_fault_hits_only_the_named_request_and_only_as_often_as_asked(sim: Sim) -> None:
    """A scripted after-fault fails the next matching request once; other requests pass."""
    assert (
        script(
            sim,
            {
                "match": "^POST /api/now/table/incident$",
                "fault": "error",
                "phase": "after",
                "status": 503,
                "times": 1,
            },
        ).status_code
        == 200
    )
    assert sim.get(f"/api/now/table/incident/{INC1}").status_code == 200
    first = sim.call("POST", "/api/now/table/incident", json={"short_description": "sc-1"})
    second = sim.call("POST", "/api/now/table/incident", json={"short_description": "sc-2"})
    assert (first.status_code, second.status_code) == (503, 201)
    assert len(incidents(sim, "sc-1")) == 1 and len(incidents(sim, "sc-2")) == 1
    assert requests.get(f"{sim.url}/_sim/faults/script", timeout=10).json() == {"rules": []}


def test_scripted_faults_reach_batch_items_with_their_own_retry_after(sim: Sim) -> None:
    """A rule on "batch POST …" fails one item of a batch; a 429 carries the asked Retry-After."""
    script(
        sim,
        {
            "match": "^batch POST /api/now/table/incident$",
            "fault": "error",
            "status": 429,
            "retry_after": 7,
        },
    )
    items = sim.call("POST", "/api/now/v1/batch", json=batch_body("si-1", "si-2")).json()[
        "serviced_requests"
    ]
    assert [i["status_code"] for i in items] == [429, 201]
    assert {"name": "Retry-After", "value": "7"} in items[0]["headers"]
    assert incidents(sim, "si-1") == [] and len(incidents(sim, "si-2")) == 1


def test_scripted_empty_answer_keeps_the_status_and_drops_the_body(sim: Sim) -> None:
    """An "empty" fault commits the write and answers its status with no body."""
    script(sim, {"match": "^batch POST", "fault": "empty", "phase": "after"})
    items = sim.call("POST", "/api/now/v1/batch", json=batch_body("em-1")).json()[
        "serviced_requests"
    ]
    assert items[0]["status_code"] == 201 and items[0]["body"] == ""
    assert len(incidents(sim, "em-1")) == 1


def test_bad_scripted_faults_are_refused(sim: Sim) -> None:
    """Unknown keys, kinds, phases and bad patterns are refused and nothing is queued."""
    for rule in (
        {"match": "x", "fault": "explode"},
        {"match": "x", "fault": "error", "phase": "during"},
        {"match": "x", "fault": "empty", "phase": "before"},
        {"match": "(", "fault": "error"},
        {"match": "x", "fault": "error", "bogus": 1},
        {"match": "x", "fault": "error", "times": 0},
    ):
        assert script(sim, rule).status_code == 400, rule
    assert requests.get(f"{sim.url}/_sim/faults/script", timeout=10).json() == {"rules": []}
