"""The shipped scripts refuse what they must: run in Node against a small fake of the Glide APIs.

The scripts come from the exported file, so these tests exercise exactly what an instance gets.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from connector.servicenow.scripts import PROPERTY_SECRET, PROPERTY_URL
from tests.unit.updateset.conftest import Item, records_of

FAKE = Path(__file__).with_name("glide_fake.js")
INC = "a5000000000000000000000000000001"
CI = "a4000000000000000000000000000001"
USER = "a2000000000000000000000000000001"  # the caller
AGENT = "a3000000000000000000000000000001"
TABLES = {"task": "", "incident": "task", "cmdb_ci": "", "sys_user": ""}


@pytest.fixture(scope="module")
def shipped(items: list[Item]) -> dict[str, str]:
    """Return the scripts of the exported update set by name."""
    if shutil.which("node") is None:
        pytest.fail("Node is needed for these tests (Debian package nodejs; .ci/run installs it)")
    includes = records_of(items, "sys_script_include")
    out = {r.findtext("name"): r.findtext("script") for r in includes}
    for r in records_of(items, "sys_ui_action"):
        out[f"action:{r.findtext('name')}"] = r.findtext("script")
        out[f"condition:{r.findtext('name')}"] = r.findtext("condition")
    for r in records_of(items, "sys_ui_page"):
        out[f"page:{r.findtext('name')}"] = r.findtext("html")
    (fix,) = records_of(items, "sys_script_fix")
    out["fix"] = fix.findtext("script")
    return out


def run(scenario: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario through the fake and return what happened."""
    done = subprocess.run(
        ["node", str(FAKE)],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def world(
    shipped: dict[str, str],
    *,
    roles: tuple[str, ...] = ("itil",),
    user: str = AGENT,
    incident_readable: bool = True,
    ci_readable: bool = True,
    url: str = "https://connector.example.com",
) -> dict[str, Any]:
    """Build a scenario: an incident with a caller and a CI, and the two script includes."""
    return {
        "scripts": [shipped["BomgarConnector"], shipped["BomgarConnectorAjax"]],
        "user": {"id": user, "roles": list(roles)},
        "tables": TABLES,
        "properties": {PROPERTY_URL: url, PROPERTY_SECRET: "s3cret"},
        "records": {
            "incident": {INC: {"caller_id": USER, "cmdb_ci": CI, "_readable": incident_readable}},
            "cmdb_ci": {CI: {"name": "WS-LAB-0042", "_readable": ci_readable}},
            "sys_user": {USER: {"name": "Abel"}},
        },
        "rest_answer": {"short_key": "1234567"},
    }


def ajax(method: str, **params: str) -> dict[str, Any]:
    return {"ajax": "BomgarConnectorAjax", "method": method, "params": params}


def test_session_key_for_an_agent_who_can_read_the_ticket(shipped: dict[str, str]) -> None:
    """An itil user who may read the incident gets a key: one call to the connector."""
    scenario = world(shipped)
    scenario["call"] = ajax(
        "sessionKey", sysparm_table="incident", sysparm_sys_id=INC, sysparm_email="true"
    )
    out = run(scenario)
    assert json.loads(out["result"])["short_key"] == "1234567"
    (call,) = out["rest"]
    assert call["endpoint"] == "https://connector.example.com/api/v1/session-keys"
    assert call["body"] == {
        "table": "incident",
        "sys_id": INC,
        "requested_by": AGENT,
        "email_caller": True,
    }


@pytest.mark.parametrize(
    ("change", "params"),
    [
        ({"roles": ()}, {"sysparm_table": "incident", "sysparm_sys_id": INC}),
        ({"incident_readable": False}, {"sysparm_table": "incident", "sysparm_sys_id": INC}),
        ({}, {"sysparm_table": "sys_user", "sysparm_sys_id": USER}),  # not a ticket
        ({}, {"sysparm_table": "incident", "sysparm_sys_id": "' OR 1=1"}),
        ({}, {"sysparm_table": "no_such_table", "sysparm_sys_id": INC}),
    ],
    ids=["no-role", "cannot-read", "not-a-task", "bad-sys-id", "bad-table"],
)
def test_session_key_is_refused_before_any_call(
    shipped: dict[str, str], change: dict[str, Any], params: dict[str, str]
) -> None:
    """Without the role, read access or a real ticket: a 403 answer and no key, mail or note."""
    scenario = world(shipped, **change)
    scenario["call"] = ajax("sessionKey", sysparm_email="true", **params)
    out = run(scenario)
    assert json.loads(out["result"])["status"] == 403
    assert out["rest"] == []


def test_jump_for_an_agent_who_can_read_the_ci(shipped: dict[str, str]) -> None:
    """Jump to a readable CI, and from a readable ticket whose CI is readable."""
    scenario = world(shipped)
    scenario["call"] = ajax("jump", sysparm_ci=CI)
    assert run(scenario)["rest"][0]["body"] == {"ci_sys_id": CI}
    scenario["call"] = ajax("jump", sysparm_table="incident", sysparm_sys_id=INC)
    assert run(scenario)["rest"][0]["body"] == {"table": "incident", "sys_id": INC}


@pytest.mark.parametrize(
    ("change", "params"),
    [
        ({"roles": ("catalog",)}, {"sysparm_ci": CI}),
        ({"ci_readable": False}, {"sysparm_ci": CI}),
        ({"ci_readable": False}, {"sysparm_table": "incident", "sysparm_sys_id": INC}),
        ({"incident_readable": False}, {"sysparm_table": "incident", "sysparm_sys_id": INC}),
        ({}, {}),
    ],
    ids=["no-role", "ci-unreadable", "ticket-ci-unreadable", "ticket-unreadable", "nothing"],
)
def test_jump_returns_no_ci_address_without_access(
    shipped: dict[str, str], change: dict[str, Any], params: dict[str, str]
) -> None:
    """Without the role or read access to the CI (or the ticket) the connector is never asked."""
    scenario = world(shipped, **change)
    scenario["call"] = ajax("jump", **params)
    out = run(scenario)
    assert json.loads(out["result"])["status"] == 403
    assert out["rest"] == []


def frame(shipped: dict[str, str], **kw: Any) -> str:
    scenario = world(shipped, **kw)
    scenario["call"] = {
        "class": "BomgarConnector",
        "method": "supportFrameUrl",
        "args": ["incident", INC],
    }
    return run(scenario)["result"]


def test_support_frame_url_is_built_from_the_ticket_for_its_caller(
    shipped: dict[str, str],
) -> None:
    """The caller gets a signed link under the connector URL for this very ticket."""
    url = frame(shipped, user=USER, roles=())
    assert url.startswith(f"https://connector.example.com/support/incident/{INC}?user={USER}&")
    assert "&sig=" in url


@pytest.mark.parametrize(
    "change",
    [
        {"user": AGENT},  # not the caller
        {"user": USER, "incident_readable": False},
        {"user": USER, "url": "javascript:alert(document.domain)//"},
        {"user": USER, "url": "http://connector.example.com"},
        {"user": USER, "url": 'https://x.example.com" onload="alert(1)'},
    ],
    ids=["not-caller", "unreadable", "javascript-url", "plain-http", "attribute-breakout"],
)
def test_support_frame_url_is_empty_when_not_safe(
    shipped: dict[str, str], change: dict[str, Any]
) -> None:
    """Nothing is framed for another user, an unreadable ticket or a non-https connector URL."""
    assert frame(shipped, roles=(), **change) == ""


def test_support_page_frames_only_what_the_server_built(shipped: dict[str, str]) -> None:
    """The page takes no URL from the request; the action passes only the ticket's table and id."""
    html = shipped["page:x_bomgar_support"]
    assert "sysparm_url" not in html
    assert "supportFrameUrl(" in html and 'src="${HTML:jvar_url}"' in html
    scenario = world(shipped, user=USER)
    scenario["call"] = {
        "action": {
            "table": "incident",
            "sys_id": INC,
            "script": shipped["action:Get Support Now"],
        }
    }
    assert run(scenario)["redirect"] == (
        f"x_bomgar_support.do?sysparm_table=incident&sysparm_sys_id={INC}"
    )


@pytest.mark.parametrize(
    ("name", "user", "roles", "shown"),
    [
        ("Bomgar Session Key", AGENT, ("itil",), True),
        ("Bomgar Session Key", AGENT, (), False),
        ("Get Support Now", USER, (), True),
        ("Get Support Now", AGENT, ("itil",), False),
        ("Bomgar Jump", AGENT, ("itil",), True),
        ("Bomgar Jump", AGENT, (), False),
    ],
)
def test_buttons_show_only_to_who_may_use_them(
    shipped: dict[str, str], name: str, user: str, roles: tuple[str, ...], shown: bool
) -> None:
    """The UI action conditions match the checks the Ajax include repeats."""
    scenario = world(shipped, user=user, roles=roles)
    table = "cmdb_ci" if name == "Bomgar Jump" else "incident"
    scenario["call"] = {
        "condition": {
            "table": table,
            "sys_id": CI if table == "cmdb_ci" else INC,
            "script": shipped[f"condition:{name}"],
        }
    }
    assert run(scenario)["result"] is shown


def test_fix_script_appends_our_related_lists_and_keeps_theirs(shipped: dict[str, str]) -> None:
    """Existing incident lists stay; ours go after them once, however often the script runs."""
    theirs = {
        f"e{i:031d}": {"list_id": "L" * 32, "related_list": name, "position": str(i)}
        for i, name in enumerate(["task_sla.task", "REL:abc", "incident.parent_incident"])
    }
    records = {
        "sys_ui_related_list": {
            "L" * 32: {"name": "incident", "view": "Default view", "sys_domain": "global"}
        },
        "sys_ui_related_list_entry": theirs,
    }
    scenario = {"scripts": [shipped["fix"]], "records": records}
    out = run(scenario)
    entries = out["records"]["sys_ui_related_list_entry"]
    for key, row in theirs.items():
        assert entries[key] == row
    ours = sorted(
        (int(r["position"]), r["related_list"]) for k, r in entries.items() if k not in theirs
    )
    assert ours == [(3, "u_bomgar_session.u_task"), (4, "u_bomgar_survey_response.u_task")]
    again = run({"scripts": [shipped["fix"]], "records": out["records"]})
    assert again["records"]["sys_ui_related_list_entry"] == entries
    assert len(out["records"]["sys_ui_related_list"]) == 1


def test_fix_script_creates_the_list_record_only_when_there_is_none(
    shipped: dict[str, str],
) -> None:
    """A form without a related-list record gets one holding our two lists."""
    out = run({"scripts": [shipped["fix"]], "records": {}})
    (lists,) = out["records"]["sys_ui_related_list"].values()
    assert lists == {"name": "incident", "view": "Default view", "sys_domain": "global"}
    entries = out["records"]["sys_ui_related_list_entry"].values()
    related = sorted(r["related_list"] for r in entries)
    assert related == ["u_bomgar_session.u_task", "u_bomgar_survey_response.u_task"]
