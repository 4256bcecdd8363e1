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

import time
from collections.abc import Callable

from connector.bomgar.auth import BomgarTokenAuth
from connector.bomgar.commands import CommandApi
from connector.bomgar.configuration import ConfigurationApi
from connector.bomgar.links import LinkBuilder
from connector.bomgar.reporting import ReportingApi
from connector.bomgar.xmldoc import DEFAULT_MAX_BYTES
from connector.http import RateGate, RetryPolicy, build_session


class BomgarClient(CommandApi, ReportingApi, ConfigurationApi, LinkBuilder):
    """A client for one appliance; thread-safe, share one instance per process.

    Its rooms: ``auth`` (the shared token), ``transport`` (one request), ``commands``,
    ``reporting``, ``configuration`` (Jump Clients) and ``links`` (browser links).
    """

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
        max_report_bytes: int = DEFAULT_MAX_BYTES,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        base_url = base_url.rstrip("/")
        session = build_session(verify=verify, timeout=timeout)
        gate = RateGate(max_per_second)
        self.client_id = client_id
        auth = None
        if not legacy_username:
            auth = BomgarTokenAuth(
                session, base_url, client_id, client_secret, gate=gate, clock=clock
            )
        super().__init__(
            base_url,
            session,
            auth,
            gate=gate,
            retry=retry or RetryPolicy(),
            use_ns_paths=use_ns_paths,
            max_report_bytes=max_report_bytes,
            legacy_username=legacy_username,
            legacy_password=legacy_password,
        )

    def __repr__(self) -> str:
        return f"BomgarClient({self.base_url!r}, client_id={self.client_id!r})"

    @property
    def tokens_minted(self) -> int:
        """Count the tokens this client minted (one per hour when all goes well)."""
        return self.auth.tokens_minted if self.auth else 0

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()
