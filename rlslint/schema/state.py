"""The replay's working state: the tables so far, name lookup as PostgreSQL resolves it, notes.

Statement handlers (tables.py, columns.py, constraints.py, policies.py, session.py) are
functions of (statement, state); replay.py holds the table that dispatches to them.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from types import MappingProxyType
from typing import Any, Callable, Iterable

from rlslint.diagnostics import Note
from rlslint.schema.access import AccessState
from rlslint.schema.conditions import SQLSTATES
from rlslint.schema.model import Catalog, Expr, Index, Table, evolve
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, Statement
from rlslint.sql.spans import Span
from rlslint.sql.tokens import clause_end

DEFAULT_SEARCH_PATH = ("public",)

# The SQLSTATEs of the refusals the replay models: a PL/pgSQL EXCEPTION handler names them
# (WHEN duplicate_object) to skip what already exists.
DUPLICATE_OBJECT, DUPLICATE_TABLE = SQLSTATES["duplicate_object"], SQLSTATES["duplicate_table"]
UNDEFINED_COLUMN, FEATURE_NOT_SUPPORTED = SQLSTATES["undefined_column"], SQLSTATES["feature_not_supported"]

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


# Columns every table has without declaring them: a policy or an index expression may read them.
SYSTEM_COLUMNS = frozenset({"tableoid", "cmax", "xmax", "cmin", "xmin", "ctid"})


class UnmodelledStatement(Exception):
    pass


def strs(items: Iterable[Node] | None) -> tuple[str, ...]:
    # Interned: the model keeps these names (columns, types, keys) for the whole run, and
    # as parsed each file has its own copy of every one.
    return tuple(sys.intern(item["String"]["sval"]) for item in items or () if "String" in item)


class TableRegistry(dict):
    """Tables by name, keeping the per-schema name sets PostgreSQL checks for clashes.

    Unnamed indexes and constraints get names that must not clash with others in the
    schema; looking those up by scanning every table made the replay quadratic.
    """

    # The names written or removed since it was last emptied, for an observer that keeps it
    # (rlslint.verify.trace: which tables a statement changed, without comparing them all).
    written: set[QName] | None = None

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

    def _account_names(self, table: Table, indexes: tuple[Index, ...], foreign_keys: tuple) -> None:
        if not indexes and not foreign_keys:
            return
        schema = table.qname.schema
        relations, constraints = self.relations[schema], self.constraints[schema]
        for index in indexes:
            relations[index.name] += 1
            if index.constraint:
                constraints[index.name] += 1
        for fk in foreign_keys:
            constraints[fk.name] += 1
        for index in table.indexes:  # as a recount would: each index's owner is this table again
            self.index_owner[(schema, index.name)] = table.qname

    def __setitem__(self, qname: QName, table: Table) -> None:
        old = self.get(qname)
        if (old is not None and table.indexes is old.indexes and table.foreign_keys is old.foreign_keys
                and table.qname == old.qname and table.partition_of == old.partition_of):
            # No name changes (a column, a flag): the counts stay as they are.
            super().__setitem__(qname, table)
            if self.written is not None:
                self.written.add(qname)
            return
        # A write that only appends indexes or foreign keys (most do) counts only the new
        # names, which leaves the counts a recount would; any other change is recounted.
        appended = _appended_names(old, table)
        unchanged_names = appended is not None
        if unchanged_names:
            self._account_names(table, *appended)
        if old is not None and not unchanged_names:
            self._account(old, -1)
        super().__setitem__(qname, table)
        if not unchanged_names:
            self._account(table, 1)
        if self.written is not None:
            self.written.add(qname)

    def __delitem__(self, qname: QName) -> None:
        self._account(self[qname], -1)
        super().__delitem__(qname)
        if self.written is not None:
            self.written.add(qname)

    def pop(self, qname: QName) -> Table:  # type: ignore[override]
        table = self[qname]
        del self[qname]
        return table

    def relation_taken(self, schema: str) -> Callable[[str], bool]:
        return lambda name: self.relations[schema][name] > 0

    def constraint_taken(self, schema: str) -> Callable[[str], bool]:
        return lambda name: self.constraints[schema][name] > 0


    def __reduce__(self):
        # pickle would re-add the items through __setitem__ before restoring the name sets
        kept = {name: value for name, value in self.__dict__.items() if name != "written"}  # the observer's, not the model's
        return (_restore_registry, (dict(self), kept))

    def copy(self) -> "TableRegistry":
        """An independent registry: the tables are frozen and shared, the name counts are not."""
        other = TableRegistry()
        dict.update(other, self)
        for schema, counts in self.relations.items():
            other.relations[schema] = Counter(counts)
        for schema, counts in self.constraints.items():
            other.constraints[schema] = Counter(counts)
        other.index_owner = dict(self.index_owner)
        for parent, counts in self.children.items():
            other.children[parent] = Counter(counts)
        return other


def _appended_names(old: Table | None, new: Table) -> tuple[tuple, tuple] | None:
    """The indexes and foreign keys ``new`` adds to ``old`` (the same table, the same objects
    extended); None if its names may have changed otherwise."""
    if old is None or old.qname != new.qname or old.partition_of != new.partition_of:
        return None
    indexes, foreign_keys = _appended(old.indexes, new.indexes), _appended(old.foreign_keys, new.foreign_keys)
    return None if indexes is None or foreign_keys is None else (indexes, foreign_keys)


def _appended(old: tuple, new: tuple) -> tuple | None:
    """What ``new`` adds after the very objects of ``old``; None if it is not ``old`` extended."""
    if new is old:
        return ()
    if len(new) < len(old) or any(a is not b for a, b in zip(old, new)):
        return None
    return new[len(old):]


def _restore_registry(items: dict, attributes: dict) -> TableRegistry:
    registry = TableRegistry()
    dict.update(registry, items)
    registry.__dict__.update(attributes)
    return registry


class ReplayState:
    """Everything the replay has built so far, and the session it runs in.

    The model's objects are frozen, so the only mutable parts are the containers here;
    ``copy`` duplicates exactly those, which makes a copy independent of the original
    whatever handlers do to either afterwards.
    """

    def __init__(self, strict: bool, start: str | None = None, access: AccessState | None = None) -> None:
        self.strict = strict
        # ``start``: see AccessState; None decides from the migrations. ``access``: a copy's own.
        self.access = AccessState(start) if access is None else access
        self.schemas: set[str] = {"public"}
        self.tables = TableRegistry()
        self.search_path: tuple[str, ...] = DEFAULT_SEARCH_PATH
        self.path_before_local: tuple[str, ...] | None = None  # SET LOCAL lasts until the transaction ends
        self.in_transaction = False
        self.notes: list[Note] = []
        # (path, statement start) -> the creation spans of the tables the statement created or
        # altered: a table's creation span stays its own through renames and SET SCHEMA.
        self.targets: dict[tuple[str, int], list[Span]] = {}
        self.unanalysed: list[Note] = []  # statements the replay could not know, with why
        self.unanalysed_spans: set[Span] = set()  # their spans: a repeated reach is told from a first in one look
        # PL/pgSQL the migrations created (schema/routines.py): functions by name and argument
        # types, every name they ever gave one, and the ddl_command_end event triggers by name:
        # (function, command tags or None, enabled).
        self.functions: dict[tuple[QName, tuple[str, ...]], Any] = {}
        self.function_names: set[QName] = set()
        self.views: set[QName] = set()  # by name only (schema/views.py)
        self.event_triggers: dict[str, tuple[QName, frozenset[str] | None, bool]] = {}
        self.trigger_depth = 0
        self.extensions: set[str] = set()  # the extensions the migrations created (schema/extensions.py)
        # (SQLSTATE or "", why) of the statement PostgreSQL would have refused, for a PL/pgSQL
        # EXCEPTION handler around it (schema/routines.py reads it after each statement)
        self.failure: tuple[str, str] | None = None

    def copy(self) -> "ReplayState":
        other = ReplayState(self.strict, access=self.access.copy())  # building a fresh AccessState costs as much
        other.schemas = set(self.schemas)
        other.tables = self.tables.copy()
        other.search_path, other.path_before_local = self.search_path, self.path_before_local
        other.in_transaction = self.in_transaction
        other.notes = list(self.notes)
        other.targets = {statement: list(spans) for statement, spans in self.targets.items()}
        other.unanalysed, other.unanalysed_spans = list(self.unanalysed), set(self.unanalysed_spans)
        other.functions, other.event_triggers = dict(self.functions), dict(self.event_triggers)
        other.extensions = set(self.extensions)
        other.function_names, other.views = set(self.function_names), set(self.views)
        other.trigger_depth = self.trigger_depth
        return other

    def savepoint(self) -> "ReplayState":
        """What ``restore`` needs to go back to this point: a copy of the model, sharing the
        history (notes, unanalysed statements, targets), which a rollback keeps as it is."""
        history = self.notes, self.unanalysed, self.unanalysed_spans, self.targets
        self.notes, self.unanalysed, self.unanalysed_spans, self.targets = [], [], set(), {}
        try:
            return self.copy()
        finally:
            self.notes, self.unanalysed, self.unanalysed_spans, self.targets = history

    def restore(self, snapshot: "ReplayState") -> None:
        """Back to ``snapshot`` (from ``savepoint``), as a PL/pgSQL block's EXCEPTION handler
        rolls back what its body did. The history stays, and so do unanalysed marks: what the
        model could not know stays unknown."""
        history, depth = (self.notes, self.unanalysed, self.unanalysed_spans, self.targets), self.trigger_depth
        marks = {qname: table.unanalysed for qname, table in self.tables.items() if table.unanalysed}
        self.__dict__.update(snapshot.__dict__)
        (self.notes, self.unanalysed, self.unanalysed_spans, self.targets), self.trigger_depth = history, depth
        for qname, marked in marks.items():
            if qname in self.tables:
                self.tables[qname] = evolve(self.tables[qname], unanalysed=marked)

    def new_session(self) -> None:
        """Each migration runs in a fresh session: default search_path, no transaction."""
        self.search_path = DEFAULT_SEARCH_PATH
        self.in_transaction, self.path_before_local = False, None
        self.access.new_session()

    def catalog(self) -> Catalog:
        access, tables = self.access.model(dict(self.tables))
        return Catalog(frozenset(self.schemas), MappingProxyType(tables), tuple(self.notes),
                       MappingProxyType(self._final_targets()), access, self._unanalysed_statements())

    def not_analysed(self, span: Span, why: str, changes_tables: bool = True) -> None:
        """A statement the replay cannot know: it may have changed any table that exists now.
        One that can change no table (``changes_tables``) leaves the model exact: a note says why."""
        if not changes_tables:
            self.notes.append(Note(span, f"{why}; what it may run changes no table"))
            return
        # Only a statement reached before (a loop, a second call) can be on a table already:
        # asking every table of a big history about every statement was quadratic.
        again = span in self.unanalysed_spans
        self.unanalysed.append(Note(span, why))
        self.unanalysed_spans.add(span)
        for qname, table in list(self.tables.items()):
            if not self.is_platform(qname.schema):
                if not (again and span in table.unanalysed):
                    self.tables[qname] = evolve(table, unanalysed=table.unanalysed + (span,))

    def _unanalysed_statements(self) -> tuple[Note, ...]:
        """One note per statement not analysed, in the order first reached, with how many times
        it was (each round of a loop, each call of a function reaches it again)."""
        by_span: dict[Span, Note] = {}
        for note in self.unanalysed:
            seen = by_span.get(note.span)
            by_span[note.span] = note if seen is None else evolve(seen, times=seen.times + 1)
        return tuple(by_span.values())

    def target(self, stmt: Statement, table: Table) -> None:
        """Record that ``stmt`` creates or alters ``table``."""
        self.targets.setdefault((stmt.span.path, stmt.span.start), []).append(table.created)

    def _final_targets(self) -> dict[tuple[str, int], tuple[QName, ...]]:
        """Each statement's tables under their names after the whole history; dropped ones are gone."""
        by_creation: dict[Span, list[QName]] = {}
        for table in self.tables.values():
            by_creation.setdefault(table.created, []).append(table.qname)
        found = {}
        for statement, created in self.targets.items():
            names = tuple(q for span in created for q in by_creation.get(span, ()))
            if names:
                found[statement] = names
        return found

    def note(self, stmt: Statement, message: str) -> None:
        self.notes.append(Note(stmt.span, message))

    def rejected(self, stmt: Statement, why: str, sqlstate: str = "") -> None:
        """A statement PostgreSQL would refuse (``why``: what already exists or cannot be), with
        the SQLSTATE of its error ("" when it is not known)."""
        self.failure = (sqlstate, why)
        if stmt.embedded:
            # Inside a DO block such a statement usually sits behind an IF NOT EXISTS guard or
            # an EXCEPTION handler, so PostgreSQL never fails on it.
            self.note(stmt, f"{why}; not applied again (a DO block guard or exception handler skips it)")
        else:
            self.note(stmt, f"{why}; PostgreSQL would reject this statement")

    def unmodelled(self, stmt: Statement, message: str) -> None:
        if self.strict:
            raise UnmodelledStatement(f"{stmt.span.path}:{stmt.span.start}: {message}")
        self.note(stmt, message)

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

    def relation(self, stmt: Statement, rangevar: Node, missing_ok: bool = False) -> Table | None:
        """The table a RangeVar names; unknown tables outside platform schemas become notes."""
        schema, name = rangevar.get("schemaname"), rangevar["relname"]
        qname = self.lookup(schema, name)
        if qname is not None:
            return self.tables[qname]
        if not missing_ok and not self.is_platform(schema) and rangevar.get("relpersistence") != "t":
            shown = f"{schema}.{name}" if schema else name
            self.note(stmt, f"table {shown} is not created by these migrations; statement not replayed")
        return None

    def find_index(self, schema: str | None, name: str) -> tuple[QName, Index] | None:
        for candidate in (schema,) if schema else self.search_path:
            owner = self.tables.index_owner.get((candidate, name))
            if owner is not None and owner in self.tables:
                index = next((i for i in self.tables[owner].indexes if i.name == name), None)
                if index is not None:
                    return owner, index
        return None

    def put(self, stmt: Statement, table: Table) -> None:
        """Store the table as changed by ``stmt``."""
        self.tables[table.qname] = evolve(table, changed=stmt.span)

    def missing_column(self, qname: QName, names: Iterable[str | None]) -> str | None:
        """The first of ``names`` the table certainly lacks: PostgreSQL refuses an index, key,
        foreign key or policy on it. None when the table has them all, and whenever the model
        does not know all of the table's columns (``Table.columns_known``, dynamic SQL)."""
        table = self.tables.get(qname)
        if table is None or not table.columns_known or table.unanalysed:
            return None
        return next((n for n in names if n and n not in SYSTEM_COLUMNS and table.column(n) is None), None)

    def has_column(self, qname: QName, column: str) -> bool:
        table = self.tables.get(qname)
        return table is not None and table.column(column) is not None

    # --- partitions -------------------------------------------------------------------

    def ancestors(self, qname: QName) -> list[QName]:
        """The table and every partitioned table above it."""
        chain = [qname]
        while (table := self.tables.get(chain[-1])) is not None and table.partition_of is not None:
            if table.partition_of in chain:
                break
            chain.append(table.partition_of)
        return chain

    def partitions_of(self, qname: QName) -> list[QName]:
        children = self.tables.children.get(qname)
        return [child for child, count in children.items() if count > 0] if children else []


def clause(stmt: Statement, location: int | None) -> Span:
    """The span of the clause (a column or table constraint, an ALTER TABLE subcommand)
    starting at a node's location: up to the ``,`` or ``)`` that ends it, not the statement."""
    if location is None or location < 0:
        return stmt.span
    offset = location - stmt.span.start
    if not 0 <= offset < len(stmt.text):
        return Span(stmt.span.path, location, stmt.span.end)
    return Span(stmt.span.path, location, stmt.span.start + clause_end(stmt.text, offset))


def expr(stmt: Statement, tree: Node | None, clause_name: str) -> Expr | None:
    return None if tree is None else Expr(tree, stmt.text, clause_name, stmt.span)
