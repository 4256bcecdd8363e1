"""The 3PA stack for end-to-end tests: real slapd, the SCIM server, both emulators, connector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from connector.demo.tpa import TpaStack, running_tpa_stack
from connector.servicenow import query as q

FAST = {
    "worker.poll_seconds": 0.05,
    "worker.retry_base_seconds": 0.1,
    "worker.retry_max_seconds": 0.5,
    "servicenow.write_settle_seconds": 0.3,
    "tpa.api.wait_seconds": 15.0,
    "tpa.poller.interval_seconds": 3600.0,  # tests call the poller themselves
}


@pytest.fixture(scope="module")
def tpa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TpaStack]:
    """One running stack per module; tests use their own addresses so they do not meet."""
    with running_tpa_stack(str(tmp_path_factory.mktemp("tpa")), **FAST) as stack:
        yield stack


@pytest.fixture
def tpa(tpa_stack: TpaStack) -> Any:
    """Return TpaServices over the stack's connector, to look into the directory and SAP."""
    from connector.tpa.runtime import TpaServices

    return TpaServices(tpa_stack.services)


def notes(stack: TpaStack, table: str, sys_id: str, text: str) -> list[dict[str, Any]]:
    """Return the journal entries of a record containing ``text``."""
    return stack.sn.query(
        "sys_journal_field",
        q.all_of(q.equals("element_id", sys_id, q.sys_id), q.like("value", text)),
    )


def settle(stack: TpaStack, key: str, timeout: float = 20) -> str:
    """Wait until a 3PA job is done or dead; return its state."""
    deadline = time.monotonic() + timeout
    state = stack.services.store.job_state(key)
    while state not in ("done", "dead") and time.monotonic() < deadline:
        time.sleep(0.05)
        state = stack.services.store.job_state(key)
    return state or ""
