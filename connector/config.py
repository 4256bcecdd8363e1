"""Load and validate the connector's YAML configuration.

One table, ``SETTINGS``, drives defaults, validation and the settings reference in
``docs/configuration.md`` (a test fails when a setting is undocumented). Errors name the file,
the key path, what was expected and what was found; every problem is reported at once.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from connector.errors import ConfigError, ConfigProblem

ENV_VAR = "CONNECTOR_CONFIG"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_REQUIRED = object()


@dataclass(frozen=True)
class Setting:
    """One configuration key: its type, default and meaning."""

    path: str
    kind: str  # url | str | secret | bool | tls | int | float | networks | paths | choice | list
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None


SETTINGS: tuple[Setting, ...] = (
    # ServiceNow
    Setting(
        "servicenow.instance_url",
        "url",
        _REQUIRED,
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
        "Most requests in flight at once (stays under the instance's API semaphore).",
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
        _REQUIRED,
        "Public-site URL of the appliance, e.g. https://support.example.com.",
    ),
    Setting(
        "bomgar.client_id",
        "str",
        _REQUIRED,
        "API account client id (Management > API Configuration).",
    ),
    Setting("bomgar.client_secret", "secret", _REQUIRED, "API account client secret."),
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
        "When set, outbound events from any other appliance_id are refused with 403.",
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
        _REQUIRED,
        "Shared secret the appliance appends to the event URL as outbound_event_token.",
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
        "store.path", "str", "connector.db", "SQLite file holding the inbox, ledger and watermark."
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
        "FULL syncs every committed event to disk (survives power loss); NORMAL survives a"
        " crashed process but may lose the last events on power loss, and is faster.",
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
)

_BY_PATH = {s.path: s for s in SETTINGS}


class Config(Mapping[str, Any]):
    """Validated settings, read by dotted path: ``config["servicenow.instance_url"]``."""

    def __init__(self, values: dict[str, Any], source: str = "<defaults>") -> None:
        self._values = values
        self.source = source

    def __getitem__(self, path: str) -> Any:
        return self._values[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def section(self, prefix: str) -> dict[str, Any]:
        """Return the settings under ``prefix.`` with the prefix removed."""
        cut = len(prefix) + 1
        return {k[cut:]: v for k, v in self._values.items() if k.startswith(prefix + ".")}

    def redacted(self) -> dict[str, Any]:
        """Return every setting with secrets replaced, for display."""
        out = {}
        for path, value in self._values.items():
            setting = _BY_PATH[path]
            if setting.kind == "secret" and value:
                value = "***"
            elif path == "api.tokens":
                value = ["***"] * len(value)
            out[path] = value
        return out

    def mapping_paths(self) -> list[Path]:
        """Return the mapping files to load (the built-in ones when none are configured)."""
        from connector.mapping import default_mapping_paths

        configured = self._values["mappings"]
        if not configured:
            return default_mapping_paths()
        paths: list[Path] = []
        for entry in configured:
            p = Path(entry)
            paths.extend(sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p])
        return paths


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in _BY_PATH or not isinstance(value, Mapping):
            yield path, value
        else:
            yield from _flatten(value, path)


def _interpolate(value: Any, path: str, file: str, env: Mapping[str, str], problems: list) -> Any:
    if isinstance(value, list):
        return [_interpolate(v, path, file, env, problems) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(
            ConfigProblem(file, path, f"environment variable {name} to be set", "it unset")
        )
        return ""

    return _INTERPOLATION.sub(replace, value)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"


def _convert(setting: Setting, value: Any, file: str, problems: list[ConfigProblem]) -> Any:
    """Check one value against its setting; return the converted value."""

    def bad(expected: str) -> None:
        problems.append(ConfigProblem(file, setting.path, expected, _describe(value)))

    kind = setting.kind
    if kind in ("str", "secret"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            return bad("a string")
        return value
    if kind == "url":
        if not isinstance(value, str) or not value:
            return bad("an http(s) URL")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return bad("an http(s) URL such as https://host.example.com")
        return value.rstrip("/")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        return bad("true or false")
    if kind == "tls":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
            if Path(value).is_file():
                return value
            return bad("true, false or the path of an existing CA bundle file")
        return bad("true, false or a CA bundle path")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            return bad(f"a number ({kind})")
        try:
            number = int(value) if kind == "int" else float(value)
        except (TypeError, ValueError):
            return bad(f"a number ({kind})")
        if kind == "int" and isinstance(value, float) and not value.is_integer():
            return bad("a whole number")
        if setting.minimum is not None and number < setting.minimum:
            return bad(f"a number of at least {setting.minimum:g}")
        return number
    if kind == "choice":
        if value not in setting.choices:
            return bad("one of " + ", ".join(setting.choices))
        return value
    if kind == "networks":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            return bad("a list of networks in CIDR form, e.g. [10.0.0.0/8]")
        nets = []
        for item in value:
            try:
                nets.append(str(ipaddress.ip_network(str(item), strict=False)))
            except ValueError:
                problems.append(
                    ConfigProblem(
                        file,
                        setting.path,
                        "networks in CIDR form, e.g. 10.1.2.0/24",
                        _describe(item),
                    )
                )
        return nets
    if kind == "paths":
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return bad("a folder path or a list of file paths")
        base = Path(file).parent if file not in ("<defaults>", "<dict>") else Path.cwd()
        resolved = []
        for item in value:
            p = Path(item) if Path(item).is_absolute() else base / item
            if not p.exists():
                problems.append(
                    ConfigProblem(
                        file, setting.path, "an existing file or folder", f"{item!r} (missing)"
                    )
                )
            resolved.append(str(p))
        return resolved
    if kind == "list":
        if isinstance(value, str):
            value = [value] if value else []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return bad("a list of non-empty strings")
        return value
    raise AssertionError(f"unknown setting kind {kind}")  # pragma: no cover - table is static


def validate(
    data: Mapping[str, Any] | None,
    *,
    file: str = "<dict>",
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Check raw YAML data plus dotted-path overrides; return a Config or raise ConfigError."""
    env = os.environ if env is None else env
    problems: list[ConfigProblem] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(ConfigProblem(file, "", "a mapping of sections", _describe(data)))
    given = dict(_flatten(data))
    if overrides:
        given.update(overrides)
    values: dict[str, Any] = {}
    for path, raw in given.items():
        if path not in _BY_PATH:
            near = [p for p in _BY_PATH if p.split(".")[0] == path.split(".")[0]]
            hint = (
                f"one of {', '.join(near)}"
                if near
                else "a known setting (see docs/configuration.md)"
            )
            problems.append(ConfigProblem(file, path, hint, "an unknown key"))
            continue
        values[path] = _convert(
            _BY_PATH[path], _interpolate(raw, path, file, env, problems), file, problems
        )
    for setting in SETTINGS:
        if setting.path in values:
            continue
        if setting.default is _REQUIRED:
            problems.append(ConfigProblem(file, setting.path, "a value (required)", "nothing"))
        else:
            default = setting.default
            values[setting.path] = list(default) if isinstance(default, list) else default
    _check_combinations(values, file, problems)
    if problems:
        raise ConfigError(problems)
    return Config(values, file)


def _check_combinations(values: dict[str, Any], file: str, problems: list[ConfigProblem]) -> None:
    checks: list[tuple[bool, str, str, str]] = [
        (
            bool(values.get("servicenow.oauth.client_id"))
            or bool(values.get("servicenow.username") and values.get("servicenow.password")),
            "servicenow.username",
            "servicenow.username and servicenow.password, or servicenow.oauth.client_id",
            "neither",
        ),
        (
            not values.get("servicenow.oauth.client_id")
            or bool(values.get("servicenow.oauth.client_secret")),
            "servicenow.oauth.client_secret",
            "a secret when servicenow.oauth.client_id is set",
            "nothing",
        ),
        (
            not values.get("api.username") or bool(values.get("api.password")),
            "api.password",
            "a password when api.username is set",
            "nothing",
        ),
    ]
    for ok, path, expected, found in checks:
        if not ok and path in values:
            problems.append(ConfigProblem(file, path, expected, found))


def _yaml_problem(file: str, exc: yaml.YAMLError) -> ConfigProblem:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    return ConfigProblem(file, "", "valid YAML", str(getattr(exc, "problem", exc)), line)


def load(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load the config file named by ``path`` or $CONNECTOR_CONFIG and validate it."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get(ENV_VAR)
    if not path:
        raise ConfigError(
            ConfigProblem("<none>", "", f"a config file (--config or ${ENV_VAR})", "neither")
        )
    file = str(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            ConfigProblem(file, "", "a readable file", exc.strerror or str(exc))
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(file, exc)) from exc
    return validate(data, file=file, env=env, overrides=overrides)


def settings_markdown() -> str:
    """Render the settings table as Markdown (kept in docs/configuration.md)."""
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        default = "required" if s.default is _REQUIRED else f"`{s.default!r}`"
        kind = s.kind + (f" ({'/'.join(s.choices)})" if s.choices else "")
        lines.append(f"| `{s.path}` | {kind} | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
