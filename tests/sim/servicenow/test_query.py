"""Encoded queries evaluated by the emulator, driven over HTTP."""

from __future__ import annotations

import pytest

from connector.sim.servicenow.query import Unevaluable, evaluate_js, now_utc
from tests.sim.servicenow.conftest import ADMIN_ID, INC1, INC2, INC3, Sim


def numbers(sim: Sim, query: str, table: str = "incident") -> list[str]:
    """Return the numbers (or names) of the rows a query selects."""
    r = sim.get(f"/api/now/table/{table}", sysparm_query=query)
    assert r.status_code == 200, r.text
    key = "number" if table in ("incident", "task") else "name"
    return [row[key] for row in r.json()["result"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=network", ["INC0000002"]),
        ("category!=network", ["INC0000001", "INC0000003"]),
        ("short_descriptionLIKEprinter", ["INC0000001"]),  # case-insensitive
        ("short_descriptionCONTAINSvpn", ["INC0000002"]),
        ("short_descriptionNOT LIKEdrive", ["INC0000001", "INC0000002"]),
        ("short_descriptionDOES NOT CONTAINdrive", ["INC0000001", "INC0000002"]),
        ("numberSTARTSWITHINC000000", ["INC0000001", "INC0000002", "INC0000003"]),
        ("short_descriptionENDSWITHminutes", ["INC0000002"]),
        ("numberININC0000001,INC0000003", ["INC0000001", "INC0000003"]),
        ("numberNOT ININC0000001,INC0000003", ["INC0000002"]),
        ("assigned_toISEMPTY^numberENDSWITH3", ["INC0000003"]),
        ("caller_idISNOTEMPTY^category=software", ["INC0000003"]),
        ("number>INC0000001", ["INC0000002", "INC0000003"]),
        ("number>=INC0000002", ["INC0000002", "INC0000003"]),
        ("number<INC0000002", ["INC0000001"]),
        ("number<=INC0000002", ["INC0000001", "INC0000002"]),
        ("numberBETWEENINC0000002@INC0000003", ["INC0000002", "INC0000003"]),
        ("category=network^ORcategory=software", ["INC0000002", "INC0000003"]),
        ("active=true^category=network^ORcategory=hardware", ["INC0000001", "INC0000002"]),
        ("category=network^NQcategory=software", ["INC0000002", "INC0000003"]),
        ("category=network^NQcategory=software^active=false", ["INC0000002"]),
        ("ORDERBYDESCnumber", ["INC0000003", "INC0000002", "INC0000001"]),
        (
            "active=true^ORDERBYDESCcategory^ORDERBYnumber",
            ["INC0000003", "INC0000002", "INC0000001"],
        ),
        ("caller_id.email=beth.anglin@example.com", ["INC0000002"]),
        ("cmdb_ci.nameSTARTSWITHSRV", ["INC0000003"]),
        ("caller_id.emailISEMPTY", ["INC0000003"]),
        ("", ["INC0000001", "INC0000002", "INC0000003"]),
        ("^^category=network^EQ", ["INC0000002"]),
        ("no_such_field=1^category=network", ["INC0000002"]),  # unknown fields are dropped
        ("category=network^ORDERBYno_such_field", ["INC0000002"]),
        ("reassignment_count>-1^reassignment_count<1", ["INC0000001", "INC0000002", "INC0000003"]),
        ("descriptionANYTHING^category=hardware", ["INC0000001"]),
        ("descriptionEMPTYSTRING^category=hardware", ["INC0000001"]),
        ("opened_bySAMEAScaller_id^category=hardware", ["INC0000001"]),
        ("opened_byNSAMEAScaller_id", []),
        ("ORDERBYsys_id", ["INC0000001", "INC0000002", "INC0000003"]),
    ],
)
def test_operators(sim: Sim, query: str, expected: list[str]) -> None:
    """Each operator selects exactly the seeded incidents it should."""
    assert numbers(sim, query) == expected


def test_values_are_case_sensitive_for_equality(sim: Sim) -> None:
    """= compares exact strings; only LIKE-style operators ignore case."""
    assert numbers(sim, "category=Network") == []


def test_javascript_date_helpers(sim: Sim) -> None:
    """gs.* helpers in values are evaluated (and only they)."""
    assert numbers(sim, "sys_created_on<javascript:gs.daysAgoStart(0)") == [
        "INC0000001",
        "INC0000002",
        "INC0000003",
    ]
    assert numbers(sim, "sys_created_on>=javascript:gs.beginningOfToday()") == []
    sim.call("POST", "/api/now/table/incident", json={"short_description": "today"})
    assert numbers(sim, "sys_created_on>=javascript:gs.beginningOfToday()") == ["INC0010001"]
    assert numbers(
        sim, "sys_created_onONToday@javascript:gs.beginningOfToday()@javascript:gs.endOfToday()"
    ) == ["INC0010001"]
    assert numbers(
        sim,
        'sys_created_onBETWEENjavascript:gs.dateGenerate("2020-01-01 00:00:00")'
        "@javascript:gs.dateGenerate('2024-12-31','23:59:59')",
    ) == ["INC0000001", "INC0000002", "INC0000003"]
    assert numbers(sim, "opened_by=javascript:gs.getUserID()") == ["INC0010001"]
    # Anything outside the whitelist is never run: the term is simply false.
    assert numbers(sim, "sys_created_on>javascript:gs.sleep(1000)") == []


def test_evaluate_js_forms() -> None:
    """The whitelist understands the argument forms pysnow and list filters emit."""
    assert (
        evaluate_js("javascript:gs.dateGenerate('2024-03-05','09:14:02')", "")
        == "2024-03-05 09:14:02"
    )
    assert evaluate_js('gs.dateGenerate("2024-03-05 09:14:02")', "") == "2024-03-05 09:14:02"
    assert evaluate_js("javascript:gs.getUserID()", ADMIN_ID) == ADMIN_ID
    assert evaluate_js("javascript:gs.daysAgoStart(0)", "") == now_utc().strftime(
        "%Y-%m-%d 00:00:00"
    )
    with pytest.raises(Unevaluable):
        evaluate_js("javascript:new GlideRecord('sys_user').deleteMultiple()", "")


def test_journal_and_reference_in_queries(sim: Sim) -> None:
    """sys_journal_field is queryable like any table (IN on element_id, LIKE on value)."""
    sim.call("PATCH", f"/api/now/table/incident/{INC1}", json={"work_notes": "marker-123 first"})
    sim.call("PATCH", f"/api/now/table/incident/{INC3}", json={"work_notes": "other"})
    r = sim.get(
        "/api/now/table/sys_journal_field",
        sysparm_query=f"element_idIN{INC1},{INC2},{INC3}^element=work_notes^valueLIKEmarker-123",
    )
    rows = r.json()["result"]
    assert [(x["element_id"], x["value"]) for x in rows] == [(INC1, "marker-123 first")]


def test_invalid_query_property_returns_no_rows(sim: Sim) -> None:
    """With glide.invalid_query.returns_no_rows emulated, an invalid term yields no rows."""
    sim.state.configure_faults({"invalid_query_returns_no_rows": True})
    assert numbers(sim, "no_such_field=1^category=network") == []
    assert numbers(sim, "category=network") == ["INC0000002"]
