"""
## What it flags
A permissive `INSERT`, `UPDATE`, `DELETE` or `ALL` policy that applies to an API role
(`api-roles`: `anon` and `authenticated` on Supabase; `TO public`, no `TO`, or a role they
inherit from) on a table with Row Level Security enabled, whose written `WITH CHECK`
(for INSERT, UPDATE and ALL) or `USING` (for UPDATE and DELETE) is literally true: `true`,
`'t'::boolean`, `1 = 1`. A `FOR ALL … USING (true)` policy without `WITH CHECK` is not
flagged: it is the usual way to hand a whole table to a role on purpose.

## Why it matters
Such a policy lets anyone holding the anon key (or any signed-in user) write or delete any
row, which looks like row level security in review but restricts nothing. Supabase's
database advisor reports it as `rls_policy_always_true`. Sometimes it is the intent (a
public guestbook that takes anonymous inserts): suppress the finding there with a reason.
`SELECT` policies with `USING (true)` are a common deliberate choice and not flagged.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._predicates import extent
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema import acl
from rlslint.schema.model import Expr, Policy, Table
from rlslint.sql.literals import is_true_literal
from rlslint.sql.names import quote_ident

VERBS = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete", "ALL": "insert, update or delete"}


def always_true(policy: Policy) -> list[tuple[str, Expr]]:
    """The written clauses that let every row through, as (clause, expression)."""
    clauses = []
    if policy.command in ("UPDATE", "DELETE") and policy.using is not None and is_true_literal(policy.using.tree):
        clauses.append(("USING", policy.using))
    if policy.command in ("INSERT", "UPDATE", "ALL") and policy.with_check is not None and is_true_literal(policy.with_check.tree):
        clauses.append(("WITH CHECK", policy.with_check))
    return clauses


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if not table.rls:
            continue
        for policy in table.policies:
            roles = [r for r in ctx.api_roles if acl.policy_applies(ctx.catalog.access, r, policy)
                     and not acl.bypasses_rls(ctx.catalog.access, r, table)]
            if not policy.permissive or policy.command == "SELECT" or not roles:
                continue
            clauses = always_true(policy)
            if not clauses:
                continue
            expr = clauses[0][1]
            which = " and ".join(dict.fromkeys(c for c, _ in clauses))
            yield Finding(
                extent(expr, expr.tree),
                f'policy "{policy.name}" on {table.qname} lets {", ".join(sorted(roles))} {VERBS[policy.command]} '
                f"any row: its {which} {'are' if len(clauses) > 1 else 'is'} always true",
                Subject.of(Kind.POLICY, table, policy=policy.name,
                           commands=("INSERT", "UPDATE", "DELETE") if policy.command == "ALL" else (policy.command,)),
                _fix(table, policy, ctx),
            )


def _fix(table: Table, policy: Policy, ctx: RuleContext) -> str:
    owner = next((fk.columns[0] for fk in table.foreign_keys
                  if fk.ref_table in ctx.settings.owner_tables and len(fk.columns) == 1), None)
    if owner is None:
        return f"-- replace true in policy {quote_ident(policy.name)} on {table.qname} with the rows this role may write"
    predicate = f"(SELECT auth.uid()) = {quote_ident(owner)}"
    using = f" USING ({predicate})" if policy.command != "INSERT" else ""
    checked = f" WITH CHECK ({predicate})" if policy.command != "DELETE" else ""
    return f"ALTER POLICY {quote_ident(policy.name)} ON {table.qname}{using}{checked};"


RULE = Rule(
    code="RLS005",
    name="permissive-write-policy",
    summary="A write policy for anon/authenticated lets every row through (USING/WITH CHECK true)",
    default_severity=Severity.WARNING,
    tags=("security",),
    fires_when="an INSERT/UPDATE/DELETE/ALL policy that applies to an API role, whose WITH CHECK (or USING for UPDATE/DELETE) is literally true",
    points_at="the always-true expression",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    needs_api_roles=True,
    bad=(
        "create table public.posts (id bigint primary key, author_id uuid);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_read on public.posts for select using (true);\n"
        "create policy posts_write on public.posts for insert to authenticated with check (true);",
        "create table public.posts (id bigint primary key, author_id uuid);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_delete on public.posts for delete to anon using (true);",
    ),
    good=(
        "create table public.posts (id bigint primary key, author_id uuid);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_read on public.posts for select using (true);\n"
        "create policy posts_write on public.posts for insert to authenticated\n"
        "  with check ((select auth.uid()) = author_id);",
    ),
    default_enabled=False,
)
