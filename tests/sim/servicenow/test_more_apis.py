"""Batch, Attachment, Email and Import Set APIs over plain HTTP."""

from __future__ import annotations

import base64
import json

from tests.sim.servicenow.conftest import ABEL, INC1, INC2, Sim


def b64(data: dict[str, object]) -> str:
    """Base64 of a JSON body."""
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_batch_runs_items_and_echoes_id_as_string(sim: Sim) -> None:
    """Items run in order with base64 bodies and header lists; the id comes back as a string."""
    body = {
        "batch_request_id": 7,
        "rest_requests": [
            {
                "id": "a",
                "method": "PATCH",
                "url": f"/api/now/table/incident/{INC1}?sysparm_fields=state",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "body": b64({"state": "2"}),
            },
            {
                "id": "b",
                "method": "GET",
                "url": "/api/now/table/incident/0123456789abcdef0123456789abcdef",
                "headers": [],
                "exclude_response_headers": True,
            },
            {
                "id": "c",
                "method": "DELETE",
                "url": f"/api/now/table/incident/{INC2}",
                "headers": [],
            },
        ],
    }
    sim.call("POST", "/_sim/stats/reset")
    r = sim.call("POST", "/api/now/v1/batch", json=body)
    assert r.status_code == 200
    data = r.json()
    assert data["batch_request_id"] == "7" and data["unserviced_requests"] == []
    a, b, c = data["serviced_requests"]
    assert a["id"] == "a" and a["status_code"] == 200 and a["status_text"] == "OK"
    assert json.loads(base64.b64decode(a["body"])) == {"result": {"state": "2"}}
    assert any(h["name"] == "Content-Type" for h in a["headers"])
    assert b["status_code"] == 404 and b["headers"] == []
    assert c["status_code"] == 204 and c["body"] == ""
    assert sim.state.store.records[INC1]["state"] == "2" and INC2 not in sim.state.store.records
    stats = sim.stats()
    assert stats["POST /api/now/v1/batch"] == 1
    assert stats["batch PATCH /api/now/table/incident/{sys_id}"] == 1
    assert stats["batch GET /api/now/table/incident/{sys_id}"] == 1
    assert stats["batch DELETE /api/now/table/incident/{sys_id}"] == 1


def test_batch_unserviced_items(sim: Sim) -> None:
    """With a per-batch cutoff the remaining items are listed unserviced and not run."""
    sim.state.configure_faults({"batch_unserviced_after": 1})
    items = [
        {
            "id": str(i),
            "method": "PATCH",
            "url": f"/api/now/table/incident/{INC1}",
            "headers": [],
            "body": b64({"short_description": f"v{i}"}),
        }
        for i in range(3)
    ]
    data = sim.call(
        "POST", "/api/now/v1/batch", json={"batch_request_id": "1", "rest_requests": items}
    ).json()
    assert [x["id"] for x in data["serviced_requests"]] == ["0"]
    assert data["unserviced_requests"] == ["1", "2"]
    assert sim.state.store.records[INC1]["short_description"] == "v0"


def test_batch_requires_auth(sim: Sim) -> None:
    """A batch without credentials is a whole-batch 401."""
    r = sim.call("POST", "/api/now/v1/batch", auth=None, json={"rest_requests": []})
    assert r.status_code == 401


def test_attachment_lifecycle(sim: Sim) -> None:
    """Raw upload answers 201 + Location; list, metadata, download and delete work."""
    r = sim.call(
        "POST",
        "/api/now/attachment/file",
        data=b"hello log",
        params={"table_name": "incident", "table_sys_id": INC1, "file_name": "log.txt"},
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 201
    meta = r.json()["result"]
    att = meta["sys_id"]
    assert r.headers["Location"] == f"{sim.url}/api/now/attachment/{att}/file"
    assert meta["size_bytes"] == "9" and meta["content_type"] == "text/plain"
    assert (
        meta["download_link"] == r.headers["Location"]
        and meta["created_by_name"] == "System Administrator"
    )
    listed = sim.get(
        "/api/now/v1/attachment", sysparm_query=f"table_name=incident^table_sys_id={INC1}"
    )
    assert listed.headers["X-Total-Count"] == "1" and listed.json()["result"][0]["sys_id"] == att
    f = sim.get(f"/api/now/attachment/{att}/file")
    assert f.content == b"hello log" and f.headers["Content-Type"].startswith("text/plain")
    assert json.loads(f.headers["X-Attachment-Metadata"])["file_name"] == "log.txt"
    assert sim.call("DELETE", f"/api/now/attachment/{att}").status_code == 204
    assert sim.get(f"/api/now/attachment/{att}").status_code == 404


def test_multipart_upload(sim: Sim) -> None:
    """/upload takes the form fields and the last file part."""
    r = sim.call(
        "POST",
        "/api/now/attachment/upload",
        data={"table_name": "incident", "table_sys_id": INC1},
        files={"uploadFile": ("shot.png", b"\x89PNG...", "image/png")},
    )
    assert r.status_code == 201
    assert r.json()["result"]["content_type"] == "image/png"
    assert r.json()["result"]["file_name"] == "shot.png"


def test_attachment_errors(sim: Sim) -> None:
    """Missing parameters answer 400; an unknown record 404; nothing is stored."""
    before = sim.snapshot()
    r = sim.call(
        "POST",
        "/api/now/attachment/file",
        data=b"x",
        params={"table_name": "incident"},
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 400
    r = sim.call(
        "POST",
        "/api/now/attachment/file",
        data=b"x",
        params={"table_name": "incident", "table_sys_id": "0" * 32, "file_name": "a"},
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 404
    assert sim.snapshot() == before


def test_email_api(sim: Sim) -> None:
    """POST /api/now/v1/email records a sys_email row, readable back by id and as a table."""
    r = sim.call(
        "POST",
        "/api/now/v1/email",
        json={
            "to": ["Abel <abel.tuter@example.com>"],
            "subject": "Session summary",
            "text": "Hello",
            "table_name": "incident",
            "table_record_id": INC1,
        },
    )
    assert r.status_code == 200
    result = r.json()["result"]
    eid = result["id"]
    assert result["links"][0] == {"rel": "self", "href": f"/now/v1/email/{eid}"}
    back = sim.get(f"/api/now/v1/email/{eid}").json()["result"]
    assert back["to"] == ["Abel <abel.tuter@example.com>"] and back["type"] == "send-ready"
    assert back["state"] == "ready" and back["text"] == "Hello"
    row = sim.get(f"/api/now/table/sys_email/{eid}").json()["result"]
    assert row["target_table"] == "incident" and row["instance"] == INC1
    narrow = sim.get(f"/api/now/v1/email/{eid}", sysparm_fields="id,state").json()["result"]
    assert narrow == {"id": eid, "state": "ready"}


def test_email_api_rejects_bad_input(sim: Sim) -> None:
    """Missing to, over 100 recipients or half a record link answer 400."""
    before = sim.snapshot()
    for body in (
        {"subject": "x"},
        {"to": [f"u{i}@x" for i in range(101)]},
        {"to": ["a@x"], "table_name": "incident"},
    ):
        r = sim.call("POST", "/api/now/v1/email", json=body)
        assert r.status_code == 400 and r.json()["status"] == "failure"
    assert sim.snapshot() == before
    assert sim.get("/api/now/v1/email/" + "0" * 32).status_code == 403


def test_import_set_inserts_then_coalesces(sim: Sim) -> None:
    """An import row is transformed field for field; a coalesce match becomes an update."""
    r = sim.call(
        "POST",
        "/api/now/import/u_imp_incident",
        json={"u_short_description": "Imported", "u_caller": "Abel Tuter", "u_state": "2"},
    )
    assert r.status_code == 201
    data = r.json()
    assert data["staging_table"] == "u_imp_incident" and data["import_set"].startswith("ISET")
    res = data["result"][0]
    assert res["status"] == "inserted" and res["table"] == "incident"
    assert res["display_name"] == "number" and res["display_value"] == "INC0010001"
    inc = sim.state.store.records[res["sys_id"]]
    assert inc["caller_id"] == ABEL and inc["state"] == "2"
    again = sim.call(
        "POST",
        "/api/now/import/u_imp_incident",
        json={"u_number": "INC0010001", "u_short_description": "Changed"},
    ).json()
    assert (
        again["result"][0]["status"] == "updated" and again["result"][0]["sys_id"] == res["sys_id"]
    )
    assert sim.state.store.records[res["sys_id"]]["short_description"] == "Changed"
    staging_id = sim.get("/api/now/table/u_imp_incident").json()["result"][0]["sys_id"]
    read = sim.get(f"/api/now/import/u_imp_incident/{staging_id}").json()
    assert read["result"][0]["status"] == "inserted"
    assert sim.call("POST", "/api/now/import/incident", json={}).status_code == 400
