"""The Command API (``/api/command``): API info, reps, teams, session keys, session attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from connector.bomgar import replies
from connector.bomgar.models import (
    ApiInfo,
    LoggedInRep,
    SessionAttributes,
    SessionKey,
    SupportTeam,
)
from connector.bomgar.transport import Transport, retry_if_not_minted
from connector.errors import DataError

MAX_CUSTOM_VALUE = 1024
MAX_CUSTOM_TOTAL = 10 * 1024
PING_TIMEOUT = (2.0, 5.0)
_CODE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


class CommandApi(Transport):
    """Commands: read what the appliance knows, mint session keys, set session attributes."""

    def get_api_info(self) -> ApiInfo:
        """Return the API version, company and the account's permissions."""
        return self._command("get_api_info", replies.parse_api_info)

    def ping(self) -> ApiInfo:
        """Check the appliance answers and the credentials work (one quick get_api_info)."""
        return self._command(
            "get_api_info", replies.parse_api_info, timeout=PING_TIMEOUT, retries=False
        )

    def get_logged_in_reps(self) -> list[LoggedInRep]:
        """Return the reps logged in now (cache the result; the vendor asks not to poll it)."""
        return self._command("get_logged_in_reps", replies.parse_logged_in_reps)

    def get_support_teams(self, *, show_members: bool = False) -> list[SupportTeam]:
        """Return the support teams (cache the result; the vendor asks not to poll it)."""
        params = {"showmembers": "1"} if show_members else {}
        return self._command("get_support_teams", replies.parse_support_teams, params=params)

    def generate_session_key(
        self,
        queue_id: str,
        *,
        external_key: str | None = None,
        custom: Mapping[str, str] | None = None,
        ttl: int | None = None,
        url_hostname: str | None = None,
    ) -> SessionKey:
        """Mint a session key for a queue (general, rep:<id>, team:<id>, …); not retried blindly."""
        queue_id = (queue_id or "").strip()
        if not queue_id:
            raise DataError("generate_session_key: expected a queue_id, found an empty value")
        form: dict[str, str] = {"type": "support", "queue_id": queue_id}
        if ttl is not None:
            if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
                raise DataError(f"generate_session_key: ttl must be positive seconds, got {ttl!r}")
            form["ttl"] = str(ttl)
        if url_hostname:
            form["url_hostname"] = url_hostname
        values = dict(custom or {})
        if external_key is not None:
            values["external_key"] = external_key
        form.update(self._custom_fields(values, legacy_external_key=self.legacy))
        return self._command(
            "generate_session_key",
            replies.parse_session_key,
            method="POST",
            data=form,
            retry_if=retry_if_not_minted,
        )

    def get_session_attributes(self, lsid: str) -> SessionAttributes:
        """Return the custom attributes of an active session."""
        return self._command(
            "get_session_attributes",
            replies.parse_session_attributes,
            params={"lsid": self._check_lsid(lsid)},
        )

    def set_session_attributes(self, lsid: str, values: Mapping[str, str]) -> str:
        """Set custom attributes of an active session (omitted keep, empty clears)."""
        form = {"lsid": self._check_lsid(lsid)}
        form.update(self._custom_fields(dict(values), legacy_external_key=False))
        return self._command(
            "set_session_attributes", replies.parse_success, method="POST", data=form
        )

    @staticmethod
    def _custom_fields(values: Mapping[str, str], *, legacy_external_key: bool) -> dict[str, str]:
        """Validate custom attribute values against the appliance's limits; return form fields."""
        out: dict[str, str] = {}
        total = 0
        for name, value in values.items():
            if not _CODE_NAME.fullmatch(name):
                raise DataError(
                    f"custom attribute {name[:40]!r}: expected a code name of letters, digits "
                    "and _, found other characters"
                )
            if not isinstance(value, str):
                raise DataError(
                    f"custom attribute {name!r}: expected text, found {type(value).__name__}"
                )
            if len(value) > MAX_CUSTOM_VALUE:
                raise DataError(
                    f"custom attribute {name!r}: expected at most {MAX_CUSTOM_VALUE} characters, "
                    f"found {len(value)}"
                )
            total += len(value.encode("utf-8"))
            if name == "external_key" and legacy_external_key:
                out["external_key"] = value
            else:
                out[f"session.custom.{name}"] = value
        if total > MAX_CUSTOM_TOTAL:
            raise DataError(
                f"custom attributes: expected at most {MAX_CUSTOM_TOTAL} bytes in total, "
                f"found {total}"
            )
        return out
