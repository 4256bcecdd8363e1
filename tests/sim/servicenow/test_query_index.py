"""The store's query indexes give exactly what a scan gives, whatever writes came before.

A stateful property test: random inserts, updates (through the record's table and through its
parent), deletes, update-set commits, system writes, catalogue reloads and reopenings from the
data file, each followed by random ``=`` / ``IN`` / mixed queries whose answer must equal a scan
of every row, row for row and in order, and whose index candidates must hold every matching row.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from connector.sim.servicenow.query import parse, sort_rows
from connector.sim.servicenow.records import Actor
from connector.sim.servicenow.schema import Schema
from connector.sim.servicenow.store import Store

SCHEMA = Schema.load([], [])
ACTOR = Actor("6816f79cc0a8016401c5a33be04be441", "admin", "System Administrator")
VALUES = ["a", "b", "c", "d", "e", "f", ""]  # few values, so rows share them (and "" is one)
FIELDS = {
    "incident": ["short_description", "subcategory", "correlation_id", "category"],
    "sc_req_item": ["short_description", "stage", "correlation_id"],
}
QUERY_FIELDS = {
    "incident": [*FIELDS["incident"], "number", "active"],
    "task": ["short_description", "correlation_id", "sys_class_name"],
    "sc_req_item": FIELDS["sc_req_item"],
    "sys_journal_field": ["element", "element_id", "name", "value"],
}
GHOST = "f" * 32  # a sys_id no record has

classes = st.sampled_from(sorted(FIELDS))
values = st.sampled_from(VALUES)
picks = st.integers(min_value=0, max_value=10**6)  # which record, modulo how many there are


@st.composite
def writes(draw: st.DrawFn, cls: str) -> dict[str, str]:
    """Draw values for some of a class's fields, sometimes with a work note."""
    out = draw(st.dictionaries(st.sampled_from(FIELDS[cls]), values, max_size=3))
    if draw(st.booleans()):
        out["work_notes"] = draw(st.sampled_from(["note a", "note b"]))
    return out


class IndexedStore(RuleBasedStateMachine):
    """Drive a store (with a data file) through random writes and compare queries to scans."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="sn-index-"))
        self.store = Store(SCHEMA, str(self.tmp / "data.sqlite3"))

    def teardown(self) -> None:
        """Close the data file and remove it."""
        self.store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @initialize()
    def fill(self) -> None:
        """Add rows with values of their own, so the drawn values pick out few rows."""
        for n in range(30):
            cls = "incident" if n % 3 else "sc_req_item"
            row = {"short_description": f"filler {n}", "correlation_id": f"c{n}"}
            if n % 4 == 0:
                row["work_notes"] = f"filler note {n}"
            self.store.insert(SCHEMA.tables[cls], row, ACTOR)

    def _ids(self, cls: str | None = None) -> list[str]:
        wanted = SCHEMA.tables[cls].descendants if cls else set(FIELDS)
        return [s for s, c in self.store.classes.items() if c in wanted]  # insertion order

    def _pick(self, n: int, cls: str | None = None) -> str | None:
        ids = self._ids(cls)
        return ids[n % len(ids)] if ids else None

    @rule(cls=classes, data=st.data())
    def insert(self, cls: str, data: st.DataObject) -> None:
        """Insert a record."""
        self.store.insert(SCHEMA.tables[cls], data.draw(writes(cls)), ACTOR)

    @rule(n=picks, via_parent=st.booleans(), data=st.data())
    def update(self, n: int, via_parent: bool, data: st.DataObject) -> None:
        """Update a record through its own table or through task."""
        sys_id = self._pick(n)
        if sys_id is None:
            return
        cls = self.store.classes[sys_id]
        table = SCHEMA.tables["task" if via_parent else cls]
        self.store.update(table, sys_id, data.draw(writes(cls)), ACTOR)

    @rule(n=picks, via_parent=st.booleans())
    def delete(self, n: int, via_parent: bool) -> None:
        """Delete a record (and its journal entries)."""
        sys_id = self._pick(n)
        if sys_id is not None:
            cls = self.store.classes[sys_id]
            self.store.delete(SCHEMA.tables["task" if via_parent else cls], sys_id)

    @rule(n=picks, cls=classes, existing=st.booleans(), data=st.data())
    def commit(self, n: int, cls: str, existing: bool, data: st.DataObject) -> None:
        """Commit a record from an update set, replacing one (maybe of another class) or not."""
        row = {k: v for k, v in data.draw(writes(cls)).items() if k != "work_notes"}
        sys_id = self._pick(n) if existing else None
        if sys_id is not None:
            row["sys_id"] = sys_id
        self.store.commit_records(cls, [row])

    @rule(n=picks, data=st.data())
    def system_write(self, n: int, data: st.DataObject) -> None:
        """Set fields the way the Import Set API sets a staging row's outcome."""
        sys_id = self._pick(n)
        if sys_id is not None:
            cls = self.store.classes[sys_id]
            changes = data.draw(st.dictionaries(st.sampled_from(FIELDS[cls]), values, min_size=1))
            self.store.set_system_fields(sys_id, changes)

    @rule()
    def reload_catalogue(self) -> None:
        """Store the schema's catalogue records again, as committing an update set does."""
        self.store.add_tables()

    @rule()
    def reset(self) -> None:
        """Load the seed again; committed records come back (one may share a seed sys_id)."""
        self.store.reset()

    @precondition(lambda self: self.store.db is not None)
    @rule()
    def reopen(self) -> None:
        """Start again from the data file (update-set records are not kept there)."""
        self.store.close()
        self.store = Store(SCHEMA, str(self.tmp / "data.sqlite3"))

    @rule(
        table=st.sampled_from(sorted(QUERY_FIELDS)),
        data=st.data(),
        order=st.sampled_from(["", "^ORDERBYshort_description", "^ORDERBYDESCsys_created_on"]),
    )
    def query(self, table: str, data: st.DataObject, order: str) -> None:
        """A random query answers exactly what a scan answers, in the same order."""
        fields = QUERY_FIELDS[table]
        ids = self._ids() + [GHOST]
        journal = list(self.store.by_table["sys_journal_field"])
        term = st.one_of(
            st.tuples(st.sampled_from(fields), st.just("="), values),
            st.tuples(st.sampled_from(fields), st.just("IN"), st.lists(values, min_size=1)),
            st.tuples(st.just("sys_id"), st.just("="), st.sampled_from(ids + journal)),
            st.tuples(st.just("sys_id"), st.just("IN"), st.lists(st.sampled_from(ids), max_size=4)),
            st.tuples(st.just("element_id"), st.just("IN"), st.lists(st.sampled_from(ids))),
            st.tuples(st.sampled_from(fields), st.sampled_from(["!=", "STARTSWITH"]), values),
            st.tuples(st.just("caller_id.name"), st.just("="), values),  # dot-walked: a scan
        )
        terms = data.draw(st.lists(term, min_size=1, max_size=3))
        joins = data.draw(st.lists(st.sampled_from(["^", "^OR", "^NQ"]), min_size=len(terms)))
        text = ""
        for (name, op, value), join in zip(terms, joins, strict=False):
            rhs = ",".join(value) if isinstance(value, list) else value
            text += ("" if not text else join) + f"{name}{op}{rhs}"
        text += order
        self.check(table, text)

    @invariant()
    def lookups_the_connector_makes(self) -> None:
        """The connector's own look-ups (by id lists and by journal entry) match a scan."""
        ids = self._ids()[:: max(1, len(self._ids()) // 5)] + [GHOST]
        for value in VALUES[:3]:
            self.check("incident", f"short_descriptionIN{value},zz^active=true")
        self.check("task", f"sys_idIN{','.join(ids)}")
        self.check("sys_journal_field", f"element_idIN{','.join(ids)}^element=work_notes")

    def check(self, table_name: str, text: str) -> None:
        """Assert the store's answer to a query is the scan's, and candidates miss no row."""
        table = SCHEMA.tables[table_name]
        query = parse(text, table, SCHEMA, ACTOR.sys_id)
        got = [r["sys_id"] for r in self.store.select(table, query)]
        scanned = [
            r for r in self.store.iter_rows(table) if query.matches(r, self.store.records.get)
        ]
        if query.order:
            sort_rows(scanned, query.order, table)
        assert got == [r["sys_id"] for r in scanned], text
        found = self.store.candidates(table, query)
        if found is not None:
            assert {r["sys_id"] for r in scanned} <= found, text


IndexedStore.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestIndexedStore = IndexedStore.TestCase


def test_connector_lookups_are_answered_by_an_index() -> None:
    """The look-ups the connector makes on big tables use an index, not a scan."""
    store = Store(SCHEMA)
    incident = SCHEMA.tables["incident"]
    rows = [store.insert(incident, {"correlation_id": f"k{n}"}, ACTOR) for n in range(200)]
    for row in rows[:50]:
        store.update(incident, row["sys_id"], {"work_notes": "a note"}, ACTOR)
    journal = SCHEMA.tables["sys_journal_field"]
    ids = ",".join(r["sys_id"] for r in rows[10:35])
    for table, text, expected in [
        (incident, "correlation_idINk3,k7,k199,nope", 3),
        (SCHEMA.tables["task"], f"sys_idIN{ids}", 25),
        (journal, f"element_idIN{ids}^element=work_notes", 25),
        (incident, "correlation_id=k5^ORcorrelation_id=k6^active=true", 2),
    ]:
        query = parse(text, table, SCHEMA)
        found = store.candidates(table, query)
        assert found is not None and len(found) <= expected + 1, text
        assert len(store.select(table, query)) == expected, text
