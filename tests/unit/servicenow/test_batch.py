"""Batch API: request encoding, answer decoding, per-item errors and unserviced items."""

from __future__ import annotations

import base64
import json

import pytest

from connector.errors import AuthError, NotFound, Rejected, ServerError
from connector.servicenow import BatchRequest, table_url
from tests.unit.servicenow.conftest import BASE, BASIC, SYS_ID

BATCH_URL = f"{BASE}/api/now/v1/batch"


def _b64(data: bytes | dict) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.b64encode(raw).decode()


def _served(item_id, status, body=None, text="OK"):
    return {
        "id": item_id,
        "status_code": status,
        "status_text": text,
        "headers": [{"name": "Content-Type", "value": "application/json"}],
        "body": _b64(body) if body is not None else "",
        "execution_time": 12,
    }


def _sent_ids(request) -> list[str]:
    return [item["id"] for item in json.loads(request.body)["rest_requests"]]


def _items():
    return [
        BatchRequest("1", "post", table_url("task_ci"), {"task": SYS_ID, "ci_item": "a" * 32}),
        BatchRequest("2", "GET", table_url("incident", SYS_ID, fields=["sys_id", "state"])),
        BatchRequest("3", "DELETE", table_url("task_ci", "b" * 32)),
    ]


def test_batch_request_encoding(rsps, make_client):
    """Items go out with string ids, relative URLs, header lists and base64 JSON bodies."""
    seen = {}

    def check(request):
        body = json.loads(request.body)
        seen.update(body)
        return True, ""

    rsps.post(
        BATCH_URL,
        json={
            "batch_request_id": "1",
            "serviced_requests": [
                _served("1", 201, {"result": {"sys_id": "c" * 32}}, "Created"),
                _served("2", 200, {"result": {"sys_id": SYS_ID, "state": "2"}}),
                _served("3", 204, None, "No Content"),
            ],
            "unserviced_requests": [],
        },
        match=[check],
    )
    make_client().batch(_items())
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert isinstance(seen["batch_request_id"], str)
    first, second, third = seen["rest_requests"]
    assert first["id"] == "1"
    assert first["method"] == "POST"
    assert first["url"] == "/api/now/table/task_ci?sysparm_exclude_reference_link=true"
    assert {"name": "Content-Type", "value": "application/json"} in first["headers"]
    assert {"name": "Accept", "value": "application/json"} in first["headers"]
    assert json.loads(base64.b64decode(first["body"])) == {"task": SYS_ID, "ci_item": "a" * 32}
    assert second["url"] == (
        f"/api/now/table/incident/{SYS_ID}?sysparm_exclude_reference_link=true"
        "&sysparm_fields=sys_id,state"
    )
    assert "body" not in second
    assert third["method"] == "DELETE"


def test_batch_decodes_bodies_and_keeps_item_order(rsps, make_client):
    """Serviced items are base64-decoded, parsed as JSON when possible, in request order."""
    rsps.post(
        BATCH_URL,
        json={
            "batch_request_id": "1",
            "serviced_requests": [
                _served("3", 204, None, "No Content"),
                _served("2", 200, {"result": {"sys_id": SYS_ID, "state": "2"}}),
                {
                    "id": "1",
                    "status_code": 201,
                    "status_text": "Created",
                    "headers": [],
                    "body": _b64(b"not json"),
                    "execution_time": 3,
                },
            ],
        },
    )
    first, second, third = make_client().batch(_items())
    assert (first.id, first.status_code, first.body, first.error) == ("1", 201, b"not json", None)
    assert second.result == {"sys_id": SYS_ID, "state": "2"}
    assert second.headers == {"Content-Type": "application/json"}
    assert third.status_code == 204
    assert third.body == b""
    assert all(response.ok for response in (first, second, third))


def test_batch_item_errors_do_not_raise_for_the_whole_batch(rsps, make_client):
    """A failed item gets the matching StatusError; the other items still succeed."""
    not_found = {
        "error": {
            "message": "No Record found",
            "detail": "Record doesn't exist or ACL restricts the record retrieval",
        },
        "status": "failure",
    }
    rsps.post(
        BATCH_URL,
        json={
            "batch_request_id": "1",
            "serviced_requests": [
                _served(
                    "1",
                    400,
                    {"error": {"message": "Invalid table task_ci", "detail": None}},
                    "Bad Request",
                ),
                _served("2", 200, {"result": {"sys_id": SYS_ID}}),
                _served("3", 404, not_found, "Not Found"),
            ],
        },
    )
    first, second, third = make_client().batch(_items())
    assert isinstance(first.error, Rejected)
    assert first.error.message == "Invalid table task_ci"
    assert second.error is None
    assert isinstance(third.error, NotFound)
    assert third.error.detail == "Record doesn't exist or ACL restricts the record retrieval"
    with pytest.raises(NotFound):
        third.raise_for_error()


def test_unserviced_items_are_resent(rsps, make_client):
    """Items listed as unserviced are sent again, alone, in a new batch."""
    rsps.post(
        BATCH_URL,
        json={
            "batch_request_id": "1",
            "serviced_requests": [_served("1", 201, {"result": {"sys_id": "c" * 32}})],
            "unserviced_requests": ["2", "3"],
        },
        match=[lambda r: (_sent_ids(r) == ["1", "2", "3"], "first batch")],
    )
    rsps.post(
        BATCH_URL,
        json={
            "batch_request_id": "2",
            "serviced_requests": [
                _served("2", 200, {"result": {"sys_id": SYS_ID}}),
                _served("3", 204, None),
            ],
            "unserviced_requests": [],
        },
        match=[lambda r: (_sent_ids(r) == ["2", "3"], "resend")],
    )
    responses = make_client().batch(_items())
    assert [r.status_code for r in responses] == [201, 200, 204]
    assert all(r.ok for r in responses)


def test_items_never_serviced_end_with_a_retryable_error(rsps, make_client):
    """After three resends an unserviced item carries a retryable ServerError."""
    answer = {"batch_request_id": "1", "serviced_requests": [], "unserviced_requests": ["1"]}
    for _ in range(4):
        rsps.post(BATCH_URL, json=answer)
    (response,) = make_client().batch(_items()[:1])
    assert isinstance(response.error, ServerError)
    assert response.error.permanent is False
    assert len(rsps.calls) == 4


def test_whole_batch_401_raises(rsps, make_client):
    """A 401 for the batch call itself raises AuthError."""
    rsps.post(
        BATCH_URL,
        status=401,
        json={
            "error": {
                "message": "User Not Authenticated",
                "detail": "Required to provide Auth information",
            },
            "status": "failure",
        },
    )
    with pytest.raises(AuthError):
        make_client().batch(_items())


def _reads():
    return [BatchRequest("r", "GET", table_url("incident", SYS_ID))]


def _ok(item_id: str) -> dict:
    return {"batch_request_id": "1", "serviced_requests": [_served(item_id, 200, {"result": {}})]}


def test_a_batch_of_reads_is_retried_after_a_5xx(rsps, make_client, sleeps):
    """A batch holding only GETs is a read: a 500 answer is retried."""
    rsps.post(BATCH_URL, status=500, body="")
    rsps.post(BATCH_URL, json=_ok("r"))
    (response,) = make_client().batch(_reads())
    assert response.ok and len(rsps.calls) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_a_batch_with_writes_is_not_resent_after_a_5xx(rsps, make_client, sleeps, status):
    """A batch holding writes may have committed before its 5xx: it is raised, not resent."""
    rsps.post(BATCH_URL, status=status, body="")
    with pytest.raises(ServerError):
        make_client().batch(_items())
    assert len(rsps.calls) == 1 and sleeps == []


def test_before_send_runs_before_every_attempt_and_can_stop_the_call(rsps, make_client, sleeps):
    """before_send runs before each send (retries included); raising in it sends nothing more."""
    calls: list[int] = []

    class Stop(Exception):
        pass

    def guard() -> None:
        calls.append(len(rsps.calls))
        if len(calls) == 2:
            raise Stop()

    rsps.post(BATCH_URL, status=429, body="", headers={"Retry-After": "1"})
    with pytest.raises(Stop):
        make_client().batch(_items(), before_send=guard)
    assert calls == [0, 1]
    assert len(rsps.calls) == 1
