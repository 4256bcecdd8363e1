"""A SCIM 2.0 server standing in for SAP Cloud Identity Services (users and groups).

Not hand-written: the protocol, filters, PATCH, ETags and uniqueness (``userName`` is unique,
as in SAP's Identity Directory) come from the ``scim2-server`` library with its in-memory
storage and default User/Group schemas; this module only assembles it behind a bearer token,
serves it on a loopback port under ``/v2`` (SAP serves ``/scim``; the base URL is configured),
seeds groups, and can inject faults for the chaos runs.
"""

from __future__ import annotations

import random
import secrets
import threading
from collections.abc import Iterable
from typing import Any

import requests

DEFAULT_TOKEN = "scim-demo-token"  # loopback demos and tests only


class FaultyApp:
    """WSGI middleware: answer some requests 503 before, or after, the library ran them."""

    def __init__(self, app: Any, *, rate: float = 0.0, seed: int | None = None) -> None:
        self.app = app
        self.rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.faults = {"before": 0, "after": 0}
        self._script: list[list[Any]] = []

    def script(self, method: str, path_pattern: str, phase: str, times: int = 1) -> None:
        """Fail the next ``times`` requests whose method and path match, before or after."""
        import re

        with self._lock:
            self._script.append([method.upper(), re.compile(path_pattern), phase, times])

    def _scripted(self, environ: dict[str, Any]) -> str | None:
        with self._lock:
            for rule in self._script:
                method, pattern, phase, _ = rule
                if environ.get("REQUEST_METHOD") == method and pattern.search(
                    environ.get("PATH_INFO", "")
                ):
                    rule[3] -= 1
                    if rule[3] <= 0:
                        self._script.remove(rule)
                    return phase
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        scripted = self._scripted(environ)
        with self._lock:
            roll = self._random.random()
        if scripted == "before" or (scripted is None and roll < self.rate / 2):
            self.faults["before"] += 1
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"unavailable"]
        if scripted == "after" or (scripted is None and roll < self.rate):
            # The write happened; the answer is lost: the client must re-read before re-writing.
            body = b"".join(self.app(environ, lambda *a, **k: None))
            del body
            self.faults["after"] += 1
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"unavailable after the change"]
        return self.app(environ, start_response)


def create_scim_app(token: str = DEFAULT_TOKEN) -> Any:
    """Build the SCIM WSGI app: default schemas, in-memory storage, one bearer token."""
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.utils import load_default_provider

    provider = load_default_provider()
    if provider.config is not None:
        provider.config.authentication_schemes = [
            *(provider.config.authentication_schemes or []),
            BEARER_TOKEN_SCHEME,
        ]
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(
        InMemoryStorage(), provider, service=service, bearer_tokens=[token]
    )


def seed_groups(base_url: str, token: str, names: Iterable[str]) -> dict[str, str]:
    """Create groups by display name (skipping existing ones); return name → id."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    out: dict[str, str] = {}
    for name in names:
        found = requests.get(
            f"{base_url}/Groups",
            params={"filter": f'displayName eq "{name}"'},
            headers=headers,
            timeout=10,
        ).json()
        if found.get("Resources"):
            out[name] = found["Resources"][0]["id"]
            continue
        reply = requests.post(
            f"{base_url}/Groups",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name},
            headers=headers,
            timeout=10,
        )
        reply.raise_for_status()
        out[name] = reply.json()["id"]
    return out


def list_resources(base_url: str, token: str, kind: str) -> list[dict[str, Any]]:
    """Return every User or Group (for tests and the chaos check)."""
    headers = {"Authorization": f"Bearer {token}"}
    out: list[dict[str, Any]] = []
    start = 1
    while True:
        page = requests.get(
            f"{base_url}/{kind}",
            params={"startIndex": start, "count": 500},
            headers=headers,
            timeout=30,
        ).json()
        resources = page.get("Resources", [])
        out.extend(resources)
        if not resources or len(out) >= int(page.get("totalResults", 0)):
            return out
        start += len(resources)
