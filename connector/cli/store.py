"""``connector store``: migrate a store's schema, or copy an installation to another store.

Locations are a path, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``; give PostgreSQL's
password through ``PGPASSWORD`` or ``~/.pgpass`` rather than on the command line.
"""

from __future__ import annotations

import click

from connector.cli.common import config_option, load_config
from connector.store import SCHEMA_VERSION, Store, parse_location
from connector.store.copying import copy_store


@click.group(name="store")
def group() -> None:
    """Migrate the store's schema, or copy an installation to another store."""


@group.command()
@config_option
@click.option("--url", default=None, help="The store (default: the config's store.url or path).")
def migrate(config_path: str | None, url: str | None) -> None:
    """Bring the store's schema to this connector's version (safe to run on every node)."""
    location = url or load_config(config_path).store.location()
    shown = parse_location(location).display()
    store = Store(location, migrate=None)
    try:
        before = store.schema_version()
        store.migrate()
    finally:
        store.close()
    if before == SCHEMA_VERSION:
        click.echo(f"{shown}: schema version {SCHEMA_VERSION}, nothing to do")
    else:
        click.echo(f"{shown}: migrated from schema version {before} to {SCHEMA_VERSION}")


@group.command()
@click.option("--from", "source", required=True, help="The store to copy (left unchanged).")
@click.option("--to", "target", required=True, help="The store to copy into (migrated first).")
def copy(source: str, target: str) -> None:
    """Copy events, jobs, ledger and watermarks; run again after stopping the old installation."""
    if parse_location(source) == parse_location(target):
        raise click.BadParameter("--from and --to name the same store", param_hint="--to")
    src = Store(source, migrate=False)
    dst = Store(target)
    try:

        def progress(table: str, rows: int) -> None:
            if rows % 10000 == 0:
                click.echo(f"  {table}: {rows} rows", err=True)

        copied = copy_store(src, dst, progress=progress)
    finally:
        src.close()
        dst.close()
    summary = ", ".join(f"{table} {rows}" for table, rows in copied.items())
    click.echo(
        f"copied {parse_location(source).display()} to {parse_location(target).display()}:"
        f" {summary} rows"
    )
