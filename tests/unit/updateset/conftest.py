"""Fixtures: the update set exactly as ``connector servicenow export-update-set`` writes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from connector.cli import cli

LINT_DIR = Path(__file__).resolve().parents[3] / "servicenow-lint"


@dataclass
class Item:
    """One sys_update_xml row and its parsed payload."""

    row: etree._Element
    payload: etree._Element

    @property
    def name(self) -> str:
        """Return the row's name (the sys_update_name)."""
        return self.row.findtext("name") or ""

    @property
    def record(self) -> etree._Element:
        """Return the element holding sys_update_name (the record the update is about)."""
        (found,) = self.payload.xpath("(.//sys_update_name)[1]/..")
        return found


@pytest.fixture(scope="session")
def exported() -> etree._Element:
    """Run the export command and parse the file it writes."""
    result = CliRunner().invoke(cli, ["servicenow", "export-update-set"])
    assert result.exit_code == 0, result.output
    return etree.fromstring(result.stdout_bytes)


@pytest.fixture(scope="session")
def items(exported: etree._Element) -> list[Item]:
    """Return every sys_update_xml row with its payload parsed."""
    return [
        Item(row, etree.fromstring(row.findtext("payload").encode()))
        for row in exported.findall("sys_update_xml")
    ]


def records_of(items: list[Item], cls: str) -> list[etree._Element]:
    """Return the main records of a class (sys_ui_action, sys_security_acl, ...)."""
    return [i.record for i in items if i.record.tag == cls]
