"""Tests that broken mapping files fail at load with the file and line to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connector.errors import ConfigError, DataError
from connector.mapping import MappingSet, default_mapping_paths
from tests.unit.mapping.sessions import TICKET, full_session

# A minimal complete mapping; tests break one line of it.
BASE = """\
session_record:
  fields:
    u_lsid: "{{ lsid }}"
    u_rep_name: "{{ rep.name }}"
texts:
  session_key_mail_subject: "Key {{ short_key }}"
  session_key_mail_body: "{{ key_url }}"
  session_key_work_note: "{{ short_key }}"
  support_page_title: "{{ company }}"
auto_incident:
  fields:
    short_description: "Session {{ lsid }}"
"""


def load(tmp_path: Path, text: str, name: str = "main.yaml") -> ConfigError:
    """Write one mapping file, load it, and return the ConfigError it must raise."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        MappingSet.load([path])
    return info.value


def only_problem(error: ConfigError):
    """Return the single problem of an error (failing when there are several)."""
    assert len(error.problems) == 1, error.problems
    return error.problems[0]


def test_base_mapping_loads_and_plans(tmp_path):
    """The minimal mapping the other tests break is itself valid."""
    path = tmp_path / "main.yaml"
    path.write_text(BASE, encoding="utf-8")
    plan = MappingSet.load([path]).plan_session(full_session(), ticket=TICKET, rep_user=None)
    assert plan.session_record.fields == {"u_lsid": full_session().lsid, "u_rep_name": "Sam Tech"}
    assert plan.work_note is None and plan.survey_rows == []


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    """A YAML syntax error reports the file and the line it happened on."""
    text = BASE.replace(
        '    u_rep_name: "{{ rep.name }}"', '    u_rep_name: "{{ rep.name }}\n  oops: ['
    )
    problem = only_problem(load(tmp_path, text))
    assert problem.file.endswith("main.yaml")
    assert problem.expected == "valid YAML"
    assert problem.line is not None and problem.line >= 4


def test_unknown_section_names_file_and_line(tmp_path):
    """An unknown top-level section is reported with its line."""
    problem = only_problem(load(tmp_path, BASE + "work_notes:\n  template: x\n"))
    assert (problem.path, problem.line) == ("work_notes", 13)
    assert "unknown section" in problem.found
    assert problem.file.endswith("main.yaml")


def test_unknown_key_names_file_path_and_line(tmp_path):
    """A misspelt key inside a section is reported with its key path and line."""
    text = BASE.replace(
        "  fields:\n    u_lsid", "  tabel: u_bomgar_session\n  fields:\n    u_lsid", 1
    )
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("session_record.tabel", 2)
    assert "table" in problem.expected
    assert str(problem).startswith(f"{tmp_path / 'main.yaml'}:2: session_record.tabel:")


def test_wrong_type_is_reported(tmp_path):
    """A field given a number instead of a template string is reported with its line."""
    text = BASE.replace('u_rep_name: "{{ rep.name }}"', "u_rep_name: 42")
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("session_record.fields.u_rep_name", 4)
    assert problem.found == "the number 42"


def test_jinja_syntax_error_reports_yaml_line_plus_template_line(tmp_path):
    """A Jinja2 syntax error on line 3 of a block template points at that YAML line."""
    text = BASE + (
        "work_note:\n"  # line 13
        "  template: |\n"  # 14
        "    Session {{ lsid }}\n"  # 15: template line 1
        "    Rep {{ rep.name }}\n"  # 16: template line 2
        "    {% if rep.name %}broken\n"  # 17: template line 3, never closed
    )
    problem = only_problem(load(tmp_path, text))
    assert problem.path == "work_note.template"
    assert problem.expected == "a valid Jinja2 template"
    assert "template line" in problem.found
    assert problem.line in (17, 18)  # Jinja reports an unclosed block at the end


def test_jinja_error_inside_a_block_scalar_maps_to_the_exact_line(tmp_path):
    """A bad expression on template line 2 is reported at the YAML line holding it."""
    text = BASE + (
        "work_note:\n"  # 13
        "  template: |\n"  # 14
        "    ok {{ lsid }}\n"  # 15
        "    bad {{ lsid + }}\n"  # 16
        "    ok again\n"
    )
    problem = only_problem(load(tmp_path, text))
    assert problem.line == 16
    assert "(template line 2)" in problem.found


def test_unknown_filter_is_reported_with_known_filters(tmp_path):
    """An unknown filter is reported with its line and the list of filters that exist."""
    text = BASE.replace('"{{ rep.name }}"', '"{{ rep.name | shout }}"')
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("session_record.fields.u_rep_name", 4)
    assert "shout" in problem.found
    assert "sn_datetime" in problem.expected and "transcript" in problem.expected


def test_undefined_variable_is_caught_by_the_dry_run(tmp_path):
    """A template naming an undefined variable fails at load, naming file and line."""
    text = BASE.replace('"{{ rep.name }}"', '"{{ repp.name }}"')
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("session_record.fields.u_rep_name", 4)
    assert "repp" in problem.found and "undefined" in problem.found


def test_template_failing_on_sparse_session_is_caught_by_the_dry_run(tmp_path):
    """A template that breaks for a session without a start time fails at load, not at run."""
    text = BASE.replace('"{{ rep.name }}"', '"{{ session.start_time.year }}"')
    problem = only_problem(load(tmp_path, text))
    assert problem.path == "session_record.fields.u_rep_name"
    assert "sample sessions" in problem.expected


def test_unknown_lookup_table_is_reported(tmp_path):
    """A lookup filter naming a table the lookups section lacks fails at load."""
    text = BASE.replace('"{{ rep.name }}"', "\"{{ rep.name | lookup('teams') }}\"")
    text += "lookups:\n  sites:\n    a: b\n"
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("session_record.fields.u_rep_name", 4)
    assert "teams" in problem.found and "sites" in problem.expected


def test_sandbox_blocks_internal_attributes_at_load(tmp_path):
    """A template reaching for Python internals is refused by the sandbox at load."""
    text = BASE.replace('"{{ rep.name }}"', '"{{ session.__class__.__mro__ }}"')
    problem = only_problem(load(tmp_path, text))
    assert problem.line == 4
    assert "SecurityError" in problem.found
    assert "__class__" in problem.found and "unsafe" in problem.found


def test_sandbox_blocks_internal_attributes_at_run_time(tmp_path):
    """A text that escapes only with caller-supplied data is refused when rendered."""
    path = tmp_path / "main.yaml"
    extra = "  probe: \"{{ thing.__class__.__init__.__globals__ if thing else '' }}\"\n"
    path.write_text(BASE.replace("auto_incident:", extra + "auto_incident:"), encoding="utf-8")
    mappings = MappingSet.load([path])
    with pytest.raises(DataError, match="unsafe") as info:
        mappings.render_text("probe", thing=full_session())
    assert "main.yaml:10: texts.probe" in str(info.value)


def test_sandbox_blocks_mutating_the_session(tmp_path):
    """Templates cannot change the session they render (immutable sandbox)."""
    text = BASE.replace('"{{ rep.name }}"', '"{{ session.chat.clear() }}"')
    problem = only_problem(load(tmp_path, text))
    assert "SecurityError" in problem.found


def test_section_defined_twice_names_both_files(tmp_path):
    """A section defined in two files is an error naming both files."""
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text("\n\ntexts:\n  x: y\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        MappingSet.load([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    problem = only_problem(info.value)
    assert problem.file.endswith("b.yaml") and problem.line == 3
    assert f"{tmp_path / 'a.yaml'}:5" in problem.found


def test_missing_required_text_is_reported(tmp_path):
    """A mapping without a text the connector needs fails at load."""
    text = BASE.replace('  support_page_title: "{{ company }}"\n', "")
    problem = only_problem(load(tmp_path, text))
    assert problem.path == "texts.support_page_title"


def test_duplicate_key_is_reported(tmp_path):
    """A key given twice in one mapping is reported instead of silently keeping the last."""
    text = BASE.replace(
        '    u_rep_name: "{{ rep.name }}"\n', '    u_rep_name: "a"\n    u_rep_name: "b"\n'
    )
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("u_rep_name", 5)


def test_every_problem_is_reported_at_once(tmp_path):
    """Several mistakes in one load are all listed in one ConfigError."""
    text = BASE.replace(
        '"{{ rep.name }}"', '"{{ rep.name | shout }}"\n    u_x: "{{ repp }}"'
    ).replace("  fields:\n    short_description", "  feilds:\n    short_description")
    error = load(tmp_path, text)
    lines = {p.path: p.line for p in error.problems}
    assert lines["session_record.fields.u_rep_name"] == 4
    assert lines["session_record.fields.u_x"] == 5
    assert lines["auto_incident.feilds"] == 12


def test_overflow_attachment_must_name_a_session_field(tmp_path):
    """An overflow attachment rule naming a field the session record lacks is refused."""
    text = BASE + (
        "attachments:\n"
        "  - field: u_chat_transcript\n"
        "    file_name: t.txt\n"
        '    content: "{{ session.chat | transcript }}"\n'
    )
    problem = only_problem(load(tmp_path, text))
    assert (problem.path, problem.line) == ("attachments[0].field", 14)


def test_runtime_render_error_names_file_and_section(tmp_path):
    """Bad data at run time raises DataError naming the mapping file, line and field."""
    path = tmp_path / "main.yaml"
    template = "\"{{ session.custom_attributes.get('due', '') | sn_datetime }}\""
    path.write_text(BASE.replace('"{{ rep.name }}"', template), encoding="utf-8")
    mappings = MappingSet.load([path])
    session = full_session()
    session.custom_attributes["due"] = "next tuesday"  # free text a rep typed, not a date
    with pytest.raises(DataError) as info:
        mappings.plan_session(session, ticket=TICKET, rep_user=None)
    message = str(info.value)
    assert f"{path}:4: session_record.fields.u_rep_name" in message
    assert "next tuesday" in message


def test_broken_default_copy_reports_the_copied_file(tmp_path):
    """An error in one of several files names that file, not the others."""
    for p in default_mapping_paths():
        shutil.copy(p, tmp_path / p.name)
    survey = tmp_path / "survey.yaml"
    survey.write_text(survey.read_text().replace("{{ answer.answer }}", "{{ answer.text }}"))
    with pytest.raises(ConfigError) as info:
        MappingSet.load(sorted(tmp_path.glob("*.yaml")))
    problem = only_problem(info.value)
    assert problem.file == str(survey)
    assert problem.path == "survey_rows.fields.u_answer"
    assert survey.read_text().splitlines()[problem.line - 1].strip().startswith("u_answer:")
