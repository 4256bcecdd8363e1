"""A short chaos run: real processes, injected faults, worker kills, outages; nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "chaos" / "chaos.py"

pytestmark = pytest.mark.slow


def run_chaos(tmp_path: Path, *args: str, timeout: float = 170) -> tuple[int, dict, str]:
    out = tmp_path / "chaos.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--no-json",
            "--json-out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
            "--drain-timeout",
            "90",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(tmp_path),
    )
    results = json.loads(out.read_text()) if out.exists() else {}
    return proc.returncode, results, proc.stdout + proc.stderr


def assert_exactly_once(result: dict, sessions: int) -> None:
    assert result["sessions"] == sessions
    assert result["imported"] == sessions, result["lost"]
    assert result["lost_count"] == 0
    assert result["duplicate_sessions"] == 0
    assert result["duplicate_notes"] == 0
    assert result["missing_notes"] == 0
    assert result["duplicate_survey_rows"] == 0
    assert result["missing_survey_rows"] == 0
    assert result["dead_letters"] == 0, result["dead_reasons"]


def test_faults_kills_and_duplicate_events_lose_and_duplicate_nothing(tmp_path):
    """200 sessions land once each despite faults, shuffled duplicate events and worker kills."""
    code, results, output = run_chaos(
        tmp_path, "--scenarios", "faults", "--sessions", "200", "--kill-every", "2"
    )
    assert code == 0, output
    r = results["faults"]
    assert_exactly_once(r, 200)
    assert r["worker_kills"] >= 1, r
    assert r["events_posted"] > 200 * 5, r  # duplicates were sent
    assert r["servicenow_requests"] > 0


def test_servicenow_outage_keeps_accepting_and_imports_everything_after(tmp_path):
    """While ServiceNow is unreachable health warns, no event is refused, and all land after."""
    code, results, output = run_chaos(
        tmp_path,
        "--scenarios",
        "servicenow-down",
        "--outage-seconds",
        "8",
        "--outage-sessions",
        "16",
    )
    assert code == 0, output
    r = results["servicenow-down"]
    assert_exactly_once(r, 16)
    assert r["health_during_outage"].get("warn", 0) > 0, r["health_during_outage"]
    assert r["events_dropped_by_appliance"] == 0
    assert r["jobs_at_end_of_outage"]["done"] == 0, r["jobs_at_end_of_outage"]


def test_sessions_whose_events_the_appliance_dropped_are_imported_by_the_poller(tmp_path):
    """Sessions whose events the appliance gave up on while the connector was down get polled in."""
    code, results, output = run_chaos(
        tmp_path,
        "--scenarios",
        "connector-down",
        "--down-sessions",
        "6",
        "--appliance-retry-period",
        "0.1",
    )
    assert code == 0, output
    r = results["connector-down"]
    assert_exactly_once(r, 6)
    assert r["events_dropped_by_appliance"] > 0
    assert r["events_delivered_while_down"] == 0
