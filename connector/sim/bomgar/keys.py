"""Session keys: minted by generate_session_key, used once a customer enters one."""

from __future__ import annotations

import secrets
import threading
import time

from connector.sim.bomgar.directory import Directory
from connector.sim.bomgar.models import SessionKey, SimError


class SessionKeys(Directory):
    """Mint and check session keys for a queue; a room of the appliance's state."""

    lock: threading.RLock
    keys: dict[str, SessionKey]

    def generate_key(
        self, queue_id: str, ttl: int | None, custom: dict[str, str], by: str
    ) -> SessionKey:
        """Create a session key for a queue."""
        queue = self.resolve_queue(queue_id)
        custom = self.check_custom(custom)
        ttl = self.options.session_key_ttl if ttl is None else ttl
        if ttl <= 0:
            raise SimError("ttl must be a positive number of seconds.")
        with self.lock:
            while True:
                short_key = f"{secrets.randbelow(10_000_000):07d}"
                if short_key not in self.keys:
                    break
            key = SessionKey(short_key, queue, int(time.time()) + ttl, custom, by)
            self.keys[short_key] = key
            return key

    def use_key(self, short_key: str) -> SessionKey:
        """Return a valid, unexpired key."""
        key = self.keys.get((short_key or "").strip())
        if key is None or key.expires <= time.time():
            raise SimError("The session key is invalid or has expired.", 404)
        return key
