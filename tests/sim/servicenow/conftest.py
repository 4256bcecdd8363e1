"""Fixtures: ServiceNow emulators on real loopback sockets (HTTP and HTTPS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from connector.sim.runtime import ServerThread, make_tls_files, server_ssl_context
from connector.sim.servicenow import create_app
from connector.sim.servicenow.state import SimState

AUTH = ("admin", "admin")
ADMIN_ID = "6816f79cc0a8016401c5a33be04be441"
ABEL = "a2000000000000000000000000000001"
BETH = "a2000000000000000000000000000002"
CARL = "a2000000000000000000000000000003"
WS42 = "a4000000000000000000000000000001"
INC1 = "a5000000000000000000000000000001"
INC2 = "a5000000000000000000000000000002"
INC3 = "a5000000000000000000000000000003"
NOT_FOUND = {
    "error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval",
    },
    "status": "failure",
}


@dataclass
class Sim:
    """A running emulator with a requests session already authenticated."""

    url: str
    app: Flask
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def state(self) -> SimState:
        """Return the emulator's state."""
        return self.app.extensions["servicenow_sim"]

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request with admin Basic auth (unless auth is given)."""
        kwargs.setdefault("auth", AUTH)
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, f"{self.url}{path}", **kwargs)

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET with query parameters."""
        return self.call("GET", path, params=params)

    def stats(self) -> dict[str, int]:
        """Return the request counts from the control API."""
        return requests.get(f"{self.url}/_sim/stats", timeout=10).json()["requests"]

    def snapshot(self) -> dict[str, dict[str, str]]:
        """Copy every stored record (to prove nothing was harmed)."""
        with self.state.store.lock:
            return {k: dict(v) for k, v in self.state.store.records.items()}


@pytest.fixture(scope="session")
def _http_server() -> Iterator[tuple[ServerThread, Flask]]:
    app = create_app()
    server = ServerThread(app).start()
    yield server, app
    server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Create the private CA and server certificate once."""
    return make_tls_files(tmp_path_factory.mktemp("sn-tls"))


@pytest.fixture(scope="session")
def _https_server(tls_files: dict[str, str]) -> Iterator[tuple[ServerThread, Flask]]:
    app = create_app()
    server = ServerThread(app, ssl_context=server_ssl_context(tls_files)).start()
    yield server, app
    server.stop()


@pytest.fixture
def sim(_http_server: tuple[ServerThread, Flask]) -> Iterator[Sim]:
    """Return the shared HTTP emulator, freshly reset."""
    server, app = _http_server
    app.extensions["servicenow_sim"].reset()
    s = Sim(server.url, app)
    yield s
    s.http.close()


@pytest.fixture
def tls_sim(_https_server: tuple[ServerThread, Flask], tls_files: dict[str, str]) -> Iterator[Sim]:
    """Return the shared HTTPS emulator, freshly reset, with a session trusting its CA."""
    server, app = _https_server
    app.extensions["servicenow_sim"].reset()
    s = Sim(server.url, app)
    s.http.verify = tls_files["ca"]
    yield s
    s.http.close()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Sim]]:
    """Start extra emulators with their own options; stop them afterwards."""
    servers: list[ServerThread] = []

    def start(options: dict[str, Any] | None = None) -> Sim:
        app = create_app(options)
        server = ServerThread(app).start()
        servers.append(server)
        return Sim(server.url, app)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset CA bundle variables, which would override a client's own verify setting."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def write_file(tmp_path: Path, name: str, text: str) -> str:
    """Write a helper file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)
