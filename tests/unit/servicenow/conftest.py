"""Fixtures for unit tests of the ServiceNow client (HTTP mocked with ``responses``)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from connector.http import RetryPolicy
from connector.servicenow import ServiceNowClient

BASE = "https://acme.service-now.com"
TABLE = f"{BASE}/api/now/table"
BASIC = "Basic " + base64.b64encode(b"svc.bridge:s3cret").decode()
SYS_ID = "a5000000000000000000000000000001"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Mock HTTP; every registered answer must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    """Record the waits the retry policy asks for instead of sleeping."""
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Callable[..., ServiceNowClient]:
    """Build clients that use Basic auth and record their retry waits."""

    def make(instance_url: str = BASE, **kwargs: Any) -> ServiceNowClient:
        if "oauth" not in kwargs:
            kwargs.setdefault("username", "svc.bridge")
            kwargs.setdefault("password", "s3cret")
        kwargs.setdefault("retry", RetryPolicy(attempts=4, base=0.01, sleep=sleeps.append))
        return ServiceNowClient(instance_url, **kwargs)

    return make


def param_absent_or_empty(name: str) -> Callable[[Any], tuple[bool, str]]:
    """Match a request whose query string has no value for ``name``."""

    def match(request: Any) -> tuple[bool, str]:
        value = request.params.get(name, "")
        return value == "", f"{name}={value!r} was sent"

    return match


def raw_body(expected: bytes) -> Callable[[Any], tuple[bool, str]]:
    """Match a request whose body is exactly ``expected``."""

    def match(request: Any) -> tuple[bool, str]:
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        return body == expected, f"body differs ({len(body or b'')} bytes)"

    return match


def no_cookie_header(request: Any) -> tuple[bool, str]:
    """Match a request that carries no Cookie header."""
    cookie = request.headers.get("Cookie")
    return cookie is None, f"Cookie: {cookie} was sent"
