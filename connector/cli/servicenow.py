"""``connector servicenow``: export the update set; verify the instance has the mapped fields."""

from __future__ import annotations

from typing import BinaryIO

import click

from connector.cli.common import config_option, services
from connector.servicenow.updateset import build_update_set
from connector.servicenow.verify import MISSING_TABLE, missing_fields


@click.group(name="servicenow")
def group() -> None:
    """Install and check the ServiceNow side (tables, buttons, properties)."""


@group.command("export-update-set")
@click.option(
    "--output",
    "-o",
    type=click.File("wb"),
    default="-",
    show_default=True,
    help="File to write (- for standard output).",
)
def export_update_set(output: BinaryIO) -> None:
    """Write the ServiceNow update set (unload XML) that creates tables, buttons and properties."""
    output.write(build_update_set())


@group.command()
@config_option
def verify(config_path: str | None) -> None:
    """Check the instance has every table and field the configured mappings write."""
    svc = services(config_path)
    written = svc.mappings.written_fields()
    missing = missing_fields(svc.servicenow, written)
    for table, fields in sorted(written.items()):
        absent = missing.get(table, [])
        if absent[:1] == [MISSING_TABLE]:
            click.echo(f"{table}: table MISSING ({len(fields)} field(s))")
            click.echo(f"  missing table {table}")
        else:
            state = "MISSING" if absent else "ok"
            click.echo(f"{table}: {len(fields)} field(s) {state}")
        for name in absent:
            if name != MISSING_TABLE:
                click.echo(f"  missing {table}.{name}")
    if missing:
        tables = sum(1 for v in missing.values() if v[:1] == [MISSING_TABLE])
        count = sum(len(v) for v in missing.values()) - tables
        raise click.ClickException(
            f"{tables} table(s) and {count} field(s) missing on "
            f"{svc.config.servicenow.instance_url}; install the update set "
            "(connector servicenow export-update-set) or fix the mappings"
        )
    click.echo(f"{svc.config.servicenow.instance_url}: every mapped field exists")
