"""
## What it flags
A policy whose `USING` or `WITH CHECK` calls `auth.uid()`, `auth.jwt()`, `auth.role()`,
`auth.email()` or `current_setting(…)` outside a scalar sub-select such as
`(select auth.uid())`, on a table with Row Level Security enabled. Calls inside `EXISTS`
or `IN` sub-selects count too: they run once per row the sub-select reads. Every policy
that some role without BYPASSRLS is subject to is considered (one `TO PUBLIC` runs for the
queries of the application's own role too); a policy only for roles that bypass RLS never
runs. The finding points at the first such call; the message names them all.

## Why it matters
These functions are `STABLE`, not `IMMUTABLE`, so PostgreSQL calls them again for every
row the policy filters: on a large table the policy costs more than the query. Wrapped in
`(select …)` the call becomes an InitPlan that runs once per statement and the planner can
use an index on the compared column. Supabase's RLS performance guide and its database
advisor (`auth_rls_initplan`) recommend the wrapped form. The fix re-states the policy's
expressions with every call wrapped.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._predicates import token_end
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema.model import Policy, Table
from rlslint.sql.deparse import wrapped_calls_sql
from rlslint.sql.names import quote_ident
from rlslint.sql.spans import Span


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if not table.rls:
            continue  # policies are not evaluated at all: policy-without-rls / table-without-rls
        for policy in table.policies:
            if not ctx.enforced(policy, table):
                continue  # only roles that bypass RLS are subject to it: it never runs
            calls = {clause: ctx.facts(expr, table).per_row_calls for clause, expr in (("USING", policy.using), ("WITH CHECK", policy.with_check))
                     if expr is not None}
            found = [(clause, name, at) for clause, hits in calls.items() for name, at in hits]
            if not found:
                continue
            clause, name, at = found[0]
            expr = policy.using if clause == "USING" else policy.with_check
            called = sorted({n for _, n, _ in found})
            wrapped = " and ".join(f"(select {n}({'…' if n == 'current_setting' else ''}))" for n in called)
            yield Finding(
                Span(expr.origin.path, at, token_end(expr, at)),
                f'policy "{policy.name}" on {table.qname} calls {", ".join(f"{n}()" for n in called)} once per row '
                f"({len(found)} call{'s' if len(found) > 1 else ''} not wrapped in a scalar sub-select): "
                f"write {wrapped} so PostgreSQL evaluates {'them' if len(called) > 1 else 'it'} once per statement",
                Subject.of(Kind.POLICY, table, policy=policy.name),
                partial(_fix, table, policy, calls),
            )


def _fix(table: Table, policy: Policy, calls: dict[str, list[tuple[str, int]]]) -> str:
    parts = []
    for clause, expr in (("USING", policy.using), ("WITH CHECK", policy.with_check)):
        if expr is None or not calls.get(clause):
            continue
        sql = wrapped_calls_sql(expr, frozenset(at for _, at in calls[clause]))
        if sql is None:
            return f"-- wrap each call in a scalar sub-select, e.g. (select auth.uid()), in policy {quote_ident(policy.name)}"
        parts.append(f"{clause} ({sql})")
    return f"ALTER POLICY {quote_ident(policy.name)} ON {table.qname} {' '.join(parts)};"


RULE = Rule(
    code="PERF001",
    name="auth-call-per-row",
    summary="A policy calls auth.uid()/auth.jwt()/current_setting() per row instead of (select …) once",
    default_severity=Severity.WARNING,
    tags=("performance",),
    fires_when="on a table with RLS on, a policy calls `auth.uid()`, `auth.jwt()`, `auth.role()`, `auth.email()` or `current_setting(…)` outside a scalar `(select …)`, so PostgreSQL calls it for every row",
    points_at="the first such call; the fix rewrites the policy with the calls wrapped",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    bad=(
        "create table public.posts (id bigint primary key, author_id uuid not null);\n"
        "create index on public.posts (author_id);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_own on public.posts for all to authenticated using (auth.uid() = author_id);",
        "create table public.posts (id bigint primary key, org text);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_org on public.posts for select using (org = auth.jwt() ->> 'org');",
    ),
    good=(
        "create table public.posts (id bigint primary key, author_id uuid not null);\n"
        "create index on public.posts (author_id);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_own on public.posts for all to authenticated using ((select auth.uid()) = author_id);",
        "create table public.posts (id bigint primary key, org text);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_org on public.posts for select using (org = (select auth.jwt() ->> 'org'));",
    ),
    default_enabled=False,
)
