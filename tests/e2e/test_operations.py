"""Operating the connector: health, metrics, backfill, replay and dead letters."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests
import yaml

from connector.cli import main
from connector.demo import running_stack, wait_for

INC1 = "a5000000000000000000000000000001"

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


def config_file(stack, tmp_path):
    path = tmp_path / "connector.yaml"
    path.write_text(yaml.safe_dump(stack.config.as_values()))
    return str(path)


def test_health_warns_on_servicenow_outage_and_events_are_still_accepted(tmp_path):
    """With ServiceNow unreachable, /health says warn (200) and the webhook keeps taking events."""
    with running_stack(str(tmp_path), worker=False) as stack:

        def health() -> requests.Response:
            return requests.get(f"{stack.connector_url}/health", timeout=30)

        def status(name: str) -> str:
            return health().json()["checks"][f"{name}:connectivity"][0]["status"]

        assert health().headers["Content-Type"] == "application/health+json"
        # The pings run in the background; the first answers may say "not checked yet".
        assert wait_for(lambda: status("servicenow") == "pass", 20)
        assert wait_for(lambda: status("bomgar") == "pass", 20)
        requests.post(
            f"{stack.servicenow_url}/_sim/faults", json={"drop_rate": 1.0}, timeout=10
        ).raise_for_status()
        stack.services.remote_checks.max_age = 0.0  # results are cached; ask again now
        assert wait_for(lambda: status("servicenow") == "warn", 20)
        reply = health()
        assert reply.status_code == 200
        assert reply.json()["status"] == "warn"
        lsid = requests.post(
            f"{stack.bomgar_url}/_sim/sessions", json={"external_key": INC1}, timeout=30
        ).json()["lsid"]
        assert wait_for(lambda: stack.services.store.job_state(lsid) == "pending", 20)


def test_metrics_are_prometheus_text(tmp_path):
    """/metrics exposes job gauges and event counters in the Prometheus text format."""
    with running_stack(str(tmp_path)) as stack:
        lsid = requests.post(
            f"{stack.bomgar_url}/_sim/sessions", json={"external_key": INC1}, timeout=30
        ).json()["lsid"]
        assert wait_for(lambda: stack.services.store.job_state(lsid) == "done", 30)
        text = requests.get(f"{stack.connector_url}/metrics", timeout=10).text
        assert 'connector_jobs{appliance="",state="done"} 1' in text
        assert "# TYPE connector_events_received_total counter" in text
        assert 'connector_events_received_total{appliance=""} ' in text


def test_backfill_replay_and_dead_letters(tmp_path, capsys):
    """Backfill imports a silent range; replay re-imports without duplicates; dead letters retry."""
    with running_stack(str(tmp_path / "state"), worker=False) as stack:
        cfg = config_file(stack, tmp_path)
        now = int(time.time())
        bulk = requests.post(
            f"{stack.bomgar_url}/_sim/sessions/bulk",
            json={
                "count": 12,
                "start_time": now - 3 * 86400,
                "end_time": now - 3600,
                "external_key": INC1,
            },
            timeout=60,
        )
        assert bulk.status_code < 300, bulk.text
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).strftime("%Y-%m-%d")
        assert run_cli("backfill", "--config", cfg, "--since", since) == 0
        out = capsys.readouterr().out
        assert "found 12 sessions, 12 not yet imported" in out
        counts = stack.services.store.counts()
        assert counts["done"] == 12, stack.services.store.jobs()
        # Running it again finds nothing new.
        assert run_cli("backfill", "--config", cfg, "--since", since) == 0
        assert "found 12 sessions, 0 not yet imported" in capsys.readouterr().out

        lsid = requests.post(
            f"{stack.bomgar_url}/_sim/sessions",
            json={"external_key": INC1, "send_events": False},
            timeout=30,
        ).json()["lsid"]
        assert run_cli("replay", "--config", cfg, lsid) == 0
        assert run_cli("replay", "--config", cfg, lsid) == 0
        sn = stack.services.servicenow
        assert len(sn.query("u_bomgar_session", f"u_lsid={lsid}")) == 1
        notes = sn.query("sys_journal_field", f"element_id={INC1}^valueLIKEBomgar session {lsid}")
        assert len(notes) == 1

        bad = requests.post(
            f"{stack.bomgar_url}/_sim/sessions",
            json={"external_key": "INC0099999", "send_events": False},
            timeout=30,
        ).json()["lsid"]
        assert run_cli("replay", "--config", cfg, bad) == 1
        capsys.readouterr()
        assert run_cli("dead-letters", "--config", cfg) == 0
        listing = capsys.readouterr().out
        assert bad in listing and "INC0099999" in listing
        assert run_cli("dead-letters", "--config", cfg, "--retry", bad) == 0
        assert stack.services.store.job_state(bad) == "pending"
