"""Talk to a Bomgar / BeyondTrust Remote Support appliance: OAuth, Command, Reporting, Config APIs.

One ``BomgarClient`` owns one ``requests`` session (built by connector.http) and one OAuth token
that every thread shares: the appliance keeps at most 30 live tokens per API account and silently
invalidates the oldest, so minting per call or per worker would kill tokens still in use.

Errors (all carry ``service="bomgar"``)::

    TransportError          timeout, refused or dropped connection          retried
    ProtocolError           malformed XML / unexpected document             retried
     ├── UnsafeDocument     DOCTYPE with entities                          permanent
     └── ReportTooLarge     body above max_report_bytes                    permanent
    BomgarAPIError          <error> document or non-2xx (xmldoc.classify_error picks the class)
     ├── BomgarAuthError    "Login failed", 401/403, token refused twice    permanent
     ├── BomgarNotFound     "Invalid lsid.", expired recording, 404          permanent
     ├── BomgarRejected     other 4xx / error texts                         permanent
     ├── BomgarRateLimited  429                                             retried
     └── BomgarServerError  5xx, "could not be completed"                   retried
    AuthError               the token request itself failed                 permanent
    DataError               a request the connector refuses to send (limits, bad ids)

Calls that mint something (``generate_session_key``, ``create_jump_client_installer``) are only
retried when the request cannot have reached the appliance (connection refused, connect timeout)
or on 429; a timeout after sending could otherwise mint a second key or installer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import requests
import urllib3
from requests.auth import HTTPBasicAuth

from connector.bomgar import replies, reports, xmldoc
from connector.bomgar.models import (
    ApiInfo,
    JumpClient,
    JumpClientInstaller,
    LoggedInRep,
    SessionAttributes,
    SessionKey,
    SessionSummary,
    SupportSession,
    SupportTeam,
    Survey,
    valid_lsid,
)
from connector.errors import (
    AuthError,
    DataError,
    ProtocolError,
    RateLimited,
    RemoteError,
    StatusError,
    TransportError,
    parse_retry_after,
)
from connector.http import RateGate, RetryPolicy, build_session, send

log = logging.getLogger(__name__)

T = TypeVar("T")
SERVICE = "bomgar"

TOKEN_RENEW_MARGIN = 60.0
DEFAULT_TOKEN_LIFETIME = 3600.0
LSIDS_PER_REQUEST = 100
MAX_CUSTOM_VALUE = 1024
MAX_CUSTOM_TOTAL = 10 * 1024
CONFIG_PER_PAGE = 100
PING_TIMEOUT = (2.0, 5.0)

JUMP_CLIENT_FILTERS = frozenset(
    {
        "name",
        "hostname",
        "fqdn",
        "tag",
        "jump_group_id",
        "jump_group_type",
        "console_user",
        "public_ip",
        "private_ip",
        "connection_type",
    }
)
INSTALLER_PLATFORMS = frozenset(
    {
        "linux-64",
        "raspberry-pi-32-headless",
        "mac-dmg",
        "mac-zip",
        "windows-64-msi",
        "windows-32-msi",
    }
)
_CODE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_ACTION = re.compile(r"[a-z_]{1,64}")
_INSTALLER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _rfc3986(params: Mapping[str, Any]) -> str:
    # quote() keeps only unreserved characters (A-Z a-z 0-9 - . _ ~), so dots in
    # session.custom.* names stay literal and everything else is percent-encoded.
    return urlencode({k: str(v) for k, v in params.items()}, quote_via=quote, safe="")


def _request_not_sent(exc: BaseException) -> bool:
    """Tell whether a transport failure happened before the request reached the appliance."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.ConnectTimeout | ConnectionRefusedError):
            return True
        if isinstance(current, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(current, urllib3.exceptions.MaxRetryError) and isinstance(
            current.reason,
            urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError,
        ):
            return True
        if isinstance(current, requests.ConnectionError) and current.args:
            inner = current.args[0]
            if isinstance(inner, BaseException) and _request_not_sent(inner):
                return True
        current = current.__cause__ or current.__context__
    return False


def _retry_if_not_minted(exc: RemoteError) -> bool:
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, TransportError) and _request_not_sent(exc)


class _RawReader:
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


class BomgarClient:
    """A client for one appliance; thread-safe, share one instance per process."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        verify: bool | str = True,
        timeout: float | tuple[float, float] = (5, 60),
        legacy_username: str | None = None,
        legacy_password: str | None = None,
        use_ns_paths: bool = False,
        max_per_second: float = 20.0,
        max_report_bytes: int = xmldoc.DEFAULT_MAX_BYTES,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.legacy = bool(legacy_username)
        self._legacy_username = legacy_username or ""
        self._legacy_password = legacy_password or ""
        suffix = ".ns" if use_ns_paths else ""
        self.command_path = f"/api/command{suffix}"
        self.reporting_path = f"/api/reporting{suffix}"
        self.start_session_path = f"/api/start_session{suffix}"
        self.client_script_path = f"/api/client_script{suffix}"
        self.max_report_bytes = max_report_bytes
        self.retry = retry or RetryPolicy()
        self.session = build_session(verify=verify, timeout=timeout)
        self._gate = RateGate(max_per_second)
        self._clock = clock
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self.tokens_minted = 0

    def __repr__(self) -> str:
        return f"BomgarClient({self.base_url!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # --- OAuth ---------------------------------------------------------------------------

    def _bearer(self) -> str:
        """Return a valid token, minting one only when none is cached or it is about to expire."""
        with self._token_lock:
            if self._token and self._clock() < self._token_expires - TOKEN_RENEW_MARGIN:
                return self._token
            token, lifetime = self._fetch_token()
            self._token = token
            self._token_expires = self._clock() + lifetime
            self.tokens_minted += 1
            return token

    def _invalidate(self, token: str) -> None:
        with self._token_lock:
            # Another thread may already have replaced it; only drop the token that failed.
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        self._gate.wait()
        resp = send(
            self.session,
            "POST",
            self.base_url + "/oauth2/token",
            service=SERVICE,
            data={"grant_type": "client_credentials"},
            auth=HTTPBasicAuth(self.client_id, self._client_secret),
            headers={"Accept": "application/json"},
        )
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        error = str(body.get("error") or "")
        message = str(body.get("message") or body.get("error_description") or "")
        described = ": ".join(x for x in (error, message) if x) or (resp.reason or "no reason")
        if resp.status_code == 429 or resp.status_code >= 500:
            raise StatusError.from_response(
                resp, service=SERVICE, message=f"token request failed: {described}"
            )
        token = body.get("access_token")
        if not 200 <= resp.status_code < 300 or error or not isinstance(token, str) or not token:
            if 200 <= resp.status_code < 300 and not error:
                described = "the reply holds no access_token"
            raise AuthError(
                f"token request failed: {described}",
                service=SERVICE,
                status=resp.status_code if resp.status_code >= 300 else None,
            )
        try:
            lifetime = float(body.get("expires_in", DEFAULT_TOKEN_LIFETIME))
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        return token, lifetime

    # --- One request ---------------------------------------------------------------------

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
            data = _json_or_none(body)
            return isinstance(data, dict) and data.get("error") == "access_denied"
        if b"error" not in body:
            return False
        try:
            message = xmldoc.find_error(xmldoc.parse_xml(body, max_bytes=self.max_report_bytes))
        except RemoteError:
            return False
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
            if not self.legacy:
                token = self._bearer()
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
            if token is not None and not renewed and self._token_refused(resp, body):
                log.info("bomgar refused the access token; renewing it once")
                resp.close()
                self._invalidate(token)
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
            data = _json_or_none(body)
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
            message = xmldoc.find_error(xmldoc.parse_xml(body, max_bytes=self.max_report_bytes))
        except RemoteError:
            message = None
        return (message or fallback), None

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

    # --- Command API ---------------------------------------------------------------------

    def get_api_info(self) -> ApiInfo:
        """Return the API version, company and the account's permissions."""
        return self._command("get_api_info", replies.parse_api_info)

    def ping(self) -> ApiInfo:
        """Check the appliance answers and the credentials work (one quick get_api_info)."""
        return self._command(
            "get_api_info", replies.parse_api_info, timeout=PING_TIMEOUT, retries=False
        )

    def get_logged_in_reps(self) -> list[LoggedInRep]:
        """Return the reps logged in now (cache the result; the vendor asks not to poll it)."""
        return self._command("get_logged_in_reps", replies.parse_logged_in_reps)

    def get_support_teams(self, *, show_members: bool = False) -> list[SupportTeam]:
        """Return the support teams (cache the result; the vendor asks not to poll it)."""
        params = {"showmembers": "1"} if show_members else {}
        return self._command("get_support_teams", replies.parse_support_teams, params=params)

    def generate_session_key(
        self,
        queue_id: str,
        *,
        external_key: str | None = None,
        custom: Mapping[str, str] | None = None,
        ttl: int | None = None,
        url_hostname: str | None = None,
    ) -> SessionKey:
        """Mint a session key for a queue (general, rep:<id>, team:<id>, …); not retried blindly."""
        queue_id = (queue_id or "").strip()
        if not queue_id:
            raise DataError("generate_session_key: expected a queue_id, found an empty value")
        form: dict[str, str] = {"type": "support", "queue_id": queue_id}
        if ttl is not None:
            if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
                raise DataError(f"generate_session_key: ttl must be positive seconds, got {ttl!r}")
            form["ttl"] = str(ttl)
        if url_hostname:
            form["url_hostname"] = url_hostname
        values = dict(custom or {})
        if external_key is not None:
            values["external_key"] = external_key
        form.update(self._custom_fields(values, legacy_external_key=self.legacy))
        return self._command(
            "generate_session_key",
            replies.parse_session_key,
            method="POST",
            data=form,
            retry_if=_retry_if_not_minted,
        )

    def get_session_attributes(self, lsid: str) -> SessionAttributes:
        """Return the custom attributes of an active session."""
        return self._command(
            "get_session_attributes",
            replies.parse_session_attributes,
            params={"lsid": self._check_lsid(lsid)},
        )

    def set_session_attributes(self, lsid: str, values: Mapping[str, str]) -> str:
        """Set custom attributes of an active session (omitted keep, empty clears)."""
        form = {"lsid": self._check_lsid(lsid)}
        form.update(self._custom_fields(dict(values), legacy_external_key=False))
        return self._command(
            "set_session_attributes", replies.parse_success, method="POST", data=form
        )

    @staticmethod
    def _custom_fields(values: Mapping[str, str], *, legacy_external_key: bool) -> dict[str, str]:
        """Validate custom attribute values against the appliance's limits; return form fields."""
        out: dict[str, str] = {}
        total = 0
        for name, value in values.items():
            if not _CODE_NAME.fullmatch(name):
                raise DataError(
                    f"custom attribute {name[:40]!r}: expected a code name of letters, digits "
                    "and _, found other characters"
                )
            if not isinstance(value, str):
                raise DataError(
                    f"custom attribute {name!r}: expected text, found {type(value).__name__}"
                )
            if len(value) > MAX_CUSTOM_VALUE:
                raise DataError(
                    f"custom attribute {name!r}: expected at most {MAX_CUSTOM_VALUE} characters, "
                    f"found {len(value)}"
                )
            total += len(value.encode("utf-8"))
            if name == "external_key" and legacy_external_key:
                out["external_key"] = value
            else:
                out[f"session.custom.{name}"] = value
        if total > MAX_CUSTOM_TOTAL:
            raise DataError(
                f"custom attributes: expected at most {MAX_CUSTOM_TOTAL} bytes in total, "
                f"found {total}"
            )
        return out

    @staticmethod
    def _check_lsid(lsid: str) -> str:
        if not valid_lsid(lsid):
            shown = repr(lsid)[:70]
            raise DataError(
                f"lsid: expected 1-64 characters of A-Z, a-z, 0-9, _ and -, got {shown}"
            )
        return lsid

    # --- Reporting API -------------------------------------------------------------------

    def _report(self, name: str, parse: Callable[[bytes], T], params: Mapping[str, Any]) -> T:
        return self._xml(
            name, self.reporting_path, parse, params={"generate_report": name, **params}
        )

    def support_sessions(self, lsids: Sequence[str]) -> list[SupportSession]:
        """Return the SupportSession records of the named sessions (chunked, lsids=a,b,c)."""
        ids = [self._check_lsid(lsid) for lsid in dict.fromkeys(lsids)]
        sessions: list[SupportSession] = []
        for start in range(0, len(ids), LSIDS_PER_REQUEST):
            chunk = ids[start : start + LSIDS_PER_REQUEST]
            sessions.extend(
                self._report(
                    "SupportSession",
                    lambda body: reports.parse_support_sessions(
                        body, max_bytes=self.max_report_bytes
                    ),
                    {"lsids": ",".join(chunk)},
                )
            )
        return sessions

    def support_session(self, lsid: str) -> SupportSession | None:
        """Return one session's record, or None when the report does not hold it."""
        for session in self.support_sessions([lsid]):
            if session.lsid == lsid:
                return session
        return None

    @staticmethod
    def _window(since: int, until: int | None) -> tuple[int, int]:
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise DataError(f"report window: expected epoch seconds for since, got {since!r}")
        if until is None:
            return since, 0  # duration=0 means "up to now"
        if isinstance(until, bool) or not isinstance(until, int) or until <= since:
            raise DataError(f"report window: expected until after since ({since}), got {until!r}")
        return since, until - since

    def iter_support_sessions_ended(
        self, since: int, until: int | None = None
    ) -> Iterator[SupportSession]:
        """Stream the sessions that ended in [since, until) (until None = up to now)."""
        start, duration = self._window(since, until)
        params = {"generate_report": "SupportSession", "end_time": start, "duration": duration}
        attempt = 0
        while True:
            attempt += 1
            yielded = 0
            try:
                resp, body = self._request(
                    "GET", self.reporting_path, params=params, read_body=False
                )
                try:
                    self._raise_for_status(resp, body)
                    if body is not None:
                        # A JSON or already-read body on a 2xx: parse it whole.
                        sessions: Iterator[SupportSession] = iter(
                            reports.parse_support_sessions(body, max_bytes=self.max_report_bytes)
                        )
                    else:
                        resp.raw.decode_content = True
                        sessions = reports.iter_support_sessions(
                            _RawReader(resp.raw), self.max_report_bytes
                        )
                    for session in sessions:
                        yielded += 1
                        yield session
                finally:
                    resp.close()
                return
            except RemoteError as exc:
                # Once sessions went out, a retry would repeat them; let the caller resume.
                if yielded or exc.permanent or attempt >= self.retry.attempts:
                    raise
                wait = self.retry.delay(attempt, exc)
                log.warning("retrying bomgar SupportSession window after %s", exc)
                self.retry.sleep(wait)

    def session_listing(
        self, since: int, until: int | None = None, *, by: str = "start"
    ) -> list[SessionSummary]:
        """Return SupportSessionListing entries for a window by start (or end) time."""
        if by not in ("start", "end"):
            raise DataError(f"session_listing: expected by='start' or 'end', got {by!r}")
        start, duration = self._window(since, until)
        return self._report(
            "SupportSessionListing",
            lambda body: reports.parse_session_listing(body, max_bytes=self.max_report_bytes),
            {f"{by}_time": start, "duration": duration},
        )

    def exit_surveys(self, kind: str, lsids: Sequence[str]) -> list[Survey]:
        """Return the customer or representative exit surveys of the named sessions."""
        kind = reports.survey_kind(kind)
        ids = [self._check_lsid(lsid) for lsid in dict.fromkeys(lsids)]
        name = "SupportCustExitSurvey" if kind == "customer" else "SupportRepExitSurvey"
        surveys: list[Survey] = []
        for start in range(0, len(ids), LSIDS_PER_REQUEST):
            chunk = ids[start : start + LSIDS_PER_REQUEST]
            surveys.extend(
                self._report(
                    name,
                    lambda body: reports.parse_exit_surveys(
                        body, kind, max_bytes=self.max_report_bytes
                    ),
                    {"lsids": ",".join(chunk), "report_type": "rep"},
                )
            )
        return surveys

    # --- Configuration API ---------------------------------------------------------------

    def _config(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[requests.Response, Any]:
        if self.legacy:
            raise DataError("the Configuration API needs an OAuth API account, not legacy login")
        resp, body = self._request(
            method, "/api/config/v1" + path, params=params, json_body=json_body, xml=False
        )
        self._raise_for_status(resp, body)
        if resp.status_code not in expect:
            raise ProtocolError(
                f"expected HTTP {' or '.join(map(str, expect))} from {path}, "
                f"got {resp.status_code}",
                service=SERVICE,
                status=resp.status_code,
            )
        if not body:
            return resp, None
        data = _json_or_none(body)
        if data is None:
            raise ProtocolError(f"{path} answered with invalid JSON", service=SERVICE)
        return resp, data

    def list_jump_clients(self, **filters: str | int) -> Iterator[JumpClient]:
        """Yield Jump Clients matching the filters, following the API's pagination."""
        unknown = sorted(set(filters) - JUMP_CLIENT_FILTERS)
        if unknown:
            # The appliance answers 401 to unknown query fields, which would look like a bad token.
            raise DataError(
                f"jump client filter {unknown[0]!r}: expected one of "
                f"{', '.join(sorted(JUMP_CLIENT_FILTERS))}"
            )
        page = 1
        while True:
            params = {**filters, "per_page": CONFIG_PER_PAGE, "current_page": page}
            resp, data = self._retrying(
                lambda params=params: self._config("GET", "/jump-client", params=params),
                "list jump clients",
            )
            if not isinstance(data, list):
                raise ProtocolError("/jump-client did not answer with a JSON list", service=SERVICE)
            for item in data:
                if isinstance(item, dict):
                    yield _jump_client(item)
            if not data or not self._has_next_page(resp, page, len(data)):
                return
            page += 1

    @staticmethod
    def _has_next_page(resp: requests.Response, page: int, count: int) -> bool:
        if "next" in resp.links:
            return True
        last = resp.headers.get("X-BT-Pagination-Last-Page")
        if last is not None:
            try:
                return page < int(last)
            except ValueError:
                pass
        elif "Link" in resp.headers:
            return False
        # Without pagination headers, a full page may be followed by more.
        return count >= CONFIG_PER_PAGE

    def create_jump_client_installer(
        self, jump_group_id: int, **options: Any
    ) -> JumpClientInstaller:
        """Create a Jump Client installer (201); keep encoded_info, it is only returned once."""
        if isinstance(jump_group_id, bool) or not isinstance(jump_group_id, int):
            raise DataError(f"jump_group_id: expected an integer, got {jump_group_id!r}")
        duration = options.get("valid_duration")
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int)
            or not 10 <= duration <= 525600
        ):
            raise DataError(
                f"valid_duration: expected minutes between 10 and 525600, got {duration!r}"
            )
        body = {"jump_group_id": jump_group_id, **options}
        _, data = self._retrying(
            lambda: self._config(
                "POST", "/jump-client/installer", json_body=body, expect=(200, 201)
            ),
            "create jump client installer",
            retry_if=_retry_if_not_minted,
        )
        if not isinstance(data, dict) or not data.get("installer_id"):
            raise ProtocolError("installer reply has no installer_id", service=SERVICE)
        key_info = data.get("key_info") if isinstance(data.get("key_info"), dict) else {}
        return JumpClientInstaller(
            installer_id=str(data["installer_id"]),
            expiration_timestamp=str(data.get("expiration_timestamp") or ""),
            encoded_info=str(key_info.get("encodedInfo") or ""),
            filename=str(key_info.get("filename") or ""),
            installer_path=str(key_info.get("installerPath") or ""),
            raw=data,
        )

    def installer_download_url(self, installer_id: str, platform: str) -> str:
        """Return the Configuration API URL of an installer binary (needs a bearer token)."""
        if not _INSTALLER_ID.fullmatch(installer_id or ""):
            raise DataError(f"installer_id: expected an installer id, got {installer_id!r:.70}")
        if platform not in INSTALLER_PLATFORMS:
            raise DataError(
                f"platform: expected one of {', '.join(sorted(INSTALLER_PLATFORMS))}, "
                f"got {platform!r:.40}"
            )
        return f"{self.base_url}/api/config/v1/jump-client/installer/{installer_id}/{platform}"

    # --- Browser links (no network call) -------------------------------------------------

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


def _jump_client(item: dict[str, Any]) -> JumpClient:
    def text(name: str) -> str:
        value = item.get(name)
        return "" if value is None else str(value)

    group = item.get("jump_group_id")
    try:
        group_id = int(group) if group is not None else None
    except (TypeError, ValueError):
        group_id = None
    try:
        client_id = int(item.get("id"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"jump client without a numeric id: {item.get('id')!r}") from exc
    return JumpClient(
        id=client_id,
        name=text("name"),
        hostname=text("hostname"),
        fqdn=text("fqdn"),
        tag=text("tag"),
        comments=text("comments"),
        jump_group_id=group_id,
        jump_group_type=text("jump_group_type"),
        connection_type=text("connection_type"),
        operating_system=text("operating_system"),
        public_ip=text("public_ip"),
        private_ip=text("private_ip"),
        console_user=text("console_user"),
        is_lost=bool(item.get("is_lost")),
        raw=item,
    )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
