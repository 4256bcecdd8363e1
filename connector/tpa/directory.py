"""The directory (LDAP) client: users, group memberships and passwords, over python-ldap.

Every value from a request that goes into a search filter passes ``escape_filter_chars`` and
every one that goes into a DN passes ``escape_dn_chars``; nothing else builds filters or DNs.
Writes are made idempotent by the caller reading first; here, an add of a member already there
(``TYPE_OR_VALUE_EXISTS``) or the removal of one already gone (``NO_SUCH_ATTRIBUTE``) counts as
done, because after a lost answer the retry must not fail on its own earlier success.

Errors::

    RemoteError (service "directory")
     ├── DirectoryUnavailable   server down, timeout, busy (retryable; a write may have landed)
     └── DirectoryRejected      the server refused the operation (permanent)
          └── AlreadyExists     an entry with this DN exists

One connection per thread (python-ldap objects serialise their calls); a connection that failed
is dropped and the next call opens a new one, so a restarted directory is picked up by itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ldap
import ldap.dn
import ldap.filter
from ldap.ldapobject import LDAPObject

from connector.errors import RemoteError, TransportError

log = logging.getLogger(__name__)

SERVICE = "directory"

_UNAVAILABLE = (
    ldap.SERVER_DOWN,
    ldap.TIMEOUT,
    ldap.TIMELIMIT_EXCEEDED,
    ldap.CONNECT_ERROR,
    ldap.BUSY,
    ldap.UNAVAILABLE,
    ldap.OTHER,
)


class DirectoryUnavailable(TransportError):
    """Raise when the directory did not answer; the operation may or may not have happened."""


class DirectoryRejected(RemoteError):
    """Raise when the directory refused an operation."""

    permanent = True


class AlreadyExists(DirectoryRejected):
    """Raise when an entry with the DN being added exists."""


def _describe(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    text = str(info.get("desc", type(exc).__name__))
    if info.get("info"):
        text += f": {info['info']}"
    return text


def escape_filter(value: str) -> str:
    """Escape a value for an LDAP search filter (RFC 4515): ``*()\\`` and NUL."""
    return ldap.filter.escape_filter_chars(value, escape_mode=0)


def escape_rdn_value(value: str) -> str:
    """Escape a value for one RDN of a DN (RFC 4514): ``,+"\\<>;=``, leading ``#``/space."""
    return ldap.dn.escape_dn_chars(value)


def equality(attribute: str, value: str) -> str:
    """Return ``(attribute=value)`` with the value escaped."""
    return f"({attribute}={escape_filter(value)})"


def encode_ad_password(password: str) -> bytes:
    """Encode a password as Active Directory's unicodePwd wants it: quoted, UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


def ad_password_modlist(new: str, old: str | None = None) -> list[tuple[int, str, list[bytes]]]:
    """Return the modify list that sets unicodePwd: a reset, or the user's own change with old.

    A reset also enables the account (userAccountControl 512, NORMAL_ACCOUNT): the AD mapping
    creates accounts disabled, because AD refuses an enabled account that has no password.
    """
    if old is None:
        return [
            (ldap.MOD_REPLACE, "unicodePwd", [encode_ad_password(new)]),
            (ldap.MOD_REPLACE, "userAccountControl", [b"512"]),
        ]
    # A user's own change: delete the old value and add the new one in one modify.
    return [
        (ldap.MOD_DELETE, "unicodePwd", [encode_ad_password(old)]),
        (ldap.MOD_ADD, "unicodePwd", [encode_ad_password(new)]),
    ]


@dataclass(frozen=True)
class Entry:
    """A directory entry: its DN and text attributes (names as the server spells them)."""

    dn: str
    attributes: dict[str, list[str]]

    def first(self, name: str) -> str:
        """Return the first value of an attribute (case-insensitive name), or ""."""
        for key, values in self.attributes.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return ""


def _decode(attrs: Mapping[str, list[bytes]]) -> dict[str, list[str]]:
    return {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in attrs.items()}


class Directory:
    """Talk to one LDAP directory as the connector's service account."""

    def __init__(
        self,
        url: str,
        bind_dn: str,
        password: str,
        *,
        users_base: str,
        groups_base: str,
        profile: str = "openldap",
        timeout: float = 10.0,
        start_tls: bool = False,
        verify_tls: bool | str = True,
    ) -> None:
        self.url = url
        self.bind_dn = bind_dn
        self._password = password
        self.users_base = users_base
        self.groups_base = groups_base
        self.profile = profile
        self.timeout = timeout
        self.start_tls = start_tls
        self.verify_tls = verify_tls
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<Directory {self.url} as {self.bind_dn}>"

    @property
    def secure(self) -> bool:
        """Tell whether the connection is encrypted (ldaps:// or StartTLS)."""
        return self.url.lower().startswith("ldaps://") or self.start_tls

    # -- connections ------------------------------------------------------------------------

    def _open(self, bind_dn: str, password: str) -> LDAPObject:
        conn = ldap.initialize(self.url)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, self.timeout)
        conn.set_option(ldap.OPT_TIMEOUT, self.timeout)
        if self.secure:
            if self.verify_tls is False:
                conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_NEVER)
            elif isinstance(self.verify_tls, str):
                conn.set_option(ldap.OPT_X_TLS_CACERTFILE, self.verify_tls)
                conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
            if self.start_tls:
                conn.start_tls_s()
        conn.simple_bind_s(bind_dn, password)
        return conn

    def _conn(self) -> LDAPObject:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._open(self.bind_dn, self._password)
            except ldap.INVALID_CREDENTIALS as exc:
                raise DirectoryRejected(
                    f"the directory refused the bind as {self.bind_dn}", service=SERVICE
                ) from exc
            except ldap.LDAPError as exc:
                raise self._error(exc, f"connecting to {self.url}") from exc
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            try:
                conn.unbind_s()
            except ldap.LDAPError:
                pass

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop()

    def _error(self, exc: ldap.LDAPError, doing: str) -> RemoteError:
        if isinstance(exc, _UNAVAILABLE):
            self._drop()
            return DirectoryUnavailable(f"{doing}: {_describe(exc)}", service=SERVICE)
        if isinstance(exc, ldap.ALREADY_EXISTS):
            return AlreadyExists(f"{doing}: {_describe(exc)}", service=SERVICE)
        return DirectoryRejected(f"{doing}: {_describe(exc)}", service=SERVICE)

    def _run(self, doing: str, fn: Any, *args: Any) -> Any:
        conn = self._conn()
        try:
            return fn(conn, *args)
        except ldap.LDAPError as exc:
            raise self._error(exc, doing) from exc

    # -- reading ----------------------------------------------------------------------------

    def search(
        self, base: str, filterstr: str, attributes: Iterable[str] | None = None
    ) -> list[Entry]:
        """Search a subtree; ``filterstr`` must be built with ``equality``/``escape_filter``."""
        attrlist = list(attributes) if attributes is not None else None

        def call(conn: LDAPObject) -> list[Entry]:
            rows = conn.search_s(base, ldap.SCOPE_SUBTREE, filterstr, attrlist)
            return [Entry(dn, _decode(attrs)) for dn, attrs in rows if dn]

        try:
            return self._run(f"searching {base} for {filterstr}", call)
        except DirectoryRejected as exc:
            if isinstance(exc.__cause__, ldap.NO_SUCH_OBJECT):
                return []
            raise

    def read(self, dn: str, attributes: Iterable[str] | None = None) -> Entry | None:
        """Read one entry by DN, or None when it does not exist."""
        attrlist = list(attributes) if attributes is not None else None

        def call(conn: LDAPObject) -> Entry | None:
            try:
                rows = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", attrlist)
            except ldap.NO_SUCH_OBJECT:
                return None
            return Entry(rows[0][0], _decode(rows[0][1])) if rows else None

        return self._run(f"reading {dn}", call)

    def find_user(self, identity_attribute: str, value: str, object_class: str) -> Entry | None:
        """Find the user whose identity attribute equals ``value`` under the users base."""
        found = self.search(
            self.users_base,
            f"(&{equality('objectClass', object_class)}{equality(identity_attribute, value)})",
            ["*", "memberOf"],
        )
        if len(found) > 1:
            raise DirectoryRejected(
                f"{len(found)} users have {identity_attribute}={value[:80]!r}", service=SERVICE
            )
        return found[0] if found else None

    def find_group(self, name: str, object_class: str, name_attribute: str = "cn") -> str | None:
        """Return the DN of the group called ``name`` under the groups base, or None."""
        found = self.search(
            self.groups_base,
            f"(&{equality('objectClass', object_class)}{equality(name_attribute, name)})",
            ["1.1"],
        )
        if len(found) > 1:
            raise DirectoryRejected(
                f"{len(found)} groups are called {name[:80]!r}", service=SERVICE
            )
        return found[0].dn if found else None

    def is_member(self, group_dn: str, user_dn: str, member_attribute: str = "member") -> bool:
        """Tell whether the group lists the user (a base search with an escaped filter)."""

        def call(conn: LDAPObject) -> bool:
            try:
                rows = conn.search_s(
                    group_dn, ldap.SCOPE_BASE, equality(member_attribute, user_dn), ["1.1"]
                )
            except ldap.NO_SUCH_OBJECT:
                return False
            return bool(rows)

        return self._run(f"checking {user_dn} in {group_dn}", call)

    def members(self, group_dn: str, member_attribute: str = "member") -> set[str]:
        """Return the DNs a group lists (normalised to lower case)."""
        entry = self.read(group_dn, [member_attribute])
        if entry is None:
            return set()
        values = next(
            (v for k, v in entry.attributes.items() if k.lower() == member_attribute.lower()), []
        )
        return {normalise_dn(v) for v in values}

    # -- writing ----------------------------------------------------------------------------

    def add(self, dn: str, attributes: Mapping[str, list[str]]) -> None:
        """Add an entry (AlreadyExists when the DN is taken)."""
        modlist = [(k, [v.encode("utf-8") for v in vs]) for k, vs in attributes.items() if vs]
        self._run(f"adding {dn}", lambda conn: conn.add_s(dn, modlist))

    def delete(self, dn: str) -> None:
        """Delete an entry; one already gone counts as deleted."""

        def call(conn: LDAPObject) -> None:
            try:
                conn.delete_s(dn)
            except ldap.NO_SUCH_OBJECT:
                pass

        self._run(f"deleting {dn}", call)

    def replace(self, dn: str, values: Mapping[str, str]) -> None:
        """Replace single-valued attributes (an empty value removes the attribute)."""
        modlist = [
            (ldap.MOD_REPLACE, k, [v.encode("utf-8")] if v else None) for k, v in values.items()
        ]
        self._run(f"modifying {dn}", lambda conn: conn.modify_s(dn, modlist))

    def add_member(self, group_dn: str, user_dn: str, member_attribute: str = "member") -> None:
        """Add a user to a group; already a member counts as done."""

        def call(conn: LDAPObject) -> None:
            try:
                conn.modify_s(group_dn, [(ldap.MOD_ADD, member_attribute, [user_dn.encode()])])
            except ldap.TYPE_OR_VALUE_EXISTS:
                pass
            except ldap.ALREADY_EXISTS:
                # Active Directory (and Samba) answer 68 "Attribute member already exists".
                pass

        self._run(f"adding {user_dn} to {group_dn}", call)

    def remove_member(self, group_dn: str, user_dn: str, member_attribute: str = "member") -> None:
        """Remove a user from a group; not a member counts as done."""

        def call(conn: LDAPObject) -> None:
            try:
                conn.modify_s(group_dn, [(ldap.MOD_DELETE, member_attribute, [user_dn.encode()])])
            except ldap.NO_SUCH_ATTRIBUTE:
                pass
            except ldap.UNWILLING_TO_PERFORM:
                # Active Directory refuses to delete a value that is not there with 53.
                if self.profile != "active_directory" or self.is_member(
                    group_dn, user_dn, member_attribute
                ):
                    raise

        self._run(f"removing {user_dn} from {group_dn}", call)

    # -- passwords (never logged, never stored) ----------------------------------------------

    def set_password(self, user_dn: str, new: str, old: str | None = None) -> None:
        """Set a user's password: Password Modify (RFC 3062), or unicodePwd on Active Directory.

        With ``old`` the change is made as the user (the directory checks the old password and
        applies its own policy); without it, as the service account (a reset).
        """
        if self.profile == "active_directory":
            if not self.secure:
                raise DirectoryRejected(
                    "Active Directory sets unicodePwd only over an encrypted connection:"
                    " use an ldaps:// URL or tpa.ldap.start_tls",
                    service=SERVICE,
                )
            modlist = ad_password_modlist(new, old)
            if old is None:
                self._run(
                    f"setting the password of {user_dn}", lambda c: c.modify_s(user_dn, modlist)
                )
            else:
                self._as_user(user_dn, old, lambda c: c.modify_s(user_dn, modlist))
            return
        if old is None:
            self._run(
                f"setting the password of {user_dn}", lambda c: c.passwd_s(user_dn, None, new)
            )
        else:
            self._as_user(user_dn, old, lambda c: c.passwd_s(user_dn, old, new))

    def _as_user(self, user_dn: str, password: str, fn: Any) -> None:
        try:
            conn = self._open(user_dn, password)
        except ldap.INVALID_CREDENTIALS as exc:
            raise DirectoryRejected("the old password is not correct", service=SERVICE) from exc
        except ldap.LDAPError as exc:
            raise self._error(exc, f"binding as {user_dn}") from exc
        try:
            fn(conn)
        except ldap.LDAPError as exc:
            raise self._error(exc, f"changing the password of {user_dn}") from exc
        finally:
            try:
                conn.unbind_s()
            except ldap.LDAPError:
                pass

    def check_password(self, user_dn: str, password: str) -> bool:
        """Tell whether a simple bind as the user with this password succeeds."""
        try:
            conn = self._open(user_dn, password)
        except ldap.INVALID_CREDENTIALS:
            return False
        except ldap.LDAPError as exc:
            raise self._error(exc, f"binding as {user_dn}") from exc
        conn.unbind_s()
        return True

    def ping(self) -> None:
        """Read the root DSE (raises DirectoryUnavailable when the server is down)."""
        self._run(
            "reading the root DSE",
            lambda c: c.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"]),
        )


def normalise_dn(dn: str) -> str:
    """Return a DN in one spelling (parsed and re-joined, lower case) for comparisons."""
    try:
        return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()
    except ldap.DECODING_ERROR:
        return dn.lower()


def user_dn(rdn_attribute: str, value: str, base: str) -> str:
    """Build a user's DN with the RDN value escaped."""
    return f"{rdn_attribute}={escape_rdn_value(value)},{base}"
