"""`connector sim servicenow` serves under gunicorn and prints where."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.sim.servicenow.conftest import INC1


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Start the command with --port 0 --tls --data; yield its URL and CA path."""
    cmd = [
        sys.executable,
        "-c",
        "from connector.cli import main; main()",
        "sim",
        "servicenow",
        "--port",
        "0",
        "--tls",
        "--state-dir",
        str(tmp_path / "state"),
        "--data",
        str(tmp_path / "sn.db"),
        "--threads",
        "4",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ca_line = proc.stdout.readline().strip()
        url_line = proc.stdout.readline().strip()
        assert ca_line.startswith("servicenow emulator CA certificate: "), ca_line
        assert url_line.startswith("servicenow emulator listening on https://127.0.0.1:"), url_line
        url = url_line.rsplit(" ", 1)[1]
        ca = ca_line.rsplit(" ", 1)[1]
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/_sim/health", verify=ca, timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, ca
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


def test_command_serves_https_on_a_free_port(served: tuple[str, str], tmp_path: Path) -> None:
    """--port 0 prints the bound URL and CA; it answers over TLS and persists to --data."""
    url, ca = served
    assert Path(ca).exists() and Path(ca).parent == tmp_path / "state"
    r = requests.get(
        f"{url}/api/now/table/incident/{INC1}", auth=("admin", "admin"), verify=ca, timeout=10
    )
    assert r.status_code == 200 and r.json()["result"]["number"] == "INC0000001"
    assert (tmp_path / "sn.db").exists()


def test_command_rejects_a_bad_schema(tmp_path: Path) -> None:
    """A broken --schema file is a usage error before anything listens."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: [1, 2]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from connector.cli import main; main()",
            "sim",
            "servicenow",
            "--port",
            "0",
            "--schema",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "expected a mapping with a `tables` mapping" in proc.stderr
