"""Table statements: CREATE / ALTER / DROP / RENAME TABLE, SET SCHEMA, partitions."""

from __future__ import annotations

from typing import Callable

from rlslint.schema.model import Column, Table, evolve
from rlslint.schema.state import ReplayState, strs
from rlslint.sql.names import QName
from rlslint.sql.parse import Node


class TableStatements(ReplayState):
    def on_CreateStmt(self, node: Node) -> None:
        rangevar = node["relation"]
        if rangevar.get("relpersistence") == "t":
            return  # temporary tables live in pg_temp and vanish with the session
        schema = self.creation_schema(rangevar.get("schemaname"))
        if schema is None:
            self.note("no schema on the search_path exists to create the table in")
            return
        qname = QName(schema, rangevar["relname"])
        if qname in self.tables:
            self.target(self.tables[qname])
            if not node.get("if_not_exists"):
                self.rejected(f"table {qname} already exists")
            return
        if self.is_platform(schema):
            return
        self.schemas.add(schema)
        table = Table(qname, "p" if node.get("partspec") else "r", (), False, False, (), (), (), self.span, self.span, None)
        parents = [self.relation(p["RangeVar"]) for p in node.get("inhRelations", ()) if "RangeVar" in p]
        for parent in parents:
            if parent is not None:
                table = evolve(table, columns=table.columns + tuple(evolve(c, created=self.span) for c in parent.columns))
        self.tables[qname] = table
        self.target(table)
        for element in node.get("tableElts", ()):
            if "ColumnDef" in element:
                self.add_column(qname, element["ColumnDef"])
            elif "Constraint" in element:
                self.add_constraint(qname, element["Constraint"])
            elif "TableLikeClause" in element:
                self.copy_like(qname, element["TableLikeClause"])
        if node.get("partbound") and parents and parents[0] is not None:
            self.tables[qname] = evolve(self.tables[qname], partition_of=parents[0].qname)
            self.clone_from_parent(parents[0], self.tables[qname])

    def copy_like(self, qname: QName, like: Node) -> None:
        source = self.relation(like["relation"])
        if source is None:
            return
        columns = tuple(evolve(c, created=self.span) for c in source.columns)
        self.tables[qname] = evolve(self.tables[qname], columns=self.tables[qname].columns + columns)
        if like.get("options", 0):
            self.note("LIKE … INCLUDING is modelled for columns only")

    def on_CreateTableAsStmt(self, node: Node) -> None:
        if node.get("objtype") != "OBJECT_TABLE":
            return
        rangevar = node["into"]["rel"]
        schema = self.creation_schema(rangevar.get("schemaname"))
        if schema is None or rangevar.get("relpersistence") == "t":
            return
        qname = QName(schema, rangevar["relname"])
        if qname not in self.tables:
            columns = tuple(Column(n, "", False, self.span) for n in strs(node["into"].get("colNames")))
            self.tables[qname] = Table(qname, "r", columns, False, False, (), (), (), self.span, self.span, None)
            if not columns:
                self.note(f"columns of {qname} (CREATE TABLE AS) are not known statically")

    def on_AlterTableStmt(self, node: Node) -> None:
        if node.get("objtype") not in ("OBJECT_TABLE", None):
            return  # ALTER VIEW / INDEX / SEQUENCE … SET (…): nothing the model keeps
        table = self.relation(node["relation"], missing_ok=bool(node.get("missing_ok")))
        if table is None:
            return
        self.target(table)
        qname = table.qname
        for entry in node.get("cmds", ()):
            cmd = entry["AlterTableCmd"]
            subtype = cmd["subtype"]
            handler = _ALTER_TABLE.get(subtype)
            if handler is not None:
                handler(self, qname, cmd)
            elif subtype not in _ALTER_TABLE_IGNORED:
                self.unmodelled(f"ALTER TABLE {subtype} is not modelled")
        if qname in self.tables:
            self.put(self.tables[qname])

    def set_rls(self, qname: QName, **flags: bool) -> None:
        table = self.tables[qname]
        changed = self.span if "rls" in flags else table.rls_changed
        self.tables[qname] = evolve(table, rls_changed=changed, **flags)

    def on_DropStmt(self, node: Node) -> None:
        kind = node.get("removeType")
        missing_ok = bool(node.get("missing_ok"))
        cascade = node.get("behavior") == "DROP_CASCADE"
        for obj in node.get("objects", ()):
            names = strs(obj["List"]["items"]) if "List" in obj else strs([obj])
            if kind in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
                self.drop_table(names, missing_ok)
            elif kind == "OBJECT_INDEX":
                self.drop_index(names, missing_ok)
            elif kind == "OBJECT_POLICY":
                self.drop_policy(names, missing_ok)
            elif kind == "OBJECT_SCHEMA":
                self.drop_schema(names[0], missing_ok, cascade)

    def drop_table(self, names: tuple[str, ...], missing_ok: bool) -> None:
        schema, name = (names[-2] if len(names) > 1 else None), names[-1]
        qname = self.lookup(schema, name)
        if qname is None:
            if not missing_ok and not self.is_platform(schema):
                self.note(f"table {name} is not known")
            return
        for child in self.partitions_of(qname):
            self.drop_table((child.schema, child.name), True)
        del self.tables[qname]
        for other in list(self.tables.values()):  # their foreign keys go with it (DROP … CASCADE)
            kept = tuple(fk for fk in other.foreign_keys if fk.ref_table != qname)
            if kept != other.foreign_keys:
                self.tables[other.qname] = evolve(other, foreign_keys=kept)

    def drop_schema(self, schema: str, missing_ok: bool, cascade: bool) -> None:
        if schema not in self.schemas:
            if not missing_ok and not self.is_platform(schema):
                self.note(f"schema {schema} is not known")
            return
        for qname in [q for q in self.tables if q.schema == schema]:
            if qname in self.tables:
                self.drop_table((qname.schema, qname.name), True)
        self.schemas.discard(schema)

    def on_RenameStmt(self, node: Node) -> None:
        kind = node.get("renameType")
        new = node["newname"]
        if kind == "OBJECT_SCHEMA":
            self.rename_schema(node["subname"], new)
            return
        if kind == "OBJECT_INDEX":
            rangevar = node["relation"]
            found = self.find_index(rangevar.get("schemaname"), rangevar["relname"])
            if found is None:
                if not node.get("missing_ok") and not self.is_platform(rangevar.get("schemaname")):
                    self.note(f"index {rangevar['relname']} is not known")
                return
            qname, index = found
            table = self.tables[qname]
            self.put(evolve(table, indexes=tuple(evolve(i, name=new) if i is index else i for i in table.indexes)))
            return
        if kind not in ("OBJECT_TABLE", "OBJECT_COLUMN", "OBJECT_TABCONSTRAINT", "OBJECT_POLICY"):
            return
        if kind == "OBJECT_COLUMN" and node.get("relationType") not in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
            return
        table = self.relation(node["relation"], missing_ok=bool(node.get("missing_ok")))
        if table is None:
            return
        qname = table.qname
        if kind == "OBJECT_TABLE":
            self.move_table(qname, QName(qname.schema, new))
        elif kind == "OBJECT_COLUMN":
            self.rename_column(qname, node["subname"], new)
        elif kind == "OBJECT_TABCONSTRAINT":
            self.rename_constraint(qname, node["subname"], new)
            self.put(self.tables[qname])
        else:
            self.rename_policy(qname, node["subname"], new)

    def on_AlterObjectSchemaStmt(self, node: Node) -> None:
        if node.get("objectType") != "OBJECT_TABLE":
            return
        table = self.relation(node["relation"], missing_ok=bool(node.get("missing_ok")))
        if table is not None:
            self.move_table(table.qname, QName(node["newschema"], table.qname.name))

    def move_table(self, old: QName, new: QName) -> None:
        # Policies hold the table by oid in PostgreSQL: every policy that names it follows.
        self.policies_follow_table(old, new)
        table = self.tables.pop(old)
        self.tables[new] = evolve(table, qname=new, changed=self.span)
        for child in [t for t in self.tables.values() if t.partition_of == old]:
            self.tables[child.qname] = evolve(child, partition_of=new)
        for other in list(self.tables.values()):
            if any(fk.ref_table == old for fk in other.foreign_keys):
                fks = tuple(evolve(fk, ref_table=new) if fk.ref_table == old else fk for fk in other.foreign_keys)
                self.tables[other.qname] = evolve(other, foreign_keys=fks)

    def rename_schema(self, old: str, new: str) -> None:
        if old not in self.schemas:
            return
        self.schemas.discard(old)
        self.schemas.add(new)
        for qname in [q for q in self.tables if q.schema == old]:
            self.move_table(qname, QName(new, qname.name))

    def attach_partition(self, qname: QName, rangevar: Node) -> None:
        child = self.relation(rangevar)
        if child is None:
            return
        if child.qname in self.ancestors(qname) or child.partition_of is not None:
            # PostgreSQL refuses: a table cannot be its own partition, nor attached twice.
            self.rejected(f"{child.qname} cannot be attached as a partition of {qname}")
            return
        self.tables[child.qname] = evolve(child, partition_of=qname, changed=self.span)
        parent = self.tables[qname]
        # Matching indexes and keys the child already has are attached, not duplicated.
        have = {(i.columns, i.unique, i.partial, i.primary) for i in child.indexes}
        missing_indexes = [i for i in parent.indexes if (i.columns, i.unique, i.partial, i.primary) not in have]
        have_fks = {(fk.columns, fk.ref_table) for fk in child.foreign_keys}
        missing_fks = [fk for fk in parent.foreign_keys if (fk.columns, fk.ref_table) not in have_fks]
        self.clone_from_parent(evolve(parent, indexes=tuple(missing_indexes), foreign_keys=tuple(missing_fks)), self.tables[child.qname])

    def detach_partition(self, qname: QName, rangevar: Node) -> None:
        child = self.relation(rangevar)
        if child is not None:
            self.tables[child.qname] = evolve(child, partition_of=None, changed=self.span)

    def clone_from_parent(self, parent: Table, child: Table) -> None:
        """A new partition gets the parent's indexes and foreign keys (PostgreSQL clones them)."""
        for index in parent.indexes:
            label = "pkey" if index.primary else ("key" if index.constraint else "idx")
            self.add_index(child.qname, None, index.columns, index.unique, index.partial, index.primary, index.constraint, label)
        for fk in parent.foreign_keys:  # cloned foreign keys keep the parent's constraint name
            current = self.tables[child.qname]
            self.tables[child.qname] = evolve(current, foreign_keys=current.foreign_keys + (evolve(fk, created=self.span),))


def _cmd_add_column(r, qname: QName, cmd: Node) -> None:
    r.add_column(qname, cmd["def"]["ColumnDef"], if_not_exists=bool(cmd.get("missing_ok")))


def _cmd_add_constraint(r, qname: QName, cmd: Node) -> None:
    r.add_constraint(qname, cmd["def"]["Constraint"])


_ALTER_TABLE: dict[str, Callable[..., None]] = {
    "AT_AddColumn": _cmd_add_column,
    "AT_DropColumn": lambda r, q, c: r.drop_column(q, c["name"], bool(c.get("missing_ok")), c.get("behavior") == "DROP_CASCADE"),
    "AT_AddConstraint": _cmd_add_constraint,
    "AT_DropConstraint": lambda r, q, c: r.drop_constraint(q, c["name"], bool(c.get("missing_ok")), c.get("behavior") == "DROP_CASCADE"),
    "AT_AttachPartition": lambda r, q, c: r.attach_partition(q, c["def"]["PartitionCmd"]["name"]),
    "AT_DetachPartition": lambda r, q, c: r.detach_partition(q, c["def"]["PartitionCmd"]["name"]),
    "AT_EnableRowSecurity": lambda r, q, c: r.set_rls(q, rls=True),
    "AT_DisableRowSecurity": lambda r, q, c: r.set_rls(q, rls=False),
    "AT_ForceRowSecurity": lambda r, q, c: r.set_rls(q, force_rls=True),
    "AT_NoForceRowSecurity": lambda r, q, c: r.set_rls(q, force_rls=False),
    "AT_SetNotNull": lambda r, q, c: r.set_not_null(q, c["name"], True),
    "AT_DropNotNull": lambda r, q, c: r.set_not_null(q, c["name"], False),
}

# ALTER TABLE subcommands that change nothing the model keeps.
_ALTER_TABLE_IGNORED = frozenset(
    {"AT_ColumnDefault", "AT_CookedColumnDefault", "AT_AlterColumnType", "AT_ChangeOwner", "AT_SetStatistics",
     "AT_SetStorage", "AT_SetCompression", "AT_SetRelOptions", "AT_ResetRelOptions", "AT_ReplaceRelOptions",
     "AT_ValidateConstraint", "AT_AlterConstraint", "AT_AddIdentity", "AT_SetIdentity", "AT_DropIdentity",
     "AT_EnableTrig", "AT_DisableTrig", "AT_EnableAlwaysTrig", "AT_EnableReplicaTrig", "AT_EnableTrigAll",
     "AT_DisableTrigAll", "AT_EnableTrigUser", "AT_DisableTrigUser", "AT_EnableRule", "AT_DisableRule",
     "AT_EnableAlwaysRule", "AT_EnableReplicaRule", "AT_ReplicaIdentity", "AT_ClusterOn", "AT_DropCluster",
     "AT_SetLogged", "AT_SetUnLogged", "AT_SetTableSpace", "AT_SetAccessMethod", "AT_AddInherit", "AT_DropInherit",
     "AT_AddOf", "AT_DropOf", "AT_GenericOptions", "AT_SetOptions", "AT_ResetOptions", "AT_DropExpression",
     "AT_SetExpression", "AT_SetAttNotNull", "AT_CheckNotNull", "AT_DetachPartitionFinalize"}
)
