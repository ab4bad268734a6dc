"""The catalogs a PL/pgSQL loop reads, answered from the model at that point of the replay.

Each view gives the rows the model knows, and *probe* rows shaped like them for what the
model does not hold: tables of the system and platform schemas, and, in ``pg_class``, the
views, sequences and other relations the replay does not model. A query whose conditions
admit a probe row could see objects the migrations do not create, so its answer is unknown
(schema/plpgsql.py says so instead of guessing).

Object identifiers are spelled as names: a table's ``oid`` is its qualified name, which is
what ``oid::regclass`` prints, and a schema's ``oid`` is the schema's name, so
``c.relnamespace = n.oid`` and ``c.relnamespace = 'public'::regnamespace`` compare as in
PostgreSQL.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from rlslint.schema.model import Table
from rlslint.sql.names import QName

Row = dict[str, Any]

# Schemas whose tables the model does not hold.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "auth", "storage", "extensions")
_UNSEEN = "\x00"  # a name no object has: probe rows match only conditions that would admit anything
# pg_class kinds the replay does not model: views, materialized views, sequences, foreign tables, types
_UNMODELLED_KINDS = ("v", "m", "S", "f", "c")


def view(schema: str | None, name: str, tables: Mapping[QName, Table],
         schemas: Iterable[str]) -> tuple[list[Row], list[Row]] | None:
    """(the rows the model knows, the probe rows) of a catalog view, or None if it is not one."""
    pg_catalog = schema in (None, "pg_catalog")
    known = list(tables.values())
    if pg_catalog and name == "pg_tables":
        return ([{"schemaname": t.qname.schema, "tablename": t.qname.name, "rowsecurity": t.rls} for t in known],
                [{"schemaname": s, "tablename": _UNSEEN, "rowsecurity": False} for s in SYSTEM_SCHEMAS])
    if schema == "information_schema" and name == "tables":
        return ([{"table_schema": t.qname.schema, "table_name": t.qname.name, "table_type": "BASE TABLE"} for t in known],
                [{"table_schema": s, "table_name": _UNSEEN, "table_type": "BASE TABLE"} for s in SYSTEM_SCHEMAS])
    if schema == "information_schema" and name == "columns":
        return ([{"table_schema": t.qname.schema, "table_name": t.qname.name, "column_name": c.name}
                 for t in known for c in t.columns],
                [{"table_schema": s, "table_name": _UNSEEN, "column_name": _UNSEEN} for s in SYSTEM_SCHEMAS])
    if pg_catalog and name == "pg_policies":
        return ([{"schemaname": t.qname.schema, "tablename": t.qname.name, "policyname": p.name, "cmd": p.command,
                  "permissive": "PERMISSIVE" if p.permissive else "RESTRICTIVE"} for t in known for p in t.policies],
                [{"schemaname": s, "tablename": _UNSEEN, "policyname": _UNSEEN, "cmd": _UNSEEN,
                  "permissive": "PERMISSIVE"} for s in SYSTEM_SCHEMAS])
    if pg_catalog and name == "pg_namespace":
        held = sorted(set(schemas))
        return ([{"oid": s, "nspname": s} for s in held],
                [{"oid": s, "nspname": s} for s in SYSTEM_SCHEMAS if s not in held])
    if pg_catalog and name == "pg_class":
        rows = [_relation(t.qname.schema, str(t.qname), t.qname.name, t.kind, t.rls, t.force_rls) for t in known]
        rows += [_relation(t.qname.schema, str(QName(t.qname.schema, i.name)), i.name, "i", False, False)
                 for t in known for i in t.indexes]
        every = sorted(set(schemas) | set(SYSTEM_SCHEMAS))
        probes = [_relation(s, _UNSEEN, _UNSEEN, "r", False, False) for s in SYSTEM_SCHEMAS]
        probes += [_relation(s, _UNSEEN, _UNSEEN, kind, False, False) for s in every for kind in _UNMODELLED_KINDS]
        return rows, probes
    return None


def _relation(schema: str, oid: str, name: str, kind: str, rls: bool, force: bool) -> Row:
    return {"oid": oid, "relname": name, "relnamespace": schema, "relkind": kind, "relrowsecurity": rls,
            "relforcerowsecurity": force}
