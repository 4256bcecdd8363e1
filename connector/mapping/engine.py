"""Turn a Bomgar session into a plan of ServiceNow writes, driven by YAML files of Jinja2 templates.

Admins decide tables, fields and texts in mapping files (see ``docs/mappings.md``); this module
loads them, checks every key, compiles every template in Jinja2's immutable sandbox and renders
each one against built-in sample sessions, so a mistake stops the connector at start with the
file and line to fix, not at 3 a.m. on the first real session. At run time it is pure: a
``SupportSession`` and the ticket go in, an ``ImportPlan`` comes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from connector.bomgar.models import (
    Customer,
    Representative,
    SupportSession,
    Survey,
    SurveyAnswer,
)
from connector.errors import ConfigError, ConfigProblem, DataError
from connector.mapping.filters import fit
from connector.mapping.plan import AttachmentWrite, ImportPlan, JournalWrite, RecordWrite
from connector.mapping.samples import (
    SAMPLE_REP_USER,
    SAMPLE_TICKET,
    sample_session,
    sample_text_contexts,
)
from connector.mapping.schema import REQUIRED_SECTIONS, SECTIONS, Source
from connector.mapping.sections import compile_sections
from connector.mapping.templates import (
    AttachmentSpec,
    CompiledTemplate,
    FieldSpec,
    NoteSpec,
    Record,
    RecordSpec,
    Scope,
    TemplateRenderError,
    duration_seconds,
    explain,
    make_env,
)
from connector.mapping.yamlfile import parse_file

#: The importer finds an already-written work note by this text; never change it lightly
#: (connector.importer.writer searches the journal for its prefix).
MARKER_FORMAT = "[Bomgar session {lsid}]"


class MappingSet:
    """A checked, compiled set of mapping files; renders sessions into import plans."""

    def __init__(self) -> None:
        """Create an empty set; use ``MappingSet.load``."""
        self.files: list[str] = []
        self._lookups: dict[str, dict[str, str]] = {}
        self._env = make_env(self._lookups)
        self._session: RecordSpec | None = None
        self._note: NoteSpec | None = None
        self._surveys: RecordSpec | None = None
        self._attachments: list[AttachmentSpec] = []
        self._texts: dict[str, FieldSpec] = {}
        self._incident: list[FieldSpec] = []

    # ---- loading

    @classmethod
    def load(cls, paths: Sequence[Path]) -> MappingSet:
        """Load, merge, check and dry-run mapping files; raise ConfigError listing every problem."""
        self = cls()
        problems: list[ConfigProblem] = []
        sources: dict[str, Source] = {}
        if not paths:
            raise ConfigError(ConfigProblem("", "", "at least one mapping file", "none"))
        for path in paths:
            path = Path(path)
            self.files.append(str(path))
            data = parse_file(path, problems)
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
                    sources[key] = Source(str(path), value, line)
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

        compiled = compile_sections(sources, self._env, self._lookups, problems)
        self._session = compiled.session
        self._note = compiled.note
        self._surveys = compiled.surveys
        self._attachments = compiled.attachments
        self._texts = compiled.texts
        self._incident = compiled.incident
        # Dry-run what compiled even when other parts failed, so one load lists every mistake;
        # templates already reported are skipped.
        problems.extend(self._dry_run(skip={(p.file, p.path) for p in problems}))
        if problems:
            raise ConfigError(problems)
        return self

    def _dry_run(self, skip: set[tuple[str, str]]) -> list[ConfigProblem]:
        """Render every template against the sample sessions; report each failure once."""
        failed: dict[int, ConfigProblem] = {}

        def attempt(template: CompiledTemplate, context: Mapping[str, Any]) -> None:
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
                    explain(exc.cause) + inner,
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
                    run_ctx = ctx.extend(survey=survey, answer=answer)
                else:
                    run_ctx = ctx
                for f in spec.fields:
                    attempt(f.template, run_ctx)
            if self._note:
                attempt(self._note.template, ctx)
            for rule in self._attachments:
                attempt(rule.file_name, ctx)
                attempt(rule.content, ctx)
                attempt(rule.note, ctx.extend(attachment_name="sample.txt"))
            for f in self._incident:
                attempt(f.template, self._incident_context(session))
        for name, contexts in sample_text_contexts().items():
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

    def _context(
        self,
        session: SupportSession,
        ticket: Mapping[str, Any] | None,
        rep_user: Mapping[str, Any] | None,
        appliance_id: str,
    ) -> Scope:
        values = {
            "session": session,
            "lsid": session.lsid,
            "ticket": Record(ticket or {}),
            "rep_user": Record(rep_user or {}),
            # Never None, so "{{ rep.name }}" works for a session nobody picked up.
            "rep": session.primary_rep or Representative(gsnumber=""),
            "customer": session.primary_customer or Customer(gsnumber=""),
            "appliance_id": appliance_id or "",
            "duration_seconds": duration_seconds(session),
            "marker": MARKER_FORMAT.format(lsid=session.lsid),
        }
        return Scope.of(self._env, values)

    def _incident_context(self, session: SupportSession) -> Scope:
        ctx = self._context(session, None, None, "")
        del ctx["ticket"], ctx["rep_user"], ctx["marker"]
        return ctx

    @staticmethod
    def _render_fields(fields: Iterable[FieldSpec], context: Mapping[str, Any]) -> dict[str, str]:
        return {f.name: f.template.render(context).strip() for f in fields}

    @staticmethod
    def _fit_fields(fields: Iterable[FieldSpec], values: dict[str, str]) -> dict[str, str]:
        limits = {f.name: f.max_length for f in fields if f.max_length is not None}
        return {k: fit(v, limits[k]) if k in limits else v for k, v in values.items()}

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
                note = rule.note.render(ctx.extend(attachment_name=name))
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
        record = RecordWrite(
            spec.table,
            self._key(spec, values, session.lsid),
            values,
            appliance_field=spec.appliance_field,
        )
        plan = ImportPlan(lsid=session.lsid, session_record=record, attachments=attachments)
        if self._note is not None:
            plan.work_note = self._work_note(ctx, ticket, ticket_id)
        if self._surveys is not None:
            plan.survey_rows = self._survey_rows(ctx, session)
        return plan

    def _key(self, spec: RecordSpec, values: Mapping[str, str], lsid: str) -> dict[str, str]:
        key = {k: values[k] for k in spec.key}
        empty = [k for k, v in key.items() if not v]
        if empty:
            raise DataError(
                f"{spec.file}: {spec.table} key field(s) {', '.join(empty)} "
                f"render empty for session {lsid}"
            )
        return key

    def _work_note(self, ctx: Scope, ticket: Mapping[str, Any], sys_id: str) -> JournalWrite:
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

    def _survey_rows(self, ctx: Scope, session: SupportSession) -> list[RecordWrite]:
        spec = self._surveys
        assert spec is not None
        rows: dict[tuple[str, ...], RecordWrite] = {}
        for survey in session.surveys:
            for answer in survey.answers:
                if spec.skip_empty and not (answer.answer or "").strip():
                    continue
                values = self._render_fields(spec.fields, ctx.extend(survey=survey, answer=answer))
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
                context[key] = Record(context[key] or {})
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
