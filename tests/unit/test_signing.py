"""The signed Get Support Now link scheme (connector.signing)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs

import pytest

from connector import signing

SECRET = "shared-secret"
TICKET = "a5000000000000000000000000000001"
USER = "a2000000000000000000000000000001"
NOW = 1_800_000_000


def test_signature_is_base64_hmac_sha256_of_the_documented_message() -> None:
    """The signature is base64 HMAC-SHA256 of table, sys_id, user, expires joined by newlines."""
    message = f"incident\n{TICKET}\n{USER}\n{NOW + 300}".encode()
    expected = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    assert signing.sign(SECRET, "incident", TICKET, USER, NOW + 300) == expected.decode()


def test_valid_link_round_trips() -> None:
    """A link built by link_query verifies and grants its user and ticket."""
    query = parse_qs(signing.link_query(SECRET, "incident", TICKET, USER, ttl=300, now=NOW))
    link = signing.verify(
        SECRET,
        "incident",
        TICKET,
        query["user"][0],
        query["expires"][0],
        query["sig"][0],
        max_ttl=900,
        now=NOW + 10,
    )
    assert (link.user, link.sys_id, link.expires) == (USER, TICKET, NOW + 300)


def test_urlsafe_unpadded_signature_is_accepted() -> None:
    """URL-safe base64 without padding verifies too (some scripts produce it)."""
    sig = signing.sign(SECRET, "incident", TICKET, USER, NOW + 60)
    loose = sig.replace("+", "-").replace("/", "_").rstrip("=")
    link = signing.verify(
        SECRET, "incident", TICKET, USER, str(NOW + 60), loose, max_ttl=900, now=NOW
    )
    assert link.user == USER


def test_expired_link_is_refused_as_expired() -> None:
    """A link past its expires is refused and flagged as expired."""
    sig = signing.sign(SECRET, "incident", TICKET, USER, NOW - 1)
    with pytest.raises(signing.SignatureError) as info:
        signing.verify(SECRET, "incident", TICKET, USER, str(NOW - 1), sig, max_ttl=900, now=NOW)
    assert info.value.expired


@pytest.mark.parametrize(
    ("table", "sys_id", "user", "expires"),
    [
        ("problem", TICKET, USER, NOW + 60),
        ("incident", "a5000000000000000000000000000002", USER, NOW + 60),
        ("incident", TICKET, "a2000000000000000000000000000002", NOW + 60),
        ("incident", TICKET, USER, NOW + 61),
    ],
)
def test_tampered_link_is_refused(table: str, sys_id: str, user: str, expires: int) -> None:
    """Changing the table, ticket, user or expiry of a signed link breaks its signature."""
    sig = signing.sign(SECRET, "incident", TICKET, USER, NOW + 60)
    with pytest.raises(signing.SignatureError) as info:
        signing.verify(SECRET, table, sys_id, user, str(expires), sig, max_ttl=900, now=NOW)
    assert not info.value.expired


def test_link_longer_than_the_ttl_is_refused() -> None:
    """A correctly signed link valid for longer than link_ttl_seconds is refused."""
    far = NOW + 900 + signing.CLOCK_SKEW_SECONDS + 1
    sig = signing.sign(SECRET, "incident", TICKET, USER, far)
    with pytest.raises(signing.SignatureError, match="longer"):
        signing.verify(SECRET, "incident", TICKET, USER, str(far), sig, max_ttl=900, now=NOW)


@pytest.mark.parametrize(
    ("secret", "user", "expires", "sig"),
    [
        ("", USER, str(NOW + 5), "x"),
        (SECRET, None, str(NOW + 5), "x"),
        (SECRET, USER, "soon", "AAAA"),
        (SECRET, USER, str(NOW + 5), "not base64!"),
        (SECRET, USER, str(NOW + 5), None),
    ],
)
def test_incomplete_or_malformed_link_is_refused(
    secret: str, user: str | None, expires: str, sig: str | None
) -> None:
    """A missing secret, user or signature, or a malformed expiry or signature, is refused."""
    with pytest.raises(signing.SignatureError):
        signing.verify(secret, "incident", TICKET, user, expires, sig, max_ttl=900, now=NOW)
