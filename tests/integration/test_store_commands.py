"""`connector store migrate` and `connector store copy`, SQLite to PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest

from connector.cli import main
from connector.store import SCHEMA_VERSION, Store, parse_location
from tests.unit.test_store_security import LSID, SCHEMA_V1


def run_cli(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out + out.err


def test_migrate_then_copy_a_version_1_installation_into_postgresql(tmp_path, postgres, capsys):
    """An old SQLite file is migrated in place, then copied whole; copying again changes nothing."""
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.executescript(SCHEMA_V1)
    source = f"sqlite:///{old}"
    target = postgres.create_database("copy_target")
    code, text = run_cli(capsys, "store", "copy", "--from", source, "--to", target)
    assert code == 1 and "connector store migrate" in text  # the source is not changed by copy
    code, text = run_cli(capsys, "store", "migrate", "--url", source)
    assert code == 0 and f"migrated from schema version 1 to {SCHEMA_VERSION}" in text
    code, text = run_cli(capsys, "store", "migrate", "--url", source)
    assert code == 0 and "nothing to do" in text
    for _ in range(2):
        code, text = run_cli(capsys, "store", "copy", "--from", source, "--to", target)
        assert code == 0, text
        assert "jobs 1" in text
    copied = Store(target)
    try:
        assert copied.job_state(LSID) == "done"
        assert copied.counts()["done"] == 1
    finally:
        copied.close()


def test_a_location_never_shows_its_password():
    """Messages name a PostgreSQL store without the password in its URL."""
    shown = parse_location("postgresql://connector:s3cret@db.example.com/connector").display()
    assert shown == "postgresql://connector:***@db.example.com/connector"
    assert parse_location("sqlite:////var/lib/c.db").target == "/var/lib/c.db"
    assert parse_location("relative.db").kind == "sqlite"
