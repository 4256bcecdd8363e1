"""ServiceNow client over pysnow 0.7.17: Table, Attachment, Email and Batch APIs.

One ``ServiceNowClient`` is shared by every worker thread. It owns one requests session (built by
``connector.http.build_session``) and one ``pysnow.Client`` on top of it, and

- builds a fresh pysnow resource for every call: a resource's parameter dict is shared and mutated
  between its calls, so a GET's ``sysparm_query`` would otherwise ride along on the next POST;
- patches with ``resource.request('PATCH', ...)``: pysnow's ``update()`` is a racy GET + PUT;
- never stores cookies: a shared ``JSESSIONID`` serialises the client's concurrent requests on
  the instance, which then answers 202 with an empty body;
- keeps at most ``max_concurrent`` requests in flight, because the instance answers 429 once its
  API semaphore queue is full, and fewer while it does (``limiter.AdaptiveLimit``);
- returns plain dicts of string values as ServiceNow sends them: actual values
  (``sysparm_display_value=false``) and references as bare sys_ids
  (``sysparm_exclude_reference_link=true``).

Retries use ``connector.http.RetryPolicy`` (attempts, backoff, Retry-After cap, sleep); the wait
happens outside the concurrency slot.

- Reads (GET, and DELETE, which is idempotent) are retried on transport errors, 429 (honouring
  ``Retry-After``), 5xx, an empty 202, and a 2xx whose body is not the promised JSON (a quota
  cancel appended to the body, a hibernating instance's HTML page).
- Writes (POST, PATCH, attachment upload, email, batch) are retried ONLY when the request
  certainly did not take effect: 429 and a connection that failed before anything was sent
  (refused, unresolvable, connect timeout). A 5xx (a 503 too: a node restarting after the
  commit answers it), a read timeout or a dropped connection after a write was sent is raised to
  the caller: the write may or may not have happened (``in_doubt``), and only the importer can
  settle, re-check and re-write idempotently. A Batch API call holding only GETs is a read.
- ``ping`` is never retried.

Errors (``connector.errors``): a non-2xx becomes ``StatusError.from_response`` carrying
ServiceNow's ``error.message`` and ``error.detail`` (RateLimited, ServerError, AuthError,
NotFound, Rejected); pysnow's own exceptions become ``ServerError`` (an empty 202 on GET, an error
document inside a 2xx) or ``ProtocolError`` (a 2xx that is not the promised JSON); connection
failures and timeouts become ``TransportError``.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload
from urllib.parse import urlsplit

import pysnow
import requests
from requests.auth import HTTPBasicAuth

from connector.errors import (
    DataError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
)
from connector.http import USER_AGENT, RetryPolicy, build_session, redact, send
from connector.servicenow import query as q
from connector.servicenow.answers import (
    SERVICE,
    as_record,
    one_record,
    result_of,
    status_error,
    translate,
    write_may_retry,
)
from connector.servicenow.auth import OAuthTokenAuth
from connector.servicenow.batch import BATCH_RESENDS, JSON_HEADERS, encode_item, read_answer
from connector.servicenow.cookies import NoCookies
from connector.servicenow.limiter import AdaptiveLimit
from connector.servicenow.models import BatchRequest, BatchResponse, Record
from connector.servicenow.urls import check_name, check_sys_id

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

# The instance refuses request bodies over 10 MB (400 "Rejected large REST payload").
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class ServiceNowClient:
    """Talk to one ServiceNow instance; safe to share between threads."""

    def __init__(
        self,
        instance_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        oauth: Mapping[str, Any] | OAuthTokenAuth | None = None,
        verify: bool | str = True,
        timeout: float | tuple[float, float] = (5, 60),
        max_concurrent: int = 8,
        retry: RetryPolicy | None = None,
    ) -> None:
        parts = urlsplit(instance_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"instance_url must look like https://<host>[:port], got {instance_url!r}"
            )
        if parts.path.strip("/") or parts.query:
            raise ValueError(f"instance_url must not have a path, got {instance_url!r}")
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.base_url = f"{parts.scheme}://{parts.netloc}"
        auth: Any
        if oauth is not None:
            auth = (
                oauth
                if isinstance(oauth, OAuthTokenAuth)
                else OAuthTokenAuth.from_config(
                    oauth, self.base_url, verify=verify, timeout=timeout
                )
            )
        elif username and password:
            auth = HTTPBasicAuth(username, password)
        else:
            raise ValueError("give username and password, or oauth settings")
        self.auth = auth
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self.retry = retry or RetryPolicy()
        self._session = build_session(
            verify=verify, timeout=timeout, pool_size=max_concurrent, auth=auth
        )
        self._session.cookies.set_policy(NoCookies())
        self._snow = pysnow.Client(
            host=parts.netloc, use_ssl=parts.scheme == "https", session=self._session
        )
        # pysnow replaced the User-Agent (keep ours so the instance's logs name the connector)
        # and lower-cased Accept/Content-Type (restore the usual spelling).
        self._session.headers["User-Agent"] = USER_AGENT
        self._session.headers.update(JSON_HEADERS)
        self._snow.parameters.display_value = False
        self._snow.parameters.exclude_reference_link = True
        self.slots = AdaptiveLimit(max_concurrent)
        self._batch_ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<ServiceNowClient {self.base_url}>"

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def __enter__(self) -> ServiceNowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- Table API -------------------------------------------------------------------------

    def get_record(
        self, table: str, sys_id: str, *, fields: Sequence[str] | None = None
    ) -> Record | None:
        """Return one record, or None when it does not exist (404)."""
        path = f"/{check_sys_id(sys_id)}"

        def call() -> Record:
            res = self._resource(f"/table/{check_name(table)}")
            if fields:
                res.parameters.fields = list(fields)
            return one_record(res.request("GET", path_append=path))

        try:
            return self._call(f"GET {table}/{sys_id}", call, write=False)
        except NotFound:
            return None

    def query(
        self,
        table: str,
        query: str = "",
        *,
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        page_size: int = 1000,
        order_by: str | Sequence[str] | None = None,
    ) -> list[Record]:
        """Return the records matching an encoded query, paging by offset until a short page.

        ``order_by`` names fields, ``-field`` for descending; without it (and without an
        ``ORDERBY`` in the query) rows are ordered by sys_id so offset paging is stable.
        """
        return self._paged(
            f"/table/{check_name(table)}",
            q.ordered(query, order_by),
            fields=fields,
            limit=limit,
            page_size=page_size,
        )

    def create_record(self, table: str, fields: Mapping[str, Any]) -> Record:
        """Insert a record (POST, 201) and return it as stored."""
        payload = dict(fields)

        def call() -> Record:
            return one_record(self._resource(f"/table/{check_name(table)}").create(payload))

        return self._call(f"POST {table}", call, write=True)

    def update_record(self, table: str, sys_id: str, fields: Mapping[str, Any]) -> Record:
        """Change some fields of a record (PATCH) and return the whole record."""
        path = f"/{check_sys_id(sys_id)}"
        payload = dict(fields)

        def call() -> Record:
            res = self._resource(f"/table/{check_name(table)}")
            return one_record(res.request("PATCH", path_append=path, json=payload))

        return self._call(f"PATCH {table}/{sys_id}", call, write=True)

    def delete_record(self, table: str, sys_id: str) -> bool:
        """Delete a record; return False when it did not exist (404), which a retry can cause."""
        path = f"/{check_sys_id(sys_id)}"

        def call() -> None:
            res = self._resource(f"/table/{check_name(table)}")
            res.request("DELETE", path_append=path).one()

        try:
            self._call(f"DELETE {table}/{sys_id}", call, write=False)
        except NotFound:
            return False
        return True

    # ---- Attachment and Email APIs -----------------------------------------------------------

    def attach_file(
        self, table: str, sys_id: str, file_name: str, content: bytes, content_type: str
    ) -> Record:
        """Upload a file to a record and return the attachment's metadata."""
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise DataError(
                f"attachment {file_name!r} is {len(content)} bytes; "
                f"ServiceNow refuses bodies over {MAX_ATTACHMENT_BYTES} bytes"
            )
        if not file_name:
            raise DataError("attachment needs a file name")
        url = f"{self.base_url}/api/now/attachment/file"
        params = {
            "table_name": check_name(table),
            "table_sys_id": check_sys_id(sys_id),
            "file_name": file_name,
        }
        headers = {"Content-Type": content_type or "application/octet-stream"}
        headers["Accept"] = "application/json"

        def call() -> Record:
            response = send(
                self._session,
                "POST",
                url,
                service=SERVICE,
                params=params,
                data=content,
                headers=headers,
                timeout=self.timeout,
            )
            return as_record(result_of(response))

        return self._call(f"attach {file_name!r} to {table}/{sys_id}", call, write=True)

    def list_attachments(self, table: str, sys_id: str) -> list[Record]:
        """Return the metadata of every attachment of a record."""
        query = q.all_of(
            q.equals("table_name", check_name(table), q.name),
            q.equals("table_sys_id", check_sys_id(sys_id)),
        )
        return self._paged("/attachment", query, fields=None, limit=None, page_size=1000)

    def send_email(
        self,
        *,
        to: Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        table_name: str | None = None,
        table_record_id: str | None = None,
    ) -> str:
        """Queue an email through the Email API and return its sys_email id."""
        if isinstance(to, str) or not to or not all(isinstance(a, str) and a for a in to):
            raise DataError("email needs a non-empty list of recipient addresses")
        if len(to) > 100:
            raise DataError("the Email API takes at most 100 recipients")
        if bool(table_name) != bool(table_record_id):
            raise DataError("give both table_name and table_record_id, or neither")
        payload: dict[str, Any] = {"to": list(to), "subject": subject, "text": text}
        if html is not None:
            payload["html"] = html
        if table_name:
            payload["table_name"] = check_name(table_name)
            payload["table_record_id"] = check_sys_id(table_record_id or "")

        def call() -> str:
            # The instance may answer 200 or 201; any 2xx with result.id will do.
            result = one_record(self._resource("/v1/email").create(payload))
            email_id = result.get("id") if isinstance(result, dict) else None
            if not isinstance(email_id, str) or not email_id:
                raise ProtocolError("Email API answer has no result.id", service=SERVICE)
            return email_id

        return self._call("POST email", call, write=True)

    # ---- Batch API ---------------------------------------------------------------------------

    def batch(
        self,
        items: Sequence[BatchRequest],
        *,
        before_send: Callable[[], None] | None = None,
    ) -> list[BatchResponse]:
        """Send requests through the Batch API; return one response per item, in order.

        A failed item does not raise: its response carries ``error``. Items the instance left
        unserviced (size or time limit) are resent up to three times. ``before_send`` runs
        before every attempt (retries and resends too) and may raise to stop the call: the
        importer checks there that it still holds its sessions' leases before writing.
        """
        if not items:
            return []
        ids = [str(item.id) for item in items]
        if len(set(ids)) != len(ids):
            raise DataError("batch request ids must be unique")
        reads_only = all(item.method.upper() == "GET" for item in items)
        pending = {str(item.id): encode_item(item) for item in items}
        done: dict[str, BatchResponse] = {}
        for round_ in range(1 + BATCH_RESENDS):
            if round_:
                log.info("resending %d unserviced ServiceNow batch items", len(pending))
            batch_id = str(next(self._batch_ids))
            # Encoded before the slot is taken and decoded after it is given back: the slot
            # stands for the instance's, which is idle while this client works on the JSON.
            payload = json.dumps(
                {"batch_request_id": batch_id, "rest_requests": list(pending.values())}
            )

            def send_once(payload: str = payload) -> requests.Response:
                if before_send is not None:
                    before_send()
                return self._post_batch(payload)

            def read(response: requests.Response, batch_id: str = batch_id) -> list[BatchResponse]:
                return read_answer(response, batch_id)

            serviced = self._call(
                f"POST batch of {len(pending)}", send_once, write=not reads_only, then=read
            )
            for response in serviced:
                if response.id in pending:
                    done[response.id] = response
                    del pending[response.id]
            # Items neither serviced nor listed as unserviced are treated as unserviced too.
            if not pending:
                break
        for item_id in pending:
            done[item_id] = BatchResponse(
                id=item_id,
                status_code=0,
                body=None,
                error=ServerError(
                    f"batch item {item_id} was not serviced after {1 + BATCH_RESENDS} attempts",
                    service=SERVICE,
                ),
            )
        return [done[item_id] for item_id in ids]

    def _post_batch(self, payload: str) -> requests.Response:
        response = send(
            self._session,
            "POST",
            f"{self.base_url}/api/now/v1/batch",
            service=SERVICE,
            data=payload,
            headers=JSON_HEADERS,
            timeout=self.timeout,
        )
        if not 200 <= response.status_code < 300:
            raise status_error(response)
        return response

    # ---- health ------------------------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        """Check that the instance answers and accepts our credentials (one cheap GET)."""
        started = time.monotonic()

        def call() -> None:
            res = self._resource("/table/sys_user")
            res.get(query="", limit=1, fields=["sys_id"]).all()

        self._call("ping", call, write=False, attempts=1)
        return {
            "ok": True,
            "instance": self.base_url,
            "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
        }

    # ---- plumbing ----------------------------------------------------------------------------

    def _resource(self, api_path: str) -> Any:
        # A fresh resource per call: parameters leak between calls on one pysnow resource.
        return self._snow.resource(api_path=api_path, timeout=self.timeout)

    def _paged(
        self,
        api_path: str,
        query: str,
        *,
        fields: Sequence[str] | None,
        limit: int | None,
        page_size: int,
    ) -> list[Record]:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        rows: list[Record] = []
        offset = 0
        while True:
            size = page_size if limit is None else min(page_size, limit - len(rows))
            if size <= 0:
                return rows

            def call(size: int = size, offset: int = offset) -> list[Record]:
                res = self._resource(api_path)
                # We page by short page, never by X-Total-Count, so spare the count query.
                res.parameters.add_custom({"sysparm_no_count": "true"})
                try:
                    page = res.get(
                        query=query, limit=size, offset=offset, fields=list(fields or [])
                    ).all()
                except requests.HTTPError as exc:
                    # Versioned v1 list endpoints answer 404 instead of an empty list.
                    if exc.response is not None and exc.response.status_code == 404:
                        return []
                    raise
                return [as_record(row) for row in page]

            page = self._call(f"GET {api_path} offset {offset}", call, write=False)
            rows.extend(page)
            if len(page) < size:
                return rows
            offset += len(page)

    @overload
    def _call(
        self, what: str, fn: Callable[[], T], *, write: bool, attempts: int | None = None
    ) -> T: ...

    @overload
    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        write: bool,
        attempts: int | None = None,
        then: Callable[[T], U],
    ) -> U: ...

    def _call(
        self,
        what: str,
        fn: Callable[[], Any],
        *,
        write: bool,
        attempts: int | None = None,
        then: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run ``fn`` in a slot and ``then`` on its result outside it, retrying what is safe."""

        def attempt() -> Any:
            with self.slots.slot() as outcome:
                try:
                    result = translate(fn)
                except RateLimited:
                    outcome.congested = True
                    raise
                outcome.ok = True
            return result if then is None else translate(lambda: then(result))

        return self.retry.run(
            attempt,
            what=f"ServiceNow {redact(what)}",
            retry_if=write_may_retry if write else None,
            attempts=attempts,
        )
