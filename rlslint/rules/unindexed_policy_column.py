"""
## What it flags
A column that a policy compares with `=`, `IN` or `= ANY` and that leads no valid,
non-partial index of its table. Columns of other tables filtered inside a policy's
sub-select (`exists (select 1 from members m where m.user_id = auth.uid())`) count for
those tables.

## Why it matters
A policy is an extra `WHERE` clause on every query against the table. Without an index
on the column it filters on, each request becomes a sequential scan: fine with a hundred
rows, a timeout with a million. Supabase's RLS performance guide lists indexing policy
columns as the first fix.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Diagnostic, Severity
from rlslint.rules._predicates import compared_columns, leads_index
from rlslint.rules.base import Rule, RuleContext
from rlslint.sql.names import quote_ident


def check(rule: Rule, ctx: RuleContext) -> Iterator[Diagnostic]:
    for table in ctx.catalog.tables.values():
        for policy in table.policies:
            seen: set[tuple] = set()
            for expr in (policy.using, policy.with_check):
                if expr is None:
                    continue
                for use in compared_columns(expr, table, ctx.catalog):
                    key = (use.table, use.column)
                    target = ctx.catalog.table(use.table)
                    if key in seen or target is None or leads_index(target, (use.column,)):
                        continue
                    seen.add(key)
                    yield rule.diagnostic(
                        ctx,
                        use.span,
                        f'policy "{policy.name}" on {table.qname} filters on {use.table}.{quote_ident(use.column)}, '
                        "which no index leads: every query on the table scans it",
                        str(use.table),
                        f"CREATE INDEX ON {use.table} ({quote_ident(use.column)});",
                        columns=(use.column,),
                        detail=f"{table.qname}:{policy.name}",
                    )


RULE = Rule(
    code="IDX002",
    name="unindexed-policy-column",
    summary="A column a policy filters on is not indexed",
    default_severity=Severity.WARNING,
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
