"""The ServiceNow side: the exported update set and ``connector servicenow verify``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from lxml import etree

from connector.cli import cli
from connector.demo import Stack, running_stack
from connector.mapping import default_mapping_paths
from connector.servicenow.updateset import TABLES

UNLOAD_TYPES = {
    "sys_db_object",
    "sys_dictionary",
    "sys_ui_related_list",
    "sys_properties",
    "sys_rest_message",
    "sys_script_include",
    "sys_ui_action",
    "sys_ui_page",
    "sys_ui_macro",
}


@pytest.fixture(scope="module")
def update_set() -> etree._Element:
    """Run ``connector servicenow export-update-set`` and parse what it prints."""
    result = CliRunner().invoke(cli, ["servicenow", "export-update-set"])
    assert result.exit_code == 0, result.output
    return etree.fromstring(result.stdout_bytes)


def payloads(root: etree._Element) -> list[etree._Element]:
    return [etree.fromstring(p.encode()) for p in root.xpath("sys_update_xml/payload/text()")]


def test_update_set_is_an_unload_with_one_remote_update_set(update_set: etree._Element) -> None:
    """The root is <unload> holding one sys_remote_update_set that every sys_update_xml names."""
    assert update_set.tag == "unload" and update_set.get("unload_date")
    remotes = update_set.findall("sys_remote_update_set")
    assert len(remotes) == 1
    set_id = remotes[0].findtext("sys_id")
    assert len(set_id) == 32
    items = update_set.findall("sys_update_xml")
    assert len(items) > 40
    assert {i.findtext("remote_update_set") for i in items} == {set_id}
    assert len({i.findtext("sys_id") for i in items}) == len(items)


def test_each_payload_is_the_xml_of_the_record_it_names(update_set: etree._Element) -> None:
    """Every payload is <record_update table=T><T action=INSERT_OR_UPDATE> whose sys_id matches."""
    for item in update_set.findall("sys_update_xml"):
        payload = etree.fromstring(item.findtext("payload").encode())
        assert payload.tag == "record_update"
        table = payload.get("table")
        (record,) = list(payload)
        assert record.tag == table and record.get("action") == "INSERT_OR_UPDATE"
        assert item.findtext("name") == f"{table}_{record.findtext('sys_id')}"
    tables = {p.get("table") for p in payloads(update_set)}
    assert tables >= UNLOAD_TYPES


def test_update_set_creates_both_tables_with_every_field(update_set: etree._Element) -> None:
    """sys_dictionary entries exist for every column of u_bomgar_session and the survey table."""
    entries = {
        (r.findtext("sys_dictionary/name"), r.findtext("sys_dictionary/element"))
        for r in payloads(update_set)
        if r.get("table") == "sys_dictionary"
    }
    assert ("u_bomgar_session", "u_lsid") in entries
    assert ("u_bomgar_survey_response", "u_answer") in entries
    for table in TABLES:
        for column in table.columns:
            assert (table.name, column.name) in entries
    # The columns the built-in mappings write are all created.
    from connector.mapping import MappingSet

    written = MappingSet.load(default_mapping_paths()).written_fields()
    for name in ("u_bomgar_session", "u_bomgar_survey_response"):
        assert written[name] <= {e for t, e in entries if t == name}


def test_update_set_has_the_buttons_properties_and_rest_message(update_set: etree._Element) -> None:
    """The UI actions, related lists, system properties and REST message are all present."""
    records = payloads(update_set)

    def names(table: str, field: str = "name") -> set[str]:
        return {r.findtext(f"{table}/{field}") for r in records if r.get("table") == table}

    assert {"Bomgar Session Key", "Get Support Now", "Bomgar Jump"} <= names("sys_ui_action")
    assert {
        "x_bomgar.connector_url",
        "x_bomgar.connector_token",
        "x_bomgar.signing_secret",
    } <= names("sys_properties")
    assert names("sys_ui_related_list", "list_id") == {
        "u_bomgar_session.u_task",
        "u_bomgar_survey_response.u_task",
    }
    assert "Bomgar Connector" in names("sys_rest_message")
    assert "bomgar_jump" in names("sys_ui_macro")
    popup = next(r for r in records if r.findtext("sys_ui_page/name") == "x_bomgar_session_key")
    assert "Click to email link to caller" in popup.findtext("sys_ui_page/html")
    script = next(r for r in records if r.findtext("sys_script_include/name") == "BomgarConnector")
    assert "HmacSHA256" in script.findtext("sys_script_include/script")


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
    assert "1 field(s) missing" in result.output
