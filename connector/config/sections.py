"""The typed configuration: frozen sections built once from the checked values, passed down.

Code reads ``config.worker.lease_seconds`` (a float, already checked and converted), never a
string key. Every field here is a setting of the same dotted path in ``settings.SETTINGS``; a test
checks that the two agree, so a new setting is a row there and a field here.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from connector.config.settings import BY_PATH


@dataclass(frozen=True)
class OAuthSettings:
    """OAuth to the instance (empty client_id: Basic auth)."""

    client_id: str
    client_secret: str
    grant_type: str
    username: str
    password: str


@dataclass(frozen=True)
class ServiceNowSettings:
    """The instance: where, as whom, how patiently."""

    instance_url: str
    username: str
    password: str
    oauth: OAuthSettings
    verify_tls: bool | str
    timeout_seconds: float
    max_concurrent: int
    write_settle_seconds: float


@dataclass(frozen=True)
class PollerSettings:
    """The missed-session poller."""

    enabled: bool
    interval_seconds: float
    overlap_seconds: float
    initial_lookback_seconds: float


@dataclass(frozen=True)
class ApplianceSettings:
    """One appliance: its id, where it is, as which API account, its webhook token and poller."""

    id: str
    appliance_url: str
    client_id: str
    client_secret: str
    webhook_token: str
    verify_tls: bool | str
    timeout_seconds: float
    max_requests_per_second: float
    max_report_bytes: int
    use_ns_paths: bool
    poller: PollerSettings


@dataclass(frozen=True)
class BomgarSettings:
    """The appliance (or the defaults of several): where, as which API account, how fast."""

    appliance_url: str
    client_id: str
    client_secret: str
    verify_tls: bool | str
    timeout_seconds: float
    max_requests_per_second: float
    max_report_bytes: int
    use_ns_paths: bool
    appliance_id: str
    rep_match: str
    appliances: tuple[ApplianceSettings, ...]


@dataclass(frozen=True)
class WebhookSettings:
    """Who may post outbound events, and how much."""

    token: str
    allowed_networks: tuple[str, ...]
    trusted_proxies: tuple[str, ...]
    max_body_bytes: int


@dataclass(frozen=True)
class StoreSettings:
    """The durable inbox, jobs and ledger."""

    path: str
    url: str
    pool_size: int
    migrate_on_start: bool
    events_retention_days: float
    synchronous: str

    def location(self) -> str:
        """Return where the store lives: store.url when set, else the SQLite file store.path."""
        return self.url or self.path


@dataclass(frozen=True)
class WorkerSettings:
    """How sessions are claimed, imported and retried."""

    batch_size: int
    threads: int
    poll_seconds: float
    lease_seconds: float
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    node_name: str
    auto_create_incident: bool


@dataclass(frozen=True)
class SecuritySettings:
    """Which sessions may write onto a ticket."""

    attach_policy: str
    external_key_secret: str
    issued_key_max_age_seconds: float


@dataclass(frozen=True)
class ApiSettings:
    """Who may call /api/v1, and on which tables."""

    tokens: tuple[str, ...]
    username: str
    task_tables: tuple[str, ...]
    password: str


@dataclass(frozen=True)
class SupportSettings:
    """Signed Get Support Now links and session keys."""

    signing_secret: str
    link_ttl_seconds: int
    session_key_ttl_seconds: int


@dataclass(frozen=True)
class HealthSettings:
    """When /health warns."""

    max_pending_age_seconds: float
    max_unmatched: int


@dataclass(frozen=True)
class MetricsSettings:
    """Where the processes of one box share their counters."""

    directory: str


@dataclass(frozen=True)
class LoggingSettings:
    """Log level and line format."""

    level: str
    format: str


@dataclass(frozen=True)
class TpaLdapSettings:
    """The directory 3PA users and application groups live in."""

    url: str
    bind_dn: str
    bind_password: str
    users_base: str
    groups_base: str
    profile: str
    start_tls: bool
    verify_tls: bool | str
    timeout_seconds: float


@dataclass(frozen=True)
class TpaScimSettings:
    """SAP Cloud Identity Services over SCIM 2.0 (empty url: no SAP users)."""

    url: str
    token: str
    verify_tls: bool | str
    timeout_seconds: float


@dataclass(frozen=True)
class TpaWorkerSettings:
    """The worker's provisioning threads."""

    threads: int
    batch_size: int


@dataclass(frozen=True)
class TpaPollerSettings:
    """The look in ServiceNow for requests the real-time call missed."""

    interval_seconds: float


@dataclass(frozen=True)
class TpaCatalogSettings:
    """The catalog items of the applications."""

    sync_interval_seconds: float
    category: str


@dataclass(frozen=True)
class TpaApiSettings:
    """The /api/v1/3pa endpoints."""

    wait_seconds: float


@dataclass(frozen=True)
class TpaPasswordSettings:
    """Which new passwords are accepted."""

    min_length: int


@dataclass(frozen=True)
class TpaSettings:
    """Third Party Access: directory, SAP, worker threads, poller, catalog (docs/3pa.md)."""

    enabled: bool
    ldap: TpaLdapSettings
    mappings: tuple[str, ...]
    scim: TpaScimSettings
    worker: TpaWorkerSettings
    poller: TpaPollerSettings
    catalog: TpaCatalogSettings
    api: TpaApiSettings
    password: TpaPasswordSettings
    invitation_days: int


#: Import threads beyond the ServiceNow slots: groups fetching and parsing while others write.
SPARE_IMPORT_THREADS = 4


@dataclass(frozen=True)
class Config:
    """Every setting, checked, converted and grouped by section."""

    servicenow: ServiceNowSettings
    bomgar: BomgarSettings
    webhook: WebhookSettings
    store: StoreSettings
    mappings: tuple[str, ...]
    worker: WorkerSettings
    security: SecuritySettings
    poller: PollerSettings
    api: ApiSettings
    support: SupportSettings
    health: HealthSettings
    metrics: MetricsSettings
    logging: LoggingSettings
    tpa: TpaSettings
    source: str = field(default="<defaults>", compare=False)
    # Every appliance: bomgar.appliances, or the one the single-appliance keys describe.
    appliances: tuple[ApplianceSettings, ...] = field(default=(), compare=False)

    @classmethod
    def build(cls, values: dict[str, Any], source: str) -> Config:
        """Group checked values by dotted path into the typed sections."""
        config: Config = _build(cls, "", values, extra={"source": source, "appliances": ()})
        appliances = config.bomgar.appliances or (config._single_appliance(),)
        return dataclasses.replace(config, appliances=appliances)

    def _single_appliance(self) -> ApplianceSettings:
        b = self.bomgar
        return ApplianceSettings(
            id=b.appliance_id,
            appliance_url=b.appliance_url,
            client_id=b.client_id,
            client_secret=b.client_secret,
            webhook_token=self.webhook.token,
            verify_tls=b.verify_tls,
            timeout_seconds=b.timeout_seconds,
            max_requests_per_second=b.max_requests_per_second,
            max_report_bytes=b.max_report_bytes,
            use_ns_paths=b.use_ns_paths,
            poller=self.poller,
        )

    def appliance(self, ident: str) -> ApplianceSettings | None:
        """Return the appliance with this id ('' stands for the first: rows from before ids)."""
        for a in self.appliances:
            if a.id == ident:
                return a
        return self.appliances[0] if ident == "" else None

    def value(self, path: str) -> Any:
        """Return one setting by its dotted path (for display and generic tooling only)."""
        node: Any = self
        for part in path.split("."):
            node = getattr(node, part)
        return node

    def as_values(self) -> dict[str, Any]:
        """Return every setting by dotted path, as a config file or ``validate`` takes them."""
        return {path: _plain(self.value(path)) for path in BY_PATH}

    def redacted(self) -> dict[str, Any]:
        """Return every setting with secrets replaced, for display."""
        out = {}
        for path, value in self.as_values().items():
            setting = BY_PATH[path]
            if setting.kind == "secret" and value:
                value = "***"
            elif path == "api.tokens":
                value = ["***"] * len(value)
            elif setting.item:
                secret = {s.path for s in setting.item if s.kind == "secret"}
                value = [
                    {k: ("***" if k in secret and v else v) for k, v in _dotted(entry).items()}
                    for entry in value
                ]
            out[path] = value
        return out

    def metrics_directory(self) -> Path:
        """Return the folder the box's processes share their counters in."""
        if self.metrics.directory:
            return Path(self.metrics.directory)
        return Path(self.store.path).with_name(Path(self.store.path).name + ".metrics")

    def import_threads(self) -> int:
        """Return how many import threads the worker runs (worker.threads, 0 sized to the slots)."""
        return self.worker.threads or self.servicenow.max_concurrent + SPARE_IMPORT_THREADS

    def mapping_files(self) -> list[Path]:
        """Return the configured mapping files (a folder stands for its YAML files)."""
        paths: list[Path] = []
        for entry in self.mappings:
            p = Path(entry)
            paths.extend(sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p])
        return paths


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [
            dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type) else v
            for v in value
        ]
    return value


def _dotted(entry: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested entry to dotted keys."""
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            out.update(_dotted(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _section_type(annotation: Any) -> type | None:
    """Return the dataclass a field holds, if it holds one."""
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    return None


def _entry_type(annotation: Any) -> type | None:
    """Return the dataclass of each entry when a field holds a tuple of them (sections)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and args and args[-1] is Ellipsis:
        return _section_type(args[0])
    return None


def _build(
    cls: Any, prefix: str, values: dict[str, Any], extra: dict[str, Any] | None = None
) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = dict(extra or {})
    for f in fields(cls):
        if f.name in kwargs:
            continue
        path = f"{prefix}{f.name}"
        section = _section_type(hints[f.name])
        if section is not None:
            kwargs[f.name] = _build(section, path + ".", values)
            continue
        entry = _entry_type(hints[f.name])
        if entry is not None:
            kwargs[f.name] = tuple(_build(entry, "", dict(item)) for item in values[path])
            continue
        value = values[path]
        if typing.get_origin(hints[f.name]) is tuple:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def field_paths(cls: type = Config, prefix: str = "") -> list[str]:
    """Return the dotted paths of every setting field of the typed configuration."""
    hints = typing.get_type_hints(cls)
    paths: list[str] = []
    for f in fields(cls):
        if f.name in ("source", "appliances") and cls is Config:
            continue
        section = _section_type(hints[f.name])
        entry = _entry_type(hints[f.name])
        if section is not None:
            paths += field_paths(section, f"{prefix}{f.name}.")
        elif entry is not None:
            paths.append(f"{prefix}{f.name}")
            paths += field_paths(entry, f"{prefix}{f.name}[].")
        else:
            paths.append(f"{prefix}{f.name}")
    return paths
