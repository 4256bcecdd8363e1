"""A real slapd (Debian's package) for the 3PA directory tests, one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.sim import slapd as sim_slapd
from connector.tpa.directory import Directory


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sim_slapd.Slapd]:
    """Start slapd on a free loopback port with the groups the tests use."""
    server = sim_slapd.Slapd(tmp_path_factory.mktemp("slapd")).start()
    server.add_groups(["staff", "partners", "we*rd (group)"])
    yield server
    server.close()


@pytest.fixture
def directory(slapd: sim_slapd.Slapd) -> Iterator[Directory]:
    """Return a client bound as the rootdn."""
    client = Directory(
        slapd.url,
        sim_slapd.ADMIN_DN,
        sim_slapd.ADMIN_PASSWORD,
        users_base=sim_slapd.USERS_BASE,
        groups_base=sim_slapd.GROUPS_BASE,
        timeout=5,
    )
    yield client
    client.close()
