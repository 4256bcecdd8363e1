"""POST /api/v1/jump and /api/v1/jump-client-installers against both emulators."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connector import signing
from connector.demo import Stack, running_stack

pytestmark = pytest.mark.slow

TOKEN = "jump-token"  # noqa: S105 - loopback test value
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INC1 = "a5000000000000000000000000000001"  # CI WS-LAB-0042
INC3 = "a5000000000000000000000000000003"  # CI SRV-NOJUMP-01
WS43 = "a4000000000000000000000000000002"
NOJUMP = "a4000000000000000000000000000003"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Run both emulators and the connector without a worker."""
    with running_stack(worker=False, **{"api.tokens": [TOKEN]}) as s:
        yield s


def post(stack: Stack, path: str, body: dict, headers: dict | None = None) -> requests.Response:
    return requests.post(
        f"{stack.connector_url}/api/v1/{path}",
        json=body,
        headers=AUTH if headers is None else headers,
        timeout=30,
    )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("path", ["jump", "jump-client-installers"])
def test_jump_endpoints_need_credentials(stack: Stack, path: str) -> None:
    """Both Jump endpoints answer 401 without a valid token."""
    reply = post(stack, path, {"ci_sys_id": WS43, "jump_group_id": 1}, headers={})
    assert reply.status_code == 401


def test_ticket_jump_finds_the_cis_jump_client_and_carries_the_ticket(stack: Stack) -> None:
    """A ticket's CI is matched to its Jump Client; the URL names the ticket as external key."""
    reply = post(stack, "jump", {"table": "incident", "sys_id": INC1})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["jump_client"]["id"] == 1
    assert data["ci"]["host_name"] == "ws-lab-0042"
    params = query(data["url"])
    assert params["action"] == "start_jump_item_session"
    assert params["search_string"] == "WS-LAB-0042"
    key = params["session.custom.external_key"]
    issued = signing.verify_external_key(stack.services.key_secret, key)
    assert issued is not None and (issued.ticket, issued.channel) == (INC1, "j")
    # The appliance accepts the link and answers the BRCS script the rep console runs.
    script = requests.get(data["url"], timeout=10)
    assert script.status_code == 200
    assert script.text.startswith("BRCS1.0\n")
    assert f"session.custom.external_key={key}" in script.text


def test_ci_jump_without_a_ticket_has_no_external_key(stack: Stack) -> None:
    """Jumping from a CI record finds its client and sends no external key."""
    reply = post(stack, "jump", {"ci_sys_id": WS43})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["jump_client"]["name"] == "WS-LAB-0043"
    assert "session.custom.external_key" not in query(data["url"])


def test_ci_without_jump_client_falls_back_to_a_search_string(stack: Stack) -> None:
    """A CI with no Jump Client gets a search-string link and a warning saying so."""
    reply = post(stack, "jump", {"table": "incident", "sys_id": INC3})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["jump_client"] is None
    assert data["matched_by"] == "search_string"
    assert "no Jump Client" in data["warning"]
    params = query(data["url"])
    assert params["search_string"] == "srv-nojump-01"
    issued = signing.verify_external_key(
        stack.services.key_secret, params["session.custom.external_key"]
    )
    assert issued is not None and issued.ticket == INC3


def test_unknown_ci_is_404(stack: Stack) -> None:
    """A CI sys_id naming no record answers 404."""
    reply = post(stack, "jump", {"ci_sys_id": "e" * 32})
    assert reply.status_code == 404
    assert "configuration item" in reply.json()["error"]["message"]


def test_installer_is_created_and_download_links_answered(stack: Stack) -> None:
    """A mass-deployment installer is created on the appliance; its links download it."""
    reply = post(
        stack,
        "jump-client-installers",
        {"jump_group_id": 1, "name": "Lab rollout", "platforms": ["windows-64-msi", "linux-64"]},
    )
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert len(data["installer_id"]) == 32
    assert set(data["downloads"]) == {"windows-64-msi", "linux-64"}
    url = data["downloads"]["windows-64-msi"]
    assert data["installer_id"] in url
    token = stack.services.bomgar.auth.bearer()
    binary = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert binary.status_code == 200 and binary.content
    assert installer_calls(stack) >= 1


def installer_calls(stack: Stack) -> int:
    stats = requests.get(f"{stack.bomgar_url}/_sim/stats", timeout=10).json()
    return stats["requests"].get("api/config/v1/jump-client/installer", 0)


def test_installer_with_a_bad_group_or_platform_is_refused(stack: Stack) -> None:
    """A non-integer group or an unknown platform is a 400, and no installer is created."""
    before = installer_calls(stack)
    assert post(stack, "jump-client-installers", {"jump_group_id": "1"}).status_code == 400
    reply = post(stack, "jump-client-installers", {"jump_group_id": 1, "platforms": ["amiga"]})
    assert reply.status_code == 400
    assert "windows-64-msi" in reply.json()["error"]["message"]
    assert installer_calls(stack) == before
