"""
## What it flags
A table in an exposed schema that has policies while its Row Level Security is disabled
once all migrations have run, where some API role (`api-roles`) holds a privilege on the
table and one of the policies applies to an API role (`TO PUBLIC`, the role, or a role it
inherits from; not `service_role` or another role that bypasses RLS). `table-without-rls`
(RLS001) reports the same statement; this finding adds that the policies on the table are
not enforced.

## Why it matters
PostgreSQL evaluates policies only when RLS is enabled on the table. Someone wrote these
policies believing they protect the rows, yet anyone with the project's anon key can read
and write every row: the migrations look reviewed and safe while they are not. Supabase's
database advisor reports it as `policy_exists_rls_disabled`. The finding points at the
`CREATE TABLE`, or at the `DISABLE ROW LEVEL SECURITY` that turned RLS off.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import ACCESS, Rule, RuleContext


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if table.rls or not ctx.exposed(table) or not ctx.reach(table):
            continue
        policies = [p for p in table.policies if ctx.for_api(p, table)]
        if not policies:
            continue
        names = ", ".join(f'"{p.name}"' for p in policies)
        where = "row level security is disabled here" if table.rls_changed is not None else "row level security is never enabled"
        yield Finding(
            table.rls_changed or table.created,
            f"table {table.qname} has {len(policies)} polic{'y' if len(policies) == 1 else 'ies'} ({names}) "
            f"but {where}: the policies look like protection yet are never evaluated, so anyone with the anon key "
            "can read and write every row",
            Subject.of(Kind.TABLE, table),
            f"ALTER TABLE {table.qname} ENABLE ROW LEVEL SECURITY;",
        )


RULE = Rule(
    code="RLS003",
    name="policy-without-rls",
    summary="Table has policies but Row Level Security is disabled, so they are not enforced",
    default_severity=Severity.ERROR,
    tags=("security",),
    fires_when="a table in an exposed schema that an API role can reach has policies for API roles but RLS is disabled, so they are never evaluated",
    points_at="the `CREATE TABLE`, or the `DISABLE`",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    needs_api_roles=True,
    bad=(
        "create table public.notes (id bigint primary key, owner uuid);\n"
        "create policy notes_own on public.notes for all to authenticated using ((select auth.uid()) = owner);",
        "create table public.notes (id bigint primary key, owner uuid);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_own on public.notes for all to authenticated using ((select auth.uid()) = owner);\n"
        "alter table public.notes disable row level security;",
    ),
    good=(
        "create table public.notes (id bigint primary key, owner uuid);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_own on public.notes for all to authenticated using ((select auth.uid()) = owner);",
        "create schema private;\ncreate table private.jobs (id bigint primary key);\n"
        "create policy jobs_all on private.jobs using (true);",
    ),
    default_enabled=False,
)
