"""Load the YAML file, check every value against ``SETTINGS`` and build the typed ``Config``.

Errors name the file, the key path, what was expected and what was found; every problem is
reported at once. ``${NAME}`` and ``${NAME:-default}`` are replaced from the environment first.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from connector.config.sections import Config
from connector.config.settings import BY_PATH, REQUIRED, SETTINGS, Setting
from connector.errors import ConfigError, ConfigProblem

ENV_VAR = "CONNECTOR_CONFIG"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _flatten(
    data: Mapping[str, Any], prefix: str = "", known: Mapping[str, Setting] = BY_PATH
) -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in known or not isinstance(value, Mapping):
            yield path, value
        else:
            yield from _flatten(value, path, known)


def _interpolate(value: Any, path: str, file: str, env: Mapping[str, str], problems: list) -> Any:
    if isinstance(value, list):
        return [
            _interpolate(v, f"{path}[{n}]" if isinstance(v, Mapping) else path, file, env, problems)
            for n, v in enumerate(value)
        ]
    if isinstance(value, Mapping):
        return {k: _interpolate(v, f"{path}.{k}", file, env, problems) for k, v in value.items()}
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
        if value == "" and setting.default == "":
            return value  # optional here (e.g. bomgar.appliance_url beside bomgar.appliances)
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
    if kind == "sections":
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            return bad("a list of sections, one mapping per entry")
        return [_convert_entry(setting, n, entry, file, problems) for n, entry in enumerate(value)]
    raise AssertionError(f"unknown setting kind {kind}")  # pragma: no cover - table is static


def _convert_entry(
    setting: Setting, n: int, entry: Mapping[str, Any], file: str, problems: list[ConfigProblem]
) -> dict[str, Any]:
    """Check one entry of a list of sections; return its given values by relative path."""
    known = {s.path: s for s in setting.item}
    where = f"{setting.path}[{n}]"
    out: dict[str, Any] = {}
    for path, raw in _flatten(entry, known=known):
        if path not in known:
            expected = f"one of {', '.join(known)}"
            problems.append(ConfigProblem(file, f"{where}.{path}", expected, "an unknown key"))
            continue
        shown = dataclasses.replace(known[path], path=f"{where}.{path}")
        out[path] = _convert(shown, raw, file, problems)
    return out


def _complete_entries(values: dict[str, Any], file: str, problems: list[ConfigProblem]) -> None:
    """Fill each entry's missing values: from the setting it inherits, or its default."""
    for setting in SETTINGS:
        for n, entry in enumerate((values.get(setting.path) or []) if setting.item else []):
            for sub in setting.item:
                if sub.path in entry:
                    continue
                if sub.inherits:
                    entry[sub.path] = values[sub.inherits]
                elif sub.default is REQUIRED:
                    problems.append(
                        ConfigProblem(
                            file, f"{setting.path}[{n}].{sub.path}", "a value (required)", "nothing"
                        )
                    )
                else:
                    entry[sub.path] = sub.default


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
        if path not in BY_PATH:
            near = [p for p in BY_PATH if p.split(".")[0] == path.split(".")[0]]
            hint = (
                f"one of {', '.join(near)}"
                if near
                else "a known setting (see docs/configuration.md)"
            )
            problems.append(ConfigProblem(file, path, hint, "an unknown key"))
            continue
        values[path] = _convert(
            BY_PATH[path], _interpolate(raw, path, file, env, problems), file, problems
        )
    for setting in SETTINGS:
        if setting.path in values:
            continue
        if setting.default is REQUIRED:
            problems.append(ConfigProblem(file, setting.path, "a value (required)", "nothing"))
        else:
            default = setting.default
            values[setting.path] = list(default) if isinstance(default, list) else default
    _complete_entries(values, file, problems)
    _check_combinations(values, set(given), file, problems)
    _check_appliances(values, set(given), file, problems)
    if problems:
        raise ConfigError(problems)
    return Config.build(values, file)


def _check_combinations(
    values: dict[str, Any], given: set[str], file: str, problems: list[ConfigProblem]
) -> None:
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


SINGLE_APPLIANCE = ("bomgar.appliance_url", "bomgar.client_id", "bomgar.client_secret")
_STORE_SCHEMES = ("postgresql://", "postgres://", "sqlite:///")


def _check_appliances(
    values: dict[str, Any], given: set[str], file: str, problems: list[ConfigProblem]
) -> None:
    """Check the appliances: one from the single keys, or a list; ids and tokens; the store URL."""
    entries = values.get("bomgar.appliances") or []
    if not entries:
        for path in (*SINGLE_APPLIANCE, "webhook.token"):
            if path not in given:
                problems.append(ConfigProblem(file, path, "a value (required)", "nothing"))
    else:
        for path in (*SINGLE_APPLIANCE, "bomgar.appliance_id"):
            if path in given and values.get(path):
                problems.append(
                    ConfigProblem(
                        file,
                        path,
                        "nothing while bomgar.appliances lists the appliances (give each entry"
                        " its own)",
                        "a value",
                    )
                )
        seen: set[str] = set()
        for n, entry in enumerate(entries):
            ident = entry.get("id")
            if isinstance(ident, str) and (
                not ident or ident != ident.strip() or len(ident) > 64 or ident in seen
            ):
                problems.append(
                    ConfigProblem(
                        file,
                        f"bomgar.appliances[{n}].id",
                        "1-64 characters without surrounding spaces, unique among the appliances",
                        repr(ident)[:70],
                    )
                )
            seen.add(str(ident))
            if "webhook_token" in entry and not entry["webhook_token"]:
                problems.append(
                    ConfigProblem(
                        file,
                        f"bomgar.appliances[{n}].webhook_token",
                        "a value (here or in webhook.token)",
                        "nothing",
                    )
                )
    node = values.get("worker.node_name") or ""
    if ":" in node:
        problems.append(
            ConfigProblem(file, "worker.node_name", "a name without ':'", repr(node)[:70])
        )
    url = values.get("store.url") or ""
    if "://" in url and not url.startswith(_STORE_SCHEMES):
        problems.append(
            ConfigProblem(
                file, "store.url", "postgresql://…, sqlite:///PATH or a path", repr(url)[:70]
            )
        )


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

    def row(s: Setting, path: str) -> str:
        if s.default is REQUIRED:
            default = "required"
        elif s.inherits:
            default = f"as `{s.inherits}`"
        else:
            default = f"`{s.default!r}`"
        kind = "list of sections" if s.kind == "sections" else s.kind
        kind += f" ({'/'.join(s.choices)})" if s.choices else ""
        return f"| `{path}` | {kind} | {default} | {s.help} |"

    for s in SETTINGS:
        lines.append(row(s, s.path))
        lines.extend(row(sub, f"{s.path}[].{sub.path}") for sub in s.item)
    return "\n".join(lines) + "\n"
