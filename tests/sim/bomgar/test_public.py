"""Public site start_session, client scripts and the Configuration API (pagination, rate limit)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest
import requests

from tests.sim.bomgar.conftest import READONLY


def _start(sim, **params) -> requests.Response:
    r = requests.get(f"{sim.url}/api/start_session", params=params)
    assert r.status_code == 200, r.text
    return r


def test_start_session_by_rep_with_modern_names(sim):
    """id+name goes to the rep's queue with customer.* details and session.custom attributes."""
    r = _start(
        sim,
        id="2",
        name="Sam Tech",
        **{
            "customer.name": "Beth Anglin",
            "customer.details": "VPN drops",
            "session.custom.external_key": "INC0000002",
        },
    )
    assert "<html" in r.text
    (queued,) = sim.sim("GET", "/queues")["rep:2"]
    assert queued["lsid"] == r.headers["X-Sim-Lsid"]
    assert queued["external_key"] == "INC0000002"
    assert queued["customer"]["name"] == "Beth Anglin"
    assert queued["customer"]["details"] == "VPN drops"
    assert queued["start_method"] == "rep"


def test_start_session_legacy_click_to_chat_issue(sim):
    """The legacy .ns link with issue_menu, codeName, c2cjs and customer_* names is honoured."""
    r = requests.get(
        f"{sim.url}/api/start_session.ns",
        params={
            "issue_menu": "1",
            "codeName": "printing",
            "c2cjs": "1",
            "external_key": "INC0000001",
            "customer_name": "Abel Tuter",
            "customer_desc": "x" * 2000,
        },
    )
    (queued,) = sim.sim("GET", "/queues")["issue:printing"]
    assert queued["lsid"] == r.headers["X-Sim-Lsid"]
    assert queued["start_method"] == "click_to_chat"
    assert queued["external_key"] == "INC0000001"
    assert len(queued["customer"]["details"]) == 1024
    assert queued["customer"]["issue"] == "Printer problem"


def test_start_session_general_and_bad_key(sim):
    """No routing parameter means the general queue; an unknown short_key is refused."""
    r = _start(sim)
    assert sim.sim("GET", "/queues")["general"][0]["lsid"] == r.headers["X-Sim-Lsid"]
    bad = requests.get(f"{sim.url}/api/start_session", params={"short_key": "0000000"})
    assert bad.status_code == 404 and "X-Sim-Lsid" not in bad.headers


def test_expired_session_key_is_refused(sim):
    """A key used after its ttl no longer starts a session."""
    sim.state.keys.clear()
    key = sim.state.generate_key("general", 1, {}, "test")
    key.expires -= 2
    r = requests.get(f"{sim.url}/api/start_session", params={"short_key": key.short_key})
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("params", "line"),
    [
        (
            {
                "action": "start_jump_item_session",
                "search_string": "WS-LAB-0042",
                "session.custom.external_key": "INC0000001",
            },
            "action=start_jump_item_session&search_string=WS-LAB-0042"
            "&session.custom.external_key=INC0000001",
        ),
        (
            {"action": "push_and_start_local", "hostname": "ws-lab-0043"},
            "action=push_and_start_local&hostname=ws-lab-0043",
        ),
        (
            {
                "action": "start_shell_jump_session",
                "target": "srv-nojump-01",
                "protocol": "ssh",
                "port": "22",
            },
            "action=start_shell_jump_session&target=srv-nojump-01&protocol=ssh&port=22",
        ),
        (
            {"action": "generate_session_key", "session.custom.external_key": "INC 1/2"},
            "action=generate_session_key&session.custom.external_key=INC%201%2F2",
        ),
    ],
)
def test_client_script_returns_brcs(sim, params, line):
    """client_script answers a BRCS1.0 script echoing the command, percent-encoded."""
    r = requests.get(
        f"{sim.url}/api/client_script", params={"type": "rep", "operation": "generate", **params}
    )
    assert r.status_code == 200
    header, body = r.text.splitlines()
    assert header == "BRCS1.0"
    assert body == line
    assert ".brcs-support" in r.headers["Content-Disposition"]


def test_client_script_validation(sim):
    """Missing required parameters and unknown actions are refused."""
    base = {"type": "rep", "operation": "generate"}
    for params in (
        {"action": "start_jump_item_session"},
        {"action": "push_and_start_local"},
        {"action": "start_shell_jump_session"},
        {"action": "fly"},
    ):
        r = requests.get(f"{sim.url}/api/client_script", params={**base, **params})
        assert r.status_code == 400, params
    ok = requests.get(
        f"{sim.url}/api/client_script.ns",
        params={**base, "action": "start_jump_item_session", "client.hostname": "ws-lab"},
    )
    assert ok.status_code == 200


def _links(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


def test_config_api_pagination(sim):
    """per_page <= 100 pages the list with Link and X-BT-Pagination-* headers."""
    sim.sim("POST", "/jump-clients", {"count": 148})
    r = sim.get("/api/config/v1/jump-client", per_page=50, current_page=2)
    assert r.status_code == 200
    assert [j["id"] for j in r.json()] == list(range(51, 101))
    assert r.headers["X-BT-Pagination-Current-Page"] == "2"
    assert r.headers["X-BT-Pagination-Per-Page"] == "50"
    assert r.headers["X-BT-Pagination-Last-Page"] == "3"
    assert r.headers["X-BT-Pagination-Total"] == "150"
    links = _links(r.headers["Link"])
    assert set(links) == {"first", "previous", "next", "last"}
    assert dict(parse_qsl(links["next"].split("?")[1]))["current_page"] == "3"
    last = requests.get(links["last"], headers={"Authorization": f"Bearer {sim.token()}"})
    assert len(last.json()) == 50 and "next" not in _links(last.headers["Link"])
    default = sim.get("/api/config/v1/jump-client")
    assert len(default.json()) == 100
    too_big = sim.get("/api/config/v1/jump-client", per_page=101)
    assert too_big.status_code == 422 and "per_page" in too_big.json()["errors"]


def test_config_api_filters_and_unknown_fields(sim):
    """Filters narrow the list; an unrecognised query field is a 401, as the vendor does."""
    r = sim.get("/api/config/v1/jump-client", hostname="ws-lab-0042")
    assert [j["name"] for j in r.json()] == ["WS-LAB-0042"]
    assert r.json()[0]["private_ip"] == "10.20.0.42"
    r = sim.get("/api/config/v1/jump-client", private_ip="10.20.0.43")
    assert [j["id"] for j in r.json()] == [2]
    assert sim.get("/api/config/v1/jump-client", colour="red").status_code == 401


def test_config_api_permissions(sim):
    """No token is 401; an account without Configuration API permission is 403."""
    assert requests.get(f"{sim.url}/api/config/v1/jump-client").status_code == 401
    r = sim.get("/api/config/v1/jump-client", READONLY)
    assert r.status_code == 403 and r.json()["error"] == "access_denied"


def test_config_api_item_crud_and_copy(sim):
    """GET, PATCH (422 on bad values), copy and DELETE one Jump Client."""
    assert sim.get("/api/config/v1/jump-client/1").json()["hostname"] == "ws-lab-0042"
    h = {"Authorization": f"Bearer {sim.token()}"}
    url = f"{sim.url}/api/config/v1/jump-client"
    r = requests.patch(f"{url}/1", json={"tag": "moved"}, headers=h)
    assert r.status_code == 200 and r.json()["tag"] == "moved"
    bad = requests.patch(f"{url}/1", json={"customer_client_start_mode": "loud"}, headers=h)
    assert bad.status_code == 422 and "customer_client_start_mode" in bad.json()["errors"]
    assert requests.patch(f"{url}/1", json={"colour": "red"}, headers=h).status_code == 401
    copy = requests.post(f"{url}/1/copy", json={"name": "WS-LAB-0042-B"}, headers=h)
    assert copy.status_code == 201 and copy.json()["id"] == 3
    assert requests.delete(f"{url}/3", headers=h).status_code == 204
    assert requests.get(f"{url}/3", headers=h).status_code == 404


def test_installer_create_and_download(sim):
    """Installer creation answers 201 with a one-time encodedInfo; the binary downloads."""
    h = {"Authorization": f"Bearer {sim.token()}"}
    url = f"{sim.url}/api/config/v1/jump-client/installer"
    assert requests.post(url, json={"name": "x"}, headers=h).status_code == 422
    r = requests.post(url, json={"jump_group_id": 1, "valid_duration": 60}, headers=h)
    assert r.status_code == 201
    body = r.json()
    assert len(body["installer_id"]) == 32 and body["key_info"]["encodedInfo"]
    assert body["expiration_timestamp"].endswith("+00:00")
    dl = requests.get(f"{url}/{body['installer_id']}/windows-64-msi", headers=h)
    assert dl.status_code == 200 and dl.headers["Content-Type"] == "application/octet-stream"
    assert body["installer_id"].encode() in dl.content
    assert requests.get(f"{url}/{body['installer_id']}/amiga", headers=h).status_code == 404


def test_config_api_rate_limit(make_sim):
    """More than the per-second limit gets 429 with Retry-After; limit headers are sent."""
    sim = make_sim(config_rate_per_second=5)
    statuses = [sim.get("/api/config/v1/jump-client") for _ in range(7)]
    assert [r.status_code for r in statuses[:5]] == [200] * 5
    assert statuses[5].status_code == 429 and int(statuses[5].headers["Retry-After"]) >= 1
    assert statuses[0].headers["X-RateLimit-Limit"] == "5"


def test_config_api_hourly_limit(make_sim):
    """The hourly quota refuses requests once spent, even when spread out."""
    sim = make_sim(config_rate_per_hour=3)
    codes = [sim.get("/api/config/v1/jump-client").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
