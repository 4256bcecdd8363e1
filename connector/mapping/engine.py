"""Turn a Bomgar session into a plan of ServiceNow writes, driven by YAML files of Jinja2 templates.

Admins decide tables, fields and texts in mapping files (see ``docs/mappings.md``); this module
loads them, checks every key, compiles every template in Jinja2's immutable sandbox and renders
each one against built-in sample sessions, so a mistake stops the connector at start with the
file and line to fix, not at 3 a.m. on the first real session. At run time it is pure: a
``SupportSession`` and the ticket go in, an ``ImportPlan`` comes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.bomgar.models import (
    ChatMessage,
    Customer,
    FileTransfer,
    Representative,
    SessionNote,
    SupportSession,
    Survey,
    SurveyAnswer,
    SystemInfoCategory,
)
from connector.errors import ConfigError, ConfigProblem, DataError
from connector.mapping.filters import FILTERS, fit, make_lookup
from connector.mapping.plan import AttachmentWrite, ImportPlan, JournalWrite, RecordWrite

#: The importer finds an already-written work note by this text; never change it lightly
#: (connector.importer.writer searches the journal for its prefix).
MARKER_FORMAT = "[Bomgar session {lsid}]"

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

#: Column lengths of the connector's tables (and the incident fields it fills); values longer
#: than this are cut with ``fit``. A field's ``max_length`` in the mapping wins.
FIELD_LENGTHS: dict[str, dict[str, int]] = {
    "u_bomgar_session": {
        "u_lsid": 64,
        "u_task": 32,
        "u_start_time": 19,
        "u_end_time": 19,
        "u_duration": 40,
        "u_primary_rep": 32,
        "u_rep_name": 100,
        "u_customer_name": 100,
        "u_customer_hostname": 255,
        "u_customer_os": 255,
        "u_customer_public_ip": 64,
        "u_customer_private_ip": 64,
        "u_public_site": 100,
        "u_appliance_id": 64,
        "u_chat_transcript": 4000,
        "u_system_info": 4000,
        "u_file_transfer_count": 40,
        "u_chat_url": 1024,
        "u_recording_url": 1024,
    },
    "u_bomgar_survey_response": {
        "u_session": 32,
        "u_task": 32,
        "u_lsid": 64,
        "u_survey_type": 40,
        "u_question": 255,
        "u_answer": 4000,
        "u_submitted_by": 100,
    },
    "incident": {"short_description": 160, "description": 4000},
}

DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"
DEFAULT_TRUNCATED_NOTE = "\n[… truncated; the full text is attached as {{ attachment_name }}]"


# --------------------------------------------------------------------------------------------
# YAML with line numbers


class _Map(dict):
    """A YAML mapping that remembers the line of each key and of each value's first text line."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]


class _Seq(list):
    """A YAML sequence that remembers the line of each item."""

    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader building ``_Map``/``_Seq`` and noting duplicate keys instead of hiding them."""

    duplicates: list[tuple[Any, int]]


def _content_line(node: yaml.Node) -> int:
    # A block scalar (| or >) starts on the line after its indicator; templates count from there.
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        line += 1
    return line


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines, out.value_lines = {}, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from None
        if key in out:
            loader.duplicates.append((key, key_node.start_mark.line + 1))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
        out.value_lines[key] = _content_line(value_node)
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [_content_line(child) for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) < 60 else "a long text"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# --------------------------------------------------------------------------------------------
# Compiled pieces


class TemplateRenderError(DataError):
    """Raise when a mapping template fails on the data it was given; names file, line and path."""

    def __init__(self, template: _Template, cause: BaseException, inner_line: int | None) -> None:
        self.template = template
        self.cause = cause
        self.inner_line = inner_line
        self.line = template.yaml_line(inner_line)
        where = template.file if self.line is None else f"{template.file}:{self.line}"
        super().__init__(f"{where}: {template.path}: {_explain(cause)}")


def _explain(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


def _template_line(exc: BaseException) -> int | None:
    # Jinja rewrites tracebacks so the frames of template code carry the template's own line.
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@dataclass
class _Template:
    """One compiled template and where it came from."""

    path: str  # e.g. "session_record.fields.u_rep_name"
    file: str
    line: int | None  # YAML line of the template's first text line
    compiled: jinja2.Template

    def yaml_line(self, inner: int | None) -> int | None:
        """Map a line inside the template to the YAML file's line."""
        if self.line is None:
            return None
        return self.line + (inner - 1 if inner else 0)

    def render(self, context: Mapping[str, Any]) -> str:
        """Render, turning any failure into a TemplateRenderError naming file, line and path."""
        try:
            return self.compiled.render(context)
        except Exception as exc:  # admin templates may fail in any way
            raise TemplateRenderError(self, exc, _template_line(exc)) from exc


@dataclass
class _Field:
    name: str
    template: _Template
    max_length: int | None


@dataclass
class _RecordSpec:
    table: str
    key: list[str]
    fields: list[_Field]
    file: str
    session_link_field: str | None = None
    skip_empty: bool = True


@dataclass
class _NoteSpec:
    element: str
    template: _Template
    max_length: int | None


@dataclass
class _AttachmentSpec:
    file_name: _Template
    content: _Template
    content_type: str
    when: str  # "overflow" | "always"
    field: str | None
    note: _Template
    path: str
    file: str
    line: int | None


class _Record(dict):
    """A ServiceNow record for templates: a field it does not hold renders as ``""``."""

    def __missing__(self, key: Any) -> str:
        return ""


def _finalize(value: Any) -> Any:
    # The appliance leaves many fields out; ``{{ session.end_time }}`` must not print "None".
    return "" if value is None else value


def _duration_seconds(session: SupportSession) -> int | None:
    if session.duration_seconds is not None:
        return session.duration_seconds
    if session.start_time and session.end_time:
        return max(0, int((session.end_time - session.start_time).total_seconds()))
    return None


# --------------------------------------------------------------------------------------------
# Sample data for the load-time dry run


def sample_session(full: bool = True) -> SupportSession:
    """Build the synthetic session every template is rendered against at load time."""
    lsid = "0123456789abcdef0123456789abcdef" if full else "fedcba9876543210fedcba9876543210"
    if not full:
        # Sparse on purpose: a session abandoned in the queue has no rep, customer, times or chat.
        return SupportSession(lsid=lsid)
    start = datetime(2024, 6, 10, 9, 0, 5, tzinfo=UTC)
    end = start + timedelta(minutes=42, seconds=7)
    rep = Representative(
        gsnumber="2",
        id="1",
        username="jane.rep",
        display_name="Jane Rep",
        public_display_name="Jane",
        private_display_name="Jane Rep",
        public_ip="198.51.100.7",
        private_ip="10.0.0.7",
        hostname="rep-laptop",
        os="Windows 11",
        session_owner=True,
        primary_rep=True,
        seconds_involved=2527,
    )
    customer = Customer(
        gsnumber="1",
        username="Abel Tuter",
        public_ip="203.0.113.42",
        private_ip="10.20.0.42",
        hostname="ws-lab-0042",
        os="Windows 10 Enterprise",
        primary=True,
        info={"name": "Abel Tuter", "company": "Example Corp", "issue": "Printer", "details": "x"},
    )
    return SupportSession(
        lsid=lsid,
        lseq=12,
        session_type="support",
        start_time=start,
        end_time=end,
        duration_seconds=2527,
        public_site="Default",
        public_site_id="1",
        external_key="INC0000001",
        custom_attributes={"external_key": "INC0000001"},
        chat_view_url="https://support.example.com/session_download.ns?lsid=x&dl_action=chat",
        recording_view_url="https://support.example.com/session_download.ns?lsid=x&view=1",
        file_transfer_count=2,
        primary_customer_name="Abel Tuter",
        primary_customer_gsnumber="1",
        primary_rep_name="Jane Rep",
        primary_rep_gsnumber="2",
        primary_rep_id="1",
        customers=[customer],
        reps=[rep],
        chat=[
            ChatMessage(start + timedelta(seconds=10), "Jane Rep", "representative", "Hello!"),
            ChatMessage(start + timedelta(seconds=30), "Abel Tuter", "customer", "Hi\nthere"),
        ],
        files=[
            FileTransfer(start + timedelta(minutes=5), "upload", "fix.reg", 2048, "Jane Rep"),
            FileTransfer(start + timedelta(minutes=9), "download", "log.txt", None, failed=True),
        ],
        notes=[SessionNote(start + timedelta(minutes=20), "Jane Rep", "Driver reinstalled.")],
        system_info=[
            SystemInfoCategory(
                name="Overview",
                columns={"os": "Operating System", "host": "Host Name"},
                rows=[{"os": "Windows 10 Enterprise", "host": "ws-lab-0042"}],
            ),
            SystemInfoCategory(
                name="Drives",
                columns={"name": "Name", "size": "Size"},
                rows=[{"name": "C:", "size": "256 GB"}, {"name": "D:", "size": "1 TB"}],
            ),
        ],
        surveys=[
            Survey(
                kind="customer",
                lsid=lsid,
                submitted_by="Abel Tuter",
                gsnumber="1",
                submitted_at=end,
                answers=[SurveyAnswer("1", "satisfaction", "How satisfied are you?", "Very")],
            ),
            Survey(
                kind="representative",
                lsid=lsid,
                submitted_by="Jane Rep",
                gsnumber="2",
                submitted_at=end,
                answers=[SurveyAnswer("2", "resolved", "Was the issue resolved?", "Yes")],
            ),
        ],
    )


SAMPLE_TICKET: dict[str, str] = {
    "sys_id": "a5000000000000000000000000000001",
    "number": "INC0000001",
    "sys_class_name": "incident",
    "short_description": "Printer offline on 3rd floor",
    "caller_id": "a2000000000000000000000000000001",
    "cmdb_ci": "a4000000000000000000000000000001",
}
SAMPLE_REP_USER: dict[str, str] = {
    "sys_id": "a1000000000000000000000000000001",
    "name": "Jane Rep",
    "user_name": "jane.rep",
    "email": "jane.rep@example.com",
}


def _sample_text_contexts() -> dict[str, list[dict[str, Any]]]:
    key_ctx = {
        "short_key": "1234567",
        "key_url": "https://support.example.com/?ak=1234567",
        "expires_at": datetime(2024, 6, 10, 9, 30, tzinfo=UTC),
        "ticket": _Record(SAMPLE_TICKET),
        "caller_name": "Abel Tuter",
        "rep_name": "Jane Rep",
        "company": "Example Corp",
    }
    sparse_key_ctx = {**key_ctx, "caller_name": "", "expires_at": None}
    page_ctxs = [
        {"company": "Example Corp", "ticket": _Record(SAMPLE_TICKET)},
        {"company": "", "ticket": _Record()},
    ]
    return {
        "session_key_mail_subject": [key_ctx, sparse_key_ctx],
        "session_key_mail_body": [key_ctx, sparse_key_ctx],
        "session_key_work_note": [key_ctx, sparse_key_ctx],
        "support_page_title": page_ctxs,
    }


# --------------------------------------------------------------------------------------------
# Loading and checking


@dataclass
class _Source:
    file: str
    value: Any
    line: int  # line of the section's key


@dataclass
class _Builder:
    """Collect problems while checking sections and compiling their templates."""

    env: ImmutableSandboxedEnvironment
    lookups: dict[str, dict[str, str]]
    problems: list[ConfigProblem] = field(default_factory=list)

    def problem(self, file: str, path: str, expected: str, found: str, line: int | None) -> None:
        """Record one problem."""
        self.problems.append(ConfigProblem(file, path, expected, found, line))

    def mapping(
        self, value: Any, file: str, path: str, line: int | None, allowed: Iterable[str]
    ) -> _Map | None:
        """Check that ``value`` is a mapping holding only ``allowed`` keys."""
        if not isinstance(value, dict):
            self.problem(file, path, "a mapping", _describe(value), line)
            return None
        allowed = tuple(allowed)
        for key in value:
            if key not in allowed:
                self.problem(
                    file,
                    f"{path}.{key}",
                    "one of the keys " + ", ".join(allowed),
                    f"the unknown key {key!r}",
                    _key_line(value, key, line),
                )
        return value if isinstance(value, _Map) else None

    def template(self, source: Any, file: str, path: str, line: int | None) -> _Template | None:
        """Compile one template string in the sandbox, checking syntax, filters and lookups."""
        if not isinstance(source, str):
            self.problem(
                file,
                path,
                "a template string (quote numbers and booleans)",
                _describe(source),
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
        return _Template(path, file, line, compiled)

    def field_spec(
        self,
        name: Any,
        spec: Any,
        file: str,
        path: str,
        key_line: int | None,
        value_line: int | None,
        table: str | None,
    ) -> _Field | None:
        """Check one field: a template string, or {template, max_length}."""
        if not isinstance(name, str) or not name:
            self.problem(file, path, "a field name", _describe(name), key_line)
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
            return None if tpl is None else _Field(name, tpl, max_length)
        tpl = self.template(spec, file, path, value_line)
        return None if tpl is None else _Field(name, tpl, default_length)

    def positive_int(self, value: Any, file: str, path: str, line: int | None) -> int | None:
        """Check a whole number of at least 1."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(file, path, "a whole number of 1 or more", _describe(value), line)
            return None
        return value

    def name(self, value: Any, file: str, path: str, line: int | None) -> str | None:
        """Check a non-empty plain name (a table or field)."""
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
            self.problem(file, path, "a table or field name without spaces", _describe(value), line)
            return None
        return value

    def names(self, value: Any, file: str, path: str, line: int | None) -> list[str] | None:
        """Check a non-empty list of names."""
        if not isinstance(value, list) or not value:
            self.problem(file, path, "a list of field names", _describe(value), line)
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
    ) -> list[_Field] | None:
        """Check a mapping of field name → template."""
        if not isinstance(value, dict) or not value:
            self.problem(file, path, "a mapping of field name to template", _describe(value), line)
            return None
        out = []
        for name, spec in value.items():
            f = self.field_spec(
                name,
                spec,
                file,
                f"{path}.{name}",
                _key_line(value, name, line),
                _value_line(value, name, line),
                table,
            )
            if f is not None:
                out.append(f)
        return out


def _key_line(m: Any, key: Any, default: int | None) -> int | None:
    return getattr(m, "key_lines", {}).get(key, default)


def _value_line(m: Any, key: Any, default: int | None) -> int | None:
    return getattr(m, "value_lines", {}).get(key, default)


def _parse_file(path: Path, problems: list[ConfigProblem]) -> _Map | None:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(file, "", "a readable UTF-8 file", str(exc)))
        return None
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        found = " ".join(p for p in (exc.context, exc.problem) if p)
        problems.append(
            ConfigProblem(file, "", "valid YAML", found, None if mark is None else mark.line + 1)
        )
        return None
    except yaml.YAMLError as exc:
        problems.append(ConfigProblem(file, "", "valid YAML", str(exc)))
        return None
    finally:
        loader.dispose()
    for key, line in loader.duplicates:
        problems.append(ConfigProblem(file, str(key), "each key once", "the key again", line))
    if data is None:
        return _empty_map()
    if not isinstance(data, _Map):
        problems.append(ConfigProblem(file, "", "a mapping of sections", _describe(data), 1))
        return None
    return data


def _empty_map() -> _Map:
    out = _Map()
    out.line, out.key_lines, out.value_lines = 1, {}, {}
    return out


def _make_env(lookups: Mapping[str, Mapping[str, str]]) -> ImmutableSandboxedEnvironment:
    # Plain text for ServiceNow fields and mails, not HTML: escaping would corrupt "<" and "&".
    env = ImmutableSandboxedEnvironment(  # noqa: S701
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(FILTERS)
    env.filters["lookup"] = make_lookup(lookups)
    return env


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)


# --------------------------------------------------------------------------------------------
# The mapping set


class MappingSet:
    """A checked, compiled set of mapping files; renders sessions into import plans."""

    def __init__(self) -> None:
        """Create an empty set; use ``MappingSet.load``."""
        self.files: list[str] = []
        self._lookups: dict[str, dict[str, str]] = {}
        self._env = _make_env(self._lookups)
        self._session: _RecordSpec | None = None
        self._note: _NoteSpec | None = None
        self._surveys: _RecordSpec | None = None
        self._attachments: list[_AttachmentSpec] = []
        self._texts: dict[str, _Field] = {}
        self._incident: list[_Field] = []

    # ---- loading

    @classmethod
    def load(cls, paths: Sequence[Path]) -> MappingSet:
        """Load, merge, check and dry-run mapping files; raise ConfigError listing every problem."""
        self = cls()
        problems: list[ConfigProblem] = []
        sources: dict[str, _Source] = {}
        if not paths:
            raise ConfigError(ConfigProblem("", "", "at least one mapping file", "none"))
        for path in paths:
            path = Path(path)
            self.files.append(str(path))
            data = _parse_file(path, problems)
            if data is None:
                continue
            for key, value in data.items():
                line = data.key_lines.get(key, 1)
                if key not in SECTIONS:
                    problems.append(
                        ConfigProblem(
                            str(path),
                            str(key),
                            "one of the sections " + ", ".join(SECTIONS),
                            f"the unknown section {key!r}",
                            line,
                        )
                    )
                elif key in sources:
                    first = sources[key]
                    problems.append(
                        ConfigProblem(
                            str(path),
                            key,
                            "each section in one file only",
                            f"{key} also defined in {first.file}:{first.line}",
                            line,
                        )
                    )
                else:
                    sources[key] = _Source(str(path), value, line)
        if problems:
            raise ConfigError(problems)
        for name in REQUIRED_SECTIONS:
            if name not in sources:
                problems.append(
                    ConfigProblem(
                        ", ".join(self.files),
                        name,
                        f"the {name} section in one of the files",
                        "no such section",
                    )
                )

        b = _Builder(self._env, self._lookups, problems)
        if "lookups" in sources:
            self._load_lookups(b, sources["lookups"])
        if "session_record" in sources:
            self._session = self._load_record(
                b,
                sources["session_record"],
                "session_record",
                "u_bomgar_session",
                ["u_lsid"],
                link=False,
            )
        if "work_note" in sources:
            self._load_note(b, sources["work_note"])
        if "survey_rows" in sources:
            self._surveys = self._load_record(
                b,
                sources["survey_rows"],
                "survey_rows",
                "u_bomgar_survey_response",
                ["u_lsid", "u_survey_type", "u_question"],
                link=True,
            )
        if "attachments" in sources:
            self._load_attachments(b, sources["attachments"])
        if "texts" in sources:
            self._load_texts(b, sources["texts"])
        if "auto_incident" in sources:
            src = sources["auto_incident"]
            m = b.mapping(src.value, src.file, "auto_incident", src.line, ("fields",))
            if m is not None:
                if "fields" not in m:
                    b.problem(
                        src.file, "auto_incident.fields", "a mapping of fields", "nothing", m.line
                    )
                else:
                    self._incident = (
                        b.fields(
                            m["fields"],
                            src.file,
                            "auto_incident.fields",
                            m.value_lines["fields"],
                            "incident",
                        )
                        or []
                    )
        # Dry-run what compiled even when other parts failed, so one load lists every mistake;
        # templates already reported are skipped.
        problems.extend(self._dry_run(skip={(p.file, p.path) for p in problems}))
        if problems:
            raise ConfigError(problems)
        return self

    def _load_lookups(self, b: _Builder, src: _Source) -> None:
        if not isinstance(src.value, dict):
            b.problem(
                src.file,
                "lookups",
                "a mapping of table name to mapping",
                _describe(src.value),
                src.line,
            )
            return
        for name, table in src.value.items():
            path = f"lookups.{name}"
            line = _value_line(src.value, name, src.line)
            if not isinstance(name, str):
                b.problem(src.file, path, "a lookup table name", _describe(name), line)
                continue
            if not isinstance(table, dict):
                b.problem(src.file, path, "a mapping of value to text", _describe(table), line)
                continue
            out: dict[str, str] = {}
            for k, v in table.items():
                kt, vt = _scalar_text(k), _scalar_text(v)
                at = _key_line(table, k, line)
                if kt is None:
                    b.problem(
                        src.file,
                        f"{path}.{k}",
                        "a text or number key (quote yes/no)",
                        _describe(k),
                        at,
                    )
                elif vt is None:
                    b.problem(
                        src.file, f"{path}.{k}", "a text or number (quote yes/no)", _describe(v), at
                    )
                else:
                    out[kt] = vt
            self._lookups[name] = out

    def _load_record(
        self, b: _Builder, src: _Source, section: str, table: str, key: list[str], *, link: bool
    ) -> _RecordSpec | None:
        allowed = ["table", "key", "fields"]
        if link:
            allowed += ["session_link_field", "skip_empty"]
        m = b.mapping(src.value, src.file, section, src.line, allowed)
        if m is None:
            return None
        spec = _RecordSpec(
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
                    _describe(m["skip_empty"]),
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
                _key_line(m["fields"], spec.session_link_field, m.line),
            )
        return spec

    def _load_note(self, b: _Builder, src: _Source) -> None:
        m = b.mapping(
            src.value, src.file, "work_note", src.line, ("element", "template", "max_length")
        )
        if m is None:
            return
        element = m.get("element", "work_notes")
        if element not in ("work_notes", "comments"):
            b.problem(
                src.file,
                "work_note.element",
                "work_notes or comments",
                _describe(element),
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
            self._note = _NoteSpec(element, tpl, max_length)

    def _load_attachments(self, b: _Builder, src: _Source) -> None:
        if not isinstance(src.value, list):
            b.problem(
                src.file,
                "attachments",
                "a list of attachment rules",
                _describe(src.value),
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
                    _describe(when),
                    m.value_lines.get("when"),
                )
                continue
            target = m.get("field")
            if when == "overflow":
                fields = {f.name for f in self._session.fields} if self._session else set()
                if not isinstance(target, str) or target not in fields:
                    b.problem(
                        src.file,
                        f"{path}.field",
                        "a session_record field whose overflow this rule attaches",
                        _describe(target),
                        m.value_lines.get("field", m.line),
                    )
                    continue
            elif target is not None:
                b.problem(
                    src.file,
                    f"{path}.field",
                    "no field when the rule is 'always'",
                    _describe(target),
                    m.value_lines.get("field"),
                )
            content_type = m.get("content_type", DEFAULT_CONTENT_TYPE)
            if not isinstance(content_type, str) or "/" not in content_type:
                b.problem(
                    src.file,
                    f"{path}.content_type",
                    "a MIME type such as text/plain",
                    _describe(content_type),
                    m.value_lines.get("content_type"),
                )
            if missing:
                continue
            file_name = b.template(
                m["file_name"], src.file, f"{path}.file_name", m.value_lines["file_name"]
            )
            content = b.template(
                m["content"], src.file, f"{path}.content", m.value_lines["content"]
            )
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
                self._attachments.append(
                    _AttachmentSpec(
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

    def _load_texts(self, b: _Builder, src: _Source) -> None:
        if not isinstance(src.value, dict):
            b.problem(
                src.file,
                "texts",
                "a mapping of text name to template",
                _describe(src.value),
                src.line,
            )
            return
        for name, spec in src.value.items():
            f = b.field_spec(
                name,
                spec,
                src.file,
                f"texts.{name}",
                _key_line(src.value, name, src.line),
                _value_line(src.value, name, src.line),
                None,
            )
            if f is not None:
                self._texts[name] = f
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

    def _dry_run(self, skip: set[tuple[str, str]]) -> list[ConfigProblem]:
        """Render every template against the sample sessions; report each failure once."""
        failed: dict[int, ConfigProblem] = {}

        def attempt(template: _Template, context: Mapping[str, Any]) -> None:
            if id(template) in failed or (template.file, template.path) in skip:
                return
            try:
                template.render(context)
            except TemplateRenderError as exc:
                inner = "" if exc.inner_line is None else f" (template line {exc.inner_line})"
                failed[id(template)] = ConfigProblem(
                    template.file,
                    template.path,
                    "a template that renders for the built-in sample sessions",
                    _explain(exc.cause) + inner,
                    exc.line,
                )

        samples = [
            (sample_session(True), SAMPLE_TICKET, SAMPLE_REP_USER),
            (sample_session(False), {"sys_id": SAMPLE_TICKET["sys_id"]}, None),
        ]
        for session, ticket, rep_user in samples:
            ctx = self._context(session, ticket, rep_user, "appliance-sample")
            for spec in (self._session, self._surveys):
                if spec is None:
                    continue
                if spec is self._surveys:
                    survey = session.surveys[0] if session.surveys else Survey("customer", "")
                    answer = (
                        survey.answers[0] if survey.answers else SurveyAnswer("", "", "", "yes")
                    )
                    run_ctx = {**ctx, "survey": survey, "answer": answer}
                else:
                    run_ctx = ctx
                for f in spec.fields:
                    attempt(f.template, run_ctx)
            if self._note:
                attempt(self._note.template, ctx)
            for rule in self._attachments:
                attempt(rule.file_name, ctx)
                attempt(rule.content, ctx)
                attempt(rule.note, {**ctx, "attachment_name": "sample.txt"})
            for f in self._incident:
                attempt(f.template, self._incident_context(session))
        for name, contexts in _sample_text_contexts().items():
            if name in self._texts:
                for context in contexts:
                    attempt(self._texts[name].template, context)
        if failed or skip or self._session is None:
            return list(failed.values())
        problems = []
        for session, ticket, rep_user in samples:
            try:
                self.plan_session(session, ticket=ticket, rep_user=rep_user)
            except DataError as exc:
                problems.append(
                    ConfigProblem(
                        self._session.file if self._session else "",
                        "session_record",
                        "a plan for the built-in sample sessions",
                        str(exc),
                    )
                )
        return problems

    # ---- rendering

    @staticmethod
    def _context(
        session: SupportSession,
        ticket: Mapping[str, Any] | None,
        rep_user: Mapping[str, Any] | None,
        appliance_id: str,
    ) -> dict[str, Any]:
        return {
            "session": session,
            "lsid": session.lsid,
            "ticket": _Record(ticket or {}),
            "rep_user": _Record(rep_user or {}),
            # Never None, so "{{ rep.name }}" works for a session nobody picked up.
            "rep": session.primary_rep or Representative(gsnumber=""),
            "customer": session.primary_customer or Customer(gsnumber=""),
            "appliance_id": appliance_id or "",
            "duration_seconds": _duration_seconds(session),
            "marker": MARKER_FORMAT.format(lsid=session.lsid),
        }

    def _incident_context(self, session: SupportSession) -> dict[str, Any]:
        ctx = self._context(session, None, None, "")
        del ctx["ticket"], ctx["rep_user"], ctx["marker"]
        return ctx

    @staticmethod
    def _render_fields(fields: Iterable[_Field], context: Mapping[str, Any]) -> dict[str, str]:
        return {f.name: f.template.render(context).strip() for f in fields}

    @staticmethod
    def _fit_fields(fields: Iterable[_Field], values: dict[str, str]) -> dict[str, str]:
        limits = {f.name: f.max_length for f in fields}
        return {k: v if limits.get(k) is None else fit(v, limits[k]) for k, v in values.items()}

    def plan_session(
        self,
        session: SupportSession,
        *,
        ticket: dict,
        rep_user: dict | None,
        appliance_id: str = "",
    ) -> ImportPlan:
        """Render the writes one session causes: session record, work note, surveys, files."""
        if self._session is None:
            raise ConfigError(ConfigProblem("", "session_record", "a loaded mapping", "none"))
        if not session.lsid:
            raise DataError("the session has no lsid")
        ticket_id = (ticket or {}).get("sys_id") or ""
        if not ticket_id:
            raise DataError(f"session {session.lsid}: the ticket has no sys_id")
        ctx = self._context(session, ticket, rep_user, appliance_id)
        spec = self._session
        values = self._render_fields(spec.fields, ctx)
        limits = {f.name: f.max_length for f in spec.fields}

        attachments: list[AttachmentWrite] = []
        for rule in self._attachments:
            name = rule.file_name.render(ctx).strip()
            if rule.when == "overflow":
                assert rule.field is not None
                limit = limits.get(rule.field)
                if limit is None or len(values[rule.field]) <= limit:
                    continue
                note = rule.note.render({**ctx, "attachment_name": name})
                room = limit - len(note)
                values[rule.field] = (
                    values[rule.field][:room] + note if room > 0 else fit(note, limit)
                )
            content = rule.content.render(ctx)
            if not content.strip():
                continue
            if not name:
                raise DataError(f"{rule.file}:{rule.line}: {rule.path}.file_name: renders empty")
            if any(a.file_name == name for a in attachments):
                raise DataError(
                    f"{rule.file}:{rule.line}: {rule.path}.file_name: "
                    f"{name!r} is already attached by an earlier rule"
                )
            attachments.append(AttachmentWrite(name, rule.content_type, content.encode("utf-8")))

        values = self._fit_fields(spec.fields, values)
        record = RecordWrite(spec.table, self._key(spec, values, session.lsid), values)
        plan = ImportPlan(lsid=session.lsid, session_record=record, attachments=attachments)
        if self._note is not None:
            plan.work_note = self._work_note(ctx, ticket, ticket_id)
        if self._surveys is not None:
            plan.survey_rows = self._survey_rows(ctx, session)
        return plan

    def _key(self, spec: _RecordSpec, values: Mapping[str, str], lsid: str) -> dict[str, str]:
        key = {k: values[k] for k in spec.key}
        empty = [k for k, v in key.items() if not v]
        if empty:
            raise DataError(
                f"{spec.file}: {spec.table} key field(s) {', '.join(empty)} "
                f"render empty for session {lsid}"
            )
        return key

    def _work_note(
        self, ctx: Mapping[str, Any], ticket: Mapping[str, Any], sys_id: str
    ) -> JournalWrite:
        assert self._note is not None
        marker = ctx["marker"]
        text = self._note.template.render(ctx).strip()
        # The importer recognises a written note by its marker, so the engine, not the admin's
        # template, guarantees it is there, whole, even after truncation.
        if marker not in text:
            text = f"{text}\n\n{marker}" if text else marker
        limit = self._note.max_length
        if limit is not None and len(text) > limit:
            body = text.replace(marker, "").strip()
            text = fit(body, max(0, limit - len(marker) - 1)) + "\n" + marker
        table = ticket.get("sys_class_name") or "task"
        return JournalWrite(table, sys_id, self._note.element, text, marker)

    def _survey_rows(self, ctx: Mapping[str, Any], session: SupportSession) -> list[RecordWrite]:
        spec = self._surveys
        assert spec is not None
        rows: dict[tuple[str, ...], RecordWrite] = {}
        for survey in session.surveys:
            for answer in survey.answers:
                if spec.skip_empty and not (answer.answer or "").strip():
                    continue
                values = self._render_fields(
                    spec.fields, {**ctx, "survey": survey, "answer": answer}
                )
                values = self._fit_fields(spec.fields, values)
                key = self._key(spec, values, session.lsid)
                # Same key twice (a question asked twice): the later answer wins, one row.
                rows[tuple(key.values())] = RecordWrite(
                    spec.table, key, values, session_link_field=spec.session_link_field
                )
        return list(rows.values())

    def render_text(self, name: str, **context: Any) -> str:
        """Render a named text (mail subject, page title, …) with the given context."""
        try:
            f = self._texts[name]
        except KeyError:
            known = ", ".join(sorted(self._texts)) or "none"
            raise ConfigError(
                ConfigProblem(
                    ", ".join(self.files),
                    f"texts.{name}",
                    f"a defined text ({known})",
                    "no such text",
                )
            ) from None
        for key in ("ticket", "rep_user"):
            # Records fetched with sysparm_fields lack columns; those render empty, as in plans.
            if key in context and (context[key] is None or isinstance(context[key], Mapping)):
                context[key] = _Record(context[key] or {})
        text = f.template.render(context).strip()
        return text if f.max_length is None else fit(text, f.max_length)

    def text_names(self) -> set[str]:
        """Return the names of the texts the mapping defines."""
        return set(self._texts)

    def auto_incident(self, session: SupportSession) -> dict[str, str]:
        """Render the fields of an incident created for a session that names no ticket."""
        values = self._render_fields(self._incident, self._incident_context(session))
        return self._fit_fields(self._incident, values)

    def written_fields(self) -> dict[str, set[str]]:
        """Return table → fields the mapping writes ("task" stands for the ticket's table)."""
        out: dict[str, set[str]] = {}
        if self._session is not None:
            out.setdefault(self._session.table, set()).update(f.name for f in self._session.fields)
        if self._surveys is not None:
            cols = out.setdefault(self._surveys.table, set())
            cols.update(f.name for f in self._surveys.fields)
            if self._surveys.session_link_field:
                cols.add(self._surveys.session_link_field)
        if self._note is not None:
            out.setdefault("task", set()).add(self._note.element)
        if self._incident:
            out.setdefault("incident", set()).update(f.name for f in self._incident)
        return out
