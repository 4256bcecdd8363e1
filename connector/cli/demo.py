"""``connector demo``: both emulators, the connector and one session, on free loopback ports."""

from __future__ import annotations

import click


@click.command()
@click.option("--keep-running", is_flag=True, help="Leave everything up and print the URLs.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the import.")
@click.option("--3pa", "tpa", is_flag=True, help="Play Third Party Access instead (needs slapd).")
def demo(keep_running: bool, timeout: float, tpa: bool) -> None:
    """Start both emulators and the connector, play a session and show what landed."""
    if tpa:  # 3PA: connector/demo/tpa.py
        from connector.demo.tpa import run_demo as run_tpa_demo

        run_tpa_demo(keep_running=keep_running, timeout=timeout, echo=click.echo)
        return
    from connector.demo import run_demo

    run_demo(keep_running=keep_running, timeout=timeout, echo=click.echo)
