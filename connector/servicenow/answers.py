"""Turn the instance's answers and the libraries' exceptions into the connector's errors.

A non-2xx becomes ``StatusError.from_response`` carrying ServiceNow's ``error.message`` and
``error.detail``; pysnow's own exceptions become ``ServerError`` (an empty 202 on GET, an error
document inside a 2xx) or ``ProtocolError`` (a 2xx that is not the promised JSON); connection
failures and timeouts become ``TransportError``. ``in_doubt`` says which failed writes may still
have taken effect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ijson
import requests
from pysnow import exceptions as snow_errors

from connector.errors import (
    DataError,
    ProtocolError,
    RateLimited,
    RemoteError,
    ServerError,
    StatusError,
    TransportError,
)
from connector.http import never_sent
from connector.servicenow.models import Record

T = TypeVar("T")
SERVICE = "servicenow"


def translate(fn: Callable[[], T]) -> T:
    """Call ``fn`` and turn requests' and pysnow's exceptions into the connector's."""
    try:
        return fn()
    except RemoteError:
        raise
    except requests.HTTPError as exc:
        if exc.response is None:
            raise TransportError(f"request failed: {exc}", service=SERVICE) from exc
        raise status_error(exc.response) from exc
    except requests.exceptions.JSONDecodeError as exc:
        raise ProtocolError("answer is not JSON", service=SERVICE) from exc
    except requests.Timeout as exc:
        raise TransportError(f"timed out: {type(exc).__name__}", service=SERVICE) from exc
    except requests.ConnectionError as exc:
        raise TransportError(f"connection failed: {type(exc).__name__}", service=SERVICE) from exc
    except requests.RequestException as exc:
        raise TransportError(f"request failed: {type(exc).__name__}", service=SERVICE) from exc
    except snow_errors.EmptyContent as exc:
        # An empty 202: the instance queued the request behind others on a session.
        raise ServerError("empty 202 answer", service=SERVICE, status=202) from exc
    except snow_errors.ResponseError as exc:
        raise ServerError(exc.message, service=SERVICE, detail=exc.detail) from exc
    except (
        snow_errors.MissingResult,
        snow_errors.UnexpectedResponseFormat,
        snow_errors.NoResults,
        snow_errors.MultipleResults,
        ijson.common.JSONError,
        ValueError,
    ) as exc:
        raise ProtocolError(f"unexpected answer: {exc}", service=SERVICE) from exc
    except snow_errors.InvalidUsage as exc:
        raise DataError(f"invalid ServiceNow request: {exc}") from exc


def status_error(response: requests.Response) -> StatusError:
    """Build the StatusError for a failed answer, with ServiceNow's message and detail."""
    message, detail = error_fields(json_or_none(response))
    return StatusError.from_response(response, service=SERVICE, message=message, detail=detail)


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        # An HTML error page, a truncated body, or nothing at all.
        return None


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """Return (message, detail) from a ServiceNow error document, if the body is one."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        message, detail = error.get("message"), error.get("detail")
        return (
            str(message) if message else None,
            str(detail) if detail else None,
        )
    if isinstance(error, str):
        return body.get("error_description") or error, None
    return None, None


def result_of(response: requests.Response) -> Any:
    """Return ``result`` from a raw 2xx answer, raising for anything else."""
    if not 200 <= response.status_code < 300:
        raise status_error(response)
    body = response.json()
    if not isinstance(body, dict) or "result" not in body:
        message, detail = error_fields(body)
        if message:
            raise ServerError(message, service=SERVICE, status=response.status_code, detail=detail)
        raise ProtocolError("answer has no result", service=SERVICE)
    return body["result"]


def one_record(response: Any) -> Record:
    """Return the single record of a pysnow response; an error document in a 2xx raises."""
    try:
        return as_record(response.one())
    except snow_errors.MissingResult:
        # pysnow keeps the requests.Response here; a quota cancel can arrive as a 2xx error body.
        raw = getattr(response, "_response", None)
        if isinstance(raw, requests.Response):
            message, detail = error_fields(json_or_none(raw))
            if message:
                raise ServerError(
                    message, service=SERVICE, status=raw.status_code, detail=detail
                ) from None
        raise


def as_record(value: Any) -> Record:
    if not isinstance(value, dict):
        raise ProtocolError(f"expected a record, got {type(value).__name__}", service=SERVICE)
    return value


def write_may_retry(exc: RemoteError) -> bool:
    """Tell whether a failed write certainly did not take effect."""
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, TransportError) and never_sent(exc)


def in_doubt(exc: BaseException) -> bool:
    """Tell whether a failed write may still have taken effect (so re-check before re-writing).

    A 5xx or an empty 202 may come after the instance committed; a timeout or a dropped
    connection after the request was sent may leave it running. A 429, another 4xx or a
    connection that never opened did nothing.
    """
    if isinstance(exc, ServerError):
        return True
    return isinstance(exc, TransportError) and not never_sent(exc)
