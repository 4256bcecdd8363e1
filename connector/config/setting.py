"""One setting as data: its dotted path, kind, default and meaning (the rows of ``settings``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()


@dataclass(frozen=True)
class Setting:
    """One configuration key: its type, default and meaning."""

    path: str
    # url | str | secret | bool | tls | int | float | networks | paths | choice | list | sections
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    item: tuple[Setting, ...] = ()  # sections: the settings of each entry, by relative path
    inherits: str = ""  # an item setting's default: the value of this top-level setting


def entry(path: str, top: Setting, help: str = "") -> Setting:
    """Describe an entry's setting that defaults to the top-level setting it stands in for."""
    return dataclasses.replace(
        top, path=path, default=None, inherits=top.path, help=help or top.help
    )
