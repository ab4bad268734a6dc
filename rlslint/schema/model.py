"""The schema model: what PostgreSQL would hold after the migrations ran.

Plain frozen data. Every object remembers the statement that created it and the one
that last changed it, so a finding can point at its cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from rlslint.diagnostics import Note
from rlslint.sql.names import QName
from rlslint.sql.spans import Span

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


def evolve(obj, **changes):
    """``dataclasses.replace`` for these frozen classes, five times cheaper.

    The replay derives a new object for nearly every statement; ``replace`` re-runs
    ``__init__`` through keyword matching and was a third of the replay's time.
    """
    if not changes.keys() <= obj.__dataclass_fields__.keys():
        raise TypeError(f"{type(obj).__name__} has no field {sorted(changes.keys() - obj.__dataclass_fields__.keys())}")
    new = object.__new__(type(obj))
    fields = new.__dict__
    fields.update(obj.__dict__)
    fields.update(changes)
    return new

# pg_constraint.confdeltype codes, as pglast spells fk_del_action
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    created: Span


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: QName
    ref_columns: tuple[str, ...]
    on_delete: str  # one of ON_DELETE's keys
    clause: Span  # the REFERENCES / FOREIGN KEY clause
    created: Span  # the statement


@dataclass(frozen=True)
class Index:
    """An index as pg_index holds it; primary keys and unique constraints make one too."""

    name: str
    columns: tuple[str | None, ...]  # None: an expression column
    unique: bool
    partial: bool
    primary: bool
    constraint: bool  # backs a PRIMARY KEY / UNIQUE constraint (dropped with it)
    created: Span
    uses: tuple[str, ...] = ()  # columns its expressions and WHERE read: dropping one drops the index


@dataclass(frozen=True)
class Expr:
    """A policy expression: its JSON tree, kept current through renames, and where it was written.

    Fixes print the tree; the statement text only narrows spans (the end of a column
    reference) at the locations the tree records.
    """

    tree: Mapping[str, Any]
    statement_text: str
    clause: str  # "qual" or "with_check"
    origin: Span  # the statement that set it; statement_text starts at origin.start


@dataclass(frozen=True)
class Policy:
    name: str
    command: str  # ALL, SELECT, INSERT, UPDATE, DELETE
    permissive: bool
    roles: tuple[str, ...]  # "public" for PUBLIC
    using: Expr | None
    with_check: Expr | None
    created: Span
    changed: Span


@dataclass(frozen=True)
class Table:
    qname: QName
    kind: str  # "r" plain, "p" partitioned
    columns: tuple[Column, ...]
    rls: bool
    force_rls: bool
    policies: tuple[Policy, ...]
    indexes: tuple[Index, ...]
    foreign_keys: tuple[ForeignKey, ...]
    created: Span
    changed: Span
    rls_changed: Span | None  # the last ENABLE/DISABLE ROW LEVEL SECURITY
    partition_of: QName | None = None
    created_as: QName | None = None  # its name when created, once renamed: findings keep it as their identity

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Catalog:
    schemas: frozenset[str]
    tables: Mapping[QName, Table] = field(default_factory=lambda: MappingProxyType({}))
    notes: tuple[Note, ...] = ()
    # (path, statement start) -> the tables that CREATE TABLE / ALTER TABLE statement created
    # or altered, under their final names: what a suppression comment on it extends to.
    targets: Mapping[tuple[str, int], tuple[QName, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def table(self, qname: QName) -> Table | None:
        return self.tables.get(qname)

    def relation_names(self, schema: str) -> frozenset[str]:
        """Table and index names in a schema (one namespace in PostgreSQL), for naming fixes."""
        return self._relation_names.get(schema, frozenset())

    @cached_property
    def _relation_names(self) -> dict[str, frozenset[str]]:
        # Computed once per model: rules ask for it once per finding.
        names: dict[str, set[str]] = {}
        for table in self.tables.values():
            names.setdefault(table.qname.schema, set()).update((table.qname.name, *(i.name for i in table.indexes)))
        return {schema: frozenset(found) for schema, found in names.items()}
