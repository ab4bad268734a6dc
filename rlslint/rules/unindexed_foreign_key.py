"""
## What it flags
A foreign key whose columns are not the leading columns (in any order) of a valid,
non-partial index, primary key or unique constraint on the referencing table.

## Why it matters
PostgreSQL indexes the referenced side of a foreign key, never the referencing side.
Every `DELETE` or key `UPDATE` on the parent (deleting a user, say) then scans the whole
child table to find dependent rows, under lock, and joins along the key cannot use an
index. Supabase's performance advisor reports the same problem on a live database.
When policies also filter on the column, the message says so: one index serves both, and
IDX002 does not report the column again.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._predicates import create_index_sql, leads_index, policy_filters, policy_names
from rlslint.rules.base import PARTITION_PARENT, Rule, RuleContext
from rlslint.sql.names import quote_ident


def check(ctx: RuleContext) -> Iterator[Finding]:
    filters = None  # the policies' compared columns, worked out at the first unindexed key
    for table in ctx.tables():
        parent = ctx.catalog.table(table.partition_of) if table.partition_of else None
        for fk in table.foreign_keys:
            if leads_index(table, fk.columns):
                continue
            if parent is not None and any(p.columns == fk.columns and p.ref_table == fk.ref_table for p in parent.foreign_keys):
                continue  # cloned from the partitioned parent: reported there once
            columns = ", ".join(quote_ident(c) for c in fk.columns)
            if filters is None:
                filters = ctx.shared(policy_filters)
            policies = _policies(filters.get((table.qname, fk.columns[0], None), ())) if len(fk.columns) == 1 else ""
            yield Finding(
                fk.clause,
                f"foreign key {fk.name} on {table.qname} ({columns}) has no index: deletes from {fk.ref_table} "
                f"and joins on this key scan the whole table{policies}",
                Subject.of(Kind.FOREIGN_KEY, table, columns=fk.columns, constraint=fk.name),
                create_index_sql(ctx.catalog, table, fk.columns),
            )


def _policies(refs) -> str:
    """``, and policy "a" on public.x filters on it: every query it guards scans the table too``."""
    if not refs:
        return ""
    several = len({(ref.table, ref.policy) for ref in refs}) > 1
    return (f", and {'policies' if several else 'policy'} {policy_names(refs)} {'filter' if several else 'filters'} "
            f"on it: every query {'they guard' if several else 'it guards'} scans it too")


RULE = Rule(
    code="IDX001",
    name="unindexed-foreign-key",
    summary="Foreign-key columns are not covered by an index",
    default_severity=Severity.WARNING,
    tags=("performance",),
    checklist=True,
    cells=("FKs indexed",),
    fires_when="the FK's columns are not the leading columns (in any order) of a valid, non-partial index, primary key or unique constraint",
    points_at="the FK's `REFERENCES` / `FOREIGN KEY` clause",
    check=check,
    reads=(PARTITION_PARENT,),
    docs=__doc__,
    bad=(
        "create schema app;\ncreate table app.teams (id bigint primary key);\n"
        "create table app.members (id bigint primary key, team_id bigint references app.teams (id) on delete cascade);",
        "create schema app;\ncreate table app.teams (id bigint primary key);\n"
        "create table app.members (id bigint primary key, team_id bigint references app.teams (id));\n"
        "create index on app.members (team_id) where team_id is not null;",
    ),
    good=(
        "create schema app;\ncreate table app.teams (id bigint primary key);\n"
        "create table app.members (id bigint primary key, team_id bigint references app.teams (id));\n"
        "create index on app.members (team_id, id);",
        "create schema app;\ncreate table app.teams (id bigint primary key);\n"
        "create table app.members (team_id bigint references app.teams (id), user_id uuid, primary key (team_id, user_id));",
    ),
)
