"""The importer's own bookkeeping: passes that break, lsids that cannot be queued."""

from __future__ import annotations

import time

from connector import config as config_module
from connector.bomgar.models import SessionSummary
from connector.importer.poller import find_missed
from connector.importer.worker import Importer
from connector.mapping import default_mapping_paths
from connector.mapping.engine import MappingSet
from connector.store import Store

GOOD = "0123456789abcdef0123456789abcdef"


def _config(tmp_path, **overrides):
    values = {
        "servicenow.instance_url": "https://sn.invalid",
        "servicenow.username": "u",
        "servicenow.password": "p",
        "bomgar.appliance_url": "https://bomgar.invalid",
        "bomgar.client_id": "c",
        "bomgar.client_secret": "s",
        "webhook.token": "t",
        "store.path": str(tmp_path / "s.db"),
        **overrides,
    }
    return config_module.validate({}, overrides=values)


class BrokenAppliance:
    """An appliance client whose report request fails in a way nobody planned for."""

    def support_sessions(self, lsids):
        raise RuntimeError("the unexpected")


class Listing:
    """An appliance client whose listing garbles one session id."""

    def session_listing(self, since, until, by="start"):
        return [SessionSummary(lsid=GOOD), SessionSummary(lsid="bad lsid,^OR")]


def test_a_pass_that_breaks_counts_an_attempt_for_every_session_it_held(tmp_path):
    """An unexpected error settles the group for a retry, attempt counted; at the limit, dead."""
    cfg = _config(
        tmp_path,
        **{
            "worker.max_attempts": 2,
            "worker.retry_base_seconds": 0.01,
            "worker.retry_max_seconds": 0.01,
        },
    )
    store = Store(cfg.store.path)
    store.queue_sessions([GOOD, "f" * 32], "test")
    importer = Importer(
        config=cfg,
        store=store,
        bomgar=BrokenAppliance(),
        servicenow=None,
        mappings=MappingSet.load(default_mapping_paths()),
        key_secret=b"unit-test-secret",
    )
    assert importer.run_once() == 2
    rows = store.jobs()
    assert {r.state for r in rows} == {"pending"}
    assert all(r.attempts == 1 and "the unexpected" in (r.last_error or "") for r in rows)
    time.sleep(0.05)
    assert importer.run_once() == 2
    assert store.counts()["dead"] == 2
    assert all("RuntimeError: the unexpected" in (r.last_error or "") for r in store.jobs())


def test_the_poller_does_not_queue_a_garbled_session_id(tmp_path):
    """A listing entry that cannot be a session id is refused, the others are queued."""
    store = Store(tmp_path / "s.db")
    result = find_missed(store, Listing(), 0, 3600)
    assert (result.listed, result.queued, result.refused) == (2, 1, 1)
    assert [r.lsid for r in store.jobs()] == [GOOD]
