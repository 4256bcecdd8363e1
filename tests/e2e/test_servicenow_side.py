"""``connector servicenow verify`` against the emulator, bare and with our update set committed.

The exported file itself is checked record by record in tests/unit/updateset/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.demo import Stack, running_stack
from connector.mapping import MappingSet, default_mapping_paths
from connector.servicenow.updateset import TABLES, build_update_set

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """Run the emulators (and connector, unused) on free ports."""
    with running_stack(worker=False) as s:
        yield s


def write_config(stack: Stack, tmp: Path, mappings: Path | None = None) -> Path:
    config = {
        "servicenow": {
            "instance_url": stack.servicenow_url,
            "username": "admin",
            "password": "admin",
        },
        "bomgar": {
            "appliance_url": stack.bomgar_url,
            "client_id": "connector-client",
            "client_secret": "connector-secret",
        },
        "webhook": {"token": "t"},
        "store": {"path": str(tmp / "c.db")},
        "logging": {"level": "WARNING", "format": "text"},
    }
    if mappings is not None:
        config["mappings"] = [str(mappings)]
    path = tmp / "connector.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_verify_passes_on_the_emulator_with_the_built_in_mappings(
    stack: Stack, tmp_path: Path
) -> None:
    """verify finds every field the built-in mappings write and exits 0."""
    result = CliRunner().invoke(
        cli, ["servicenow", "verify", "--config", str(write_config(stack, tmp_path))]
    )
    assert result.exit_code == 0, result.output
    assert "every mapped field exists" in result.output
    assert "u_bomgar_session:" in result.output


def test_verify_reports_a_field_the_mapping_names_but_the_instance_lacks(
    stack: Stack, tmp_path: Path
) -> None:
    """A mapping writing u_bomgar_session.u_not_there makes verify name it and exit non-zero."""
    folder = tmp_path / "mappings"
    folder.mkdir()
    for path in default_mapping_paths():
        shutil.copy(path, folder / path.name)
    session = folder / "session.yaml"
    text = session.read_text()
    anchor = '    u_lsid: "{{ lsid }}"\n'
    assert anchor in text
    session.write_text(text.replace(anchor, anchor + '    u_not_there: "{{ lsid }}"\n'))
    result = CliRunner().invoke(
        cli, ["servicenow", "verify", "--config", str(write_config(stack, tmp_path, folder))]
    )
    assert result.exit_code == 1, result.output
    assert "missing u_bomgar_session.u_not_there" in result.output
    assert "0 table(s) and 1 field(s) missing" in result.output


def test_verify_on_a_bare_instance_lists_every_missing_table_and_field_until_committed(
    tmp_path: Path,
) -> None:
    """Bare: every u_bomgar table and field is named, exit 1; after the update set: exit 0."""
    with running_stack(worker=False, servicenow_options={"update_set": False}) as bare:
        config = str(write_config(bare, tmp_path))
        result = CliRunner().invoke(cli, ["servicenow", "verify", "--config", config])
        assert result.exit_code == 1, result.output
        written = MappingSet.load(default_mapping_paths()).written_fields()
        mapped = [t for t in TABLES if t.name in written]  # 3PA's tables are not in the mappings
        for t in mapped:
            assert f"  missing table {t.name}\n" in result.output
            for name in written[t.name]:
                assert f"  missing {t.name}.{name}\n" in result.output
        total = sum(len(written[t.name]) for t in mapped)
        assert f"{len(mapped)} table(s) and {total} field(s) missing" in result.output
        assert "incident:" in result.output and "task:" in result.output
        r = requests.post(
            f"{bare.servicenow_url}/_sim/update-sets", data=build_update_set(), timeout=30
        )
        assert r.status_code == 201, r.text
        result = CliRunner().invoke(cli, ["servicenow", "verify", "--config", config])
        assert result.exit_code == 0, result.output
        assert "every mapped field exists" in result.output
