"""What the appliance knows from its seed: reps, teams, issues, queues and custom fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from connector.sim.bomgar.accounts import Account, load_accounts
from connector.sim.bomgar.models import SimError, by_id
from connector.sim.bomgar.options import SimOptions

DEFAULT_SEED = Path(__file__).with_name("seed.yaml")

CUSTOM_VALUE_LIMIT = 1024
CUSTOM_TOTAL_LIMIT = 10 * 1024


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


class Directory:
    """Look up reps, customers, queues and custom attributes; a room of the appliance's state."""

    options: SimOptions
    seed: dict[str, Any]
    accounts: dict[str, Account]
    legacy_users: dict[str, Account]
    reps: dict[int, dict[str, Any]]
    teams: dict[int, dict[str, Any]]
    issues: dict[str, dict[str, Any]]
    custom_fields: dict[str, str]
    jump_groups: dict[int, dict[str, Any]]
    jumpoints: dict[int, dict[str, Any]]

    def _load_directory(self) -> None:
        seed = self.seed
        self.accounts, self.legacy_users = load_accounts(seed)
        self.reps = {r["id"]: dict(r) for r in seed["reps"]}
        self.teams = {t["id"]: dict(t) for t in seed["teams"]}
        self.issues = {i["code_name"]: dict(i) for i in seed["issues"]}
        self.custom_fields = {
            f["code_name"]: f.get("display_name", f["code_name"]) for f in seed["custom_fields"]
        }
        self.jump_groups = {g["id"]: dict(g) for g in seed["jump_groups"]}
        self.jumpoints = {j["id"]: dict(j) for j in seed["jumpoints"]}

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

    def resolve_queue(self, queue_id: str) -> str:
        """Validate a queue_id (general, rep:, team:, rep_username:, issue:, embassy:)."""
        queue_id = (queue_id or "").strip()
        if queue_id == "general":
            return "general"
        kind, _, value = queue_id.partition(":")
        if kind == "rep":
            rep = by_id(self.reps, value)
            if rep is None:
                raise SimError(f"Invalid queue_id: no representative with id {value}.")
            return f"rep:{rep['id']}"
        if kind == "rep_username":
            matches = [r for r in self.reps.values() if r["username"] == value]
            if len(matches) != 1:
                raise SimError(f"Invalid queue_id: {len(matches)} users have username {value!r}.")
            return f"rep:{matches[0]['id']}"
        if kind in ("team", "embassy"):
            team = by_id(self.teams, value)
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

    def queue_name(self, queue: str) -> str:
        """Return a queue's display name."""
        kind, _, value = queue.partition(":")
        rep = by_id(self.reps, value) if kind == "rep" else None
        if rep is not None:
            return rep["public_display_name"]
        team = by_id(self.teams, value) if kind == "team" else None
        if team is not None:
            return team["name"]
        if kind == "issue" and value in self.issues:
            return self.issues[value].get("description", value)
        return "General Queue"
