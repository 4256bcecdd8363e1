"""The connector's settings as data: one table drives defaults, validation and the docs.

Each ``Setting`` names its dotted path, its kind (how ``loading`` checks and converts a value),
its default (``REQUIRED`` when it has none) and its meaning; ``docs/configuration.md`` is generated
from this table and a test fails when they disagree. A setting's path is also the attribute path
of the typed ``Config`` it lands in (``servicenow.timeout_seconds`` →
``config.servicenow.timeout_seconds``); a test checks the two stay in step.

A setting of kind ``sections`` is a list whose every entry is a small section of its own,
described by the settings in ``item`` (their paths are relative to the entry; the docs show them
as ``bomgar.appliances[].client_id``). An item setting may take its default from a top-level
setting (``inherits``), so values shared by every entry are written once.
"""

from __future__ import annotations

from collections.abc import Iterator

from connector.config.setting import REQUIRED, Setting, entry
from connector.config.tpa_settings import TPA_SETTINGS

__all__ = ["REQUIRED", "Setting", "SETTINGS", "BY_PATH", "every_path"]

SETTINGS: tuple[Setting, ...] = (
    # ServiceNow
    Setting(
        "servicenow.instance_url",
        "url",
        REQUIRED,
        "Base URL of the instance, e.g. https://acme.service-now.com.",
    ),
    Setting(
        "servicenow.username",
        "str",
        "",
        "Integration user for Basic auth (leave empty when using servicenow.oauth).",
    ),
    Setting("servicenow.password", "secret", "", "Password of servicenow.username."),
    Setting(
        "servicenow.oauth.client_id",
        "str",
        "",
        "OAuth client id (Application Registry); enables OAuth instead of Basic auth.",
    ),
    Setting("servicenow.oauth.client_secret", "secret", "", "OAuth client secret."),
    Setting(
        "servicenow.oauth.grant_type",
        "choice",
        "password",
        "OAuth grant: password (uses oauth.username/password) or client_credentials.",
        choices=("password", "client_credentials"),
    ),
    Setting("servicenow.oauth.username", "str", "", "User for the OAuth password grant."),
    Setting("servicenow.oauth.password", "secret", "", "Password for the OAuth password grant."),
    Setting(
        "servicenow.verify_tls",
        "tls",
        True,
        "true, false, or the path of a CA bundle file to trust.",
    ),
    Setting(
        "servicenow.timeout_seconds",
        "float",
        60.0,
        "Read timeout per request; the instance cancels transactions after 60 s.",
        minimum=1,
    ),
    Setting(
        "servicenow.max_concurrent",
        "int",
        8,
        "Most requests in flight at once, per node (its share of the instance's API semaphore).",
        minimum=1,
    ),
    Setting(
        "servicenow.write_settle_seconds",
        "float",
        90.0,
        "After a write whose answer was lost (timeout, dropped connection, killed worker), wait"
        " this long before re-checking and re-writing: the instance may still be running it"
        " (transactions are cancelled after 60 s).",
        minimum=0,
    ),
    # Appliance
    Setting(
        "bomgar.appliance_url",
        "url",
        "",
        "Public-site URL of the appliance, e.g. https://support.example.com. Required unless"
        " bomgar.appliances lists the appliances.",
    ),
    Setting(
        "bomgar.client_id",
        "str",
        "",
        "API account client id (Management > API Configuration). Required unless"
        " bomgar.appliances lists the appliances.",
    ),
    Setting(
        "bomgar.client_secret",
        "secret",
        "",
        "API account client secret. Required unless bomgar.appliances lists the appliances.",
    ),
    Setting(
        "bomgar.verify_tls", "tls", True, "true, false, or the path of a CA bundle file to trust."
    ),
    Setting("bomgar.timeout_seconds", "float", 60.0, "Read timeout per request.", minimum=1),
    Setting(
        "bomgar.max_requests_per_second",
        "float",
        20.0,
        "Client-side rate limit; the appliance allows 20 requests/s per API account.",
        minimum=0.1,
    ),
    Setting(
        "bomgar.max_report_bytes",
        "int",
        50 * 1024 * 1024,
        "Largest report reply parsed; a group of sessions whose report is larger is split, and"
        " a single session larger than this goes to the dead letters.",
        minimum=1024,
    ),
    Setting(
        "bomgar.use_ns_paths",
        "bool",
        False,
        "Call the legacy .ns endpoints (/api/command.ns, /api/reporting.ns).",
    ),
    Setting(
        "bomgar.appliance_id",
        "str",
        "",
        "The appliance_id the appliance sends with its events; events naming another are refused"
        " with 403. Empty: events naming any appliance are accepted (one appliance only).",
    ),
    Setting(
        "bomgar.rep_match",
        "choice",
        "username_then_email",
        "How reps map to sys_user: username, email, or username_then_email.",
        choices=("username", "email", "username_then_email"),
    ),
    # Webhook
    Setting(
        "webhook.token",
        "secret",
        "",
        "Shared secret the appliance appends to the event URL as outbound_event_token. Required"
        " unless every entry of bomgar.appliances has its own webhook_token.",
    ),
    Setting(
        "webhook.allowed_networks",
        "networks",
        ["127.0.0.0/8", "::1/128"],
        "Source networks allowed to post events (CIDR list).",
    ),
    Setting(
        "webhook.trusted_proxies",
        "networks",
        [],
        "Reverse proxies whose X-Forwarded-For names the real sender (CIDR list).",
    ),
    Setting(
        "webhook.max_body_bytes",
        "int",
        65536,
        "Largest event body accepted; larger ones get 413.",
        minimum=1024,
    ),
    # Store
    Setting(
        "store.path",
        "str",
        "connector.db",
        "SQLite file holding the inbox, ledger and watermark (when store.url is empty).",
    ),
    Setting(
        "store.url",
        "str",
        "",
        "Where the store lives: postgresql://USER:${PASSWORD}@HOST/DB for a PostgreSQL database"
        " shared by several nodes, sqlite:///PATH or a path for SQLite. Empty: store.path.",
    ),
    Setting(
        "store.pool_size",
        "int",
        8,
        "PostgreSQL: most connections each process (web worker or worker) keeps open.",
        minimum=1,
    ),
    Setting(
        "store.migrate_on_start",
        "bool",
        True,
        "Bring the store's schema up to date when a process starts; false: refuse to start on an"
        " older schema until `connector store migrate` has run.",
    ),
    Setting(
        "store.events_retention_days",
        "float",
        30.0,
        "Days a received outbound event is kept in the events table; the worker prunes older"
        " ones hourly (import jobs and the ledger are kept). 0 keeps events forever.",
        minimum=0,
    ),
    Setting(
        "store.synchronous",
        "choice",
        "FULL",
        "SQLite: FULL syncs every committed event to disk (survives power loss); NORMAL survives"
        " a crashed process but may lose the last events on power loss, and is faster."
        " (PostgreSQL commits as its server is configured.)",
        choices=("FULL", "NORMAL"),
    ),
    # Mappings
    Setting(
        "mappings",
        "paths",
        [],
        "A folder of mapping YAML files or a list of files; empty uses the built-in mappings.",
    ),
    # Worker and poller
    Setting(
        "worker.batch_size",
        "int",
        25,
        "Sessions claimed and imported together (one report request, batched writes).",
        minimum=1,
    ),
    Setting(
        "worker.threads",
        "int",
        0,
        "Import threads; 0 runs servicenow.max_concurrent + 4, so while some groups fetch and"
        " parse, every instance slot the connector may use has a group ready to send.",
        minimum=0,
    ),
    Setting(
        "worker.poll_seconds",
        "float",
        0.5,
        "How often an idle worker looks for work.",
        minimum=0.01,
    ),
    Setting(
        "worker.lease_seconds",
        "float",
        300.0,
        "How long a claimed session stays with one worker before another may take it.",
        minimum=5,
    ),
    Setting(
        "worker.max_attempts",
        "int",
        12,
        "Retryable failures before a session goes to the dead letters.",
        minimum=1,
    ),
    Setting(
        "worker.retry_base_seconds",
        "float",
        2.0,
        "First retry delay; doubles per attempt.",
        minimum=0.01,
    ),
    Setting("worker.retry_max_seconds", "float", 600.0, "Longest retry delay.", minimum=0.01),
    Setting(
        "worker.node_name",
        "str",
        "",
        "This node's name in claim tokens (empty: the host name). A worker releases the claims"
        " of its own node's dead processes at once; other nodes' claims come back when their"
        " lease lapses. Two nodes on one host need different names.",
    ),
    Setting(
        "worker.auto_create_incident",
        "bool",
        False,
        "Create an incident for sessions whose external key names no ticket.",
    ),
    # Which sessions may write onto a ticket (see connector/importer/matching.py)
    Setting(
        "security.attach_policy",
        "choice",
        "issued_or_rep",
        "Which sessions may write onto the ticket their external key names: issued_or_rep"
        " (sessions from keys the connector issued, others only when a representative took"
        " part), issued_only (only keys the connector issued), or any (every key; the old,"
        " permissive behaviour). Sessions that do not qualify are kept as unmatched.",
        choices=("issued_or_rep", "issued_only", "any"),
    ),
    Setting(
        "security.external_key_secret",
        "secret",
        "",
        "HMAC key proving that an external key was issued by the connector; empty: a random"
        " key is created once and kept in the store. Web side and worker must use the same.",
    ),
    Setting(
        "security.issued_key_max_age_seconds",
        "float",
        86400.0,
        "A session started more than this long after its issued key was made does not count"
        " as issued.",
        minimum=60,
    ),
    Setting("poller.enabled", "bool", True, "Run the missed-session poller in the worker."),
    Setting("poller.interval_seconds", "float", 300.0, "How often the poller runs.", minimum=1),
    Setting(
        "poller.overlap_seconds",
        "float",
        900.0,
        "How far before the watermark each poll starts (sessions reported late).",
        minimum=0,
    ),
    Setting(
        "poller.initial_lookback_seconds",
        "float",
        86400.0,
        "How far back the first poll looks when no watermark is stored.",
        minimum=0,
    ),
    # Connector API (ServiceNow → connector)
    Setting("api.tokens", "list", [], "Bearer tokens ServiceNow may use on /api/v1 (secrets)."),
    Setting("api.username", "str", "", "Basic-auth user ServiceNow may use on /api/v1."),
    Setting(
        "api.task_tables",
        "list",
        ["incident", "problem", "change_request", "sc_request", "sc_req_item", "sc_task"],
        "Task tables whose tickets /api/v1 and the Get Support Now page may open; any other"
        " table is refused (400 on /api/v1, 404 on the page).",
    ),
    Setting("api.password", "secret", "", "Password of api.username."),
    Setting(
        "support.signing_secret",
        "secret",
        "",
        "Shared secret for signed Get Support Now links; empty disables the page.",
    ),
    Setting(
        "support.link_ttl_seconds", "int", 900, "Longest validity of a signed link.", minimum=10
    ),
    Setting(
        "support.session_key_ttl_seconds",
        "int",
        1800,
        "Lifetime of generated session keys.",
        minimum=60,
    ),
    # Health and logs
    Setting(
        "health.max_pending_age_seconds",
        "float",
        900.0,
        "Oldest pending session before health warns.",
        minimum=1,
    ),
    Setting(
        "health.max_unmatched",
        "int",
        10,
        "Unmatched sessions (not proven to belong to their ticket) before health warns.",
        minimum=0,
    ),
    Setting(
        "metrics.directory",
        "str",
        "",
        "Folder where every process of this box (web workers, the worker) keeps its Prometheus"
        " counters, so /metrics shows their sum; empty: a folder next to store.path.",
    ),
    Setting(
        "logging.level",
        "choice",
        "INFO",
        "Log level.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    Setting(
        "logging.format",
        "choice",
        "json",
        "json (one object a line) or text.",
        choices=("json", "text"),
    ),
    *TPA_SETTINGS,
)

_TOP = {s.path: s for s in SETTINGS}

APPLIANCE: tuple[Setting, ...] = (
    Setting(
        "id",
        "str",
        REQUIRED,
        "The appliance_id this appliance sends with its outbound events. Events are routed by"
        " it, and it names the appliance's sessions in the store, in u_appliance_id, in /health"
        " and in /metrics.",
    ),
    Setting("appliance_url", "url", REQUIRED, "Public-site URL of this appliance."),
    Setting("client_id", "str", REQUIRED, "API account client id on this appliance."),
    Setting("client_secret", "secret", REQUIRED, "API account client secret."),
    entry(
        "webhook_token",
        _TOP["webhook.token"],
        "The outbound_event_token this appliance's event URL carries.",
    ),
    entry("verify_tls", _TOP["bomgar.verify_tls"]),
    entry("timeout_seconds", _TOP["bomgar.timeout_seconds"]),
    entry("max_requests_per_second", _TOP["bomgar.max_requests_per_second"]),
    entry("max_report_bytes", _TOP["bomgar.max_report_bytes"]),
    entry("use_ns_paths", _TOP["bomgar.use_ns_paths"]),
    entry("poller.enabled", _TOP["poller.enabled"], "Poll this appliance for missed sessions."),
    entry("poller.interval_seconds", _TOP["poller.interval_seconds"]),
    entry("poller.overlap_seconds", _TOP["poller.overlap_seconds"]),
    entry("poller.initial_lookback_seconds", _TOP["poller.initial_lookback_seconds"]),
)

SETTINGS = (
    *SETTINGS[: list(_TOP).index("bomgar.rep_match") + 1],
    Setting(
        "bomgar.appliances",
        "sections",
        [],
        "Several appliances: one entry each. Empty: the single appliance the bomgar.* keys"
        " above describe (bomgar.appliance_id is its id).",
        item=APPLIANCE,
    ),
    *SETTINGS[list(_TOP).index("bomgar.rep_match") + 1 :],
)

BY_PATH = {s.path: s for s in SETTINGS}


def every_path() -> Iterator[str]:
    """Yield every setting's path, entries' settings as ``list[].key``."""
    for s in SETTINGS:
        yield s.path
        for sub in s.item:
            yield f"{s.path}[].{sub.path}"
