"""Statements -> schema model: apply each statement, in order, as PostgreSQL would.

One small handler per pglast node type. Statements the model does not need pass
through; a statement the replay does not understand becomes a note (and an error
under RLSLINT_STRICT, which the tests set, so new node types are caught there).
"""

from __future__ import annotations

import copy
import os
from collections import Counter, defaultdict
from types import MappingProxyType
from typing import Any, Callable, Iterable

from rlslint.diagnostics import Note
from rlslint.schema.model import Catalog, Column, Expr, ForeignKey, Index, Policy, Table, evolve
from rlslint.schema.naming import choose_name, column_part
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, ParsedFile, Statement
from rlslint.sql.spans import Span

DEFAULT_SEARCH_PATH = ("public",)

# Schemas the platform owns: their objects exist without the project creating them.
PLATFORM_SCHEMAS = frozenset(
    {"auth", "storage", "extensions", "realtime", "vault", "graphql", "graphql_public", "pgsodium",
     "pgsodium_masks", "net", "cron", "pgbouncer", "pg_catalog", "information_schema", "pg_temp", "pg_toast"}
)

# Primary keys of platform tables, for REFERENCES without a column list.
PLATFORM_PRIMARY_KEYS = {
    QName("auth", "users"): ("id",),
    QName("storage", "objects"): ("id",),
    QName("storage", "buckets"): ("id",),
}

# Statements that cannot change anything the model holds.
PASS_THROUGH = frozenset(
    {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "CommentStmt",
     "GrantStmt", "GrantRoleStmt", "AlterDefaultPrivilegesStmt", "CreateFunctionStmt", "AlterFunctionStmt",
     "CreateTrigStmt", "ViewStmt", "CreateExtensionStmt", "AlterExtensionStmt", "CreateSeqStmt", "AlterSeqStmt",
     "CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt", "DropRoleStmt", "CreateEnumStmt", "AlterEnumStmt",
     "CompositeTypeStmt", "CreateDomainStmt", "AlterDomainStmt", "DefineStmt", "DoStmt", "CreatePublicationStmt",
     "AlterPublicationStmt", "CreateEventTrigStmt", "RuleStmt", "NotifyStmt", "LockStmt", "VacuumStmt",
     "ExplainStmt", "CallStmt", "AlterOwnerStmt", "CreateCastStmt", "CreateOpClassStmt", "CreateConversionStmt",
     "SecLabelStmt", "CreateStatsStmt", "ClusterStmt", "ReindexStmt", "AnalyzeStmt", "CheckPointStmt",
     "DiscardStmt", "ListenStmt", "UnlistenStmt", "PrepareStmt", "ExecuteStmt", "DeallocateStmt",
     "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt", "CopyStmt", "TruncateStmt", "CreateForeignTableStmt",
     "CreateFdwStmt", "CreateForeignServerStmt", "CreateUserMappingStmt", "ImportForeignSchemaStmt",
     "CreateTransformStmt", "CreateAmStmt", "CreatePLangStmt", "AlterTSConfigurationStmt", "AlterTSDictionaryStmt",
     "CreateRangeStmt", "AlterTypeStmt", "AlterOperatorStmt", "AlterCollationStmt", "AlterDatabaseSetStmt",
     "AlterDatabaseStmt", "CreatedbStmt", "DropdbStmt", "AlterSystemStmt", "ConstraintsSetStmt", "VariableShowStmt",
     "AlterEventTrigStmt", "CreateSubscriptionStmt", "AlterSubscriptionStmt", "DropSubscriptionStmt",
     "AlterObjectDependsStmt", "CreateTableSpaceStmt", "DropTableSpaceStmt", "AlterTableSpaceOptionsStmt",
     "AlterTableMoveAllStmt", "DropOwnedStmt", "ReassignOwnedStmt", "LoadStmt", "RefreshMatViewStmt",
     "CreateOpFamilyStmt", "AlterOpFamilyStmt", "AlterStatsStmt", "ReturnStmt", "PLAssignStmt",
     "CreateConversionStmt", "AlterSystemStmt", "WaitStmt"}
)


class UnmodelledStatement(Exception):
    pass


def strict_mode() -> bool:
    return os.environ.get("RLSLINT_STRICT", "") not in ("", "0")


def strs(items: Iterable[Node] | None) -> tuple[str, ...]:
    return tuple(item["String"]["sval"] for item in items or () if "String" in item)


def replay(files: Iterable[ParsedFile], strict: bool | None = None) -> Catalog:
    state = _Replay(strict_mode() if strict is None else strict)
    for parsed in files:
        state.search_path = DEFAULT_SEARCH_PATH  # each migration runs in a fresh session
        state.notes.extend(parsed.notes)
        for statement in parsed.statements:
            state.apply(statement)
    return state.catalog()


class _Tables(dict):
    """Tables by name, keeping the per-schema name sets PostgreSQL checks for clashes.

    Unnamed indexes and constraints get names that must not clash with others in the
    schema; looking those up by scanning every table made the replay quadratic.
    """

    def __init__(self) -> None:
        super().__init__()
        self.relations: dict[str, Counter] = defaultdict(Counter)  # tables and indexes share a namespace
        self.constraints: dict[str, Counter] = defaultdict(Counter)
        self.index_owner: dict[tuple[str, str], QName] = {}
        self.children: dict[QName, Counter] = defaultdict(Counter)  # partitioned table -> partitions

    def _account(self, table: Table, sign: int) -> None:
        schema = table.qname.schema
        relations, constraints = self.relations[schema], self.constraints[schema]
        relations[table.qname.name] += sign
        for index in table.indexes:
            relations[index.name] += sign
            if sign > 0:
                self.index_owner[(schema, index.name)] = table.qname
            if index.constraint:
                constraints[index.name] += sign
        for fk in table.foreign_keys:
            constraints[fk.name] += sign
        if table.partition_of is not None:
            self.children[table.partition_of][table.qname] += sign

    def __setitem__(self, qname: QName, table: Table) -> None:
        old = self.get(qname)
        unchanged_names = old is not None and (
            old.indexes is table.indexes and old.foreign_keys is table.foreign_keys
            and old.partition_of == table.partition_of and old.qname == table.qname
        )
        if old is not None and not unchanged_names:
            self._account(old, -1)
        super().__setitem__(qname, table)
        if not unchanged_names:
            self._account(table, 1)

    def __delitem__(self, qname: QName) -> None:
        self._account(self[qname], -1)
        super().__delitem__(qname)

    def pop(self, qname: QName) -> Table:  # type: ignore[override]
        table = self[qname]
        del self[qname]
        return table

    def relation_taken(self, schema: str) -> Callable[[str], bool]:
        return lambda name: self.relations[schema][name] > 0

    def constraint_taken(self, schema: str) -> Callable[[str], bool]:
        return lambda name: self.constraints[schema][name] > 0


class _Replay:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.schemas: set[str] = {"public"}
        self.tables = _Tables()
        self.search_path: tuple[str, ...] = DEFAULT_SEARCH_PATH
        self.path_before_local: tuple[str, ...] | None = None  # SET LOCAL lasts until the transaction ends
        self.in_transaction = False
        self.notes: list[Note] = []
        self.stmt: Statement | None = None

    def catalog(self) -> Catalog:
        return Catalog(frozenset(self.schemas), MappingProxyType(dict(self.tables)), tuple(self.notes))

    # --- dispatch ----------------------------------------------------------------

    def apply(self, stmt: Statement) -> None:
        self.stmt = stmt
        handler: Callable[[Node], None] | None = getattr(self, "on_" + stmt.kind, None)
        if handler is not None:
            handler(stmt.node)
        elif stmt.kind not in PASS_THROUGH:
            self.unmodelled(f"{stmt.kind} is not modelled")

    def note(self, message: str) -> None:
        self.notes.append(Note(self.stmt.span, message))

    def unmodelled(self, message: str) -> None:
        if self.strict:
            raise UnmodelledStatement(f"{self.stmt.span.path}:{self.stmt.span.start}: {message}")
        self.note(message)

    @property
    def span(self) -> Span:
        return self.stmt.span

    def clause(self, location: int | None) -> Span:
        """A span starting at a node's location inside the current statement."""
        if location is None or location < 0:
            return self.stmt.span
        return Span(self.stmt.span.path, location, self.stmt.span.end)

    # --- names -------------------------------------------------------------------

    def is_platform(self, schema: str | None) -> bool:
        return schema is not None and (schema in PLATFORM_SCHEMAS or schema.startswith("supabase_") or schema.startswith("pg_"))

    def lookup(self, schema: str | None, name: str) -> QName | None:
        if schema is not None:
            qname = QName(schema, name)
            return qname if qname in self.tables else None
        for candidate in self.search_path:
            if QName(candidate, name) in self.tables:
                return QName(candidate, name)
        return None

    def creation_schema(self, schema: str | None) -> str | None:
        if schema is not None:
            return schema
        return next((s for s in self.search_path if s in self.schemas), None)

    def relation(self, rangevar: Node, missing_ok: bool = False) -> Table | None:
        """The table a RangeVar names; unknown tables outside platform schemas become notes."""
        schema, name = rangevar.get("schemaname"), rangevar["relname"]
        qname = self.lookup(schema, name)
        if qname is not None:
            return self.tables[qname]
        if not missing_ok and not self.is_platform(schema) and rangevar.get("relpersistence") != "t":
            shown = f"{schema}.{name}" if schema else name
            self.note(f"table {shown} is not created by these migrations; statement not replayed")
        return None

    def find_index(self, schema: str | None, name: str) -> tuple[QName, Index] | None:
        for candidate in (schema,) if schema else self.search_path:
            owner = self.tables.index_owner.get((candidate, name))
            if owner is not None and owner in self.tables:
                index = next((i for i in self.tables[owner].indexes if i.name == name), None)
                if index is not None:
                    return owner, index
        return None

    def put(self, table: Table) -> None:
        self.tables[table.qname] = evolve(table, changed=self.span)

    # --- schemas and search_path -----------------------------------------------------

    def on_CreateSchemaStmt(self, node: Node) -> None:
        name = node.get("schemaname") or (node.get("authrole") or {}).get("rolename")
        if name:
            self.schemas.add(name)
        if node.get("schemaElts"):
            self.unmodelled("CREATE SCHEMA with embedded elements is not modelled")

    def on_TransactionStmt(self, node: Node) -> None:
        kind = node.get("kind")
        if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            self.in_transaction = True
        elif kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"):
            self.in_transaction = False
            if self.path_before_local is not None:
                self.search_path, self.path_before_local = self.path_before_local, None

    def on_VariableSetStmt(self, node: Node) -> None:
        if node.get("name") != "search_path" and node.get("kind") != "VAR_RESET_ALL":
            return
        if node.get("is_local"):
            if not self.in_transaction:
                return  # SET LOCAL outside a transaction block has no effect
            if self.path_before_local is None:
                self.path_before_local = self.search_path
        if node.get("kind") == "VAR_SET_VALUE":
            values = []
            for arg in node.get("args", ()):
                const = arg.get("A_Const", {})
                value = const.get("sval", {}).get("sval")
                if value is not None:
                    values.extend(v.strip().strip('"') for v in value.split(",") if v.strip())
            self.search_path = tuple(v for v in values if v != "$user")
        elif node.get("kind") in ("VAR_SET_DEFAULT", "VAR_RESET", "VAR_RESET_ALL"):
            self.search_path = DEFAULT_SEARCH_PATH
        else:
            self.note("SET search_path FROM CURRENT is not modelled")

    # --- CREATE TABLE ------------------------------------------------------------------

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
            if not node.get("if_not_exists"):
                self.note(f"table {qname} already exists; PostgreSQL would reject this statement")
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

    # --- columns -----------------------------------------------------------------------

    def add_column(self, qname: QName, coldef: Node, if_not_exists: bool = False) -> None:
        table = self.tables[qname]
        name = coldef["colname"]
        if table.column(name) is not None:
            if not if_not_exists and not (coldef.get("is_from_type") or not coldef.get("is_local", True)):
                self.note(f"column {name} of {qname} already exists")
            return
        type_names = strs(coldef.get("typeName", {}).get("names"))
        type_name = type_names[-1] if type_names else ""
        constraints = [c["Constraint"] for c in coldef.get("constraints", ())]
        not_null = type_name in ("serial", "bigserial", "smallserial", "serial4", "serial8", "serial2") or any(
            c["contype"] in ("CONSTR_NOTNULL", "CONSTR_PRIMARY", "CONSTR_IDENTITY") for c in constraints
        )
        column = Column(name, type_name, not_null, self.span)
        self.tables[qname] = evolve(table, columns=table.columns + (column,))
        for constraint in constraints:
            if constraint["contype"] in ("CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_FOREIGN"):
                self.add_constraint(qname, constraint, column=name)
        for child in self.partitions_of(qname):
            self.add_column(child, coldef, if_not_exists=True)

    def drop_column(self, qname: QName, name: str, missing_ok: bool, cascade: bool) -> None:
        table = self.tables[qname]
        if table.column(name) is None:
            if not missing_ok:
                self.note(f"column {name} of {qname} does not exist")
            return
        # PostgreSQL drops what depends on the column: indexes and constraints using it,
        # and (with CASCADE) foreign keys pointing at it and policies reading it.
        indexes = tuple(i for i in table.indexes if name not in i.columns and name not in i.uses)
        fks = tuple(fk for fk in table.foreign_keys if name not in fk.columns)
        policies = table.policies
        if cascade:
            policies = tuple(p for p in policies if not _policy_uses_column(p, name))
        self.tables[qname] = evolve(
            table, columns=tuple(c for c in table.columns if c.name != name), indexes=indexes, foreign_keys=fks, policies=policies
        )
        if cascade:
            for other in list(self.tables.values()):
                kept = tuple(fk for fk in other.foreign_keys if not (fk.ref_table == qname and name in fk.ref_columns))
                if kept != other.foreign_keys:
                    self.tables[other.qname] = evolve(other, foreign_keys=kept)
        for child in self.partitions_of(qname):
            self.drop_column(child, name, True, cascade)
        self.put(self.tables[qname])

    def rename_column(self, qname: QName, old: str, new: str) -> None:
        table = self.tables[qname]
        if table.column(old) is None:
            self.note(f"column {old} of {qname} does not exist")
            return
        rename = lambda cols: tuple(new if c == old else c for c in cols)  # noqa: E731
        self.tables[qname] = evolve(
            table,
            columns=tuple(evolve(c, name=new) if c.name == old else c for c in table.columns),
            indexes=tuple(evolve(i, columns=rename(i.columns), uses=rename(i.uses)) for i in table.indexes),
            foreign_keys=tuple(evolve(fk, columns=rename(fk.columns)) for fk in table.foreign_keys),
            policies=tuple(_rename_in_policy(p, qname, old, new) for p in table.policies),
        )
        for other in list(self.tables.values()):
            if any(fk.ref_table == qname for fk in other.foreign_keys):
                fks = tuple(evolve(fk, ref_columns=rename(fk.ref_columns)) if fk.ref_table == qname else fk for fk in other.foreign_keys)
                self.tables[other.qname] = evolve(other, foreign_keys=fks)
            if other.qname != qname and other.policies:
                self.tables[other.qname] = evolve(
                    self.tables[other.qname], policies=tuple(_rename_in_policy(p, qname, old, new, outer=False) for p in other.policies)
                )
        for child in self.partitions_of(qname):
            self.rename_column(child, old, new)
        self.put(self.tables[qname])

    def set_not_null(self, qname: QName, name: str, value: bool) -> None:
        table = self.tables[qname]
        if table.column(name) is None:
            self.note(f"column {name} of {qname} does not exist")
            return
        self.tables[qname] = evolve(table, columns=tuple(evolve(c, not_null=value) if c.name == name else c for c in table.columns))
        for child in self.partitions_of(qname):
            self.set_not_null(child, name, value)

    # --- constraints ---------------------------------------------------------------------

    def add_constraint(self, qname: QName, constraint: Node, column: str | None = None) -> None:
        contype = constraint["contype"]
        if contype == "CONSTR_FOREIGN":
            self.add_foreign_key(qname, constraint, column)
        elif contype in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
            self.add_key(qname, constraint, column)
        elif contype == "CONSTR_EXCLUSION":
            columns = []
            for pair in constraint.get("exclusions", ()):
                elem = pair["List"]["items"][0].get("IndexElem", {})
                columns.append(elem.get("name"))
            self.add_index(qname, constraint.get("conname"), tuple(columns), False, bool(constraint.get("where_clause")), False, True, "excl")

    def add_key(self, qname: QName, constraint: Node, column: str | None) -> None:
        primary = constraint["contype"] == "CONSTR_PRIMARY"
        table = self.tables[qname]
        if constraint.get("indexname"):  # ADD CONSTRAINT … USING INDEX adopts an existing index
            found = next((i for i in table.indexes if i.name == constraint["indexname"]), None)
            if found is None:
                self.note(f"index {constraint['indexname']} does not exist")
                return
            indexes = tuple(i for i in table.indexes if i is not found)
            name = constraint.get("conname") or found.name
            self.tables[qname] = evolve(table, indexes=indexes + (evolve(found, name=name, unique=True, primary=primary, constraint=True),))
            if primary:
                self._mark_not_null(qname, [c for c in found.columns if c])
            return
        columns = (column,) if column else strs(constraint.get("keys"))
        if primary:
            self._mark_not_null(qname, columns)
            if any(i.primary for i in table.indexes):
                self.note(f"{qname} already has a primary key")
                return
        self.add_index(qname, constraint.get("conname"), columns, True, False, primary, True, "pkey" if primary else "key")

    def _mark_not_null(self, qname: QName, columns: Iterable[str]) -> None:
        wanted = set(columns)
        table = self.tables[qname]
        self.tables[qname] = evolve(table, columns=tuple(evolve(c, not_null=True) if c.name in wanted else c for c in table.columns))

    def add_foreign_key(self, qname: QName, constraint: Node, column: str | None) -> None:
        table = self.tables[qname]
        columns = (column,) if column else strs(constraint.get("fk_attrs"))
        pktable = constraint["pktable"]
        ref = self.lookup(pktable.get("schemaname"), pktable["relname"])
        if ref is None:
            schema = pktable.get("schemaname") or next((s for s in self.search_path if self.is_platform(s) or s in self.schemas), "public")
            ref = QName(schema, pktable["relname"])
            if not self.is_platform(ref.schema):
                self.note(f"referenced table {ref} is not created by these migrations")
        ref_columns = strs(constraint.get("pk_attrs"))
        if not ref_columns and ref in self.tables:
            ref_columns = tuple(c for i in self.tables[ref].indexes if i.primary for c in i.columns if c)
        elif not ref_columns:
            ref_columns = PLATFORM_PRIMARY_KEYS.get(ref, ())
        if constraint.get("conname") and constraint["conname"] in {fk.name for fk in table.foreign_keys}:
            self.note(f"constraint {constraint['conname']} of {qname} already exists; PostgreSQL would reject this statement")
            return
        name = constraint.get("conname") or choose_name(
            qname.name, column_part(columns), "fkey", self.tables.constraint_taken(qname.schema)
        )
        fk = ForeignKey(name, columns, ref, ref_columns, constraint.get("fk_del_action", "a") or "a", self.clause(constraint.get("location")), self.span)
        self.tables[qname] = evolve(table, foreign_keys=table.foreign_keys + (fk,))
        for child in self.partitions_of(qname):  # the clone keeps the parent's name
            self.add_foreign_key(child, {**constraint, "conname": name}, column)

    def drop_constraint(self, qname: QName, name: str, missing_ok: bool, cascade: bool = False) -> None:
        table = self.tables[qname]
        fks = tuple(fk for fk in table.foreign_keys if fk.name != name)
        dropped = [i for i in table.indexes if i.constraint and i.name == name]
        indexes = tuple(i for i in table.indexes if not (i.constraint and i.name == name))
        if fks == table.foreign_keys and not dropped:
            if not missing_ok:
                self.note(f"constraint {name} of {qname} is not known (CHECK constraints are not modelled)")
            return
        self.tables[qname] = evolve(table, foreign_keys=fks, indexes=indexes)
        if cascade and dropped:  # foreign keys that rely on the dropped key go with it
            key = set(c for c in dropped[0].columns if c)
            for other in list(self.tables.values()):
                kept = tuple(fk for fk in other.foreign_keys if not (fk.ref_table == qname and set(fk.ref_columns) == key))
                if kept != other.foreign_keys:
                    self.tables[other.qname] = evolve(other, foreign_keys=kept)

    def attach_partition(self, qname: QName, rangevar: Node) -> None:
        child = self.relation(rangevar)
        if child is None:
            return
        if child.qname in self.ancestors(qname) or child.partition_of is not None:
            # PostgreSQL refuses: a table cannot be its own partition, nor attached twice.
            self.note(f"{child.qname} cannot be attached as a partition of {qname}; PostgreSQL would reject this statement")
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

    def rename_constraint(self, qname: QName, old: str, new: str) -> None:
        table = self.tables[qname]
        self.tables[qname] = evolve(
            table,
            foreign_keys=tuple(evolve(fk, name=new) if fk.name == old else fk for fk in table.foreign_keys),
            # renaming a PRIMARY KEY / UNIQUE constraint renames its index too
            indexes=tuple(evolve(i, name=new) if i.constraint and i.name == old else i for i in table.indexes),
        )

    # --- indexes -------------------------------------------------------------------------

    def add_index(self, qname: QName, name: str | None, columns: tuple[str | None, ...], unique: bool, partial: bool,
                  primary: bool, constraint: bool, label: str, expression_names: tuple[str, ...] = (),
                  uses: tuple[str, ...] = ()) -> Index | None:
        table = self.tables[qname]
        taken = self.tables.relation_taken(qname.schema)
        if not name:
            middle = "" if label == "pkey" else column_part(columns, expression_names)  # <table>_pkey
            name = choose_name(qname.name, middle, label, taken)
        elif taken(name):
            self.note(f"relation {name} already exists; PostgreSQL would reject this statement")
            return None
        index = Index(name, columns, unique, partial, primary, constraint, self.span, uses)
        self.tables[qname] = evolve(table, indexes=table.indexes + (index,))
        for child in self.partitions_of(qname):
            self.add_index(child, None, columns, unique, partial, primary, constraint, label, expression_names, uses)
        return index

    def on_IndexStmt(self, node: Node) -> None:
        table = self.relation(node["relation"])
        if table is None:
            return
        name = node.get("idxname")
        if name and self.find_index(table.qname.schema, name) is not None:
            if not node.get("if_not_exists"):
                self.note(f"index {name} already exists; PostgreSQL would reject this statement")
            return
        columns, expressions = [], []
        for param in node.get("indexParams", ()):
            elem = param["IndexElem"]
            columns.append(elem.get("name"))
            if elem.get("name") is None:
                expressions.append(_expression_name(elem.get("expr", {})))
        read = {strs(ref.get("fields"))[-1] for ref in _column_refs([node.get("indexParams"), node.get("whereClause")])
                if strs(ref.get("fields"))}
        self.add_index(table.qname, name, tuple(columns), bool(node.get("unique")), "whereClause" in node,
                       bool(node.get("primary")), False, "idx", tuple(expressions), tuple(sorted(read)))
        self.put(self.tables[table.qname])

    def drop_index(self, names: tuple[str, ...], missing_ok: bool) -> None:
        schema, name = (names[-2] if len(names) > 1 else None), names[-1]
        found = self.find_index(schema, name)
        if found is None:
            if not missing_ok and not self.is_platform(schema):
                self.note(f"index {name} is not known")
            return
        qname, index = found
        table = self.tables[qname]
        self.tables[qname] = evolve(table, indexes=tuple(i for i in table.indexes if i is not index), changed=self.span)

    # --- ALTER TABLE -----------------------------------------------------------------------

    def on_AlterTableStmt(self, node: Node) -> None:
        if node.get("objtype") not in ("OBJECT_TABLE", None):
            return  # ALTER VIEW / INDEX / SEQUENCE … SET (…): nothing the model keeps
        table = self.relation(node["relation"], missing_ok=bool(node.get("missing_ok")))
        if table is None:
            return
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

    # --- DROP / RENAME / SET SCHEMA -------------------------------------------------------------

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

    # --- policies ------------------------------------------------------------------------

    def on_CreatePolicyStmt(self, node: Node) -> None:
        table = self.relation(node["table"])
        if table is None:
            return
        name = node["policy_name"]
        if any(p.name == name for p in table.policies):
            self.note(f'policy "{name}" on {table.qname} already exists; PostgreSQL would reject this statement')
            return
        policy = Policy(
            name,
            (node.get("cmd_name") or "all").upper(),
            bool(node.get("permissive", False)),
            _roles(node.get("roles")),
            self.expr(node.get("qual"), "qual"),
            self.expr(node.get("with_check"), "with_check"),
            self.span,
            self.span,
        )
        self.put(evolve(table, policies=table.policies + (policy,)))

    def on_AlterPolicyStmt(self, node: Node) -> None:
        table = self.relation(node["table"])
        if table is None:
            return
        name = node["policy_name"]
        policy = next((p for p in table.policies if p.name == name), None)
        if policy is None:
            self.note(f'policy "{name}" on {table.qname} is not known')
            return
        changes: dict[str, Any] = {"changed": self.span}
        if node.get("roles"):
            changes["roles"] = _roles(node["roles"])
        if "qual" in node:
            changes["using"] = self.expr(node["qual"], "qual")
        if "with_check" in node:
            changes["with_check"] = self.expr(node["with_check"], "with_check")
        self.put(evolve(table, policies=tuple(evolve(p, **changes) if p is policy else p for p in table.policies)))

    def drop_policy(self, names: tuple[str, ...], missing_ok: bool) -> None:
        *table_names, name = names
        schema = table_names[-2] if len(table_names) > 1 else None
        qname = self.lookup(schema, table_names[-1])
        if qname is None:
            if not missing_ok and not self.is_platform(schema):
                self.note(f"table {table_names[-1]} is not known")
            return
        table = self.tables[qname]
        kept = tuple(p for p in table.policies if p.name != name)
        if kept == table.policies and not missing_ok:
            self.note(f'policy "{name}" on {qname} is not known')
        self.put(evolve(table, policies=kept))

    def rename_policy(self, qname: QName, old: str, new: str) -> None:
        table = self.tables[qname]
        self.put(evolve(table, policies=tuple(evolve(p, name=new, changed=self.span) if p.name == old else p for p in table.policies)))

    def expr(self, tree: Node | None, clause: str) -> Expr | None:
        return None if tree is None else Expr(tree, self.stmt.text, clause, self.stmt.span)

    # --- partitions -----------------------------------------------------------------------

    def ancestors(self, qname: QName) -> list[QName]:
        """The table and every partitioned table above it."""
        chain = [qname]
        while (table := self.tables.get(chain[-1])) is not None and table.partition_of is not None:
            if table.partition_of in chain:
                break
            chain.append(table.partition_of)
        return chain

    def partitions_of(self, qname: QName) -> list[QName]:
        return [child for child, count in self.tables.children.get(qname, {}).items() if count > 0]

    def clone_from_parent(self, parent: Table, child: Table) -> None:
        """A new partition gets the parent's indexes and foreign keys (PostgreSQL clones them)."""
        for index in parent.indexes:
            label = "pkey" if index.primary else ("key" if index.constraint else "idx")
            self.add_index(child.qname, None, index.columns, index.unique, index.partial, index.primary, index.constraint, label)
        for fk in parent.foreign_keys:  # cloned foreign keys keep the parent's constraint name
            current = self.tables[child.qname]
            self.tables[child.qname] = evolve(current, foreign_keys=current.foreign_keys + (evolve(fk, created=self.span),))


def _roles(roles: Iterable[Node] | None) -> tuple[str, ...]:
    names = []
    for role in roles or ():
        spec = role["RoleSpec"]
        kind = spec.get("roletype")
        names.append(spec.get("rolename") if kind == "ROLESPEC_CSTRING" else {"ROLESPEC_PUBLIC": "public"}.get(kind, kind.lower()))
    if not names or "public" in names:
        return ("public",)  # PostgreSQL stores PUBLIC alone: every role is already in it
    return tuple(sorted(set(names)))


def _expression_name(expr: Node) -> str:
    if "FuncCall" in expr:
        return strs(expr["FuncCall"]["funcname"])[-1]
    if "TypeCast" in expr:
        return _expression_name(expr["TypeCast"].get("arg", {}))
    if "ColumnRef" in expr:
        fields = strs(expr["ColumnRef"]["fields"])
        return fields[-1] if fields else "expr"
    return "expr"


def _column_refs(tree: Any) -> Iterable[dict]:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "ColumnRef" in item:
                yield item["ColumnRef"]
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)


def _policy_uses_column(policy: Policy, column: str) -> bool:
    for expr in (policy.using, policy.with_check):
        if expr is not None and any(strs(ref.get("fields"))[-1:] == (column,) for ref in _column_refs(expr.tree)):
            return True
    return False


def _rename_in_policy(policy: Policy, table: QName, old: str, new: str, outer: bool = True) -> Policy:
    """PostgreSQL stores policy expressions by column number, so a rename shows up in them."""
    if not _policy_uses_column(policy, old):
        return policy
    changes = {}
    for attr in ("using", "with_check"):
        expr = getattr(policy, attr)
        if expr is None:
            continue
        tree = copy.deepcopy(dict(expr.tree))
        for ref in _column_refs(tree):
            fields = ref.get("fields", [])
            names = strs(fields)
            if names[-1:] == (old,) and ((len(names) == 1 and outer) or (len(names) > 1 and names[-2] == table.name)):
                fields[-1] = {"String": {"sval": new}}
        changes[attr] = evolve(expr, tree=tree)
    return evolve(policy, **changes)


def _cmd_add_column(r: _Replay, qname: QName, cmd: Node) -> None:
    r.add_column(qname, cmd["def"]["ColumnDef"], if_not_exists=bool(cmd.get("missing_ok")))


def _cmd_add_constraint(r: _Replay, qname: QName, cmd: Node) -> None:
    r.add_constraint(qname, cmd["def"]["Constraint"])


_ALTER_TABLE: dict[str, Callable[[_Replay, QName, Node], None]] = {
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
