"""SAP Cloud Identity Services through SCIM 2.0: users and group (role) memberships.

Built on ``scim2-client`` (request building, response validation, SCIM errors) and
``scim2-models`` (the User, Group and PatchOp resources). scim2-client ships engines for
httpx2 and in-process WSGI; ``RequestsEngine`` below is the few lines that let it send through
the session ``connector.http`` builds (timeouts, TLS, no proxies from the environment), so the
connector keeps one HTTP stack.

Idempotence: a user is looked up by ``userName`` before it is created (SAP, like the SCIM
server in the tests, refuses a second one with 409 ``uniqueness``, which counts as "exists,
read it again"); a membership is read before it is added, and adding an existing member changes
nothing on a conforming server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from scim2_client import SCIMClientException as SCIMClientError
from scim2_client.client import BaseSyncSCIMClient
from scim2_client.errors import RequestNetworkException, UnexpectedStatusCodeException
from scim2_models import (
    Email,
    Group,
    GroupMember,
    ListResponse,
    Name,
    PatchOp,
    PatchOperation,
    SCIMException,
    SearchRequest,
    User,
)

from connector.errors import RemoteError, TransportError
from connector.http import build_session

M = TypeVar("M")

log = logging.getLogger(__name__)

SERVICE = "sap"


class ScimUnavailable(TransportError):
    """Raise when SAP did not answer or answered 5xx/429 (retryable; a write may have landed)."""


class ScimRejected(RemoteError):
    """Raise when SAP refused a request (permanent)."""

    permanent = True


class RequestsEngine(BaseSyncSCIMClient):
    """A scim2-client engine that sends through one requests.Session."""

    def __init__(self, session: requests.Session, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request relative to the base URL."""
        try:
            return self.session.request(method, f"{self.base_url}{url}", **kwargs)
        except requests.RequestException as exc:
            network = RequestNetworkException()
            network.add_note(type(exc).__name__)
            raise network from exc


def _model(cls: Callable[..., M], **fields: Any) -> M:
    """Build a scim2 model from plain values: pydantic turns strings into its filters and paths,
    and fills aliases and defaults, where the models' static signatures ask for more."""
    return cls(**fields)


def _wrap(doing: str, exc: Exception) -> RemoteError:
    status = getattr(getattr(exc, "source", None), "status_code", None)
    if isinstance(exc, SCIMException):
        status = getattr(exc, "status", status)
    if isinstance(exc, RequestNetworkException):
        return ScimUnavailable(f"{doing}: no answer", service=SERVICE)
    code = int(str(status)) if str(status or "").isdigit() else None
    if code is not None and (code >= 500 or code == 429):
        return ScimUnavailable(f"{doing}: HTTP {code}", service=SERVICE, status=code)
    return ScimRejected(f"{doing}: {exc}", service=SERVICE, status=code)


class SapIdentity:
    """Users and groups in SAP Cloud Identity Services (or any SCIM 2.0 service)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        verify: bool | str = True,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        session = build_session(
            verify=verify, timeout=(5.0, timeout), headers={"Authorization": f"Bearer {token}"}
        )
        self.client = RequestsEngine(session, self.base_url, resource_models=None)
        self._discovered = False

    def __repr__(self) -> str:
        return f"<SapIdentity {self.base_url}>"

    def _ready(self) -> None:
        if not self._discovered:
            try:
                self.client.discover()
            except (SCIMClientError, SCIMException) as exc:
                raise _wrap("reading the SCIM service description", exc) from exc
            self._discovered = True

    def _call(self, doing: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self._ready()
        try:
            return fn(*args, **kwargs)
        except (SCIMClientError, SCIMException) as exc:
            raise _wrap(doing, exc) from exc

    # -- users ---------------------------------------------------------------------------

    def find_user(self, user_name: str) -> User | None:
        """Return the user with this userName, or None."""
        found = self._call(
            f"searching users for {user_name[:80]!r}",
            self.client.query,
            User,
            query_parameters=_model(SearchRequest, filter=f"userName eq {_quote(user_name)}"),
        )
        resources = found.resources if isinstance(found, ListResponse) else []
        return next((u for u in resources or [] if u.user_name == user_name), None)

    def ensure_user(self, fields: dict[str, str]) -> tuple[str, bool]:
        """Return the id of the user named ``fields['userName']``, creating it when missing."""
        user_name = fields["userName"]
        existing = self.find_user(user_name)
        if existing is not None:
            return str(existing.id), False
        user: User[Any] = User(
            user_name=user_name,
            display_name=fields.get("displayName") or None,
            name=Name(
                given_name=fields.get("givenName") or None,
                family_name=fields.get("familyName") or None,
            ),
            emails=[Email(value=fields["email"], primary=True)] if fields.get("email") else None,
            active=True,
        )
        try:
            created = self._call(f"creating user {user_name[:80]!r}", self.client.create, user)
        except ScimRejected as exc:
            if exc.status == 409:  # created by an earlier attempt whose answer was lost
                again = self.find_user(user_name)
                if again is not None:
                    return str(again.id), False
            raise
        return str(created.id), True

    # -- groups --------------------------------------------------------------------------

    def find_group(self, display_name: str) -> Group | None:
        """Return the group with this display name, or None."""
        found = self._call(
            f"searching groups for {display_name[:80]!r}",
            self.client.query,
            Group,
            # A group's members can run into thousands: leave them out of the lookup.
            query_parameters=_model(
                SearchRequest,
                filter=f"displayName eq {_quote(display_name)}",
                excluded_attributes=["members"],
            ),
        )
        resources = found.resources if isinstance(found, ListResponse) else []
        return next((g for g in resources or [] if g.display_name == display_name), None)

    def group_members(self, group_id: str) -> set[str]:
        """Return the ids of a group's members."""
        group = self._call(f"reading group {group_id}", self.client.query, Group, group_id)
        return {str(m.value) for m in (group.members or []) if m.value}

    def is_member(self, group_id: str, user_id: str) -> bool:
        """Tell whether a group lists a user, without reading every member.

        Filters on ``members.value`` (RFC 7644 3.4.2.2); that SAP Cloud Identity Services
        accepts this filter on Groups is unconfirmed: see docs/3pa.md.
        """
        found = self._call(
            f"checking member {user_id} of group {group_id}",
            self.client.query,
            Group,
            query_parameters=_model(
                SearchRequest,
                filter=f"id eq {_quote(group_id)} and members.value eq {_quote(user_id)}",
                attributes=["id"],
            ),
        )
        return bool(isinstance(found, ListResponse) and found.total_results)

    def add_member(self, group_id: str, user_id: str) -> bool:
        """Add a user to a group unless it is a member already; return whether it was added."""
        if self.is_member(group_id, user_id):
            return False
        self._patch(group_id, "add", user_id)
        return True

    def remove_member(self, group_id: str, user_id: str) -> bool:
        """Remove a user from a group if it is a member; return whether it was removed."""
        if not self.is_member(group_id, user_id):
            return False
        self._patch(group_id, "remove", user_id)
        return True

    def _patch(self, group_id: str, op: str, user_id: str) -> None:
        if op == "add":
            operation = _model(
                PatchOperation[Group],
                op=PatchOperation.Op.add,
                path="members",
                value=[_model(GroupMember, value=user_id)],
            )
        else:
            operation = _model(
                PatchOperation[Group],
                op=PatchOperation.Op.remove,
                path=f'members[value eq "{user_id}"]',
            )
        try:
            self._call(
                f"{op} member {user_id} of group {group_id}",
                self.client.modify,
                Group,
                group_id,
                _model(PatchOp[Group], operations=[operation]),
            )
        except ScimRejected as exc:
            if isinstance(exc.__cause__, UnexpectedStatusCodeException) and exc.status == 204:
                return
            raise

    def ping(self) -> None:
        """Read the service provider configuration."""
        self._ready()


def _quote(value: str) -> str:
    """Quote a value for a SCIM filter (RFC 7644 3.4.2.2: a JSON string)."""
    import json

    return json.dumps(value)
