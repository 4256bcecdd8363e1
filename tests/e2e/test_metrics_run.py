"""/metrics under `connector run`: the worker's imports and the web workers' events, summed.

`connector run` serves the web side under gunicorn (two workers here) and imports in a separate
worker process; every scrape, whichever gunicorn worker answers it, must show the same totals.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from connector.demo import DEMO_TICKET, emulator_settings, wait_for
from connector.sim.bomgar import close_app
from connector.sim.bomgar import create_app as bomgar_app
from connector.sim.runtime import ServerThread
from connector.sim.servicenow import create_app as servicenow_app
from connector.store import Store

pytestmark = pytest.mark.slow

TOKEN = "metrics-run-webhook-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample(text: str, name: str) -> float | None:
    """Return the sum of a sample over its labels (appliances) in Prometheus text, or None."""
    found = re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
    return sum(float(v) for v in found) if found else None


def test_metrics_under_connector_run_show_the_workers_imports_on_every_scrape(tmp_path: Path):
    """Sessions the worker process imported are counted, the same, on each of ten scrapes."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sn = ServerThread(servicenow_app()).start()
    b_app = bomgar_app(
        {
            "events_urls": [f"{url}/bomgar/events?outbound_event_token={TOKEN}"],
            "retry_interval": 0.5,
            "retry_period": 120.0,
        }
    )
    bg = ServerThread(b_app).start()
    values = {
        **emulator_settings(sn.url, bg.url, str(tmp_path / "connector.db"), TOKEN),
        "worker.poll_seconds": 0.1,
        "poller.enabled": False,
        "logging.level": "WARNING",
    }
    config = tmp_path / "connector.yaml"
    config.write_text(yaml.safe_dump(values))
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "run", "--config", str(config), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert wait_for(lambda: _up(url), 30), (tmp_path / "run.log").read_text()
        for _ in range(3):
            reply = requests.post(
                f"{bg.url}/_sim/sessions", json={"external_key": DEMO_TICKET}, timeout=30
            )
            assert reply.status_code == 201, reply.text
        assert wait_for(lambda: _imported(sn.url) >= 3, 60), (tmp_path / "run.log").read_text()
        # Survey events re-import the sessions: wait until nothing is left to do.
        store = Store(tmp_path / "connector.db")
        assert wait_for(lambda: _settled(store, 3), 60), store.counts()
        scrapes = []
        for _ in range(10):
            text = requests.get(f"{url}/metrics", timeout=10).text
            scrapes.append(
                (
                    sample(text, "connector_sessions_imported_total"),
                    sample(text, "connector_events_received_total"),
                )
            )
        imported = {s[0] for s in scrapes}
        received = {s[1] for s in scrapes}
        assert len(imported) == 1 and next(iter(imported)) >= 3, scrapes
        assert len(received) == 1 and next(iter(received)) >= 3 * 3, scrapes
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        log.close()
        bg.stop()
        close_app(b_app)
        sn.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _settled(store: Store, sessions: int) -> bool:
    counts = store.counts()
    return counts["done"] == sessions and not counts["pending"] and not counts["running"]


def _imported(servicenow_url: str) -> int:
    rows = requests.get(
        f"{servicenow_url}/api/now/table/u_bomgar_session",
        params={"sysparm_fields": "u_lsid"},
        auth=("admin", "admin"),
        timeout=10,
    ).json()["result"]
    return len(rows)
