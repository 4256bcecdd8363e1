"""Table API over a real socket with plain requests: envelope, shapes, headers and statuses."""

from __future__ import annotations

import re

from tests.sim.servicenow.conftest import ABEL, ADMIN_ID, INC1, INC2, NOT_FOUND, WS42, Sim


def test_list_envelope_every_column_and_string_values(sim: Sim) -> None:
    """A list GET wraps rows in result, has every column, and every value is a string."""
    r = sim.get("/api/now/table/incident", sysparm_exclude_reference_link="true")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "ServiceNow" in r.headers["Server"]  # the dev server prepends its own name
    assert re.fullmatch(r"[0-9a-f]{12}", r.headers["X-Transaction-ID"])
    rows = r.json()["result"]
    assert [row["number"] for row in rows] == ["INC0000001", "INC0000002", "INC0000003"]
    table = sim.state.schema.tables["incident"]
    for row in rows:
        assert set(row) == set(table.fields)
        assert all(isinstance(v, str) for v in row.values())
    first = rows[0]
    assert first["caller_id"] == ABEL and first["cmdb_ci"] == WS42
    assert first["opened_by"] == ABEL
    assert first["sys_mod_count"] == "0" and first["active"] == "true"
    assert first["assigned_to"] == "" and first["sys_class_name"] == "incident"


def test_reference_shapes_in_every_display_mode(sim: Sim) -> None:
    """References take the documented shape for each display_value and link setting."""
    link = f"{sim.url}/api/now/table/sys_user/{ABEL}"
    expected = {
        ("false", "false"): {"link": link, "value": ABEL},
        ("false", "true"): ABEL,
        ("true", "false"): {"display_value": "Abel Tuter", "link": link},
        ("true", "true"): "Abel Tuter",
        ("all", "false"): {"display_value": "Abel Tuter", "link": link, "value": ABEL},
        ("all", "true"): {"display_value": "Abel Tuter", "value": ABEL},
    }
    for (mode, exclude), shape in expected.items():
        r = sim.get(
            f"/api/now/table/incident/{INC1}",
            sysparm_display_value=mode,
            sysparm_exclude_reference_link=exclude,
        )
        body = r.json()["result"]
        assert body["caller_id"] == shape, (mode, exclude)
        assert body["assigned_to"] == ""  # an empty reference is "" in every mode


def test_display_rendering_of_choices_integers_and_class(sim: Sim) -> None:
    """Display mode renders choice labels, grouped integers and the class label; all pairs both."""
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"reassignment_count": 28800})
    body = sim.get(f"/api/now/table/incident/{INC1}", sysparm_display_value="true").json()["result"]
    assert body["priority"] == "5 - Planning"
    assert body["reassignment_count"] == "28,800"
    assert body["sys_class_name"] == "Incident"
    body = sim.get(f"/api/now/table/incident/{INC1}", sysparm_display_value="all").json()["result"]
    assert body["category"] == {"display_value": "Hardware", "value": "hardware"}


def test_v2_links_mirror_the_version_used(sim: Sim) -> None:
    """Reference links and Location use the API version of the request."""
    body = sim.get(f"/api/now/v2/table/incident/{INC1}").json()["result"]
    assert body["caller_id"]["link"] == f"{sim.url}/api/now/v2/table/sys_user/{ABEL}"
    r = sim.call("POST", "/api/now/v1/table/incident", json={"short_description": "v1"})
    assert r.headers["Location"].startswith(f"{sim.url}/api/now/v1/table/incident/")


def test_post_returns_201_location_and_maintained_fields(sim: Sim) -> None:
    """POST answers 201 with Location, numbers from INC0010001 and the system fields set."""
    r = sim.call(
        "POST",
        "/api/now/table/incident",
        json={"short_description": "Disk full", "caller_id": ABEL, "impact": "2", "urgency": "2"},
    )
    assert r.status_code == 201
    rec = r.json()["result"]
    assert re.fullmatch(r"[0-9a-f]{32}", rec["sys_id"])
    assert r.headers["Location"] == f"{sim.url}/api/now/table/incident/{rec['sys_id']}"
    assert rec["number"] == "INC0010001"
    assert rec["sys_created_by"] == "admin" and rec["sys_updated_by"] == "admin"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rec["sys_created_on"])
    assert rec["opened_at"] == rec["sys_created_on"]
    assert rec["opened_by"]["value"] == ABEL
    assert rec["priority"] == "3" and rec["state"] == "1" and rec["sys_mod_count"] == "0"
    again = sim.call("POST", "/api/now/table/incident", json={"short_description": "n2"})
    assert again.json()["result"]["number"] == "INC0010002"
    own = sim.call("POST", "/api/now/table/incident", json={"short_description": "mine"})
    assert own.json()["result"]["opened_by"]["value"] == ADMIN_ID


def test_patch_and_put_are_partial_updates_that_bump_mod_count(sim: Sim) -> None:
    """PATCH and PUT change only the fields sent, answer the full record and count updates."""
    r = sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"state": "2"})
    assert r.status_code == 200
    rec = r.json()["result"]
    assert rec["state"] == "2" and rec["short_description"] == "Printer offline on 3rd floor"
    assert rec["sys_mod_count"] == "1"
    r = sim.call("PUT", f"/api/now/table/incident/{INC1}", json={"urgency": "1"})
    rec = r.json()["result"]
    assert rec["state"] == "2" and rec["urgency"] == "1" and rec["sys_mod_count"] == "2"
    assert rec["priority"] == "3"  # impact 3 x urgency 1


def test_array_body_writes_only_the_first_element(sim: Sim) -> None:
    """An array sent to POST creates one record from its first element."""
    before = len(sim.state.store.by_table["incident"])
    r = sim.call(
        "POST",
        "/api/now/table/incident",
        json=[{"short_description": "one"}, {"short_description": "two"}],
    )
    assert r.status_code == 201 and r.json()["result"]["short_description"] == "one"
    assert len(sim.state.store.by_table["incident"]) == before + 1


def test_delete_answers_204_and_the_record_is_gone(sim: Sim) -> None:
    """DELETE answers 204 with an empty body; a later GET answers the 404 body."""
    r = sim.call("DELETE", f"/api/now/table/incident/{INC2}")
    assert r.status_code == 204 and r.content == b""
    r = sim.get(f"/api/now/table/incident/{INC2}")
    assert r.status_code == 404 and r.json() == NOT_FOUND


def test_string_longer_than_max_length_is_truncated(sim: Sim) -> None:
    """Strings over the column's max length are cut silently on insert and update."""
    r = sim.call(
        "POST",
        "/api/now/table/u_bomgar_session",
        json={"u_lsid": "x" * 100, "u_rep_name": "r" * 150, "u_duration": "42"},
    )
    rec = r.json()["result"]
    assert (
        rec["u_lsid"] == "x" * 64 and rec["u_rep_name"] == "r" * 100 and rec["u_duration"] == "42"
    )
    r = sim.call(
        "PATCH",
        f"/api/now/table/u_bomgar_session/{rec['sys_id']}",
        json={"u_chat_transcript": "t" * 5000},
    )
    assert r.json()["result"]["u_chat_transcript"] == "t" * 4000


def test_bomgar_tables_have_exactly_the_issue_fields(sim: Sim) -> None:
    """u_bomgar_session and u_bomgar_survey_response declare the fields, types and lengths asked."""
    tables = sim.state.schema.tables
    s = tables["u_bomgar_session"].own_fields
    assert (s["u_task"].type, s["u_task"].reference) == ("reference", "task")
    assert (s["u_primary_rep"].type, s["u_primary_rep"].reference) == ("reference", "sys_user")
    assert s["u_customer_hostname"].max_length == 255 and s["u_chat_url"].max_length == 1024
    assert (
        s["u_start_time"].type == "glide_date_time" and s["u_file_transfer_count"].type == "integer"
    )
    assert len(s) == 19
    v = tables["u_bomgar_survey_response"].own_fields
    assert v["u_session"].reference == "u_bomgar_session"
    assert set(v["u_survey_type"].choices) == {"customer", "representative"}
    assert v["u_question"].max_length == 255 and v["u_question_label"].max_length == 255
    assert len(v) == 8


def test_write_through_task_updates_the_incident(sim: Sim) -> None:
    """PATCH on task/<incident sys_id> changes the incident row itself."""
    r = sim.call(
        "PATCH",
        f"/api/now/table/task/{INC1}",
        json={"short_description": "via task", "caller_id": "ignored"},
    )
    assert r.status_code == 200
    assert "caller_id" not in r.json()["result"]
    rec = sim.get(f"/api/now/table/incident/{INC1}").json()["result"]
    assert rec["short_description"] == "via task" and rec["caller_id"]["value"] == ABEL
    listed = sim.get("/api/now/table/task", sysparm_query="sys_class_name=incident").json()
    assert len(listed["result"]) == 3


def test_computers_are_visible_through_cmdb_ci(sim: Sim) -> None:
    """cmdb_ci_computer rows appear under cmdb_ci with the parent's columns only."""
    rows = sim.get("/api/now/table/cmdb_ci", sysparm_query="ORDERBYname").json()["result"]
    assert [r["name"] for r in rows] == ["SRV-NOJUMP-01", "WS-LAB-0042", "WS-LAB-0043"]
    assert "host_name" not in rows[0] and rows[0]["ip_address"] == "10.20.1.1"
    one = sim.get(f"/api/now/table/cmdb_ci_computer/{WS42}").json()["result"]
    assert one["host_name"] == "ws-lab-0042"


def test_pagination_headers(sim: Sim) -> None:
    """X-Total-Count always; Link with negative prev on page one and computed last."""
    for i in range(22):
        sim.call("POST", "/api/now/table/incident", json={"short_description": f"n{i}"})
    r = sim.get("/api/now/table/incident", active="true", sysparm_limit="10", sysparm_offset="0")
    assert r.headers["X-Total-Count"] == "25"
    base = f"{sim.url}/api/now/table/incident?active=true&sysparm_limit=10"
    assert r.headers["Link"] == (
        f'<{base}&sysparm_offset=0>;rel="first",<{base}&sysparm_offset=-10>;rel="prev",'
        f'<{base}&sysparm_offset=10>;rel="next",<{base}&sysparm_offset=20>;rel="last"'
    )
    assert len(r.json()["result"]) == 10
    page3 = sim.get(
        "/api/now/table/incident",
        sysparm_limit="10",
        sysparm_offset="20",
        sysparm_suppress_pagination_header="true",
    )
    assert "Link" not in page3.headers and page3.headers["X-Total-Count"] == "25"
    assert len(page3.json()["result"]) == 5


def test_fields_dot_walk_and_views(sim: Sim) -> None:
    """sysparm_fields narrows columns, ignores unknown names and flattens dot-walks; views apply."""
    r = sim.get(f"/api/now/table/incident/{INC1}", sysparm_fields="number,caller_id.email,nope")
    assert r.json()["result"] == {
        "number": "INC0000001",
        "caller_id.email": "abel.tuter@example.com",
    }
    mobile = sim.get(f"/api/now/table/incident/{INC1}", sysparm_view="mobile").json()["result"]
    assert set(mobile) == {
        "number",
        "short_description",
        "caller_id",
        "state",
        "priority",
        "cmdb_ci",
    }
    both = sim.get(
        f"/api/now/table/incident/{INC1}", sysparm_view="mobile", sysparm_fields="number"
    )
    assert set(both.json()["result"]) == {"number"}


def test_name_value_filters_accept_display_values(sim: Sim) -> None:
    """name=value pairs filter lists; a reference may be given by display value."""
    r = sim.get("/api/now/table/incident", caller_id="Beth Anglin")
    assert [x["sys_id"] for x in r.json()["result"]] == [INC2]
    r = sim.get("/api/now/table/incident", priority="5 - Planning", category="network")
    assert [x["sys_id"] for x in r.json()["result"]] == [INC2]


def test_name_value_pairs_are_ignored_when_a_query_is_present(sim: Sim) -> None:
    """With sysparm_query, stray parameters (as pysnow leaks them) are not turned into filters."""
    r = sim.get("/api/now/table/incident", sysparm_query="active=true", number="INC0000002")
    assert r.headers["X-Total-Count"] == "3"


def test_input_display_value_resolves_references_and_choices(sim: Sim) -> None:
    """sysparm_input_display_value=true stores references by name and choices by label."""
    r = sim.call(
        "POST",
        "/api/now/table/incident",
        params={"sysparm_input_display_value": "true"},
        json={"caller_id": "Abel Tuter", "impact": "1 - High", "short_description": "x"},
    )
    rec = r.json()["result"]
    assert rec["caller_id"]["value"] == ABEL and rec["impact"] == "1"


def test_booleans_are_case_insensitive_and_empty_params_absent(sim: Sim) -> None:
    """pysnow's True/False and empty sysparm values are accepted."""
    r = sim.get(
        f"/api/now/table/incident/{INC1}",
        sysparm_exclude_reference_link="True",
        sysparm_fields="",
        sysparm_view="",
    )
    body = r.json()["result"]
    assert body["caller_id"] == ABEL and "number" in body


def test_head_and_method_override(sim: Sim) -> None:
    """HEAD answers like GET without a body; X-HTTP-Method-Override turns a POST into a PATCH."""
    r = sim.call("HEAD", f"/api/now/table/incident/{INC1}")
    assert r.status_code == 200 and r.content == b""
    r = sim.call(
        "POST",
        f"/api/now/table/incident/{INC1}",
        json={"state": "3"},
        headers={"X-HTTP-Method-Override": "PATCH"},
    )
    assert r.status_code == 200 and r.json()["result"]["state"] == "3"


def test_no_response_body_header(sim: Sim) -> None:
    """X-no-response-body: true suppresses the body of a write but keeps the status."""
    r = sim.call(
        "POST",
        "/api/now/table/incident",
        json={"short_description": "quiet"},
        headers={"X-no-response-body": "true"},
    )
    assert r.status_code == 201 and r.content == b"" and "Location" in r.headers


def test_empty_list_is_200_with_empty_array(sim: Sim) -> None:
    """A query matching nothing answers 200 {"result": []} on every version."""
    for prefix in ("/api/now/table", "/api/now/v1/table", "/api/now/v2/table"):
        r = sim.get(f"{prefix}/incident", sysparm_query="number=NOPE")
        assert r.status_code == 200 and r.json() == {"result": []}
        assert r.headers["X-Total-Count"] == "0"


def test_session_cookies_are_set_and_honoured(sim: Sim) -> None:
    """The answer sets JSESSIONID and glide_session_store; the cookie alone authenticates later."""
    r = sim.get(f"/api/now/table/incident/{INC1}")
    assert "JSESSIONID" in r.cookies and "glide_session_store" in r.cookies
    r = sim.http.get(f"{sim.url}/api/now/table/incident/{INC1}", timeout=10)
    assert r.status_code == 200


def test_catalogue_tables_describe_the_schema(sim: Sim) -> None:
    """sys_db_object and sys_dictionary are derived from the schema and queryable."""
    r = sim.get(
        "/api/now/table/sys_db_object",
        sysparm_query="name=incident",
        sysparm_display_value="true",
        sysparm_exclude_reference_link="true",
    )
    row = r.json()["result"][0]
    assert row["label"] == "Incident" and row["super_class"] == "task"
    r = sim.get(
        "/api/now/table/sys_dictionary", sysparm_query="name=u_bomgar_session^element=u_lsid"
    )
    entry = r.json()["result"][0]
    assert entry["internal_type"] == "string" and entry["max_length"] == "64"
