"""Compile each mapping section (lookups, records, the note, attachments, texts, the incident)."""

from __future__ import annotations

from collections.abc import Mapping

from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.errors import ConfigProblem
from connector.mapping.schema import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_TRUNCATED_NOTE,
    REQUIRED_TEXTS,
    Builder,
    Compiled,
    Source,
)
from connector.mapping.templates import AttachmentSpec, NoteSpec, RecordSpec, scalar_text
from connector.mapping.yamlfile import describe, key_line, value_line


def load_lookups(c: Compiled, b: Builder, src: Source) -> None:
    if not isinstance(src.value, dict):
        b.problem(
            src.file,
            "lookups",
            "a mapping of table name to mapping",
            describe(src.value),
            src.line,
        )
        return
    for name, table in src.value.items():
        path = f"lookups.{name}"
        line = value_line(src.value, name, src.line)
        if not isinstance(name, str):
            b.problem(src.file, path, "a lookup table name", describe(name), line)
            continue
        if not isinstance(table, dict):
            b.problem(src.file, path, "a mapping of value to text", describe(table), line)
            continue
        out: dict[str, str] = {}
        for k, v in table.items():
            kt, vt = scalar_text(k), scalar_text(v)
            at = key_line(table, k, line)
            if kt is None:
                b.problem(
                    src.file,
                    f"{path}.{k}",
                    "a text or number key (quote yes/no)",
                    describe(k),
                    at,
                )
            elif vt is None:
                b.problem(
                    src.file, f"{path}.{k}", "a text or number (quote yes/no)", describe(v), at
                )
            else:
                out[kt] = vt
        c.lookups[name] = out


APPLIANCE_FIELD = "u_appliance_id"


def load_record(
    b: Builder, src: Source, section: str, table: str, key: list[str], *, link: bool
) -> RecordSpec | None:
    allowed = ["table", "key", "fields"]
    if link:
        allowed += ["session_link_field", "skip_empty"]
    else:
        allowed += ["appliance_field"]
    m = b.mapping(src.value, src.file, section, src.line, allowed)
    if m is None:
        return None
    spec = RecordSpec(
        table=table,
        key=list(key),
        fields=[],
        file=src.file,
        session_link_field="u_session" if link else None,
    )
    if "table" in m:
        spec.table = (
            b.name(m["table"], src.file, f"{section}.table", m.value_lines["table"]) or table
        )
    if "key" in m:
        spec.key = b.names(m["key"], src.file, f"{section}.key", m.value_lines["key"]) or key
    if "session_link_field" in m:
        value = m["session_link_field"]
        if value is None:
            spec.session_link_field = None
        else:
            spec.session_link_field = b.name(
                value,
                src.file,
                f"{section}.session_link_field",
                m.value_lines["session_link_field"],
            )
    if "skip_empty" in m:
        if not isinstance(m["skip_empty"], bool):
            b.problem(
                src.file,
                f"{section}.skip_empty",
                "true or false",
                describe(m["skip_empty"]),
                m.value_lines["skip_empty"],
            )
        else:
            spec.skip_empty = m["skip_empty"]
    if "fields" not in m:
        b.problem(
            src.file,
            f"{section}.fields",
            "a mapping of field name to template",
            "nothing",
            m.line,
        )
        return None
    fields = b.fields(
        m["fields"], src.file, f"{section}.fields", m.value_lines["fields"], spec.table
    )
    if fields is None:
        return None
    spec.fields = fields
    names = set(m["fields"])
    if not link:
        # Found again by lsid, but never another appliance's record with the same lsid.
        spec.appliance_field = APPLIANCE_FIELD if APPLIANCE_FIELD in names else None
        if "appliance_field" in m:
            value = m["appliance_field"]
            at = m.value_lines["appliance_field"]
            name = (
                None if value is None else b.name(value, src.file, f"{section}.appliance_field", at)
            )
            if name is not None and name not in names:
                b.problem(
                    src.file,
                    f"{section}.appliance_field",
                    f"a field that is in {section}.fields",
                    f"{name!r}, which is not mapped",
                    at,
                )
            spec.appliance_field = name
    for k in spec.key:
        if k not in m["fields"]:
            b.problem(
                src.file,
                f"{section}.key",
                f"key fields that are in {section}.fields",
                f"{k!r}, which is not mapped",
                m.value_lines.get("key", m.line),
            )
    if spec.session_link_field and spec.session_link_field in names:
        b.problem(
            src.file,
            f"{section}.fields.{spec.session_link_field}",
            "no template for the session link field (the writer fills it)",
            "a template",
            key_line(m["fields"], spec.session_link_field, m.line),
        )
    return spec


def load_note(c: Compiled, b: Builder, src: Source) -> None:
    m = b.mapping(src.value, src.file, "work_note", src.line, ("element", "template", "max_length"))
    if m is None:
        return
    element = m.get("element", "work_notes")
    if element not in ("work_notes", "comments"):
        b.problem(
            src.file,
            "work_note.element",
            "work_notes or comments",
            describe(element),
            m.value_lines.get("element"),
        )
    max_length = None
    if "max_length" in m:
        max_length = b.positive_int(
            m["max_length"], src.file, "work_note.max_length", m.value_lines["max_length"]
        )
    if "template" not in m:
        b.problem(src.file, "work_note.template", "a template", "nothing", m.line)
        return
    tpl = b.template(m["template"], src.file, "work_note.template", m.value_lines["template"])
    if tpl is not None:
        c.note = NoteSpec(element, tpl, max_length)


def load_attachments(c: Compiled, b: Builder, src: Source) -> None:
    if not isinstance(src.value, list):
        b.problem(
            src.file,
            "attachments",
            "a list of attachment rules",
            describe(src.value),
            src.line,
        )
        return
    lines = getattr(src.value, "item_lines", [src.line] * len(src.value))
    keys = ("file_name", "content", "content_type", "when", "field", "truncated_note")
    for i, rule in enumerate(src.value):
        path = f"attachments[{i}]"
        m = b.mapping(rule, src.file, path, lines[i], keys)
        if m is None:
            continue
        missing = [k for k in ("file_name", "content") if k not in m]
        for k in missing:
            b.problem(src.file, f"{path}.{k}", "a template", "nothing", m.line)
        when = m.get("when", "overflow")
        if when not in ("overflow", "always"):
            b.problem(
                src.file,
                f"{path}.when",
                "overflow or always",
                describe(when),
                m.value_lines.get("when"),
            )
            continue
        target = m.get("field")
        if when == "overflow":
            fields = {f.name for f in c.session.fields} if c.session else set()
            if not isinstance(target, str) or target not in fields:
                b.problem(
                    src.file,
                    f"{path}.field",
                    "a session_record field whose overflow this rule attaches",
                    describe(target),
                    m.value_lines.get("field", m.line),
                )
                continue
        elif target is not None:
            b.problem(
                src.file,
                f"{path}.field",
                "no field when the rule is 'always'",
                describe(target),
                m.value_lines.get("field"),
            )
        content_type = m.get("content_type", DEFAULT_CONTENT_TYPE)
        if not isinstance(content_type, str) or "/" not in content_type:
            b.problem(
                src.file,
                f"{path}.content_type",
                "a MIME type such as text/plain",
                describe(content_type),
                m.value_lines.get("content_type"),
            )
        if missing:
            continue
        file_name = b.template(
            m["file_name"], src.file, f"{path}.file_name", m.value_lines["file_name"]
        )
        content = b.template(m["content"], src.file, f"{path}.content", m.value_lines["content"])
        if "truncated_note" in m:
            note = b.template(
                m["truncated_note"],
                src.file,
                f"{path}.truncated_note",
                m.value_lines["truncated_note"],
            )
        else:
            note = b.template(DEFAULT_TRUNCATED_NOTE, src.file, f"{path}.truncated_note", None)
        if file_name and content and note:
            c.attachments.append(
                AttachmentSpec(
                    file_name,
                    content,
                    content_type,
                    when,
                    target,
                    note,
                    path,
                    src.file,
                    lines[i],
                )
            )


def load_texts(c: Compiled, b: Builder, src: Source) -> None:
    if not isinstance(src.value, dict):
        b.problem(
            src.file,
            "texts",
            "a mapping of text name to template",
            describe(src.value),
            src.line,
        )
        return
    for name, spec in src.value.items():
        f = b.field_spec(
            name,
            spec,
            src.file,
            f"texts.{name}",
            key_line(src.value, name, src.line),
            value_line(src.value, name, src.line),
            None,
        )
        if f is not None:
            c.texts[name] = f
    for name in REQUIRED_TEXTS:
        if name not in src.value:
            b.problem(
                src.file,
                f"texts.{name}",
                "a template (the connector uses this text)",
                "nothing",
                src.line,
            )


# ---- dry run


def compile_sections(
    sources: Mapping[str, Source],
    env: ImmutableSandboxedEnvironment,
    lookups: dict[str, dict[str, str]],
    problems: list[ConfigProblem],
) -> Compiled:
    """Check and compile every section found; problems go to ``problems``."""
    b = Builder(env, lookups, problems)
    c = Compiled(lookups)
    if "lookups" in sources:
        load_lookups(c, b, sources["lookups"])
    if "session_record" in sources:
        c.session = load_record(
            b,
            sources["session_record"],
            "session_record",
            "u_bomgar_session",
            ["u_lsid"],
            link=False,
        )
    if "work_note" in sources:
        load_note(c, b, sources["work_note"])
    if "survey_rows" in sources:
        c.surveys = load_record(
            b,
            sources["survey_rows"],
            "survey_rows",
            "u_bomgar_survey_response",
            ["u_lsid", "u_survey_type", "u_question"],
            link=True,
        )
    if "attachments" in sources:
        load_attachments(c, b, sources["attachments"])
    if "texts" in sources:
        load_texts(c, b, sources["texts"])
    if "auto_incident" in sources:
        src = sources["auto_incident"]
        m = b.mapping(src.value, src.file, "auto_incident", src.line, ("fields",))
        if m is not None:
            if "fields" not in m:
                b.problem(
                    src.file, "auto_incident.fields", "a mapping of fields", "nothing", m.line
                )
            else:
                c.incident = (
                    b.fields(
                        m["fields"],
                        src.file,
                        "auto_incident.fields",
                        m.value_lines["fields"],
                        "incident",
                    )
                    or []
                )
    return c
