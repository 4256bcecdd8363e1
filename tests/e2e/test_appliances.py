"""Several appliances into one instance: routing, identity, health, metrics, and no hold-up."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from connector.config import validate
from connector.demo import landed, running_stack, wait_for
from connector.importer.runner import run_worker
from connector.services import Services
from connector.sim.hanging import HangingServer

pytestmark = pytest.mark.slow

INC1 = "a5000000000000000000000000000001"
INC2 = "a5000000000000000000000000000002"


def play(url: str, external_key: str) -> str:
    """Play a session on one appliance emulator; its events reach the connector."""
    reply = requests.post(f"{url}/_sim/sessions", json={"external_key": external_key}, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.json()["lsid"]


def post_event(stack, token: str, appliance_id: str, lsid: str) -> int:
    """Post one end event as an appliance would; return the status code."""
    return requests.post(
        f"{stack.connector_url}/bomgar/events",
        params={"outbound_event_token": token},
        data={
            "event": "support_conference_end",
            "version": "3",
            "timestamp": str(int(time.time())),
            "appliance_id": appliance_id,
            "lsid": lsid,
            "external_key": INC1,
        },
        timeout=10,
    ).status_code


def test_sessions_of_two_appliances_land_each_under_its_appliance(tmp_path):
    """Both appliances' sessions import; records, store, /health and /metrics name the appliance."""
    with running_stack(str(tmp_path), appliances=("emea", "amer")) as stack:
        emea = play(stack.appliance_urls["emea"], INC1)
        amer = play(stack.appliance_urls["amer"], INC2)
        store = stack.services.store
        assert wait_for(
            lambda: (
                store.job_state(emea, appliance="emea") == "done"
                and store.job_state(amer, appliance="amer") == "done"
            ),
            60,
        ), store.jobs()
        assert store.appliances_of(emea) == ["emea"] and store.appliances_of(amer) == ["amer"]
        assert landed(stack, emea)["session"][0]["u_appliance_id"] == "emea"
        assert landed(stack, amer)["session"][0]["u_appliance_id"] == "amer"
        health = requests.get(f"{stack.connector_url}/health", timeout=30).json()
        assert len(health["checks"]["bomgar:connectivity"]) == 2  # one entry per appliance
        text = requests.get(f"{stack.connector_url}/metrics", timeout=30).text
        assert 'connector_jobs{appliance="emea",state="done"} 1.0' in text
        assert 'connector_jobs{appliance="amer",state="done"} 1.0' in text
        assert 'connector_sessions_imported_total{appliance="emea"}' in text


def test_a_token_speaks_only_for_its_own_appliance(tmp_path):
    """An event is refused when its appliance_id is not the token's appliance, or no token fits."""
    with running_stack(str(tmp_path), worker=False, appliances=("emea", "amer")) as stack:
        emea_token = stack.appliance_tokens["emea"]
        lsid = "c" * 32
        assert post_event(stack, "not-a-token", "emea", lsid) == 401
        assert post_event(stack, emea_token, "amer", lsid) == 403
        assert post_event(stack, emea_token, "", lsid) == 403
        assert stack.services.store.appliances_of(lsid) == []
        assert post_event(stack, emea_token, "emea", lsid) == 200
        assert stack.services.store.appliances_of(lsid) == ["emea"]


def test_an_appliance_that_hangs_never_holds_up_another(tmp_path):
    """20 sessions of a hanging appliance queued first; the other appliance's still land at once.

    One session per claim and two import threads: taking the oldest work first, both threads
    would spend minutes on the hanging appliance (every pass waits out its timeouts) before the
    other appliance's sessions. Once a request to it has failed to get through, the worker lets
    one pass at a time wait on it and imports the other appliance meanwhile.
    """
    hanging = HangingServer()
    try:
        with running_stack(
            str(tmp_path),
            worker=False,
            appliances=("down", "up"),
            **{"worker.batch_size": 1, "bomgar.timeout_seconds": 1, "poller.enabled": False},
        ) as stack:
            # The "down" appliance's API hangs; its events still reach the webhook.
            values = stack.config.as_values()
            values["bomgar.appliances"][0]["appliance_url"] = hanging.url
            svc = Services(validate({}, overrides=values), store=stack.services.store)
            token = stack.appliance_tokens["down"]
            down = [f"{n:032x}" for n in range(1, 21)]
            for lsid in down:
                assert post_event(stack, token, "down", lsid) == 200
            up = [play(stack.appliance_urls["up"], INC1) for _ in range(2)]
            store = stack.services.store
            assert wait_for(
                lambda: all(store.job_state(x, appliance="up") == "pending" for x in up), 30
            )
            stop = threading.Event()
            worker = threading.Thread(
                target=run_worker, args=(svc.importer(), stop), kwargs={"threads": 2}
            )
            started = time.monotonic()
            worker.start()
            try:
                assert wait_for(
                    lambda: all(store.job_state(x, appliance="up") == "done" for x in up), 60
                ), store.jobs(appliance="up")
                took = time.monotonic() - started
                waited = [store.job_state(x, appliance="down") for x in down]
            finally:
                stop.set()
                worker.join(120)
            assert "done" not in waited
            # One pass on the hanging appliance lasts its retries' timeouts (about 5 x 1 s plus
            # backoff); without the hand-over it would be ten of them back to back.
            assert took < 30, took
    finally:
        hanging.close()
