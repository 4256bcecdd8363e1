"""The one place outbound HTTP sessions are built: timeouts, TLS, retries and redaction."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from connector import __version__
from connector.errors import RemoteError, TransportError

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = f"bomgar-servicenow-connector/{__version__}"
DEFAULT_TIMEOUT = (5.0, 60.0)

_SECRET_PARAMS = re.compile(
    r"(?i)((?:outbound_event_token|password|client_secret|access_token|token|secret)=)[^&\s]*"
)


def redact(text: str) -> str:
    """Hide secret query or form values in a URL or body before it is logged."""
    return _SECRET_PARAMS.sub(r"\1***", text)


class TimeoutSession(requests.Session):
    """A requests.Session that never sends a request without a timeout."""

    def __init__(self, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request, filling in the session's timeout when the caller gave none."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def build_session(
    *,
    verify: bool | str = True,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    pool_size: int = 10,
    auth: Any = None,
    headers: dict[str, str] | None = None,
) -> TimeoutSession:
    """Build a session with a mandatory timeout, TLS settings and a connection pool."""
    session = TimeoutSession(timeout)
    session.verify = verify
    # The environment (REQUESTS_CA_BUNDLE, proxies) must not silently override the configured CA.
    session.trust_env = False
    session.auth = auth
    session.headers["User-Agent"] = USER_AGENT
    if headers:
        session.headers.update(headers)
    # Retries are done by call_with_retries, which knows which calls are safe to repeat.
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def send(
    session: requests.Session, method: str, url: str, *, service: str, **kwargs: Any
) -> requests.Response:
    """Send one request, turning transport failures into TransportError."""
    try:
        return session.request(method, url, **kwargs)
    except requests.Timeout as exc:
        raise TransportError(f"timed out calling {redact(url)}", service=service) from exc
    except requests.ConnectionError as exc:
        raise TransportError(
            f"connection failed calling {redact(url)}: {type(exc).__name__}", service=service
        ) from exc
    except requests.RequestException as exc:
        raise TransportError(f"request to {redact(url)} failed: {exc}", service=service) from exc


# Failures that happen before a byte of the request leaves: connecting was refused or timed out.
_NOT_SENT = (
    ConnectTimeoutError,
    NewConnectionError,
    requests.ConnectTimeout,
    ConnectionRefusedError,
)


def never_sent(exc: BaseException) -> bool:
    """Tell whether a transport failure happened before any byte of the request was sent.

    Only then is resending a write certainly safe: the connection was refused, the name did not
    resolve, or connecting timed out. Anything later (a read timeout, a reset) may have reached
    the other side.
    """
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        # NewConnectionError (refused, DNS) is a ConnectTimeoutError in urllib3 2.
        if isinstance(
            current,
            ConnectTimeoutError
            | NewConnectionError
            | requests.ConnectTimeout
            | ConnectionRefusedError,
        ):
            return True
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(current.args)
    return False


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Retry-After up to a cap."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Return how long to wait before retry number ``attempt`` (1-based).

        Retry-After wins (up to its cap); otherwise the delay doubles per attempt up to ``cap``,
        drawn from its upper half so retries spread out but still back off.
        """
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.retry_after_cap)
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def run(
        self,
        fn: Callable[[], T],
        *,
        what: str = "call",
        retry_if: Callable[[RemoteError], bool] | None = None,
        attempts: int | None = None,
    ) -> T:
        """Call ``fn`` until it succeeds, fails for good or attempts run out.

        ``retry_if`` decides which errors are worth another try (default: non-permanent ones);
        callers narrow it for calls that must not be repeated once sent.
        """
        limit = attempts or self.attempts
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except RemoteError as exc:
                retryable = (not exc.permanent) if retry_if is None else retry_if(exc)
                if not retryable or attempt >= limit:
                    raise
                wait = self.delay(attempt, exc)
                log.warning(
                    "retrying %s after %s (attempt %d of %d, waiting %.2fs)",
                    what,
                    exc,
                    attempt,
                    limit,
                    wait,
                )
                self.sleep(wait)


class RateGate:
    """Limit calls per second across threads (a token bucket of one-second width)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next call is allowed."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)
