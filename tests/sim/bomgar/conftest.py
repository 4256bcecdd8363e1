"""Fixtures: the appliance emulator and a controllable event receiver, both on real sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask, request
from lxml import etree

from connector.sim.bomgar import create_app
from connector.sim.bomgar.state import SimState
from connector.sim.runtime import ServerThread

CLIENT = ("connector-client", "connector-secret")
READONLY = ("readonly-client", "readonly-secret")
DENIED = ("denied-client", "denied-secret")


@dataclass
class Sim:
    """A running emulator with helpers for tokens and XML calls."""

    url: str
    state: SimState
    http: requests.Session = field(default_factory=requests.Session)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def token(self, creds: tuple[str, str] = CLIENT) -> str:
        """Return a cached bearer token for the account."""
        if creds not in self._tokens:
            r = self.http.post(
                f"{self.url}/oauth2/token", auth=creds, data={"grant_type": "client_credentials"}
            )
            assert r.status_code == 200, r.text
            self._tokens[creds] = r.json()["access_token"]
        return self._tokens[creds]

    def get(self, path: str, creds: tuple[str, str] = CLIENT, **params: Any) -> requests.Response:
        """GET an appliance path with a bearer token."""
        headers = {"Authorization": f"Bearer {self.token(creds)}"}
        return self.http.get(f"{self.url}{path}", params=params, headers=headers)

    def xml(self, path: str, creds: tuple[str, str] = CLIENT, **params: Any) -> etree._Element:
        """GET an XML API and parse the reply."""
        r = self.get(path, creds, **params)
        assert r.status_code == 200, r.text
        return etree.fromstring(r.content)

    def command(
        self, action: str, creds: tuple[str, str] = CLIENT, **params: Any
    ) -> etree._Element:
        """Call the Command API."""
        return self.xml("/api/command", creds, action=action, **params)

    def report(self, report: str, **params: Any) -> etree._Element:
        """Call the Reporting API."""
        return self.xml("/api/reporting", generate_report=report, **params)

    def sim(self, method: str, path: str, json: Any = None) -> Any:
        """Call the /_sim/ control API and return its JSON."""
        r = self.http.request(method, f"{self.url}/_sim{path}", json=json)
        assert r.status_code < 300, r.text
        return r.json()


def local(el: etree._Element) -> str:
    """Return an element's local name."""
    return etree.QName(el).localname


def find(el: etree._Element, path: str) -> list[etree._Element]:
    """Select by local names, ignoring namespaces (slash-separated path, // prefix allowed)."""
    steps = path.lstrip("/").split("/")
    prefix = ".//" if path.startswith("//") else "./"
    xp = prefix + "/".join(f"*[local-name()='{s}']" for s in steps)
    return el.xpath(xp)


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Sim]]:
    """Start emulators with given options; stop them and their delivery threads afterwards."""
    started: list[tuple[ServerThread, Flask]] = []

    def factory(**options: Any) -> Sim:
        app = create_app(options)
        server = ServerThread(app).start()
        started.append((server, app))
        return Sim(server.url, app.extensions["bomgar_sim"])

    yield factory
    for server, app in started:
        app.extensions["bomgar_sim"].close()
        server.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Sim]) -> Sim:
    """Return an emulator with default options."""
    return make_sim()


@dataclass
class Receiver:
    """A tiny outbound-event recipient that records posts and can be told to fail."""

    url: str
    received: list[dict[str, str]] = field(default_factory=list)
    attempts: list[tuple[float, str, int]] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        """Wait until at least count events were accepted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} events, got {len(self.received)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Run a recipient on a real socket."""
    app = Flask("receiver")
    holder: dict[str, Receiver] = {}

    @app.post("/events")
    def events() -> tuple[str, int]:
        rec = holder["r"]
        form = request.form.to_dict()
        form["_token"] = request.args.get("outbound_event_token", "")
        form["_content_type"] = request.mimetype
        with rec.lock:
            status = rec.status
            rec.attempts.append((time.monotonic(), form.get("event", ""), status))
            if status == 200:
                rec.received.append(form)
        return "ok", status

    server = ServerThread(app).start()
    holder["r"] = Receiver(f"{server.url}/events?outbound_event_token=s3cret")
    yield holder["r"]
    server.stop()
