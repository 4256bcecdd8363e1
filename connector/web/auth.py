"""Check the credentials ServiceNow sends on ``/api/v1`` (and that unlock ``/health`` details)."""

from __future__ import annotations

import base64
import binascii
import hmac

from connector.config import Config


def _same(given: str, expected: str) -> bool:
    """Compare in constant time; any text (non-ASCII included) is simply unequal, never an error."""
    # hmac.compare_digest raises TypeError on str holding non-ASCII characters, so compare bytes.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def api_credentials_ok(header: str | None, config: Config) -> bool:
    """Tell whether an Authorization header carries a configured bearer token or Basic login."""
    scheme, _, value = (header or "").partition(" ")
    value = value.strip()
    if not value:
        return False
    if scheme.lower() == "bearer":
        # Check every token, so the time taken does not say which one nearly matched.
        matches = [_same(value, str(t)) for t in config.api.tokens if t]
        return any(matches)
    if scheme.lower() == "basic" and config.api.username and config.api.password:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        return _same(user, config.api.username) & _same(password, config.api.password)
    return False
