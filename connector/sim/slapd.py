"""Run a throwaway OpenLDAP ``slapd`` on a free loopback port (tests, demo, chaos, benchmarks).

Not an emulator: the real server from Debian's ``slapd`` package, started with its own
``slapd.conf`` in a temporary folder: the core, cosine and inetOrgPerson schemas, an MDB
database for ``dc=example,dc=com``, the ``memberof`` overlay (so a user's ``memberOf`` follows
the groups' ``member``) and the built-in Password Modify extended operation (RFC 3062) with
salted SHA hashes. Only the process started here is ever stopped, by its pid.

Layout of the seeded tree::

    dc=example,dc=com
      cn=admin            the rootdn (bind with ADMIN_DN / ADMIN_PASSWORD)
      ou=people           where 3PA users are created (tpa.ldap.users_base)
      ou=groups           groupOfNames entries (tpa.ldap.groups_base); each starts with the
                          placeholder member cn=placeholder, because groupOfNames needs one
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"  # a throwaway directory on loopback only
USERS_BASE = f"ou=people,{SUFFIX}"
GROUPS_BASE = f"ou=groups,{SUFFIX}"
PLACEHOLDER = f"cn=placeholder,{SUFFIX}"
README_STEP = (
    "OpenLDAP's slapd is not installed: install Debian's slapd and ldap-utils packages"
    " (README, 'Third Party Access (3PA)', set-up step 1: apt-get install slapd ldap-utils"
    " libldap2-dev libsasl2-dev)"
)

# Where distributions keep the schema files and the loadable modules.
_SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
_MODULE_DIRS = ("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap")


class SlapdMissing(RuntimeError):
    """Raise when slapd (or its schema files) cannot be found on this machine."""


def find_slapd() -> str | None:
    """Return the slapd binary's path, or None when it is not installed."""
    return shutil.which("slapd") or next(
        (p for p in ("/usr/sbin/slapd", "/usr/local/libexec/slapd") if os.access(p, os.X_OK)),
        None,
    )


def _first_dir(candidates: Iterable[str], probe: str) -> str | None:
    return next((d for d in candidates if (Path(d) / probe).exists()), None)


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slapd:
    """One slapd process with its configuration and database in ``workdir``."""

    def __init__(self, workdir: str | os.PathLike[str] | None = None, port: int = 0) -> None:
        binary = find_slapd()
        schema = _first_dir(_SCHEMA_DIRS, "inetorgperson.schema")
        modules = _first_dir(_MODULE_DIRS, "memberof.la") or _first_dir(_MODULE_DIRS, "memberof.so")
        if binary is None or schema is None or modules is None:
            raise SlapdMissing(README_STEP)
        self.binary = binary
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="slapd-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.port = port or free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "slapd.conf"
        self.conf.write_text(
            "\n".join(
                [
                    f"include {schema}/core.schema",
                    f"include {schema}/cosine.schema",
                    f"include {schema}/inetorgperson.schema",
                    f"modulepath {modules}",
                    "moduleload back_mdb",
                    "moduleload memberof",
                    f"pidfile {self.workdir / 'slapd.pid'}",
                    "password-hash {SSHA}",
                    "sizelimit unlimited",
                    "database mdb",
                    f'suffix "{SUFFIX}"',
                    f'rootdn "{ADMIN_DN}"',
                    f"rootpw {ADMIN_PASSWORD}",
                    f"directory {self.workdir / 'data'}",
                    "maxsize 1073741824",
                    "index objectClass,uid,mail,member eq",
                    "overlay memberof",
                    "memberof-refint TRUE",
                    # Users may change their own password and bind with it; nobody reads hashes.
                    "access to attrs=userPassword by self write by anonymous auth by * none",
                    "access to * by * read",
                    "",
                ]
            )
        )
        self._seeded = (self.workdir / "data" / "data.mdb").exists()

    def start(self, timeout: float = 15.0) -> Slapd:
        """Start slapd in the foreground of a child process and wait until it answers."""
        log = (self.workdir / "slapd.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-f", str(self.conf), "-h", f"{self.url}/", "-d", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.workdir / "slapd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"slapd exited with {self.process.returncode}: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"slapd did not listen on {self.url} within {timeout:.0f}s")
        if not self._seeded:
            self.seed()
            self._seeded = True
        return self

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the slapd this object started (SIGTERM, or SIGKILL with ``kill``)."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port with the same database."""
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        """Stop the server and remove its temporary folder."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Slapd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data --------------------------------------------------------------------------------

    def connect(self) -> Any:
        """Return a python-ldap connection bound as the rootdn."""
        import ldap

        conn = ldap.initialize(self.url)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        conn.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
        return conn

    def seed(self, groups: Iterable[str] = ()) -> None:
        """Create the base tree (and the named groups)."""
        conn = self.connect()
        try:
            conn.add_s(
                SUFFIX,
                [
                    ("objectClass", [b"dcObject", b"organization"]),
                    ("dc", [b"example"]),
                    ("o", [b"Example"]),
                ],
            )
            for ou in ("people", "groups"):
                conn.add_s(
                    f"ou={ou},{SUFFIX}",
                    [("objectClass", [b"organizationalUnit"]), ("ou", [ou.encode()])],
                )
            conn.add_s(
                PLACEHOLDER,
                [("objectClass", [b"organizationalRole"]), ("cn", [b"placeholder"])],
            )
        finally:
            conn.unbind_s()
        self.add_groups(groups)

    def add_groups(self, names: Iterable[str]) -> None:
        """Create groupOfNames entries under ou=groups holding only the placeholder member."""
        import ldap
        from ldap.dn import escape_dn_chars

        names = list(names)
        if not names:
            return
        conn = self.connect()
        try:
            for name in names:
                try:
                    conn.add_s(
                        f"cn={escape_dn_chars(name)},{GROUPS_BASE}",
                        [
                            ("objectClass", [b"groupOfNames"]),
                            ("cn", [name.encode()]),
                            ("member", [PLACEHOLDER.encode()]),
                        ],
                    )
                except ldap.ALREADY_EXISTS:
                    pass
        finally:
            conn.unbind_s()
