"""
## What it flags
A policy that applies only to roles that bypass Row Level Security: superusers, roles with
`BYPASSRLS` (on Supabase `service_role` and `postgres`), and the table's owner unless the
table has `FORCE ROW LEVEL SECURITY`. Policies `TO PUBLIC` (or without `TO`) and those for
any role that RLS applies to, or for a role the migrations never created, are not flagged.

## Why it matters
PostgreSQL never evaluates such a policy: the roles it names skip RLS altogether. It does
nothing, and usually means its author believed it protected something, such as a
`FOR INSERT TO service_role` policy written to "allow the backend to write" while API
clients, who run as `anon` and `authenticated`, get no policy at all (RLS002 then reports
the commands they are missing). Drop the policy, or write it for the roles that need it.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema.model import Access, Table
from rlslint.sql.names import quote_ident


def check(ctx: RuleContext) -> Iterator[Finding]:
    access = ctx.catalog.access
    for table in ctx.tables():
        for policy in table.policies:
            if ctx.enforced(policy, table):
                continue
            why = "; ".join(f"{role} {_why(access, role, table)}" for role in policy.roles)
            yield Finding(
                policy.created,
                f'policy "{policy.name}" on {table.qname} applies only to roles that bypass row level security '
                f"({why}): PostgreSQL never evaluates it, so it protects nothing and allows nothing",
                Subject.of(Kind.POLICY, table, policy=policy.name),
                f"DROP POLICY {quote_ident(policy.name)} ON {table.qname};",
            )


def _why(access: Access, role: str, table: Table) -> str:
    found = access.roles[role]
    if found.superuser:
        return "is a superuser"
    if found.bypassrls:
        return "has BYPASSRLS"
    return "owns the table" if table.owner == role else f"has the privileges of the owner, {table.owner}"


RULE = Rule(
    code="RLS006",
    name="bypassed-policy",
    summary="Policy applies only to roles that bypass RLS, so it is never evaluated",
    default_severity=Severity.WARNING,
    tags=("security",),
    fires_when="every role a policy is `TO` bypasses RLS (superuser, BYPASSRLS such as `service_role`, the owner without FORCE), so it never runs",
    points_at="the `CREATE POLICY`",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    bad=(
        "create table public.orders (id bigint primary key, user_id uuid);\n"
        "alter table public.orders enable row level security;\n"
        "create policy orders_read on public.orders for select to authenticated using ((select auth.uid()) = user_id);\n"
        "create policy orders_backend on public.orders for insert to service_role with check (true);",
        "create table public.orders (id bigint primary key);\n"
        "alter table public.orders enable row level security;\n"
        "create policy orders_admin on public.orders for all to postgres using (true);",
    ),
    good=(
        "create table public.orders (id bigint primary key, user_id uuid);\n"
        "alter table public.orders enable row level security;\n"
        "create policy orders_own on public.orders for all to authenticated using ((select auth.uid()) = user_id);",
        "create role reporting;\n"
        "create table public.orders (id bigint primary key);\n"
        "alter table public.orders enable row level security;\n"
        "create policy orders_reporting on public.orders for select to reporting using (true);",
    ),
)
