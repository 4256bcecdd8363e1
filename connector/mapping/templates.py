"""Compiled templates, and the specs the mapping sections compile to; rendering in the sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connector.bomgar.models import SupportSession
from connector.errors import DataError
from connector.mapping.filters import FILTERS, make_lookup


class TemplateRenderError(DataError):
    """Raise when a mapping template fails on the data it was given; names file, line and path."""

    def __init__(
        self, template: CompiledTemplate, cause: BaseException, inner_line: int | None
    ) -> None:
        self.template = template
        self.cause = cause
        self.inner_line = inner_line
        self.line = template.yaml_line(inner_line)
        where = template.file if self.line is None else f"{template.file}:{self.line}"
        super().__init__(f"{where}: {template.path}: {explain(cause)}")


def explain(exc: BaseException) -> str:
    """Describe an exception in one line: its class and message."""
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
class CompiledTemplate:
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
        template = self.compiled
        env = template.environment
        parent = context if isinstance(context, Scope) else Scope.of(env, context)
        try:
            # Template.render, less its per-call copies of the globals (a ChainMap, slow to
            # iterate): an import renders some forty templates a session, all from one Scope.
            # No globals_keys: they only matter to {% import %}/{% include %}, which need a
            # loader the sandbox does not have.
            ctx = env.context_class(env, parent, template.name, template.blocks)
            try:
                return env.concat(template.root_render_func(ctx))
            except Exception:
                env.handle_exception()  # re-raises with the template's own line numbers
        except Exception as exc:  # admin templates may fail in any way
            raise TemplateRenderError(self, exc, _template_line(exc)) from exc


class Scope(dict):
    """A render context already merged with the environment's globals, shared by many templates."""

    @classmethod
    def of(cls, env: jinja2.Environment, values: Mapping[str, Any]) -> Scope:
        """Merge the environment's globals with the values (the values win, as in Jinja)."""
        scope = cls(env.globals)
        scope.update(values)
        return scope

    def extend(self, **values: Any) -> Scope:
        """Return a copy with more names set."""
        scope = Scope(self)
        scope.update(values)
        return scope


@dataclass
class FieldSpec:
    name: str
    template: CompiledTemplate
    max_length: int | None


@dataclass
class RecordSpec:
    table: str
    key: list[str]
    fields: list[FieldSpec]
    file: str
    session_link_field: str | None = None
    skip_empty: bool = True
    # session_record: the field naming the session's appliance; a record whose field names
    # another appliance is never taken for this session's (None: lsid alone identifies).
    appliance_field: str | None = None


@dataclass
class NoteSpec:
    element: str
    template: CompiledTemplate
    max_length: int | None


@dataclass
class AttachmentSpec:
    file_name: CompiledTemplate
    content: CompiledTemplate
    content_type: str
    when: str  # "overflow" | "always"
    field: str | None
    note: CompiledTemplate
    path: str
    file: str
    line: int | None


class Record(dict):
    """A ServiceNow record for templates: a field it does not hold renders as ``""``."""

    def __missing__(self, key: Any) -> str:
        return ""


def _finalize(value: Any) -> Any:
    # The appliance leaves many fields out; ``{{ session.end_time }}`` must not print "None".
    return "" if value is None else value


def duration_seconds(session: SupportSession) -> int | None:
    if session.duration_seconds is not None:
        return session.duration_seconds
    if session.start_time and session.end_time:
        return max(0, int((session.end_time - session.start_time).total_seconds()))
    return None


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, remembering which attributes of which types it found safe."""

    _MEMO_LIMIT = 4096  # attribute names can come from data ("obj[name]"): keep the memo bounded

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._safe: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Decide as the immutable sandbox does; its answer depends only on the type and name."""
        key = (type(obj), attr)
        known = self._safe.get(key)
        if known is None:
            known = super().is_safe_attribute(obj, attr, value)
            if len(self._safe) < self._MEMO_LIMIT:
                self._safe[key] = known
        return known


def make_env(lookups: Mapping[str, Mapping[str, str]]) -> ImmutableSandboxedEnvironment:
    # Plain text for ServiceNow fields and mails, not HTML: escaping would corrupt "<" and "&".
    env = Sandbox(  # noqa: S701
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


def scalar_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)
