"""Error mapping and retry rules of the ServiceNow client."""

from __future__ import annotations

import pytest
import requests
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connector.errors import (
    AuthError,
    NotFound,
    ProtocolError,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
)
from connector.servicenow.answers import in_doubt
from tests.unit.servicenow.conftest import SYS_ID, TABLE

RECORD = {"sys_id": SYS_ID, "state": "2"}


def _error(message, detail):
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def test_404_on_patch_raises_not_found_with_servicenow_message(rsps, make_client):
    """A 404 on a write raises NotFound carrying ServiceNow's message and detail."""
    rsps.patch(
        f"{TABLE}/incident/{SYS_ID}",
        status=404,
        json=_error(
            "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        ),
    )
    with pytest.raises(NotFound) as info:
        make_client().update_record("incident", SYS_ID, {"state": "2"})
    assert info.value.status == 404
    assert info.value.message == "No Record found"
    assert info.value.detail == "Record doesn't exist or ACL restricts the record retrieval"
    assert info.value.permanent is True


def test_400_unknown_table_raises_rejected_without_detail(rsps, make_client, sleeps):
    """A 400 'Invalid table' raises Rejected at once, with a null detail kept as None."""
    rsps.get(f"{TABLE}/u_nope", status=400, json=_error("Invalid table u_nope", None))
    with pytest.raises(Rejected) as info:
        make_client().query("u_nope", "")
    assert info.value.message == "Invalid table u_nope"
    assert info.value.detail is None
    assert sleeps == []
    assert len(rsps.calls) == 1


def test_401_raises_auth_error_and_is_not_retried(rsps, make_client, sleeps):
    """A 401 raises AuthError with the 'User Not Authenticated' body and no retry."""
    rsps.get(
        f"{TABLE}/incident/{SYS_ID}",
        status=401,
        json=_error("User Not Authenticated", "Required to provide Auth information"),
        headers={"WWW-Authenticate": 'BASIC realm="Service-now"'},
    )
    with pytest.raises(AuthError) as info:
        make_client().get_record("incident", SYS_ID)
    assert (info.value.status, info.value.message, info.value.detail) == (
        401,
        "User Not Authenticated",
        "Required to provide Auth information",
    )
    assert sleeps == []


def test_403_data_policy_raises_auth_error_with_detail(rsps, make_client):
    """A 403 data-policy abort on insert raises AuthError with the data-policy detail."""
    detail = "Data Policy Exception: \n\tThe following fields are mandatory: Caller"
    rsps.post(f"{TABLE}/incident", status=403, json=_error("Operation Failed", detail))
    with pytest.raises(AuthError) as info:
        make_client().create_record("incident", {"short_description": "x"})
    assert info.value.status == 403
    assert info.value.message == "Operation Failed"
    assert info.value.detail == detail


def test_non_json_error_body_still_gives_a_status_error(rsps, make_client):
    """An HTML 500 on a POST raises ServerError (not a parse error) and is not retried."""
    rsps.post(
        f"{TABLE}/incident",
        status=500,
        body="<html><body>Internal error</body></html>",
        content_type="text/html",
    )
    with pytest.raises(ServerError) as info:
        make_client().create_record("incident", {"short_description": "x"})
    assert info.value.status == 500
    assert info.value.detail is None
    assert len(rsps.calls) == 1


def test_429_retry_after_is_honoured_on_get(rsps, make_client, sleeps):
    """A 429 with Retry-After makes the client wait that long and try the GET again."""
    rsps.get(
        f"{TABLE}/incident/{SYS_ID}",
        status=429,
        json=_error(
            "Rate limit exceeded", "Rate limit of 10 requests per hour for Table API exceeded"
        ),
        headers={"Retry-After": "7"},
    )
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD})
    assert make_client().get_record("incident", SYS_ID) == RECORD
    assert sleeps == [7.0]


def test_429_retry_after_is_honoured_on_post(rsps, make_client, sleeps):
    """A write answered 429 did not happen, so it is resent after Retry-After."""
    rsps.post(f"{TABLE}/incident", status=429, body="", headers={"Retry-After": "3"})
    rsps.post(f"{TABLE}/incident", status=201, json={"result": RECORD})
    assert make_client().create_record("incident", {"state": "2"}) == RECORD
    assert sleeps == [3.0]


def test_429_gives_up_after_the_policy_attempts(rsps, make_client, sleeps):
    """Persistent 429s end in RateLimited carrying Retry-After once attempts run out."""
    rsps.get(f"{TABLE}/incident", status=429, body="busy", headers={"Retry-After": "2"})
    with pytest.raises(RateLimited) as info:
        make_client().query("incident", "")
    assert info.value.retry_after == 2.0
    assert len(rsps.calls) == 4
    assert sleeps == [2.0, 2.0, 2.0]


def test_5xx_on_get_is_retried(rsps, make_client, sleeps):
    """A 502 on a GET is retried with backoff and the second answer is returned."""
    rsps.get(f"{TABLE}/incident/{SYS_ID}", status=502, body="Bad gateway")
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD})
    assert make_client().get_record("incident", SYS_ID) == RECORD
    assert len(sleeps) == 1


def test_500_on_post_is_not_retried(rsps, make_client, sleeps):
    """A 500 on a POST may have followed a partial write, so it reaches the caller."""
    rsps.post(
        f"{TABLE}/incident",
        status=500,
        json=_error(
            "Transaction cancelled: maximum execution time exceeded",
            "Transaction cancelled: maximum execution time exceeded Check logs",
        ),
    )
    with pytest.raises(ServerError) as info:
        make_client().create_record("incident", {"state": "2"})
    assert info.value.message == "Transaction cancelled: maximum execution time exceeded"
    assert sleeps == []


def test_503_on_post_is_not_retried(rsps, make_client, sleeps):
    """A 503 may come after the instance committed (a node restarting), so it is not resent."""
    rsps.post(f"{TABLE}/incident", status=503, body="")
    with pytest.raises(ServerError) as info:
        make_client().create_record("incident", {"state": "2"})
    assert info.value.status == 503 and in_doubt(info.value)
    assert len(rsps.calls) == 1
    assert sleeps == []


def test_429_on_post_is_retried(rsps, make_client, sleeps):
    """A 429 is refused before the instance acts: the write did not happen and is resent."""
    rsps.post(f"{TABLE}/incident", status=429, body="", headers={"Retry-After": "3"})
    rsps.post(f"{TABLE}/incident", status=201, json={"result": RECORD})
    assert make_client().create_record("incident", {"state": "2"}) == RECORD
    assert sleeps == [3.0]


def test_timeout_on_post_is_not_retried(rsps, make_client, sleeps):
    """A read timeout after a POST was sent is raised to the caller, never resent."""
    rsps.post(f"{TABLE}/incident", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransportError):
        make_client().create_record("incident", {"state": "2"})
    assert len(rsps.calls) == 1
    assert sleeps == []


def test_dropped_connection_on_patch_is_not_retried(rsps, make_client, sleeps):
    """A connection dropped after a PATCH was sent is raised, since the write may have happened."""
    rsps.patch(
        f"{TABLE}/incident/{SYS_ID}",
        body=requests.ConnectionError("Connection aborted: RemoteDisconnected"),
    )
    with pytest.raises(TransportError):
        make_client().update_record("incident", SYS_ID, {"state": "2"})
    assert sleeps == []


def test_refused_connection_on_post_is_retried(rsps, make_client, sleeps):
    """A POST whose connection was refused was never sent, so it is retried."""
    refused = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    rsps.post(
        f"{TABLE}/incident",
        body=requests.ConnectionError(MaxRetryError(None, "/api/now/table/incident", refused)),
    )
    rsps.post(f"{TABLE}/incident", status=201, json={"result": RECORD})
    assert make_client().create_record("incident", {"state": "2"}) == RECORD
    assert len(sleeps) == 1


def test_timeout_on_get_is_retried(rsps, make_client, sleeps):
    """A read timeout on a GET is retried: reading twice is harmless."""
    rsps.get(f"{TABLE}/incident/{SYS_ID}", body=requests.ReadTimeout("read timed out"))
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD})
    assert make_client().get_record("incident", SYS_ID) == RECORD
    assert len(sleeps) == 1


def test_html_200_raises_protocol_error(rsps, make_client):
    """A hibernating instance's HTML page with status 200 raises ProtocolError on a write."""
    rsps.post(
        f"{TABLE}/incident",
        status=200,
        body="<html><head><title>Instance Hibernating</title></head></html>",
        content_type="text/html",
    )
    with pytest.raises(ProtocolError) as info:
        make_client().create_record("incident", {"state": "2"})
    assert info.value.permanent is False
    assert len(rsps.calls) == 1


def test_html_200_on_get_is_retried_then_raised(rsps, make_client, sleeps):
    """A non-JSON 200 on a GET is retried as a transient fault and ends in ProtocolError."""
    rsps.get(f"{TABLE}/incident/{SYS_ID}", status=200, body="<html>asleep</html>")
    with pytest.raises(ProtocolError):
        make_client().get_record("incident", SYS_ID)
    assert len(rsps.calls) == 4
    assert len(sleeps) == 3


def test_empty_202_on_get_is_retried(rsps, make_client, sleeps):
    """An empty 202 on a GET (requests queued on the instance) is retried."""
    rsps.get(f"{TABLE}/incident", status=202, body="")
    rsps.get(
        f"{TABLE}/incident",
        json={"result": [RECORD]},
        match=[matchers.query_param_matcher({"sysparm_offset": "0"}, strict_match=False)],
    )
    assert make_client().query("incident", "state=2") == [RECORD]
    assert len(sleeps) == 1


def test_error_document_inside_200_raises_server_error(rsps, make_client):
    """A 200 whose body is an error document (quota cancel) is not mistaken for a record."""
    rsps.post(
        f"{TABLE}/incident",
        status=201,
        json=_error("Transaction cancelled: maximum execution time exceeded", None),
    )
    with pytest.raises(ServerError) as info:
        make_client().create_record("incident", {"state": "2"})
    assert info.value.message == "Transaction cancelled: maximum execution time exceeded"
    assert info.value.permanent is False
    assert len(rsps.calls) == 1
