"""Jump Clients: the seed's and those added at run time, found by id, name or hostname."""

from __future__ import annotations

import threading
import time
from typing import Any

from connector.sim.bomgar.directory import Directory
from connector.sim.bomgar.models import SimError, by_id, iso_utc


class JumpClients(Directory):
    """Keep Jump Clients and describe one for a Jump session; a room of the appliance's state."""

    lock: threading.RLock
    jump_clients: dict[int, dict[str, Any]]
    _next_jump_client: int

    def _load_jump_clients(self) -> None:
        self.jump_clients = {}
        for jc in self.seed["jump_clients"]:
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

    def find_jump_client(self, ref: Any) -> dict[str, Any]:
        """Find a Jump Client by id or name/hostname."""
        found = by_id(self.jump_clients, ref)
        if found is not None:
            return found
        for jc in self.jump_clients.values():
            if str(ref).lower() in (jc["name"].lower(), jc["hostname"].lower()):
                return jc
        raise SimError(f"Unknown Jump Client {ref!r}.", 404)

    def jump_info(self, jc: dict[str, Any] | None) -> dict[str, Any]:
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


def jump_customer(jc: dict[str, Any] | None) -> dict[str, Any]:
    if jc is None:
        raise SimError("Unknown Jump Client.", 404)
    return {
        "name": jc.get("console_user") or jc["name"],
        "hostname": jc["hostname"],
        "os": jc.get("operating_system", ""),
        "private_ip": jc.get("private_ip", ""),
        "public_ip": jc.get("public_ip", ""),
    }
