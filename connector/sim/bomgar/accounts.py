"""API accounts and legacy users, the bearer tokens they hold, and their rate limits."""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass
class Account:
    """An API account (OAuth client) or a legacy user."""

    client_id: str
    secret: str
    name: str = ""
    perm_command: str = "full"  # full | read_only | deny
    perm_reporting_support: bool = True
    perm_configuration: bool = False
    enabled: bool = True


def load_accounts(seed: dict[str, Any]) -> tuple[dict[str, Account], dict[str, Account]]:
    """Return the seed's API accounts and legacy users, each by client id or username."""
    accounts = {
        a["client_id"]: Account(
            client_id=a["client_id"],
            secret=a["client_secret"],
            name=a.get("name", ""),
            perm_command=a.get("perm_command", "full"),
            perm_reporting_support=bool(a.get("perm_reporting_support", True)),
            perm_configuration=bool(a.get("perm_configuration", False)),
            enabled=bool(a.get("enabled", True)),
        )
        for a in seed["api_accounts"]
    }
    legacy_users = {
        u["username"]: Account(
            client_id=u["username"],
            secret=u["password"],
            name=u.get("name", u["username"]),
            perm_command=u.get("perm_command", "full"),
            perm_reporting_support=bool(u.get("perm_reporting_support", True)),
        )
        for u in seed["legacy_users"]
    }
    return accounts, legacy_users


class TokenStore:
    """Bearer tokens per API account: fixed lifetime, at most ``cap`` live, oldest evicted."""

    def __init__(self, lifetime: float, cap: int) -> None:
        self.lifetime = lifetime
        self.cap = cap
        self._by_token: dict[str, tuple[str, float]] = {}
        self._by_account: dict[str, deque[str]] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, client_id: str) -> str:
        """Mint a token for the account, silently invalidating its oldest beyond the cap."""
        now = time.time()
        token = secrets.token_urlsafe(32)
        with self._lock:
            live = self._by_account.setdefault(client_id, deque())
            for old in list(live):
                entry = self._by_token.get(old)
                if entry is None or entry[1] <= now:
                    live.remove(old)
                    self._by_token.pop(old, None)
            while len(live) >= self.cap:
                self._by_token.pop(live.popleft(), None)
            live.append(token)
            self._by_token[token] = (client_id, now + self.lifetime)
            self.issued += 1
        return token

    def lookup(self, token: str) -> str | None:
        """Return the account of a live token, or None."""
        with self._lock:
            entry = self._by_token.get(token)
        if entry is None or entry[1] <= time.time():
            return None
        return entry[0]

    def revoke(self, client_id: str | None = None) -> int:
        """Invalidate every token (of one account, or of all); return how many."""
        with self._lock:
            accounts = [client_id] if client_id else list(self._by_account)
            count = 0
            for acc in accounts:
                for token in self._by_account.pop(acc, deque()):
                    if self._by_token.pop(token, None) is not None:
                        count += 1
            return count

    def live_count(self, client_id: str) -> int:
        """Count the account's tokens that are still valid."""
        now = time.time()
        with self._lock:
            return sum(
                1
                for t in self._by_account.get(client_id, ())
                if t in self._by_token and self._by_token[t][1] > now
            )


class RateLimiter:
    """Sliding one-second and one-hour windows per API account."""

    def __init__(self, per_second: int, per_hour: int) -> None:
        self.per_second = per_second
        self.per_hour = per_hour
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[bool, int, float]:
        """Record a request; return (allowed, remaining this hour, seconds to wait if refused)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - 3600:
                hits.popleft()
            if len(hits) >= self.per_hour:
                return False, 0, max(0.0, hits[0] + 3600 - now)
            for recent, t in enumerate(reversed(hits), start=1):
                if t <= now - 1.0:
                    break
                if recent >= self.per_second:
                    return False, self.per_hour - len(hits), max(0.0, t + 1.0 - now)
            hits.append(now)
            return True, self.per_hour - len(hits), 0.0

    def reset(self) -> None:
        """Forget every recorded request."""
        with self._lock:
            self._hits.clear()
