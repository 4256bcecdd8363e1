"""The cost model: server time per record read and written, spent while holding the slot."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from tests.sim.servicenow.conftest import AUTH, INC1, Sim


def cost(sim: Sim) -> dict[str, Any]:
    """Return the cost block of /_sim/stats."""
    return requests.get(f"{sim.url}/_sim/stats", timeout=10).json()["cost"]


def reset_stats(sim: Sim) -> None:
    """Zero the counts through the control API."""
    requests.post(f"{sim.url}/_sim/stats/reset", timeout=10).raise_for_status()


def item(n: int, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build one Batch API item."""
    raw = json.dumps(body).encode() if body is not None else b""
    return {
        "id": str(n),
        "method": method,
        "url": url,
        "headers": [
            {"name": "Content-Type", "value": "application/json"},
            {"name": "Accept", "value": "application/json"},
        ],
        "body": base64.b64encode(raw).decode(),
    }


def inserts(prefix: str, count: int) -> list[dict[str, Any]]:
    """Build Batch API items inserting one incident each."""
    return [
        item(n, "POST", "/api/now/table/incident", {"short_description": f"{prefix}-{n}"})
        for n in range(count)
    ]


def timed_batch(sim: Sim, items: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """Send one Batch request; return its wall time and its serviced items."""
    t0 = time.monotonic()
    body = {"batch_request_id": "c", "rest_requests": items}
    r = sim.call("POST", "/api/now/v1/batch", json=body)
    elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["unserviced_requests"] == []
    return elapsed, answer["serviced_requests"]


def timed(call: Callable[[], requests.Response]) -> tuple[float, requests.Response]:
    """Run a request; return its wall time and its answer."""
    t0 = time.monotonic()
    r = call()
    return time.monotonic() - t0, r


def stored(sim: Sim, description: str) -> bool:
    """Tell whether an incident with that short description is in the store."""
    with sim.state.store.lock:
        return any(
            r.get("short_description") == description
            for r in sim.state.store.by_table["incident"].values()
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll until the predicate holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.005)


def test_cost_settings_come_from_create_app_and_the_control_api(
    make_sim: Callable[..., Sim],
) -> None:
    """read_ms, write_ms and max_queued are fault settings: set at start, changed, checked."""
    sim = make_sim({"faults": {"read_ms": 10, "write_ms": 30, "max_queued": 4}})
    settings = requests.get(f"{sim.url}/_sim/faults", timeout=10).json()
    assert (settings["read_ms"], settings["write_ms"], settings["max_queued"]) == (10, 30, 4)
    for bad in ({"read_ms": -1}, {"write_ms": "slow"}, {"max_queued": -2}):
        assert requests.post(f"{sim.url}/_sim/faults", json=bad, timeout=10).status_code == 400
    ok = requests.post(f"{sim.url}/_sim/faults", json={"write_ms": 12.5}, timeout=10)
    assert ok.status_code == 200 and ok.json()["write_ms"] == 12.5 and ok.json()["read_ms"] == 10
    requests.post(f"{sim.url}/_sim/reset", timeout=10).raise_for_status()
    settings = requests.get(f"{sim.url}/_sim/faults", timeout=10).json()
    assert (settings["read_ms"], settings["write_ms"], settings["max_queued"]) == (0, 0, 0)


def test_a_batch_takes_longer_with_every_item_it_writes(sim: Sim) -> None:
    """Items run one after another, each spending write_ms per record it writes."""
    sim.state.configure_faults({"write_ms": 80})
    reset_stats(sim)
    one, items_one = timed_batch(sim, inserts("b1", 1))
    six, items_six = timed_batch(sim, inserts("b6", 6))
    assert [i["status_code"] for i in items_one + items_six] == [201] * 7
    assert all(i["execution_time"] >= 80 for i in items_one + items_six)
    assert one >= 0.08 and six >= 6 * 0.08
    assert sum(i["execution_time"] for i in items_six) >= 6 * 80
    assert six > one
    charged = cost(sim)
    assert (charged["writes"], charged["reads"], charged["server_ms"]) == (7, 0, 7 * 80)


def test_a_batch_takes_longer_with_the_records_its_items_read(sim: Sim) -> None:
    """A Batch item's time grows with the records its query returns."""
    sim.state.configure_faults({"read_ms": 30})
    reset_stats(sim)
    few, small = timed_batch(
        sim, [item(n, "GET", "/api/now/table/sys_dictionary?sysparm_limit=1") for n in range(2)]
    )
    many, large = timed_batch(
        sim, [item(n, "GET", "/api/now/table/sys_dictionary?sysparm_limit=10") for n in range(2)]
    )
    rows = [len(json.loads(base64.b64decode(i["body"]))["result"]) for i in small + large]
    assert rows == [1, 1, 10, 10]
    assert all(i["execution_time"] >= 300 for i in large)
    assert few >= 2 * 0.03 and many >= 2 * 10 * 0.03
    assert many > few
    assert cost(sim)["reads"] == 22


def test_a_get_of_many_records_costs_more_than_a_get_of_a_few(sim: Sim) -> None:
    """A single GET spends read_ms per record it returns; a GET by sys_id reads one."""
    sim.state.configure_faults({"read_ms": 30})
    reset_stats(sim)
    few, r_few = timed(lambda: sim.get("/api/now/table/sys_dictionary", sysparm_limit="2"))
    many, r_many = timed(lambda: sim.get("/api/now/table/sys_dictionary", sysparm_limit="25"))
    assert len(r_few.json()["result"]) == 2 and len(r_many.json()["result"]) == 25
    assert few >= 2 * 0.03 and many >= 25 * 0.03
    assert many > few
    by_id, r_one = timed(lambda: sim.get(f"/api/now/table/incident/{INC1}"))
    assert r_one.status_code == 200 and by_id >= 0.03
    charged = cost(sim)
    assert (charged["reads"], charged["writes"]) == (28, 0)
    assert charged["server_ms"] == 28 * 30


def test_writes_count_records_journal_entries_and_what_a_delete_removes(sim: Sim) -> None:
    """An insert with two journal fields is three writes; a no-op update writes nothing."""
    reset_stats(sim)
    r = sim.call(
        "POST",
        "/api/now/table/incident",
        json={"short_description": "w-1", "work_notes": "a note", "comments": "a comment"},
    )
    assert r.status_code == 201
    new_id = r.json()["result"]["sys_id"]
    assert cost(sim)["writes"] == 3
    assert sim.call("PATCH", f"/api/now/table/incident/{new_id}", json={"urgency": "1"}).ok
    assert cost(sim)["writes"] == 4
    assert sim.call("PATCH", f"/api/now/table/incident/{new_id}", json={"urgency": "1"}).ok
    assert cost(sim)["writes"] == 4
    assert sim.call("DELETE", f"/api/now/table/incident/{new_id}").status_code == 204
    assert cost(sim)["writes"] == 4 + 3  # the incident and its two journal entries
    assert sim.get("/api/now/table/incident", sysparm_limit="3").ok
    charged = cost(sim)
    assert charged["reads"] == 3 and charged["requests"] == 5 and charged["slot_ms"] > 0


def test_the_slot_is_held_for_the_whole_server_time(sim: Sim) -> None:
    """While a request spends its server time, it keeps the only slot: others get 429."""
    sim.state.configure_faults({"max_concurrent": 1, "write_ms": 1000})
    outcome: dict[str, Any] = {}

    def write() -> None:
        outcome["elapsed"], outcome["r"] = timed(
            lambda: requests.post(
                f"{sim.url}/api/now/table/incident",
                json={"short_description": "held"},
                auth=AUTH,
                timeout=10,
            )
        )

    writer = threading.Thread(target=write)
    writer.start()
    # The record is stored before the server time is spent: from here on the writer is paying.
    wait_until(lambda: stored(sim, "held"))
    assert sim.state.in_flight == 1
    refused = sim.get(f"/api/now/table/incident/{INC1}")
    writer.join()
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert outcome["r"].status_code == 201 and outcome["elapsed"] >= 1.0
    assert sim.get(f"/api/now/table/incident/{INC1}").status_code == 200
    assert sim.state.in_flight == 0
    assert cost(sim)["slot_ms"] >= 1000


def test_a_queued_request_waits_for_the_slot_and_a_full_queue_answers_429(sim: Sim) -> None:
    """With max_queued, a request beyond the cap waits its turn; one beyond the queue gets 429."""
    sim.state.configure_faults({"max_concurrent": 1, "max_queued": 1, "write_ms": 800})
    took: dict[str, float] = {}
    answers: dict[str, requests.Response] = {}

    def send(name: str, method: str, path: str, body: Any = None) -> None:
        took[name], answers[name] = timed(
            lambda: requests.request(method, f"{sim.url}{path}", json=body, auth=AUTH, timeout=10)
        )

    writer = threading.Thread(
        target=send, args=("writer", "POST", "/api/now/table/incident", {"short_description": "q"})
    )
    writer.start()
    wait_until(lambda: stored(sim, "q"))
    waiter = threading.Thread(
        target=send, args=("waiter", "GET", f"/api/now/table/incident/{INC1}")
    )
    waiter.start()
    wait_until(lambda: sim.state.queued == 1)
    refused = sim.get(f"/api/now/table/incident/{INC1}")
    writer.join()
    waiter.join()
    assert refused.status_code == 429
    assert answers["writer"].status_code == 201 and answers["waiter"].status_code == 200
    # It arrived while the writer had most of its 800 ms still to spend, and waited for them.
    assert took["waiter"] >= 0.3
    assert (sim.state.in_flight, sim.state.queued) == (0, 0)


def test_command_takes_the_cost_model_flags() -> None:
    """--read-ms, --write-ms and --max-queued reach the served instance; a negative is refused."""
    base = [sys.executable, "-c", "from connector.cli import main; main()", "sim", "servicenow"]
    bad = subprocess.run(
        [*base, "--port", "0", "--write-ms", "-5"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "write_ms must not be negative" in bad.stderr
    proc = subprocess.Popen(
        [*base, "--port", "0", "--threads", "2", "--read-ms", "10", "--write-ms", "30"]
        + ["--max-concurrent", "8", "--max-queued", "16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("servicenow emulator listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        deadline = time.monotonic() + 20
        while True:
            try:
                settings = requests.get(f"{url}/_sim/faults", timeout=2).json()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert (settings["read_ms"], settings["write_ms"]) == (10, 30)
        assert (settings["max_concurrent"], settings["max_queued"]) == (8, 16)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
