"""What every command shares: the --config option, loading it, building Services, dates."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

import click

from connector.config import Config, load
from connector.logs import configure_logging
from connector.services import Services


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """List eager and lazy subcommands."""
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import a lazy subcommand on first use."""
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


config_option = click.option(
    "--config",
    "config_path",
    envvar="CONNECTOR_CONFIG",
    type=click.Path(dir_okay=False),
    help="Connector YAML file (default: $CONNECTOR_CONFIG).",
)


appliance_option = click.option(
    "--appliance",
    "appliance_id",
    default=None,
    metavar="ID",
    help="The appliance the session belongs to (needed when several appliances could be meant).",
)


def resolve_appliance(svc: Services, given: str | None, lsid: str | None = None) -> str:
    """Name the appliance a command is about: the one given, the lsid's, or the only one."""
    ids = [a.id for a in svc.config.appliances]
    if given is not None:
        if given not in ids:
            shown = ", ".join(repr(i) for i in ids)
            raise click.BadParameter(f"expected one of {shown}", param_hint="--appliance")
        return given
    if lsid is not None:
        found = svc.store.appliances_of(lsid)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise click.UsageError(
                f"{lsid} is a session of several appliances ({', '.join(found)});"
                " name one with --appliance"
            )
    if len(ids) == 1:
        return ids[0]
    raise click.UsageError("several appliances are configured; name one with --appliance")


def load_config(config_path: str | None) -> Config:
    """Load and check the config file, and set up logging as it says."""
    config = load(config_path)
    configure_logging(config.logging.level, config.logging.format)
    return config


def services(config_path: str | None) -> Services:
    """Build the connector's services from the config file."""
    return Services(load_config(config_path))


def with_options(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """Apply a list of click options to a command, in order."""

    def decorate(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def parse_when(value: str, param: str) -> int:
    """Turn YYYY-MM-DD[THH:MM:SS] (UTC) into epoch seconds, or fail naming the option."""
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return int(dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC).timestamp())
        except ValueError:
            continue
    raise click.BadParameter(
        f"expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC), got {value!r}", param_hint=param
    )
