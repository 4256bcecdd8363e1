"""Per-table, per-field value indexes that answer ``=`` and ``IN`` terms without a scan.

The connector looks records up by ``u_lsidIN<25 ids>``, ``sys_idIN...`` or
``element_idIN...^element=work_notes`` on tables of tens of thousands of rows; a scan per look-up
made the emulator's CPU grow with the table. An index here only narrows the rows a query looks
at: the store still checks every candidate against the whole query and returns them in the order
a scan would, so an index can make a query cheaper but never change its answer, as long as it
never misses a row. That is why every write path of the store keeps it current (``add`` before a
row becomes visible, ``remove`` before it changes or goes), and why an index is built only when a
query first asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connector.sim.servicenow.query import Key

Row = dict[str, str]
# value -> sys_ids of the rows of one table (class) holding it in one field
Buckets = dict[str, set[str]]


class FieldIndex:
    """Value indexes over the rows of each table (by the table a record really belongs to)."""

    def __init__(self) -> None:
        self._built: dict[str, dict[str, Buckets]] = {}  # class -> field -> value -> sys_ids

    def clear(self) -> None:
        """Forget every index (they are built again on demand)."""
        self._built.clear()

    def add(self, cls: str, row: Row) -> None:
        """Index a row that has just been stored (or changed) in table ``cls``."""
        fields = self._built.get(cls)
        if fields:
            sys_id = row["sys_id"]
            for name, buckets in fields.items():
                value = row.get(name, "")
                ids = buckets.get(value)
                if ids is None:
                    buckets[value] = {sys_id}
                else:
                    ids.add(sys_id)

    def remove(self, cls: str, row: Row) -> None:
        """Unindex a row about to change or disappear, with the values it holds now."""
        fields = self._built.get(cls)
        if fields:
            sys_id = row["sys_id"]
            for name, buckets in fields.items():
                value = row.get(name, "")
                ids = buckets.get(value)
                if ids is not None:
                    ids.discard(sys_id)
                    if not ids:
                        del buckets[value]

    def buckets(self, cls: str, name: str, rows: Iterable[Row]) -> Buckets:
        """Return a field's index for one table, building it from the table's rows if new."""
        fields = self._built.setdefault(cls, {})
        found = fields.get(name)
        if found is None:
            found = fields[name] = {}
            for row in rows:
                value = row.get(name, "")
                ids = found.get(value)
                if ids is None:
                    found[value] = {row["sys_id"]}
                else:
                    ids.add(row["sys_id"])
        return found


def narrow(
    index: FieldIndex,
    clauses: list[list[Key] | None],
    classes: set[str],
    rows_of: Callable[[str], dict[str, Row]],
    class_of: Callable[[str], str | None],
) -> set[str] | None:
    """Return the sys_ids that can satisfy a group of AND'ed clauses, or None to scan instead.

    Each clause given as keys is an OR of ``field IN values`` terms: a row satisfies it only if
    it holds one of the values, so the union of those buckets holds every row that can match the
    whole group. The smallest such union is chosen; when even that is more than half the rows a
    scan is as cheap, and None says so. ``sys_id`` terms need no index: the records dict is one.
    """
    total = sum(len(rows_of(cls)) for cls in classes)
    best: list[tuple[str, Buckets | None, frozenset[str]]] | None = None
    best_size = total // 2 + 1
    for keys in clauses:
        if keys is None:
            continue
        size = 0
        plan: list[tuple[str, Buckets | None, frozenset[str]]] = []
        for name, values in keys:
            if name == "sys_id":
                plan.append((name, None, values))
                size += len(values)
                continue
            for cls in classes:
                buckets = index.buckets(cls, name, rows_of(cls).values())
                plan.append((name, buckets, values))
                size += sum(len(buckets.get(v, ())) for v in values)
            if size >= best_size:
                break
        if size < best_size:
            best, best_size = plan, size
    if best is None:
        return None
    found: set[str] = set()
    for _name, table_buckets, values in best:
        if table_buckets is None:
            found.update(values)
            continue
        for value in values:
            ids = table_buckets.get(value)
            if ids:
                found |= ids
    # Only records that exist and belong to the table: a stale entry can cost a look, no more.
    return {sys_id for sys_id in found if class_of(sys_id) in classes}
