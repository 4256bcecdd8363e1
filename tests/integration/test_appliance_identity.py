"""A session is appliance + lsid in ServiceNow too: the writer against the instance emulator.

The session record is found by its unique u_lsid; one whose u_appliance_id names another
appliance is never taken for this session's, and the instance's unique u_lsid then refuses the
insert: the session fails permanently, naming the other record, and nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.importer.writer import PlanWriter
from connector.mapping import default_mapping_paths
from connector.mapping.engine import MappingSet
from connector.servicenow.client import ServiceNowClient
from connector.sim.runtime import ServerThread
from connector.sim.servicenow import create_app
from tests.unit.mapping.sessions import REP_USER, full_session

TICKET = {
    "sys_id": "a5000000000000000000000000000001",
    "number": "INC0000001",
    "sys_class_name": "incident",
}


@pytest.fixture
def client() -> Iterator[ServiceNowClient]:
    with ServerThread(create_app({})) as srv:
        yield ServiceNowClient(srv.url, username="admin", password="admin")


def plan(appliance_id: str):
    mappings = MappingSet.load(default_mapping_paths())
    return mappings.plan_session(
        full_session(), ticket=TICKET, rep_user=REP_USER, appliance_id=appliance_id
    )


def records(client: ServiceNowClient, lsid: str) -> list[dict[str, str]]:
    return client.query("u_bomgar_session", f"u_lsid={lsid}", fields=["sys_id", "u_appliance_id"])


def test_another_appliances_record_with_the_same_lsid_is_never_overwritten(client):
    """The second appliance's session fails for good; the first appliance's record is intact."""
    writer = PlanWriter(client)
    first = plan("emea")
    assert writer.write([first], {})[first.lsid].error is None
    second = plan("amer")
    outcome = writer.write([second], {})[second.lsid]
    assert outcome.error is not None and outcome.error.permanent
    assert "another appliance's session record (u_appliance_id='emea')" in str(outcome.error)
    assert [r["u_appliance_id"] for r in records(client, first.lsid)] == ["emea"]


def test_a_record_written_before_appliance_ids_is_found_again(client):
    """A record with an empty u_appliance_id is this session's: updated, named, not doubled."""
    writer = PlanWriter(client)
    old = plan("")
    assert writer.write([old], {})[old.lsid].error is None
    again = plan("emea")
    outcome = writer.write([again], {})[again.lsid]
    assert outcome.error is None
    assert [r["u_appliance_id"] for r in records(client, again.lsid)] == ["emea"]
    # And its own appliance finds it again on a replay: one record, still.
    assert writer.write([plan("emea")], {})[again.lsid].error is None
    assert len(records(client, again.lsid)) == 1
