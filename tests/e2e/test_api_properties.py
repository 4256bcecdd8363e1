"""Property test: any /api/v1 body gets an answer in the JSON envelope, never a 500.

Bodies are arbitrary JSON built around the fields each endpoint reads (so many are nearly
valid and reach both emulators), plus arbitrary bytes. The connector serves over a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.demo import Stack, running_stack

pytestmark = pytest.mark.slow

TOKEN = "api-properties-token"
INC1 = "a5000000000000000000000000000001"
WS42 = "a7000000000000000000000000000001"
ALLOWED = {200, 400, 404, 409, 422, 502}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from([INC1, WS42, "incident", "sys_user", "jane.rep", "general", "rep:1"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "table",
    "sys_id",
    "ci_sys_id",
    "requested_by",
    "queue",
    "email_caller",
    "jump_group_id",
    "name",
    "platforms",
    "valid_duration",
]
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    json_values,
)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack(worker=False, **{"api.tokens": [TOKEN]}) as s:
        yield s


def post(stack: Stack, path: str, data: bytes) -> requests.Response:
    return requests.post(
        f"{stack.connector_url}/api/v1/{path}",
        data=data,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=60,
    )


def check(reply: requests.Response) -> None:
    assert reply.status_code in ALLOWED, (reply.status_code, reply.text[:300])
    data = reply.json()
    if reply.status_code >= 400:
        assert data["error"]["status"] == reply.status_code
        assert len(reply.content) < 4000  # a hostile body is never echoed back whole


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(["session-keys", "jump", "jump-client-installers"]),
    body=bodies,
)
def test_any_json_body_is_answered_in_the_envelope(stack, path, body):
    """Arbitrary JSON bodies get 2xx or 4xx (502 only from the appliance), never a 500."""
    check(post(stack, path, json.dumps(body).encode()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(["session-keys", "jump", "jump-client-installers"]),
    data=st.one_of(
        st.binary(max_size=300),
        # Nesting past the interpreter's recursion limit (about 1,000) once raised a 500.
        st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n + b"]" * n),
        st.integers(min_value=1, max_value=100_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    ),
)
def test_any_bytes_are_answered_in_the_envelope(stack, path, data):
    """Bodies that are not JSON objects get a 400 envelope (or pass as the JSON they are)."""
    check(post(stack, path, data))
