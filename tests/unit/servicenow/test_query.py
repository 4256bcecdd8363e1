"""Encoded queries built from checked values: no value can add a condition or a list entry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.servicenow import query as q
from connector.servicenow.query import QueryValueError

INC1 = "a5000000000000000000000000000001"


def test_conditions_join_as_servicenow_expects():
    """equals, one_of, like, is_not_empty, all_of, any_of and order_by build the usual syntax."""
    query = q.all_of(
        q.any_of(q.one_of("sys_id", [INC1], q.sys_id), q.one_of("number", ["INC0000001"])),
        q.equals("active", "true"),
        q.like("value", "Bomgar session"),
        q.is_not_empty("u_rep_name"),
        q.order_by("-u_end_time", "sys_id"),
    )
    assert query == (
        f"sys_idIN{INC1}^ORnumberININC0000001^active=true^valueLIKEBomgar session"
        "^u_rep_nameISNOTEMPTY^ORDERBYDESCu_end_time^ORDERBYsys_id"
    )


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (q.user_name, "nobody^ORuser_name=jane.rep"),
        (q.user_name, "jane.rep\n"),
        (q.user_name, "a,b"),
        (q.user_name, ""),
        (q.sys_id, INC1.upper()),
        (q.sys_id, INC1 + "\n"),
        (q.sys_id, INC1[:-1] + "^"),
        (q.task_number, "INC0000001^NQactive=true"),
        (q.task_number, "inc0000001"),
        (q.email, "jane^ORx@example.com"),
        (q.email, "jane.example.com"),
        (q.lsid, "abc^x"),
        (q.name, "user_name^ORactive"),
        (q.name, "sys_user=1"),
        (q.text, "a^b"),
        (q.text, "line\nbreak"),
        (q.text, 42),
    ],
)
def test_values_that_could_inject_are_refused(check, value):
    """Carets, line breaks, commas and wrong shapes raise QueryValueError, never pass."""
    with pytest.raises(QueryValueError):
        check(value)


def test_list_entries_may_not_carry_commas():
    """A comma inside an IN entry would add an entry; it is refused."""
    with pytest.raises(QueryValueError, match="comma"):
        q.one_of("user_name", ["jane.rep", "x,admin"])
    with pytest.raises(QueryValueError):
        q.one_of("user_name", [])


def test_strict_checks_accept_what_real_data_looks_like():
    """Real sys_ids, numbers, user names, e-mail addresses and lsids pass unchanged."""
    assert q.sys_id(INC1) == INC1
    assert q.task_number("RITM0010001") == "RITM0010001"
    assert q.user_name("jane.rep") == "jane.rep"
    assert q.user_name("jane.rep@example.com") == "jane.rep@example.com"
    assert q.email("Jane.Rep+bomgar@example.com") == "Jane.Rep+bomgar@example.com"
    assert q.lsid("3f2a7c0e-9b1d_4e6f") == "3f2a7c0e-9b1d_4e6f"
    assert q.name("caller_id.email") == "caller_id.email"


@given(st.text(max_size=60), st.text(max_size=60))
def test_no_checked_value_adds_a_condition(field_value, other):
    """Whatever text goes in, a built query has exactly the conditions its author wrote."""
    try:
        query = q.all_of(q.equals("short_description", field_value), q.like("value", other))
    except QueryValueError:
        return
    # Two conditions, one separator: a value never contributes a ^ of its own.
    assert query.count("^") == 1
    assert "\n" not in query and "\r" not in query
