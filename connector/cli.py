"""The ``connector`` command line; the only place errors become exit codes."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click


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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
        cli.main(args=argv, prog_name="connector", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
