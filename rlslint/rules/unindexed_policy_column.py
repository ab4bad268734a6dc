"""
## What it flags
A column that a policy compares with `=`, `IN` or `= ANY` and that leads no valid,
non-partial index of its table. Columns of other tables filtered inside a policy's
sub-select (`exists (select 1 from members m where m.user_id = auth.uid())`) count for
those tables. Each column is reported once, at the first policy reference to it; the
message names every policy that filters on it.

## Why it matters
A policy is an extra `WHERE` clause on every query against the table. Without an index
on the column it filters on, each request becomes a sequential scan: fine with a hundred
rows, a timeout with a million. Supabase's RLS performance guide lists indexing policy
columns as the first fix.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._predicates import compared_columns, create_index_sql, leads_index
from rlslint.rules.base import Rule, RuleContext
from rlslint.sql.names import QName, quote_ident
from rlslint.sql.spans import Span


def check(ctx: RuleContext) -> Iterator[Finding]:
    # One finding per column, not per policy: one index fixes every policy that filters on it.
    uses: dict[tuple[QName, str], list[tuple[Span, QName, str]]] = {}
    for table in ctx.catalog.tables.values():
        for policy in table.policies:
            for expr in (policy.using, policy.with_check):
                if expr is None:
                    continue
                for use in compared_columns(expr, table, ctx.catalog):
                    uses.setdefault((use.table, use.column), []).append((use.span, table.qname, policy.name))
    for (qname, column), refs in uses.items():
        target = ctx.catalog.table(qname)
        if target is None or leads_index(target, (column,)):
            continue
        refs.sort(key=lambda ref: ref[0])  # source order: file, then offset
        several = len({(table, name) for _, table, name in refs}) > 1
        yield Finding(
            refs[0][0],
            f"{_policies(refs, several)} on {qname}.{quote_ident(column)}, which no index leads: "
            f"every query {'these policies guard' if several else 'this policy guards'} scans the table",
            Subject.of(Kind.COLUMN, target, columns=(column,)),
            create_index_sql(ctx.catalog, target, (column,)),
        )


def _policies(refs: list[tuple[Span, QName, str]], several: bool) -> str:
    """``policy "a" on public.x filters`` / ``policies "a", "b" on public.x filter``."""
    by_table: dict[QName, list[str]] = {}
    for _, table, name in refs:
        if name not in by_table.setdefault(table, []):
            by_table[table].append(name)
    parts = [", ".join(f'"{name}"' for name in names) + f" on {table}" for table, names in by_table.items()]
    return ("policies " if several else "policy ") + " and ".join(parts) + (" filter" if several else " filters")


RULE = Rule(
    code="IDX002",
    name="unindexed-policy-column",
    summary="A column a policy filters on is not indexed",
    default_severity=Severity.WARNING,
    tags=("performance",),
    checklist=True,
    fires_when="a column a policy compares (`=`, `IN`, `= ANY`) leads no such index; columns of other tables filtered in a policy's sub-select count for those tables",
    points_at="the column reference in the policy",
    check=check,
    docs=__doc__,
    bad=(
        "create table public.posts (id bigint primary key, author_id uuid not null);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_own on public.posts for all using ((select auth.uid()) = author_id);",
        "create table public.members (team_id bigint, user_id uuid, primary key (team_id, user_id));\n"
        "create table public.docs (id bigint primary key, team_id bigint);\n"
        "create index on public.docs (team_id);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_team on public.docs for all using (\n"
        "  exists (select 1 from public.members m where m.team_id = docs.team_id and m.user_id = (select auth.uid())));",
    ),
    good=(
        "create table public.posts (id bigint primary key, author_id uuid not null);\n"
        "create index posts_author_id_idx on public.posts (author_id);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_own on public.posts for all using ((select auth.uid()) = author_id);",
        "create table public.posts (id bigint primary key, published boolean);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_public on public.posts for select using (published);",
    ),
)
