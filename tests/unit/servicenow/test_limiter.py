"""The adaptive limit on requests in flight: fall on 429 to what the instance serves, grow back."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from connector.servicenow.limiter import AdaptiveLimit


def run(limit: AdaptiveLimit, *, congested: bool = False, ok: bool = True) -> None:
    with limit.slot() as outcome:
        outcome.congested = congested
        outcome.ok = ok and not congested


def test_starts_at_the_ceiling_and_never_passes_it():
    """Successes at the ceiling change nothing."""
    limit = AdaptiveLimit(8)
    for _ in range(50):
        run(limit)
    assert limit.limit == 8


def test_a_429_drops_the_limit_to_what_is_still_in_flight():
    """With five others in flight, a 429 leaves room for five; successes raise it again."""
    limit = AdaptiveLimit(8)
    with contextlib.ExitStack() as others:
        for _ in range(5):
            others.enter_context(limit.slot()).ok = True
        run(limit, congested=True)
        assert limit.limit == 5
    # Each success adds 1/limit: about a window of successes per step up.
    run(limit)
    assert limit.limit == 6  # the five and this one: 5 + 1/5 + 1/5.2 + ...
    for _ in range(6):
        run(limit)
    assert limit.limit == 7


def test_a_burst_of_429s_settles_on_the_requests_the_instance_kept():
    """Sixteen sent, eight refused: the limit ends at the eight the instance is serving."""
    limit = AdaptiveLimit(16)
    with contextlib.ExitStack() as served:
        for _ in range(8):
            served.enter_context(limit.slot()).ok = True
        refused = [limit.slot() for _ in range(8)]
        outcomes = [r.__enter__() for r in refused]
        for r, outcome in zip(refused, outcomes, strict=True):
            outcome.congested = True
            r.__exit__(None, None, None)
        assert limit.limit == 8


def test_never_below_the_floor():
    """A 429 with nothing else in flight still lets one request go."""
    limit = AdaptiveLimit(4)
    for _ in range(10):
        run(limit, congested=True)
    assert limit.limit == 1
    assert AdaptiveLimit(4, floor=2).limit == 4


def test_other_failures_neither_raise_nor_lower():
    """A request that failed otherwise (a 500, a timeout) says nothing about room."""
    limit = AdaptiveLimit(4)
    run(limit, congested=True)
    for _ in range(20):
        run(limit, ok=False)
    assert limit.limit == 1


def test_waiters_go_as_the_limit_allows():
    """With the limit at two, a third request waits until one of two finishes."""
    limit = AdaptiveLimit(2)
    order: list[str] = []
    first = limit.slot()
    first.__enter__()
    second = limit.slot()
    second.__enter__()

    def third() -> None:
        with limit.slot():
            order.append("third")

    t = threading.Thread(target=third)
    t.start()
    time.sleep(0.05)
    assert order == [] and limit.in_flight == 2
    first.__exit__(None, None, None)
    t.join(5)
    assert order == ["third"]
    second.__exit__(None, None, None)
    assert limit.in_flight == 0


@pytest.mark.parametrize(("ceiling", "floor"), [(0, 1), (4, 5), (4, 0)])
def test_bad_arguments(ceiling, floor):
    """Nonsense limits are refused."""
    with pytest.raises(ValueError):
        AdaptiveLimit(ceiling, floor=floor)
