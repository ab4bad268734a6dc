"""The schema model in the shape tests/support/pgharness.py reads from PostgreSQL's catalog."""

from __future__ import annotations

import json

from rlslint.schema import acl
from rlslint.schema.model import ON_DELETE, PRIVILEGES, Catalog


def _sorted(items: list) -> list:
    return sorted(items, key=lambda item: json.dumps(item))


def model_snapshot(catalog: Catalog) -> dict:
    tables = {}
    for qname, table in catalog.tables.items():
        tables[str(qname)] = {
            "kind": table.kind,
            "rls": table.rls,
            "force_rls": table.force_rls,
            "columns": [[c.name, c.not_null] for c in table.columns],
            "policies": {
                p.name: {"command": p.command, "permissive": p.permissive, "roles": sorted(p.roles)} for p in table.policies
            },
            "indexes": _sorted([[list(i.columns), i.unique, i.partial, i.primary] for i in table.indexes]),
            "foreign_keys": _sorted(
                [[list(fk.columns), str(fk.ref_table), list(fk.ref_columns), ON_DELETE[fk.on_delete]] for fk in table.foreign_keys]
            ),
        }
    return {"tables": tables}


def model_access(catalog: Catalog) -> dict:
    """The model's roles and privileges in the shape of tests/support/pgharness.access_snapshot,
    each answer computed by rlslint.schema.acl as PostgreSQL's has_*_privilege computes it."""
    access = catalog.access
    roles = sorted(r for r in access.roles if r != access.migration_role)
    out: dict = {
        "roles": {r: [access.roles[r].superuser, access.roles[r].bypassrls, access.roles[r].inherit, access.roles[r].login]
                  for r in roles},
        "memberships": _sorted([[m.role, m.member, m.inherit] for m in access.memberships
                                if m.role in roles and m.member in roles]),
        "privileges_of": {r: sorted(access.privileges_of(r) - {acl.PUBLIC}) for r in roles},
    }
    schemas = set(catalog.schemas) | set(access.schema_acl)
    out["schemas"] = {s: _sorted([[r, p] for r in roles for p in PRIVILEGES["schema"] if acl.has_schema_privilege(access, r, s, p)])
                      for s in schemas}
    out["functions"] = {f"{f.schema}.{f.name}({','.join(f.args)})": sorted(r for r in roles if acl.has_function_privilege(access, r, f))
                        for f in access.routines}
    out["sequences"] = {f"{q.schema}.{q.name}": _sorted([[r, p] for r in roles for p in PRIVILEGES["sequence"]
                                                         if acl.holds(access, r, grants, p)])
                        for q, grants in access.sequence_acl.items()}
    out["tables"] = {}
    for qname, table in catalog.tables.items():
        whole = [[r, p] for r in roles for p in PRIVILEGES["table"] if acl.has_table_privilege(access, r, table, p)]
        columns = [[r, c.name, p] for r in roles for c in table.columns for p in PRIVILEGES["column"]
                   if acl.has_column_privilege(access, r, table, c.name, p) and not acl.has_table_privilege(access, r, table, p)]
        out["tables"][str(qname)] = {"owner": table.owner, "privileges": _sorted(whole), "column_privileges": _sorted(columns)}
    return out
