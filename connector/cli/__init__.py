"""The ``connector`` command line; the only place errors become exit codes.

One module per command group: ``serving`` (serve, worker, run), ``operations`` (check-config,
dead-letters, unmatched, replay, backfill), ``servicenow`` (the instance side), ``store``
(migrate, copy), ``tpa`` (``connector 3pa``: Third Party Access), ``demo``; the
emulators' commands live with the emulators and load only when ``connector sim`` is used.
"""

from __future__ import annotations

import sys

import click

from connector.cli.common import LazyGroup
from connector.errors import ConfigError, ConnectorError


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "serve": "connector.cli.serving:serve",
        "worker": "connector.cli.serving:worker",
        "run": "connector.cli.serving:run",
        "check-config": "connector.cli.operations:check_config",
        "dead-letters": "connector.cli.operations:dead_letters",
        "unmatched": "connector.cli.operations:unmatched",
        "replay": "connector.cli.operations:replay",
        "backfill": "connector.cli.operations:backfill",
        "servicenow": "connector.cli.servicenow:group",
        "store": "connector.cli.store:group",
        "demo": "connector.cli.demo:demo",
        "3pa": "connector.cli.tpa:group",  # Third Party Access (connector/tpa)
    },
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
