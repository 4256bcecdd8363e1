"""Tests for connector.bomgar.client.BomgarClient against `responses` (what is sent and read)."""

from __future__ import annotations

import base64
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
import responses
import urllib3
from responses import matchers

from connector.bomgar.client import BomgarClient
from connector.bomgar.xmldoc import (
    BomgarAuthError,
    BomgarNotFound,
    BomgarRejected,
    BomgarServerError,
    ReportTooLarge,
)
from connector.errors import AuthError, DataError, ProtocolError, TransportError
from connector.http import RetryPolicy
from tests.unit.bomgar.conftest import load

BASE = "https://support.example.test"
TOKEN_URL = f"{BASE}/oauth2/token"
COMMAND = f"{BASE}/api/command"
REPORTING = f"{BASE}/api/reporting"
CONFIG = f"{BASE}/api/config/v1"
CLIENT_ID = "connector-client"
SECRET = "connector-secret"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
LSID = "3f2a7c0e9b1d4e6fa8c25d0b71e94c33"


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list):
    """Record sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Activate responses, insisting that every registered reply is used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> Sleeps:
    """Collect retry sleeps."""
    return Sleeps()


@pytest.fixture
def clock() -> Clock:
    """A controllable clock for token expiry."""
    return Clock()


@pytest.fixture
def client(sleeps: Sleeps, clock: Clock) -> BomgarClient:
    """A client with fast, recorded retries and no rate limiting."""
    return BomgarClient(
        BASE,
        CLIENT_ID,
        SECRET,
        max_per_second=0,
        retry=RetryPolicy(attempts=3, sleep=sleeps),
        clock=clock,
    )


def add_token(rsps: responses.RequestsMock, token: str = "tok1", expires_in: int = 3600) -> None:
    """Register one token reply that checks Basic client auth and the form body."""
    rsps.post(
        TOKEN_URL,
        json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
        match=[
            matchers.header_matcher({"Authorization": BASIC}),
            matchers.urlencoded_params_matcher({"grant_type": "client_credentials"}),
        ],
    )


def add_command(
    rsps: responses.RequestsMock,
    action: str,
    body: bytes,
    *,
    token: str = "tok1",
    status: int = 200,
    extra: dict | None = None,
) -> None:
    """Register one command reply that checks action, bearer token and Connection: close."""
    rsps.get(
        COMMAND,
        body=body,
        status=status,
        content_type="text/xml",
        match=[
            matchers.query_param_matcher({"action": action, **(extra or {})}),
            matchers.header_matcher({"Authorization": f"Bearer {token}", "Connection": "close"}),
        ],
    )


# --- OAuth ---------------------------------------------------------------------------------


def test_token_is_minted_once_and_reused(rsps, client) -> None:
    """Two calls share one token: one token request, bearer header on both calls."""
    add_token(rsps)
    add_command(rsps, "get_api_info", load("api_info.xml"))
    add_command(rsps, "get_logged_in_reps", load("logged_in_reps.xml"))
    assert client.get_api_info().api_version == "1.18.0"
    assert [r.id for r in client.get_logged_in_reps()] == ["1", "3"]
    assert client.tokens_minted == 1


def test_token_is_shared_across_threads(rsps, client) -> None:
    """Eight threads calling at once still cause exactly one token request."""
    add_token(rsps)
    for _ in range(8):
        add_command(rsps, "get_api_info", load("api_info.xml"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        try:
            client.get_api_info()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(1 for c in rsps.calls if c.request.url == TOKEN_URL) == 1


def test_token_renewed_sixty_seconds_before_expiry(rsps, client, clock) -> None:
    """The token is reused until 60 s before expiry, then renewed."""
    add_token(rsps, "tok1", expires_in=3600)
    add_command(rsps, "get_api_info", load("api_info.xml"), token="tok1")
    add_command(rsps, "get_api_info", load("api_info.xml"), token="tok1")
    add_token(rsps, "tok2", expires_in=3600)
    add_command(rsps, "get_api_info", load("api_info.xml"), token="tok2")
    client.get_api_info()
    clock.now += 3539
    client.get_api_info()
    clock.now += 2
    client.get_api_info()
    assert client.tokens_minted == 2


def test_renew_once_on_401(rsps, client) -> None:
    """A 401 drops the token, mints a new one and retries the call once."""
    add_token(rsps, "tok1")
    add_command(rsps, "get_api_info", b"", token="tok1", status=401)
    add_token(rsps, "tok2")
    add_command(rsps, "get_api_info", load("api_info.xml"), token="tok2")
    assert client.get_api_info().company_name == "Example Corp"


def test_renew_once_on_access_denied_body(rsps, client) -> None:
    """A JSON access_denied body (any status) also triggers one renewal."""
    add_token(rsps, "tok1")
    rsps.get(COMMAND, json={"error": "access_denied", "message": "Token expired"}, status=400)
    add_token(rsps, "tok2")
    add_command(rsps, "get_api_info", load("api_info.xml"), token="tok2")
    client.get_api_info()
    assert client.tokens_minted == 2


@pytest.mark.parametrize(
    "refusal",
    [
        b'<error xmlns="http://www.bomgar.com/namespaces/API/command">Invalid token</error>',
        b"<?xml version='1.0'?><api_information><error>Access denied</error></api_information>",
    ],
)
def test_renew_once_on_xml_token_error(rsps, client, refusal) -> None:
    """An XML error about the token, as the root or the root's first child, renews it once."""
    add_token(rsps, "tok1")
    add_command(rsps, "get_api_info", refusal, token="tok1")
    add_token(rsps, "tok2")
    add_command(rsps, "get_api_info", load("api_info.xml"), token="tok2")
    assert client.get_api_info().company_name == "Example Corp"
    assert client.tokens_minted == 2


def test_report_mentioning_token_errors_keeps_the_token(rsps, client) -> None:
    """A report whose chat talks of "token error" is data, not a refused token."""
    chat = "<error>".replace("<", "&lt;").replace(">", "&gt;") + " access token expired"
    extra = f'<session lsid="{"e" * 32}"><error_note>{chat}</error_note></session>'
    body = load("support_sessions.xml").replace(
        b"</session_list>", extra.encode() + b"</session_list>"
    )
    assert b"error" in body
    add_token(rsps, "tok1")
    rsps.get(REPORTING, body=body, content_type="text/xml")
    sessions = client.support_sessions([LSID])
    assert sessions[-1].lsid == "e" * 32
    assert client.tokens_minted == 1


def test_second_401_is_auth_error_without_more_tokens(rsps, client, sleeps) -> None:
    """If the fresh token is refused too, AuthError is raised: no loop, no retries."""
    add_token(rsps, "tok1")
    add_command(rsps, "get_api_info", b"", token="tok1", status=401)
    add_token(rsps, "tok2")
    add_command(rsps, "get_api_info", b"", token="tok2", status=401)
    with pytest.raises(BomgarAuthError) as caught:
        client.get_api_info()
    assert caught.value.status == 401 and caught.value.permanent
    assert client.tokens_minted == 2 and sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            401,
            {"error": "invalid_client", "message": "Client authentication failed"},
            "invalid_client: Client authentication failed",
        ),
        (400, {"error": "unsupported_grant_type"}, "unsupported_grant_type"),
        (200, {"token_type": "Bearer"}, "no access_token"),
        (200, {"access_token": "x", "error": "invalid_grant"}, "invalid_grant"),
    ],
)
def test_failed_token_request_is_auth_error(rsps, client, status, body, expected) -> None:
    """A failed token request raises a permanent AuthError with the appliance's words, no secret."""
    rsps.post(TOKEN_URL, json=body, status=status)
    with pytest.raises(AuthError) as caught:
        client.get_api_info()
    assert expected in str(caught.value) and caught.value.permanent
    assert SECRET not in str(caught.value)


def test_token_server_error_is_retried(rsps, client, sleeps, caplog) -> None:
    """A 5xx from the token endpoint is retried; logs never show the secret."""
    caplog.set_level(logging.DEBUG)
    rsps.post(TOKEN_URL, json={"error": "server_error"}, status=503)
    add_token(rsps)
    add_command(rsps, "get_api_info", load("api_info.xml"))
    client.get_api_info()
    assert len(sleeps) == 1
    assert SECRET not in caplog.text and "tok1" not in caplog.text


# --- Errors and retries ---------------------------------------------------------------------


def test_error_document_on_200_is_raised(rsps, client, sleeps) -> None:
    """An <error> in a 200 reply is raised with its message, not returned as data."""
    add_token(rsps)
    add_command(
        rsps,
        "get_logged_in_reps",
        b'<logged_in_reps xmlns="http://www.bomgar.com/namespaces/API/command">'
        b"<error>Login failed</error></logged_in_reps>",
    )
    with pytest.raises(BomgarAuthError, match="Login failed"):
        client.get_logged_in_reps()
    assert sleeps == []


def test_server_errors_are_retried_then_raised(rsps, client, sleeps) -> None:
    """5xx replies are retried up to the policy's attempts, then raised with the body's message."""
    add_token(rsps)
    for _ in range(3):
        add_command(
            rsps, "get_support_teams", b"<error>Request could not be completed.</error>", status=503
        )
    with pytest.raises(BomgarServerError, match="could not be completed") as caught:
        client.get_support_teams()
    assert caught.value.status == 503
    assert len(sleeps) == 2


def test_malformed_xml_is_retried(rsps, client, sleeps) -> None:
    """A truncated XML body (a transient appliance fault) is retried and then succeeds."""
    add_token(rsps)
    add_command(rsps, "get_support_teams", b"<support_teams><support_team id='1'>")
    add_command(rsps, "get_support_teams", load("support_teams.xml"), extra=None)
    assert [t.name for t in client.get_support_teams()] == ["Service Desk", "Desktop Support"]
    assert len(sleeps) == 1


def test_not_found_is_not_retried(rsps, client, sleeps) -> None:
    """An 'Invalid lsid.' reply is permanent: raised at once."""
    add_token(rsps)
    rsps.get(REPORTING, body=b"<error>Invalid lsid.</error>", content_type="text/xml")
    with pytest.raises(BomgarNotFound):
        client.support_sessions([LSID])
    assert sleeps == []


def test_report_size_limit(rsps, sleeps, clock) -> None:
    """A reply above max_report_bytes is refused without retrying."""
    client = BomgarClient(
        BASE,
        CLIENT_ID,
        SECRET,
        max_per_second=0,
        max_report_bytes=500,
        retry=RetryPolicy(attempts=3, sleep=sleeps),
        clock=clock,
    )
    add_token(rsps)
    rsps.get(REPORTING, body=load("support_sessions.xml"), content_type="text/xml")
    with pytest.raises(ReportTooLarge):
        client.support_sessions([LSID])
    assert sleeps == []


# --- Command API ----------------------------------------------------------------------------


def test_generate_session_key_sends_literal_custom_names(rsps, client) -> None:
    """generate_session_key POSTs type, queue, ttl and session.custom.* with literal dots."""
    add_token(rsps)
    rsps.post(
        COMMAND,
        body=load("session_key.xml"),
        content_type="text/xml",
        match=[
            matchers.query_param_matcher({"action": "generate_session_key"}),
            matchers.urlencoded_params_matcher(
                {
                    "type": "support",
                    "queue_id": "rep:1",
                    "ttl": "1800",
                    "session.custom.external_key": "INC0000001",
                    "session.custom.ci_name": "WS-LAB-0042",
                }
            ),
            matchers.header_matcher({"Authorization": "Bearer tok1", "Connection": "close"}),
        ],
    )
    key = client.generate_session_key(
        "rep:1", external_key="INC0000001", custom={"ci_name": "WS-LAB-0042"}, ttl=1800
    )
    assert key.short_key == "5180427"
    assert b"session.custom.external_key=INC0000001" in rsps.calls[1].request.body.encode()


def test_generate_session_key_not_retried_after_timeout(rsps, client, sleeps) -> None:
    """A read timeout may have minted a key, so generate_session_key is not retried."""
    add_token(rsps)
    rsps.post(COMMAND, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransportError, match="timed out"):
        client.generate_session_key("general")
    assert sleeps == []


def test_generate_session_key_retried_on_refused_and_429(rsps, client, sleeps) -> None:
    """Connection refused (nothing sent) and 429 are safe to retry."""
    add_token(rsps)
    refused = requests.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None, COMMAND, urllib3.exceptions.NewConnectionError(None, "Connection refused")
        )
    )
    rsps.post(COMMAND, body=refused)
    rsps.post(COMMAND, body=b"<error>slow down</error>", status=429, headers={"Retry-After": "2"})
    rsps.post(COMMAND, body=load("session_key.xml"), content_type="text/xml")
    assert client.generate_session_key("general").short_key == "5180427"
    assert len(sleeps) == 2 and sleeps[1] == 2.0


def test_generate_session_key_not_retried_on_5xx(rsps, client, sleeps) -> None:
    """A 5xx after sending is not retried for the minting call."""
    add_token(rsps)
    rsps.post(COMMAND, body=b"<error>Request could not be completed.</error>", status=500)
    with pytest.raises(BomgarServerError):
        client.generate_session_key("general")
    assert sleeps == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"external_key": "K" * 1025}, "'external_key'.*at most 1024"),
        ({"custom": {f"f{i}": "v" * 1000 for i in range(11)}}, "10240 bytes in total"),
        ({"custom": {"bad.name": "x"}}, "code name"),
        ({"ttl": 0}, "ttl"),
    ],
)
def test_generate_session_key_limits_checked_before_sending(rsps, client, kwargs, match) -> None:
    """Custom values over 1024 chars or 10 KB in total, or bad names, fail before any request."""
    with pytest.raises(DataError, match=match):
        client.generate_session_key("general", **kwargs)
    assert len(rsps.calls) == 0


def test_session_attributes_round_trip(rsps, client) -> None:
    """get_session_attributes reads values; set_session_attributes POSTs session.custom.*."""
    add_token(rsps)
    add_command(
        rsps, "get_session_attributes", load("session_attributes.xml"), extra={"lsid": LSID}
    )
    rsps.post(
        COMMAND,
        body=b"<success>Session attributes set.</success>",
        match=[
            matchers.query_param_matcher({"action": "set_session_attributes"}),
            matchers.urlencoded_params_matcher(
                {"lsid": LSID, "session.custom.external_key": "INC0000002"}
            ),
        ],
    )
    assert client.get_session_attributes(LSID).values["external_key"] == "INC0000001"
    assert (
        client.set_session_attributes(LSID, {"external_key": "INC0000002"})
        == "Session attributes set."
    )


def test_bad_lsid_is_refused_before_sending(rsps, client) -> None:
    """An lsid that could smuggle parameters is a DataError and nothing is sent."""
    with pytest.raises(DataError, match="lsid"):
        client.support_sessions(["a,b&action=x"])
    assert len(rsps.calls) == 0


def test_ping_uses_a_short_timeout_and_no_retries(rsps, client, sleeps) -> None:
    """ping is one quick get_api_info: short timeout, failure raised at once."""
    add_token(rsps)
    add_command(rsps, "get_api_info", b"", status=503)
    with pytest.raises(BomgarServerError):
        client.ping()
    assert sleeps == []
    assert rsps.calls[1].request.req_kwargs["timeout"] == (2.0, 5.0)


# --- Reporting API --------------------------------------------------------------------------


def test_support_sessions_one_request_with_lsids(rsps, client) -> None:
    """Several lsids go in one request as lsids=a,b (duplicates dropped)."""
    add_token(rsps)
    rsps.get(
        REPORTING,
        body=load("support_sessions.xml"),
        content_type="text/xml",
        match=[
            matchers.query_param_matcher(
                {
                    "generate_report": "SupportSession",
                    "lsids": f"{LSID},0b9e5d1c2a3f4e5d6c7b8a9f0e1d2c3b",
                }
            ),
            matchers.header_matcher({"Authorization": "Bearer tok1", "Connection": "close"}),
        ],
    )
    sessions = client.support_sessions([LSID, "0b9e5d1c2a3f4e5d6c7b8a9f0e1d2c3b", LSID])
    assert [s.lsid for s in sessions] == [LSID, "0b9e5d1c2a3f4e5d6c7b8a9f0e1d2c3b"]


def test_support_sessions_chunked_above_one_hundred(rsps, client) -> None:
    """150 lsids are fetched in two requests of 100 and 50."""
    ids = [f"{i:032x}" for i in range(150)]
    add_token(rsps)
    empty = b"<session_list/>"
    rsps.get(
        REPORTING,
        body=empty,
        match=[
            matchers.query_param_matcher(
                {"generate_report": "SupportSession", "lsids": ",".join(ids[:100])}
            )
        ],
    )
    rsps.get(
        REPORTING,
        body=empty,
        match=[
            matchers.query_param_matcher(
                {"generate_report": "SupportSession", "lsids": ",".join(ids[100:])}
            )
        ],
    )
    assert client.support_sessions(ids) == []


def test_iter_sessions_ended_streams_window(rsps, client) -> None:
    """The end_time window is sent with duration until-since and parsed as a stream."""
    add_token(rsps)
    rsps.get(
        REPORTING,
        body=load("support_sessions.xml", "beyondtrust-https"),
        content_type="text/xml",
        match=[
            matchers.query_param_matcher(
                {"generate_report": "SupportSession", "end_time": "1718000000", "duration": "3600"}
            )
        ],
    )
    sessions = list(client.iter_support_sessions_ended(1718000000, 1718003600))
    assert [s.lseq for s in sessions] == [14, 15]


def test_iter_sessions_ended_open_window_and_retry_before_first_session(
    rsps, client, sleeps
) -> None:
    """until=None sends duration=0; a broken body before any session is retried."""
    add_token(rsps)
    params = {"generate_report": "SupportSession", "end_time": "1718000000", "duration": "0"}
    rsps.get(REPORTING, body=b"<session_list><sess", match=[matchers.query_param_matcher(params)])
    rsps.get(
        REPORTING, body=load("support_sessions.xml"), match=[matchers.query_param_matcher(params)]
    )
    assert len(list(client.iter_support_sessions_ended(1718000000))) == 2
    assert len(sleeps) == 1


def test_iter_sessions_ended_error_after_first_session_is_raised(rsps, client, sleeps) -> None:
    """Once a session was yielded, a broken remainder is raised, not retried (no repeats)."""
    add_token(rsps)
    good = load("support_sessions.xml")
    broken = good[: good.index(b'<session lsid="0b9e')] + b"<session lsid='x'><lseq>"
    rsps.get(REPORTING, body=broken)
    seen = []
    with pytest.raises(ProtocolError):
        for session in client.iter_support_sessions_ended(1718000000):
            seen.append(session.lsid)
    assert seen == [LSID] and sleeps == []


def test_window_must_be_forward(rsps, client) -> None:
    """until must be after since: a zero duration would silently mean 'up to now'."""
    with pytest.raises(DataError, match="until"):
        list(client.iter_support_sessions_ended(100, 100))


def test_session_listing_and_exit_surveys(rsps, client) -> None:
    """Listing uses start_time+duration; surveys use lsids and report_type=rep."""
    add_token(rsps)
    rsps.get(
        REPORTING,
        body=load("session_listing.xml"),
        match=[
            matchers.query_param_matcher(
                {
                    "generate_report": "SupportSessionListing",
                    "start_time": "1718000000",
                    "duration": "86400",
                }
            )
        ],
    )
    rsps.get(
        REPORTING,
        body=load("cust_exit_survey.xml"),
        match=[
            matchers.query_param_matcher(
                {"generate_report": "SupportCustExitSurvey", "lsids": LSID, "report_type": "rep"}
            )
        ],
    )
    listing = client.session_listing(1718000000, 1718086400)
    assert [s.has_recording for s in listing] == [True, False]
    (survey,) = client.exit_surveys("customer", [LSID])
    assert survey.answers[0].answer == "5"


def test_legacy_login_posts_credentials_and_plain_external_key(rsps, sleeps) -> None:
    """Legacy mode POSTs username/password with each call, no token, plain external_key."""
    client = BomgarClient(
        BASE,
        "",
        "",
        legacy_username="api.user",
        legacy_password="pw!",
        use_ns_paths=True,
        max_per_second=0,
        retry=RetryPolicy(attempts=2, sleep=sleeps),
    )
    rsps.post(
        f"{BASE}/api/command.ns",
        body=load("session_key.xml"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "action": "generate_session_key",
                    "type": "support",
                    "queue_id": "general",
                    "external_key": "INC0000001",
                    "username": "api.user",
                    "password": "pw!",
                }
            ),
            matchers.header_matcher({"Connection": "close"}),
        ],
    )
    client.generate_session_key("general", external_key="INC0000001")
    assert "Authorization" not in rsps.calls[0].request.headers
    assert "pw" not in rsps.calls[0].request.url


# --- Configuration API ----------------------------------------------------------------------


def jump_client(i: int) -> dict:
    """Build one Jump Client JSON object."""
    return {"id": i, "name": f"WS-{i}", "hostname": f"ws-{i}", "jump_group_id": 7, "is_lost": False}


def test_list_jump_clients_follows_pages(rsps, client) -> None:
    """Pages of 100 are fetched until the last page header says stop; filters are sent."""
    add_token(rsps)
    base = {"name": "WS", "per_page": "100"}
    rsps.get(
        f"{CONFIG}/jump-client",
        json=[jump_client(i) for i in range(100)],
        headers={"X-BT-Pagination-Last-Page": "2", "X-BT-Pagination-Current-Page": "1"},
        match=[
            matchers.query_param_matcher({**base, "current_page": "1"}),
            matchers.header_matcher({"Authorization": "Bearer tok1", "Accept": "application/json"}),
        ],
    )
    rsps.get(
        f"{CONFIG}/jump-client",
        json=[jump_client(100)],
        headers={"X-BT-Pagination-Last-Page": "2", "X-BT-Pagination-Current-Page": "2"},
        match=[matchers.query_param_matcher({**base, "current_page": "2"})],
    )
    clients = list(client.list_jump_clients(name="WS"))
    assert len(clients) == 101 and clients[-1].name == "WS-100" and clients[0].jump_group_id == 7


def test_list_jump_clients_unknown_filter_refused(rsps, client) -> None:
    """Unknown filters would get a 401 from the appliance; they are refused before sending."""
    with pytest.raises(DataError, match="colour"):
        list(client.list_jump_clients(colour="blue"))
    assert len(rsps.calls) == 0


def test_config_api_403_and_422(rsps, client) -> None:
    """403 is a permanent AuthError; 422 is Rejected with the field errors as detail."""
    add_token(rsps)
    rsps.get(f"{CONFIG}/jump-client", json={"message": "Forbidden"}, status=403)
    with pytest.raises(AuthError, match="Forbidden"):
        list(client.list_jump_clients())
    rsps.post(
        f"{CONFIG}/jump-client/installer",
        json={"message": "Invalid input", "errors": {"valid_duration": ["too short"]}},
        status=422,
    )
    with pytest.raises(BomgarRejected, match="valid_duration: too short") as caught:
        client.create_jump_client_installer(7, name="x")
    assert caught.value.status == 422


def test_create_installer(rsps, client) -> None:
    """The installer is created with a JSON body and the one-time encodedInfo is kept."""
    add_token(rsps)
    rsps.post(
        f"{CONFIG}/jump-client/installer",
        status=201,
        json={
            "installer_id": "a" * 32,
            "expiration_timestamp": "2024-06-11T09:15:00+00:00",
            "key_info": {"encodedInfo": "ENC", "filename": "bomgar-scc.bin", "installerPath": "/x"},
        },
        match=[
            matchers.json_params_matcher({"jump_group_id": 7, "valid_duration": 60, "tag": "lab"})
        ],
    )
    installer = client.create_jump_client_installer(7, valid_duration=60, tag="lab")
    assert (installer.installer_id, installer.encoded_info) == ("a" * 32, "ENC")
    assert client.installer_download_url(installer.installer_id, "windows-64-msi") == (
        f"{CONFIG}/jump-client/installer/{'a' * 32}/windows-64-msi"
    )
    with pytest.raises(DataError, match="platform"):
        client.installer_download_url(installer.installer_id, "windows-64")


# --- Links ----------------------------------------------------------------------------------


def test_client_script_url_is_rfc3986_encoded(client) -> None:
    """client_script links percent-encode values (space as %20) and keep dots in names."""
    url = client.client_script_url(
        "start_jump_item_session",
        {"search_string": "WS-LAB 0042/α", "session.custom.external_key": "INC0000001&x=1"},
    )
    assert url == (
        f"{BASE}/api/client_script?type=rep&operation=generate&action=start_jump_item_session"
        "&search_string=WS-LAB%200042%2F%CE%B1&session.custom.external_key=INC0000001%26x%3D1"
    )


def test_start_session_url(client) -> None:
    """start_session links go to the public site with encoded customer fields."""
    assert client.start_session_url({"short_key": "5180427", "customer.name": "Abel Tuter"}) == (
        f"{BASE}/api/start_session?short_key=5180427&customer.name=Abel%20Tuter"
    )
    assert client.start_session_url(site_url="https://help.example.test/") == (
        "https://help.example.test/api/start_session"
    )


# --- A real socket --------------------------------------------------------------------------


def test_refused_connection_is_retried_for_session_key(sleeps) -> None:
    """Against a closed local port, generate_session_key retries (nothing can have been minted)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = BomgarClient(
        f"http://127.0.0.1:{port}",
        "",
        "",
        legacy_username="u",
        legacy_password="p",
        max_per_second=0,
        retry=RetryPolicy(attempts=3, sleep=sleeps),
    )
    with pytest.raises(TransportError, match="connection failed"):
        client.generate_session_key("general")
    assert len(sleeps) == 2
