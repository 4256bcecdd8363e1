"""One request to the appliance: rate gate, bearer token, bounded bodies, errors, retries.

``Transport`` is the base the API rooms (commands, reporting, configuration, links) build on:
it owns the ``requests`` session, the token and the retry policy, sends each call and turns the
appliance's answers (XML error documents, JSON errors, status codes) into the connector's errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
import urllib3

from connector.bomgar import xmldoc
from connector.bomgar.auth import BomgarTokenAuth
from connector.bomgar.models import valid_lsid
from connector.errors import (
    DataError,
    RateLimited,
    RemoteError,
    TransportError,
    parse_retry_after,
)
from connector.http import RateGate, RetryPolicy, TimeoutSession, never_sent, send

log = logging.getLogger("connector.bomgar.client")

T = TypeVar("T")
SERVICE = "bomgar"


def retry_if_not_minted(exc: RemoteError) -> bool:
    """Retry a call that mints something only when it cannot have reached the appliance."""
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, TransportError) and never_sent(exc)


class RawReader:
    """Read a streamed body, turning urllib3 read failures into TransportError."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        """Return the next chunk of the body."""
        try:
            return self._raw.read(size if size and size > 0 else 65536)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise TransportError(
                f"connection failed while reading a report: {type(exc).__name__}",
                service=SERVICE,
            ) from exc


class Transport:
    """Send requests to one appliance and turn its answers into values or errors."""

    def __init__(
        self,
        base_url: str,
        session: TimeoutSession,
        auth: BomgarTokenAuth | None,
        *,
        gate: RateGate,
        retry: RetryPolicy,
        use_ns_paths: bool,
        max_report_bytes: int,
        legacy_username: str | None = None,
        legacy_password: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.session = session
        self.auth = auth
        self._gate = gate
        self.retry = retry
        self.max_report_bytes = max_report_bytes
        self.legacy = bool(legacy_username)
        self._legacy_username = legacy_username or ""
        self._legacy_password = legacy_password or ""
        suffix = ".ns" if use_ns_paths else ""
        self.command_path = f"/api/command{suffix}"
        self.reporting_path = f"/api/reporting{suffix}"
        self.start_session_path = f"/api/start_session{suffix}"
        self.client_script_path = f"/api/client_script{suffix}"

    def _read_limited(self, resp: requests.Response) -> bytes:
        chunks = []
        total = 0
        try:
            for chunk in resp.iter_content(65536):
                total += len(chunk)
                if total > self.max_report_bytes:
                    raise xmldoc.ReportTooLarge(
                        f"reply exceeds the {self.max_report_bytes} byte limit", service=SERVICE
                    )
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise TransportError(
                f"connection failed while reading {resp.url}: {type(exc).__name__}",
                service=SERVICE,
            ) from exc
        finally:
            resp.close()
        return b"".join(chunks)

    @staticmethod
    def _is_json(resp: requests.Response) -> bool:
        return "json" in resp.headers.get("Content-Type", "").lower()

    def _token_refused(self, resp: requests.Response, body: bytes | None) -> bool:
        if resp.status_code == 401:
            return True
        if not body:
            return False
        if self._is_json(resp):
            data = json_or_none(body)
            return isinstance(data, dict) and data.get("error") == "access_denied"
        if b"error" not in body or len(body) > self.max_report_bytes:
            return False
        # Reports routinely mention "error" in chat and system information: look at the head.
        message = xmldoc.leading_error(body)
        return message is not None and xmldoc.is_token_problem(message)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Any = None,
        xml: bool = True,
        read_body: bool = True,
        timeout: Any = None,
    ) -> tuple[requests.Response, bytes | None]:
        """Send one request (renewing a refused token once); return the response and its body."""
        url = self.base_url + path
        params = dict(params or {})
        data = dict(data) if data is not None else None
        if self.legacy and xml:
            # Legacy credentials travel with every call; a POST keeps the password out of URLs.
            method = "POST"
            data = {**params, **(data or {})}
            params = {}
            data["username"] = self._legacy_username
            data["password"] = self._legacy_password
        for renewed in (False, True):
            self._gate.wait()
            headers = {"Accept": "application/xml" if xml else "application/json"}
            if xml:
                # The vendor asks API clients to close the connection after each call.
                headers["Connection"] = "close"
            token = None
            auth = self.auth
            if auth is not None:  # None: legacy credentials travel in the form
                token = auth.bearer()
                headers["Authorization"] = f"Bearer {token}"
            resp = send(
                self.session,
                method,
                url,
                service=SERVICE,
                params=params or None,
                data=data,
                json=json_body,
                headers=headers,
                stream=True,
                timeout=timeout,
            )
            ok = 200 <= resp.status_code < 300
            body = None
            if read_body or not ok or self._is_json(resp):
                body = self._read_limited(resp)
            if auth is not None and token is not None and not renewed:
                if not self._token_refused(resp, body):
                    return resp, body
                log.info("bomgar refused the access token; renewing it once")
                resp.close()
                auth.invalidate(token)
                continue
            return resp, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, resp: requests.Response, body: bytes | None) -> None:
        if 200 <= resp.status_code < 300:
            return
        message, detail = self._failure_message(resp, body or b"")
        kind = xmldoc.classify_error(message, resp.status_code)
        raise kind(
            message,
            service=SERVICE,
            status=resp.status_code,
            detail=detail,
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
        )

    def _failure_message(self, resp: requests.Response, body: bytes) -> tuple[str, str | None]:
        fallback = resp.reason or "request failed"
        if not body.strip():
            return fallback, None
        if self._is_json(resp) or body.lstrip()[:1] in (b"{", b"["):
            data = json_or_none(body)
            if not isinstance(data, dict):
                return fallback, None
            message = str(data.get("message") or data.get("error") or fallback)
            errors = data.get("errors")
            detail = None
            if isinstance(errors, dict) and errors:
                detail = "; ".join(
                    f"{field}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                    for field, msgs in sorted(errors.items())
                )
            return message, detail
        try:
            found = xmldoc.find_error(xmldoc.parse_xml(body, max_bytes=self.max_report_bytes))
        except RemoteError:
            found = None
        return (found or fallback), None

    def _retrying(
        self,
        fn: Callable[[], T],
        what: str,
        *,
        retry_if: Callable[[RemoteError], bool] | None = None,
    ) -> T:
        return self.retry.run(fn, what=f"bomgar {what}", retry_if=retry_if)

    def _xml(
        self,
        what: str,
        path: str,
        parse: Callable[[bytes], T],
        *,
        method: str = "GET",
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        retry_if: Callable[[RemoteError], bool] | None = None,
        timeout: Any = None,
        retries: bool = True,
    ) -> T:
        def attempt() -> T:
            resp, body = self._request(method, path, params=params, data=data, timeout=timeout)
            self._raise_for_status(resp, body)
            return parse(body or b"")

        if not retries:
            return attempt()
        return self._retrying(attempt, what, retry_if=retry_if)

    def _command(self, action: str, parse: Callable[[bytes], T], **kwargs: Any) -> T:
        params = {"action": action, **kwargs.pop("params", {})}
        return self._xml(action, self.command_path, parse, params=params, **kwargs)

    @staticmethod
    def _check_lsid(lsid: str) -> str:
        if not valid_lsid(lsid):
            shown = repr(lsid)[:70]
            raise DataError(
                f"lsid: expected 1-64 characters of A-Z, a-z, 0-9, _ and -, got {shown}"
            )
        return lsid

    def _report(self, name: str, parse: Callable[[bytes], T], params: Mapping[str, Any]) -> T:
        return self._xml(
            name, self.reporting_path, parse, params={"generate_report": name, **params}
        )


def json_or_none(body: bytes) -> Any:
    """Parse JSON, or return None when the body is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        return None
