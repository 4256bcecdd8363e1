"""Bad input over a real socket gets a clear 4xx: never a 500, a traceback, or a silent cut."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from connector.app import create_app
from connector.sim.runtime import ServerThread
from tests.integration.test_webhook import TOKEN, event, make_config, stored

API_TOKEN = "api-token-for-tests"
INC1 = "a5000000000000000000000000000001"


class Records(logging.Handler):
    """Collect what the connector logs (its logger does not propagate to pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [
            f"{r.getMessage()} {r.exc_info!r}" for r in self.records if r.levelno >= logging.ERROR
        ]


@pytest.fixture
def server(tmp_path) -> Iterator[ServerThread]:
    cfg = make_config(
        tmp_path,
        **{"api.tokens": [API_TOKEN], "api.username": "snow", "api.password": "snow-pass"},
    )
    app = create_app(cfg)
    logs = Records()
    logger = logging.getLogger("connector")
    logger.addHandler(logs)
    try:
        with ServerThread(app) as srv:
            srv.store = app.extensions["connector"].store
            srv.logs = logs
            yield srv
    finally:
        logger.removeHandler(logs)


def api(server, path: str, body, headers=None) -> requests.Response:
    headers = {"Authorization": f"Bearer {API_TOKEN}", **(headers or {})}
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers.setdefault("Content-Type", "application/json")
    return requests.post(f"{server.url}{path}", data=data, headers=headers, timeout=30)


def test_chunked_body_over_the_limit_is_413_and_nothing_stored(server):
    """A chunked event body over webhook.max_body_bytes is refused whole, as with a length."""
    form = event(external_key="k" * 1000)
    form.update({f"pad{n}": "x" * 4000 for n in range(30)})  # each field within its own limit
    body = urlencode(form).encode()
    assert len(body) > 65536

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    reply = requests.post(
        f"{server.url}/bomgar/events",
        params={"outbound_event_token": TOKEN},
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert reply.status_code == 413
    assert stored(server.store) == 0
    assert server.store.counts()["pending"] == 0


def test_chunked_body_within_the_limit_is_accepted(server):
    """Chunked transfer itself is fine: a small chunked event is stored whole."""
    body = urlencode(event()).encode()
    reply = requests.post(
        f"{server.url}/bomgar/events",
        params={"outbound_event_token": TOKEN},
        data=iter([body[:20], body[20:]]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert reply.status_code == 200
    assert server.store.event_counts() == {"queued": 1}


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer \xe9t\xe9-token",
        "Bearer " + API_TOKEN[:-1] + "é",
        b"Basic " + base64.b64encode("snöw:snow-pass".encode()),
        b"Basic " + base64.b64encode("snow:pässword".encode()),
        b"Basic \xff\xfe",
        b"B\xe9arer x",
    ],
)
def test_non_ascii_authorization_is_401_without_a_traceback(server, header):
    """Authorization headers with non-ASCII bytes are refused with 401 and log no error."""
    reply = requests.post(
        f"{server.url}/api/v1/session-keys",
        json={"sys_id": INC1},
        headers={"Authorization": header},
        timeout=30,
    )
    assert reply.status_code == 401
    assert reply.json()["error"]["status"] == 401
    assert server.logs.errors() == []


def test_deeply_nested_json_is_400(server):
    """JSON nested 100,000 levels deep is refused with 400, not a RecursionError 500."""
    body = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/session-keys", "/api/v1/jump", "/api/v1/jump-client-installers"):
        reply = api(server, path, body)
        assert reply.status_code == 400, (path, reply.text[:200])
        assert reply.json()["error"]["status"] == 400
    nested_object = '{"sys_id": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
    assert api(server, "/api/v1/session-keys", nested_object).status_code == 400
    assert server.logs.errors() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/session-keys", {"table": "sys_user", "sys_id": INC1}),
        ("/api/v1/session-keys", {"table": "sys_user_has_role", "sys_id": INC1}),
        ("/api/v1/jump", {"table": "sys_user", "sys_id": INC1}),
    ],
)
def test_only_task_tables_are_accepted(server, path, body):
    """A table outside api.task_tables is refused with 400 before anything is read."""
    reply = api(server, path, body)
    assert reply.status_code == 400
    assert "task tables" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    "requested_by",
    ["nobody^ORuser_name=jane.rep", "x^NQactive=true", "jane.rep\n", "a,b", "é"],
)
def test_requested_by_with_query_syntax_is_400(server, requested_by):
    """requested_by must be a sys_id or a plain user name; query syntax is refused up front."""
    reply = api(server, "/api/v1/session-keys", {"sys_id": INC1, "requested_by": requested_by})
    assert reply.status_code == 400
    assert "requested_by" in reply.json()["error"]["message"]


def test_health_tells_strangers_status_and_names_only(server):
    """Without API credentials /health shows no outputs or upstream texts; with them it does."""
    anonymous = requests.get(f"{server.url}/health", timeout=30)
    assert anonymous.status_code == 200
    doc = anonymous.json()
    assert doc["status"] in ("pass", "warn", "fail")
    assert "servicenow:connectivity" in doc["checks"]
    assert "inbox:unmatched" in doc["checks"]
    for entries in doc["checks"].values():
        assert all(set(entry) == {"status"} for entry in entries)
    assert "127.0.0.1" not in anonymous.text and "http" not in anonymous.text

    def detailed() -> dict:
        reply = requests.get(
            f"{server.url}/health", headers={"Authorization": f"Bearer {API_TOKEN}"}, timeout=30
        )
        return reply.json()

    from connector.demo import wait_for

    # Both systems point at a closed port: the background pings fail fast and say why.
    assert wait_for(
        lambda: "connection failed" in detailed()["checks"]["servicenow:connectivity"][0]["output"],
        20,
    ), detailed()
    assert detailed()["releaseId"]
    again = requests.get(f"{server.url}/health", timeout=30)
    assert "connection failed" not in again.text and "output" not in again.text


def test_unmatched_sessions_show_in_metrics(server):
    """/metrics carries the unmatched gauge even when it is zero."""
    text = requests.get(f"{server.url}/metrics", timeout=30).text
    assert 'connector_jobs{appliance="",state="unmatched"} 0' in text
