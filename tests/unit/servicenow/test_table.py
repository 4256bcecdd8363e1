"""Table API calls: what the client sends and what it returns."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from connector.errors import DataError
from connector.servicenow import table_url
from tests.unit.servicenow.conftest import (
    BASIC,
    SYS_ID,
    TABLE,
    no_cookie_header,
    param_absent_or_empty,
)

RECORD = {"sys_id": SYS_ID, "number": "INC0000001", "caller_id": "a2000000000000000000000000000001"}


def test_get_record_sends_basic_auth_and_actual_value_params(rsps, make_client):
    """get_record sends Basic auth, actual values, bare references and the chosen fields."""
    rsps.get(
        f"{TABLE}/incident/{SYS_ID}",
        json={"result": RECORD},
        match=[
            matchers.header_matcher({"Authorization": BASIC, "Accept": "application/json"}),
            matchers.query_param_matcher(
                {
                    "sysparm_display_value": "False",
                    "sysparm_exclude_reference_link": "True",
                    "sysparm_fields": "sys_id,number,caller_id",
                },
                strict_match=False,
            ),
        ],
    )
    client = make_client()
    record = client.get_record("incident", SYS_ID, fields=["sys_id", "number", "caller_id"])
    assert record == RECORD


def test_get_record_returns_none_on_404(rsps, make_client):
    """A 404 for a sys_id means the record does not exist: None, not an exception."""
    rsps.get(
        f"{TABLE}/incident/{SYS_ID}",
        status=404,
        json={
            "error": {
                "message": "No Record found",
                "detail": "Record doesn't exist or ACL restricts the record retrieval",
            },
            "status": "failure",
        },
    )
    assert make_client().get_record("incident", SYS_ID) is None


def test_plain_http_instance_with_port(rsps, make_client):
    """An http://host:port instance (the emulator) is called over plain HTTP on that port."""
    rsps.get(
        f"http://127.0.0.1:8081/api/now/table/sys_user/{SYS_ID}",
        json={"result": {"sys_id": SYS_ID}},
    )
    client = make_client("http://127.0.0.1:8081")
    assert client.get_record("sys_user", SYS_ID) == {"sys_id": SYS_ID}


def test_query_parameters_do_not_leak_into_a_later_post(rsps, make_client):
    """After a GET with a query, the next POST carries no sysparm_query (fresh resource)."""
    rsps.get(
        f"{TABLE}/incident",
        json={"result": [RECORD]},
        match=[
            matchers.query_param_matcher(
                {"sysparm_query": "active=true^ORDERBYsys_id"}, strict_match=False
            )
        ],
    )
    rsps.post(
        f"{TABLE}/incident",
        status=201,
        json={"result": dict(RECORD, sys_id="b" * 32)},
        match=[
            param_absent_or_empty("sysparm_query"),
            param_absent_or_empty("sysparm_fields"),
            matchers.json_params_matcher({"short_description": "Printer jam"}),
            matchers.header_matcher({"Content-Type": "application/json", "Authorization": BASIC}),
        ],
    )
    client = make_client()
    assert client.query("incident", "active=true", fields=["sys_id"]) == [RECORD]
    created = client.create_record("incident", {"short_description": "Printer jam"})
    assert created["sys_id"] == "b" * 32


def test_update_record_patches_only_the_given_fields(rsps, make_client):
    """update_record sends one PATCH to the record URL with exactly the given fields."""
    updated = dict(RECORD, work_notes="")
    rsps.patch(
        f"{TABLE}/incident/{SYS_ID}",
        json={"result": updated},
        match=[
            matchers.json_params_matcher({"work_notes": "Session 42 imported"}),
            matchers.header_matcher({"Authorization": BASIC}),
        ],
    )
    client = make_client()
    assert (
        client.update_record("incident", SYS_ID, {"work_notes": "Session 42 imported"}) == updated
    )


def _rows(start: int, count: int) -> list[dict[str, str]]:
    return [{"sys_id": f"{i:032x}"} for i in range(start, start + count)]


def test_query_pages_by_offset_until_a_short_page(rsps, make_client):
    """query asks for page after page by sysparm_offset and stops after a short page."""
    for offset, rows in ((0, _rows(0, 2)), (2, _rows(2, 2)), (4, _rows(4, 1))):
        rsps.get(
            f"{TABLE}/task_ci",
            json={"result": rows},
            # A Link header that keeps promising more must not be followed.
            headers={"Link": f'<{TABLE}/task_ci?sysparm_offset=99>;rel="next"'},
            match=[
                matchers.query_param_matcher(
                    {
                        "sysparm_query": "task=abc^ORDERBYsys_id",
                        "sysparm_limit": "2",
                        "sysparm_offset": str(offset),
                    },
                    strict_match=False,
                )
            ],
        )
    rows = make_client().query("task_ci", "task=abc", page_size=2)
    assert rows == _rows(0, 5)
    assert len(rsps.calls) == 3


def test_query_limit_shrinks_the_last_page(rsps, make_client):
    """With limit=3 and page_size=2 the second request asks for only one row."""
    for offset, limit in ((0, 2), (2, 1)):
        rsps.get(
            f"{TABLE}/incident",
            json={"result": _rows(offset, limit)},
            match=[
                matchers.query_param_matcher(
                    {"sysparm_limit": str(limit), "sysparm_offset": str(offset)},
                    strict_match=False,
                )
            ],
        )
    assert make_client().query("incident", "", limit=3, page_size=2) == _rows(0, 3)


def test_query_order_by_descending_field(rsps, make_client):
    """order_by '-field' becomes ORDERBYDESC and replaces the default sys_id order."""
    rsps.get(
        f"{TABLE}/sys_journal_field",
        json={"result": []},
        match=[
            matchers.query_param_matcher(
                {"sysparm_query": "element_id=abc^ORDERBYDESCsys_created_on^ORDERBYsys_id"},
                strict_match=False,
            )
        ],
    )
    client = make_client()
    assert (
        client.query("sys_journal_field", "element_id=abc", order_by=["-sys_created_on", "sys_id"])
        == []
    )


def test_query_treats_404_list_as_empty(rsps, make_client):
    """A v1-style 404 for a list with no match is read as no rows."""
    rsps.get(f"{TABLE}/incident", status=404, json={"error": {"message": "No Record found"}})
    assert make_client().query("incident", "number=INC9") == []


def test_delete_record_reports_whether_it_existed(rsps, make_client):
    """delete_record returns True on 204 and False when the record was already gone."""
    rsps.delete(f"{TABLE}/task_ci/{SYS_ID}", status=204)
    rsps.delete(
        f"{TABLE}/task_ci/{'c' * 32}", status=404, json={"error": {"message": "No Record found"}}
    )
    client = make_client()
    assert client.delete_record("task_ci", SYS_ID) is True
    assert client.delete_record("task_ci", "c" * 32) is False


def test_cookies_are_never_sent_back(rsps, make_client):
    """Session cookies set by the instance are dropped, so requests are not serialised on it."""
    rsps.get(
        f"{TABLE}/incident/{SYS_ID}",
        json={"result": RECORD},
        headers={"Set-Cookie": "JSESSIONID=ABC123; Path=/; HttpOnly"},
    )
    rsps.get(f"{TABLE}/incident/{SYS_ID}", json={"result": RECORD}, match=[no_cookie_header])
    client = make_client()
    client.get_record("incident", SYS_ID)
    client.get_record("incident", SYS_ID)
    assert len(rsps.calls) == 2


def test_invalid_table_name_is_refused_before_sending(rsps, make_client):
    """A table name that could change the URL path raises DataError without a request."""
    with pytest.raises(DataError):
        make_client().get_record("incident/../sys_user", SYS_ID)
    assert len(rsps.calls) == 0


def test_table_url_builds_relative_batch_urls():
    """table_url gives the relative path with bare references, fields and extra params."""
    assert table_url("incident", SYS_ID, fields=["sys_id", "number"]) == (
        f"/api/now/table/incident/{SYS_ID}"
        "?sysparm_exclude_reference_link=true&sysparm_fields=sys_id,number"
    )
    assert table_url("task_ci", sysparm_query="task=abc^ci_item=def") == (
        "/api/now/table/task_ci?sysparm_exclude_reference_link=true"
        "&sysparm_query=task%3Dabc%5Eci_item%3Ddef"
    )


@responses.activate(assert_all_requests_are_fired=True)
def test_ping_asks_for_one_sys_id_only(make_client):
    """ping sends one cheap GET on sys_user limited to one row and the sys_id field."""
    responses.get(
        f"{TABLE}/sys_user",
        json={"result": [{"sys_id": "6816f79cc0a8016401c5a33be04be441"}]},
        match=[
            matchers.query_param_matcher(
                {"sysparm_limit": "1", "sysparm_fields": "sys_id"}, strict_match=False
            )
        ],
    )
    health = make_client().ping()
    assert health["ok"] is True
    assert health["instance"] == "https://acme.service-now.com"
