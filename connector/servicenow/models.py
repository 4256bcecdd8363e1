"""Plain data passed to and returned by the ServiceNow client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.errors import StatusError

Record = dict[str, Any]
"""One record as ServiceNow sends it: column name to string value (references are bare sys_ids)."""


@dataclass
class BatchRequest:
    """One request inside a Batch API call.

    ``url`` is relative and carries its query string (build it with ``table_url``); ``body`` is a
    dict (sent as JSON), raw bytes, or None for GET and DELETE. ``headers`` are added to (and may
    override) the default ``Content-Type``/``Accept: application/json``.
    """

    id: str
    method: str
    url: str
    body: dict[str, Any] | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchResponse:
    """The answer to one ``BatchRequest``; ``error`` is set when the item failed."""

    id: str
    status_code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    error: StatusError | None = None
    status_text: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the item succeeded."""
        return self.error is None

    @property
    def result(self) -> Any:
        """Return the ``result`` member of a JSON body, or None."""
        if isinstance(self.body, dict):
            return self.body.get("result")
        return None

    def raise_for_error(self) -> BatchResponse:
        """Raise the item's error, if any; return self otherwise."""
        if self.error is not None:
            raise self.error
        return self
