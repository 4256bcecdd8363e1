"""Links the connector hands to a browser: client scripts for reps, start_session for customers.

No network call: the browser opens them. Query values are percent-encoded per RFC 3986 (only
unreserved characters stay), so the dots in ``session.custom.*`` names stay literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from connector.bomgar.transport import Transport
from connector.errors import DataError

_ACTION = re.compile(r"[a-z_]{1,64}")


def _rfc3986(params: Mapping[str, Any]) -> str:
    return urlencode({k: str(v) for k, v in params.items()}, quote_via=quote, safe="")


class LinkBuilder(Transport):
    """Build browser links under the appliance's public site."""

    def client_script_url(self, action: str, params: Mapping[str, Any] | None = None) -> str:
        """Build a client_script link the rep's browser opens (e.g. start_jump_item_session)."""
        if not _ACTION.fullmatch(action or ""):
            raise DataError(f"client script action: expected a-z and _, got {action!r:.40}")
        query = {"type": "rep", "operation": "generate", "action": action, **(params or {})}
        return f"{self.base_url}{self.client_script_path}?{_rfc3986(query)}"

    def start_session_url(
        self, params: Mapping[str, Any] | None = None, *, site_url: str | None = None
    ) -> str:
        """Build a public-site start_session link for the customer's browser."""
        base = (site_url or self.base_url).rstrip("/")
        query = _rfc3986(params or {})
        return f"{base}{self.start_session_path}" + (f"?{query}" if query else "")
