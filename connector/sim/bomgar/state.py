"""The emulated appliance's state: seed, API accounts and tokens, session keys and sessions.

Everything lives in one ``SimState`` per app (``app.extensions["bomgar_sim"]``), guarded by one
lock. Session life-cycle methods record the session_details events the Reporting API shows and
queue the outbound events the appliance would post.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connector.sim.bomgar.delivery import EventDelivery
from connector.sim.bomgar.options import SimOptions
from connector.sim.faults import Faults, FaultSettings, Stats

log = logging.getLogger(__name__)

DEFAULT_SEED = Path(__file__).with_name("seed.yaml")

CUSTOM_VALUE_LIMIT = 1024
CUSTOM_TOTAL_LIMIT = 10 * 1024


class SimError(Exception):
    """A request the appliance would refuse; ``message`` is the vendor-style error text."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --------------------------------------------------------------------------- seed


def load_seed(path: str | Path | None) -> dict[str, Any]:
    """Load and normalise a seed file (the shipped one when path is None)."""
    source = Path(path) if path else DEFAULT_SEED
    with source.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    if not data.get("api_accounts"):
        raise ValueError(f"{source}: api_accounts: expected at least one account")
    data.setdefault("company_name", "Example Corp")
    data.setdefault("api_version", "1.19.0")
    data.setdefault("public_site", {"id": 1, "name": "Default", "hostname": "support.example.test"})
    for key in (
        "custom_fields",
        "reps",
        "teams",
        "issues",
        "customers",
        "jump_groups",
        "jumpoints",
        "jump_clients",
        "legacy_users",
    ):
        data[key] = list(data.get(key) or [])
    for rep in data["reps"]:
        rep["id"] = int(rep["id"])
        rep.setdefault("public_display_name", rep.get("username", ""))
        rep.setdefault("private_display_name", rep["public_display_name"])
        rep.setdefault("logged_in", True)
        rep.setdefault("teams", [])
        rep.setdefault("type", "Normal")
        for k in ("hostname", "os", "private_ip", "public_ip", "email"):
            rep.setdefault(k, "")
    for item in data["teams"] + data["issues"] + data["jump_groups"] + data["jumpoints"]:
        item["id"] = int(item["id"])
    if not any(f.get("code_name") == "external_key" for f in data["custom_fields"]):
        data["custom_fields"].insert(
            0, {"code_name": "external_key", "display_name": "External Key"}
        )
    return data


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


# --------------------------------------------------------------------------- tokens, limits


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


class EndpointStats(Stats):
    """Count requests per endpoint label (e.g. ``api/reporting SupportSession``) and faults."""

    def count(self, label: str) -> None:  # type: ignore[override]
        """Count one request."""
        self._bump(label)


# --------------------------------------------------------------------------- sessions


@dataclass
class SessionKey:
    """A key from generate_session_key."""

    short_key: str
    queue: str
    expires: int
    custom: dict[str, str]
    created_by: str = ""
    used_by: list[str] = field(default_factory=list)


@dataclass
class Member:
    """A rep or customer in a session; gsnumber links them to session_details events."""

    gsnumber: int
    kind: str  # "representative" | "customer"
    name: str
    rep_id: int | None = None
    username: str = ""
    public_display_name: str = ""
    private_display_name: str = ""
    public_ip: str = ""
    private_ip: str = ""
    hostname: str = ""
    os: str = ""
    info: dict[str, str] = field(default_factory=dict)
    invited: bool = False
    joined: int = 0
    left: int | None = None
    seconds: int = 0


@dataclass
class SimSession:
    """One support session as the appliance records it."""

    lsid: str
    lseq: int
    start_time: int
    start_method: str  # session_key | click_to_chat | rep | issue | general | jump
    queue: str | None
    custom: dict[str, str] = field(default_factory=dict)
    end_time: int | None = None
    members: list[Member] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    cust_surveys: list[dict[str, Any]] = field(default_factory=list)
    rep_surveys: list[dict[str, Any]] = field(default_factory=list)
    owner_gs: int | None = None
    primary_rep_gs: int | None = None
    primary_customer_gs: int | None = None
    jump: dict[str, Any] | None = None
    send_events: bool = True
    next_gs: int = 1
    file_count: int = 0
    xml: str | None = None  # cached rendering of an ended session
    # False: the SupportSession report leaves out the survey lists (as appliances whose report
    # carries no cust_survey_list do); the exit-survey reports still hold the surveys.
    surveys_in_report: bool = True
    # Element name -> raw text put in the report instead of the real value (hostile-data tests).
    report_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def external_key(self) -> str:
        """Return the external key (the external_key custom attribute)."""
        return self.custom.get("external_key", "")

    @property
    def state(self) -> str:
        """Return waiting (in a queue), active or ended."""
        if self.end_time is not None:
            return "ended"
        return "waiting" if self.queue else "active"

    def member(self, gsnumber: int) -> Member:
        """Return the member with that gsnumber."""
        for m in self.members:
            if m.gsnumber == gsnumber:
                return m
        raise SimError(f"No member {gsnumber} in session {self.lsid}.", 404)

    def present(self, kind: str | None = None) -> list[Member]:
        """Return members that have not left (of one kind, if given)."""
        return [m for m in self.members if m.left is None and (kind is None or m.kind == kind)]


# SupportSession elements whose text a test may replace with raw, possibly unusable, text.
REPORT_OVERRIDES = frozenset({"duration", "lseq", "file_transfer_count"})

DEFAULT_CHAT = [
    ("customer", "Hi, my printer on the 3rd floor shows offline."),
    ("rep", "Hello Abel, I am connecting to your machine now."),
    ("rep", "Please open the printer panel & check the cable <LAN>."),
    ("customer", "Done, it's plugged in."),
    ("rep", "Thanks, the queue is cleared now. It should print again."),
]
DEFAULT_FILES = [
    {"direction": "upload", "filename": "printer-driver-v5.2.msi", "filesize": 2457600},
    {
        "direction": "download",
        "filename": "C:\\Users\\abel\\Desktop\\error-log.txt",
        "filesize": 18422,
    },
]
DEFAULT_NOTES = ["Cleared the stuck print queue and reinstalled the driver."]
DEFAULT_CUSTOMER_SURVEY = {"rating": "5", "resolved": "Yes", "comments": "Fixed quickly.\\nThanks!"}
DEFAULT_REP_SURVEY = {"resolution": "Resolved", "notes": "Driver reinstalled."}

CUSTOMER_QUESTIONS = {
    "rating": ("radio", "How would you rate this support session?", "Rating"),
    "resolved": ("radio", "Was your issue resolved?", "Resolved"),
    "comments": ("textarea", "Comments", "Comments"),
}
REP_QUESTIONS = {
    "resolution": ("select", "How was the issue resolved?", "Resolution"),
    "notes": ("textarea", "Notes for the record", "Notes"),
}


def default_system_info(customer: Member) -> list[dict[str, Any]]:
    """Return system information like the customer client gathers it."""
    return [
        {
            "name": "Overview",
            "columns": {
                "os": "Operating System",
                "hostname": "Computer Name",
                "domain": "Domain",
                "memory": "Total Physical Memory",
                "processor": "Processor",
                "uptime": "System Uptime",
            },
            "rows": [
                {
                    "os": customer.os or "Unknown",
                    "hostname": customer.hostname or "Unknown",
                    "domain": "EXAMPLE",
                    "memory": "16 GB",
                    "processor": "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
                    "uptime": "3 days, 04:12:09",
                }
            ],
        },
        {
            "name": "Drives",
            "columns": {"name": "Name", "size": "Size", "free": "Free Space"},
            "rows": [
                {"name": "C:", "size": "476 GB", "free": "212 GB"},
                {"name": "D:", "size": "931 GB", "free": "640 GB"},
            ],
        },
    ]


class SimState:
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
        self.sessions: dict[str, SimSession] = {}
        self.keys: dict[str, SessionKey] = {}
        self.installers: dict[str, dict[str, Any]] = {}
        self.start_requests: deque[dict[str, Any]] = deque(maxlen=200)
        self._lseq = 0

    def _load_directory(self) -> None:
        seed = self.seed
        self.accounts = {
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
        self.legacy_users = {
            u["username"]: Account(
                client_id=u["username"],
                secret=u["password"],
                name=u.get("name", u["username"]),
                perm_command=u.get("perm_command", "full"),
                perm_reporting_support=bool(u.get("perm_reporting_support", True)),
            )
            for u in seed["legacy_users"]
        }
        self.reps = {r["id"]: dict(r) for r in seed["reps"]}
        self.teams = {t["id"]: dict(t) for t in seed["teams"]}
        self.issues = {i["code_name"]: dict(i) for i in seed["issues"]}
        self.custom_fields = {
            f["code_name"]: f.get("display_name", f["code_name"]) for f in seed["custom_fields"]
        }
        self.jump_groups = {g["id"]: dict(g) for g in seed["jump_groups"]}
        self.jumpoints = {j["id"]: dict(j) for j in seed["jumpoints"]}
        self.jump_clients: dict[int, dict[str, Any]] = {}
        for jc in seed["jump_clients"]:
            self.jump_clients[int(jc["id"])] = self.normalise_jump_client(jc)
        self._next_jump_client = max(self.jump_clients, default=0) + 1

    def normalise_jump_client(self, jc: dict[str, Any]) -> dict[str, Any]:
        """Fill a Jump Client record with every Configuration API field."""
        now = int(time.time())
        out: dict[str, Any] = {
            "id": int(jc["id"]),
            "jump_group_id": int(jc.get("jump_group_id", 1)),
            "jump_group_type": jc.get("jump_group_type", "shared"),
            "name": jc.get("name", ""),
            "hostname": jc.get("hostname", ""),
            "fqdn": jc.get("fqdn", ""),
            "tag": jc.get("tag", ""),
            "comments": jc.get("comments", ""),
            "jump_policy_id": jc.get("jump_policy_id"),
            "attended_session_policy_id": jc.get("attended_session_policy_id"),
            "unattended_session_policy_id": jc.get("unattended_session_policy_id"),
            "public_site_address": jc.get(
                "public_site_address", self.seed["public_site"].get("hostname", "")
            ),
            "support_button_profile_code_name": jc.get("support_button_profile_code_name"),
            "support_button_direct_queue": jc.get("support_button_direct_queue"),
            "customer_client_start_mode": jc.get("customer_client_start_mode", "normal"),
            "is_quiet": bool(jc.get("is_quiet", False)),
            "install_mode": jc.get("install_mode", "service"),
            "connection_type": jc.get("connection_type", "active"),
            "last_connect_timestamp": jc.get("last_connect_timestamp", iso_utc(now - 3600)),
            "last_disconnect_timestamp": jc.get("last_disconnect_timestamp"),
            "is_lost": bool(jc.get("is_lost", False)),
            "needs_update": bool(jc.get("needs_update", False)),
            "unavailable_reason": jc.get("unavailable_reason", "none"),
            "operating_system": jc.get("operating_system", ""),
            "public_ip": jc.get("public_ip", ""),
            "private_ip": jc.get("private_ip", ""),
            "console_user": jc.get("console_user", ""),
            "expiration_timestamp": jc.get("expiration_timestamp"),
            "max_offline_minutes": int(jc.get("max_offline_minutes", 0)),
            "last_access_timestamp": jc.get("last_access_timestamp", iso_utc(now - 86400)),
        }
        return out

    def add_jump_client(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create a Jump Client with the next free id."""
        with self.lock:
            jc = self.normalise_jump_client({**fields, "id": self._next_jump_client})
            self.jump_clients[jc["id"]] = jc
            self._next_jump_client += 1
            return jc

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
        self.tokens.revoke()
        self.limiter.reset()
        self.stats.reset()
        self.faults.reset()
        self.malformed_rate = 0.0
        self.delivery.clear()

    # ------------------------------------------------------------------ lookups

    def find_rep(self, ref: Any) -> dict[str, Any]:
        """Find a rep by id or username."""
        if isinstance(ref, dict):
            ref = ref.get("id", ref.get("username"))
        if ref is None:
            raise SimError("A rep id or username is required.")
        try:
            return self.reps[int(ref)]
        except (ValueError, TypeError, KeyError):
            pass
        for rep in self.reps.values():
            if rep["username"] == str(ref):
                return rep
        raise SimError(f"Unknown representative {ref!r}.", 404)

    def find_customer(self, name: str | None) -> dict[str, Any]:
        """Return the seeded customer of that name, or a bare record."""
        for cust in self.seed["customers"]:
            if name is None or cust["name"] == name:
                return dict(cust)
        return {"name": name}

    def get_session(self, lsid: str) -> SimSession:
        """Return a session or raise the vendor's invalid-lsid error."""
        session = self.sessions.get(lsid)
        if session is None:
            raise SimError("Invalid lsid.", 404)
        return session

    def resolve_queue(self, queue_id: str) -> str:
        """Validate a queue_id (general, rep:, team:, rep_username:, issue:, embassy:)."""
        queue_id = (queue_id or "").strip()
        if queue_id == "general":
            return "general"
        kind, _, value = queue_id.partition(":")
        if kind == "rep":
            rep = self.reps.get(_int(value))
            if rep is None:
                raise SimError(f"Invalid queue_id: no representative with id {value}.")
            return f"rep:{rep['id']}"
        if kind == "rep_username":
            matches = [r for r in self.reps.values() if r["username"] == value]
            if len(matches) != 1:
                raise SimError(f"Invalid queue_id: {len(matches)} users have username {value!r}.")
            return f"rep:{matches[0]['id']}"
        if kind in ("team", "embassy"):
            team = self.teams.get(_int(value))
            if team is None:
                raise SimError(f"Invalid queue_id: no team with id {value}.")
            return f"team:{team['id']}"
        if kind == "issue":
            if value not in self.issues:
                raise SimError(f"Invalid queue_id: no issue with code name {value!r}.")
            return f"issue:{value}"
        raise SimError(f"Invalid queue_id {queue_id!r}.")

    def check_custom(self, custom: dict[str, str]) -> dict[str, str]:
        """Apply the 1024-character and 10 KB limits and the undeclared-field policy."""
        out: dict[str, str] = {}
        for name, value in custom.items():
            value = "" if value is None else str(value)
            if name not in self.custom_fields:
                policy = self.options.undeclared_custom
                if policy == "ignore":
                    continue
                if policy == "error":
                    raise SimError(f"Unknown custom attribute {name!r}.")
            if len(value) > CUSTOM_VALUE_LIMIT:
                raise SimError(
                    f"The value of session.custom.{name} exceeds {CUSTOM_VALUE_LIMIT} characters."
                )
            out[name] = value
        total = sum(len(v.encode("utf-8")) for v in out.values())
        if total > CUSTOM_TOTAL_LIMIT:
            raise SimError(f"Custom attributes exceed {CUSTOM_TOTAL_LIMIT} bytes in total.")
        return out

    def display_name(self, code_name: str) -> str:
        """Return a custom attribute's display name."""
        return self.custom_fields.get(code_name, code_name)

    # ------------------------------------------------------------------ keys

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

    # ------------------------------------------------------------------ life cycle

    def _emit(self, session: SimSession, event: str, at: int, member: Member | None = None) -> None:
        if not session.send_events or not self.delivery.recipients:
            return
        form = {
            "event": event,
            "version": self.options.event_version,
            "timestamp": str(at),
            "appliance_id": self.options.appliance_id,
            "lsid": session.lsid,
            "external_key": session.external_key,
        }
        if member is not None:
            form.update(
                username=member.username,
                user_id=str(member.rep_id) if member.rep_id is not None else "",
                display_name=member.name,
                type=member.kind,
            )
        self.delivery.enqueue(form)

    @staticmethod
    def _actor(member: Member | None) -> tuple[str, int, str]:
        if member is None:
            return ("system", 0, "")
        return (member.kind, member.gsnumber, member.name)

    def _event(self, session: SimSession, at: int, event_type: str, **parts: Any) -> None:
        session.events.append({"timestamp": at, "event_type": event_type, **parts})
        session.xml = None

    def start_session(
        self,
        *,
        queue: str | None,
        customer: dict[str, Any] | None = None,
        custom: dict[str, str] | None = None,
        method: str = "general",
        at: int | None = None,
        send_events: bool = True,
        jump: dict[str, Any] | None = None,
    ) -> SimSession:
        """Start a session waiting in a queue (or, for Jump, without one) with its customer."""
        at = _now(at)
        given = {k: v for k, v in (customer or {}).items() if v not in (None, "")}
        cust = {**self.find_customer(given.get("name")), **given}
        with self.lock:
            self._lseq += 1
            session = SimSession(
                lsid=uuid.uuid4().hex,
                lseq=self._lseq,
                start_time=at,
                start_method=method,
                queue=queue,
                custom=dict(custom or {}),
                send_events=send_events,
                jump=jump,
            )
            self.sessions[session.lsid] = session
            self._event(session, at, "Session Start", performed_by=("system", 0, ""))
            member = self._add_member(
                session,
                Member(
                    gsnumber=0,
                    kind="customer",
                    name=str(cust.get("name") or "Unknown"),
                    username=str(cust.get("name") or "Unknown"),
                    public_ip=_with_port(cust.get("public_ip", ""), 51234),
                    private_ip=str(cust.get("private_ip", "") or "Unknown"),
                    hostname=str(cust.get("hostname", "") or "Unknown"),
                    os=str(cust.get("os", "") or "Unknown"),
                    info={
                        "name": str(cust.get("name") or ""),
                        "company": str(cust.get("company") or ""),
                        "company_code": str(cust.get("company_code") or ""),
                        "issue": str(cust.get("issue") or ""),
                        "details": str(cust.get("details") or ""),
                    },
                ),
                at,
            )
            session.primary_customer_gs = member.gsnumber
            if session.external_key:
                self._event(
                    session,
                    at,
                    "External Key",
                    performed_by=("system", 0, ""),
                    body=session.external_key,
                )
            if queue:
                self._event(
                    session,
                    at,
                    "Session Transferred to Queue",
                    performed_by=("system", 0, ""),
                    destination=("queue", 0, self.queue_name(queue)),
                )
            self._emit(session, "support_conference_begin", at)
            self._emit(session, "support_conference_member_added", at, member)
            return session

    def queue_name(self, queue: str) -> str:
        """Return a queue's display name."""
        kind, _, value = queue.partition(":")
        if kind == "rep" and _int(value) in self.reps:
            return self.reps[_int(value)]["public_display_name"]
        if kind == "team" and _int(value) in self.teams:
            return self.teams[_int(value)]["name"]
        if kind == "issue" and value in self.issues:
            return self.issues[value].get("description", value)
        return "General Queue"

    def _add_member(self, session: SimSession, member: Member, at: int) -> Member:
        member.gsnumber = session.next_gs
        session.next_gs += 1
        member.joined = at
        session.members.append(member)
        data = {
            "private_name": member.private_display_name or member.name,
            "public_name": member.public_display_name or member.name,
            "username": member.username,
            "private_ip": member.private_ip,
            "public_ip": member.public_ip,
            "hostname": member.hostname,
            "os": member.os,
        }
        if member.rep_id is not None:
            data["user_id"] = str(member.rep_id)
            data["support_teams"] = ", ".join(
                self.teams[t]["name"]
                for t in self.reps[member.rep_id].get("teams", [])
                if t in self.teams
            )
        self._event(
            session, at, "Conference Member Added", performed_by=self._actor(member), data=data
        )
        return member

    def _rep_member(self, rep: dict[str, Any], invited: bool = False) -> Member:
        return Member(
            gsnumber=0,
            kind="representative",
            name=rep["private_display_name"],
            rep_id=rep["id"],
            username=rep["username"],
            public_display_name=rep["public_display_name"],
            private_display_name=rep["private_display_name"],
            public_ip=_with_port(rep.get("public_ip", ""), 443),
            private_ip=rep.get("private_ip") or "Unknown",
            hostname=rep.get("hostname") or "Unknown",
            os=rep.get("os") or "Unknown",
            invited=invited,
        )

    def _live(self, lsid: str) -> SimSession:
        session = self.get_session(lsid)
        if session.end_time is not None:
            raise SimError("The session has ended.", 409)
        return session

    def join(self, lsid: str, rep_ref: Any, at: int | None = None, invited: bool = False) -> Member:
        """Have a rep join; the first rep takes the session out of its queue and owns it."""
        at = _now(at)
        rep = self.find_rep(rep_ref)
        with self.lock:
            session = self._live(lsid)
            for m in session.present("representative"):
                if m.rep_id == rep["id"]:
                    raise SimError(f"{rep['username']} is already in the session.", 409)
            member = self._add_member(session, self._rep_member(rep, invited), at)
            if session.owner_gs is None:
                session.owner_gs = member.gsnumber
                if session.primary_rep_gs is None:
                    session.primary_rep_gs = member.gsnumber
                session.queue = None
            self._emit(session, "support_conference_member_added", at, member)
            return member

    def _find_member(self, session: SimSession, ref: Any) -> Member:
        if ref in (None, "customer"):
            customers = session.present("customer")
            if not customers:
                raise SimError("The customer is not in the session.", 409)
            return customers[0]
        rep = self.find_rep(ref)
        for m in session.present("representative"):
            if m.rep_id == rep["id"]:
                return m
        raise SimError(f"{rep['username']} is not in the session.", 409)

    def _depart(self, session: SimSession, member: Member, at: int) -> None:
        member.left = at
        member.seconds += max(0, at - member.joined)
        self._event(session, at, "Conference Member Departed", performed_by=self._actor(member))
        self._emit(session, "support_conference_member_departed", at, member)

    def leave(self, lsid: str, who: Any, at: int | None = None) -> None:
        """Have a rep (or the customer) leave; ownership passes to a remaining rep."""
        at = _now(at)
        with self.lock:
            session = self._live(lsid)
            member = self._find_member(session, who)
            self._depart(session, member, at)
            if member.gsnumber == session.owner_gs:
                remaining = session.present("representative")
                session.owner_gs = remaining[0].gsnumber if remaining else None
                if remaining:
                    self._owner_changed(session, member, remaining[0], at)

    def _owner_changed(self, session: SimSession, old: Member | None, new: Member, at: int) -> None:
        self._event(
            session,
            at,
            "Conference Owner Changed",
            performed_by=self._actor(old),
            destination=self._actor(new),
            data={"owner": new.name},
        )
        self._emit(session, "support_conference_owner_changed", at)

    def chat(self, lsid: str, sender: Any, body: str, at: int | None = None) -> None:
        """Add a chat line from a rep or the customer."""
        at = _now(at)
        with self.lock:
            session = self._live(lsid)
            member = self._find_member(session, sender)
            self._event(session, at, "Chat Message", performed_by=self._actor(member), body=body)

    def file(
        self,
        lsid: str,
        direction: str,
        filename: str,
        filesize: int,
        rep_ref: Any = None,
        at: int | None = None,
        failed: bool = False,
    ) -> None:
        """Record a file upload (rep to customer) or download (customer to rep)."""
        at = _now(at)
        if direction not in ("upload", "download"):
            raise SimError("direction must be upload or download.")
        with self.lock:
            session = self._live(lsid)
            rep = self._owner_or(session, rep_ref)
            customer = self._find_member(session, "customer")
            # Observed downloads name the customer in performed_by and the rep in destination.
            perf, dest = (rep, customer) if direction == "upload" else (customer, rep)
            kind = "File Upload" if direction == "upload" else "File Download"
            if failed:
                kind += " Failed"
            else:
                session.file_count += 1
            self._event(
                session,
                at,
                kind,
                performed_by=self._actor(perf),
                destination=self._actor(dest),
                filename=filename,
                filesize=int(filesize),
                data={"filename": filename, "filesize": str(int(filesize))},
            )

    def _owner_or(self, session: SimSession, rep_ref: Any) -> Member:
        if rep_ref is not None:
            return self._find_member(session, rep_ref)
        if session.owner_gs is None:
            raise SimError("No representative has joined the session.", 409)
        return session.member(session.owner_gs)

    def note(self, lsid: str, body: str, rep_ref: Any = None, at: int | None = None) -> None:
        """Add a session note by a rep."""
        at = _now(at)
        with self.lock:
            session = self._live(lsid)
            rep = self._owner_or(session, rep_ref)
            self._event(session, at, "Session Note Added", performed_by=self._actor(rep), body=body)

    def sysinfo(
        self,
        lsid: str,
        categories: list[dict[str, Any]] | None = None,
        rep_ref: Any = None,
        at: int | None = None,
    ) -> None:
        """Record system information a rep retrieved from the customer's machine."""
        at = _now(at)
        with self.lock:
            session = self._live(lsid)
            rep = self._owner_or(session, rep_ref)
            customer = self._find_member(session, "customer")
            cats = categories or default_system_info(customer)
            self._event(
                session,
                at,
                "System Information Retrieved",
                performed_by=self._actor(rep),
                destination=self._actor(customer),
                system_information=cats,
            )

    def transfer(
        self,
        lsid: str,
        *,
        to_rep: Any = None,
        to_queue: str | None = None,
        at: int | None = None,
    ) -> None:
        """Transfer ownership to another rep, or put the session back into a queue."""
        at = _now(at)
        with self.lock:
            session = self._live(lsid)
            old = session.member(session.owner_gs) if session.owner_gs is not None else None
            if to_rep is not None:
                rep = self.find_rep(to_rep)
                new = next(
                    (m for m in session.present("representative") if m.rep_id == rep["id"]), None
                )
                if new is None:
                    new = self.join(lsid, rep["id"], at)
                session.owner_gs = new.gsnumber
                session.queue = None
                self._owner_changed(session, old, new, at)
                if old is not None and old is not new:
                    self._depart(session, old, at)
                return
            if not to_queue:
                raise SimError("Give to_rep or to_queue.")
            queue = self.resolve_queue(to_queue)
            self._event(
                session,
                at,
                "Session Transferred Away from Queue",
                performed_by=self._actor(old),
                destination=("queue", 0, self.queue_name(queue)),
            )
            self._event(
                session,
                at,
                "Session Transferred to Queue",
                performed_by=self._actor(old),
                destination=("queue", 0, self.queue_name(queue)),
            )
            if old is not None:
                self._depart(session, old, at)
            session.owner_gs = None
            session.queue = queue

    def end(self, lsid: str, at: int | None = None) -> None:
        """End the session: everyone departs, then Session End."""
        at = _now(at)
        with self.lock:
            session = self._live(lsid)
            for member in sorted(session.present(), key=lambda m: m.kind != "representative"):
                self._depart(session, member, at)
            session.end_time = at
            session.queue = None
            self._event(session, at, "Session End", performed_by=("system", 0, ""))
            self._emit(session, "support_conference_end", at)

    def survey(
        self,
        lsid: str,
        kind: str,
        answers: dict[str, Any],
        rep_ref: Any = None,
        at: int | None = None,
    ) -> None:
        """Record a customer or rep exit survey (after the session ended, or as it ends)."""
        at = _now(at)
        if kind not in ("customer", "rep"):
            raise SimError("kind must be customer or rep.")
        with self.lock:
            session = self.get_session(lsid)
            if kind == "customer":
                customers = [m for m in session.members if m.kind == "customer"]
                if not customers:
                    raise SimError("The session has no customer.", 409)
                by = customers[0]
            else:
                reps = [m for m in session.members if m.kind == "representative"]
                if rep_ref is not None:
                    rep = self.find_rep(rep_ref)
                    reps = [m for m in reps if m.rep_id == rep["id"]]
                elif session.primary_rep_gs is not None:
                    reps = [session.member(session.primary_rep_gs)]
                if not reps:
                    raise SimError("No such representative in the session.", 409)
                by = reps[0]
            questions = CUSTOMER_QUESTIONS if kind == "customer" else REP_QUESTIONS
            entry = {
                "timestamp": at,
                "gsnumber": by.gsnumber,
                "submitted_by": by,
                "answers": [
                    {
                        "id": idx,
                        "name": name,
                        "type": questions.get(name, ("text", name, name))[0],
                        "label": questions.get(name, ("text", name, name))[1],
                        "report_header": questions.get(name, ("text", name, name))[2],
                        "answer": "" if value is None else str(value),
                    }
                    for idx, (name, value) in enumerate(answers.items(), start=1)
                ],
            }
            session.xml = None  # the report changes: a cached rendering is stale
            if kind == "customer":
                session.cust_surveys.append(entry)
                self._event(session, at, "Customer Exit Survey", performed_by=self._actor(by))
                self._emit(session, "support_conference_customer_exit_survey_completed", at)
            else:
                session.rep_surveys.append(entry)
                self._event(session, at, "Representative Exit Survey", performed_by=self._actor(by))
                self._emit(session, "support_conference_rep_exit_survey_completed", at)

    def set_report_options(
        self,
        lsid: str,
        *,
        surveys_in_report: Any = None,
        overrides: Any = None,
    ) -> None:
        """Change how a session shows in the SupportSession report (None keeps a setting)."""
        with self.lock:
            session = self.get_session(lsid)
            if surveys_in_report is not None:
                if not isinstance(surveys_in_report, bool):
                    raise SimError("surveys_in_report must be true or false.")
                session.surveys_in_report = surveys_in_report
            if overrides is not None:
                if not isinstance(overrides, dict) or not all(
                    k in REPORT_OVERRIDES and isinstance(v, str) for k, v in overrides.items()
                ):
                    raise SimError(
                        "report_overrides must map "
                        + ", ".join(sorted(REPORT_OVERRIDES))
                        + " to text."
                    )
                session.report_overrides = dict(overrides)
            session.xml = None

    def set_attributes(self, lsid: str, custom: dict[str, str]) -> None:
        """Change custom attributes of an active session: omitted keep, empty clears."""
        custom = self.check_custom(custom)
        with self.lock:
            session = self.sessions.get(lsid)
            if session is None or session.end_time is not None:
                raise SimError("Invalid lsid: the session is not active.")
            merged = dict(session.custom)
            for name, value in custom.items():
                if value == "":
                    merged.pop(name, None)
                else:
                    merged[name] = value
            self.check_custom(merged)
            old_key = session.external_key
            session.custom = merged
            if session.external_key != old_key:
                self._event(
                    session,
                    _now(None),
                    "External Key",
                    performed_by=("system", 0, ""),
                    body=session.external_key,
                )
            session.xml = None

    # ------------------------------------------------------------------ scripts

    def play(self, body: dict[str, Any]) -> SimSession:
        """Play a whole scripted session (defaults: the full session of the brief)."""
        send_events = bool(body.get("send_events", True))
        end = bool(body.get("end", True))
        rep = self.find_rep(body.get("rep", 1))
        customer_in = body.get("customer")
        if isinstance(customer_in, str):
            customer = self.find_customer(customer_in)
        elif isinstance(customer_in, dict):
            customer = {**self.find_customer(customer_in.get("name", "Abel Tuter")), **customer_in}
        else:
            customer = self.find_customer("Abel Tuter")
        custom = dict(body.get("custom") or body.get("custom_attributes") or {})
        if body.get("external_key") is not None:
            custom["external_key"] = str(body["external_key"])
        custom = self.check_custom(custom)

        chat = body.get("chat")
        chat_lines = (
            DEFAULT_CHAT
            if chat is None
            else [
                (line.get("from", "customer"), line.get("text", ""))
                if isinstance(line, dict)
                else (("customer", "rep")[i % 2], str(line))
                for i, line in enumerate(chat)
            ]
        )
        files = DEFAULT_FILES if body.get("files") is None else list(body["files"])
        notes = DEFAULT_NOTES if body.get("notes") is None else list(body["notes"])
        sysinfo = body.get("system_info", True)
        cust_survey = body.get("customer_survey", DEFAULT_CUSTOMER_SURVEY)
        rep_survey = body.get("rep_survey", DEFAULT_REP_SURVEY)
        method = body.get("start_method", "session_key")

        steps = 3 + len(chat_lines) + len(files) + len(notes) + (1 if sysinfo else 0)
        now = int(time.time())
        end_time = _opt_int(body.get("end_time"))
        start_time = _opt_int(body.get("start_time"))
        if start_time is None:
            start_time = (end_time if end_time is not None else now) - 300
        if end_time is None:
            end_time = now if start_time <= now - 60 else start_time + 300
        if end_time < start_time:
            raise SimError("end_time is before start_time.")
        span = end_time - start_time

        def tick(i: int) -> int:
            return start_time + (span * i) // (steps + 1)

        queue = f"rep:{rep['id']}"
        jump = None
        if method == "jump":
            jc = self.jump_clients.get(int(body.get("jump_client_id", 1)))
            queue = None
            jump = self._jump_info(jc)
            customer = {**customer, **_jump_customer(jc)}
        with self.lock:
            session = self.start_session(
                queue=queue,
                customer=customer,
                custom=custom,
                method=method,
                at=start_time,
                send_events=send_events,
                jump=jump,
            )
            lsid = session.lsid
            self.set_report_options(
                lsid,
                surveys_in_report=body.get("surveys_in_report"),
                overrides=body.get("report_overrides"),
            )
            step = 1
            self.join(lsid, rep["id"], tick(step))
            for sender, text in chat_lines:
                step += 1
                self.chat(lsid, rep["id"] if sender == "rep" else "customer", text, tick(step))
            if sysinfo:
                step += 1
                cats = sysinfo if isinstance(sysinfo, list) else None
                self.sysinfo(lsid, cats, None, tick(step))
            for f in files:
                step += 1
                self.file(
                    lsid,
                    f.get("direction", "upload"),
                    f.get("filename", "file.txt"),
                    int(f.get("filesize", 1024)),
                    None,
                    tick(step),
                )
            for n in notes:
                step += 1
                self.note(lsid, str(n), None, tick(step))
            if end:
                self.end(lsid, end_time)
                if cust_survey:
                    self.survey(lsid, "customer", dict(cust_survey), None, end_time)
                if rep_survey:
                    self.survey(lsid, "rep", dict(rep_survey), None, end_time)
            return session

    def _jump_info(self, jc: dict[str, Any] | None) -> dict[str, Any]:
        if jc is None:
            raise SimError("Unknown Jump Client.", 404)
        group = self.jump_groups.get(jc["jump_group_id"], {"id": jc["jump_group_id"], "name": ""})
        jumpoint = next(iter(self.jumpoints.values()), {"id": 1, "name": "Jumpoint"})
        return {
            "client_id": jc["id"],
            "jumpoint_id": jumpoint["id"],
            "jumpoint_name": jumpoint["name"],
            "group_id": group["id"],
            "group_name": group.get("name", ""),
            "group_type": jc.get("jump_group_type", "shared"),
        }

    def start_jump(
        self,
        jump_client: Any,
        rep_ref: Any,
        custom: dict[str, str],
        at: int | None = None,
        send_events: bool = True,
    ) -> SimSession:
        """Start a Jump session: the rep connects straight to the Jump Client's machine."""
        jc = self.find_jump_client(jump_client)
        custom = self.check_custom(custom)
        with self.lock:
            session = self.start_session(
                queue=None,
                customer=_jump_customer(jc),
                custom=custom,
                method="jump",
                at=at,
                send_events=send_events,
                jump=self._jump_info(jc),
            )
            self.join(session.lsid, rep_ref if rep_ref is not None else 1, at)
            return session

    def find_jump_client(self, ref: Any) -> dict[str, Any]:
        """Find a Jump Client by id or name/hostname."""
        if _int(ref) in self.jump_clients:
            return self.jump_clients[_int(ref)]
        for jc in self.jump_clients.values():
            if str(ref).lower() in (jc["name"].lower(), jc["hostname"].lower()):
                return jc
        raise SimError(f"Unknown Jump Client {ref!r}.", 404)

    def bulk(self, body: dict[str, Any]) -> list[str]:
        """Create many ended sessions spread over a time range, quickly and without events."""
        count = int(body.get("count", 100))
        if not 0 < count <= 100_000:
            raise SimError("count must be between 1 and 100000.")
        now = int(time.time())
        end_time = _opt_int(body.get("end_time")) or now
        start_time = _opt_int(body.get("start_time"))
        if start_time is None:
            start_time = end_time - 30 * 86400
        if end_time <= start_time:
            raise SimError("end_time must be after start_time.")
        template = {
            k: v
            for k, v in body.items()
            if k not in ("count", "start_time", "end_time", "external_key_prefix")
        }
        template.setdefault("send_events", False)
        prefix = body.get("external_key_prefix")
        span = end_time - start_time
        reps = [r["id"] for r in self.reps.values() if r.get("logged_in")] or [1]
        customers = [c["name"] for c in self.seed["customers"]] or ["Abel Tuter"]
        lsids = []
        for i in range(count):
            s = start_time + (span * i) // count
            length = 120 + (i * 37) % 1500
            e = min(s + length, end_time)
            script = dict(template)
            script["start_time"], script["end_time"] = s, e
            script.setdefault("rep", reps[i % len(reps)])
            if "customer" not in template:
                script["customer"] = customers[i % len(customers)]
            if prefix is not None:
                script["external_key"] = f"{prefix}{i + 1:07d}"
            lsids.append(self.play(script).lsid)
        return lsids

    def queues(self) -> dict[str, list[dict[str, Any]]]:
        """Return waiting sessions per queue."""
        with self.lock:
            out: dict[str, list[dict[str, Any]]] = {}
            for s in self.sessions.values():
                if s.state != "waiting" or s.queue is None:
                    continue
                cust = next((m for m in s.members if m.kind == "customer"), None)
                out.setdefault(s.queue, []).append(
                    {
                        "lsid": s.lsid,
                        "queue_name": self.queue_name(s.queue),
                        "external_key": s.external_key,
                        "custom_attributes": dict(s.custom),
                        "customer": cust.info if cust else {},
                        "start_method": s.start_method,
                        "start_time": s.start_time,
                    }
                )
            return out

    def session_json(self, session: SimSession) -> dict[str, Any]:
        """Return a JSON view of a session."""
        with self.lock:
            return {
                "lsid": session.lsid,
                "lseq": session.lseq,
                "state": session.state,
                "queue": session.queue,
                "start_method": session.start_method,
                "start_time": session.start_time,
                "end_time": session.end_time,
                "external_key": session.external_key,
                "custom_attributes": dict(session.custom),
                "owner_gsnumber": session.owner_gs,
                "members": [
                    {
                        "gsnumber": m.gsnumber,
                        "type": m.kind,
                        "name": m.name,
                        "rep_id": m.rep_id,
                        "username": m.username,
                        "joined": m.joined,
                        "left": m.left,
                    }
                    for m in session.members
                ],
                "events": [
                    {"timestamp": e["timestamp"], "event_type": e["event_type"]}
                    for e in session.events
                ],
                "jump": session.jump,
                "customer_surveys": len(session.cust_surveys),
                "rep_surveys": len(session.rep_surveys),
            }


def _jump_customer(jc: dict[str, Any] | None) -> dict[str, Any]:
    if jc is None:
        raise SimError("Unknown Jump Client.", 404)
    return {
        "name": jc.get("console_user") or jc["name"],
        "hostname": jc["hostname"],
        "os": jc.get("operating_system", ""),
        "private_ip": jc.get("private_ip", ""),
        "public_ip": jc.get("public_ip", ""),
    }


def _with_port(ip: str, port: int) -> str:
    if not ip:
        return "Unknown"
    if ":" in ip and not ip.startswith("["):
        return f"[{ip}]:{port}"  # IPv6 is bracketed before the port
    return f"{ip}:{port}"


def _now(at: int | None) -> int:
    return int(time.time()) if at is None else int(at)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError) as exc:
        raise SimError(f"expected an epoch number, got {value!r}") from exc


def iso_utc(epoch: int | float) -> str:
    """Format epoch seconds as RFC 3339 in UTC, written +00:00 (never Z)."""
    import datetime as dt

    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).isoformat()
