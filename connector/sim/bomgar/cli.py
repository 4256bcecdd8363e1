"""``connector sim bomgar``: serve the appliance emulator under gunicorn (one worker, gthread)."""

from __future__ import annotations

import tempfile
from typing import Any

import click

from connector.sim.bomgar.options import NAMESPACES


@click.command("bomgar")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8082, show_default=True, type=int, help="Port (0 picks a free one)."
)
@click.option(
    "--events-url",
    "events_urls",
    multiple=True,
    help="Outbound-event recipient URL (repeatable); may carry outbound_event_token.",
)
@click.option(
    "--seed",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Seed YAML replacing the shipped one.",
)
@click.option(
    "--retry-interval",
    default=10.0,
    show_default=True,
    type=float,
    help="Seconds between attempts at a failing head event.",
)
@click.option(
    "--retry-period",
    default=3600.0,
    show_default=True,
    type=float,
    help="Seconds after the first attempt before a failing event is dropped.",
)
@click.option(
    "--token-lifetime",
    default=3600.0,
    show_default=True,
    type=float,
    help="OAuth token lifetime in seconds.",
)
@click.option(
    "--namespace",
    type=click.Choice(list(NAMESPACES)),
    default="bomgar",
    show_default=True,
    help="XML namespace variant.",
)
@click.option(
    "--error-placement",
    type=click.Choice(["root", "nested"]),
    default="root",
    show_default=True,
    help="Put <error> at the root or inside the usual root.",
)
@click.option(
    "--error-status",
    default=200,
    show_default=True,
    type=int,
    help="HTTP status sent with XML <error> documents.",
)
@click.option(
    "--bad-token-reply",
    type=click.Choice(["json", "xml"]),
    default="json",
    show_default=True,
    help="XML APIs: 401 JSON access_denied or an XML <error>.",
)
@click.option(
    "--legacy-auth/--no-legacy-auth",
    default=False,
    show_default=True,
    help="Accept deprecated username/password parameters.",
)
@click.option("--appliance-id", default=None, help="appliance_id sent with outbound events.")
@click.option("--public-url", default=None, help="Base URL put into key and chat links.")
@click.option("--latency-ms", default=0.0, type=float, help="Delay added to every request.")
@click.option("--error-rate", default=0.0, type=float, help="Share of requests answered 500/503.")
@click.option("--drop-rate", default=0.0, type=float, help="Share of connections reset.")
@click.option("--malformed-rate", default=0.0, type=float, help="Share of XML replies truncated.")
@click.option("--threads", default=8, show_default=True, type=int, help="gunicorn threads.")
@click.option("--tls", is_flag=True, help="Serve HTTPS with a private CA (path printed).")
@click.option("--tls-dir", default=None, help="Where the CA and certificate are kept.")
def command(
    host: str,
    port: int,
    events_urls: tuple[str, ...],
    seed_file: str | None,
    retry_interval: float,
    retry_period: float,
    token_lifetime: float,
    namespace: str,
    error_placement: str,
    error_status: int,
    bad_token_reply: str,
    legacy_auth: bool,
    appliance_id: str | None,
    public_url: str | None,
    latency_ms: float,
    error_rate: float,
    drop_rate: float,
    malformed_rate: float,
    threads: int,
    tls: bool,
    tls_dir: str | None,
) -> None:
    """Run the Bomgar / BeyondTrust Remote Support appliance emulator."""
    from connector.sim.bomgar import create_app
    from connector.sim.bomgar.options import SimOptions
    from connector.sim.runtime import serve_emulator

    options: dict[str, Any] = {
        "seed_file": seed_file,
        "events_urls": list(events_urls),
        "retry_interval": retry_interval,
        "retry_period": retry_period,
        "token_lifetime": token_lifetime,
        "namespace": namespace,
        "error_placement": error_placement,
        "error_status": error_status,
        "bad_token_reply": bad_token_reply,
        "legacy_auth": legacy_auth,
        "public_url": public_url,
        "faults": {
            "latency_ms": latency_ms,
            "error_rate": error_rate,
            "drop_rate": drop_rate,
            "malformed_rate": malformed_rate,
        },
    }
    if appliance_id:
        options["appliance_id"] = appliance_id
    try:
        SimOptions.from_dict(options)
        from connector.sim.bomgar.state import SimState

        SimState(SimOptions.from_dict(options))  # validate seed and faults before forking
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from exc

    serve_emulator(
        "bomgar",
        lambda: create_app(options),
        host=host,
        port=port,
        threads=threads,
        tls_dir=(tls_dir or tempfile.mkdtemp(prefix="bomgar-sim-tls-")) if tls else None,
    )
