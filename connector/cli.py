"""The ``connector`` command line; the only place errors become exit codes."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import click

from connector.errors import ConfigError, ConnectorError

log = logging.getLogger("connector.cli")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)


config_option = click.option(
    "--config",
    "config_path",
    envvar="CONNECTOR_CONFIG",
    type=click.Path(dir_okay=False),
    help="Connector YAML file (default: $CONNECTOR_CONFIG).",
)


def _load(config_path: str | None):  # type: ignore[no-untyped-def]
    from connector import config as config_module
    from connector.logs import configure_logging

    cfg = config_module.load(config_path)
    configure_logging(cfg.logging.level, cfg.logging.format)
    return cfg


def _services(config_path: str | None):  # type: ignore[no-untyped-def]
    from connector.services import Services

    return Services(_load(config_path))


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={"servicenow": "connector.servicenow.admin:group"},
)
@click.version_option(package_name="bomgar-servicenow-connector", prog_name="connector")
def cli() -> None:
    """Bring Bomgar / BeyondTrust Remote Support sessions into ServiceNow."""


@cli.group(
    cls=LazyGroup,
    lazy={
        "servicenow": "connector.sim.servicenow.cli:command",
        "bomgar": "connector.sim.bomgar.cli:command",
    },
)
def sim() -> None:
    """Run an emulator of ServiceNow or the appliance (for tests and demos)."""


# -- configuration --------------------------------------------------------------------------


@cli.command("check-config")
@config_option
def check_config(config_path: str | None) -> None:
    """Validate the config file and the mappings it names; exit non-zero on error."""
    from connector.web.webhooks import exposure_warnings

    svc = _services(config_path)
    svc.mappings  # noqa: B018 - compiling the mappings is the check
    click.echo(f"{svc.config.source}: OK")
    for path in svc.mapping_paths():
        click.echo(f"  mapping {path}: OK")
    for warning in exposure_warnings(svc.config):
        click.echo(f"  warning: webhook more open than needed: {warning}")


# -- serving --------------------------------------------------------------------------------


def _serve_web(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    from connector import create_app
    from connector.sim.runtime import serve_gunicorn

    cfg = _load(config_path)  # fail fast, before gunicorn forks
    from connector.services import Services
    from connector.web.webhooks import exposure_warnings

    Services(cfg).mappings  # noqa: B018 - mapping errors stop the start, not the first import
    for warning in exposure_warnings(cfg):  # here, once, not in every gunicorn worker
        log.warning("webhook more open than needed: %s", warning)
    click.echo(f"connector listening on http://{host}:{port}", err=True)
    serve_gunicorn(lambda: create_app(cfg), host=host, port=port, workers=workers, threads=threads)


web_options = [
    click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on."),
    click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on."),
    click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers."),
    click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker."),
]


def _with(options: list[Any]):  # type: ignore[no-untyped-def]
    def decorate(fn):  # type: ignore[no-untyped-def]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


@cli.command()
@config_option
@_with(web_options)
def serve(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the webhook, the API, health and metrics under gunicorn."""
    _serve_web(config_path, host, port, workers, threads)


def run_worker(
    svc: Any,
    stop: threading.Event,
    *,
    threads: int = 2,
    on_ready: Any = None,
) -> None:
    """Run the importer threads and the poller until ``stop`` is set."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from connector.importer.worker import WorkerLoop

    svc.mappings  # noqa: B018 - fail at start on a broken mapping
    loop = WorkerLoop(svc.importer(), threads=threads, poll_seconds=svc.config.worker.poll_seconds)
    scheduler = BackgroundScheduler(timezone="UTC")
    if svc.config.poller.enabled:
        scheduler.add_job(
            _poll_job,
            "interval",
            args=[svc],
            id="poll-missed-sessions",
            seconds=svc.config.poller.interval_seconds,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    scheduler.add_job(
        svc.store.release_dead_owners,
        "interval",
        args=[svc.config.servicenow.write_settle_seconds],
        id="release-dead-claims",
        seconds=10,
        max_instances=1,
        coalesce=True,
    )
    if svc.config.store.events_retention_days > 0:
        scheduler.add_job(
            prune_events,
            "interval",
            args=[svc],
            id="prune-events",
            seconds=3600,
            next_run_time=dt.datetime.now(dt.UTC),
            max_instances=1,
            coalesce=True,
        )
    loop.start()
    scheduler.start()
    log.info("worker started (%d import threads)", threads)
    if on_ready is not None:
        on_ready()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        loop.stop()
        log.info("worker stopped")


def _poll_job(svc: Any) -> None:
    from connector.importer.poller import poll_missed_sessions

    try:
        poll_missed_sessions(
            svc.store,
            svc.bomgar,
            overlap=svc.config.poller.overlap_seconds,
            initial_lookback=svc.config.poller.initial_lookback_seconds,
            metrics=svc.metrics,
        )
    except Exception as exc:  # the next run retries from the same watermark
        log.error("poll failed: %s", exc)


def prune_events(svc: Any) -> int:
    """Delete stored events older than store.events_retention_days; return how many."""
    days = svc.config.store.events_retention_days
    try:
        removed = svc.store.prune_events(time.time() - days * 86400)
    except Exception as exc:  # the next run tries again
        log.error("pruning old events failed: %s", exc)
        return 0
    svc.metrics.inc("connector_events_pruned_total", removed)
    if removed:
        log.info("pruned %d events older than %g days", removed, days)
    return removed


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        log.info("signal %d received; finishing current work", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@cli.command()
@config_option
@click.option("--threads", default=2, show_default=True, type=int, help="Import threads.")
def worker(config_path: str | None, threads: int) -> None:
    """Import queued sessions and poll for missed ones (one process per box is enough)."""
    svc = _services(config_path)
    stop = threading.Event()
    _stop_on_signals(stop)
    run_worker(svc, stop, threads=threads, on_ready=lambda: click.echo("worker started", err=True))


@cli.command()
@config_option
@_with(web_options)
def run(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web side and run the worker, for a single box."""
    _load(config_path)
    env = dict(os.environ)
    if config_path:
        env["CONNECTOR_CONFIG"] = os.path.abspath(config_path)
    child = subprocess.Popen([sys.executable, "-m", "connector", "worker"], env=env)
    try:
        _serve_web(config_path, host, port, workers, threads)
    finally:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()


# -- operations -----------------------------------------------------------------------------


@cli.command("dead-letters")
@config_option
@click.option("--retry", "retry_lsids", multiple=True, metavar="LSID", help="Re-queue one.")
@click.option("--retry-all", is_flag=True, help="Re-queue every dead letter.")
def dead_letters(config_path: str | None, retry_lsids: tuple[str, ...], retry_all: bool) -> None:
    """List sessions that failed permanently, or re-queue them."""
    svc = _services(config_path)
    if retry_all or retry_lsids:
        n = svc.store.retry_dead(None if retry_all else list(retry_lsids))
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
        click.echo(f"{row.lsid}  {when}Z  attempts={row.attempts}  {row.last_error}")


@cli.command()
@config_option
@click.option(
    "--attach",
    nargs=2,
    metavar="LSID TICKET",
    default=None,
    help="Write an unmatched session onto TICKET (a sys_id or a number such as INC0010001).",
)
@click.option("--dismiss", "dismiss_lsid", metavar="LSID", help="Close one without writing it.")
def unmatched(
    config_path: str | None, attach: tuple[str, str] | None, dismiss_lsid: str | None
) -> None:
    """List sessions kept off their ticket (no proof they belong to it), or settle one."""
    from connector.servicenow import query as q

    svc = _services(config_path)
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
        if not svc.store.attach(lsid, ticket):
            raise click.ClickException(f"{lsid} is not an unmatched session")
        click.echo(f"attached {lsid} to {ticket}; a running worker writes it")
        return
    if dismiss_lsid:
        if not svc.store.dismiss(dismiss_lsid, "dismissed by an administrator (unmatched)"):
            raise click.ClickException(f"{dismiss_lsid} is not an unmatched session")
        click.echo(f"dismissed {dismiss_lsid}; nothing was written")
        return
    rows = svc.store.jobs("unmatched")
    if not rows:
        click.echo("no unmatched sessions")
        return
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row.updated_at))
        click.echo(f"{row.lsid}  {when}Z  {row.last_error}")


@cli.command()
@config_option
@click.argument("lsid")
@click.option("--wait/--no-wait", default=True, help="Import now in this process.")
def replay(config_path: str | None, lsid: str, wait: bool) -> None:
    """Re-import one session (records are updated, nothing is duplicated)."""
    from connector.bomgar.models import valid_lsid

    if not valid_lsid(lsid):
        raise click.BadParameter(
            "expected 1-64 characters of A-Z, a-z, 0-9, _ and -", param_hint="LSID"
        )
    svc = _services(config_path)
    svc.store.queue_sessions([lsid], "replay", force=True)
    if not wait:
        click.echo(f"queued {lsid}")
        return
    _drain(svc, {lsid})
    state = svc.store.job_state(lsid)
    click.echo(f"{lsid}: {state}")
    if state != "done":
        row = next((r for r in svc.store.jobs() if r.lsid == lsid), None)
        raise click.ClickException(f"{lsid} not imported: {row.last_error if row else 'unknown'}")


def _drain(svc: Any, lsids: set[str] | None = None, timeout: float = 600) -> None:
    """Import in this process until the given (or all ready) sessions are settled."""
    importer = svc.importer()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claimed = importer.run_once()
        if lsids is not None:
            if all(svc.store.job_state(x) not in ("pending", "running") for x in lsids):
                return
        elif not claimed:
            return
        if not claimed:
            time.sleep(0.2)


def _parse_when(value: str, param: str) -> int:
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return int(dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC).timestamp())
        except ValueError:
            continue
    raise click.BadParameter(
        f"expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC), got {value!r}", param_hint=param
    )


@cli.command()
@config_option
@click.option("--since", required=True, help="Start (UTC), YYYY-MM-DD[THH:MM:SS].")
@click.option("--until", default=None, help="End (UTC), default now.")
@click.option("--queue-only", is_flag=True, help="Only queue; let the running worker import.")
def backfill(config_path: str | None, since: str, until: str | None, queue_only: bool) -> None:
    """Import every session that ended in a time range and is not imported yet."""
    from connector.importer.poller import find_missed

    svc = _services(config_path)
    start = _parse_when(since, "--since")
    end = _parse_when(until, "--until") if until else int(time.time())
    if end <= start:
        raise click.BadParameter("--until must be after --since", param_hint="--until")

    def progress(result: Any) -> None:
        click.echo(f"  listed {result.listed} sessions, queued {result.queued}", err=True)

    result = find_missed(svc.store, svc.bomgar, start, end, reason="backfill", progress=progress)
    click.echo(f"found {result.listed} sessions, {result.queued} not yet imported")
    if queue_only or not result.queued:
        return
    done_before = svc.store.counts()["done"]
    importer = svc.importer()
    last = time.monotonic()
    while importer.run_once():
        if time.monotonic() - last > 2:
            counts = svc.store.counts()
            click.echo(
                f"  imported {counts['done'] - done_before}, pending {counts['pending']},"
                f" dead {counts['dead']}",
                err=True,
            )
            last = time.monotonic()
    counts = svc.store.counts()
    click.echo(
        f"imported {counts['done'] - done_before}; pending {counts['pending']}"
        f" (retrying later), dead letters {counts['dead']}"
    )


@cli.command()
@click.option("--keep-running", is_flag=True, help="Leave everything up and print the URLs.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the import.")
def demo(keep_running: bool, timeout: float) -> None:
    """Start both emulators and the connector, play a session and show what landed."""
    from connector.demo import run_demo

    run_demo(keep_running=keep_running, timeout=timeout, echo=click.echo)


def main(argv: list[str] | None = None) -> None:
    """Run the command line and exit with its status."""
    try:
        cli.main(args=argv, prog_name="connector", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        click.echo("configuration error:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    except ConnectorError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
