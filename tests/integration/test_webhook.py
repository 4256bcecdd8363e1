"""The outbound-event webhook over a real socket: who may post, what is stored, what is refused."""

from __future__ import annotations

import pytest
import requests

from connector.app import create_app
from connector.config import validate
from connector.sim.runtime import ServerThread
from connector.store import Store

TOKEN = "s3cret-token"


def make_config(tmp_path, **overrides):
    values = {
        "servicenow.instance_url": "http://127.0.0.1:9",
        "servicenow.username": "admin",
        "servicenow.password": "admin",
        "bomgar.appliance_url": "http://127.0.0.1:9",
        "bomgar.client_id": "c",
        "bomgar.client_secret": "s",
        "webhook.token": TOKEN,
        "store.path": str(tmp_path / "connector.db"),
        "logging.level": "ERROR",
    }
    values.update(overrides)
    return validate({}, overrides=values)


@pytest.fixture
def server(tmp_path):
    app = create_app(make_config(tmp_path))
    with ServerThread(app) as srv:
        srv.store = app.extensions["connector"].store
        yield srv


def event(**changes):
    data = {
        "event": "support_conference_end",
        "version": "3",
        "timestamp": "1718011865",
        "appliance_id": "appl-1",
        "lsid": "3f2a7c0e9b1d4e6fa8c25d0b71e94c33",
        "external_key": "INC0010001",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def post(server, data, token=TOKEN, **kwargs):
    params = {"outbound_event_token": token} if token is not None else {}
    return requests.post(
        f"{server.url}/bomgar/events", params=params, data=data, timeout=10, **kwargs
    )


def stored(store: Store) -> int:
    return sum(store.event_counts().values())


def test_valid_event_is_stored_and_queued(server):
    """A good event gets 200 and queues its session for import."""
    reply = post(server, event())
    assert reply.status_code == 200
    assert server.store.job_state("3f2a7c0e9b1d4e6fa8c25d0b71e94c33") == "pending"
    assert server.store.event_counts() == {"queued": 1}


def test_token_may_come_in_the_form(server):
    """The appliance may carry outbound_event_token in the body instead of the URL."""
    reply = post(server, event(outbound_event_token=TOKEN), token=None)
    assert reply.status_code == 200


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x"])
def test_missing_or_wrong_token_is_401_and_nothing_stored(server, token):
    """A missing or wrong token is refused with 401 and leaves no trace in the store."""
    reply = post(server, event(), token=token)
    assert reply.status_code == 401
    assert stored(server.store) == 0
    assert server.store.counts()["pending"] == 0


def test_sender_outside_allowed_networks_is_403(tmp_path):
    """A source address outside webhook.allowed_networks is refused with 403."""
    app = create_app(make_config(tmp_path, **{"webhook.allowed_networks": ["10.0.0.0/8"]}))
    with ServerThread(app) as srv:
        reply = post(srv, event())
        assert reply.status_code == 403
        assert stored(app.extensions["connector"].store) == 0


def test_forwarded_for_counts_only_behind_a_trusted_proxy(tmp_path):
    """X-Forwarded-For names the sender only when the direct peer is a trusted proxy."""
    cfg = make_config(
        tmp_path,
        **{
            "webhook.allowed_networks": ["192.0.2.0/24"],
            "webhook.trusted_proxies": ["127.0.0.1/32"],
        },
    )
    app = create_app(cfg)
    with ServerThread(app) as srv:
        ok = post(srv, event(), headers={"X-Forwarded-For": "198.51.100.7, 192.0.2.10"})
        refused = post(srv, event(lsid="b" * 32), headers={"X-Forwarded-For": "198.51.100.7"})
    assert ok.status_code == 200
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event": None}, "event"),
        ({"timestamp": None}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "-5"}, "timestamp"),
        ({"lsid": None}, "lsid"),
        ({"lsid": "x" * 200}, "lsid"),
        ({"version": None}, "version"),
        ({"event": "Support Conference End!"}, "event"),
    ],
)
def test_bad_fields_get_a_clear_400_and_keep_what_was_stored(server, changes, field):
    """Missing fields, wrong types and overlong values are refused, naming the field."""
    assert post(server, event(lsid="a" * 32)).status_code == 200
    reply = post(server, event(**changes))
    assert reply.status_code == 400
    assert field in reply.text
    assert stored(server.store) == 1
    assert server.store.job_state("a" * 32) == "pending"


def test_oversized_body_is_413(server):
    """A body beyond webhook.max_body_bytes is refused before it is parsed."""
    reply = post(server, event(external_key="k" * 70000))
    assert reply.status_code == 413
    assert stored(server.store) == 0


def test_duplicates_are_absorbed(server):
    """The same event delivered again (a lost 200) is accepted but stored once."""
    for _ in range(3):
        assert post(server, event()).status_code == 200
    assert stored(server.store) == 1
    assert server.store.counts()["pending"] == 1


def test_unknown_event_is_accepted_and_ignored(server):
    """An authentic event of a kind we do not use gets 200 (so the queue moves) and no job."""
    reply = post(server, event(event="support_conference_something_new"))
    assert reply.status_code == 200
    assert server.store.event_counts() == {"ignored": 1}
    assert server.store.counts()["pending"] == 0


def test_wrong_appliance_id_is_refused_when_configured(tmp_path):
    """With bomgar.appliance_id set, events from another appliance get 403."""
    app = create_app(make_config(tmp_path, **{"bomgar.appliance_id": "appl-1"}))
    with ServerThread(app) as srv:
        assert post(srv, event(appliance_id="other")).status_code == 403
        assert post(srv, event()).status_code == 200
