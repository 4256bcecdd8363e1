"""OAuth 2.0 bearer authentication for ServiceNow, shared by every thread of one client.

pysnow's ``OAuthClient`` is unsuitable: it insists on a refresh token (client-credentials grants
return none) and renews only on local expiry, never after a server 401. ``OAuthTokenAuth`` is a
``requests`` auth hook instead:

- it fetches a token from ``/oauth_token.do`` with a form POST, client credentials in the form
  fields (JSON bodies are refused by the instance);
- it renews the token shortly before it expires, with the ``refresh_token`` grant when the
  instance gave a refresh token and the configured grant otherwise;
- on a 401 it renews once and resends the request once; a second 401 reaches the caller.

Tokens and secrets are never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.auth import AuthBase

from connector.errors import ProtocolError, RemoteError, StatusError
from connector.http import DEFAULT_TIMEOUT, build_session, send

log = logging.getLogger(__name__)

SERVICE = "servicenow"
GRANTS = ("password", "client_credentials")
# ServiceNow's default access-token lifetime is 1800 s and the answer says 1799.
DEFAULT_EXPIRES_IN = 1799.0


class OAuthTokenAuth(AuthBase):
    """Add ``Authorization: Bearer <token>`` to every request, renewing the token as needed."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        grant_type: str = "password",
        username: str | None = None,
        password: str | None = None,
        verify: bool | str = True,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        skew: float = 60.0,
    ) -> None:
        if grant_type not in GRANTS:
            raise ValueError(f"oauth grant_type must be one of {', '.join(GRANTS)}")
        if not client_id or not client_secret:
            raise ValueError("oauth needs client_id and client_secret")
        if grant_type == "password" and not (username and password):
            raise ValueError("the oauth password grant needs username and password")
        self.token_url = token_url
        self.grant_type = grant_type
        self._client_id = client_id
        self._client_secret = client_secret
        self._username = username
        self._password = password
        # Its own session: the API session carries this auth, the token request must not.
        self._session = session or build_session(verify=verify, timeout=timeout, pool_size=2)
        self.clock = clock
        self.skew = skew
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        instance_url: str,
        *,
        verify: bool | str = True,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> OAuthTokenAuth:
        """Build from the ``oauth`` mapping of the client (token_url defaults to the instance's)."""
        known = {"client_id", "client_secret", "grant_type", "username", "password", "token_url"}
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown oauth settings: {', '.join(sorted(unknown))}")
        return cls(
            token_url=config.get("token_url") or instance_url.rstrip("/") + "/oauth_token.do",
            client_id=config.get("client_id", ""),
            client_secret=config.get("client_secret", ""),
            grant_type=config.get("grant_type", "password"),
            username=config.get("username"),
            password=config.get("password"),
            verify=verify,
            timeout=timeout,
        )

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the bearer header and the renew-once-on-401 hook to a request."""
        r.headers["Authorization"] = f"Bearer {self.token()}"
        r.register_hook("response", self._on_response)
        return r

    def token(self) -> str:
        """Return a valid access token, fetching or renewing it first when needed."""
        with self._lock:
            if self._access is None or self.clock() >= self._expires_at:
                self._renew(rejected=None)
            assert self._access is not None
            return self._access

    def invalidate(self) -> None:
        """Forget the access token so the next request renews it."""
        with self._lock:
            self._access = None

    def _on_response(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        if r.status_code != 401 or getattr(r.request, "_bearer_renewed", False):
            return r
        used = (r.request.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            # Another thread may already have renewed after the same 401.
            if self._access is None or self._access == used:
                self._renew(rejected=used)
            token = self._access
        log.info("ServiceNow rejected the bearer token (401); renewed it and resending once")
        r.content  # noqa: B018 - drain the body so the connection goes back to the pool
        r.close()
        again = r.request.copy()
        again._bearer_renewed = True  # type: ignore[attr-defined]
        again.headers["Authorization"] = f"Bearer {token}"
        new = r.connection.send(again, **kwargs)
        new.history.append(r)
        new.request = again
        return new

    def _renew(self, *, rejected: str | None) -> None:
        """Fetch a new token; call with the lock held."""
        if self._refresh:
            try:
                data = self._grant({"grant_type": "refresh_token", "refresh_token": self._refresh})
            except RemoteError as exc:
                log.warning(
                    "ServiceNow refresh-token grant failed (%s); using %s", exc, self.grant_type
                )
                self._refresh = None
            else:
                # While the old token is still valid the instance hands the same one back.
                if data["access_token"] != rejected:
                    self._store(data, "refresh_token")
                    return
        form = {"grant_type": self.grant_type}
        if self.grant_type == "password":
            form["username"] = self._username or ""
            form["password"] = self._password or ""
        self._store(self._grant(form), self.grant_type)

    def _grant(self, form: dict[str, str]) -> dict[str, Any]:
        form = dict(form, client_id=self._client_id, client_secret=self._client_secret)
        response = send(
            self._session,
            "POST",
            self.token_url,
            service=SERVICE,
            data=form,
            headers={"Accept": "application/json"},
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            text = "OAuth token request failed"
            if isinstance(body, dict):
                reason = body.get("error_description") or body.get("error")
                if reason:
                    text = f"{text}: {reason}"
            raise StatusError.from_response(response, service=SERVICE, message=text)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ProtocolError("OAuth token answer has no access_token", service=SERVICE)
        return body

    def _store(self, data: dict[str, Any], grant: str) -> None:
        try:
            expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN
        self._access = data["access_token"]
        # Client-credentials answers carry no refresh token; keep one we already have otherwise.
        self._refresh = data.get("refresh_token") or (
            self._refresh if grant == "refresh_token" else None
        )
        self._expires_at = self.clock() + expires_in - min(self.skew, expires_in / 2)
        log.info(
            "obtained a ServiceNow OAuth token (%s grant, expires in %.0fs)", grant, expires_in
        )
