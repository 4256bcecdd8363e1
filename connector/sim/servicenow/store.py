"""Records of the emulated instance: in-memory dicts indexed by sys_id, SQLite write-through.

One record is one row however many tables see it: an incident is stored once with its class
(``incident``) and is visible through ``task``. Writes normalise values the way a real instance
stores them (strings cut to max_length, booleans ``true``/``false``, UTC date-times) and run the
few business rules clients notice (numbers, incident defaults, priority, journal entries).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from connector.sim.servicenow.cost import charge_writes
from connector.sim.servicenow.datafile import DataFile
from connector.sim.servicenow.index import FieldIndex, narrow
from connector.sim.servicenow.query import Lookup, Query, now_utc, sort_rows
from connector.sim.servicenow.records import (
    AclDenied,
    Actor,
    RecordNotFound,
    Row,
    UniqueViolation,
    new_sys_id,
)
from connector.sim.servicenow.rules import (
    JOURNAL_LABELS,
    blank_row,
    business_rules,
    check_mandatory,
)
from connector.sim.servicenow.schema import READ_ONLY_FIELDS, Field, Schema, Table
from connector.sim.servicenow.values import TS, stored_value

SEED_FILE = Path(__file__).with_name("seed.yaml")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class Store:
    """All records of the emulated instance; thread-safe behind one lock."""

    def __init__(self, schema: Schema, data_file: str | None = None, seed_file: str | None = None):
        self.schema = schema
        self.lock = threading.RLock()
        self.seed_file = seed_file or str(SEED_FILE)
        self.records: dict[str, Row] = {}
        self.classes: dict[str, str] = {}
        self.by_table: dict[str, dict[str, Row]] = {name: {} for name in schema.tables}
        self.journal_index: dict[str, list[str]] = {}
        # Where each record sits in ``records`` (and so in its table's ``by_table`` dict, which
        # keeps the same relative order): index look-ups sort their candidates by it.
        self.position: dict[str, int] = {}
        self._next_position = 0
        self.index = FieldIndex()
        self.files: dict[str, bytes] = {}
        self.counters: dict[str, int] = {}
        self.user_version = 0  # bumped on every sys_user write (actor caches compare it)
        # (declaring table, column) -> value -> sys_id, for columns with a unique index
        self.unique: dict[tuple[str, str], dict[str, str]] = {}
        # Records committed from update sets (properties, roles, ACLs): kept across resets.
        self.committed: dict[str, tuple[str, Row]] = {}
        self.db = DataFile(data_file) if data_file else None
        if self.db is not None and self.db.has_records():
            self._load_db()
        else:
            self.reset()

    # ------------------------------------------------------------------ seed and data file

    def reset(self) -> None:
        """Forget every record and load the seed again."""
        with self.lock:
            self.records.clear()
            self.classes.clear()
            for rows in self.by_table.values():
                rows.clear()
            self.journal_index.clear()
            self.position.clear()
            self.index.clear()
            self.unique.clear()
            self.files.clear()
            seed = yaml.safe_load(Path(self.seed_file).read_text(encoding="utf-8")) or {}
            self.counters = {str(k): int(v) for k, v in (seed.get("counters") or {}).items()}
            if self.db is not None:
                self.db.clear()
            created = str(seed.get("created_on") or now_utc().strftime(TS))
            for table_name, rows in (seed.get("records") or {}).items():
                table = self._table(table_name)
                for values in rows:
                    values = {k: "" if v is None else str(v) for k, v in values.items()}
                    row = blank_row(table, values.get("sys_id") or new_sys_id(), "system", created)
                    for name, value in values.items():
                        if name in table.fields and name != "sys_id":
                            row[name] = self.normalise(table.fields[name], value, None)
                    if table.name == "incident" and not row.get("opened_at"):
                        row["opened_at"] = created
                    self._put(table.name, row)
            self._load_catalogue()
            for table_name, row in self.committed.values():
                self._put(table_name, dict(row), persist=False)
            self._save_counters()

    def add_tables(self) -> None:
        """Make room for tables added to the schema since the store was built."""
        with self.lock:
            for name in self.schema.tables:
                self.by_table.setdefault(name, {})
            self._load_catalogue()

    def commit_records(self, table_name: str, rows: list[dict[str, str]]) -> int:
        """Insert or update records from an update set, keeping their sys_ids; return the count."""
        table = self._table(table_name)
        with self.lock:
            for values in rows:
                sys_id = values.get("sys_id") or new_sys_id()
                row = blank_row(table, sys_id, "system", "2024-01-01 00:00:00")
                for name, value in values.items():
                    if name in table.fields and name != "sys_id":
                        row[name] = self.normalise(table.fields[name], value, None)
                if sys_id in self.records:
                    self._remove(sys_id)
                self.committed[sys_id] = (table_name, row)
                self._put(table_name, dict(row), persist=False)
        return len(rows)

    def _load_catalogue(self) -> None:
        for table_name, rows in self.schema.catalogue_rows().items():
            if table_name not in self.schema.tables:
                continue
            table = self.schema.tables[table_name]
            for values in rows:
                row = blank_row(table, values["sys_id"], "system", "2024-01-01 00:00:00")
                row.update({k: v for k, v in values.items() if k in table.fields})
                self._put(table_name, row, persist=False)

    def _load_db(self) -> None:
        assert self.db is not None
        with self.lock:
            for sys_id, tbl, stored in self.db.records():
                table = self.schema.tables.get(tbl)
                if table is None:
                    continue  # a table removed from the schema since the file was written
                row = blank_row(table, sys_id, "system", "")
                row.update({k: v for k, v in stored.items() if k in table.fields})
                self._put(tbl, row, persist=False)
            self.files.update(self.db.files())
            self.counters = self.db.counters()
            self._load_catalogue()

    def persist(self, sys_id: str) -> None:
        """Write one record through to the data file, or remove it there once it is gone."""
        if self.db is None:
            return
        row = self.records.get(sys_id)
        if row is None:
            self.db.delete_record(sys_id)
        else:
            self.db.save_record(sys_id, self.classes[sys_id], row)

    def _save_counters(self) -> None:
        if self.db is not None:
            self.db.save_counters(self.counters)

    def close(self) -> None:
        """Close the data file, if any."""
        if self.db is not None:
            self.db.close()
            self.db = None

    # ------------------------------------------------------------------ reads

    def _table(self, name: str) -> Table:
        table = self.schema.tables.get(name)
        if table is None:
            raise KeyError(name)
        return table

    def lookup(self, sys_id: str) -> Row | None:
        """Return any record by sys_id (for dot-walking)."""
        return self.records.get(sys_id)

    def get(self, table: Table, sys_id: str) -> Row | None:
        """Return the record if it exists in the table or a table extending it."""
        row = self.records.get(sys_id)
        if row is None or self.classes[sys_id] not in table.descendants:
            return None
        return row

    def iter_rows(self, table: Table) -> Iterator[Row]:
        """Yield the table's rows and those of tables extending it, in insertion order."""
        if len(table.descendants) == 1:
            yield from self.by_table[table.name].values()
            return
        wanted = table.descendants
        for sys_id, row in self.records.items():
            if self.classes[sys_id] in wanted:
                yield row

    def select(self, table: Table, query: Query) -> list[Row]:
        """Return the matching rows sorted as the query asks."""
        with self.lock:
            rows = self._matching(table, query)
        if query.order:
            sort_rows(rows, query.order, table)
        return rows

    def _matching(self, table: Table, query: Query) -> list[Row]:
        """Return the rows the query selects, in insertion order (call with the lock held)."""
        if not query.groups:
            return list(self.iter_rows(table))
        lookup: Lookup = self.records.get
        found = self.candidates(table, query)
        if found is None:
            return [r for r in self.iter_rows(table) if query.matches(r, lookup)]
        # Candidates only narrow the search: the whole query still decides, in the order a
        # scan would have met the rows.
        ordered = map(self.records.__getitem__, sorted(found, key=self.position.__getitem__))
        return [r for r in ordered if query.matches(r, lookup)]

    def candidates(self, table: Table, query: Query) -> set[str] | None:
        """Return the sys_ids the indexes narrow a query to, or None when it takes a scan."""
        if len(query.groups) != 1:
            return None
        with self.lock:
            return narrow(
                self.index,
                query.keys[0],
                table.descendants,
                lambda cls: self.by_table.get(cls, {}),
                self.classes.get,
            )

    def class_of(self, sys_id: str) -> str:
        """Return the table a record really belongs to."""
        return self.classes[sys_id]

    def journal_entries(self, sys_id: str) -> list[Row]:
        """Return a record's journal rows, oldest first."""
        return [self.records[j] for j in self.journal_index.get(sys_id, []) if j in self.records]

    def user_by_name(self, user_name: str) -> Row | None:
        """Return the sys_user row with this user_name."""
        for row in self.by_table.get("sys_user", {}).values():
            if row.get("user_name") == user_name:
                return row
        return None

    def actor(self, user_name: str) -> Actor:
        """Return the actor for a user_name, creating its sys_user row if missing."""
        with self.lock:
            row = self.user_by_name(user_name)
            if row is None:
                row = self.insert(
                    self.schema.tables["sys_user"],
                    {"user_name": user_name, "name": user_name},
                    Actor("", "system", "system"),
                    enforce_acl=False,
                )
            return Actor(
                row["sys_id"], user_name, row.get("name") or user_name, row.get("time_zone", "")
            )

    # ------------------------------------------------------------------ writes

    def _put(self, table_name: str, row: Row, persist: bool = True) -> None:
        sys_id = row["sys_id"]
        if table_name == "sys_user":
            self.user_version += 1
        old = self.records.get(sys_id)
        if old is not None:
            # A record stored again (the catalogue on add_tables, a committed record on reset):
            # in its own table it keeps its place; moving to another table, it leaves the old one.
            if self.classes[sys_id] != table_name:
                self._unlink(sys_id)
                old = None
            else:
                self.index.remove(table_name, old)
                self._index_unique(table_name, old, add=False)
        if old is None:
            self.position[sys_id] = self._next_position
            self._next_position += 1
        self.records[sys_id] = row
        self.classes[sys_id] = table_name
        self.by_table[table_name][sys_id] = row
        self._index_unique(table_name, row, add=True)
        self.index.add(table_name, row)
        if table_name == "sys_journal_field":
            ids = self.journal_index.setdefault(row.get("element_id", ""), [])
            if sys_id not in ids:
                ids.append(sys_id)
        if persist:
            self.persist(sys_id)

    def _index_unique(self, table_name: str, row: Row, *, add: bool) -> None:
        for key in self.schema.tables[table_name].unique_keys:
            value = row.get(key[1], "")
            if not value:
                continue  # empty is NULL in the database: any number of rows may leave it empty
            index = self.unique.setdefault(key, {})
            if add:
                index[value] = row["sys_id"]
            elif index.get(value) == row["sys_id"]:
                del index[value]

    def _check_unique(self, table: Table, row: Row, operation: str) -> None:
        for key in table.unique_keys:
            value = row.get(key[1], "")
            holder = self.unique.get(key, {}).get(value) if value else None
            if holder is not None and holder != row["sys_id"]:
                display = row.get(table.display or "", "") or row["sys_id"]
                raise UniqueViolation(operation, table.name, display)

    def normalise(self, f: Field, value: Any, actor: Actor | None, display: bool = False) -> str:
        """Turn a client's value into what the instance stores for this field type."""
        return stored_value(f, value, actor, display, self._sys_id_by_display)

    def _sys_id_by_display(self, table_name: str, text: str) -> str:
        target = self.schema.tables[table_name]
        column = target.display or "name"
        for row in self.iter_rows(target):
            if row.get(column) == text:
                return row["sys_id"]
        return ""

    def _apply(
        self,
        table: Table,
        row: Row,
        values: dict[str, Any],
        actor: Actor,
        display: bool,
        when: str,
    ) -> tuple[bool, list[tuple[str, str]]]:
        """Write values into row; return whether it changed and the journal entries to add."""
        changed = False
        journal: list[tuple[str, str]] = []
        for name, value in values.items():
            f = table.fields.get(name)
            if f is None or name in READ_ONLY_FIELDS or name == "sys_id":
                continue  # unknown and system fields are ignored, never an error
            if f.type == "journal":
                text = "" if value is None else str(value)
                # Custom journal fields (u_…, e.g. 3PA's u_work_notes) journal like work notes
                # on an instance; comments_and_work_notes is a display-only pseudo field.
                if text and (name in JOURNAL_LABELS or name.startswith("u_")):
                    journal.append((name, text))
                continue
            new = self.normalise(f, value, actor, display)
            if row.get(name) != new:
                row[name] = new
                changed = True
        return changed, journal

    def _add_journal(
        self, record: Row, cls: str, entries: list[tuple[str, str]], actor: Actor, when: str
    ) -> None:
        journal_table = self.schema.tables["sys_journal_field"]
        for element, text in entries:
            entry = blank_row(journal_table, new_sys_id(), actor.user_name, when)
            entry.update(name=cls, element=element, element_id=record["sys_id"], value=text)
            self._put("sys_journal_field", entry)
        charge_writes(len(entries))  # a journal entry is a record written

    def _next_number(self, table: Table) -> str:
        prefix = table.number_prefix or ""
        value = self.counters.get(table.name, 10001)
        self.counters[table.name] = value + 1
        self._save_counters()
        return f"{prefix}{value:07d}"

    def insert(
        self,
        table: Table,
        values: dict[str, Any],
        actor: Actor,
        *,
        display: bool = False,
        enforce_acl: bool = True,
    ) -> Row:
        """Insert one record and return it."""
        if enforce_acl and table.read_only:
            raise AclDenied("Insert")
        with self.lock:
            when = now_utc().strftime(TS)
            sys_id = str(values.get("sys_id") or "").strip().lower()
            if not _HEX32.match(sys_id) or sys_id in self.records:
                sys_id = new_sys_id()
            row = blank_row(table, sys_id, actor.user_name, when)
            _, journal = self._apply(table, row, values, actor, display, when)
            business_rules(table, row, values, actor, insert=True)
            check_mandatory(table, row)
            self._check_unique(table, row, "insert")
            if table.number_prefix and "number" in table.fields and not row.get("number"):
                row["number"] = self._next_number(table)
            self._put(table.name, row)
            charge_writes(1)
            if journal:
                self._add_journal(row, table.name, journal, actor, when)
            return row

    def update(
        self,
        table: Table,
        sys_id: str,
        values: dict[str, Any],
        actor: Actor,
        *,
        display: bool = False,
    ) -> Row:
        """Apply a partial update (PUT and PATCH alike) and return the record."""
        with self.lock:
            row = self.get(table, sys_id)
            if row is None:
                raise RecordNotFound(sys_id)
            cls_table = self.schema.tables[self.classes[sys_id]]
            if table.read_only or cls_table.read_only:
                raise AclDenied("Update")
            when = now_utc().strftime(TS)
            # Writing through a parent (task) may only touch the parent's columns.
            visible = {k: v for k, v in values.items() if k in table.fields}
            candidate = dict(row)
            changed, journal = self._apply(cls_table, candidate, visible, actor, display, when)
            business_rules(cls_table, candidate, visible, actor, insert=False)
            check_mandatory(cls_table, candidate)
            self._check_unique(cls_table, candidate, "update")
            if changed or journal:  # an update that changes nothing writes nothing
                charge_writes(1)
                candidate["sys_updated_on"] = when
                candidate["sys_updated_by"] = actor.user_name
                candidate["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)
                self._index_unique(cls_table.name, row, add=False)
                self.index.remove(cls_table.name, row)
                row.update(candidate)
                self.index.add(cls_table.name, row)
                self._index_unique(cls_table.name, row, add=True)
                if cls_table.name == "sys_user":
                    self.user_version += 1
                self.persist(sys_id)
                if journal:
                    self._add_journal(row, cls_table.name, journal, actor, when)
            return row

    def delete(self, table: Table, sys_id: str) -> None:
        """Delete a record (and its attachments and journal entries)."""
        with self.lock:
            row = self.get(table, sys_id)
            if row is None:
                raise RecordNotFound(sys_id)
            cls = self.classes[sys_id]
            if table.read_only or self.schema.tables[cls].read_only:
                raise AclDenied("Delete")
            self._remove(sys_id)
            attachments = [
                a["sys_id"]
                for a in self.by_table.get("sys_attachment", {}).values()
                if a.get("table_sys_id") == sys_id
            ]
            journal = self.journal_index.pop(sys_id, [])
            for gone in attachments + journal:
                self._remove(gone)
            charge_writes(1 + len(attachments) + len(journal))

    def _remove(self, sys_id: str) -> None:
        if self.classes.get(sys_id) == "sys_user":
            self.user_version += 1
        if self._unlink(sys_id):
            self.files.pop(sys_id, None)
            self.persist(sys_id)

    def _unlink(self, sys_id: str) -> bool:
        """Take a record out of every dict and index (not the data file); say if it was there."""
        cls = self.classes.pop(sys_id, None)
        row = self.records.pop(sys_id, None)
        self.position.pop(sys_id, None)
        if cls is None or row is None:
            return False
        self._index_unique(cls, row, add=False)
        self.index.remove(cls, row)
        self.by_table[cls].pop(sys_id, None)
        if cls == "sys_journal_field":
            ids = self.journal_index.get(row.get("element_id", ""), [])
            if sys_id in ids:
                ids.remove(sys_id)
        return True

    def set_system_fields(self, sys_id: str, values: dict[str, str]) -> Row:
        """Write fields the instance itself sets (no ACL, charge or journal) and persist them."""
        with self.lock:
            row = self.records[sys_id]
            cls = self.classes[sys_id]
            self._index_unique(cls, row, add=False)
            self.index.remove(cls, row)
            row.update(values)
            self.index.add(cls, row)
            self._index_unique(cls, row, add=True)
            self.persist(sys_id)
            return row

    def save_file(self, sys_id: str, data: bytes) -> None:
        """Keep an attachment's bytes."""
        with self.lock:
            self.files[sys_id] = data
            if self.db is not None:
                self.db.save_file(sys_id, data)

    def next_import_set(self) -> str:
        """Return the next import set number (ISET0010001, ...)."""
        with self.lock:
            value = self.counters.get("sys_import_set", 10001)
            self.counters["sys_import_set"] = value + 1
            self._save_counters()
            return f"ISET{value:07d}"
