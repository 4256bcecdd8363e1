"""Fault injection, request statistics, reset, and the `connector sim bomgar` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from lxml import etree

from tests.sim.bomgar.conftest import local


def test_error_faults_and_reset(sim):
    """error_rate 1 answers every appliance request with 503; /_sim/ is never faulted."""
    sim.token()
    sim.sim("POST", "/faults", {"error_rate": 1.0, "error_statuses": [503]})
    assert sim.get("/api/command", action="get_api_info").status_code == 503
    assert sim.sim("GET", "/health")["status"] == "ok"
    sim.sim("POST", "/faults", {"reset": True})
    assert sim.get("/api/command", action="get_api_info").status_code == 200


def test_malformed_xml_fault(sim):
    """malformed_rate 1 truncates XML replies so they no longer parse."""
    sim.sim("POST", "/faults", {"malformed_rate": 1.0})
    r = sim.get("/api/command", action="get_api_info")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(r.content)


def test_drop_fault_resets_connection(sim):
    """drop_rate 1 closes the connection without an answer."""
    sim.token()
    sim.sim("POST", "/faults", {"drop_rate": 1.0})
    with pytest.raises(requests.ConnectionError):
        sim.get("/api/command", action="get_api_info")


def test_bad_fault_setting_is_refused(sim):
    """Unknown fault keys are a 400 from the control API."""
    r = requests.post(f"{sim.url}/_sim/faults", json={"bogus": 1})
    assert r.status_code == 400 and "bogus" in r.json()["error"]


def test_stats_count_per_endpoint(sim):
    """/_sim/stats counts token, command, reporting and config requests by label."""
    sim.command("generate_session_key", type="support", queue_id="general")
    sim.command("generate_session_key", type="support", queue_id="general")
    sim.report("SupportSession", start_time=0)
    sim.get("/api/config/v1/jump-client")
    counts = sim.sim("GET", "/stats")["requests"]
    assert counts["POST /oauth2/token"] == 1
    assert counts["api/command generate_session_key"] == 2
    assert counts["api/reporting SupportSession"] == 1
    assert counts["api/config/v1/jump-client"] == 1
    sim.sim("POST", "/stats/reset")
    assert sim.sim("GET", "/stats")["total"] == 0


def test_reset_forgets_sessions_and_tokens(sim):
    """POST /_sim/reset drops sessions and tokens but keeps the seed."""
    lsid = sim.sim("POST", "/sessions", {})["lsid"]
    token = sim.token()
    sim.sim("POST", "/reset")
    assert requests.get(f"{sim.url}/_sim/sessions/{lsid}").status_code == 404
    r = requests.get(
        f"{sim.url}/api/command",
        params={"action": "get_api_info"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 401
    sim._tokens.clear()
    assert local(sim.command("get_logged_in_reps")) == "logged_in_reps"


def test_bad_options_are_refused(make_sim):
    """Unknown options and values outside the variants raise ValueError."""
    with pytest.raises(ValueError, match="unknown"):
        make_sim(colour="red")
    with pytest.raises(ValueError, match="namespace"):
        make_sim(namespace="nope")


def test_cli_serves_and_delivers(receiver, tmp_path):
    """`connector sim bomgar --port 0` prints its URL, serves under gunicorn and posts events."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector",
            "sim",
            "bomgar",
            "--port",
            "0",
            "--events-url",
            receiver.url,
            "--retry-interval",
            "0.1",
            "--threads",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("bomgar emulator listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        deadline = time.monotonic() + 15
        while True:
            try:
                if requests.get(f"{url}/_sim/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "emulator did not come up"
            time.sleep(0.1)
        lsid = requests.post(f"{url}/_sim/sessions", json={}).json()["lsid"]
        got = receiver.wait_for(8, timeout=10)
        assert got[0]["event"] == "support_conference_begin" and got[0]["lsid"] == lsid
        assert got[0]["_token"] == "s3cret"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
