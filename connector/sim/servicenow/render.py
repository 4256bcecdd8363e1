"""Render stored rows as the Table API does for each sysparm_display_value mode."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connector.sim.servicenow.records import Actor, Row
from connector.sim.servicenow.schema import Field, Schema, Table
from connector.sim.servicenow.store import Store
from connector.sim.servicenow.values import TS

FieldPath = tuple[str, list[Field]]  # output key, fields walked (last one is rendered)


def resolve_fields(
    schema: Schema, table: Table, names: list[str] | None, view: str | None
) -> list[FieldPath]:
    """Turn sysparm_fields (or a view, or every column) into walkable paths; drop unknown names."""
    if not names and view and view in table.views:
        names = table.views[view]
    if not names:
        return [(name, [f]) for name, f in table.fields.items()]
    paths: list[FieldPath] = []
    for name in names:
        current = table
        walked: list[Field] = []
        for i, part in enumerate(name.split(".")):
            f = current.fields.get(part)
            if f is None:
                break
            walked.append(f)
            if i < name.count("."):
                if f.type != "reference" or not f.reference:
                    break
                current = schema.tables[f.reference]
        else:
            paths.append((name, walked))
    return paths


class Renderer:
    """Render rows for one request: its display mode, link style and user."""

    def __init__(
        self,
        store: Store,
        actor: Actor,
        *,
        mode: str = "false",
        exclude_link: bool = False,
        link_base: str = "",
    ) -> None:
        self.store = store
        self.schema = store.schema
        self.actor = actor
        self.mode = mode
        self.exclude_link = exclude_link
        self.link_base = link_base  # e.g. https://host/api/now/table
        self.tz = actor.tz()
        self._user_names: dict[str, str] | None = None

    def row(self, table: Table, row: Row, paths: list[FieldPath]) -> dict[str, Any]:
        """Render one record."""
        out: dict[str, Any] = {}
        for key, walked in paths:
            current: Row | None = row
            for f in walked[:-1]:
                ref = current.get(f.name, "") if current else ""
                current = self.store.lookup(ref) if ref else None
            f = walked[-1]
            value = current.get(f.name, "") if current is not None else ""
            out[key] = self.value(f, value, current)
        return out

    def value(self, f: Field, value: str, row: Row | None) -> Any:
        """Render one value in the request's display mode."""
        if f.type == "reference":
            return self._reference(f, value)
        if f.type == "journal":
            if self.mode == "false":
                return ""
            text = self._journal(f, row) if row else ""
            return text if self.mode == "true" else {"display_value": text, "value": ""}
        if self.mode == "false":
            return value
        display = self.display(f, value)
        if self.mode == "true":
            return display
        return {"display_value": display, "value": value}

    def display(self, f: Field, value: str) -> str:
        """Return the display value of a non-reference field."""
        if value == "":
            return ""
        if f.type == "choice":
            return f.choices.get(value, value)
        if f.type == "integer":
            try:
                return f"{int(value):,}"
            except ValueError:
                return value
        if f.type == "sys_class_name":
            table = self.schema.tables.get(value)
            return table.label if table else value
        if f.type == "glide_date_time" and self.tz is not None:
            try:
                parsed = dt.datetime.strptime(value, TS).replace(tzinfo=dt.UTC)
            except ValueError:
                return value
            return parsed.astimezone(self.tz).strftime(TS)
        return value

    def _reference(self, f: Field, value: str) -> Any:
        if value == "":
            return ""  # an empty reference is "" in every mode
        target_name = f.reference or ""
        link = f"{self.link_base}/{target_name}/{value}"
        if self.mode == "false":
            return value if self.exclude_link else {"link": link, "value": value}
        display = self.reference_display(target_name, value)
        if self.mode == "true":
            return display if self.exclude_link else {"display_value": display, "link": link}
        if self.exclude_link:
            return {"display_value": display, "value": value}
        return {"display_value": display, "link": link, "value": value}

    def reference_display(self, target_name: str, sys_id: str) -> str:
        """Return the display column of the referenced record ("" if it does not exist)."""
        target = self.store.lookup(sys_id)
        table = self.schema.tables.get(target_name)
        if target is None or table is None:
            return ""
        column = table.display
        if not column:
            return ""
        f = table.fields.get(column)
        raw = target.get(column, "")
        return self.display(f, raw) if f else raw

    def _journal(self, f: Field, row: Row) -> str:
        elements = {"work_notes", "comments"} if f.name == "comments_and_work_notes" else {f.name}
        entries = [
            e for e in self.store.journal_entries(row.get("sys_id", "")) if e["element"] in elements
        ]
        if not entries:
            return ""
        if self._user_names is None:
            self._user_names = {
                u.get("user_name", ""): u.get("name", "")
                for u in self.store.by_table.get("sys_user", {}).values()
            }
        parts = []
        for e in reversed(entries):  # newest first
            who = self._user_names.get(e["sys_created_by"]) or e["sys_created_by"]
            label = "Work notes" if e["element"] == "work_notes" else "Additional comments"
            when = self.display(
                self.schema.tables["sys_journal_field"].fields["sys_created_on"],
                e["sys_created_on"],
            )
            parts.append(f"{when} - {who} ({label})\n{e['value']}\n\n")
        return "".join(parts)
