"""Load the emulator's table schema from YAML and answer questions about tables and fields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SCHEMA_FILE = Path(__file__).with_name("schema.yaml")
FIELD_TYPES = {
    "string",
    "integer",
    "boolean",
    "glide_date_time",
    "reference",
    "journal",
    "choice",
    "sys_class_name",
    "glide_list",  # comma-separated sys_ids, stored and queried as text (3PA's approvers)
}
SYSTEM_FIELDS: dict[str, dict[str, Any]] = {
    "sys_id": {"type": "string", "max_length": 32, "label": "Sys ID"},
    "sys_created_on": {"type": "glide_date_time", "label": "Created"},
    "sys_created_by": {"type": "string", "max_length": 40, "label": "Created by"},
    "sys_updated_on": {"type": "glide_date_time", "label": "Updated"},
    "sys_updated_by": {"type": "string", "max_length": 40, "label": "Updated by"},
    "sys_mod_count": {"type": "integer", "label": "Updates"},
    "sys_tags": {"type": "string", "max_length": 4000, "label": "Tags"},
}
READ_ONLY_FIELDS = frozenset(SYSTEM_FIELDS) - {"sys_id", "sys_tags"} | {"sys_class_name"}


@dataclass
class Field:
    """One column: its type and the facts the API needs to store and render it."""

    name: str
    type: str
    label: str
    max_length: int = 40
    reference: str | None = None
    choices: dict[str, str] = field(default_factory=dict)
    default: str = ""
    mandatory: bool = False
    unique: bool = False  # a unique index: a second row with the same non-empty value is refused
    read_only: bool = False  # the dictionary's flag (shown in sys_dictionary; forms honour it)


@dataclass
class Table:
    """One table, with its own fields and, once linked, its ancestors' fields."""

    name: str
    label: str
    extends: str | None = None
    number_prefix: str | None = None
    display: str | None = None
    read_only: bool = False
    own_fields: dict[str, Field] = field(default_factory=dict)
    views: dict[str, list[str]] = field(default_factory=dict)
    transform: dict[str, Any] | None = None
    # filled in by Schema.link()
    fields: dict[str, Field] = field(default_factory=dict)
    ancestors: list[str] = field(default_factory=list)  # self first, then parent, ...
    unique_keys: list[tuple[str, str]] = field(default_factory=list)  # (declaring table, field)
    descendants: set[str] = field(default_factory=set)  # self included
    root: str = ""

    @property
    def field_names(self) -> list[str]:
        """Return every column name in output order."""
        return list(self.fields)


class SchemaError(ValueError):
    """Raise when a schema file cannot be used; names the file and the key."""


def _parse_field(where: str, name: str, spec: Any) -> Field:
    if not isinstance(spec, dict):
        raise SchemaError(f"{where}: field {name!r} must be a mapping, got {spec!r}")
    ftype = spec.get("type", "string")
    if ftype not in FIELD_TYPES:
        raise SchemaError(
            f"{where}: field {name!r} has unknown type {ftype!r}; "
            f"known: {', '.join(sorted(FIELD_TYPES))}"
        )
    if ftype == "reference" and not spec.get("reference"):
        raise SchemaError(f"{where}: reference field {name!r} needs `reference: <table>`")
    choices = {str(k): str(v) for k, v in (spec.get("choices") or {}).items()}
    return Field(
        name=name,
        type=ftype,
        label=str(spec.get("label") or name.replace("_", " ").capitalize()),
        max_length=int(spec.get("max_length", 32 if ftype == "reference" else 40)),
        reference=spec.get("reference"),
        choices=choices,
        default="" if spec.get("default") is None else str(spec.get("default")),
        mandatory=bool(spec.get("mandatory", False)),
        unique=bool(spec.get("unique", False)),
        read_only=bool(spec.get("read_only", False)) or name in READ_ONLY_FIELDS,
    )


class Schema:
    """Every table the emulator serves, with inheritance resolved."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}

    @classmethod
    def load(
        cls, extra_files: list[str] | None = None, tables: list[dict[str, Any]] | None = None
    ) -> Schema:
        """Load the base schema, then committed update sets' tables, then extra schema files."""
        schema = cls()
        schema.add_file(str(SCHEMA_FILE))
        for spec in tables or []:
            schema.add_tables(spec, "update set")
        for path in extra_files or []:
            schema.add_file(path)
        schema.link()
        return schema

    def add_file(self, path: str) -> None:
        """Merge one YAML schema file into this schema."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SchemaError(f"{path}: cannot read schema: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
            raise SchemaError(f"{path}: expected a mapping with a `tables` mapping at the top")
        self.add_tables(data["tables"], path)

    def add_tables(self, tables: dict[str, Any], source: str) -> None:
        """Merge table specs (the `tables` mapping of a schema file) into this schema."""
        for name, spec in tables.items():
            where = f"{source}: tables.{name}"
            if not isinstance(spec, dict):
                raise SchemaError(f"{where}: expected a mapping")
            table = self.tables.get(name) or Table(name=name, label=name)
            table.label = str(spec.get("label", table.label))
            for key in ("extends", "number_prefix", "display"):
                if key in spec:
                    setattr(table, key, spec[key])
            table.read_only = bool(spec.get("read_only", table.read_only))
            table.views.update(spec.get("views") or {})
            if "transform" in spec:
                table.transform = spec["transform"]
            for fname, fspec in (spec.get("fields") or {}).items():
                table.own_fields[fname] = _parse_field(where, fname, fspec)
            self.tables[name] = table

    def link(self) -> None:
        """Resolve inheritance: ancestors, descendants and the full field list per table."""
        for table in self.tables.values():
            chain: list[str] = []
            current: str | None = table.name
            while current:
                if current in chain:
                    raise SchemaError(f"tables.{table.name}: inheritance loop through {current}")
                if current not in self.tables:
                    raise SchemaError(f"tables.{chain[-1]}: extends unknown table {current!r}")
                chain.append(current)
                current = self.tables[current].extends
            table.ancestors = chain
            table.root = chain[-1]
        for table in self.tables.values():
            table.descendants = {t.name for t in self.tables.values() if table.name in t.ancestors}
            merged: dict[str, Field] = {}
            for name, spec in SYSTEM_FIELDS.items():
                merged[name] = _parse_field("system", name, spec)
            table.unique_keys = []
            for ancestor in reversed(table.ancestors):
                own = self.tables[ancestor].own_fields
                merged.update(own)
                table.unique_keys += [(ancestor, n) for n, f in own.items() if f.unique]
            table.fields = merged
            if table.display is None:
                for candidate in ("number", "name", "u_number", "u_name"):
                    if candidate in merged:
                        table.display = candidate
                        break
            for f in merged.values():
                if f.reference and f.reference not in self.tables:
                    raise SchemaError(
                        f"tables.{table.name}.fields.{f.name}: "
                        f"references unknown table {f.reference!r}"
                    )
            if table.transform:
                target = table.transform.get("target")
                if target not in self.tables:
                    raise SchemaError(f"tables.{table.name}.transform: unknown target {target!r}")

    def get(self, name: str) -> Table | None:
        """Return the table or None."""
        return self.tables.get(name)

    def catalogue_rows(self) -> dict[str, list[dict[str, str]]]:
        """Derive sys_db_object, sys_dictionary and sys_choice rows from the schema itself."""
        objects: list[dict[str, str]] = []
        entries: list[dict[str, str]] = []
        choices: list[dict[str, str]] = []
        for table in self.tables.values():
            objects.append(
                {
                    "sys_id": stable_id("sys_db_object", table.name),
                    "name": table.name,
                    "label": table.label,
                    "super_class": stable_id("sys_db_object", table.extends)
                    if table.extends
                    else "",
                    "is_extendable": "true" if len(table.descendants) > 1 else "false",
                    "number_ref": table.number_prefix or "",
                }
            )
            own = dict(table.own_fields)
            if table.extends is None:
                own = {n: _parse_field("system", n, s) for n, s in SYSTEM_FIELDS.items()} | own
            for f in own.values():
                entries.append(
                    {
                        "sys_id": stable_id("sys_dictionary", f"{table.name}.{f.name}"),
                        "name": table.name,
                        "element": f.name,
                        "column_label": f.label,
                        "internal_type": f.type,
                        "max_length": str(f.max_length),
                        "reference": f.reference or "",
                        "mandatory": "true" if f.mandatory else "false",
                        "read_only": "true" if f.read_only else "false",
                        "unique": "true" if f.unique else "false",
                        "display": "true" if f.name == table.display else "false",
                        "choice": "1" if f.choices else "0",
                        "default_value": f.default,
                    }
                )
                for order, (value, label) in enumerate(f.choices.items()):
                    choices.append(
                        {
                            "sys_id": stable_id("sys_choice", f"{table.name}.{f.name}.{value}"),
                            "name": table.name,
                            "element": f.name,
                            "value": value,
                            "label": label,
                            "sequence": str(order),
                            "language": "en",
                            "inactive": "false",
                        }
                    )
        return {"sys_db_object": objects, "sys_dictionary": entries, "sys_choice": choices}


def stable_id(kind: str, key: str) -> str:
    """Return a deterministic 32-hex sys_id for a derived record."""
    return hashlib.md5(f"{kind}:{key}".encode()).hexdigest()
