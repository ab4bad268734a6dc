"""Column statements: ADD / DROP / RENAME COLUMN and NOT NULL, with what they take along."""

from __future__ import annotations

import json
import sys

from rlslint.schema.constraints import add_constraint
from rlslint.schema.model import Column, Index, evolve
from rlslint.schema.policies import column_refs, policies_follow_column, policy_uses_column
from rlslint.schema.state import FEATURE_NOT_SUPPORTED, ReplayState, strs
from rlslint.sql.names import QName, quote_ident
from rlslint.sql.parse import Node, Statement


def add_column(stmt: Statement, state: ReplayState, qname: QName, coldef: Node, if_not_exists: bool = False) -> None:
    table = state.tables[qname]
    name = coldef["colname"]
    if table.column(name) is not None:
        if not if_not_exists and not (coldef.get("is_from_type") or not coldef.get("is_local", True)):
            state.note(stmt, f"column {name} of {qname} already exists")
        return
    type_names = strs(coldef.get("typeName", {}).get("names"))
    type_name = type_names[-1] if type_names else ""
    constraints = [c["Constraint"] for c in coldef.get("constraints", ())]
    not_null = type_name in ("serial", "bigserial", "smallserial", "serial4", "serial8", "serial2") or any(
        c["contype"] in ("CONSTR_NOTNULL", "CONSTR_PRIMARY", "CONSTR_IDENTITY") for c in constraints
    )
    column = Column(sys.intern(name), type_name, not_null, stmt.span,  # names repeat across tables
                    declared_type(coldef.get("typeName", {})))
    state.tables[qname] = evolve(table, columns=table.columns + (column,))
    for constraint in constraints:
        if constraint["contype"] in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN"):
            add_constraint(stmt, state, qname, constraint, column=name)
    for child in state.partitions_of(qname):
        add_column(stmt, state, child, coldef, if_not_exists=True)


# CREATE TABLE's shorthand for an integer column that takes its default from a new sequence.
_SERIAL = {"serial": "int4", "serial4": "int4", "bigserial": "int8", "serial8": "int8", "smallserial": "int2",
           "serial2": "int2"}


def declared_type(type_name: Node) -> str:
    """The type as PostgreSQL resolves it (``to_regtype``): its names and array bounds. Not its
    typmods, which ``to_regtype`` ignores (and could reject: a typmod is checked by the type)."""
    names = strs(type_name.get("names"))
    if not names or type_name.get("pct_type"):
        return ""
    bounds = len(type_name.get("arrayBounds", ()))
    if len(names) == 1 and names[0] in _SERIAL and not bounds:
        names = ("pg_catalog", _SERIAL[names[0]])
    return ".".join(quote_ident(n) for n in names) + "[]" * bounds


def set_type(stmt: Statement, state: ReplayState, qname: QName, cmd: Node) -> None:
    """ALTER COLUMN … TYPE, which PostgreSQL refuses for a column a policy reads."""
    name, type_name = cmd["name"], cmd["def"]["ColumnDef"].get("typeName", {})
    table = state.tables[qname]
    if table.column(name) is None:
        state.note(stmt, f"column {name} of {qname} does not exist")
        return
    if any(policy_uses_column(p, other.qname, qname, name, state.has_column)
           for other in state.tables.values() for p in other.policies):
        state.rejected(stmt, f"column {name} of {qname} is used in a policy definition: its type cannot change", FEATURE_NOT_SUPPORTED)
        return
    names = strs(type_name.get("names"))
    changed = {"type": names[-1] if names else "", "declared": declared_type(type_name)}
    state.tables[qname] = evolve(table, columns=tuple(evolve(c, **changed) if c.name == name else c for c in table.columns))
    for child in state.partitions_of(qname):
        set_type(stmt, state, child, cmd)


def drop_column(stmt: Statement, state: ReplayState, qname: QName, name: str, missing_ok: bool, cascade: bool) -> None:
    table = state.tables[qname]
    if table.column(name) is None:
        if not missing_ok:
            state.note(stmt, f"column {name} of {qname} does not exist")
        return
    # PostgreSQL drops what depends on the column: indexes and constraints using it,
    # and (with CASCADE) foreign keys pointing at it and policies reading it.
    if cascade:
        # Any table's policy can read the column from a sub-select; it goes too. Bindings
        # are worked out while the column still exists.
        for other in list(state.tables.values()):
            kept = tuple(p for p in other.policies if not policy_uses_column(p, other.qname, qname, name, state.has_column))
            kept_fks = tuple(fk for fk in other.foreign_keys if not (fk.ref_table == qname and name in fk.ref_columns))
            if len(kept) != len(other.policies) or len(kept_fks) != len(other.foreign_keys):
                state.tables[other.qname] = evolve(other, policies=kept, foreign_keys=kept_fks)
        table = state.tables[qname]
    indexes = tuple(i for i in table.indexes if name not in i.columns and name not in i.uses)
    fks = tuple(fk for fk in table.foreign_keys if name not in fk.columns)
    state.tables[qname] = evolve(
        table, columns=tuple(c for c in table.columns if c.name != name), indexes=indexes, foreign_keys=fks
    )
    for child in state.partitions_of(qname):
        drop_column(stmt, state, child, name, True, cascade)
    state.put(stmt, state.tables[qname])


def rename_column(stmt: Statement, state: ReplayState, qname: QName, old: str, new: str) -> None:
    table = state.tables[qname]
    if table.column(old) is None:
        state.note(stmt, f"column {old} of {qname} does not exist")
        return
    rename = lambda cols: tuple(new if c == old else c for c in cols)  # noqa: E731
    # PostgreSQL stores policy expressions by column number, so every policy that reads
    # the column (its own table's, or another table's through a sub-select) follows.
    policies_follow_column(state, qname, old, new)
    table = state.tables[qname]
    state.tables[qname] = evolve(
        table,
        columns=tuple(evolve(c, name=new) if c.name == old else c for c in table.columns),
        indexes=tuple(_index_renamed(i, old, new, rename) for i in table.indexes),
        foreign_keys=tuple(evolve(fk, columns=rename(fk.columns)) for fk in table.foreign_keys),
    )
    for other in list(state.tables.values()):
        if any(fk.ref_table == qname for fk in other.foreign_keys):
            fks = tuple(evolve(fk, ref_columns=rename(fk.ref_columns)) if fk.ref_table == qname else fk for fk in other.foreign_keys)
            state.tables[other.qname] = evolve(other, foreign_keys=fks)
    for child in state.partitions_of(qname):
        rename_column(stmt, state, child, old, new)
    state.put(stmt, state.tables[qname])


def set_not_null(stmt: Statement, state: ReplayState, qname: QName, name: str, value: bool) -> None:
    table = state.tables[qname]
    if table.column(name) is None:
        state.note(stmt, f"column {name} of {qname} does not exist")
        return
    state.tables[qname] = evolve(table, columns=tuple(evolve(c, not_null=value) if c.name == name else c for c in table.columns))
    for child in state.partitions_of(qname):
        set_not_null(stmt, state, child, name, value)


def _index_renamed(index: Index, old: str, new: str, rename) -> Index:
    """The index after a column rename: its key and WHERE expressions read the new name."""
    if old not in index.columns and old not in index.uses:
        return index
    expressions, predicate = index.expressions, index.predicate
    if old in index.uses:  # only then do its trees mention the column; copy them, others share them
        expressions, predicate = json.loads(json.dumps([expressions, predicate]))
        for ref in column_refs([expressions, predicate]):
            fields = ref.get("fields", ())
            if fields and fields[-1].get("String", {}).get("sval") == old:
                fields[-1] = {"String": {"sval": new}}
        expressions = tuple(expressions)
    return evolve(index, columns=rename(index.columns), uses=rename(index.uses), expressions=expressions, predicate=predicate)
