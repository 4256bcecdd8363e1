"""Command API: every command, queue forms, custom-attribute limits, namespaces, error placement."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from connector.sim.bomgar import NAMESPACES
from tests.sim.bomgar.conftest import find, local


def test_get_logged_in_reps_lists_only_logged_in(sim):
    """get_logged_in_reps lists reps 1-3 (not the offline rep 4) with the documented children."""
    root = sim.command("get_logged_in_reps")
    assert local(root) == "logged_in_reps"
    reps = find(root, "rep")
    assert [r.get("id") for r in reps] == ["1", "2", "3"]
    jane = reps[0]
    for child in (
        "display_name",
        "public_display_name",
        "private_display_name",
        "type",
        "direct_link",
        "logged_in_since",
        "support_session_count",
        "showing_on_rep_list",
    ):
        assert find(jane, child), child
    assert find(jane, "public_display_name")[0].text == "Jane Rep"
    assert find(jane, "logged_in_since")[0].get("timestamp").isdigit()


def test_get_support_teams_with_members(sim):
    """get_support_teams names teams; showmembers=1 adds their reps."""
    root = sim.command("get_support_teams")
    assert [t.get("id") for t in find(root, "support_team")] == ["1", "2"]
    assert find(root, "support_team/name")[0].text == "Service Desk"
    assert not find(root, "//member")
    root = sim.command("get_support_teams", showmembers="1")
    members = find(root, "support_team")[0].xpath(".//*[local-name()='member']/@id")
    assert members == ["1", "2", "4"]


def test_get_api_info(sim):
    """get_api_info answers api_information with version, company, server time and permissions."""
    root = sim.command("get_api_info")
    assert local(root) == "api_information"
    assert find(root, "api_version")[0].text == "1.19.0"
    assert find(root, "company_name")[0].text == "Example Corp"
    assert int(find(root, "timestamp")[0].text) > 1_600_000_000
    assert find(root, "permissions/perm_command")[0].text == "full"
    assert find(root, "permissions/perm_reporting_support")[0].text == "1"


@pytest.mark.parametrize(
    ("queue_id", "queue"),
    [
        ("general", "general"),
        ("rep:2", "rep:2"),
        ("team:1", "team:1"),
        ("rep_username:sam.tech", "rep:2"),
        ("issue:vpn", "issue:vpn"),
    ],
)
def test_generate_session_key_queue_forms(sim, queue_id, queue):
    """Every queue_id form yields a seven-digit key whose session lands in that queue."""
    root = sim.command("generate_session_key", type="support", queue_id=queue_id, ttl="1800")
    assert local(root) == "session_key"
    key = find(root, "short_key")[0].text
    assert len(key) == 7 and key.isdigit()
    assert key in find(root, "key_url")[0].text
    assert find(root, "mail_body")[0].text
    started = sim.sim("POST", "/sessions/start", {"short_key": key})
    assert started["queue"] == queue
    assert sim.sim("GET", "/queues")[queue][0]["lsid"] == started["lsid"]


def test_generated_key_carries_ticket_attributes_into_rep_queue(sim):
    """A key for rep:ID carries external key, short description and sys_id to the queued session."""
    root = sim.command(
        "generate_session_key",
        type="support",
        queue_id="rep:1",
        **{
            "session.custom.external_key": "INC0000001",
            "session.custom.short_description": "Printer offline on 3rd floor",
            "session.custom.sys_id": "a5000000000000000000000000000001",
        },
    )
    key = find(root, "short_key")[0].text
    r = requests.get(f"{sim.url}/api/start_session", params={"short_key": key})
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    queued = sim.sim("GET", "/queues")["rep:1"]
    assert queued[0]["lsid"] == r.headers["X-Sim-Lsid"]
    assert queued[0]["external_key"] == "INC0000001"
    assert queued[0]["custom_attributes"]["short_description"] == "Printer offline on 3rd floor"
    assert queued[0]["custom_attributes"]["sys_id"] == "a5000000000000000000000000000001"


def test_generate_session_key_validation(sim):
    """Bad type, unknown queues, an ambiguous rep_username and over-long attributes are errors."""
    cases = [
        {"type": "presentation", "queue_id": "general"},
        {"type": "support", "queue_id": "rep:99"},
        {"type": "support", "queue_id": "rep_username:nobody"},
        {"type": "support", "queue_id": "issue:nope"},
        {"type": "support", "queue_id": "general", "external_key": "x" * 1025},
        {
            "type": "support",
            "queue_id": "general",
            **{f"session.custom.f{i}": "y" * 1000 for i in range(11)},
        },
    ]
    for params in cases:
        root = sim.command("generate_session_key", **params)
        assert local(root) == "error", params
    ok = sim.command(
        "generate_session_key", type="support", queue_id="general", external_key="x" * 1024
    )
    assert local(ok) == "session_key"


def test_legacy_external_key_maps_to_custom_attribute(sim):
    """The legacy external_key parameter becomes session.custom.external_key."""
    root = sim.command(
        "generate_session_key", type="support", queue_id="general", external_key="INC0000002"
    )
    key = find(root, "short_key")[0].text
    assert sim.sim("GET", "/keys")[0]["custom_attributes"] == {"external_key": "INC0000002"}
    assert sim.sim("GET", "/keys")[0]["short_key"] == key


def test_undeclared_custom_policy(make_sim):
    """Undeclared session.custom names are accepted by default, dropped or refused when set so."""
    params = {"type": "support", "queue_id": "general", "session.custom.made_up": "v"}
    for policy, expect in (("accept", {"made_up": "v"}), ("ignore", {})):
        sim = make_sim(undeclared_custom=policy)
        sim.command("generate_session_key", **params)
        assert sim.sim("GET", "/keys")[0]["custom_attributes"] == expect
    strict = make_sim(undeclared_custom="error")
    assert local(strict.command("generate_session_key", **params)) == "error"


def test_session_attributes_get_and_set(sim):
    """set_session_attributes keeps omitted values and clears empty ones; only active sessions."""
    lsid = sim.sim(
        "POST", "/sessions", {"end": False, "external_key": "INC1", "custom": {"caller": "abel"}}
    )["lsid"]
    root = sim.command("get_session_attributes", lsid=lsid)
    assert local(root) == "custom_attributes"
    values = {a.get("code_name"): a.text for a in find(root, "custom_attribute")}
    assert values == {"caller": "abel", "external_key": "INC1"}
    assert find(root, "custom_attribute")[0].get("display_name")
    done = sim.command(
        "set_session_attributes",
        lsid=lsid,
        **{"session.custom.external_key": "INC2", "session.custom.caller": ""},
    )
    assert local(done) == "success"
    root = sim.command("get_session_attributes", lsid=lsid)
    assert {a.get("code_name"): a.text for a in find(root, "custom_attribute")} == {
        "external_key": "INC2"
    }
    sim.sim("POST", f"/sessions/{lsid}/end")
    assert local(sim.command("get_session_attributes", lsid=lsid)) == "error"
    assert local(sim.command("set_session_attributes", lsid=lsid, external_key="x")) == "error"


def test_terminate_session_and_unknown_action(sim):
    """terminate_session ends an active session; an unknown action is an error."""
    lsid = sim.sim("POST", "/sessions", {"end": False})["lsid"]
    assert local(sim.command("terminate_session", lsid=lsid)) == "success"
    assert sim.sim("GET", f"/sessions/{lsid}")["state"] == "ended"
    assert local(sim.command("no_such_action")) == "error"


def test_post_form_and_ns_path_and_multipart(sim):
    """Urlencoded POST to /api/command.ns works; multipart bodies are rejected."""
    headers = {"Authorization": f"Bearer {sim.token()}"}
    r = requests.post(f"{sim.url}/api/command.ns", data={"action": "get_api_info"}, headers=headers)
    assert local(etree.fromstring(r.content)) == "api_information"
    r = requests.post(
        f"{sim.url}/api/command", files={"action": (None, "get_api_info")}, headers=headers
    )
    assert local(etree.fromstring(r.content)) == "error"


@pytest.mark.parametrize("variant", list(NAMESPACES))
def test_namespace_variants(make_sim, variant):
    """Each namespace variant puts its command and reporting namespaces on the roots."""
    sim = make_sim(namespace=variant)
    command_ns, reporting_ns = NAMESPACES[variant]
    assert etree.QName(sim.command("get_api_info")).namespace == command_ns
    report = sim.report("SupportSession", start_time=0)
    assert etree.QName(report).namespace == reporting_ns


def test_default_namespace_is_bomgar_http(sim):
    """Without options the real appliances' http://www.bomgar.com namespaces are used."""
    assert etree.QName(sim.command("get_api_info")).namespace == (
        "http://www.bomgar.com/namespaces/API/command"
    )


def test_error_placement_root_and_nested(make_sim):
    """Errors come as the root element or nested inside the usual root, per option."""
    root_sim, nested_sim = make_sim(), make_sim(error_placement="nested")
    params = {"type": "support", "queue_id": "rep:99"}
    err = root_sim.command("generate_session_key", **params)
    assert local(err) == "error" and "rep" in err.text
    nested = nested_sim.command("generate_session_key", **params)
    assert local(nested) == "session_key"
    assert local(nested[0]) == "error"
    rep = nested_sim.report("SupportSession", lsid="nope")
    assert local(rep) == "session_list" and find(rep, "error")[0].text == "Invalid lsid."


def test_error_status_variant(make_sim):
    """error_status changes the HTTP status sent with XML errors (200 by default)."""
    sim = make_sim(error_status=400)
    r = sim.get("/api/command", action="generate_session_key", type="nope", queue_id="general")
    assert r.status_code == 400
    assert local(etree.fromstring(r.content)) == "error"


def test_expires_format_variants(make_sim):
    """expires is epoch text by default, a timestamp attribute or both when chosen."""
    for fmt in ("text", "attribute", "both"):
        sim = make_sim(expires_format=fmt)
        root = sim.command("generate_session_key", type="support", queue_id="general", ttl="60")
        expires = find(root, "expires")[0]
        has_text = bool(expires.text)
        has_attr = expires.get("timestamp") is not None
        assert (has_text, has_attr) == {
            "text": (True, False),
            "attribute": (False, True),
            "both": (True, True),
        }[fmt]
