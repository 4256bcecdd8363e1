"""Check the mapping sections key by key and compile their templates; collect every problem.

``compile_sections`` turns the sections read from the files into a ``Compiled`` set of specs;
each mistake (a wrong type, an unknown key, a template that does not compile) is recorded with
its file, key path and line, and checking goes on so one load lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.errors import ConfigProblem
from connector.mapping.templates import (
    AttachmentSpec,
    CompiledTemplate,
    FieldSpec,
    NoteSpec,
    RecordSpec,
)
from connector.mapping.yamlfile import YamlMap, describe, key_line, value_line
from connector.servicenow.updateset import TABLES

SECTIONS = (
    "session_record",
    "work_note",
    "survey_rows",
    "attachments",
    "texts",
    "auto_incident",
    "lookups",
)
REQUIRED_SECTIONS = ("session_record", "texts", "auto_incident")
REQUIRED_TEXTS = (
    "session_key_mail_subject",
    "session_key_mail_body",
    "session_key_work_note",
    "support_page_title",
)

#: Column lengths of the connector's tables (from the update set that creates them) and of the
#: incident fields it fills; longer values are cut with ``fit``. A field's ``max_length`` wins.
FIELD_LENGTHS: dict[str, dict[str, int]] = {
    **{t.name: {c.name: c.max_length for c in t.columns} for t in TABLES},
    "incident": {"short_description": 160, "description": 4000},
}

DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"
DEFAULT_TRUNCATED_NOTE = "\n[… truncated; the full text is attached as {{ attachment_name }}]"


@dataclass
class Compiled:
    """What the mapping files compile to: lookup tables, record specs, the note, texts."""

    lookups: dict[str, dict[str, str]]
    session: RecordSpec | None = None
    note: NoteSpec | None = None
    surveys: RecordSpec | None = None
    attachments: list[AttachmentSpec] = field(default_factory=list)
    texts: dict[str, FieldSpec] = field(default_factory=dict)
    incident: list[FieldSpec] = field(default_factory=list)


@dataclass
class Source:
    file: str
    value: Any
    line: int  # line of the section's key


@dataclass
class Builder:
    """Collect problems while checking sections and compiling their templates."""

    env: ImmutableSandboxedEnvironment
    lookups: dict[str, dict[str, str]]
    problems: list[ConfigProblem] = field(default_factory=list)

    def problem(self, file: str, path: str, expected: str, found: str, line: int | None) -> None:
        """Record one problem."""
        self.problems.append(ConfigProblem(file, path, expected, found, line))

    def mapping(
        self, value: Any, file: str, path: str, line: int | None, allowed: Iterable[str]
    ) -> YamlMap | None:
        """Check that ``value`` is a mapping holding only ``allowed`` keys."""
        if not isinstance(value, dict):
            self.problem(file, path, "a mapping", describe(value), line)
            return None
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                self.problem(
                    file,
                    f"{path}.{key}",
                    "one of the keys " + ", ".join(allowed),
                    f"the unknown key {key!r}",
                    key_line(value, key, line),
                )
        return value if isinstance(value, YamlMap) else None

    def template(
        self, source: Any, file: str, path: str, line: int | None
    ) -> CompiledTemplate | None:
        """Compile one template string in the sandbox, checking syntax, filters and lookups."""
        if not isinstance(source, str):
            self.problem(
                file,
                path,
                "a template string (quote numbers and booleans)",
                describe(source),
                line,
            )
            return None
        try:
            ast = self.env.parse(source)
            compiled = self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            at = None if line is None else line + (exc.lineno or 1) - 1
            if exc.message and exc.message.startswith("No filter named"):
                expected = "a known filter (" + ", ".join(sorted(self.env.filters)) + ")"
            else:
                expected = "a valid Jinja2 template"
            self.problem(file, path, expected, f"{exc.message} (template line {exc.lineno})", at)
            return None
        for node in ast.find_all(nodes.Filter):
            if node.name != "lookup" or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, nodes.Const) and first.value not in self.lookups:
                known = ", ".join(sorted(self.lookups)) or "none defined"
                self.problem(
                    file,
                    path,
                    f"a lookup table from the lookups section ({known})",
                    f"lookup({first.value!r}) (template line {node.lineno})",
                    None if line is None else line + node.lineno - 1,
                )
        return CompiledTemplate(path, file, line, compiled)

    def field_spec(
        self,
        name: Any,
        spec: Any,
        file: str,
        path: str,
        key_line: int | None,
        value_line: int | None,
        table: str | None,
    ) -> FieldSpec | None:
        """Check one field: a template string, or {template, max_length}."""
        if not isinstance(name, str) or not name:
            self.problem(file, path, "a field name", describe(name), key_line)
            return None
        default_length = FIELD_LENGTHS.get(table or "", {}).get(name)
        if isinstance(spec, dict):
            m = self.mapping(spec, file, path, value_line, ("template", "max_length"))
            if m is None:
                return None
            if "template" not in m:
                self.problem(file, f"{path}.template", "a template", "nothing", m.line)
                return None
            max_length = default_length
            if "max_length" in m:
                max_length = self.positive_int(
                    m["max_length"], file, f"{path}.max_length", m.value_lines["max_length"]
                )
            tpl = self.template(m["template"], file, f"{path}.template", m.value_lines["template"])
            return None if tpl is None else FieldSpec(name, tpl, max_length)
        tpl = self.template(spec, file, path, value_line)
        return None if tpl is None else FieldSpec(name, tpl, default_length)

    def positive_int(self, value: Any, file: str, path: str, line: int | None) -> int | None:
        """Check a whole number of at least 1."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(file, path, "a whole number of 1 or more", describe(value), line)
            return None
        return value

    def name(self, value: Any, file: str, path: str, line: int | None) -> str | None:
        """Check a non-empty plain name (a table or field)."""
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
            self.problem(file, path, "a table or field name without spaces", describe(value), line)
            return None
        return value

    def names(self, value: Any, file: str, path: str, line: int | None) -> list[str] | None:
        """Check a non-empty list of names."""
        if not isinstance(value, list) or not value:
            self.problem(file, path, "a list of field names", describe(value), line)
            return None
        out = []
        lines = getattr(value, "item_lines", [line] * len(value))
        for i, item in enumerate(value):
            checked = self.name(item, file, f"{path}[{i}]", lines[i])
            if checked is None:
                return None
            out.append(checked)
        return out

    def fields(
        self, value: Any, file: str, path: str, line: int | None, table: str | None
    ) -> list[FieldSpec] | None:
        """Check a mapping of field name → template."""
        if not isinstance(value, dict) or not value:
            self.problem(file, path, "a mapping of field name to template", describe(value), line)
            return None
        out = []
        for name, spec in value.items():
            f = self.field_spec(
                name,
                spec,
                file,
                f"{path}.{name}",
                key_line(value, name, line),
                value_line(value, name, line),
                table,
            )
            if f is not None:
                out.append(f)
        return out
