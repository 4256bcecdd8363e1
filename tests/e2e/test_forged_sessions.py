"""Only real support reaches a ticket: forged public-site sessions are kept off it, visibly.

Both emulators and the connector (web side and worker) run over real sockets. A stranger opens
the appliance's public site with another customer's ticket in the URL, as on the real appliance.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import yaml

from connector import signing
from connector.cli import main
from connector.demo import Stack, landed, running_stack, wait_for

pytestmark = pytest.mark.slow

API_TOKEN = "forged-sessions-api-token"
INC1 = "a5000000000000000000000000000001"  # Abel Tuter's printer ticket
INC2 = "a5000000000000000000000000000002"  # Beth Anglin's VPN ticket: the target
INC3 = "a5000000000000000000000000000003"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    """Run everything with the default attach policy and a health threshold of zero."""
    with running_stack(
        str(tmp_path_factory.mktemp("forged")),
        **{"api.tokens": [API_TOKEN], "health.max_unmatched": 0},
    ) as s:
        yield s


def public_site(stack: Stack, **params: str) -> str:
    """Open the appliance's public start_session page as a browser would; return the lsid."""
    reply = requests.get(f"{stack.bomgar_url}/api/start_session", params=params, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.headers["X-Sim-Lsid"]


def sim(stack: Stack, lsid: str, step: str, body: dict | None = None) -> None:
    reply = requests.post(
        f"{stack.bomgar_url}/_sim/sessions/{lsid}/{step}", json=body or {}, timeout=30
    )
    assert reply.status_code < 300, reply.text


def settled(stack: Stack, lsid: str, state: str, timeout: float = 40) -> None:
    store = stack.services.store
    assert wait_for(lambda: store.job_state(lsid) == state, timeout), [
        (r.lsid, r.state, r.last_error) for r in store.jobs() if r.lsid == lsid
    ]


def notes_about(stack: Stack, ticket: str, lsid: str) -> list[dict]:
    # Built from the test's own constants (a sys_id and an lsid the emulator made).
    return stack.services.servicenow.query(
        "sys_journal_field", f"element_id={ticket}^valueLIKEBomgar session {lsid}"
    )


def run_cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


def config_file(stack: Stack, tmp_path) -> str:
    path = tmp_path / "connector.yaml"
    path.write_text(yaml.safe_dump(stack.config.as_values()))
    return str(path)


def test_forged_public_site_session_writes_nothing_and_is_unmatched(stack, tmp_path, capsys):
    """Another customer's ticket in the URL, no rep: nothing lands on it; it shows as unmatched."""
    lsid = public_site(
        stack, **{"customer.name": "Mallory", "session.custom.external_key": "INC0000002"}
    )
    sim(stack, lsid, "chat", {"from": "customer", "text": "please reset my password"})
    sim(stack, lsid, "end")
    settled(stack, lsid, "unmatched")
    assert landed(stack, lsid)["session"] == []
    assert notes_about(stack, INC2, lsid) == []

    (row,) = [r for r in stack.services.store.jobs("unmatched") if r.lsid == lsid]
    assert "'INC0000002' was not issued by the connector" in row.last_error
    assert run_cli("unmatched", "--config", config_file(stack, tmp_path)) == 0
    listing = capsys.readouterr().out
    assert lsid in listing and "INC0000002" in listing

    metrics = requests.get(f"{stack.connector_url}/metrics", timeout=10).text
    assert 'connector_jobs{appliance="",state="unmatched"} ' in metrics
    assert 'connector_jobs{appliance="",state="unmatched"} 0' not in metrics
    health = requests.get(f"{stack.connector_url}/health", timeout=10).json()
    assert health["checks"]["inbox:unmatched"][0]["status"] == "warn"
    assert health["status"] in ("warn", "fail")


def test_session_from_the_connectors_own_key_lands_as_before(stack):
    """A key minted by /api/v1/session-keys lands on its ticket even if no rep ever joined."""
    reply = requests.post(
        f"{stack.connector_url}/api/v1/session-keys",
        json={"table": "incident", "sys_id": INC1},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    lsid = public_site(stack, short_key=reply.json()["short_key"])
    sim(stack, lsid, "end")
    settled(stack, lsid, "done")
    (record,) = landed(stack, lsid)["session"]
    assert record["u_task"] == INC1
    assert len(notes_about(stack, INC1, lsid)) == 1
    # The key the appliance stored is the issued one, proof included, unchanged by the trip.
    report = stack.services.bomgar.support_session(lsid)
    issued = signing.verify_external_key(stack.services.key_secret, report.ticket_key)
    assert issued is not None and issued.ticket == INC1 and issued.channel == "k"


def test_rep_typed_ticket_lands_under_the_default_policy(stack):
    """A rep who joins and types the ticket into the console vouches for it: it lands."""
    lsid = public_site(stack, **{"customer.name": "Beth Anglin"})
    sim(stack, lsid, "join", {"rep": "jane.rep"})
    stack.services.bomgar.set_session_attributes(lsid, {"external_key": "INC0000002"})
    sim(stack, lsid, "chat", {"from": "jane.rep", "text": "Your VPN profile is fixed."})
    sim(stack, lsid, "end")
    settled(stack, lsid, "done")
    (record,) = landed(stack, lsid)["session"]
    assert record["u_task"] == INC2


def test_unmatched_session_can_be_attached_later_with_one_command(stack, tmp_path, capsys):
    """`connector unmatched --attach LSID TICKET` writes the session onto the admin's ticket."""
    lsid = public_site(stack, **{"session.custom.external_key": "INC0000002"})
    sim(stack, lsid, "end")
    settled(stack, lsid, "unmatched")
    cfg = config_file(stack, tmp_path)
    assert run_cli("unmatched", "--config", cfg, "--attach", lsid, "INC0000003") == 0
    assert "attached" in capsys.readouterr().out
    settled(stack, lsid, "done")
    (record,) = landed(stack, lsid)["session"]
    assert record["u_task"] == INC3
    assert notes_about(stack, INC2, lsid) == []
    assert run_cli("unmatched", "--config", cfg, "--attach", lsid, "INC0000003") == 1
    assert run_cli("unmatched", "--config", cfg, "--attach", "x" * 32, "nobody^OR1=1") == 2


def test_unmatched_session_can_be_dismissed(stack, tmp_path, capsys):
    """`connector unmatched --dismiss LSID` closes it without writing anything anywhere."""
    lsid = public_site(stack, **{"session.custom.external_key": "INC0000001"})
    sim(stack, lsid, "end")
    settled(stack, lsid, "unmatched")
    assert run_cli("unmatched", "--config", config_file(stack, tmp_path), "--dismiss", lsid) == 0
    assert stack.services.store.job_state(lsid) == "done"
    assert landed(stack, lsid)["session"] == []


def test_requested_by_injection_mints_no_key(stack):
    """requested_by carrying ^OR is refused; no key lands in jane.rep's personal queue."""
    before = requests.get(f"{stack.bomgar_url}/_sim/keys", timeout=10).json()
    reply = requests.post(
        f"{stack.connector_url}/api/v1/session-keys",
        json={"table": "incident", "sys_id": INC1, "requested_by": "nobody^ORuser_name=jane.rep"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        timeout=30,
    )
    assert reply.status_code == 400
    assert requests.get(f"{stack.bomgar_url}/_sim/keys", timeout=10).json() == before


def test_issued_only_policy_keeps_rep_typed_tickets_off(tmp_path):
    """With security.attach_policy issued_only even a rep's typed ticket is kept unmatched."""
    with running_stack(str(tmp_path), **{"security.attach_policy": "issued_only"}) as s:
        lsid = requests.post(
            f"{s.bomgar_url}/_sim/sessions", json={"external_key": "INC0000002"}, timeout=30
        ).json()["lsid"]
        settled(s, lsid, "unmatched")
        assert "issued_only" in s.services.store.jobs("unmatched")[0].last_error
        assert landed(s, lsid)["session"] == []
