"""``connector 3pa …``: catalog sync, reconciliation, dead letters, replay and a one-off poll."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from connector.cli.common import config_option
from connector.cli.common import services as _services
from connector.tpa import QUEUE

if TYPE_CHECKING:
    from connector.tpa.runtime import TpaServices


def _tpa(config_path: str | None) -> TpaServices:
    from connector.tpa.runtime import TpaServices

    return TpaServices(_services(config_path))


@click.group("3pa")
def group() -> None:
    """Third Party Access: provision approved requests into the directory and SAP."""


@group.command("sync-catalog")
@config_option
def sync_catalog(config_path: str | None) -> None:
    """Create or update one catalog item per application, its questions as variables."""
    from connector.tpa.catalog import sync_catalog as run

    t = _tpa(config_path)
    result = run(t.records, category=t.config.tpa.catalog.category)
    click.echo(
        f"catalog items: {result.items_created} created, {result.items_updated} updated;"
        f" variables: {result.variables_written} written, {result.variables_retired} retired"
    )
    for error in result.errors:
        click.echo(f"  error: {error}", err=True)
    if result.errors:
        raise click.exceptions.Exit(1)


@group.command()
@config_option
@click.option("--repair", is_flag=True, help="Add missing members and remove extra ones.")
@click.option("--application", default=None, help="Only this application (name or sys_id).")
def reconcile(config_path: str | None, repair: bool, application: str | None) -> None:
    """List (and with --repair fix) drift between approved access and group membership."""
    from connector.tpa.reconcile import reconcile as run

    drift = run(_tpa(config_path), repair=repair, application=application)
    if not drift:
        click.echo("no drift: every active request's user is in its groups, and nobody else")
        return
    click.echo(f"{'group':30} {'kind':9} {'user':60} repaired")
    for d in drift:
        click.echo(f"{d.group:30} {d.kind:9} {d.user_dn:60} {'yes' if d.repaired else 'no'}")
    if not repair:
        raise click.exceptions.Exit(1)


@group.command("dead-letters")
@config_option
@click.option("--retry", "retry_keys", multiple=True, metavar="KEY", help="Re-queue one job.")
@click.option("--retry-all", is_flag=True, help="Re-queue every 3PA dead letter.")
def dead_letters(config_path: str | None, retry_keys: tuple[str, ...], retry_all: bool) -> None:
    """List 3PA jobs that failed permanently, with the reason, or re-queue them."""
    svc = _services(config_path)
    if retry_keys or retry_all:
        n = svc.store.retry_dead(None if retry_all else list(retry_keys), queue=QUEUE)
        click.echo(f"re-queued {n} jobs")
        return
    rows = svc.store.jobs("dead", queue=QUEUE)
    if not rows:
        click.echo("no 3PA dead letters")
        return
    for row in rows:
        click.echo(f"{row.lsid}  attempts={row.attempts}  {row.last_error}")


@group.command()
@config_option
@click.argument("sys_id")
@click.option("--profile-change", is_flag=True, help="SYS_ID is a profile change.")
@click.option("--wait/--no-wait", default=True, help="Apply it now in this process.")
def replay(config_path: str | None, sys_id: str, profile_change: bool, wait: bool) -> None:
    """Apply one request again from the state ServiceNow holds (never twice)."""
    from connector.servicenow import query as q
    from connector.tpa import profile_key, request_key

    key = (profile_key if profile_change else request_key)(q.sys_id(sys_id))
    t = _tpa(config_path)
    t.store.queue_sessions([key], "replay", force=True, queue=QUEUE)
    if not wait:
        click.echo(f"queued {key}")
        return
    from connector.tpa.worker import TpaWorker

    worker = TpaWorker(t, threads=1)
    deadline = time.monotonic() + 300
    while t.store.job_state(key) not in ("done", "dead") and time.monotonic() < deadline:
        if not worker.run_once():
            time.sleep(0.2)
    worker.leases.close()
    row = t.store.job(key)
    click.echo(f"{key}: {row.state if row else 'unknown'}: {row.last_error if row else ''}")
    if row is None or row.state != "done":
        raise click.exceptions.Exit(1)


@group.command()
@config_option
def poll(config_path: str | None) -> None:
    """Queue every request and profile change ServiceNow holds that needs the connector."""
    from connector.tpa.poller import poll as run

    click.echo(f"queued {run(_tpa(config_path))} jobs")


@group.command()
@config_option
def check(config_path: str | None) -> None:
    """Check the 3PA settings, the mapping, and that the directory and SAP answer."""
    t = _tpa(config_path)
    click.echo(f"mapping {t.mapping.file}: OK ({t.mapping.profile})")
    t.directory.ping()
    click.echo(f"directory {t.directory.url}: OK")
    if t.sap is not None:
        t.sap.ping()
        click.echo(f"SAP {t.sap.base_url}: OK")
