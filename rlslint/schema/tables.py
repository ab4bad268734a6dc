"""Table statements: CREATE / ALTER / DROP / RENAME TABLE, SET SCHEMA, schemas, partitions."""

from __future__ import annotations

from typing import Callable

from rlslint.schema import privileges, roles, routines, views
from rlslint.schema.columns import add_column, drop_column, rename_column, set_not_null, set_type
from rlslint.schema.constraints import (add_constraint, add_index, drop_constraint, mark_not_null, missing_in_constraint,
                                        rename_constraint)
from rlslint.schema.model import Column, Table, evolve
from rlslint.schema.policies import policies_follow_table, rename_policy
from rlslint.schema.state import DUPLICATE_TABLE, UNDEFINED_COLUMN, ReplayState, strs
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, Statement


def create_schema(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    name = node.get("schemaname") or (node.get("authrole") or {}).get("rolename")
    if name:
        state.schemas.add(name)
        privileges.new_schema(state, name, privileges.role_name(state, node["authrole"]) if node.get("authrole") else None)
    if node.get("schemaElts"):
        state.unmodelled(stmt, "CREATE SCHEMA with embedded elements is not modelled")


def create_table(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    rangevar = node["relation"]
    if rangevar.get("relpersistence") == "t":
        return  # temporary tables live in pg_temp and vanish with the session
    schema = state.creation_schema(rangevar.get("schemaname"))
    if schema is None:
        state.note(stmt, "no schema on the search_path exists to create the table in")
        return
    qname = QName(schema, rangevar["relname"])
    if qname in state.tables:
        state.target(stmt, state.tables[qname])
        if not node.get("if_not_exists"):
            state.rejected(stmt, f"table {qname} already exists", DUPLICATE_TABLE)
        return
    if state.is_platform(schema):
        return
    state.schemas.add(schema)
    span = stmt.span
    table = Table(qname, "p" if node.get("partspec") else "r", (), False, False, (), (), (), span, span, None)
    table = state.access.new_table(table)
    parents = [state.relation(stmt, p["RangeVar"]) for p in node.get("inhRelations", ()) if "RangeVar" in p]
    for parent in parents:
        if parent is not None:
            table = evolve(table, columns=table.columns + tuple(evolve(c, created=span) for c in parent.columns),
                           columns_known=table.columns_known and parent.columns_known)
    if None in parents or node.get("ofTypename"):
        table = evolve(table, columns_known=False)
    state.tables[qname] = table
    state.target(stmt, table)
    for element in node.get("tableElts", ()):
        if "ColumnDef" in element:
            add_column(stmt, state, qname, element["ColumnDef"])
        elif "Constraint" in element:
            add_constraint(stmt, state, qname, element["Constraint"])
        elif "TableLikeClause" in element:
            _copy_like(stmt, state, qname, element["TableLikeClause"])
    # Table constraints may come before the columns they name: they are checked on the whole
    # table, and a primary key's columns are NOT NULL wherever they were declared.
    for key in (i for i in state.tables[qname].indexes if i.primary):
        mark_not_null(stmt, state, qname, [c for c in key.columns if c])
    missing = next((m for c in _constraints(node.get("tableElts", ()))
                    if (m := missing_in_constraint(state, c, lambda n: state.missing_column(qname, [n]) is None))), None)
    if missing is not None:
        del state.tables[qname]
        state.rejected(stmt, f'column "{missing}" named in a constraint of {qname} does not exist', UNDEFINED_COLUMN)
        return
    if node.get("partbound") and parents and parents[0] is not None:
        state.tables[qname] = evolve(state.tables[qname], partition_of=parents[0].qname)
        _clone_from_parent(stmt, state, parents[0], state.tables[qname])


def _copy_like(stmt: Statement, state: ReplayState, qname: QName, like: Node) -> None:
    source = state.relation(stmt, like["relation"])
    if source is None:
        state.tables[qname] = evolve(state.tables[qname], columns_known=False)
        return
    columns = tuple(evolve(c, created=stmt.span) for c in source.columns)
    state.tables[qname] = evolve(state.tables[qname], columns=state.tables[qname].columns + columns,
                                 columns_known=state.tables[qname].columns_known and source.columns_known)
    if like.get("options", 0):
        state.note(stmt, "LIKE … INCLUDING is modelled for columns only")


def create_table_as(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    if node.get("objtype") != "OBJECT_TABLE":
        return
    rangevar = node["into"]["rel"]
    schema = state.creation_schema(rangevar.get("schemaname"))
    if schema is None or rangevar.get("relpersistence") == "t":
        return
    qname = QName(schema, rangevar["relname"])
    if qname not in state.tables:
        columns = tuple(Column(n, "", False, stmt.span, "") for n in strs(node["into"].get("colNames")))
        # The query decides the columns: names given in the statement may be fewer.
        table = Table(qname, "r", columns, False, False, (), (), (), stmt.span, stmt.span, None, columns_known=False)
        state.tables[qname] = state.access.new_table(table)
        if not columns:
            state.note(stmt, f"columns of {qname} (CREATE TABLE AS) are not known statically")


def alter_table(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    if node.get("objtype") not in ("OBJECT_TABLE", None):
        return  # ALTER VIEW / INDEX / SEQUENCE … SET (…): nothing the model keeps
    subtypes = {entry["AlterTableCmd"]["subtype"] for entry in node.get("cmds", ())}
    if subtypes & _RLS_SUBTYPES and views.refused_on_view(stmt, state, node["relation"], "ALTER TABLE … ROW LEVEL SECURITY"):
        return
    table = state.relation(stmt, node["relation"], missing_ok=bool(node.get("missing_ok")))
    if table is None:
        return
    state.target(stmt, table)
    qname = table.qname
    missing = _missing_in_alter(state, qname, node.get("cmds", ()))
    if missing is not None:
        state.rejected(stmt, f'column "{missing}" named in a constraint of {qname} does not exist', UNDEFINED_COLUMN)
        return
    for entry in node.get("cmds", ()):
        cmd = entry["AlterTableCmd"]
        subtype = cmd["subtype"]
        handler = ALTER_TABLE.get(subtype)
        if handler is not None:
            handler(stmt, state, qname, cmd)
        elif subtype not in _ALTER_TABLE_IGNORED:
            state.unmodelled(stmt, f"ALTER TABLE {subtype} is not modelled")
    if qname in state.tables:
        state.put(stmt, state.tables[qname])


def _constraints(elements) -> list[Node]:
    """The constraints of CREATE TABLE's elements or ALTER TABLE's ADD subcommands, the columns' own included."""
    found = []
    for element in elements:
        body = element.get("AlterTableCmd", {}).get("def", element)
        if "Constraint" in body:
            found.append(body["Constraint"])
        elif "ColumnDef" in body:
            found += [c["Constraint"] for c in body["ColumnDef"].get("constraints", ())]
    return found


def _missing_in_alter(state: ReplayState, qname: QName, cmds) -> str | None:
    """A column an added constraint names that neither the table nor the statement has:
    PostgreSQL refuses the whole ALTER TABLE, so none of its subcommands is applied."""
    added = {cmd["AlterTableCmd"]["def"]["ColumnDef"]["colname"] for cmd in cmds
             if cmd["AlterTableCmd"]["subtype"] == "AT_AddColumn"}
    adds = [cmd for cmd in cmds if cmd["AlterTableCmd"]["subtype"] in ("AT_AddConstraint", "AT_AddColumn")]
    has = lambda name: name in added or state.missing_column(qname, [name]) is None  # noqa: E731
    return next((m for c in _constraints(adds) if (m := missing_in_constraint(state, c, has))), None)


def _set_rls(stmt: Statement, state: ReplayState, qname: QName, **flags: bool) -> None:
    table = state.tables[qname]
    changed = stmt.span if "rls" in flags else table.rls_changed
    state.tables[qname] = evolve(table, rls_changed=changed, **flags)


def drop_table(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool, cascade: bool = False) -> None:
    schema, name = (names[-2] if len(names) > 1 else None), names[-1]
    qname = state.lookup(schema, name)
    if qname is None:
        if not missing_ok and not state.is_platform(schema):
            state.note(stmt, f"table {name} is not known")
        return
    for child in state.partitions_of(qname):
        drop_table(stmt, state, (child.schema, child.name), True)
    del state.tables[qname]
    for other in list(state.tables.values()):  # their foreign keys go with it (DROP … CASCADE)
        kept = tuple(fk for fk in other.foreign_keys if fk.ref_table != qname)
        if kept != other.foreign_keys:
            state.tables[other.qname] = evolve(other, foreign_keys=kept)


def drop_schema(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool, cascade: bool) -> None:
    schema = names[0]
    if schema not in state.schemas:
        if not missing_ok and not state.is_platform(schema):
            state.note(stmt, f"schema {schema} is not known")
        return
    for qname in [q for q in state.tables if q.schema == schema]:
        if qname in state.tables:
            drop_table(stmt, state, (qname.schema, qname.name), True)
    state.schemas.discard(schema)
    privileges.drop_schema(state, schema)
    routines.drop_schema(state, schema)
    views.drop_schema(state, schema)


def rename(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    kind = node.get("renameType")
    new = node["newname"]
    if kind == "OBJECT_SCHEMA":
        _rename_schema(stmt, state, node["subname"], new)
        return
    if kind == "OBJECT_ROLE":
        roles.rename_role(state, node["subname"], new)
        return
    if kind in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
        routines.move_function(state, node["object"]["ObjectWithArgs"], name=new)
        return
    if kind == "OBJECT_SEQUENCE":
        privileges.move_sequence(state, node["relation"], name=new)
        return
    if kind == "OBJECT_VIEW":
        views.move_view(state, node["relation"], name=new)
        return
    if kind == "OBJECT_INDEX":
        rangevar = node["relation"]
        found = state.find_index(rangevar.get("schemaname"), rangevar["relname"])
        if found is None:
            if not node.get("missing_ok") and not state.is_platform(rangevar.get("schemaname")):
                state.note(stmt, f"index {rangevar['relname']} is not known")
            return
        qname, index = found
        table = state.tables[qname]
        state.put(stmt, evolve(table, indexes=tuple(evolve(i, name=new) if i is index else i for i in table.indexes)))
        return
    if kind not in ("OBJECT_TABLE", "OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_POLICY"):
        return
    if kind == "OBJECT_COLUMN" and node.get("relationType") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
        return
    table = state.relation(stmt, node["relation"], missing_ok=bool(node.get("missing_ok")))
    if table is None:
        return
    qname = table.qname
    if kind == "OBJECT_TABLE":
        _move_table(stmt, state, qname, QName(qname.schema, new))
    elif kind == "OBJECT_COLUMN":
        rename_column(stmt, state, qname, node["subname"], new)
    elif kind == "OBJECT_TABCONSTRAINT":
        rename_constraint(state, qname, node["subname"], new)
        state.put(stmt, state.tables[qname])
    else:
        rename_policy(stmt, state, qname, node["subname"], new)


def set_schema(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    if node.get("objectType") in ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"):
        routines.move_function(state, node["object"]["ObjectWithArgs"], schema=node["newschema"])
    if node.get("objectType") == "OBJECT_SEQUENCE":
        privileges.move_sequence(state, node["relation"], schema=node["newschema"])
    if node.get("objectType") == "OBJECT_VIEW":
        views.move_view(state, node["relation"], schema=node["newschema"])
    if node.get("objectType") != "OBJECT_TABLE":
        return
    table = state.relation(stmt, node["relation"], missing_ok=bool(node.get("missing_ok")))
    if table is not None:
        _move_table(stmt, state, table.qname, QName(node["newschema"], table.qname.name))


def _move_table(stmt: Statement, state: ReplayState, old: QName, new: QName) -> None:
    # Policies hold the table by oid in PostgreSQL: every policy that names it follows.
    policies_follow_table(state, old, new)
    table = state.tables.pop(old)
    state.tables[new] = evolve(table, qname=new, created_as=table.created_as or old, changed=stmt.span)
    for child in [t for t in state.tables.values() if t.partition_of == old]:
        state.tables[child.qname] = evolve(child, partition_of=new)
    for other in list(state.tables.values()):
        if any(fk.ref_table == old for fk in other.foreign_keys):
            fks = tuple(evolve(fk, ref_table=new) if fk.ref_table == old else fk for fk in other.foreign_keys)
            state.tables[other.qname] = evolve(other, foreign_keys=fks)


def _rename_schema(stmt: Statement, state: ReplayState, old: str, new: str) -> None:
    if old not in state.schemas:
        return
    state.schemas.discard(old)
    state.schemas.add(new)
    privileges.rename_schema(state, old, new)
    routines.rename_schema(state, old, new)
    views.rename_schema(state, old, new)
    for qname in [q for q in state.tables if q.schema == old]:
        _move_table(stmt, state, qname, QName(new, qname.name))


def _attach_partition(stmt: Statement, state: ReplayState, qname: QName, rangevar: Node) -> None:
    child = state.relation(stmt, rangevar)
    if child is None:
        return
    if child.qname in state.ancestors(qname) or child.partition_of is not None:
        # PostgreSQL refuses: a table cannot be its own partition, nor attached twice.
        state.rejected(stmt, f"{child.qname} cannot be attached as a partition of {qname}")
        return
    state.tables[child.qname] = evolve(child, partition_of=qname, changed=stmt.span)
    parent = state.tables[qname]
    # Matching indexes and keys the child already has are attached, not duplicated.
    have = {(i.columns, i.unique, i.partial, i.primary) for i in child.indexes}
    missing_indexes = [i for i in parent.indexes if (i.columns, i.unique, i.partial, i.primary) not in have]
    have_fks = {(fk.columns, fk.ref_table) for fk in child.foreign_keys}
    missing_fks = [fk for fk in parent.foreign_keys if (fk.columns, fk.ref_table) not in have_fks]
    missing = evolve(parent, indexes=tuple(missing_indexes), foreign_keys=tuple(missing_fks))
    _clone_from_parent(stmt, state, missing, state.tables[child.qname])


def _detach_partition(stmt: Statement, state: ReplayState, qname: QName, rangevar: Node) -> None:
    child = state.relation(stmt, rangevar)
    if child is not None:
        state.tables[child.qname] = evolve(child, partition_of=None, changed=stmt.span)


def _clone_from_parent(stmt: Statement, state: ReplayState, parent: Table, child: Table) -> None:
    """A new partition gets the parent's indexes and foreign keys (PostgreSQL clones them)."""
    for index in parent.indexes:
        label = "pkey" if index.primary else ("key" if index.constraint else "idx")
        add_index(stmt, state, child.qname, None, index.columns, index.unique, index.partial, index.primary,
                  index.constraint, label)
    for fk in parent.foreign_keys:  # cloned foreign keys keep the parent's constraint name
        current = state.tables[child.qname]
        state.tables[child.qname] = evolve(current, foreign_keys=current.foreign_keys + (evolve(fk, created=stmt.span),))


def _cmd_add_column(stmt: Statement, state: ReplayState, qname: QName, cmd: Node) -> None:
    add_column(stmt, state, qname, cmd["def"]["ColumnDef"], if_not_exists=bool(cmd.get("missing_ok")))


def _cmd_drop_column(stmt: Statement, state: ReplayState, qname: QName, cmd: Node) -> None:
    drop_column(stmt, state, qname, cmd["name"], bool(cmd.get("missing_ok")), cmd.get("behavior") == "DROP_CASCADE")


def _cmd_drop_constraint(stmt: Statement, state: ReplayState, qname: QName, cmd: Node) -> None:
    drop_constraint(stmt, state, qname, cmd["name"], bool(cmd.get("missing_ok")), cmd.get("behavior") == "DROP_CASCADE")


AlterTableHandler = Callable[[Statement, ReplayState, QName, Node], None]

# ALTER TABLE subcommands by AlterTableCmd subtype: (statement, state, table, subcommand).
ALTER_TABLE: dict[str, AlterTableHandler] = {
    "AT_AddColumn": _cmd_add_column,
    "AT_DropColumn": _cmd_drop_column,
    "AT_AddConstraint": lambda s, r, q, c: add_constraint(s, r, q, c["def"]["Constraint"]),
    "AT_DropConstraint": _cmd_drop_constraint,
    "AT_AttachPartition": lambda s, r, q, c: _attach_partition(s, r, q, c["def"]["PartitionCmd"]["name"]),
    "AT_DetachPartition": lambda s, r, q, c: _detach_partition(s, r, q, c["def"]["PartitionCmd"]["name"]),
    "AT_EnableRowSecurity": lambda s, r, q, c: _set_rls(s, r, q, rls=True),
    "AT_DisableRowSecurity": lambda s, r, q, c: _set_rls(s, r, q, rls=False),
    "AT_ForceRowSecurity": lambda s, r, q, c: _set_rls(s, r, q, force_rls=True),
    "AT_NoForceRowSecurity": lambda s, r, q, c: _set_rls(s, r, q, force_rls=False),
    "AT_ChangeOwner": lambda s, r, q, c: roles.table_owner(r, q, c["newowner"]),
    "AT_SetNotNull": lambda s, r, q, c: set_not_null(s, r, q, c["name"], True),
    "AT_DropNotNull": lambda s, r, q, c: set_not_null(s, r, q, c["name"], False),
    "AT_AlterColumnType": set_type,
}


HANDLERS = {
    "CreateSchemaStmt": create_schema,
    "CreateStmt": create_table,
    "CreateTableAsStmt": create_table_as,
    "AlterTableStmt": alter_table,
    "RenameStmt": rename,
    "AlterObjectSchemaStmt": set_schema,
}

DROPS = {"OBJECT_TABLE": drop_table, "OBJECT_FOREIGN_TABLE": drop_table, "OBJECT_SCHEMA": drop_schema}


# PostgreSQL refuses these on a view (wrong_object_type)
_RLS_SUBTYPES = frozenset({"AT_EnableRowSecurity", "AT_DisableRowSecurity", "AT_ForceRowSecurity",
                           "AT_NoForceRowSecurity"})
_ALTER_TABLE_IGNORED = frozenset(
    {"AT_ColumnDefault", "AT_CookedColumnDefault", "AT_SetStatistics",
     "AT_SetStorage", "AT_SetCompression", "AT_SetRelOptions", "AT_ResetRelOptions", "AT_ReplaceRelOptions",
     "AT_ValidateConstraint", "AT_AlterConstraint", "AT_AddIdentity", "AT_SetIdentity", "AT_DropIdentity",
     "AT_EnableTrig", "AT_DisableTrig", "AT_EnableAlwaysTrig", "AT_EnableReplicaTrig", "AT_EnableTrigAll",
     "AT_DisableTrigAll", "AT_EnableTrigUser", "AT_DisableTrigUser", "AT_EnableRule", "AT_DisableRule",
     "AT_EnableAlwaysRule", "AT_EnableReplicaRule", "AT_ReplicaIdentity", "AT_ClusterOn", "AT_DropCluster",
     "AT_SetLogged", "AT_SetUnLogged", "AT_SetTableSpace", "AT_SetAccessMethod", "AT_AddInherit", "AT_DropInherit",
     "AT_AddOf", "AT_DropOf", "AT_GenericOptions", "AT_SetOptions", "AT_ResetOptions", "AT_DropExpression",
     "AT_SetExpression", "AT_SetAttNotNull", "AT_CheckNotNull", "AT_DetachPartitionFinalize"}
)
