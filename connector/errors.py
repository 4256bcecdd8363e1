"""The connector's exception tree and the JSON error envelope.

::

    ConnectorError
     ├── ConfigError            bad configuration or mapping; names file, key path, expected, found
     ├── DataError              a session or request the connector cannot use (permanent)
     ├── ClaimLost              the worker no longer holds a session it was about to write
     ├── StoreUnavailable       the store's database did not answer, or its schema is not ours
     └── RemoteError            a call to ServiceNow or the appliance failed
          ├── TransportError    timeout, refused or dropped connection (retryable)
          ├── ProtocolError     a 2xx whose body is not what the API promises (retryable)
          └── StatusError       a non-2xx answer, or an error document in a 2xx
               ├── RateLimited  429 (retryable; carries Retry-After)
               ├── ServerError  5xx, 202-on-GET (retryable)
               ├── AuthError    401 / 403 (permanent)
               ├── NotFound     404 (permanent)
               └── Rejected     any other 4xx (permanent)

``permanent`` says whether retrying the same call can help; the worker dead-letters on a
permanent error and backs off on the others.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any

import requests


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    permanent = True


@dataclass
class ConfigProblem:
    """One thing wrong with a configuration or mapping file."""

    file: str
    path: str
    expected: str
    found: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.path or '<top level>'}: expected {self.expected}, found {self.found}"
        )


class ConfigError(ConnectorError):
    """Raise when a configuration or mapping file cannot be used; lists every problem found."""

    def __init__(self, problems: list[ConfigProblem] | ConfigProblem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems))


class DataError(ConnectorError):
    """Raise when input data (a session, an event, an API request) cannot be used."""


class ClaimLost(ConnectorError):
    """Raise when a session's lease lapsed or was taken over: stop before the next write."""

    permanent = False


class StoreUnavailable(ConnectorError):
    """Raise when the store cannot be used: its database does not answer, or its schema differs."""

    permanent = False

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class RemoteError(ConnectorError):
    """Raise when a remote system call fails."""

    permanent = False

    def __init__(
        self,
        message: str,
        *,
        service: str = "",
        status: int | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
        permanent: bool | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        if permanent is not None:
            self.permanent = permanent
        prefix = f"{service}: " if service else ""
        code = f"HTTP {status}: " if status else ""
        tail = f" ({detail})" if detail else ""
        super().__init__(f"{prefix}{code}{message}{tail}")
        self.message = message


class TransportError(RemoteError):
    """Raise when the connection failed, timed out or was dropped."""


class ProtocolError(RemoteError):
    """Raise when a success answer does not have the promised shape."""


class StatusError(RemoteError):
    """Raise for a non-2xx answer; ``from_response`` picks the subclass."""

    @classmethod
    def from_response(
        cls,
        response: requests.Response,
        *,
        service: str,
        message: str | None = None,
        detail: str | None = None,
    ) -> StatusError:
        """Build the matching subclass for a failed response."""
        status = response.status_code
        if message is None:
            message = response.reason or "request failed"
        kind: type[StatusError]
        if status == 429:
            kind = RateLimited
        elif status >= 500 or status == 202:
            kind = ServerError
        elif status in (401, 403):
            kind = AuthError
        elif status == 404:
            kind = NotFound
        else:
            kind = Rejected
        return kind(
            message,
            service=service,
            status=status,
            detail=detail,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )


class RateLimited(StatusError):
    """Raise on 429: the remote side asks us to slow down."""

    permanent = False


class ServerError(StatusError):
    """Raise on 5xx: the remote side failed and may recover."""

    permanent = False


class AuthError(StatusError):
    """Raise on 401/403: credentials or permissions are wrong."""

    permanent = True


class NotFound(StatusError):
    """Raise on 404: the record or resource does not exist."""

    permanent = True


class Rejected(StatusError):
    """Raise on other 4xx: the request itself is wrong."""

    permanent = True


def parse_retry_after(value: str | None) -> float | None:
    """Turn a Retry-After header (seconds or HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_body(status: int, message: str, detail: Any = None) -> dict[str, Any]:
    """Build the connector's own JSON error envelope for its HTTP APIs."""
    return {"error": {"status": status, "message": message, "detail": detail}}
