"""Fixtures every test directory shares: a throwaway PostgreSQL server and stores on both backends.

The server starts once per test session, only when a test asks for it, from the installed
PostgreSQL (scripts/pgcluster.py). When PostgreSQL is not installed the tests that need it fail
with the README step that installs it: nothing is skipped.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import pgcluster  # noqa: E402

from connector.store import Store  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[pgcluster.Cluster]:
    """Start one throwaway PostgreSQL server for the session; stop and remove it at the end."""
    try:
        cluster = pgcluster.Cluster().start()
    except pgcluster.PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.remove()


def fresh_location(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """Return a new, empty store location on the given backend."""
    if backend == "sqlite":
        return str(tmp_path / f"store-{next(_names)}.db")
    cluster = request.getfixturevalue("postgres")
    return cluster.create_database(f"test_{next(_names)}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test once per store backend."""
    return request.param


@pytest.fixture
def location(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """An empty store location on the test's backend."""
    return fresh_location(request, backend, tmp_path)


@pytest.fixture
def open_store(location: str) -> Iterator[Callable[..., Store]]:
    """Open stores (on the test's location by default); close them all when the test ends."""
    opened: list[Store] = []

    def make(where: Any = None, **options: Any) -> Store:
        store = Store(location if where is None else where, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
