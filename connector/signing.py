"""Signed, expiring links for the Get Support Now page.

ServiceNow builds the link with a secret it shares with the connector (system property
``x_bomgar.signing_secret`` = connector setting ``support.signing_secret``)::

    message   = table + "\\n" + sys_id + "\\n" + user_sys_id + "\\n" + expires
    signature = base64( HMAC-SHA256( key = UTF-8 bytes of the secret, message ) )
    link      = <connector>/support/<table>/<sys_id>
                ?user=<user_sys_id>&expires=<expires>&sig=<signature>

``expires`` is whole seconds since the epoch (UTC). The signature may be standard or URL-safe
base64, with or without ``=`` padding, and must be percent-encoded in the query string. In a
ServiceNow server script this is::

    var key = GlideStringUtil.base64Encode(secret);
    var sig = new GlideCertificateEncryption().generateMac(key, 'HmacSHA256', message);

A link is refused once ``expires`` has passed and when ``expires`` lies further ahead than
``support.link_ttl_seconds`` (plus a minute of clock skew), so a leaked long-lived link is useless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode

CLOCK_SKEW_SECONDS = 60


class SignatureError(Exception):
    """Raise when a signed link is missing, malformed, tampered with or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class SignedLink:
    """What a valid signed link grants: one user, one ticket, until ``expires``."""

    table: str
    sys_id: str
    user: str
    expires: int


def _message(table: str, sys_id: str, user: str, expires: int) -> bytes:
    return f"{table}\n{sys_id}\n{user}\n{int(expires)}".encode()


def sign(secret: str, table: str, sys_id: str, user: str, expires: int) -> str:
    """Return the base64 HMAC-SHA256 signature of a link, as ServiceNow computes it."""
    if not secret:
        raise ValueError("signing needs a non-empty secret")
    mac = hmac.new(secret.encode(), _message(table, sys_id, user, expires), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def link_query(
    secret: str, table: str, sys_id: str, user: str, *, ttl: int, now: float | None = None
) -> str:
    """Build the query string (user, expires, sig) of a link valid for ``ttl`` seconds."""
    expires = int((time.time() if now is None else now) + ttl)
    sig = sign(secret, table, sys_id, user, expires)
    return urlencode({"user": user, "expires": str(expires), "sig": sig})


def _decode(sig: str) -> bytes:
    text = sig.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the link's signature is not base64") from exc


def verify(
    secret: str,
    table: str,
    sys_id: str,
    user: str | None,
    expires: str | None,
    sig: str | None,
    *,
    max_ttl: int,
    now: float | None = None,
) -> SignedLink:
    """Check a link's signature and expiry; return what it grants or raise SignatureError."""
    if not secret:
        raise SignatureError("signed links are disabled (support.signing_secret is empty)")
    if not user or not expires or not sig:
        raise SignatureError("the link lacks user, expires or sig")
    try:
        expires_at = int(expires)
    except ValueError as exc:
        raise SignatureError("the link's expires is not a whole number") from exc
    expected = base64.b64decode(sign(secret, table, sys_id, user, expires_at))
    if not hmac.compare_digest(expected, _decode(sig)):
        raise SignatureError("the link's signature does not match")
    current = time.time() if now is None else now
    if expires_at < current:
        raise SignatureError("the link has expired", expired=True)
    if expires_at > current + max_ttl + CLOCK_SKEW_SECONDS:
        raise SignatureError("the link is valid for longer than support.link_ttl_seconds allows")
    return SignedLink(table, sys_id, user, expires_at)
