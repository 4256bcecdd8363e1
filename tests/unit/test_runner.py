"""The worker's import threads run a backlog to its end, groups side by side."""

from __future__ import annotations

import threading
import time

from connector.importer.runner import import_backlog


class FakeStore:
    def release_dead_owners(self, settle, node=None) -> int:
        return 0


class FakeLeases:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Backlog:
    """An importer stand-in: ``groups`` passes of one group each, each taking a while."""

    def __init__(self, groups: int, seconds: float = 0.05) -> None:
        self.store = FakeStore()
        self.leases = FakeLeases()
        self.settle = None
        self.node = "test-node"
        self.left = groups
        self.seconds = seconds
        self.lock = threading.Lock()
        self.active = 0
        self.most_at_once = 0
        self.passes = 0

    def run_once(self) -> int:
        with self.lock:
            if not self.left:
                return 0
            self.left -= 1
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        time.sleep(self.seconds)
        with self.lock:
            self.active -= 1
            self.passes += 1
        return 1


def test_backlog_runs_groups_side_by_side_to_the_end():
    """Every group is imported, several at once, and the call returns when none is left."""
    backlog = Backlog(groups=40)
    reports: list[int] = []
    import_backlog(
        backlog,
        threads=8,
        progress=lambda: reports.append(backlog.passes),
        progress_seconds=0.05,
    )
    assert backlog.passes == 40 and backlog.left == 0
    assert backlog.most_at_once == 8
    assert reports, "no progress was reported on a backlog that took several intervals"
    assert backlog.leases.closed


def test_stop_leaves_the_rest_queued():
    """Once stop is set, threads finish the group in hand and take no more."""
    backlog = Backlog(groups=1000, seconds=0.02)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    import_backlog(backlog, threads=4, stop=stop, progress_seconds=0.05)
    assert time.monotonic() - started < 5
    assert 0 < backlog.passes < 1000 and backlog.active == 0
