"""The Configuration API (``/api/config/v1``, JSON): Jump Clients and their installers."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from connector.bomgar.models import JumpClient, JumpClientInstaller
from connector.bomgar.transport import SERVICE, Transport, json_or_none, retry_if_not_minted
from connector.errors import DataError, ProtocolError

CONFIG_PER_PAGE = 100
JUMP_CLIENT_FILTERS = frozenset(
    {
        "name",
        "hostname",
        "fqdn",
        "tag",
        "jump_group_id",
        "jump_group_type",
        "console_user",
        "public_ip",
        "private_ip",
        "connection_type",
    }
)
INSTALLER_PLATFORMS = frozenset(
    {
        "linux-64",
        "raspberry-pi-32-headless",
        "mac-dmg",
        "mac-zip",
        "windows-64-msi",
        "windows-32-msi",
    }
)
_INSTALLER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class ConfigurationApi(Transport):
    """Jump Clients: list them (paged), create installers, link their downloads."""

    def _config(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[requests.Response, Any]:
        if self.legacy:
            raise DataError("the Configuration API needs an OAuth API account, not legacy login")
        resp, body = self._request(
            method, "/api/config/v1" + path, params=params, json_body=json_body, xml=False
        )
        self._raise_for_status(resp, body)
        if resp.status_code not in expect:
            raise ProtocolError(
                f"expected HTTP {' or '.join(map(str, expect))} from {path}, "
                f"got {resp.status_code}",
                service=SERVICE,
                status=resp.status_code,
            )
        if not body:
            return resp, None
        data = json_or_none(body)
        if data is None:
            raise ProtocolError(f"{path} answered with invalid JSON", service=SERVICE)
        return resp, data

    def list_jump_clients(self, **filters: str | int) -> Iterator[JumpClient]:
        """Yield Jump Clients matching the filters, following the API's pagination."""
        unknown = sorted(set(filters) - JUMP_CLIENT_FILTERS)
        if unknown:
            # The appliance answers 401 to unknown query fields, which would look like a bad token.
            raise DataError(
                f"jump client filter {unknown[0]!r}: expected one of "
                f"{', '.join(sorted(JUMP_CLIENT_FILTERS))}"
            )
        page = 1
        while True:
            params = {**filters, "per_page": CONFIG_PER_PAGE, "current_page": page}

            def fetch(params: dict[str, Any] = params) -> tuple[requests.Response, Any]:
                return self._config("GET", "/jump-client", params=params)

            resp, data = self._retrying(fetch, "list jump clients")
            if not isinstance(data, list):
                raise ProtocolError("/jump-client did not answer with a JSON list", service=SERVICE)
            for item in data:
                if isinstance(item, dict):
                    yield _jump_client(item)
            if not data or not self._has_next_page(resp, page, len(data)):
                return
            page += 1

    @staticmethod
    def _has_next_page(resp: requests.Response, page: int, count: int) -> bool:
        if "next" in resp.links:
            return True
        last = resp.headers.get("X-BT-Pagination-Last-Page")
        if last is not None:
            try:
                return page < int(last)
            except ValueError:
                pass
        elif "Link" in resp.headers:
            return False
        # Without pagination headers, a full page may be followed by more.
        return count >= CONFIG_PER_PAGE

    def create_jump_client_installer(
        self, jump_group_id: int, **options: Any
    ) -> JumpClientInstaller:
        """Create a Jump Client installer (201); keep encoded_info, it is only returned once."""
        if isinstance(jump_group_id, bool) or not isinstance(jump_group_id, int):
            raise DataError(f"jump_group_id: expected an integer, got {jump_group_id!r}")
        duration = options.get("valid_duration")
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int)
            or not 10 <= duration <= 525600
        ):
            raise DataError(
                f"valid_duration: expected minutes between 10 and 525600, got {duration!r}"
            )
        body = {"jump_group_id": jump_group_id, **options}
        _, data = self._retrying(
            lambda: self._config(
                "POST", "/jump-client/installer", json_body=body, expect=(200, 201)
            ),
            "create jump client installer",
            retry_if=retry_if_not_minted,
        )
        if not isinstance(data, dict) or not data.get("installer_id"):
            raise ProtocolError("installer reply has no installer_id", service=SERVICE)
        key_info: dict[str, Any] = (
            data["key_info"] if isinstance(data.get("key_info"), dict) else {}
        )
        return JumpClientInstaller(
            installer_id=str(data["installer_id"]),
            expiration_timestamp=str(data.get("expiration_timestamp") or ""),
            encoded_info=str(key_info.get("encodedInfo") or ""),
            filename=str(key_info.get("filename") or ""),
            installer_path=str(key_info.get("installerPath") or ""),
            raw=data,
        )

    def installer_download_url(self, installer_id: str, platform: str) -> str:
        """Return the Configuration API URL of an installer binary (needs a bearer token)."""
        if not _INSTALLER_ID.fullmatch(installer_id or ""):
            raise DataError(f"installer_id: expected an installer id, got {installer_id!r:.70}")
        if platform not in INSTALLER_PLATFORMS:
            raise DataError(
                f"platform: expected one of {', '.join(sorted(INSTALLER_PLATFORMS))}, "
                f"got {platform!r:.40}"
            )
        return f"{self.base_url}/api/config/v1/jump-client/installer/{installer_id}/{platform}"


def _jump_client(item: dict[str, Any]) -> JumpClient:
    def text(name: str) -> str:
        value = item.get(name)
        return "" if value is None else str(value)

    group = item.get("jump_group_id")
    try:
        group_id = int(group) if group is not None else None
    except (TypeError, ValueError):
        group_id = None
    try:
        client_id = int(item.get("id"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"jump client without a numeric id: {item.get('id')!r}") from exc
    return JumpClient(
        id=client_id,
        name=text("name"),
        hostname=text("hostname"),
        fqdn=text("fqdn"),
        tag=text("tag"),
        comments=text("comments"),
        jump_group_id=group_id,
        jump_group_type=text("jump_group_type"),
        connection_type=text("connection_type"),
        operating_system=text("operating_system"),
        public_ip=text("public_ip"),
        private_ip=text("private_ip"),
        console_user=text("console_user"),
        is_lost=bool(item.get("is_lost")),
        raw=item,
    )
