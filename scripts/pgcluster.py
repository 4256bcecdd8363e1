"""A throwaway PostgreSQL cluster for the tests, the benchmarks and the chaos run.

It runs the installed PostgreSQL's own ``initdb`` and ``pg_ctl`` (Debian puts them in
/usr/lib/postgresql/<version>/bin; ``$CONNECTOR_PG_BIN`` names another folder) on a free
127.0.0.1 port, with its data and socket in a fresh temporary folder, and stops and removes
exactly that server. PostgreSQL refuses to run as root, so as root it runs them as the
``postgres`` system user (which the Debian package creates) through ``runuser``.

Usage as a script, for trying things by hand: python scripts/pgcluster.py  (prints the URL and
keeps the server until Ctrl-C).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SETUP_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found: install them as the README"
    " says under 'Quick start' (apt-get install postgresql), or name their folder in"
    " $CONNECTOR_PG_BIN"
)
SUPERUSER = "connector"


class PostgresMissing(RuntimeError):
    """Raise when the PostgreSQL server programs (or a user to run them as) cannot be found."""


def bin_dir() -> Path:
    """Find the folder holding initdb and pg_ctl."""
    named = os.environ.get("CONNECTOR_PG_BIN")
    candidates = [Path(named)] if named else []
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += debian
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresMissing(SETUP_HINT)


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One PostgreSQL server in a temporary folder, listening on 127.0.0.1 only."""

    def __init__(self, *, fsync: bool = False, max_connections: int = 300) -> None:
        self.bin = bin_dir()
        self.fsync = fsync  # off for tests (faster); on for benchmarks (honest)
        self.max_connections = max_connections
        self.root = Path(tempfile.mkdtemp(prefix="connector-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._user: str | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresMissing(
                    "running as root, and there is no 'postgres' user to run PostgreSQL as: "
                    + SETUP_HINT
                ) from exc
            self._user = "postgres"
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{what} failed: {result.stdout}{result.stderr}{tail}")

    def start(self) -> Cluster:
        """Create the cluster (first time) and start the server; wait until it takes queries."""
        if not self.data.exists():
            self._check(
                self._run(
                    "initdb",
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C",
                ),
                "initdb",
            )
        self.port = self.port or free_port()
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root}"
            f" -c max_connections={self.max_connections}"
            + ("" if self.fsync else " -F -c synchronous_commit=off -c full_page_writes=off")
        )
        self._check(
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ),
            "pg_ctl start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop this server (and only this one)."""
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server (dropping every connection), wait, and start it again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """Return the URL of one database on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create a database and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


if __name__ == "__main__":
    with Cluster() as cluster:
        print(cluster.url(), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
