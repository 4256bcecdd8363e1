"""Batch items run through the whole app from an environ built directly, as a test client built it.

Items used to run through ``app.test_client().open(...)``; the emulator now builds the same WSGI
environ itself. These tests pin that the environ is the one werkzeug's test client would have
built (so routing, hooks and views see the same request) and that items still go through the
WSGI middleware (method override) and the instance's paths as a client would expect.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask.testing import EnvironBuilder

from connector.sim.servicenow import create_app
from connector.sim.servicenow.batch_api import base_environ, item_environ
from tests.sim.servicenow.conftest import INC1, Sim

HOST = "http://127.0.0.1:8123/"
OVERRIDES = {"sn.batch": True, "sn.actor": object()}


def client_environ(method: str, url: str, headers: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Build the environ the test client built for an item (from its public parts)."""
    app = create_app()
    builder = EnvironBuilder(
        app,
        url,
        method=method,
        headers=headers,
        data=data,
        base_url=HOST,
        environ_base=app.test_client().environ_base,
        environ_overrides=OVERRIDES,
    )
    environ = builder.get_environ()
    environ.pop("HTTP_COOKIE", None)  # the client's cookie jar was empty: it dropped the header
    return environ


def comparable(environ: dict[str, Any]) -> dict[str, Any]:
    """Replace the input stream by what it holds, so two environs compare by value."""
    out = dict(environ)
    out["wsgi.input"] = environ["wsgi.input"].read()
    return out


@pytest.mark.parametrize(
    ("method", "url", "headers", "data"),
    [
        ("GET", "/api/now/table/incident?sysparm_query=active%3Dtrue&sysparm_limit=5", {}, b""),
        ("GET", "/api/now/table/incident", {"Accept": "application/json"}, b""),
        ("GET", "/api/now/table/incident?", {}, b""),
        (
            "POST",
            "/api/now/table/incident",
            {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
            b'{"short_description": "x"}',
        ),
        ("PATCH", f"http://other.example:9/api/now/table/incident/{INC1}?a=1", {}, b"{}"),
        ("GET", "/api/now/table/incident?sysparm_query=short_description=caf\u00e9", {}, b""),
        ("GET", "/api/now/table/caf%C3%A9/%20x", {}, b""),
        ("GET", "/api/now/table/caf\u00e9", {}, b""),
        ("POST", "/api/now/table/incident", {"X-HTTP-Method-Override": "PATCH"}, b"{}"),
        (
            "GET",
            "/api/now/table/incident",
            {"Cookie": "JSESSIONID=abc", "User-Agent": "pysnow"},
            b"",
        ),
        ("GET", "/api/now/table/incident", {"accept": "a", "Accept": "b", "X-Num": 5}, b""),
        ("POST", "/api/now/table/incident", {"Content-Type": "text/plain"}, b""),
        ("POST", "/api/now/import/x", {"Content-Type": "application/x-www-form-urlencoded"}, b""),
        ("POST", "/api/now/attachment/upload", {"Content-Type": "multipart/form-data"}, b""),
        (
            "POST",
            "/api/now/import/x",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"a=1",
        ),
    ],
)
def test_item_environ_is_the_one_a_test_client_built(
    method: str, url: str, headers: dict[str, Any], data: bytes
) -> None:
    """Every key of an item's environ (path, query, headers, body, host) is the test client's."""
    ours = item_environ(base_environ(HOST), OVERRIDES, method, url, headers, data)
    theirs = client_environ(method, url, headers, data)
    if headers.get("Content-Type") == "multipart/form-data":
        # An empty multipart body gets a random boundary: compare everything but the boundary.
        for env in (ours, theirs):
            env.pop("CONTENT_TYPE")
            env.pop("wsgi.input")
            env.pop("CONTENT_LENGTH")
        assert ours == theirs
        return
    assert comparable(ours) == comparable(theirs)


def test_an_item_header_value_with_a_newline_is_refused_as_before() -> None:
    """A header value a client could never send is refused, as the test client refused it."""
    with pytest.raises(ValueError):
        item_environ(base_environ(HOST), OVERRIDES, "GET", "/", {"X-Bad": "a\nb"}, b"")


def b64(data: Any) -> str:
    """Base64 of a JSON body."""
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_batch_items_go_through_the_middleware_and_the_hooks(sim: Sim) -> None:
    """Items honour X-HTTP-Method-Override, absolute URLs and non-ASCII queries, with headers."""
    items = [
        {
            "id": "1",
            "method": "POST",
            "url": f"/api/now/table/incident/{INC1}",
            "headers": [
                {"name": "X-HTTP-Method-Override", "value": "PATCH"},
                {"name": "Content-Type", "value": "application/json"},
            ],
            "body": b64({"short_description": "caf\u00e9 cr\u00e8me"}),
        },
        {
            "id": "2",
            "method": "GET",
            "url": f"{sim.url}/api/now/table/incident?sysparm_query=short_description%3Dcaf%C3%A9"
            "%20cr%C3%A8me&sysparm_fields=sys_id",
            "headers": [],
        },
        {"id": "3", "method": "GET", "url": "/api/now/table/no_such_table", "headers": []},
    ]
    r = sim.call("POST", "/api/now/v1/batch", json={"rest_requests": items})
    assert r.status_code == 200
    one, two, three = r.json()["serviced_requests"]
    assert one["status_code"] == 200
    assert json.loads(base64.b64decode(two["body"])) == {"result": [{"sys_id": INC1}]}
    headers = {h["name"]: h["value"] for h in two["headers"]}
    assert headers["Server"] == "ServiceNow" and headers["X-Total-Count"] == "1"
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert "Set-Cookie" not in headers and len(headers["X-Transaction-ID"]) == 12
    assert three["status_code"] == 400 and three["status_text"] == "Bad Request"
