"""OAuth bearer authentication: token grants, renewal on expiry and after a 401."""

from __future__ import annotations

import pytest
from responses import matchers

from connector.errors import AuthError
from connector.servicenow import OAuthTokenAuth
from tests.unit.servicenow.conftest import BASE, SYS_ID, TABLE

TOKEN_URL = f"{BASE}/oauth_token.do"
RECORD = {"sys_id": SYS_ID}
PASSWORD_FORM = {
    "grant_type": "password",
    "client_id": "cid",
    "client_secret": "csecret",
    "username": "svc.bridge",
    "password": "s3cret",
}
OAUTH = {
    "client_id": "cid",
    "client_secret": "csecret",
    "grant_type": "password",
    "username": "svc.bridge",
    "password": "s3cret",
}


def _token(access, refresh=None, expires_in=1799):
    body = {"access_token": access, "scope": "", "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return body


def _bearer(token):
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_password_grant_then_bearer_on_every_call(rsps, make_client):
    """The client fetches one token with a form POST and sends it as Bearer on each call."""
    rsps.post(
        TOKEN_URL,
        json=_token("tokA", "refA"),
        match=[
            matchers.urlencoded_params_matcher(PASSWORD_FORM),
            matchers.header_matcher({"Content-Type": "application/x-www-form-urlencoded"}),
        ],
    )
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD}, match=[_bearer("tokA")])
    rsps.post(f"{TABLE}/incident", status=201, json={"result": RECORD}, match=[_bearer("tokA")])
    client = make_client(oauth=OAUTH)
    assert client.get_record("incident", SYS_ID) == RECORD
    assert client.create_record("incident", {"state": "1"}) == RECORD
    token_calls = [c for c in rsps.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 1


def test_expired_token_is_renewed_with_the_refresh_token(rsps, make_client):
    """Once the token has expired, the next call first runs the refresh_token grant."""
    clock = FakeClock()
    auth = OAuthTokenAuth(token_url=TOKEN_URL, clock=clock, **OAUTH)
    rsps.post(
        TOKEN_URL,
        json=_token("tokA", "refA"),
        match=[matchers.urlencoded_params_matcher(PASSWORD_FORM)],
    )
    rsps.post(
        TOKEN_URL,
        json=_token("tokB", "refB"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "refA",
                    "client_id": "cid",
                    "client_secret": "csecret",
                }
            )
        ],
    )
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD}, match=[_bearer("tokA")])
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD}, match=[_bearer("tokA")])
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD}, match=[_bearer("tokB")])
    client = make_client(oauth=auth)
    client.get_record("incident", SYS_ID)
    clock.now += 1000  # still well inside the 1799 s lifetime
    client.get_record("incident", SYS_ID)
    clock.now += 800  # past expiry minus the safety margin
    client.get_record("incident", SYS_ID)


def test_401_renews_the_token_once_and_resends(rsps, make_client, sleeps):
    """A 401 for a bearer token renews it once and resends the same request."""
    rsps.post(
        TOKEN_URL,
        json=_token("tokA", "refA"),
        match=[matchers.urlencoded_params_matcher(PASSWORD_FORM)],
    )
    rsps.post(
        TOKEN_URL,
        json=_token("tokB", "refB"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "refA",
                    "client_id": "cid",
                    "client_secret": "csecret",
                }
            )
        ],
    )
    rsps.patch(
        f"{TABLE}/incident/{SYS_ID}",
        status=401,
        json={
            "error": {
                "message": "User Not Authenticated",
                "detail": "Required to provide Auth information",
            },
            "status": "failure",
        },
        match=[_bearer("tokA")],
    )
    rsps.patch(
        f"{TABLE}/incident/{SYS_ID}",
        json={"result": RECORD},
        match=[_bearer("tokB"), matchers.json_params_matcher({"state": "2"})],
    )
    client = make_client(oauth=OAUTH)
    assert client.update_record("incident", SYS_ID, {"state": "2"}) == RECORD
    assert sleeps == []


def test_second_401_after_renewal_raises_auth_error(rsps, make_client):
    """If the renewed token is refused as well, AuthError reaches the caller after one renewal."""
    unauthorized = {
        "error": {"message": "User Not Authenticated", "detail": None},
        "status": "failure",
    }
    rsps.post(TOKEN_URL, json=_token("tokA"))
    rsps.post(TOKEN_URL, json=_token("tokB"))
    rsps.get(f"{TABLE}/incident/{SYS_ID}", status=401, json=unauthorized, match=[_bearer("tokA")])
    rsps.get(f"{TABLE}/incident/{SYS_ID}", status=401, json=unauthorized, match=[_bearer("tokB")])
    with pytest.raises(AuthError) as info:
        make_client(oauth=OAUTH).get_record("incident", SYS_ID)
    assert info.value.status == 401
    assert len(rsps.calls) == 4


def test_refresh_answering_the_rejected_token_falls_back_to_the_main_grant(rsps, make_client):
    """When the refresh grant hands back the token just refused, the configured grant runs."""
    rsps.post(
        TOKEN_URL,
        json=_token("tokA", "refA"),
        match=[matchers.urlencoded_params_matcher(PASSWORD_FORM)],
    )
    rsps.post(
        TOKEN_URL,
        json=_token("tokA", "refA"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": "refA",
                    "client_id": "cid",
                    "client_secret": "csecret",
                }
            )
        ],
    )
    rsps.post(
        TOKEN_URL,
        json=_token("tokC", "refC"),
        match=[matchers.urlencoded_params_matcher(PASSWORD_FORM)],
    )
    rsps.get(f"{TABLE}/incident/{SYS_ID}", status=401, body="", match=[_bearer("tokA")])
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD}, match=[_bearer("tokC")])
    assert make_client(oauth=OAUTH).get_record("incident", SYS_ID) == RECORD


def test_client_credentials_without_refresh_token(rsps, make_client):
    """The client-credentials grant needs no refresh token and is simply repeated on expiry."""
    clock = FakeClock()
    form = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "csecret"}
    auth = OAuthTokenAuth(
        token_url="https://login.example.com/token",
        client_id="cid",
        client_secret="csecret",
        grant_type="client_credentials",
        clock=clock,
    )
    rsps.post(
        "https://login.example.com/token",
        json=_token("tokA"),
        match=[matchers.urlencoded_params_matcher(form)],
    )
    rsps.post(
        "https://login.example.com/token",
        json=_token("tokB"),
        match=[matchers.urlencoded_params_matcher(form)],
    )
    rsps.get(f"{TABLE}/sys_user", json={"result": []}, match=[_bearer("tokA")])
    rsps.get(f"{TABLE}/sys_user", json={"result": []}, match=[_bearer("tokB")])
    client = make_client(oauth=auth)
    client.query("sys_user", "")
    clock.now += 3600
    client.query("sys_user", "")


def test_token_url_from_config_and_refused_grant(rsps, make_client):
    """A refused grant raises AuthError naming the reason, and no API call is made."""
    rsps.post(
        "https://sso.example.com/oauth_token.do",
        status=401,
        json={"error_description": "access_denied", "error": "server_error"},
    )
    client = make_client(oauth=dict(OAUTH, token_url="https://sso.example.com/oauth_token.do"))
    with pytest.raises(AuthError) as info:
        client.get_record("incident", SYS_ID)
    assert "access_denied" in str(info.value)
    assert "csecret" not in str(info.value)
    assert len(rsps.calls) == 1


def test_password_grant_requires_user_credentials():
    """An oauth password grant without username/password is refused at construction."""
    with pytest.raises(ValueError, match="username and password"):
        OAuthTokenAuth(token_url=TOKEN_URL, client_id="cid", client_secret="csecret")
