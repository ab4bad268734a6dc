"""The catalogs PL/pgSQL reads, answered from the model at that point of the replay.

Each view gives the rows the model knows, and *probe* rows shaped like them for what the
model does not hold: tables and views of the system and platform schemas, and, in
``pg_class``, the sequences and other relations the replay does not model (the views the
migrations create it knows by name: schema/views.py); CHECK constraints; the
roles and extensions the platform brings. A query whose conditions admit a probe row could
see objects the migrations do not create, so its answer is unknown (schema/plpgsql.py says
so instead of guessing), unless a row the model knows already decides it (``EXISTS``).

A probe's name is either ``UNSEEN``, a name no object has (so ``relname = 'orders'`` passes
it by and ``relname <> 'orders'`` does not), or an ``Unseen`` value, for names the model
cannot rule out: any comparison of a name it admits is unknown.

Object identifiers stand for what they identify: a relation's ``oid`` is a ``Relation``,
which ``oid::regclass`` prints as PostgreSQL does (schema/plpgsql.py), and a schema's ``oid``
is the schema's name, so ``c.relnamespace = n.oid`` and ``c.relnamespace =
'public'::regnamespace`` compare as in PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from rlslint import platform
from rlslint.schema.model import Table
from rlslint.sql.names import QName

Row = dict[str, Any]


class Unknown(Exception):
    """A value the model cannot give; the message says which."""


@dataclass(frozen=True)
class Relation:
    """A relation's oid; ``regclass``: cast to regclass, so it prints as a name, not a number."""

    qname: QName
    regclass: bool = field(default=False, compare=False)


class Model(Protocol):
    """What the views read, live: the replay's state as the statements produced so far left it."""

    tables: Mapping[QName, Table]
    schemas: set[str]
    views: set[QName]  # the views the migrations created, by name (schema/views.py)
    extensions: set[str]  # the extensions the migrations created
    access: Any  # schema/access.py's AccessState: roles, routines, schema owners, the platform

    def is_platform(self, schema: str | None) -> bool: ...


# Schemas whose tables the model does not hold.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "auth", "storage", "extensions")
UNSEEN = "\x00"  # a name no object has: probe rows match only conditions that would admit anything
# pg_class kinds the replay does not model: materialized views, sequences, foreign tables, types
# (views it knows by name, in the schemas the migrations write to)
_UNMODELLED_KINDS = ("m", "S", "f", "c")


@dataclass(frozen=True)
class Unseen:
    """A probe's value for objects the model does not hold and whose names it cannot rule out
    (``admits``): a comparison that may hold for one of them is unknown."""

    why: str
    admits: Callable[[str], bool] = lambda name: True

    def __bool__(self) -> bool:
        raise Unknown(self.why)


def view(schema: str | None, name: str, model: Model) -> tuple[list[Row], list[Row]] | None:
    """(the rows the model knows, the probe rows) of a catalog view, or None if it is not one.

    An unqualified name is pg_catalog's: PostgreSQL searches pg_catalog first."""
    build = _VIEWS.get((schema or "pg_catalog", name))
    return None if build is None else build(model)


class _EachTable:
    """A view's rows, table by table, kept while the table is the same (frozen) object: a
    guard per table reads the view again after each statement, which changes one table.
    The rows are shared between queries, so nothing may change them."""

    def __init__(self, rows_of: Callable[[Table], list[Row]]) -> None:
        self.rows_of = rows_of
        self.kept: dict[int, tuple[Table, list[Row]]] = {}

    def __call__(self, model: Model) -> list[Row]:
        kept, rows = {}, []
        for table in model.tables.values():
            entry = self.kept.get(id(table))
            if entry is None or entry[0] is not table:
                entry = (table, self.rows_of(table))
            kept[id(table)] = entry
            rows += entry[1]
        self.kept = kept
        return rows


_TABLES = _EachTable(lambda t: [{"schemaname": t.qname.schema, "tablename": t.qname.name, "rowsecurity": t.rls}])
_INFORMATION_SCHEMA_TABLES = _EachTable(
    lambda t: [{"table_schema": t.qname.schema, "table_name": t.qname.name,
                "table_type": "FOREIGN" if t.kind == "f" else "BASE TABLE"}])
_COLUMNS = _EachTable(lambda t: [{"table_schema": t.qname.schema, "table_name": t.qname.name, "column_name": c.name}
                                 for c in t.columns])
_POLICIES = _EachTable(lambda t: [{"schemaname": t.qname.schema, "tablename": t.qname.name, "policyname": p.name,
                                   "cmd": p.command, "permissive": "PERMISSIVE" if p.permissive else "RESTRICTIVE"}
                                  for p in t.policies])


def _pg_tables(model: Model) -> tuple[list[Row], list[Row]]:
    return _TABLES(model), [{"schemaname": s, "tablename": UNSEEN, "rowsecurity": False} for s in SYSTEM_SCHEMAS]


def _information_schema_tables(model: Model) -> tuple[list[Row], list[Row]]:
    """The views too: a loop without a table_type filter gets them, as in PostgreSQL."""
    views = [{"table_schema": v.schema, "table_name": v.name, "table_type": "VIEW"} for v in sorted(model.views)]
    return _INFORMATION_SCHEMA_TABLES(model) + views, [{"table_schema": s, "table_name": UNSEEN, "table_type": kind}
                                                       for s in SYSTEM_SCHEMAS for kind in ("BASE TABLE", "VIEW")]


def _information_schema_columns(model: Model) -> tuple[list[Row], list[Row]]:
    return _COLUMNS(model), [{"table_schema": s, "table_name": UNSEEN, "column_name": UNSEEN} for s in SYSTEM_SCHEMAS]


def _pg_policies(model: Model) -> tuple[list[Row], list[Row]]:
    return (_POLICIES(model), [{"schemaname": s, "tablename": UNSEEN, "policyname": UNSEEN, "cmd": UNSEEN,
                                "permissive": "PERMISSIVE"} for s in SYSTEM_SCHEMAS])


def _pg_namespace(model: Model) -> tuple[list[Row], list[Row]]:
    """The schemas the migrations created, PostgreSQL's own, and on Supabase the platform's
    that the model knows; any other name the platform may use (``realtime``, ``pg_temp_3``,
    ``supabase_functions``) is unknown."""
    held = set(model.schemas) | {"pg_catalog", "information_schema"}
    if model.access.platform == "supabase":
        held |= set(platform.SUPABASE_SCHEMAS)
    unseen = Unseen("pg_namespace: the schemas the platform has are not all known",
                    lambda name: name not in held and model.is_platform(name))
    return [{"oid": s, "nspname": s} for s in sorted(held)], [{"oid": unseen, "nspname": unseen}]


def _information_schema_schemata(model: Model) -> tuple[list[Row], list[Row]]:
    rows, probes = _pg_namespace(model)
    return [{"schema_name": r["nspname"]} for r in rows], [{"schema_name": r["nspname"]} for r in probes]


_RELATIONS = _EachTable(lambda t: [_relation(t.qname.schema, t.qname.name, t.kind, t.rls, t.force_rls)]
                        + [_relation(t.qname.schema, i.name, "i", False, False) for i in t.indexes])


def _pg_class(model: Model) -> tuple[list[Row], list[Row]]:
    every = sorted(set(model.schemas) | set(SYSTEM_SCHEMAS))
    probes = [_relation(s, UNSEEN, kind, False, False) for s in SYSTEM_SCHEMAS for kind in ("r", "v")]
    probes += [_relation(s, UNSEEN, kind, False, False) for s in every for kind in _UNMODELLED_KINDS]
    return _RELATIONS(model) + [_relation(v.schema, v.name, "v", False, False) for v in sorted(model.views)], probes


def _relation(schema: str, name: str, kind: str, rls: bool, force: bool) -> Row:
    return {"oid": Relation(QName(schema, name)), "relname": name, "relnamespace": schema, "relkind": kind,
            "relrowsecurity": rls, "relforcerowsecurity": force}


# indexdef is not held: a query that reads it is unknown
_INDEXES = _EachTable(lambda t: [{"schemaname": t.qname.schema, "tablename": t.qname.name, "indexname": i.name}
                                 for i in t.indexes])


def _pg_indexes(model: Model) -> tuple[list[Row], list[Row]]:
    every = sorted(set(model.schemas) | set(SYSTEM_SCHEMAS))  # indexes of materialized views, of the platform's tables
    return _INDEXES(model), [{"schemaname": s, "tablename": UNSEEN, "indexname": UNSEEN} for s in every]


# pg_constraint.contype of what the model holds, and information_schema's constraint_type
_CONSTRAINT_TYPES = {"p": "PRIMARY KEY", "u": "UNIQUE", "f": "FOREIGN KEY", "c": "CHECK"}
# CHECK and EXCLUDE constraints are not held (nor, in information_schema, the NOT NULL
# constraints PostgreSQL shows there as CHECK): their names are assumed to be none that a
# query asks for, as the tables of the system schemas are
_UNHELD_CONSTRAINTS = ("c", "x")


def _held_constraints(t: Table) -> list[tuple[str, str, QName, QName | None]]:
    """(name, contype, table, referenced table or None) of each constraint the model holds on ``t``."""
    return ([(i.name, "p" if i.primary else "u", t.qname, None) for i in t.indexes if i.constraint]
            + [(fk.name, "f", t.qname, fk.ref_table) for fk in t.foreign_keys])


def _constraint_probes(model: Model) -> list[tuple[str, str, str, Unseen]]:
    """(schema, name, contype, table): in each schema, the kinds not held, on any of its tables."""
    any_table = Unseen("the query can see constraints the model does not hold (CHECK, EXCLUDE, the platform's)")
    probes = [(s, UNSEEN, kind, any_table) for s in sorted(set(model.schemas) - set(SYSTEM_SCHEMAS))
              for kind in _UNHELD_CONSTRAINTS]
    return probes + [(s, UNSEEN, kind, any_table) for s in SYSTEM_SCHEMAS for kind in ("p", "u", "f", "c", "x")]


def _pg_constraint_row(schema: str, name: str, kind: str, table: Relation | Unseen, referenced: QName | None) -> Row:
    return {"oid": f"{schema}.{name}", "conname": name, "connamespace": schema, "contype": kind, "conrelid": table,
            "confrelid": Relation(referenced) if referenced else 0}


_PG_CONSTRAINTS = _EachTable(lambda t: [_pg_constraint_row(t.qname.schema, name, kind, Relation(table), referenced)
                                        for name, kind, table, referenced in _held_constraints(t)])


def _pg_constraint(model: Model) -> tuple[list[Row], list[Row]]:
    return _PG_CONSTRAINTS(model), [_pg_constraint_row(s, name, kind, table, None)
                                    for s, name, kind, table in _constraint_probes(model)]


def _table_constraint_row(schema: str, name: str, kind: str, table: str | Unseen) -> Row:
    return {"constraint_schema": schema, "constraint_name": name, "table_schema": schema, "table_name": table,
            "constraint_type": _CONSTRAINT_TYPES.get(kind, "EXCLUDE")}


_TABLE_CONSTRAINTS = _EachTable(lambda t: [_table_constraint_row(t.qname.schema, name, kind, table.name)
                                           for name, kind, table, _ in _held_constraints(t)])


def _information_schema_table_constraints(model: Model) -> tuple[list[Row], list[Row]]:
    return _TABLE_CONSTRAINTS(model), [_table_constraint_row(s, name, kind, table)
                                       for s, name, kind, table in _constraint_probes(model)
                                       if kind != "x"]  # EXCLUDE is not shown there


def _pg_proc(model: Model) -> tuple[list[Row], list[Row]]:
    # Functions an extension creates are not held either: probes in every schema
    rows = [{"oid": f"{r.schema}.{r.name}", "proname": r.name, "pronamespace": r.schema, "prokind": "p" if r.procedure else "f"}
            for r in model.access.routines.values()]
    every = sorted(set(model.schemas) | set(SYSTEM_SCHEMAS))
    return rows, [{"oid": UNSEEN, "proname": UNSEEN, "pronamespace": s, "prokind": kind} for s in every for kind in "fpa"]


def _pg_extension(model: Model) -> tuple[list[Row], list[Row]]:
    # The platform installs extensions (and a database may have more): any name not created
    # by the migrations may be one of them. Where each lives is not held (extnamespace).
    unseen = Unseen("pg_extension: extensions installed before the migrations ran are not known")
    return ([{"oid": name, "extname": name} for name in sorted(model.extensions | {"plpgsql"})],
            [{"oid": unseen, "extname": unseen}])


def _pg_roles(model: Model) -> tuple[list[Row], list[Row]]:
    rows = [{"oid": r.name, "rolname": r.name, "rolsuper": r.superuser, "rolinherit": r.inherit,
             "rolcanlogin": r.login, "rolbypassrls": r.bypassrls} for r in model.access.roles.values()]
    unseen = _unseen_roles(model)
    return rows, [{"oid": unseen, "rolname": unseen, "rolsuper": unseen, "rolinherit": unseen, "rolcanlogin": unseen,
                   "rolbypassrls": unseen}]


def _pg_user(model: Model) -> tuple[list[Row], list[Row]]:
    rows = [{"usesysid": r.name, "usename": r.name, "usesuper": r.superuser, "usebypassrls": r.bypassrls}
            for r in model.access.roles.values() if r.login]
    unseen = _unseen_roles(model)
    return rows, [{"usesysid": unseen, "usename": unseen, "usesuper": unseen, "usebypassrls": unseen}]


def _unseen_roles(model: Model) -> Unseen:
    """PostgreSQL's predefined roles (pg_*), and on Supabase the platform's own."""
    prefixes = ("pg_",) + (platform.SUPABASE_UNMODELLED_ROLE_PREFIXES if model.access.platform == "supabase" else ())
    others = platform.SUPABASE_UNMODELLED_ROLES if model.access.platform == "supabase" else ()
    return Unseen("pg_roles: the roles the platform has are not all known",
                  lambda name: name.startswith(prefixes) or name in others)


_VIEWS: dict[tuple[str, str], Callable[[Model], tuple[list[Row], list[Row]]]] = {
    ("pg_catalog", "pg_tables"): _pg_tables,
    ("pg_catalog", "pg_policies"): _pg_policies,
    ("pg_catalog", "pg_namespace"): _pg_namespace,
    ("pg_catalog", "pg_class"): _pg_class,
    ("pg_catalog", "pg_indexes"): _pg_indexes,
    ("pg_catalog", "pg_constraint"): _pg_constraint,
    ("pg_catalog", "pg_proc"): _pg_proc,
    ("pg_catalog", "pg_extension"): _pg_extension,
    ("pg_catalog", "pg_roles"): _pg_roles,
    ("pg_catalog", "pg_user"): _pg_user,
    ("information_schema", "tables"): _information_schema_tables,
    ("information_schema", "columns"): _information_schema_columns,
    ("information_schema", "schemata"): _information_schema_schemata,
    ("information_schema", "table_constraints"): _information_schema_table_constraints,
}
