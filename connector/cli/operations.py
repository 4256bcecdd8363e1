"""Operating a running connector: check-config, dead-letters, unmatched, replay, backfill."""

from __future__ import annotations

import threading
import time

import click

from connector.bomgar.models import valid_lsid
from connector.cli.common import (
    appliance_option,
    config_option,
    parse_when,
    resolve_appliance,
    services,
)
from connector.importer.poller import PollResult, find_missed
from connector.importer.runner import (
    drain,
    import_backlog,
    stopping_on_signals,
    tune_for_import,
)
from connector.servicenow import query as q
from connector.services import Services
from connector.web.webhooks import exposure_warnings


@click.command("check-config")
@config_option
def check_config(config_path: str | None) -> None:
    """Validate the config file and the mappings it names; exit non-zero on error."""
    svc = services(config_path)
    svc.mappings  # noqa: B018 - compiling the mappings is the check
    click.echo(f"{svc.config.source}: OK")
    for path in svc.mapping_paths():
        click.echo(f"  mapping {path}: OK")
    for warning in exposure_warnings(svc.config):
        click.echo(f"  warning: webhook more open than needed: {warning}")


@click.command("dead-letters")
@config_option
@click.option("--retry", "retry_lsids", multiple=True, metavar="LSID", help="Re-queue one.")
@click.option("--retry-all", is_flag=True, help="Re-queue every dead letter.")
@appliance_option
def dead_letters(
    config_path: str | None,
    retry_lsids: tuple[str, ...],
    retry_all: bool,
    appliance_id: str | None,
) -> None:
    """List sessions that failed permanently, or re-queue them."""
    svc = services(config_path)
    if retry_all:
        n = svc.store.retry_dead(None)
        click.echo(f"re-queued {n} session(s); a running worker imports them")
        return
    if retry_lsids:
        n = sum(
            svc.store.retry_dead([lsid], appliance=resolve_appliance(svc, appliance_id, lsid))
            for lsid in retry_lsids
        )
        click.echo(f"re-queued {n} session(s); a running worker imports them")
        if retry_lsids and n < len(retry_lsids):
            raise click.ClickException("some LSIDs were not dead letters")
        return
    rows = svc.store.jobs("dead")
    if not rows:
        click.echo("no dead letters")
        return
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row.updated_at))
        click.echo(
            f"{_named(svc, row.appliance)}{row.lsid}  {when}Z  attempts={row.attempts}"
            f"  {row.last_error}"
        )


def _named(svc: Services, appliance: str) -> str:
    """Prefix a listed session with its appliance when there are several."""
    return f"{appliance}  " if len(svc.config.appliances) > 1 else ""


@click.command()
@config_option
@click.option(
    "--attach",
    nargs=2,
    metavar="LSID TICKET",
    default=None,
    help="Write an unmatched session onto TICKET (a sys_id or a number such as INC0010001).",
)
@click.option("--dismiss", "dismiss_lsid", metavar="LSID", help="Close one without writing it.")
@appliance_option
def unmatched(
    config_path: str | None,
    attach: tuple[str, str] | None,
    dismiss_lsid: str | None,
    appliance_id: str | None,
) -> None:
    """List sessions kept off their ticket (no proof they belong to it), or settle one."""
    svc = services(config_path)
    if attach:
        lsid, ticket = attach
        try:
            q.sys_id(ticket)
        except q.QueryValueError:
            try:
                q.task_number(ticket)
            except q.QueryValueError:
                raise click.BadParameter(
                    f"expected a ticket sys_id (32 hex characters) or number, got {ticket!r}",
                    param_hint="--attach",
                ) from None
        appliance = resolve_appliance(svc, appliance_id, lsid)
        if not svc.store.attach(lsid, ticket, appliance=appliance):
            raise click.ClickException(f"{lsid} is not an unmatched session")
        click.echo(f"attached {lsid} to {ticket}; a running worker writes it")
        return
    if dismiss_lsid:
        appliance = resolve_appliance(svc, appliance_id, dismiss_lsid)
        note = "dismissed by an administrator (unmatched)"
        if not svc.store.dismiss(dismiss_lsid, note, appliance=appliance):
            raise click.ClickException(f"{dismiss_lsid} is not an unmatched session")
        click.echo(f"dismissed {dismiss_lsid}; nothing was written")
        return
    rows = svc.store.jobs("unmatched")
    if not rows:
        click.echo("no unmatched sessions")
        return
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row.updated_at))
        click.echo(f"{_named(svc, row.appliance)}{row.lsid}  {when}Z  {row.last_error}")


@click.command()
@config_option
@click.argument("lsid")
@click.option("--wait/--no-wait", default=True, help="Import now in this process.")
@appliance_option
def replay(config_path: str | None, lsid: str, wait: bool, appliance_id: str | None) -> None:
    """Re-import one session (records are updated, nothing is duplicated)."""
    if not valid_lsid(lsid):
        raise click.BadParameter(
            "expected 1-64 characters of A-Z, a-z, 0-9, _ and -", param_hint="LSID"
        )
    svc = services(config_path)
    appliance = resolve_appliance(svc, appliance_id, lsid)
    svc.store.queue_sessions([lsid], "replay", force=True, appliance=appliance)
    if not wait:
        click.echo(f"queued {lsid}")
        return
    drain(svc.importer(), {lsid}, appliance=appliance)
    state = svc.store.job_state(lsid, appliance=appliance)
    click.echo(f"{lsid}: {state}")
    if state != "done":
        rows = svc.store.jobs(appliance=appliance)
        row = next((r for r in rows if r.lsid == lsid), None)
        raise click.ClickException(f"{lsid} not imported: {row.last_error if row else 'unknown'}")


@click.command()
@config_option
@click.option("--since", required=True, help="Start (UTC), YYYY-MM-DD[THH:MM:SS].")
@click.option("--until", default=None, help="End (UTC), default now.")
@click.option("--queue-only", is_flag=True, help="Only queue; let the running worker import.")
@click.option(
    "--appliance", "appliance_id", default=None, metavar="ID", help="Only this appliance."
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(min=1),
    help="Import threads [default: worker.threads].",
)
def backfill(
    config_path: str | None,
    since: str,
    until: str | None,
    queue_only: bool,
    appliance_id: str | None,
    threads: int | None,
) -> None:
    """Import every session that ended in a time range and is not imported yet (per appliance)."""
    svc = services(config_path)
    start = parse_when(since, "--since")
    end = parse_when(until, "--until") if until else int(time.time())
    if end <= start:
        raise click.BadParameter("--until must be after --since", param_hint="--until")

    def listed(result: PollResult) -> None:
        click.echo(f"  listed {result.listed} sessions, queued {result.queued}", err=True)

    chosen = (
        [resolve_appliance(svc, appliance_id)]
        if appliance_id is not None
        else [a.id for a in svc.config.appliances]
    )
    queued = 0
    for appliance in chosen:
        result = find_missed(
            svc.store,
            svc.bomgar_clients[appliance],
            start,
            end,
            reason="backfill",
            progress=listed,
            appliance=appliance,
        )
        name = f"appliance {appliance}: " if appliance else ""
        click.echo(f"{name}found {result.listed} sessions, {result.queued} not yet imported")
        queued += result.queued
    if queue_only or not queued:
        return
    done_before = svc.store.counts()["done"]

    def imported() -> None:
        counts = svc.store.counts()
        click.echo(
            f"  imported {counts['done'] - done_before}, pending {counts['pending']},"
            f" dead {counts['dead']}",
            err=True,
        )

    tune_for_import()
    # Ctrl-C: finish the groups in hand, leave the rest queued for the worker or the next run.
    with stopping_on_signals(threading.Event()) as stop:
        import_backlog(
            svc.importer(),
            threads=threads or svc.config.import_threads(),
            stop=stop,
            progress=imported,
        )
    counts = svc.store.counts()
    click.echo(
        f"imported {counts['done'] - done_before}; pending {counts['pending']}"
        f" (retrying later), dead letters {counts['dead']}"
    )
