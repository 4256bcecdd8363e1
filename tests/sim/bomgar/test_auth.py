"""OAuth tokens, legacy credentials and API-account permissions."""

from __future__ import annotations

import time

import requests
from lxml import etree

from tests.sim.bomgar.conftest import CLIENT, DENIED, READONLY, find, local


def _token(url: str, creds: tuple[str, str]) -> requests.Response:
    return requests.post(
        f"{url}/oauth2/token", auth=creds, data={"grant_type": "client_credentials"}
    )


def _info(url: str, token: str) -> requests.Response:
    return requests.get(
        f"{url}/api/command",
        params={"action": "get_api_info"},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_token_is_issued_for_basic_client_credentials(sim):
    """A Basic-authenticated client_credentials request yields a Bearer token with expires_in."""
    r = _token(sim.url, CLIENT)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert _info(sim.url, body["access_token"]).status_code == 200


def test_bad_credentials_and_grants_are_refused(sim):
    """Wrong secret, missing Basic auth and other grant types give the JSON error bodies."""
    r = _token(sim.url, ("connector-client", "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = requests.post(f"{sim.url}/oauth2/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = requests.post(f"{sim.url}/oauth2/token", auth=CLIENT, data={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = requests.post(f"{sim.url}/oauth2/token", auth=CLIENT, data={})
    assert r.json()["error"] == "invalid_request"
    assert "message" in r.json()


def test_json_grant_is_optional(make_sim):
    """A JSON token request is accepted by default and refused when json_token_request is off."""
    lenient, strict = make_sim(), make_sim(json_token_request=False)
    body = {"grant_type": "client_credentials"}
    assert requests.post(f"{lenient.url}/oauth2/token", auth=CLIENT, json=body).status_code == 200
    r = requests.post(f"{strict.url}/oauth2/token", auth=CLIENT, json=body)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_token_expires_after_its_lifetime(make_sim):
    """A token stops working once the configured lifetime has passed."""
    sim = make_sim(token_lifetime=0.3)
    token = _token(sim.url, CLIENT).json()["access_token"]
    assert _info(sim.url, token).status_code == 200
    time.sleep(0.4)
    r = _info(sim.url, token)
    assert r.status_code == 401
    assert r.json()["error"] == "access_denied"


def test_thirty_first_token_evicts_the_oldest(sim):
    """Each account keeps at most 30 live tokens; minting one more kills the oldest only."""
    tokens = [_token(sim.url, CLIENT).json()["access_token"] for _ in range(31)]
    assert _info(sim.url, tokens[0]).status_code == 401
    assert _info(sim.url, tokens[1]).status_code == 200
    assert _info(sim.url, tokens[30]).status_code == 200
    other = _token(sim.url, READONLY).json()["access_token"]
    assert _info(sim.url, other).status_code == 200  # the cap is per account
    assert sim.sim("GET", "/tokens")["connector-client"] == 30


def test_revoke_through_control_api(sim):
    """POST /_sim/tokens/revoke invalidates live tokens, as a secret regeneration does."""
    token = _token(sim.url, CLIENT).json()["access_token"]
    assert sim.sim("POST", "/tokens/revoke", {"client_id": "connector-client"})["revoked"] == 1
    assert _info(sim.url, token).status_code == 401


def test_bad_token_as_xml_error_variant(make_sim):
    """With bad_token_reply=xml a bad token gets an XML <error>Login failed</error> with 200."""
    sim = make_sim(bad_token_reply="xml")
    r = _info(sim.url, "nonsense")
    assert r.status_code == 200
    root = etree.fromstring(r.content)
    assert local(root) == "error" and root.text == "Login failed"


def test_read_only_account_cannot_generate_keys(sim):
    """Read-only command access may read but not call generate_session_key."""
    info = sim.command("get_api_info", READONLY)
    assert find(info, "permissions/perm_command")[0].text == "read_only"
    root = sim.command("generate_session_key", READONLY, type="support", queue_id="general")
    assert local(root) == "error"
    assert "permission" in root.text
    reps = sim.command("get_logged_in_reps", READONLY)
    assert local(reps) == "logged_in_reps"


def test_denied_account_gets_document_not_found_and_no_reports(sim):
    """An account without command or reporting permission is refused on both APIs."""
    root = sim.command("get_logged_in_reps", DENIED)
    assert local(root) == "error" and root.text == "Document Not Found"
    rep = sim.xml("/api/reporting", DENIED, generate_report="SupportSession", start_time=0)
    assert local(rep) == "error"


def test_legacy_username_password(make_sim):
    """Legacy parameters work only when enabled; a bad password gives Login failed."""
    off, on = make_sim(), make_sim(legacy_auth=True)
    params = {"action": "get_api_info", "username": "api.user", "password": "api-password"}
    r = requests.get(f"{off.url}/api/command", params=params)
    assert r.status_code == 401
    root = etree.fromstring(requests.post(f"{on.url}/api/command.ns", data=params).content)
    assert local(root) == "api_information"
    bad = requests.get(f"{on.url}/api/command", params={**params, "password": "nope"})
    assert etree.fromstring(bad.content).text == "Login failed"
