"""Journal fields and authentication (Basic, OAuth grants, bearer tokens)."""

from __future__ import annotations

import re
import time

import requests

from tests.sim.servicenow.conftest import INC1, Sim

UNAUTH = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}


def test_work_notes_append_journal_rows_and_never_overwrite(sim: Sim) -> None:
    """Each work_notes/comments write adds a sys_journal_field row; the field itself stays ""."""
    r = sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"work_notes": "first note"})
    assert r.json()["result"]["work_notes"] == "" and r.json()["result"]["sys_mod_count"] == "1"
    sim.call("PATCH", f"/api/now/table/task/{INC1}", json={"work_notes": "second note"})
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"comments": "to the caller"})
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"work_notes": ""})  # adds nothing
    rows = sim.get(
        "/api/now/table/sys_journal_field", sysparm_query=f"element_id={INC1}^ORDERBYsys_created_on"
    ).json()["result"]
    assert [(x["element"], x["value"]) for x in rows] == [
        ("work_notes", "first note"),
        ("work_notes", "second note"),
        ("comments", "to the caller"),
    ]
    assert all(x["name"] == "incident" and x["sys_created_by"] == "admin" for x in rows)
    rec = sim.get(f"/api/now/table/incident/{INC1}").json()["result"]
    assert rec["sys_mod_count"] == "3"


def test_journal_display_values(sim: Sim) -> None:
    """Display mode gives newest-first entries; all mode puts them beside an empty value."""
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"work_notes": "older"})
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"work_notes": "newer"})
    body = sim.get(f"/api/now/table/incident/{INC1}", sysparm_display_value="true").json()["result"]
    pattern = (
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - System Administrator \(Work notes\)\nnewer\n\n"
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - System Administrator \(Work notes\)\nolder\n\n"
    )
    assert re.fullmatch(pattern, body["work_notes"])
    assert body["comments"] == ""
    assert "newer" in body["comments_and_work_notes"]
    body = sim.get(f"/api/now/table/incident/{INC1}", sysparm_display_value="all").json()["result"]
    assert (
        body["work_notes"]["value"] == ""
        and body["work_notes"]["display_value"].count("Work notes") == 2
    )


def test_missing_and_wrong_basic_auth_answer_401(sim: Sim) -> None:
    """No credentials or a wrong password give the real 401 body and challenge."""
    for auth in (None, ("admin", "nope"), ("nobody", "admin")):
        r = requests.get(f"{sim.url}/api/now/table/incident", auth=auth, timeout=10)
        assert r.status_code == 401 and r.json() == UNAUTH
        assert r.headers["WWW-Authenticate"] == 'BASIC realm="Service-now"'


def oauth(sim: Sim, **form: str) -> requests.Response:
    """POST to /oauth_token.do."""
    return requests.post(f"{sim.url}/oauth_token.do", data=form, timeout=10)


def test_password_grant_and_bearer(sim: Sim) -> None:
    """The password grant issues a Bearer token that works on the APIs."""
    r = oauth(
        sim,
        grant_type="password",
        client_id="connector",
        client_secret="connector-secret",
        username="admin",
        password="admin",
        junk="ignored",
    )
    assert r.status_code == 200
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 1799 and tok["refresh_token"]
    r = requests.get(
        f"{sim.url}/api/now/table/incident/{INC1}",
        headers={"Authorization": f"Bearer {tok['access_token']}"},
        timeout=10,
    )
    assert r.status_code == 200
    r = requests.get(
        f"{sim.url}/api/now/table/incident/{INC1}",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=10,
    )
    assert r.status_code == 401 and r.json() == UNAUTH


def test_client_auth_by_basic_header_and_client_credentials(sim: Sim) -> None:
    """Client credentials may come as a Basic header; client_credentials gives no refresh token."""
    r = requests.post(
        f"{sim.url}/oauth_token.do",
        auth=("connector", "connector-secret"),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert r.status_code == 200 and "refresh_token" not in r.json()
    r = requests.post(
        f"{sim.url}/oauth_token.do",
        auth=("connector", "connector-secret"),
        data={"grant_type": "password", "username": "admin", "password": "admin"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["refresh_token"]


def test_refresh_grant_returns_same_token_while_valid(sim: Sim) -> None:
    """A refresh while the access token is valid returns the same token; a bad refresh is denied."""
    first = oauth(
        sim,
        grant_type="password",
        client_id="connector",
        client_secret="connector-secret",
        username="admin",
        password="admin",
    ).json()
    again = oauth(
        sim,
        grant_type="refresh_token",
        client_id="connector",
        client_secret="connector-secret",
        refresh_token=first["refresh_token"],
    ).json()
    assert again["access_token"] == first["access_token"]
    bad = oauth(
        sim,
        grant_type="refresh_token",
        client_id="connector",
        client_secret="connector-secret",
        refresh_token="nope",
    )
    assert bad.status_code == 401
    assert bad.json() == {"error_description": "access_denied", "error": "server_error"}


def test_oauth_failures_are_access_denied(sim: Sim) -> None:
    """Bad secret, bad user and unknown grant all answer 401 access_denied."""
    for form in (
        {
            "grant_type": "password",
            "client_id": "connector",
            "client_secret": "x",
            "username": "admin",
            "password": "admin",
        },
        {
            "grant_type": "password",
            "client_id": "connector",
            "client_secret": "connector-secret",
            "username": "admin",
            "password": "x",
        },
        {"grant_type": "magic", "client_id": "connector", "client_secret": "connector-secret"},
    ):
        r = oauth(sim, **form)
        assert r.status_code == 401
        assert r.json() == {"error_description": "access_denied", "error": "server_error"}


def test_tokens_expire(make_sim) -> None:  # type: ignore[no-untyped-def]
    """An access token stops working after its lifetime; a refresh then issues a new one."""
    s = make_sim({"token_lifetime": 1.5})
    tok = oauth(
        s,
        grant_type="password",
        client_id="connector",
        client_secret="connector-secret",
        username="admin",
        password="admin",
    ).json()
    headers = {"Authorization": f"Bearer {tok['access_token']}"}
    assert requests.get(f"{s.url}/api/now/table/incident/{INC1}", headers=headers, timeout=10).ok
    time.sleep(1.6)
    r = requests.get(f"{s.url}/api/now/table/incident/{INC1}", headers=headers, timeout=10)
    assert r.status_code == 401
    new = oauth(
        s,
        grant_type="refresh_token",
        client_id="connector",
        client_secret="connector-secret",
        refresh_token=tok["refresh_token"],
    ).json()
    assert new["access_token"] != tok["access_token"]
    headers = {"Authorization": f"Bearer {new['access_token']}"}
    assert requests.get(f"{s.url}/api/now/table/incident/{INC1}", headers=headers, timeout=10).ok


def test_configured_user_is_the_actor(make_sim) -> None:  # type: ignore[no-untyped-def]
    """--user names the account; it gets a sys_user row and is recorded as creator."""
    s = make_sim({"user": "svc_bridge", "password": "s3cret"})
    r = s.call(
        "POST",
        "/api/now/table/incident",
        auth=("svc_bridge", "s3cret"),
        json={"short_description": "x"},
    )
    assert r.status_code == 201 and r.json()["result"]["sys_created_by"] == "svc_bridge"
    assert (
        s.call("GET", "/api/now/table/incident").status_code == 401
    )  # admin/admin no longer works
