"""The emulated appliance's state: one ``SimState`` per app, its rooms behind one lock.

``SimState`` lives in ``app.extensions["bomgar_sim"]``. It is assembled from rooms, each in its
own module: the directory (reps, teams, queues), Jump Clients, session keys, the session life
cycle and the script player; API accounts, tokens and limits, outbound event delivery, faults
and stats are objects it holds.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from connector.sim.bomgar.accounts import RateLimiter, TokenStore
from connector.sim.bomgar.delivery import EventDelivery
from connector.sim.bomgar.directory import load_seed
from connector.sim.bomgar.keys import SessionKeys
from connector.sim.bomgar.options import SimOptions
from connector.sim.bomgar.player import ScriptPlayer
from connector.sim.faults import Faults, FaultSettings, Stats


class EndpointStats(Stats):
    """Count requests per endpoint label (e.g. ``api/reporting SupportSession``) and faults."""

    def count(self, label: str) -> None:  # type: ignore[override]
        """Count one request."""
        self._bump(label)


class SimState(ScriptPlayer, SessionKeys):
    """The whole emulated appliance."""

    def __init__(self, options: SimOptions) -> None:
        self.options = options
        self.seed = load_seed(options.seed_file)
        self.lock = threading.RLock()
        self.tokens = TokenStore(options.token_lifetime, options.max_tokens)
        self.limiter = RateLimiter(options.config_rate_per_second, options.config_rate_per_hour)
        self.stats = EndpointStats()
        fault_opts = dict(options.faults)
        self.malformed_rate = float(fault_opts.pop("malformed_rate", 0.0))
        settings = FaultSettings()
        settings.update(fault_opts)
        self.faults = Faults(settings)
        self.delivery = EventDelivery(
            options.events_urls,
            retry_interval=options.retry_interval,
            retry_period=options.retry_period,
            timeout=options.delivery_timeout,
        )
        self._load_directory()
        self._load_jump_clients()
        self.sessions = {}
        self.keys = {}
        self.installers: dict[str, dict[str, Any]] = {}
        self.start_requests: deque[dict[str, Any]] = deque(maxlen=200)
        self._lseq = 0

    def close(self) -> None:
        """Stop background threads."""
        self.delivery.stop()

    def reset(self) -> None:
        """Forget sessions, keys, tokens, events, stats and faults; reload the seed."""
        with self.lock:
            self.sessions.clear()
            self.keys.clear()
            self.installers.clear()
            self.start_requests.clear()
            self._lseq = 0
            self._load_directory()
            self._load_jump_clients()
        self.tokens.revoke()
        self.limiter.reset()
        self.stats.reset()
        self.faults.reset()
        self.malformed_rate = 0.0
        self.delivery.clear()
