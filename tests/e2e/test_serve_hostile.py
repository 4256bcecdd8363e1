"""A running `connector serve` (gunicorn, real process) under malformed and hostile requests.

The corpus covers bad encodings, huge and deep bodies and header tricks on every route. Every
answer must be a 4xx; nothing may be stored; nothing may be logged at ERROR or with a
traceback. A second process shows that health callers never hold the webhook up while the
remote systems hang, and both show the start-up warning about an over-open webhook, once.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import yaml

from connector.sim.hanging import HangingServer
from connector.store import Store

pytestmark = pytest.mark.slow

TOKEN = "serve-hostile-webhook-token"
API_TOKEN = "serve-hostile-api-token"
LSID = "3f2a7c0e9b1d4e6fa8c25d0b71e94c33"
INC1 = "a5000000000000000000000000000001"
WARNING = "webhook more open than needed"


@dataclass
class Served:
    """A `connector serve` process and where its state and log live."""

    url: str
    port: int
    store_path: Path
    log_path: Path
    popen: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path) -> Iterator:
    """Start `connector serve` as a child process with given settings; stop it afterwards."""
    started: list[Served] = []
    hanging = HangingServer()

    def start(workers: int = 2, threads: int = 4, **overrides: object) -> Served:
        store_path = tmp_path / f"connector-{len(started)}.db"
        settings = {
            "servicenow.instance_url": hanging.url,
            "servicenow.username": "admin",
            "servicenow.password": "admin",
            "bomgar.appliance_url": hanging.url,
            "bomgar.client_id": "c",
            "bomgar.client_secret": "s",
            "webhook.token": TOKEN,
            "webhook.trusted_proxies": ["127.0.0.1/32"],
            "api.tokens": [API_TOKEN],
            "api.username": "snow",
            "api.password": "snow-pass",
            "support.signing_secret": "support-secret",
            "poller.enabled": False,
            "store.path": str(store_path),
            "logging.level": "INFO",
            "logging.format": "json",
            **overrides,
        }
        config = tmp_path / f"connector-{len(started)}.yaml"
        config.write_text(yaml.safe_dump(settings))
        log_path = tmp_path / f"serve-{len(started)}.log"
        port = free_port()
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "connector", "serve", "--config", str(config)]
                + ["--port", str(port), "--workers", str(workers), "--threads", str(threads)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, so stopping reaches gunicorn's workers
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        served = Served(f"http://127.0.0.1:{port}", port, store_path, log_path, popen)
        started.append(served)
        deadline = time.monotonic() + 60
        while True:
            assert popen.poll() is None, served.log()
            try:
                requests.get(f"{served.url}/metrics", timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, served.log()
                time.sleep(0.1)
        return served

    start.hanging = hanging  # type: ignore[attr-defined]
    yield start
    for served in started:
        if served.popen.poll() is None:
            os.killpg(served.popen.pid, signal.SIGTERM)
            try:
                served.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(served.popen.pid, signal.SIGKILL)
                served.popen.wait(10)
    hanging.close()


def raw(served: Served, request: bytes, timeout: float = 15) -> int:
    """Send bytes as they are and return the HTTP status of the answer (0 when none came)."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=timeout) as conn:
        conn.sendall(request)
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        data = b""
        while b"\r\n" not in data:
            try:
                chunk = conn.recv(4096)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def http(method: str, target: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    """Compose a request by hand (Content-Length added unless a header says otherwise)."""
    headers = {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}
    if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
        headers["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1")
    for name, value in headers.items():
        value = value if isinstance(value, bytes) else str(value).encode("latin-1")
        head += name.encode("latin-1") + b": " + value + b"\r\n"
    return head + b"\r\n" + body


def event_body(**changes: str) -> bytes:
    form = {
        "event": "support_conference_end",
        "version": "3",
        "timestamp": "1718011865",
        "lsid": LSID,
        "external_key": "INC0000001",
        **changes,
    }
    return urlencode(form).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"}
EVENTS = f"/bomgar/events?outbound_event_token={TOKEN}"


def chunked(body: bytes, size: int = 4096) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def corpus() -> list[tuple[str, bytes]]:
    """Return (name, raw request) pairs, none of which is a valid request."""
    big_form = event_body(**{f"pad{n}": "x" * 4000 for n in range(30)})
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = [
        ("no token", http("POST", "/bomgar/events", event_body(), FORM)),
        (
            "wrong token",
            http("POST", "/bomgar/events?outbound_event_token=nope", event_body(), FORM),
        ),
        (
            "non-ascii token",
            http("POST", "/bomgar/events?outbound_event_token=%C3%A9", event_body(), FORM),
        ),
        (
            "invalid utf-8 body",
            http("POST", EVENTS, b"event=\xff\xfe&lsid=\xc3(&timestamp=1", FORM),
        ),
        (
            "invalid percent-escapes",
            http("POST", EVENTS, b"event=%ff%fe%zz&timestamp=%&lsid=%", FORM),
        ),
        ("null bytes", http("POST", EVENTS, event_body(event="support\x00end"), FORM)),
        ("control characters in lsid", http("POST", EVENTS, event_body(lsid="a\r\nb"), FORM)),
        ("huge timestamp", http("POST", EVENTS, event_body(timestamp="9" * 5000), FORM)),
        ("overlong external key", http("POST", EVENTS, event_body(external_key="k" * 5000), FORM)),
        (
            "declared length over the limit",
            http("POST", EVENTS, b"", {**FORM, "Content-Length": "10000000"}),
        ),
        (
            "chunked body over the limit",
            http("POST", EVENTS, chunked(big_form), {**FORM, "Transfer-Encoding": "chunked"}),
        ),
        (
            "malformed chunk size",
            http(
                "POST", EVENTS, b"zz\r\nabc\r\n0\r\n\r\n", {**FORM, "Transfer-Encoding": "chunked"}
            ),
        ),
        (
            "length and chunked together",
            http(
                "POST",
                EVENTS,
                chunked(event_body()),
                {**FORM, "Transfer-Encoding": "chunked", "Content-Length": "5"},
            ),
        ),
        (
            "multipart with a broken boundary",
            http(
                "POST",
                EVENTS,
                b"--x\r\nnot a part",
                {"Content-Type": "multipart/form-data; boundary=y"},
            ),
        ),
        (
            "json to the webhook",
            http(
                "POST",
                EVENTS,
                json.dumps({"event": "x"}).encode(),
                {"Content-Type": "application/json"},
            ),
        ),
        (
            "forwarded-for spoof without token",
            http(
                "POST",
                "/bomgar/events",
                event_body(),
                {**FORM, "X-Forwarded-For": "127.0.0.1, 127.0.0.1"},
            ),
        ),
        (
            "non-ascii header name value",
            http("POST", EVENTS, b"x", {**FORM, "X-Bad": b"\xff\xfe\xfd"}),
        ),
        ("very long header", http("POST", EVENTS, b"", {"X-Long": "a" * 20000})),
        (
            "non-ascii bearer",
            http(
                "POST", "/api/v1/session-keys", b"{}", {**JSON, "Authorization": b"Bearer \xe9\xe9"}
            ),
        ),
        (
            "non-ascii basic",
            http(
                "POST",
                "/api/v1/session-keys",
                b"{}",
                {**JSON, "Authorization": b"Basic " + base64.b64encode("snöw:pässword".encode())},
            ),
        ),
        (
            "garbage basic",
            http("POST", "/api/v1/jump", b"{}", {**JSON, "Authorization": b"Basic \xff==="}),
        ),
        ("deep json", http("POST", "/api/v1/session-keys", deep, JSON)),
        (
            "deep json object",
            http("POST", "/api/v1/jump", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, JSON),
        ),
        (
            "json over a megabyte",
            http("POST", "/api/v1/session-keys", b'{"x": "' + b"a" * 1_100_000 + b'"}', JSON),
        ),
        ("invalid utf-8 json", http("POST", "/api/v1/session-keys", b'{"sys_id": "\xff"}', JSON)),
        (
            "huge integer json",
            http(
                "POST",
                "/api/v1/jump-client-installers",
                b'{"jump_group_id": ' + b"9" * 10_000 + b"}",
                JSON,
            ),
        ),
        ("nan json", http("POST", "/api/v1/session-keys", b'{"sys_id": NaN}', JSON)),
        (
            "table outside the task tables",
            http(
                "POST",
                "/api/v1/session-keys",
                json.dumps({"table": "sys_user", "sys_id": INC1}).encode(),
                JSON,
            ),
        ),
        (
            "encoded-query injection",
            http(
                "POST",
                "/api/v1/session-keys",
                json.dumps(
                    {"sys_id": INC1, "requested_by": "nobody^ORuser_name=jane.rep"}
                ).encode(),
                JSON,
            ),
        ),
        ("wrong json shape", http("POST", "/api/v1/jump", b"[1, 2, 3]", JSON)),
        (
            "form to the api",
            http(
                "POST",
                "/api/v1/session-keys",
                b"sys_id=1",
                {**FORM, "Authorization": f"Bearer {API_TOKEN}"},
            ),
        ),
        (
            "support page bad signature",
            http("GET", f"/support/incident/{INC1}?user={INC1}&expires=9999999999&sig=AAAA"),
        ),
        (
            "support page non-task table",
            http("GET", f"/support/sys_user/{INC1}?user=x&expires=1&sig=AAAA"),
        ),
        ("support page non-ascii path", http("GET", "/support/incident/%C3%A9%00?sig=%ff")),
        (
            "support start forged",
            http(
                "POST",
                f"/support/incident/{INC1}/start",
                b"user=x&expires=99999999999&sig=%%%",
                FORM,
            ),
        ),
        ("unknown route", http("GET", "/../../etc/passwd")),
        ("wrong method", http("DELETE", "/bomgar/events")),
        (
            "absolute-form target",
            http("POST", "http://evil.example/bomgar/events", event_body(), FORM),
        ),
    ]
    return cases


def test_malformed_requests_get_4xx_store_nothing_and_log_no_error(serve):
    """Each corpus request gets a 4xx from a running serve; no 500, no traceback, nothing stored."""
    served = serve()
    statuses = {name: raw(served, request) for name, request in corpus()}
    bad = {name: status for name, status in statuses.items() if not 400 <= status < 500}
    assert bad == {}, statuses
    assert served.popen.poll() is None
    log = served.log()
    assert "Traceback" not in log, log[-3000:]
    errors = [line for line in log.splitlines() if '"level": "ERROR"' in line or "[ERROR]" in line]
    assert errors == [], errors
    store = Store(served.store_path)
    assert store.event_counts() == {}
    assert all(n == 0 for n in store.counts().values()), store.counts()


def test_start_up_warns_once_about_an_over_open_webhook(serve):
    """No appliance_id and loopback allowed behind a proxy: each said once, not per worker."""
    served = serve(workers=3)
    lines = [line for line in served.log().splitlines() if WARNING in line]
    assert len(lines) == 2, lines
    assert any("bomgar.appliance_id" in line for line in lines)
    assert any("127.0.0.0/8" in line for line in lines)
    quiet = serve(
        **{
            "bomgar.appliance_id": "appl-1",
            "webhook.trusted_proxies": [],
            "webhook.allowed_networks": ["127.0.0.1/32"],
        }
    )
    assert WARNING not in quiet.log()


def test_health_callers_never_hold_up_the_webhook(serve):
    """With both remote systems hanging, eight /health callers leave the webhook answering."""
    served = serve(workers=1, threads=2)
    results: list[int] = []

    def call_health() -> None:
        try:
            reply = requests.get(
                f"{served.url}/health", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=60
            )
            results.append(reply.status_code)
        except requests.RequestException:
            results.append(0)

    callers = [threading.Thread(target=call_health) for _ in range(8)]
    for t in callers:
        t.start()
    # The appliance pings hang for 5 s and ServiceNow's for 60 s; the event must not wait on them.
    reply = requests.post(
        f"{served.url}/bomgar/events",
        params={"outbound_event_token": TOKEN},
        data=event_body(),
        headers=FORM,
        timeout=3,
    )
    assert reply.status_code == 200, reply.text
    for t in callers:
        t.join(30)
    assert results == [200] * 8
    # However many callers, one ping per remote system is in flight.
    assert len(serve.hanging.accepted) <= 2
    assert Store(served.store_path).event_counts() == {"queued": 1}
