"""The schema model in the shape tests/pgharness.py reads from PostgreSQL's catalog."""

from __future__ import annotations

import json

from rlslint.schema.model import ON_DELETE, Catalog


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
