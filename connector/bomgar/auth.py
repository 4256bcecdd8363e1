"""The appliance's OAuth client credentials: one token per client, shared by every thread.

The appliance keeps at most 30 live tokens per API account and silently invalidates the oldest,
so minting per call or per worker would kill tokens still in use: the token is cached until a
minute before it expires, and renewed once when the appliance refuses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from requests.auth import HTTPBasicAuth

from connector.errors import AuthError, StatusError
from connector.http import RateGate, TimeoutSession, send

SERVICE = "bomgar"
TOKEN_RENEW_MARGIN = 60.0
DEFAULT_TOKEN_LIFETIME = 3600.0


class BomgarTokenAuth:
    """Mint, cache and drop the bearer token of one API account."""

    def __init__(
        self,
        session: TimeoutSession,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        gate: RateGate,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._gate = gate
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self.tokens_minted = 0

    def bearer(self) -> str:
        """Return a valid token, minting one only when none is cached or it is about to expire."""
        with self._lock:
            if self._token and self.clock() < self._token_expires - TOKEN_RENEW_MARGIN:
                return self._token
            token, lifetime = self._fetch_token()
            self._token = token
            self._token_expires = self.clock() + lifetime
            self.tokens_minted += 1
            return token

    def invalidate(self, token: str) -> None:
        """Forget a token the appliance refused, unless another thread already replaced it."""
        with self._lock:
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
