"""Run-time state of one emulator app: options, schema, records, faults, tokens and counters."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from typing import Any

from connector.sim.faults import Decision, Faults, FaultSettings
from connector.sim.servicenow.commit import Committed, builtin_update_set, parse_update_set
from connector.sim.servicenow.cost import InstanceStats
from connector.sim.servicenow.records import Actor
from connector.sim.servicenow.schema import Schema, SchemaError
from connector.sim.servicenow.store import Store

DEFAULT_MAX_BODY = 10485760
RATE_RULE_ID = "0f6e6a5c1b3a30109f8b0e6ecd4bcb7e"


@dataclass
class InstanceFaults:
    """ServiceNow-specific knobs on top of FaultSettings; 0 / False means off."""

    max_concurrent: int = 0  # requests in progress beyond this get 429 (semaphore exhaustion)
    # Requests beyond max_concurrent that wait for a slot instead; those beyond get 429.
    max_queued: int = 0
    # Server time per record a request reads (a query returns, a GET by sys_id looks up) and
    # writes (inserts, updates, deletes, journal entries), spent while holding the slot.
    read_ms: float = 0.0
    write_ms: float = 0.0
    hourly_limit: int = 0  # requests per clock hour before 429 with Retry-After (rate-limit rule)
    # Serve only this many items per batch, list the rest unserviced.
    batch_unserviced_after: int = 0
    # Share of batches whose time budget runs out at a random item: it and the rest go unserviced.
    batch_cutoff_rate: float = 0.0
    # Share of batch items answered with a status from batch_item_error_statuses, not run.
    batch_item_error_rate: float = 0.0
    # Share of batch items that run and commit, then are answered 500 (a cancelled transaction).
    batch_item_error_after_rate: float = 0.0
    batch_item_error_statuses: tuple[int, ...] = (429, 500)
    invalid_query_returns_no_rows: bool = False  # glide.invalid_query.returns_no_rows

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes from the control API, rejecting bad values."""
        staged = asdict(self)
        for name, value in changes.items():
            current = staged[name]
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false, got {value!r}")
            elif isinstance(current, tuple):
                value = tuple(int(v) for v in value)
                if not value or any(v < 400 or v > 599 for v in value):
                    raise ValueError(f"{name} must list error statuses (400-599), got {value!r}")
            elif name.endswith("_ms"):
                value = float(value)
                if not value >= 0.0:  # also refuses NaN
                    raise ValueError(f"{name} must not be negative, got {value!r}")
            elif isinstance(current, float):
                value = float(value)
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
            else:
                value = int(value)
                if value < 0:
                    raise ValueError(f"{name} must not be negative, got {value!r}")
            staged[name] = value
        if staged["batch_item_error_rate"] + staged["batch_item_error_after_rate"] > 1.0:
            raise ValueError("the batch item error rates add up to more than 1")
        for name, value in staged.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data."""
        data = asdict(self)
        data["batch_item_error_statuses"] = list(self.batch_item_error_statuses)
        return data


INSTANCE_FAULT_NAMES = {f.name for f in fields(InstanceFaults)}


@dataclass
class Options:
    """Everything create_app accepts, with defaults."""

    user: str = "admin"
    password: str = "admin"
    oauth_client_id: str = "connector"
    oauth_client_secret: str = "connector-secret"
    client_credentials_enabled: bool = True
    token_lifetime: float = 1800.0
    schema_files: tuple[str, ...] = ()
    seed_file: str | None = None
    data_file: str | None = None
    base_url_override: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    # The update set committed at start: None = the connector's own, a path = that file,
    # False = none (the instance has the base tables only).
    update_set: str | bool | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> tuple[Options, FaultSettings, InstanceFaults]:
        """Split create_app options into options, shared faults and instance faults."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"faults"}
        if unknown:
            raise ValueError(f"unknown emulator option(s): {', '.join(sorted(unknown))}")
        values = {k: v for k, v in data.items() if k in known and v is not None}
        if "schema_files" in values:
            values["schema_files"] = tuple(values["schema_files"])
        options = cls(**values)
        settings, instance = split_faults(dict(data.get("faults") or {}))
        return options, settings, instance


def split_faults(changes: dict[str, Any]) -> tuple[FaultSettings, InstanceFaults]:
    """Build fresh fault settings from one dict holding both kinds of keys."""
    settings = FaultSettings()
    instance = InstanceFaults()
    instance.update({k: v for k, v in changes.items() if k in INSTANCE_FAULT_NAMES})
    settings.update({k: v for k, v in changes.items() if k not in INSTANCE_FAULT_NAMES})
    return settings, instance


def committed_update_sets(options: Options) -> list[Committed]:
    """Read the update set the options name (the connector's own unless started bare)."""
    if options.update_set is False or options.update_set == "":
        return []
    if options.update_set is None or options.update_set is True:
        return [builtin_update_set()]
    path = str(options.update_set)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read update set: {exc}") from exc
    return [parse_update_set(data, path)]


def build_schema(options: Options) -> tuple[Schema, list[Committed]]:
    """Return the schema (base, committed update sets, extra files) and the commits it holds."""
    commits = committed_update_sets(options)
    schema = Schema.load(list(options.schema_files), [c.tables for c in commits])
    return schema, commits


@dataclass
class Token:
    """One issued OAuth token."""

    user: str
    client_id: str
    expires_at: float
    refresh: str | None = None


class SimState:
    """Everything one app instance keeps; lives in app.extensions["servicenow_sim"]."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options, settings, self.instance_faults = Options.from_dict(dict(options or {}))
        self.initial_faults = (asdict(settings), asdict(self.instance_faults))
        self.schema, self.commits = build_schema(self.options)
        self.store = Store(self.schema, self.options.data_file, self.options.seed_file)
        for commit in self.commits:
            self._commit_records(commit)
        self.store.actor(self.options.user)  # make sure the API user exists as a sys_user
        self.faults = Faults(settings)
        self.stats = InstanceStats()
        self.lock = threading.Lock()
        self.slot_freed = threading.Condition(self.lock)
        self.in_flight = 0
        self.queued = 0
        self.window_start = 0.0
        self.window_count = 0
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.sessions: OrderedDict[str, str] = OrderedDict()
        self.basic_cache: dict[str, str] = {}  # verified Authorization header -> user
        self._actors: dict[str, tuple[int, Actor]] = {}

    def cached_actor(self, user: str) -> Actor:
        """Return the actor for a user, re-reading sys_user only after it changed."""
        version = self.store.user_version
        hit = self._actors.get(user)
        if hit is not None and hit[0] == version:
            return hit[1]
        actor = self.store.actor(user)
        self._actors[user] = (self.store.user_version, actor)
        return actor

    # ------------------------------------------------------------------ update sets

    def _commit_records(self, commit: Committed) -> None:
        for table_name, rows in commit.records.items():
            self.store.commit_records(table_name, rows)

    def load_update_set(self, data: bytes, where: str = "<posted update set>") -> Committed:
        """Commit an update set at run time: new tables, columns, choices, properties, ACLs."""
        commit = parse_update_set(data, where)
        with self.store.lock:
            # Build a throw-away schema first, so a broken set leaves the live one untouched.
            Schema.load(
                list(self.options.schema_files), [c.tables for c in [*self.commits, commit]]
            )
            self.schema.add_tables(commit.tables, where)
            self.schema.link()
            self.store.add_tables()
            self._commit_records(commit)
            self.commits.append(commit)
        return commit

    # ------------------------------------------------------------------ faults

    def fault_settings(self) -> dict[str, Any]:
        """Return both kinds of fault settings as one dict."""
        return self.faults.settings.as_dict() | self.instance_faults.as_dict()

    def configure_faults(self, changes: dict[str, Any]) -> None:
        """Change faults at run time; all-or-nothing on a bad value."""
        trial = InstanceFaults(**asdict(self.instance_faults))
        trial.update({k: v for k, v in changes.items() if k in INSTANCE_FAULT_NAMES})
        check = FaultSettings(
            **{k: getattr(self.faults.settings, k) for k in FaultSettings.__dataclass_fields__}
        )
        shared = {k: v for k, v in changes.items() if k not in INSTANCE_FAULT_NAMES}
        check.update(shared)
        self.faults.configure(shared)
        with self.lock:
            if trial.hourly_limit != self.instance_faults.hourly_limit:
                self.window_count = 0
            self.instance_faults = trial
            self.slot_freed.notify_all()  # a raised cap lets queued requests in

    def reset(self) -> None:
        """Restore the seed, clear stats, tokens, sessions and every fault."""
        self.store.reset()
        self.store.actor(self.options.user)
        self.stats.reset()
        self.faults.reset(FaultSettings())
        with self.lock:
            self.instance_faults = InstanceFaults()
            self.slot_freed.notify_all()
            self.window_count = 0
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.sessions.clear()
            self.basic_cache.clear()
            self._actors.clear()

    def batch_cutoff(self, items: int) -> int | None:
        """Return the index at which this batch's time budget runs out, or None when it does not."""
        rate = self.instance_faults.batch_cutoff_rate
        if not rate or items < 1 or self.faults.random() >= rate:
            return None
        return int(self.faults.random() * items)

    def batch_item_fault(self, label: str) -> Decision | None:
        """Decide one batch item's fault (a scripted one for ``label`` first), or None."""
        scripted = self.faults.take_scripted(label)
        if scripted is not None:
            return scripted
        f = self.instance_faults
        if not (f.batch_item_error_rate or f.batch_item_error_after_rate):
            return None
        roll = self.faults.random()
        if roll < f.batch_item_error_rate:
            return Decision("error", "before", self.faults.choice(f.batch_item_error_statuses))
        if roll < f.batch_item_error_rate + f.batch_item_error_after_rate:
            return Decision("error", "after", 500)
        return None

    # ------------------------------------------------------------------ limits

    def enter(self) -> bool:
        """Take a concurrency slot, waiting in the queue if it has room; False means 429."""
        with self.lock:
            if self._full():
                if self.queued >= self.instance_faults.max_queued:
                    return False
                self.queued += 1
                try:
                    while self._full():
                        self.slot_freed.wait()
                finally:
                    self.queued -= 1
            self.in_flight += 1
            return True

    def _full(self) -> bool:
        cap = self.instance_faults.max_concurrent
        return bool(cap) and self.in_flight >= cap

    def leave(self) -> None:
        """Give a concurrency slot back to the next queued request."""
        with self.lock:
            self.in_flight -= 1
            self.slot_freed.notify()

    def count_hourly(self) -> tuple[int, int, bool]:
        """Count one request in the clock hour; return (limit, reset epoch, allowed)."""
        limit = self.instance_faults.hourly_limit
        now = time.time()
        start = now - now % 3600
        with self.lock:
            if start != self.window_start:
                self.window_start, self.window_count = start, 0
            self.window_count += 1
            allowed = self.window_count <= limit
        return limit, int(start + 3600), allowed

    # ------------------------------------------------------------------ auth

    def issue_token(self, user: str, client_id: str, with_refresh: bool) -> dict[str, Any]:
        """Create an access token (and a refresh token) and return the token response."""
        lifetime = self.options.token_lifetime
        access = secrets.token_urlsafe(48)
        refresh = secrets.token_urlsafe(48) if with_refresh else None
        with self.lock:
            self.access_tokens[access] = Token(user, client_id, time.time() + lifetime, refresh)
            if refresh:
                self.refresh_tokens[refresh] = Token(user, client_id, time.time() + 8640000, access)
        body: dict[str, Any] = {
            "access_token": access,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": int(lifetime) - 1,
        }
        if refresh:
            body["refresh_token"] = refresh
        return body

    def token_user(self, token: str) -> str | None:
        """Return the user of a valid access token."""
        with self.lock:
            found = self.access_tokens.get(token)
            if found is None:
                return None
            if found.expires_at <= time.time():
                del self.access_tokens[token]
                return None
            return found.user

    def remember_session(self, user: str) -> str:
        """Start a cookie session for a user and return its id."""
        sid = secrets.token_hex(16).upper()
        with self.lock:
            self.sessions[sid] = user
            while len(self.sessions) > 10000:
                self.sessions.popitem(last=False)
        return sid

    def session_user(self, sid: str) -> str | None:
        """Return the user of a cookie session."""
        with self.lock:
            return self.sessions.get(sid)
