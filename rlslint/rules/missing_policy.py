"""
## What it flags
A table with Row Level Security enabled where, for one or more of SELECT, INSERT, UPDATE
and DELETE, an API role (`api-roles`) holds the command's privilege (and `USAGE` on the
schema) but no permissive policy for the command applies to it. A `FOR ALL` policy
covers all four; restrictive policies only narrow what permissive ones grant, so they
cover nothing on their own.

Which policies count: those `TO PUBLIC`, to the API role, or to a role whose privileges
it inherits. A policy for `service_role`, the table's owner or any other role that
bypasses RLS covers nothing an API client does. A command no API role holds a privilege
for (a table that is read-only by `GRANT`, say) needs no policy.

## Why it matters
With RLS on and no policy for a command, PostgreSQL denies it to every role without
`BYPASSRLS`: an `INSERT` fails with a policy violation, and `UPDATE` and `DELETE` silently
touch zero rows. The app looks like it works until a user tries to edit or delete.

The fix creates the missing policies, never wider than a policy the table already has.
It reuses the predicate (and roles) of an existing write or `FOR ALL` policy, never one
that is always true and never a `SELECT` policy's: who may read a row says nothing about
who may change it (copying "members of the organisation read its messages" into DELETE
would let every member delete every message). Otherwise it compares the owner column
with `(select auth.uid())` for `authenticated`, when the column is known to say who may
change a row: the `owner-columns` setting names it, or it is a foreign key to the user
that is the table's whole primary key. Failing both, the fix is a commented template
naming the decision to make; it writes no statement, so the finding stays until a
person decides (or suppresses it, for a table that is deny-all on purpose).
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._policy_fix import missing_policies_sql, new_policy_roles
from rlslint.rules._predicates import uncovered_commands
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema.model import COMMANDS


# What a missing command does, in COMMANDS order.
CONSEQUENCES = {
    "SELECT": "reads return no rows",
    "INSERT": "inserts fail with a policy violation",
}


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if not table.rls or not ctx.exposed(table):
            continue
        missing = uncovered_commands(ctx, table)
        if not missing:
            continue
        what = "no policy at all" if not table.policies else "no permissive policy for " + ", ".join(missing)
        yield Finding(
            table.rls_changed or table.created,
            f"table {table.qname} has row level security enabled but {what}: {_consequences(missing)}",
            Subject.of(Kind.TABLE, table, commands=missing),
            partial(missing_policies_sql, table, missing, ctx.settings, ctx.facts, new_policy_roles(ctx, table, missing)),
        )


def _consequences(missing: tuple[str, ...]) -> str:
    parts = [CONSEQUENCES[c] for c in missing if c in CONSEQUENCES]
    changes = [c.lower() + "s" for c in missing if c in ("UPDATE", "DELETE")]
    if changes:
        parts.append(" and ".join(changes) + " silently change zero rows")
    return "; ".join(parts)


RULE = Rule(
    code="RLS002",
    name="missing-policy",
    summary="RLS is enabled but some of SELECT, INSERT, UPDATE, DELETE have no permissive policy",
    default_severity=Severity.ERROR,
    tags=("security",),
    checklist=True,
    cells=COMMANDS,
    fires_when="RLS is on, and for one or more of SELECT, INSERT, UPDATE, DELETE that an API role holds, no permissive policy for an API role applies (`FOR ALL` covers all four; restrictive policies and policies for roles that bypass RLS grant nothing)",
    points_at="the statement that enabled RLS; `commands` lists what is missing",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    needs_api_roles=True,
    bad=(
        "create table public.todos (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "create index on public.todos (user_id);\n"
        "alter table public.todos enable row level security;\n"
        "create policy todos_read on public.todos for select using ((select auth.uid()) = user_id);",
        "create table public.audit (id bigint primary key);\n"
        "alter table public.audit enable row level security;\n"
        "create policy audit_only on public.audit as restrictive for all using (false);",
    ),
    good=(
        "create table public.todos (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "create index on public.todos (user_id);\n"
        "alter table public.todos enable row level security;\n"
        "create policy todos_own on public.todos for all to authenticated using ((select auth.uid()) = user_id);",
    ),
)
