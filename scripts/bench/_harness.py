"""Shared helpers for the benchmark and chaos scripts.

Start the emulators and the connector as real processes on free loopback ports, write their
config files, sample peak RSS with psutil, and print tables and JSON under ``results/``.
Nothing here is product code; the scripts import it by path.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
WEBHOOK_TOKEN = "bench-outbound-token"  # a throwaway value for loopback runs
# Sessions link to incidents created with these sys_ids: 25 hex digits + 7 decimal digits,
# which is exactly what the appliance emulator's bulk ``external_key_prefix`` produces.
TICKET_PREFIX = "b7000000000000000000000000"[:25]


BASELINE_PREFIX = "b8000000000000000000000000"[:25]


def ticket_id(n: int, prefix: str = TICKET_PREFIX) -> str:
    """Return the sys_id of the n-th (1-based) benchmark incident."""
    return f"{prefix}{n:07d}"


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers anything at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


@dataclass
class Proc:
    """A child process with the URL it serves."""

    name: str
    popen: subprocess.Popen
    url: str = ""
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        """Return the process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Tell whether the process still runs."""
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Signal the process (and its group), then kill it if it lingers."""
        if not self.alive():
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def kill(self) -> None:
        """SIGKILL the process group at once (a crash, not a shutdown)."""
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(10)


def _spawn(name: str, args: Sequence[str], workdir: Path) -> Proc:
    log_path = workdir / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it
    popen = subprocess.Popen(
        [sys.executable, "-m", "connector", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(workdir),
        start_new_session=True,  # its own process group: stop() reaches gunicorn's workers
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log.close()
    return Proc(name, popen, log_path=log_path)


# The instance the import benchmarks run against (docs/emulators/servicenow.md, "Cost model"):
# assumptions about an instance, not measurements of one.
COST_MODEL = {"latency_ms": 40.0, "read_ms": 10.0, "write_ms": 30.0, "max_concurrent": 8}


def cost_flags(model: dict[str, float]) -> list[str]:
    """Turn a cost model into ``connector sim servicenow`` flags."""
    return [
        "--latency-ms",
        str(model["latency_ms"]),
        "--read-ms",
        str(model["read_ms"]),
        "--write-ms",
        str(model["write_ms"]),
        "--max-concurrent",
        str(int(model["max_concurrent"])),
    ]


def instance_limit(reads: float, writes: float, model: dict[str, float]) -> float:
    """Return the sessions/s an instance's slots serve when always busy with useful work.

    One session's useful work is the records it must read and write; the per-request latency is
    left out, because perfect batching spreads it over ever more sessions.
    """
    per_session_ms = reads * model["read_ms"] + writes * model["write_ms"]
    return model["max_concurrent"] * 1000.0 / per_session_ms if per_session_ms else 0.0


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds a process and its live children have used so far.

    The emulators and ``connector serve`` run under gunicorn: the work is in the workers.
    """
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def start_servicenow(workdir: Path, *extra: str, port: int | None = None) -> Proc:
    """Start ``connector sim servicenow`` and wait until it answers."""
    port = port or free_port()
    proc = _spawn("servicenow", ["sim", "servicenow", "--port", str(port), *extra], workdir)
    proc.url = f"http://127.0.0.1:{port}"
    wait_http(f"{proc.url}/_sim/health", proc=proc.popen)
    return proc


def start_bomgar(workdir: Path, *extra: str, port: int | None = None, name: str = "bomgar") -> Proc:
    """Start ``connector sim bomgar`` and wait until it answers."""
    port = port or free_port()
    proc = _spawn(name, ["sim", "bomgar", "--port", str(port), *extra], workdir)
    proc.url = f"http://127.0.0.1:{port}"
    wait_http(f"{proc.url}/_sim/health", proc=proc.popen)
    return proc


def start_connector(
    workdir: Path,
    config_path: Path,
    *,
    workers: int = 2,
    threads: int = 4,
    port: int | None = None,
    name: str = "connector-web",
) -> Proc:
    """Start ``connector serve`` under gunicorn and wait for /health."""
    port = port or free_port()
    args = ["serve", "--config", str(config_path), "--port", str(port)]
    args += ["--workers", str(workers), "--threads", str(threads)]
    proc = _spawn(name, args, workdir)
    proc.url = f"http://127.0.0.1:{port}"
    wait_http(f"{proc.url}/health", timeout=60, proc=proc.popen)
    return proc


def start_worker(
    workdir: Path,
    config_path: Path,
    *,
    threads: int | None = 2,
    name: str = "connector-worker",
) -> Proc:
    """Start ``connector worker`` (no URL; SIGKILL-able); threads None: the worker's default."""
    extra = [] if threads is None else ["--threads", str(threads)]
    return _spawn(name, ["worker", "--config", str(config_path), *extra], workdir)


def events_url(connector_url: str) -> str:
    """Return the webhook URL the appliance posts to."""
    return f"{connector_url}/bomgar/events?outbound_event_token={WEBHOOK_TOKEN}"


def write_config(path: Path, servicenow_url: str, bomgar_url: str, **overrides: Any) -> Path:
    """Write a connector YAML config for the emulators; dotted keys in ``overrides``."""
    from connector.demo import emulator_settings

    values: dict[str, Any] = {
        **emulator_settings(
            servicenow_url, bomgar_url, str(path.parent / "connector.db"), WEBHOOK_TOKEN
        ),
        "worker.poll_seconds": 0.05,
        "worker.retry_base_seconds": 0.2,
        "worker.retry_max_seconds": 2.0,
        "poller.enabled": False,
        "logging.level": "WARNING",
        "logging.format": "text",
    }
    values.update(overrides)
    nested: dict[str, Any] = {}
    for key, value in values.items():
        *parents, leaf = key.split(".")
        node = nested
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(nested, sort_keys=True))
    return path


# -- emulator control -------------------------------------------------------------------------


def sim_post(base: str, path: str, body: Any, timeout: float = 300) -> Any:
    """POST JSON to an emulator's /_sim/ API and return the JSON answer."""
    reply = requests.post(f"{base}/_sim/{path}", json=body, timeout=timeout)
    reply.raise_for_status()
    return reply.json() if reply.content else None


def sim_get(base: str, path: str) -> Any:
    """GET an emulator's /_sim/ API."""
    reply = requests.get(f"{base}/_sim/{path}", timeout=30)
    reply.raise_for_status()
    return reply.json()


def create_incidents(
    servicenow_url: str, count: int, chunk: int = 200, prefix: str = TICKET_PREFIX
) -> list[str]:
    """Create ``count`` incidents with known sys_ids through the Batch API."""
    import base64

    http = requests.Session()
    http.auth = ("admin", "admin")
    ids = []
    for start in range(1, count + 1, chunk):
        items = []
        for n in range(start, min(count, start + chunk - 1) + 1):
            sys_id = ticket_id(n, prefix)
            ids.append(sys_id)
            body = json.dumps(
                {
                    "sys_id": sys_id,
                    "short_description": f"bench ticket {n}",
                    "caller_id": "a2000000000000000000000000000001",
                }
            )
            items.append(
                {
                    "id": sys_id,
                    "method": "POST",
                    "url": "/api/now/table/incident",
                    "headers": [
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "Accept", "value": "application/json"},
                    ],
                    "body": base64.b64encode(body.encode()).decode(),
                }
            )
        reply = http.post(
            f"{servicenow_url}/api/now/v1/batch",
            json={"batch_request_id": str(start), "rest_requests": items},
            timeout=300,
        )
        reply.raise_for_status()
        bad = [r for r in reply.json().get("serviced_requests", []) if r["status_code"] >= 300]
        if bad:
            raise RuntimeError(f"creating incidents failed: {bad[:2]}")
    return ids


def table_rows(servicenow_url: str, table: str, query: str, fields: str) -> list[dict[str, str]]:
    """Read every matching row through the Table API, page by page."""
    http = requests.Session()
    http.auth = ("admin", "admin")
    rows: list[dict[str, str]] = []
    offset = 0
    while True:
        reply = http.get(
            f"{servicenow_url}/api/now/table/{table}",
            params={
                "sysparm_query": query,
                "sysparm_fields": fields,
                "sysparm_limit": 5000,
                "sysparm_offset": offset,
            },
            timeout=120,
        )
        reply.raise_for_status()
        page = reply.json()["result"]
        rows.extend(page)
        if len(page) < 5000:
            return rows
        offset += len(page)


def sn_calls(stats: dict[str, Any]) -> int:
    """Count HTTP requests in ServiceNow emulator stats (batch items are not separate calls)."""
    return sum(
        n for label, n in stats.get("requests", {}).items() if not label.startswith("batch ")
    )


def bomgar_calls(stats: dict[str, Any]) -> int:
    """Count appliance API requests, token requests included."""
    requests_ = stats.get("requests", stats)
    return sum(n for n in requests_.values() if isinstance(n, int))


# -- events -------------------------------------------------------------------------------------


def event_form(
    event: str,
    lsid: str,
    timestamp: int,
    external_key: str = "",
    appliance_id: str = "bench-appliance",
) -> dict[str, str]:
    """Build an outbound event form as the appliance posts it."""
    return {
        "event": event,
        "version": "3",
        "timestamp": str(timestamp),
        "appliance_id": appliance_id,
        "lsid": lsid,
        "external_key": external_key,
    }


# -- measurement ------------------------------------------------------------------------------


class RssSampler:
    """Sample the peak resident set size of processes (and their children) in a thread."""

    def __init__(self, pids: Iterable[int] = (), interval: float = 0.05) -> None:
        self.pids = set(pids)
        self.interval = interval
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, pid: int) -> None:
        """Track one more process."""
        self.pids.add(pid)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for pid in list(self.pids):
                try:
                    proc = psutil.Process(pid)
                    rss = proc.memory_info().rss
                    for child in proc.children(recursive=True):
                        try:
                            rss = max(rss, child.memory_info().rss)
                        except psutil.Error:
                            pass
                except psutil.Error:
                    continue
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak_mb(self, pid: int | None = None) -> float:
        """Return the peak RSS in MB of one process (its largest member), or of all."""
        values = [self.peak.get(pid, 0)] if pid is not None else list(self.peak.values()) or [0]
        return round(max(values) / 1e6, 1)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def machine() -> dict[str, Any]:
    """Describe the machine the figures came from."""
    mem = ""
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", text)
        if found:
            cpu = found.group(1).strip()
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def print_table(title: str, rows: list[tuple[str, Any, str]]) -> None:
    """Print measure / value / target rows."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}")
    print(f"{'measure':<{width}}  {'value':>12}  target")
    for name, value, target in rows:
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown:>12}  {target}")


@dataclass
class Report:
    """One script's JSON result."""

    benchmark: str
    parameters: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)

    def write(self) -> Path:
        """Write results/<benchmark>-<time>.json and return its path."""
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{self.benchmark}-{time.strftime('%Y%m%dT%H%M%S')}.json"
        doc = {
            "benchmark": self.benchmark,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine(),
            "parameters": self.parameters,
            "results": self.results,
        }
        out.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
        return out
