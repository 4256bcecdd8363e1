"""Faults, limits, stats and the /_sim/ control API."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.sim.servicenow.conftest import INC1, Sim


def control(sim: Sim, path: str, body: dict[str, object] | None = None) -> requests.Response:
    """Call the control API (no auth needed)."""
    if body is None and path != "/_sim/reset" and not path.endswith("/reset"):
        return requests.get(f"{sim.url}{path}", timeout=10)
    return requests.post(f"{sim.url}{path}", json=body or {}, timeout=10)


def test_health_and_fault_settings_round_trip(sim: Sim) -> None:
    """GET/POST /_sim/faults read and change shared and instance faults; bad values are refused."""
    assert control(sim, "/_sim/health").json()["status"] == "ok"
    r = control(sim, "/_sim/faults", {"latency_ms": 5, "max_concurrent": 3, "hourly_limit": 10})
    assert r.status_code == 200
    got = control(sim, "/_sim/faults").json()
    assert got["latency_ms"] == 5.0 and got["max_concurrent"] == 3 and got["hourly_limit"] == 10
    assert control(sim, "/_sim/faults", {"error_rate": 2}).status_code == 400
    assert control(sim, "/_sim/faults", {"bogus": 1}).status_code == 400
    assert control(sim, "/_sim/faults", {"max_concurrent": -1}).status_code == 400
    assert control(sim, "/_sim/faults").json()["max_concurrent"] == 3


def test_stats_count_per_method_and_pattern(sim: Sim) -> None:
    """Every instance request is counted under its method and path pattern; /_sim/ is not."""
    control(sim, "/_sim/stats/reset")
    sim.get("/api/now/table/incident")
    sim.get("/api/now/table/incident")
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"state": "2"})
    requests.get(f"{sim.url}/api/now/table/incident", timeout=10)  # a 401 is still a call
    snap = control(sim, "/_sim/stats").json()
    assert snap["requests"] == {
        "GET /api/now/table/incident": 3,
        "PATCH /api/now/table/incident/{sys_id}": 1,
    }
    assert snap["total"] == 4


def test_reset_restores_seed_and_clears_faults(sim: Sim) -> None:
    """POST /_sim/reset restores seeded records, number counters, stats and faults."""
    sim.call("DELETE", f"/api/now/table/incident/{INC1}")
    sim.call("POST", "/api/now/table/incident", json={"short_description": "x"})
    control(sim, "/_sim/faults", {"latency_ms": 50})
    assert control(sim, "/_sim/reset").status_code == 200
    assert sim.get(f"/api/now/table/incident/{INC1}").status_code == 200
    assert control(sim, "/_sim/faults").json()["latency_ms"] == 0.0
    r = sim.call("POST", "/api/now/table/incident", json={"short_description": "y"})
    assert r.json()["result"]["number"] == "INC0010001"
    assert set(control(sim, "/_sim/stats").json()["requests"]) == {
        "GET /api/now/table/incident/{sys_id}",
        "POST /api/now/table/incident",
    }


def test_latency_and_jitter(sim: Sim) -> None:
    """Latency delays each request by at least the fixed part."""
    sim.state.configure_faults({"latency_ms": 150, "jitter_ms": 20})
    t0 = time.monotonic()
    assert sim.get(f"/api/now/table/incident/{INC1}").status_code == 200
    assert 0.15 <= time.monotonic() - t0 < 2


def test_concurrency_cap_answers_429(sim: Sim) -> None:
    """Requests beyond max_concurrent get 429 with Retry-After, as semaphore exhaustion does."""
    sim.state.configure_faults({"latency_ms": 400, "max_concurrent": 2})
    results: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        r = requests.get(
            f"{sim.url}/api/now/table/incident/{INC1}", auth=("admin", "admin"), timeout=10
        )
        with lock:
            results.append(r)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 200, 429, 429, 429]
    limited = next(r for r in results if r.status_code == 429)
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["message"] == "Rate limit exceeded"
    assert sim.state.in_flight == 0


def test_hourly_limit_answers_429_with_rate_headers(sim: Sim) -> None:
    """Beyond the hourly limit the real 429 body comes with X-RateLimit-* and Retry-After."""
    sim.state.configure_faults({"hourly_limit": 2})
    ok = sim.get(f"/api/now/table/incident/{INC1}")
    assert (
        ok.headers["X-RateLimit-Limit"] == "2"
        and int(ok.headers["X-RateLimit-Reset"]) > time.time()
    )
    sim.get(f"/api/now/table/incident/{INC1}")
    r = sim.get("/api/now/table/incident")
    assert r.status_code == 429
    assert r.json() == {
        "error": {
            "message": "Rate limit exceeded",
            "detail": "Rate limit of 2 requests per hour for Table API exceeded",
        },
        "status": "failure",
    }
    assert 0 < int(r.headers["Retry-After"]) <= 3600 and r.headers["X-RateLimit-Rule"]


@pytest.mark.parametrize("status", [500, 503])
def test_error_rate_injects_server_errors(sim: Sim, status: int) -> None:
    """error_rate 1 answers every request with the configured status in the instance's shape."""
    sim.state.configure_faults({"error_rate": 1.0, "error_statuses": [status]})
    before = sim.snapshot()
    r = sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"state": "7"})
    assert r.status_code == status and r.json()["status"] == "failure"
    if status == 500:
        assert (
            r.json()["error"]["message"] == "Transaction cancelled: maximum execution time exceeded"
        )
    assert sim.snapshot() == before


def test_drop_rate_resets_the_connection(sim: Sim) -> None:
    """drop_rate 1 closes the connection without an answer."""
    sim.state.configure_faults({"drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sim.url}/api/now/table/incident", auth=("admin", "admin"), timeout=5)


def test_timeout_rate_answers_after_the_client_gave_up(sim: Sim) -> None:
    """timeout_rate 1 answers only after timeout_seconds, so a client's read timeout fires."""
    sim.state.configure_faults({"timeout_rate": 1.0, "timeout_seconds": 1.5})
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{sim.url}/api/now/table/incident", auth=("admin", "admin"), timeout=0.5)
    time.sleep(1.2)  # let the slow handler finish before the next test resets state
