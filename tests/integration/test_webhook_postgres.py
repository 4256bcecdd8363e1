"""The webhook on a PostgreSQL store that goes away and comes back."""

from __future__ import annotations

import pgcluster
import pytest
import requests

from connector.app import create_app
from connector.demo import wait_for
from connector.sim.runtime import ServerThread
from tests.integration.test_webhook import event, make_config, post

pytestmark = pytest.mark.slow  # starts, stops and restarts a PostgreSQL server of its own


def test_events_get_503_while_postgresql_is_down_and_200_once_it_is_back(tmp_path, postgres):
    """No event is acknowledged unless committed; the pool reconnects after a restart."""
    cluster = pgcluster.Cluster().start()  # a server of its own, to stop (postgres: the check)
    try:
        url = cluster.create_database("webhook")
        app = create_app(make_config(tmp_path, **{"store.url": url}))
        store = app.extensions["connector"].store
        with ServerThread(app) as server:
            assert post(server, event(lsid="a" * 32)).status_code == 200
            cluster.stop()
            reply = post(server, event(lsid="b" * 32))
            assert reply.status_code == 503
            assert "store unavailable" in reply.text
            cluster.start()
            # The pool reconnects within seconds (as the appliance, try again until 200).
            assert wait_for(lambda: post(server, event(lsid="c" * 32)).status_code == 200, 20)
            assert post(server, event(lsid="b" * 32)).status_code == 200  # the redelivery
            assert {r.lsid for r in store.jobs()} == {"a" * 32, "b" * 32, "c" * 32}
            health = requests.get(f"{server.url}/health", timeout=30).json()
            assert health["checks"]["store:responseTime"][0]["status"] == "pass"
        store.close()
    finally:
        cluster.remove()
