"""``connector servicenow``: export the update set; verify the instance has the mapped fields."""

from __future__ import annotations

import click

from connector.cli import _services, config_option
from connector.servicenow import query as q

# Where the ticket-side fields live when a mapping says "task" (the ticket's table).
_TICKET_TABLE = "task"


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
def export_update_set(output: click.utils.LazyFile) -> None:
    """Write the ServiceNow update set (unload XML) that creates tables, buttons and properties."""
    from connector.servicenow.updateset import build_update_set

    output.write(build_update_set())


def _table_chain(sn, table: str) -> list[str] | None:  # type: ignore[no-untyped-def]
    """Return the table and its parents (sys_db_object.super_class), or None if it is missing."""
    chain: list[str] = []
    rows = sn.query(
        "sys_db_object", q.equals("name", table, q.name), fields=["sys_id", "name", "super_class"]
    )
    if not rows:
        return None
    while rows and len(chain) < 10:
        chain.append(rows[0]["name"])
        parent = rows[0].get("super_class") or ""
        if not parent:
            break
        found = sn.get_record("sys_db_object", parent, fields=["sys_id", "name", "super_class"])
        rows = [found] if found else []
    return chain


MISSING_TABLE = "(table)"  # marks a table that does not exist at all, ahead of its fields


def missing_fields(svc) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Return table → fields the configured mappings write that the instance lacks."""
    sn = svc.servicenow
    missing: dict[str, list[str]] = {}
    for table, fields in sorted(svc.mappings.written_fields().items()):
        chain = _table_chain(sn, table or _TICKET_TABLE)
        if chain is None:
            missing[table] = [MISSING_TABLE, *sorted(fields)]
            continue
        rows = sn.query(
            "sys_dictionary",
            q.all_of(q.one_of("name", chain, q.name), q.one_of("element", sorted(fields), q.name)),
            fields=["name", "element"],
        )
        present = {r.get("element") for r in rows}
        absent = sorted(f for f in fields if f not in present)
        if absent:
            missing[table] = absent
    return missing


@group.command()
@config_option
def verify(config_path: str | None) -> None:
    """Check the instance has every table and field the configured mappings write."""
    svc = _services(config_path)
    written = svc.mappings.written_fields()
    missing = missing_fields(svc)
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
