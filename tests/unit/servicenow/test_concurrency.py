"""The client's cap on requests in flight."""

from __future__ import annotations

import threading
import time

from tests.unit.servicenow.conftest import SYS_ID, TABLE


def test_no_more_than_max_concurrent_requests_in_flight(rsps, make_client):
    """Six threads sharing a client capped at two never have more than two requests open."""
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def slow(request):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return 200, {"Content-Type": "application/json"}, '{"result": {"sys_id": "x"}}'

    rsps.add_callback("GET", f"{TABLE}/incident/{SYS_ID}", callback=slow)
    client = make_client(max_concurrent=2)
    results = []
    errors = []

    def work():
        try:
            for _ in range(2):
                results.append(client.get_record("incident", SYS_ID))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 12
    assert state["peak"] == 2


def test_429s_bring_the_requests_in_flight_down_to_what_the_instance_serves(rsps, make_client):
    """An instance serving two at once 429s the rest; the client backs off instead of hammering."""
    lock = threading.Lock()
    state = {"now": 0, "served": 0, "refused": 0}

    def instance(request):
        with lock:
            if state["now"] >= 2:
                state["refused"] += 1
                return 429, {"Retry-After": "0"}, '{"error": {"message": "Rate limit exceeded"}}'
            state["now"] += 1
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
            state["served"] += 1
        return 200, {"Content-Type": "application/json"}, '{"result": {"sys_id": "x"}}'

    rsps.add_callback("GET", f"{TABLE}/incident/{SYS_ID}", callback=instance)
    client = make_client(max_concurrent=8)
    client.retry.attempts = 50
    errors = []

    def work():
        try:
            for _ in range(10):
                client.get_record("incident", SYS_ID)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert state["served"] == 80
    # A fixed cap of eight would be refused about once per request served, all along.
    assert state["refused"] < 60, state
