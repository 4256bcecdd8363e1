"""Signed, expiring links for the Get Support Now page, and proof inside issued external keys.

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
import re
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


# --------------------------------------------------------------------------- issued external keys
#
# Every external key the connector hands the appliance (session keys, the Get Support Now start
# link, Jump links) carries proof that the connector issued it, so the importer can tell them
# from keys a stranger typed into a public-site URL:
#
#     <ticket>.<channel><issued>.<tag>      e.g. a5000000000000000000000000000001.slxyz12k.m4q...
#
# ``channel`` is k (session key), s (Get Support Now) or j (Jump); ``issued`` is the issue time in
# epoch seconds, base 36; ``tag`` is the first 16 characters (80 bits) of the lower-case base32
# HMAC-SHA256 of "connector-external-key/v1", ticket, channel and issued, one per line. Only
# letters, digits and dots are used, well inside the appliance's 1024-character limit, so the key
# survives the appliance and the SupportSession report unchanged. Checking needs the secret only.

ISSUED_CHANNELS = {"k": "session key", "s": "Get Support Now", "j": "Jump"}
_TAG_CHARS = 16
_ISSUED_KEY = re.compile(
    r"(?P<ticket>[A-Za-z0-9_-]{1,200})\.(?P<channel>[ksj])(?P<issued>[0-9a-z]{1,13})"
    r"\.(?P<tag>[a-z2-7]{16})"
)


@dataclass(frozen=True)
class IssuedKey:
    """What an external key the connector issued says: its ticket, channel and issue time."""

    ticket: str
    channel: str
    issued_at: int


def _key_tag(secret: bytes, ticket: str, channel: str, issued36: str) -> str:
    message = f"connector-external-key/v1\n{ticket}\n{channel}\n{issued36}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_TAG_CHARS]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def issue_external_key(
    secret: bytes, ticket: str, channel: str, *, now: float | None = None
) -> str:
    """Return ``ticket`` with the proof that the connector issued it for ``channel``."""
    if not secret:
        raise ValueError("issuing external keys needs a non-empty secret")
    if channel not in ISSUED_CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(ISSUED_CHANNELS)}, got {channel!r}")
    issued36 = _base36(int(time.time() if now is None else now))
    key = f"{ticket}.{channel}{issued36}.{_key_tag(secret, ticket, channel, issued36)}"
    if not _ISSUED_KEY.fullmatch(key):
        raise ValueError(f"cannot issue an external key for ticket {ticket!r}")
    return key


def split_external_key(key: str) -> tuple[str, str, str, str] | None:
    """Return (ticket, channel, issued, tag) when ``key`` has an issued key's shape, else None."""
    match = _ISSUED_KEY.fullmatch(key.strip())
    if match is None:
        return None
    return match["ticket"], match["channel"], match["issued"], match["tag"]


def verify_external_key(secret: bytes, key: str) -> IssuedKey | None:
    """Return what an issued key says when its tag is right for ``secret``, else None."""
    parts = split_external_key(key)
    if parts is None or not secret:
        return None
    ticket, channel, issued36, tag = parts
    if not hmac.compare_digest(tag, _key_tag(secret, ticket, channel, issued36)):
        return None
    return IssuedKey(ticket, channel, int(issued36, 36))
