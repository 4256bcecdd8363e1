"""The Get Support Now page when ServiceNow fails: the HTML error page, no upstream detail."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
import requests

from connector import signing
from connector.demo import running_stack
from connector.errors import RemoteError

pytestmark = pytest.mark.slow

SECRET = "support-errors-secret"  # noqa: S105 - loopback test value
INC1 = "a5000000000000000000000000000001"
ABEL = "a2000000000000000000000000000001"


@pytest.mark.parametrize("status", [403, 500])
def test_servicenow_failure_shows_the_html_error_page(tmp_path, status):
    """A failing instance gives the caller a 503 HTML page without ServiceNow's own words."""
    with running_stack(str(tmp_path), worker=False, **{"support.signing_secret": SECRET}) as s:
        query = signing.link_query(SECRET, "incident", INC1, ABEL, ttl=300)
        url = f"{s.connector_url}/support/incident/{INC1}?{query}"
        assert requests.get(url, timeout=30).status_code == 200
        requests.post(
            f"{s.servicenow_url}/_sim/faults",
            json={"error_rate": 1.0, "error_statuses": [status]},
            timeout=10,
        ).raise_for_status()
        with pytest.raises(RemoteError) as upstream:
            s.services.servicenow.get_record("incident", INC1)
        page = requests.get(url, timeout=60)
        form = requests.post(
            f"{s.connector_url}/support/incident/{INC1}/start",
            data={**dict(parse_qsl(query)), "choice": "next"},
            allow_redirects=False,
            timeout=60,
        )
    for reply in (page, form):
        assert reply.status_code == 503
        assert reply.headers["Content-Type"].startswith("text/html")
        assert "not available right now" in reply.text
        assert str(upstream.value) not in reply.text
        assert "servicenow" not in reply.text.lower()
        assert s.servicenow_url not in reply.text
        assert '"error"' not in reply.text
