"""Keys, foreign keys and indexes: how they are added, named, dropped and renamed."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from rlslint.schema.model import ForeignKey, Index, evolve
from rlslint.schema.naming import choose_name, column_part
from rlslint.schema.policies import column_refs
from rlslint.schema.state import DUPLICATE_OBJECT, DUPLICATE_TABLE, PLATFORM_PRIMARY_KEYS, UNDEFINED_COLUMN, ReplayState, clause, strs
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, Statement


def add_constraint(stmt: Statement, state: ReplayState, qname: QName, constraint: Node, column: str | None = None) -> None:
    contype = constraint["contype"]
    if contype == "CONSTR_FOREIGN":
        add_foreign_key(stmt, state, qname, constraint, column)
    elif contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
        add_key(stmt, state, qname, constraint, column)
    elif contype == "CONSTR_EXCLUSION":
        columns = []
        for pair in constraint.get("exclusions", ()):
            elem = pair["List"]["items"][0].get("IndexElem", {})
            columns.append(elem.get("name"))
        partial = bool(constraint.get("where_clause"))
        add_index(stmt, state, qname, constraint.get("conname"), tuple(columns), False, partial, False, True, "excl")


def missing_in_constraint(state: ReplayState, constraint: Node, has: Callable[[str], bool]) -> str | None:
    """The first column ``constraint`` names that the model knows does not exist, which makes
    PostgreSQL refuse the whole statement: a key's or exclusion's column, a foreign key's own
    column (``has``: whether the constrained table has it, as the statement leaves it) or
    its referenced one."""
    contype = constraint["contype"]
    own: tuple[str, ...] = ()
    if contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE") and not constraint.get("indexname"):
        own = strs(constraint.get("keys")) + strs(constraint.get("including"))
    elif contype == "CONSTR_EXCLUSION":
        own = tuple(p["List"]["items"][0].get("IndexElem", {}).get("name") or "" for p in constraint.get("exclusions", ()))
    elif contype == "CONSTR_FOREIGN":
        own = strs(constraint.get("fk_attrs"))
        pktable = constraint["pktable"]
        ref = state.lookup(pktable.get("schemaname"), pktable["relname"])
        missing = state.missing_column(ref, strs(constraint.get("pk_attrs"))) if ref is not None else None
        if missing is not None:
            return missing
    return next((c for c in own if c and not has(c)), None)


def add_key(stmt: Statement, state: ReplayState, qname: QName, constraint: Node, column: str | None) -> None:
    primary = constraint["contype"] == "CONSTR_PRIMARY"
    table = state.tables[qname]
    if constraint.get("indexname"):  # ADD CONSTRAINT … USING INDEX adopts an existing index
        found = next((i for i in table.indexes if i.name == constraint["indexname"]), None)
        if found is None:
            state.note(stmt, f"index {constraint['indexname']} does not exist")
            return
        indexes = tuple(i for i in table.indexes if i is not found)
        name = constraint.get("conname") or found.name
        state.tables[qname] = evolve(table, indexes=indexes + (evolve(found, name=name, unique=True, primary=primary, constraint=True),))
        if primary:
            mark_not_null(stmt, state, qname, [c for c in found.columns if c])
        return
    columns = (column,) if column else strs(constraint.get("keys"))
    if primary:
        mark_not_null(stmt, state, qname, columns)
        if any(i.primary for i in table.indexes):
            state.note(stmt, f"{qname} already has a primary key")
            return
    add_index(stmt, state, qname, constraint.get("conname"), columns, True, False, primary, True, "pkey" if primary else "key")


def mark_not_null(stmt: Statement, state: ReplayState, qname: QName, columns: Iterable[str]) -> None:
    wanted = set(columns)
    table = state.tables[qname]
    if all(c.not_null for c in table.columns if c.name in wanted):
        return  # a key's columns are NOT NULL already where they were declared
    state.tables[qname] = evolve(table, columns=tuple(evolve(c, not_null=True) if c.name in wanted else c for c in table.columns))


def add_foreign_key(stmt: Statement, state: ReplayState, qname: QName, constraint: Node, column: str | None) -> None:
    table = state.tables[qname]
    columns = (column,) if column else strs(constraint.get("fk_attrs"))
    pktable = constraint["pktable"]
    state.access.saw_schema(pktable.get("schemaname"))
    ref = state.lookup(pktable.get("schemaname"), pktable["relname"])
    if ref is None:
        schema = pktable.get("schemaname") or next((s for s in state.search_path if state.is_platform(s) or s in state.schemas), "public")
        ref = QName(schema, pktable["relname"])
        if not state.is_platform(ref.schema):
            state.note(stmt, f"referenced table {ref} is not created by these migrations")
    ref_columns = strs(constraint.get("pk_attrs"))
    if not ref_columns and ref in state.tables:
        ref_columns = tuple(c for i in state.tables[ref].indexes if i.primary for c in i.columns if c)
    elif not ref_columns:
        ref_columns = PLATFORM_PRIMARY_KEYS.get(ref, ())
    if constraint.get("conname") and constraint["conname"] in {fk.name for fk in table.foreign_keys}:
        state.rejected(stmt, f"constraint {constraint['conname']} of {qname} already exists", DUPLICATE_OBJECT)
        return
    name = constraint.get("conname") or choose_name(
        qname.name, column_part(columns), "fkey", state.tables.constraint_taken(qname.schema)
    )
    on_delete = constraint.get("fk_del_action", "a") or "a"
    fk = ForeignKey(name, columns, ref, ref_columns, on_delete, clause(stmt, constraint.get("location")), stmt.span)
    state.tables[qname] = evolve(table, foreign_keys=table.foreign_keys + (fk,))
    for child in state.partitions_of(qname):  # the clone keeps the parent's name
        add_foreign_key(stmt, state, child, {**constraint, "conname": name}, column)


def drop_constraint(stmt: Statement, state: ReplayState, qname: QName, name: str, missing_ok: bool,
                    cascade: bool = False) -> None:
    table = state.tables[qname]
    fks = tuple(fk for fk in table.foreign_keys if fk.name != name)
    dropped = [i for i in table.indexes if i.constraint and i.name == name]
    indexes = tuple(i for i in table.indexes if not (i.constraint and i.name == name))
    if fks == table.foreign_keys and not dropped:
        if not missing_ok:
            state.note(stmt, f"constraint {name} of {qname} is not known (CHECK constraints are not modelled)")
        return
    state.tables[qname] = evolve(table, foreign_keys=fks, indexes=indexes)
    if cascade and dropped:  # foreign keys that rely on the dropped key go with it
        key = set(c for c in dropped[0].columns if c)
        for other in list(state.tables.values()):
            kept = tuple(fk for fk in other.foreign_keys if not (fk.ref_table == qname and set(fk.ref_columns) == key))
            if kept != other.foreign_keys:
                state.tables[other.qname] = evolve(other, foreign_keys=kept)


def rename_constraint(state: ReplayState, qname: QName, old: str, new: str) -> None:
    table = state.tables[qname]
    state.tables[qname] = evolve(
        table,
        foreign_keys=tuple(evolve(fk, name=new) if fk.name == old else fk for fk in table.foreign_keys),
        # renaming a PRIMARY KEY / UNIQUE constraint renames its index too
        indexes=tuple(evolve(i, name=new) if i.constraint and i.name == old else i for i in table.indexes),
    )


def add_index(stmt: Statement, state: ReplayState, qname: QName, name: str | None, columns: tuple[str | None, ...],
              unique: bool, partial: bool, primary: bool, constraint: bool, label: str,
              expression_names: tuple[str, ...] = (), uses: tuple[str, ...] = (), expressions: tuple[Any, ...] = (),
              predicate: Any = None) -> Index | None:
    table = state.tables[qname]
    taken = state.tables.relation_taken(qname.schema)
    if not name:
        middle = "" if label == "pkey" else column_part(columns, expression_names)  # <table>_pkey
        name = choose_name(qname.name, middle, label, taken)
    elif taken(name):
        state.rejected(stmt, f"relation {name} already exists", DUPLICATE_TABLE)
        return None
    index = Index(name, columns, unique, partial, primary, constraint, stmt.span, uses, expressions, predicate)
    state.tables[qname] = evolve(table, indexes=table.indexes + (index,))
    for child in state.partitions_of(qname):
        add_index(stmt, state, child, None, columns, unique, partial, primary, constraint, label, expression_names, uses,
                  expressions, predicate)
    return index


def create_index(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    table = state.relation(stmt, node["relation"])
    if table is None:
        return
    name = node.get("idxname")
    if name and state.find_index(table.qname.schema, name) is not None:
        if not node.get("if_not_exists"):
            state.rejected(stmt, f"index {name} already exists", DUPLICATE_TABLE)
        return
    columns, expressions = [], []
    for param in node.get("indexParams", ()):
        elem = param["IndexElem"]
        columns.append(elem.get("name"))
        if elem.get("name") is None:
            expressions.append(_expression_name(elem.get("expr", {})))
    read = {strs(ref.get("fields"))[-1] for ref in column_refs([node.get("indexParams"), node.get("whereClause")])
            if strs(ref.get("fields"))}
    missing = state.missing_column(table.qname, [*columns, *(read - {table.qname.name})])  # the table's name: its whole row
    if missing is not None:
        state.rejected(stmt, f'column "{missing}" does not exist', UNDEFINED_COLUMN)
        return
    add_index(stmt, state, table.qname, name, tuple(columns), bool(node.get("unique")), "whereClause" in node,
                   bool(node.get("primary")), False, "idx", tuple(expressions), tuple(sorted(read)),
                   tuple(param["IndexElem"].get("expr") for param in node.get("indexParams", ())), node.get("whereClause"))
    state.put(stmt, state.tables[table.qname])


def drop_index(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool, cascade: bool) -> None:
    schema, name = (names[-2] if len(names) > 1 else None), names[-1]
    found = state.find_index(schema, name)
    if found is None:
        if not missing_ok and not state.is_platform(schema):
            state.note(stmt, f"index {name} is not known")
        return
    qname, index = found
    table = state.tables[qname]
    state.tables[qname] = evolve(table, indexes=tuple(i for i in table.indexes if i is not index), changed=stmt.span)


def _expression_name(expr: Node) -> str:
    if "FuncCall" in expr:
        return strs(expr["FuncCall"]["funcname"])[-1]
    if "TypeCast" in expr:
        return _expression_name(expr["TypeCast"].get("arg", {}))
    if "ColumnRef" in expr:
        fields = strs(expr["ColumnRef"]["fields"])
        return fields[-1] if fields else "expr"
    return "expr"


HANDLERS = {"IndexStmt": create_index}
DROPS = {"OBJECT_INDEX": drop_index}
