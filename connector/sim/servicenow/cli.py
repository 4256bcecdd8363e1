"""``connector sim servicenow``: serve the instance emulator under gunicorn (1 worker, gthread)."""

from __future__ import annotations

import tempfile
from typing import Any

import click


@click.command("servicenow")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8081, show_default=True, type=int, help="Port (0 picks a free one)."
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a private CA (its path is printed).")
@click.option(
    "--state-dir", default=None, help="Where the CA and certificate are kept (with --tls)."
)
@click.option("--data", "data_file", default=None, help="SQLite file that persists records.")
@click.option(
    "--schema",
    "schema_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Extra schema YAML (repeatable).",
)
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Seed YAML replacing the shipped one.",
)
@click.option(
    "--update-set",
    "update_set",
    type=click.Path(exists=True, dir_okay=False),
    help="Commit this update set at start instead of the connector's own.",
)
@click.option("--bare", is_flag=True, help="Start with the base tables only (no update set).")
@click.option("--user", default="admin", show_default=True, help="Basic-auth user.")
@click.option("--password", default="admin", show_default=True, help="Basic-auth password.")
@click.option("--oauth-client-id", default="connector", show_default=True, help="OAuth client id.")
@click.option(
    "--oauth-client-secret",
    default="connector-secret",
    show_default=True,
    help="OAuth client secret.",
)
@click.option("--latency-ms", default=0.0, type=float, help="Delay added to every request.")
@click.option("--jitter-ms", default=0.0, type=float, help="Plus a random 0..N ms.")
@click.option(
    "--read-ms", default=0.0, type=float, help="Server time per record read (a query returns)."
)
@click.option(
    "--write-ms",
    default=0.0,
    type=float,
    help="Server time per record inserted, updated, deleted or journalled.",
)
@click.option(
    "--max-concurrent", default=0, type=int, help="429 beyond N requests in progress (0: off)."
)
@click.option(
    "--max-queued",
    default=0,
    type=int,
    help="Requests beyond --max-concurrent that wait for a slot instead of a 429.",
)
@click.option(
    "--hourly-limit", default=0, type=int, help="429 beyond N requests per hour (0: off)."
)
@click.option(
    "--error-rate", default=0.0, type=float, help="Share answered 500/503 before taking effect."
)
@click.option(
    "--error-after-rate",
    default=0.0,
    type=float,
    help="Share that take effect (writes commit), then are answered 500/503.",
)
@click.option("--drop-rate", default=0.0, type=float, help="Share reset before taking effect.")
@click.option("--drop-after-rate", default=0.0, type=float, help="Share reset after taking effect.")
@click.option(
    "--timeout-rate",
    default=0.0,
    type=float,
    help="Share held --timeout-seconds before they run (the write lands late).",
)
@click.option(
    "--timeout-after-rate",
    default=0.0,
    type=float,
    help="Share that run at once, their answer held --timeout-seconds.",
)
@click.option(
    "--timeout-seconds", default=65.0, show_default=True, type=float, help="Hold of a timeout."
)
@click.option(
    "--batch-item-error-rate",
    default=0.0,
    type=float,
    help="Share of Batch API items answered 429/500 on their own, not run.",
)
@click.option(
    "--batch-item-error-after-rate",
    default=0.0,
    type=float,
    help="Share of Batch API items that commit, then are answered 500.",
)
@click.option(
    "--batch-cutoff-rate",
    default=0.0,
    type=float,
    help="Share of batches whose time budget runs out mid-way (the rest unserviced).",
)
@click.option("--threads", default=16, show_default=True, type=int, help="gunicorn threads.")
def command(
    host: str,
    port: int,
    tls: bool,
    state_dir: str | None,
    data_file: str | None,
    schema_files: tuple[str, ...],
    seed_file: str | None,
    update_set: str | None,
    bare: bool,
    user: str,
    password: str,
    oauth_client_id: str,
    oauth_client_secret: str,
    latency_ms: float,
    jitter_ms: float,
    read_ms: float,
    write_ms: float,
    max_concurrent: int,
    max_queued: int,
    hourly_limit: int,
    error_rate: float,
    error_after_rate: float,
    drop_rate: float,
    drop_after_rate: float,
    timeout_rate: float,
    timeout_after_rate: float,
    timeout_seconds: float,
    batch_item_error_rate: float,
    batch_item_error_after_rate: float,
    batch_cutoff_rate: float,
    threads: int,
) -> None:
    """Run the ServiceNow instance emulator."""
    from connector.sim.runtime import serve_emulator
    from connector.sim.servicenow import create_app
    from connector.sim.servicenow.schema import SchemaError
    from connector.sim.servicenow.state import Options, build_schema

    if bare and update_set:
        raise click.UsageError("--bare and --update-set exclude each other")
    options: dict[str, Any] = {
        "user": user,
        "password": password,
        "oauth_client_id": oauth_client_id,
        "oauth_client_secret": oauth_client_secret,
        "schema_files": list(schema_files),
        "seed_file": seed_file,
        "data_file": data_file,
        "update_set": False if bare else update_set,
        "faults": {
            "latency_ms": latency_ms,
            "jitter_ms": jitter_ms,
            "read_ms": read_ms,
            "write_ms": write_ms,
            "max_concurrent": max_concurrent,
            "max_queued": max_queued,
            "hourly_limit": hourly_limit,
            "error_rate": error_rate,
            "error_after_rate": error_after_rate,
            "drop_rate": drop_rate,
            "drop_after_rate": drop_after_rate,
            "timeout_rate": timeout_rate,
            "timeout_after_rate": timeout_after_rate,
            "timeout_seconds": timeout_seconds,
            "batch_item_error_rate": batch_item_error_rate,
            "batch_item_error_after_rate": batch_item_error_after_rate,
            "batch_cutoff_rate": batch_cutoff_rate,
        },
    }
    try:
        build_schema(Options.from_dict(options)[0])  # fail here, not inside the gunicorn worker
    except (ValueError, OSError, SchemaError) as exc:
        raise click.UsageError(str(exc)) from exc

    serve_emulator(
        "servicenow",
        lambda: create_app(options),
        host=host,
        port=port,
        threads=threads,
        tls_dir=(state_dir or tempfile.mkdtemp(prefix="servicenow-sim-tls-")) if tls else None,
    )
