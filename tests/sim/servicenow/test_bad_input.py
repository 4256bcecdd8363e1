"""Bad input gets what a real instance gives, and never harms a stored record."""

from __future__ import annotations

import requests

from tests.sim.servicenow.conftest import INC1, NOT_FOUND, Sim


def failure(message: str, detail: str | None) -> dict[str, object]:
    """Build the instance's error envelope."""
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


def test_malformed_json_is_400_and_harmless(sim: Sim) -> None:
    """A body that is not JSON answers 400 'Exception while reading request'; nothing changes."""
    before = sim.snapshot()
    for method, path in (
        ("POST", "/api/now/table/incident"),
        ("PATCH", f"/api/now/table/incident/{INC1}"),
    ):
        r = sim.call(
            method,
            path,
            data=b'{"short_description": "x"',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400
        assert r.json()["error"]["message"] == "Exception while reading request"
        assert r.json()["status"] == "failure"
    assert sim.snapshot() == before


def test_unknown_table_is_400_invalid_table(sim: Sim) -> None:
    """Every method on an unknown table answers 400 'Invalid table <name>' with a null detail."""
    for method, path in (
        ("GET", "/api/now/table/u_nope"),
        ("POST", "/api/now/table/u_nope"),
        ("GET", f"/api/now/table/u_nope/{INC1}"),
        ("DELETE", f"/api/now/v2/table/u_nope/{INC1}"),
    ):
        r = sim.call(method, path, json={})
        assert r.status_code == 400 and r.json() == failure("Invalid table u_nope", None)


def test_unknown_sys_id_is_404_for_every_method(sim: Sim) -> None:
    """GET, PUT, PATCH and DELETE of an unknown sys_id answer the exact 404 body."""
    before = sim.snapshot()
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        r = sim.call(
            method, "/api/now/table/incident/0123456789abcdef0123456789abcdef", json={"x": 1}
        )
        assert r.status_code == 404 and r.json() == NOT_FOUND
    # an incident's sys_id does not exist in an unrelated table
    r = sim.get(f"/api/now/table/sys_user/{INC1}")
    assert r.status_code == 404
    assert sim.snapshot() == before


def test_wrong_method_is_405(sim: Sim) -> None:
    """DELETE on the collection and POST on a record answer 405 in the standard shape."""
    before = sim.snapshot()
    for method, path in (
        ("DELETE", "/api/now/table/incident"),
        ("POST", f"/api/now/table/incident/{INC1}"),
        ("PATCH", "/api/now/table/incident"),
    ):
        r = sim.call(method, path, json={})
        assert r.status_code == 405
        assert r.json()["status"] == "failure" and r.json()["error"]["message"]
    assert sim.snapshot() == before


def test_oversized_body_is_rejected_with_the_real_message(make_sim) -> None:  # type: ignore[no-untyped-def]
    """A body over the cap answers 400 with the exact 'Rejected large REST payload' detail."""
    s = make_sim({"max_body_bytes": 1000})
    before = s.snapshot()
    payload = b'{"short_description": "' + b"x" * 2000 + b'"}'
    r = s.call(
        "POST",
        "/api/now/table/incident",
        data=payload,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json() == failure(
        "Exception while reading request",
        f"Rejected large REST payload with content-length = {len(payload)} bytes. "
        "Max allowed: 1000 bytes.",
    )
    assert s.snapshot() == before


def test_default_body_cap_is_10_mb(sim: Sim) -> None:
    """The default cap is 10485760 bytes, as on a real instance."""
    assert sim.state.options.max_body_bytes == 10485760
    r = sim.call(
        "POST",
        "/api/now/attachment/file",
        data=b"x" * 10485761,
        params={"table_name": "incident", "table_sys_id": INC1, "file_name": "big.bin"},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["detail"].endswith("Max allowed: 10485760 bytes.")


def test_invalid_encoded_query_drops_bad_terms(sim: Sim) -> None:
    """Unparseable terms are dropped and the rest applied (never a 400); nothing is harmed."""
    before = sim.snapshot()
    r = sim.get("/api/now/table/incident", sysparm_query="garbage^^=^NOPE!=x^category=network")
    assert r.status_code == 200 and [x["number"] for x in r.json()["result"]] == ["INC0000002"]
    r = sim.get("/api/now/table/incident", sysparm_query="%%%^ORDERBY")
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "3"
    assert sim.snapshot() == before


def test_unknown_api_paths(sim: Sim) -> None:
    """Any unknown path under /api/ answers 400 with the URI message; other paths 404."""
    for path in ("/api/now/nonsense/thing", "/api/x_acme/whatever", "/api/sn_sc/v1/nothing"):
        r = sim.get(path)
        assert r.status_code == 400, path
        assert r.json() == failure("Requested URI does not represent any resource", None)
    r = sim.get("/not_an_api/whatever")
    assert r.status_code == 404
    assert r.json()["error"]["message"] == "Requested URI does not represent any resource"


def test_read_only_tables_answer_403_acl(sim: Sim) -> None:
    """Writes to the derived catalogue tables answer the 403 ACL bodies."""
    before = sim.snapshot()
    r = sim.call("POST", "/api/now/table/sys_db_object", json={"name": "x"})
    assert r.status_code == 403
    assert r.json() == failure(
        "Operation Failed", "ACL Exception Insert Failed due to security constraints"
    )
    row_id = sim.get("/api/now/table/sys_db_object", sysparm_query="name=incident").json()[
        "result"
    ][0]["sys_id"]
    r = sim.call("DELETE", f"/api/now/table/sys_db_object/{row_id}")
    assert r.json()["error"]["detail"] == "ACL Exception Delete Failed due to security constraints"
    r = sim.call("PATCH", f"/api/now/table/sys_db_object/{row_id}", json={"label": "x"})
    assert r.json()["error"]["detail"] == "ACL Exception Update Failed due to security constraints"
    assert sim.snapshot() == before


def test_non_object_body_is_rejected(sim: Sim) -> None:
    """A JSON body that is not an object (a string, a number) is refused with 400."""
    before = sim.snapshot()
    r = sim.call("PATCH", f"/api/now/table/incident/{INC1}", json="just a string")
    assert r.status_code == 400
    assert sim.snapshot() == before


def test_bad_credentials_do_not_write(sim: Sim) -> None:
    """A write with a wrong password answers 401 and stores nothing."""
    before = sim.snapshot()
    r = requests.post(
        f"{sim.url}/api/now/table/incident",
        auth=("admin", "wrong"),
        json={"short_description": "x"},
        timeout=10,
    )
    assert r.status_code == 401
    assert sim.snapshot() == before
