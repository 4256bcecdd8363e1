"""A short 3PA chaos run: worker SIGKILLed repeatedly, slapd killed and restarted, faults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "chaos" / "tpa_chaos.py"

pytestmark = pytest.mark.slow


def test_every_approved_request_is_applied_exactly_once_under_kills_and_a_restart(tmp_path):
    """20 requests (pre-approved, approved by a person, never announced) land once each."""
    out = tmp_path / "verdict.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--requests",
            "20",
            "--kill-every",
            "4",
            "--seed",
            "7",
            "--workdir",
            str(tmp_path / "work"),
            "--json-out",
            str(out),
            "--drain-timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads(out.read_text())
    assert verdict["applied"] == verdict["requests"] == 20
    assert verdict["lost_count"] == 0 and verdict["duplicated_count"] == 0
    assert verdict["dead_letters"] == 0 and verdict["left_pending"] == 0
    assert verdict["worker_kills"] >= 2
    assert verdict["directory_restarts"] == 1
    assert set(verdict["kinds"]) == {"preapproved", "approval", "silent"}
