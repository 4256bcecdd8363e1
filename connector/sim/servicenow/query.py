"""Parse and evaluate ServiceNow encoded queries (``sysparm_query``) against stored rows.

Grammar: terms joined by ``^`` (AND); ``^OR`` ORs a term with the one before (binding tighter
than AND); ``^NQ`` starts a new OR'ed group; ``ORDERBY``/``ORDERBYDESC`` anywhere. A term naming
an unknown field or using an operator we do not implement is dropped, as a real instance drops
invalid terms (unless ``glide.invalid_query.returns_no_rows`` is emulated by the caller).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.sim.servicenow.schema import Schema, Table

Row = dict[str, str]
Lookup = Callable[[str], Row | None]
Predicate = Callable[[Row, Lookup], bool]
# A term an index can answer: a plain field and the values it must equal (``=`` and ``IN``).
Key = tuple[str, frozenset[str]]

OPERATORS = (
    "DOES NOT CONTAIN",
    "NOT LIKE",
    "NOT IN",
    "ISNOTEMPTY",
    "ISEMPTY",
    "EMPTYSTRING",
    "ANYTHING",
    "STARTSWITH",
    "ENDSWITH",
    "CONTAINS",
    "NSAMEAS",
    "SAMEAS",
    "BETWEEN",
    "NOTON",
    "LIKE",
    "ON",
    "IN",
    "!=",
    "<=",
    ">=",
    "=",
    "<",
    ">",
)
_TERM = re.compile(
    r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)("
    + "|".join(re.escape(op) for op in OPERATORS)
    + r")(.*)$",
    re.DOTALL,
)
_TS = "%Y-%m-%d %H:%M:%S"


class Unevaluable(ValueError):
    """Raise when a javascript: value is outside the whitelist."""


@dataclass
class Query:
    """A parsed encoded query: OR'ed groups of AND'ed OR-clauses, plus sort keys."""

    groups: list[list[list[Predicate]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    dropped: list[str] = field(default_factory=list)  # terms ignored as invalid
    # Parallel to groups: per clause, the keys of its OR'ed terms, or None when one of them is
    # not an equality on a plain field (then only a scan can answer the clause).
    keys: list[list[list[Key] | None]] = field(default_factory=list)

    def matches(self, row: Row, lookup: Lookup) -> bool:
        """Say whether the row satisfies the query."""
        if not self.groups:
            return True
        for group in self.groups:
            if all(any(p(row, lookup) for p in clause) for clause in group):
                return True
        return False


def now_utc() -> dt.datetime:
    """Return the current UTC time without microseconds."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


def _day_start(d: dt.datetime) -> dt.datetime:
    return d.replace(hour=0, minute=0, second=0)


def _day_end(d: dt.datetime) -> dt.datetime:
    return d.replace(hour=23, minute=59, second=59)


def _month_start(d: dt.datetime) -> dt.datetime:
    return _day_start(d.replace(day=1))


def _month_end(d: dt.datetime) -> dt.datetime:
    nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return _day_end(nxt - dt.timedelta(days=1))


def _int_arg(args: list[str], default: int = 0) -> int:
    return int(args[0]) if args and args[0] != "" else default


def evaluate_js(expr: str, user_id: str) -> str:
    """Evaluate a whitelisted ``javascript:gs.*`` value; never execute anything else."""
    m = re.fullmatch(r"\s*(?:javascript:)?\s*gs\.(\w+)\((.*)\)\s*;?\s*", expr, re.DOTALL)
    if not m:
        raise Unevaluable(expr)
    name, raw_args = m.group(1), m.group(2).strip()
    args = [a.strip().strip("'\"") for a in raw_args.split(",")] if raw_args else []
    now = now_utc()
    today = _day_start(now)
    week_start = today - dt.timedelta(days=today.weekday())
    q_month = ((now.month - 1) // 3) * 3 + 1
    handlers: dict[str, Callable[[], dt.datetime | str]] = {
        "getUserID": lambda: user_id,
        "now": lambda: now,
        "nowDateTime": lambda: now,
        "daysAgo": lambda: now - dt.timedelta(days=_int_arg(args)),
        "daysAgoStart": lambda: today - dt.timedelta(days=_int_arg(args)),
        "daysAgoEnd": lambda: _day_end(today - dt.timedelta(days=_int_arg(args))),
        "minutesAgo": lambda: now - dt.timedelta(minutes=_int_arg(args)),
        "minutesAgoStart": lambda: (now - dt.timedelta(minutes=_int_arg(args))).replace(second=0),
        "minutesAgoEnd": lambda: (now - dt.timedelta(minutes=_int_arg(args))).replace(second=59),
        "hoursAgo": lambda: now - dt.timedelta(hours=_int_arg(args)),
        "hoursAgoStart": lambda: (now - dt.timedelta(hours=_int_arg(args))).replace(
            minute=0, second=0
        ),
        "hoursAgoEnd": lambda: (now - dt.timedelta(hours=_int_arg(args))).replace(
            minute=59, second=59
        ),
        "beginningOfToday": lambda: today,
        "endOfToday": lambda: _day_end(now),
        "beginningOfYesterday": lambda: today - dt.timedelta(days=1),
        "endOfYesterday": lambda: _day_end(today - dt.timedelta(days=1)),
        "beginningOfTomorrow": lambda: today + dt.timedelta(days=1),
        "endOfTomorrow": lambda: _day_end(today + dt.timedelta(days=1)),
        "beginningOfLast7Days": lambda: today - dt.timedelta(days=7),
        "beginningOfLast30Days": lambda: today - dt.timedelta(days=30),
        "beginningOfLast90Days": lambda: today - dt.timedelta(days=90),
        "beginningOfThisWeek": lambda: week_start,
        "endOfThisWeek": lambda: _day_end(week_start + dt.timedelta(days=6)),
        "beginningOfLastWeek": lambda: week_start - dt.timedelta(days=7),
        "endOfLastWeek": lambda: _day_end(week_start - dt.timedelta(days=1)),
        "beginningOfThisMonth": lambda: _month_start(now),
        "endOfThisMonth": lambda: _month_end(now),
        "beginningOfLastMonth": lambda: _month_start(_month_start(now) - dt.timedelta(days=1)),
        "endOfLastMonth": lambda: _month_end(_month_start(now) - dt.timedelta(days=1)),
        "beginningOfThisQuarter": lambda: _month_start(now.replace(month=q_month, day=1)),
        "beginningOfThisYear": lambda: _day_start(now.replace(month=1, day=1)),
        "endOfThisYear": lambda: _day_end(now.replace(month=12, day=31)),
        "beginningOfLastYear": lambda: _day_start(now.replace(year=now.year - 1, month=1, day=1)),
        "endOfLastYear": lambda: _day_end(now.replace(year=now.year - 1, month=12, day=31)),
    }
    if name == "dateGenerate":
        text = " ".join(a for a in args if a)
        if len(args) == 2 and args[1] in ("start", "end"):
            text = args[0] + (" 00:00:00" if args[1] == "start" else " 23:59:59")
        for fmt in (_TS, "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(text, fmt).strftime(_TS)
            except ValueError:
                continue
        raise Unevaluable(expr)
    if name not in handlers:
        raise Unevaluable(expr)
    try:
        value = handlers[name]()
    except (ValueError, IndexError) as exc:
        raise Unevaluable(expr) from exc
    return value if isinstance(value, str) else value.strftime(_TS)


def _resolve_value(value: str, user_id: str) -> str:
    if value.startswith("javascript:"):
        return evaluate_js(value, user_id)
    return value


def _num(a: str) -> float | None:
    try:
        return float(a)
    except ValueError:
        return None


def _cmp(a: str, b: str) -> int:
    """Compare numerically when both sides are numbers, else as strings."""
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    return (a > b) - (a < b)


def _getter(schema: Schema, table: Table, path: str) -> Callable[[Row, Lookup], str] | None:
    """Build a value getter for a field or a dot-walked path; None if the path is unknown."""
    parts = path.split(".")
    current = table
    steps: list[str] = []
    for i, part in enumerate(parts):
        f = current.fields.get(part)
        if f is None:
            return None
        steps.append(part)
        if i < len(parts) - 1:
            if f.type != "reference" or not f.reference:
                return None
            current = schema.tables[f.reference]
    if len(steps) == 1:
        name = steps[0]
        return lambda row, lookup: row.get(name, "")

    def walk(row: Row, lookup: Lookup) -> str:
        value: Row | None = row
        for step in steps[:-1]:
            ref = value.get(step, "") if value else ""
            value = lookup(ref) if ref else None
            if value is None:
                return ""
        return value.get(steps[-1], "") if value is not None else ""

    return walk


def _predicate(
    op: str, get: Callable[[Row, Lookup], str], raw: str, ctx: dict[str, Any]
) -> tuple[Predicate, frozenset[str] | None]:
    """Compile one operator into a predicate, with the values it must equal for = and IN."""
    user_id = ctx["user_id"]
    if op in ("=", "IN"):
        # Resolved once for both: a javascript: value read twice could straddle a second.
        if op == "=":
            value = _resolve_value(raw, user_id)
            return (lambda r, lk: get(r, lk) == value), frozenset((value,))
        values = frozenset(_resolve_value(v, user_id) for v in raw.split(","))
        return (lambda r, lk: get(r, lk) in values), values
    return _other_predicate(op, get, raw, ctx), None


def _other_predicate(
    op: str, get: Callable[[Row, Lookup], str], raw: str, ctx: dict[str, Any]
) -> Predicate:
    """Compile an operator other than = and IN into a predicate."""
    user_id = ctx["user_id"]
    if op in ("ISEMPTY", "EMPTYSTRING"):
        return lambda r, lk: get(r, lk) == ""
    if op == "ISNOTEMPTY":
        return lambda r, lk: get(r, lk) != ""
    if op == "ANYTHING":
        return lambda r, lk: True
    if op in ("SAMEAS", "NSAMEAS"):
        other = _getter(ctx["schema"], ctx["table"], raw)
        if other is None:
            raise KeyError(raw)
        same = op == "SAMEAS"
        return lambda r, lk: (get(r, lk) == other(r, lk)) is same
    if op == "NOT IN":
        values = {_resolve_value(v, user_id) for v in raw.split(",")}
        return lambda r, lk: get(r, lk) not in values
    if op in ("BETWEEN", "ON", "NOTON"):
        parts = raw.split("@")
        if op == "BETWEEN":
            if len(parts) != 2:
                raise Unevaluable(raw)
            low, high = (_resolve_value(p, user_id) for p in parts)
        else:
            if len(parts) != 3:
                raise Unevaluable(raw)
            low, high = (_resolve_value(p, user_id) for p in parts[1:])
        within = op != "NOTON"

        def between(r: Row, lk: Lookup) -> bool:
            v = get(r, lk)
            return v != "" and (_cmp(v, low) >= 0 and _cmp(v, high) <= 0) is within

        return between
    value = _resolve_value(raw, user_id)
    low_value = value.lower()
    simple: dict[str, Predicate] = {
        "!=": lambda r, lk: get(r, lk) != value,
        "LIKE": lambda r, lk: low_value in get(r, lk).lower(),
        "CONTAINS": lambda r, lk: low_value in get(r, lk).lower(),
        "NOT LIKE": lambda r, lk: low_value not in get(r, lk).lower(),
        "DOES NOT CONTAIN": lambda r, lk: low_value not in get(r, lk).lower(),
        "STARTSWITH": lambda r, lk: get(r, lk).lower().startswith(low_value),
        "ENDSWITH": lambda r, lk: get(r, lk).lower().endswith(low_value),
        "<": lambda r, lk: (v := get(r, lk)) != "" and _cmp(v, value) < 0,
        "<=": lambda r, lk: (v := get(r, lk)) != "" and _cmp(v, value) <= 0,
        ">": lambda r, lk: (v := get(r, lk)) != "" and _cmp(v, value) > 0,
        ">=": lambda r, lk: (v := get(r, lk)) != "" and _cmp(v, value) >= 0,
    }
    return simple[op]


def _never(row: Row, lookup: Lookup) -> bool:
    return False


def parse(text: str, table: Table, schema: Schema, user_id: str = "") -> Query:
    """Parse an encoded query for a table, dropping terms a real instance would ignore."""
    query = Query()
    if not text:
        return query
    ctx = {"schema": schema, "table": table, "user_id": user_id}
    group: list[list[Predicate]] = []
    group_keys: list[list[Key] | None] = []
    for term in text.split("^"):
        if term == "" or term == "EQ":
            continue
        if term.startswith("ORDERBYDESC") or term.startswith("ORDERBY"):
            desc = term.startswith("ORDERBYDESC")
            name = term[len("ORDERBYDESC") :] if desc else term[len("ORDERBY") :]
            if name in table.fields:
                query.order.append((name, desc))
            else:
                query.dropped.append(term)
            continue
        or_term = False
        if term.startswith("NQ"):
            if group:
                query.groups.append(group)
                query.keys.append(group_keys)
            group, group_keys = [], []
            term = term[2:]
        elif term.startswith("OR"):
            # Columns are lower-case, so an upper-case OR prefix is the operator.
            or_term = True
            term = term[2:]
        m = _TERM.match(term)
        predicate: Predicate | None = None
        key: Key | None = None
        if m:
            path, op, raw = m.groups()
            get = _getter(schema, table, path)
            if get is not None:
                try:
                    predicate, values = _predicate(op, get, raw, ctx)
                    if values is not None and "." not in path:
                        key = (path, values)
                except Unevaluable:
                    predicate = _never  # an unevaluable javascript: value is false, not an error
                except KeyError:
                    predicate = None
        if predicate is None:
            query.dropped.append(term)
            continue
        if or_term and group:
            group[-1].append(predicate)
            clause_keys = group_keys[-1]
            group_keys[-1] = None if clause_keys is None or key is None else [*clause_keys, key]
        else:
            group.append([predicate])
            group_keys.append(None if key is None else [key])
    if group:
        query.groups.append(group)
        query.keys.append(group_keys)
    return query


def sort_rows(rows: list[Row], order: list[tuple[str, bool]], table: Table) -> list[Row]:
    """Sort rows by the ORDERBY keys, the first key being primary."""
    for name, desc in reversed(order):
        f = table.fields[name]
        if f.type == "integer":

            def key(r: Row, n: str = name) -> tuple[int, float]:
                v = _num(r.get(n, ""))
                return (0, 0.0) if v is None else (1, v)

            rows.sort(key=key, reverse=desc)
        else:

            def text(r: Row, n: str = name) -> str:
                return r.get(n, "")

            rows.sort(key=text, reverse=desc)
    return rows
