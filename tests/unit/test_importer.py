"""The importer's own bookkeeping: passes that break, lsids that cannot be queued."""

from __future__ import annotations

import time

import pytest

from connector import config as config_module
from connector.bomgar.models import SessionSummary
from connector.importer.poller import MAX_WINDOW_SECONDS, NARROW_ABOVE, find_missed
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


class DenseListing:
    """An appliance with one session every ``step`` seconds; records the windows asked for."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.windows: list[tuple[int, int]] = []

    def session_listing(self, since, until, by="start"):
        assert by == "end"
        self.windows.append((since, until))
        first = -(-since // self.step) * self.step
        return [SessionSummary(lsid=f"s{t:031d}") for t in range(first, until, self.step)]


@pytest.mark.parametrize(("step", "days"), [(3600, 40), (8, 2)])
def test_listing_windows_cover_the_range_and_follow_what_they_hold(tmp_path, step, days):
    """Windows tile the range with no gap or overlap; sparse ones widen, crowded ones narrow."""
    store = Store(tmp_path / "s.db")
    appliance = DenseListing(step)
    result = find_missed(store, appliance, 0, days * 86400)
    windows = appliance.windows
    assert windows[0][0] == 0 and windows[-1][1] == days * 86400
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert result.listed == result.queued == days * 86400 // step
    sizes = [end - start for start, end in windows[:-1]]
    if step == 3600:  # 24 a day: the window widens to its widest
        assert max(sizes) == MAX_WINDOW_SECONDS and len(windows) < days
    else:  # 10,800 a day: after the first, no window holds more than NARROW_ABOVE
        assert min(sizes) < 86400
        assert all((end - start) // step <= NARROW_ABOVE for start, end in windows[1:]), sizes
