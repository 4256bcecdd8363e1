"""Extra schema files, data policies and SQLite persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.sim.servicenow import create_app
from connector.sim.servicenow.schema import SchemaError
from tests.sim.servicenow.conftest import INC1, write_file

EXTRA = """
tables:
  u_widget:
    label: Widget
    number_prefix: WDG
    fields:
      number: {type: string, max_length: 40}
      u_name: {type: string, max_length: 10, mandatory: true, label: Widget name}
      u_owner: {type: reference, reference: sys_user}
  incident:
    fields:
      u_bomgar_lsid: {type: string, max_length: 64}
"""


def test_extra_schema_adds_tables_and_fields(make_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--schema files add tables (with numbering) and extend shipped ones."""
    s = make_sim({"schema_files": [write_file(tmp_path, "extra.yaml", EXTRA)]})
    r = s.call("POST", "/api/now/table/u_widget", json={"u_name": "a-very-long-name"})
    assert r.status_code == 201
    assert (
        r.json()["result"]["number"] == "WDG0010001"
        and r.json()["result"]["u_name"] == "a-very-lon"
    )
    r = s.call("PATCH", f"/api/now/table/incident/{INC1}", json={"u_bomgar_lsid": "abc"})
    assert r.json()["result"]["u_bomgar_lsid"] == "abc"
    dictionary = s.get(
        "/api/now/table/sys_dictionary", sysparm_query="name=u_widget^element=u_owner"
    )
    assert dictionary.json()["result"][0]["reference"] == "sys_user"


def test_mandatory_field_is_a_data_policy_403(make_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An empty mandatory field answers 403 with the data-policy detail; nothing is stored."""
    s = make_sim({"schema_files": [write_file(tmp_path, "extra.yaml", EXTRA)]})
    before = s.snapshot()
    r = s.call("POST", "/api/now/table/u_widget", json={"u_owner": ""})
    assert r.status_code == 403
    assert r.json() == {
        "error": {
            "message": "Operation Failed",
            "detail": "Data Policy Exception: \n\tThe following fields are mandatory: Widget name",
        },
        "status": "failure",
    }
    assert s.snapshot() == before


def test_bad_schema_files_name_the_problem(tmp_path: Path) -> None:
    """Unknown field types and dangling references are refused with the file and key named."""
    bad = write_file(tmp_path, "bad.yaml", "tables:\n  u_x:\n    fields:\n      a: {type: blob}\n")
    with pytest.raises(
        SchemaError, match=r"bad.yaml: tables.u_x: field 'a' has unknown type 'blob'"
    ):
        create_app({"schema_files": [bad]})
    dangling = write_file(
        tmp_path,
        "d.yaml",
        "tables:\n  u_x:\n    fields:\n      a: {type: reference, reference: nope}\n",
    )
    with pytest.raises(SchemaError, match="references unknown table 'nope'"):
        create_app({"schema_files": [dangling]})


def test_sqlite_persists_records_across_restarts(make_sim, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With data_file, records, journal rows, attachments and counters survive a new app."""
    db = str(tmp_path / "sn.db")
    s = make_sim({"data_file": db})
    new = s.call("POST", "/api/now/table/incident", json={"short_description": "kept"}).json()[
        "result"
    ]
    s.call("PATCH", f"/api/now/table/incident/{INC1}", json={"work_notes": "persisted note"})
    s.call(
        "POST",
        "/api/now/attachment/file",
        data=b"bytes",
        params={"table_name": "incident", "table_sys_id": INC1, "file_name": "f.txt"},
        headers={"Content-Type": "text/plain"},
    )
    s.call("DELETE", "/api/now/table/incident/a5000000000000000000000000000002")
    s.state.store.close()
    s2 = make_sim({"data_file": db})
    assert (
        s2.get(f"/api/now/table/incident/{new['sys_id']}").json()["result"]["number"]
        == "INC0010001"
    )
    assert s2.get("/api/now/table/incident/a5000000000000000000000000000002").status_code == 404
    notes = s2.get("/api/now/table/sys_journal_field", sysparm_query=f"element_id={INC1}").json()
    assert notes["result"][0]["value"] == "persisted note"
    att = s2.get("/api/now/attachment", sysparm_query=f"table_sys_id={INC1}").json()["result"][0]
    assert s2.get(f"/api/now/attachment/{att['sys_id']}/file").content == b"bytes"
    nxt = s2.call("POST", "/api/now/table/incident", json={"short_description": "n"}).json()
    assert nxt["result"]["number"] == "INC0010002"
    s2.state.store.close()
