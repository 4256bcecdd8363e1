"""The emulator starts with base tables and builds the connector's tables from its update set."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from connector.servicenow.updateset import TABLES, Column, Table, build_update_set
from connector.sim.runtime import ServerThread
from connector.sim.servicenow import create_app
from connector.sim.servicenow.schema import SchemaError
from tests.sim.servicenow.conftest import AUTH, Sim

SESSION = "/api/now/table/u_bomgar_session"


def failure(message: str, detail: str | None) -> dict[str, object]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def post_update_set(sim: Sim, data: bytes) -> requests.Response:
    return requests.post(
        f"{sim.url}/_sim/update-sets",
        data=data,
        headers={"Content-Type": "application/xml"},
        timeout=30,
    )


def test_bare_emulator_has_no_connector_tables(make_sim: Callable[..., Sim]) -> None:
    """Started bare, u_bomgar_* are unknown tables (400) and absent from sys_db_object."""
    bare = make_sim({"update_set": False})
    r = bare.get(SESSION)
    assert r.status_code == 400 and r.json() == failure("Invalid table u_bomgar_session", None)
    names = bare.get("/api/now/table/sys_db_object", sysparm_query="nameSTARTSWITHu_bomgar")
    assert names.json()["result"] == []
    assert bare.get("/api/now/table/incident").status_code == 200


def test_posting_the_update_set_creates_tables_fields_choices_and_records(
    make_sim: Callable[..., Sim],
) -> None:
    """POST /_sim/update-sets commits our export: tables, dictionary, choices, properties, ACLs."""
    bare = make_sim({"update_set": False})
    r = post_update_set(bare, build_update_set())
    assert r.status_code == 201, r.text
    summary = r.json()
    assert summary["tables"] == sorted(t.name for t in TABLES)
    assert {"u_bomgar_session", "u_bomgar_survey_response"} <= set(summary["tables"])
    assert summary["fields"] == sum(len(t.columns) for t in TABLES)
    assert summary["records"] == {
        "sys_properties": 4,
        "sys_security_acl": 4 * len(TABLES),
        "sys_security_acl_role": sum(len(r) for t in TABLES for r in t.access.values()),
        "sys_user_role": 4,  # the session tables' two and 3PA's two
    }
    assert summary["skipped"]["sys_ui_action"] == 3 and summary["skipped"]["sys_report"] == 4
    for t in TABLES:
        rows = bare.get(
            "/api/now/table/sys_dictionary", sysparm_query=f"name={t.name}^ORDERBYelement"
        ).json()["result"]
        by_element = {row["element"]: row for row in rows}
        for c in t.columns:
            entry = by_element[c.name]
            assert entry["internal_type"] == c.type, c.name
            assert entry["max_length"] == str(c.max_length)
            assert entry["column_label"] == c.label
            assert (entry["unique"], entry["mandatory"], entry["read_only"]) == (
                str(c.unique).lower(),
                str(c.mandatory).lower(),
                str(c.read_only).lower(),
            )
    created = bare.call("POST", SESSION, json={"u_lsid": "abc", "u_duration": "42"})
    assert created.status_code == 201 and created.json()["result"]["u_duration"] == "42"
    choices = bare.get(
        "/api/now/table/sys_choice",
        sysparm_query="name=u_bomgar_survey_response^element=u_survey_type^ORDERBYsequence",
    ).json()["result"]
    assert [(c["value"], c["label"]) for c in choices] == [
        ("customer", "Customer"),
        ("representative", "Representative"),
    ]
    props = bare.get("/api/now/table/sys_properties", sysparm_query="nameSTARTSWITHx_bomgar")
    assert {p["name"] for p in props.json()["result"]} == {
        "x_bomgar.connector_url",
        "x_bomgar.connector_token",
        "x_bomgar.signing_secret",
        "x_bomgar.link_ttl_seconds",
    }
    read_acl = bare.get(
        "/api/now/table/sys_security_acl",
        sysparm_query="name=u_bomgar_session^operation=read",
    ).json()["result"]
    (acl,) = read_acl
    links = bare.get(
        "/api/now/table/sys_security_acl_role",
        sysparm_query=f"sys_security_acl={acl['sys_id']}",
        sysparm_display_value="true",
        sysparm_exclude_reference_link="true",
    ).json()["result"]
    assert {link["sys_user_role"] for link in links} == {
        "itil",
        "x_bomgar.integration",
        "x_bomgar.reader",
    }


def test_default_start_commits_our_update_set_and_reset_keeps_it(sim: Sim) -> None:
    """create_app() loads our update set; /_sim/reset restores the seed and keeps the tables."""
    assert sim.call("POST", SESSION, json={"u_lsid": "keep"}).status_code == 201
    requests.post(f"{sim.url}/_sim/reset", timeout=10).raise_for_status()
    assert sim.get(SESSION).json()["result"] == []
    props = sim.get("/api/now/table/sys_properties", sysparm_query="name=x_bomgar.connector_url")
    assert len(props.json()["result"]) == 1


def test_update_set_option_loads_another_file(tmp_path: Path) -> None:
    """The update_set option commits the named file: a table added to the data appears."""
    extra = Table(
        "u_bomgar_access",
        "Bomgar Access",
        "Bomgar Accesses",
        (Column("u_key", "Key", "string", 64, unique=True, display=True),),
    )
    path = tmp_path / "extended.xml"
    path.write_bytes(build_update_set(tables=(*TABLES, extra)))
    app = create_app({"update_set": str(path)})
    schema = app.extensions["servicenow_sim"].schema
    assert schema.tables["u_bomgar_access"].own_fields["u_key"].unique
    assert "u_bomgar_session" in schema.tables


def test_a_broken_update_set_is_refused_and_changes_nothing(
    make_sim: Callable[..., Sim], tmp_path: Path
) -> None:
    """Garbage or a dangling reference answers 400 and leaves the schema as it was."""
    bare = make_sim({"update_set": False})
    before = set(bare.state.schema.tables)
    assert post_update_set(bare, b"<not-an-unload/>").status_code == 400
    assert post_update_set(bare, b"\x00not xml").status_code == 400
    good = build_update_set()
    dangling = good.replace(
        b'&lt;reference display_value="task"&gt;task&lt;',
        b'&lt;reference display_value="nope"&gt;u_nope&lt;',
    )
    assert dangling != good
    r = post_update_set(bare, dangling)
    assert r.status_code == 400 and "u_nope" in r.json()["error"]
    assert set(bare.state.schema.tables) == before
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<unload/>")
    with pytest.raises(SchemaError, match="bad.xml"):
        create_app({"update_set": str(bad)})


def test_command_refuses_bare_with_update_set_and_a_broken_file(tmp_path: Path) -> None:
    """`connector sim servicenow` checks its update-set flags before serving."""
    from connector.cli import cli

    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<unload/>")
    runner = CliRunner()
    both = runner.invoke(cli, ["sim", "servicenow", "--bare", "--update-set", str(bad)])
    assert both.exit_code == 2 and "exclude each other" in both.output
    broken = runner.invoke(cli, ["sim", "servicenow", "--update-set", str(bad)])
    assert broken.exit_code == 2 and "no sys_update_xml rows" in broken.output


def test_second_session_with_the_same_lsid_is_refused(sim: Sim) -> None:
    """The unique index on u_lsid refuses the second insert with 403 and stores nothing."""
    first = sim.call("POST", SESSION, json={"u_lsid": "L-1", "u_rep_name": "Jane"})
    assert first.status_code == 201
    second = sim.call("POST", SESSION, json={"u_lsid": "L-1", "u_rep_name": "Other"})
    assert second.status_code == 403
    assert second.json() == failure(
        "Operation Failed", "Error during insert of u_bomgar_session (L-1)"
    )
    rows = sim.get(SESSION, sysparm_query="u_lsid=L-1").json()["result"]
    assert [r["u_rep_name"] for r in rows] == ["Jane"]
    # Empty values are NULL to the index: any number of rows may leave u_lsid empty.
    for _ in range(2):
        assert sim.call("POST", SESSION, json={"u_rep_name": "blank"}).status_code == 201
    # Surveys repeat an lsid per question: no index there.
    for _ in range(2):
        r = sim.call("POST", "/api/now/table/u_bomgar_survey_response", json={"u_lsid": "L-1"})
        assert r.status_code == 201


def test_unique_lsid_holds_for_updates_batches_and_after_delete(sim: Sim) -> None:
    """An update to a taken lsid is refused; a batch item gets the same 403; delete frees it."""
    a = sim.call("POST", SESSION, json={"u_lsid": "A"}).json()["result"]["sys_id"]
    b = sim.call("POST", SESSION, json={"u_lsid": "B"}).json()["result"]["sys_id"]
    r = sim.call("PATCH", f"{SESSION}/{b}", json={"u_lsid": "A"})
    assert r.status_code == 403
    assert r.json()["error"]["detail"] == "Error during update of u_bomgar_session (A)"
    assert sim.get(f"{SESSION}/{b}").json()["result"]["u_lsid"] == "B"
    assert sim.call("PATCH", f"{SESSION}/{b}", json={"u_lsid": "B2"}).status_code == 200
    body = {
        "batch_request_id": "1",
        "rest_requests": [
            {
                "id": "x",
                "method": "POST",
                "url": SESSION,
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "body": base64.b64encode(json.dumps({"u_lsid": "A"}).encode()).decode(),
            }
        ],
    }
    (item,) = sim.call("POST", "/api/now/v1/batch", json=body).json()["serviced_requests"]
    assert item["status_code"] == 403
    assert json.loads(base64.b64decode(item["body"]))["error"]["message"] == "Operation Failed"
    assert sim.call("DELETE", f"{SESSION}/{a}").status_code == 204
    assert sim.call("POST", SESSION, json={"u_lsid": "A"}).status_code == 201
    assert sim.call("POST", SESSION, json={"u_lsid": "B"}).status_code == 201  # freed by B2


def test_unique_index_survives_a_restart_on_the_data_file(tmp_path: Path) -> None:
    """Rows reloaded from --data are indexed: the lsid stays taken after a restart."""
    data = str(tmp_path / "sn.db")
    with ServerThread(create_app({"data_file": data})) as server:
        r = requests.post(f"{server.url}{SESSION}", json={"u_lsid": "P"}, auth=AUTH, timeout=10)
        assert r.status_code == 201
    app = create_app({"data_file": data})
    with ServerThread(app) as server:
        r = requests.post(f"{server.url}{SESSION}", json={"u_lsid": "P"}, auth=AUTH, timeout=10)
        assert r.status_code == 403
    app.extensions["servicenow_sim"].store.close()


def test_link_header_names_next_only_while_records_remain(sim: Sim) -> None:
    """Clients that follow rel=next stop: the last page has no next; prev stays on page one."""
    for i in range(22):
        sim.call("POST", "/api/now/table/incident", json={"short_description": f"n{i}"})
    base = f"{sim.url}/api/now/table/incident?sysparm_limit=10"

    def rels(offset: int) -> dict[str, str]:
        r = sim.get("/api/now/table/incident", sysparm_limit="10", sysparm_offset=str(offset))
        return {
            part.split(";rel=")[1].strip('"'): part.split(";rel=")[0].strip("<>")
            for part in r.headers["Link"].split(",")
        }

    first = rels(0)
    assert first["prev"] == f"{base}&sysparm_offset=-10" and first["next"].endswith("offset=10")
    assert "next" in rels(10)
    last = rels(20)
    assert "next" not in last and last["last"] == f"{base}&sysparm_offset=20"
    # Follow next the way the Go and Ansible clients do: it ends, having seen every record.
    seen, url = 0, f"{base}&sysparm_offset=0"
    for _ in range(10):
        r = requests.get(url, auth=("admin", "admin"), timeout=10)
        seen += len(r.json()["result"])
        links = dict(
            (p.split(";rel=")[1].strip('"'), p.split(";rel=")[0].strip("<>"))
            for p in r.headers["Link"].split(",")
        )
        if "next" not in links:
            break
        url = links["next"]
    assert seen == 25
    one_page = sim.get("/api/now/table/incident", sysparm_limit="100")
    assert 'rel="next"' not in one_page.headers["Link"]


def test_sys_choice_is_read_only_and_built_from_every_choice(sim: Sim) -> None:
    """sys_choice lists base and update-set choices; writing to it is an ACL 403."""
    rows = sim.get(
        "/api/now/table/sys_choice", sysparm_query="name=task^element=state^ORDERBYsequence"
    ).json()["result"]
    assert [r["label"] for r in rows][:2] == ["New", "In Progress"]
    r = sim.call("POST", "/api/now/table/sys_choice", json={"name": "x", "value": "y"})
    assert r.status_code == 403
