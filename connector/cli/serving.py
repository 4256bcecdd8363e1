"""``connector serve``, ``worker`` and ``run``: the web side, the importer, or both."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import click

from connector.cli.common import config_option, load_config, with_options
from connector.config import Config
from connector.importer.runner import run_worker, stop_on_signals, tune_for_import
from connector.metrics import multiprocess_directory, use_directory
from connector.services import Services
from connector.serving import serve_gunicorn
from connector.tpa.worker import start as start_tpa
from connector.web.webhooks import exposure_warnings

log = logging.getLogger("connector.cli")

web_options = [
    click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on."),
    click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on."),
    click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers."),
    click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker."),
]


def share_counters(config: Config) -> None:
    """Count in the box's shared metrics folder (the one ``connector run`` set, else config's)."""
    use_directory(multiprocess_directory() or config.metrics_directory())


def serve_web(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Check the config and mappings, warn about an open webhook once, then serve."""
    from connector.app import create_app

    config = load_config(config_path)  # fail fast, before gunicorn forks
    share_counters(config)
    Services(config).mappings  # noqa: B018 - mapping errors stop the start, not the first import
    for warning in exposure_warnings(config):  # here, once, not in every gunicorn worker
        log.warning("webhook more open than needed: %s", warning)
    click.echo(f"connector listening on http://{host}:{port}", err=True)
    serve_gunicorn(
        lambda: create_app(config), host=host, port=port, workers=workers, threads=threads
    )


@click.command()
@config_option
@with_options(web_options)
def serve(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the webhook, the API, health and metrics under gunicorn."""
    serve_web(config_path, host, port, workers, threads)


@click.command()
@config_option
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(min=1),
    help="Import threads [default: worker.threads].",
)
def worker(config_path: str | None, threads: int | None) -> None:
    """Import queued sessions and poll for missed ones (one process per box is enough)."""
    config = load_config(config_path)
    share_counters(config)
    svc = Services(config)
    stop = threading.Event()
    stop_on_signals(stop)
    tune_for_import()
    run_worker(
        svc.importer(),
        stop,
        threads=threads or config.import_threads(),
        on_ready=lambda: click.echo("worker started", err=True),
        start_more=lambda scheduler: start_tpa(svc, scheduler),  # 3PA, when tpa.enabled
    )


@click.command()
@config_option
@with_options(web_options)
def run(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web side and run the worker, for a single box."""
    config = load_config(config_path)
    # One box, every process started here: begin the shared counters afresh.
    use_directory(config.metrics_directory(), wipe=True)
    env = dict(os.environ)
    if config_path:
        env["CONNECTOR_CONFIG"] = os.path.abspath(config_path)
    child = subprocess.Popen([sys.executable, "-m", "connector", "worker"], env=env)
    try:
        serve_web(config_path, host, port, workers, threads)
    finally:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
