"""
## What it flags
A table with Row Level Security enabled where, for one or more of SELECT, INSERT, UPDATE
and DELETE, no permissive policy applies. A `FOR ALL` policy covers all four; restrictive
policies only narrow what permissive ones grant, so they cover nothing on their own.

## Why it matters
With RLS on and no policy for a command, PostgreSQL denies it to every role without
`BYPASSRLS`: an `INSERT` fails with a policy violation, and `UPDATE` and `DELETE` silently
touch zero rows. The app looks like it works until a user tries to edit or delete.

The fix creates the missing policies. It reuses the predicate (and roles) of an existing
write or `FOR ALL` policy, never one that is always true and never a `SELECT` policy's:
who may read a row says nothing about who may change it. Otherwise it compares the
owner foreign key with `(select auth.uid())` for `authenticated`, and failing that it
writes `false`, to be replaced by hand.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._predicates import covered_commands, is_true_literal, per_row_calls
from rlslint.rules.base import Rule, RuleContext
from rlslint.schema.model import COMMANDS, Table
from rlslint.settings import Settings
from rlslint.sql.deparse import predicate_sql, wrapped_calls_sql
from rlslint.sql.names import quote_ident


# What a missing command does, in COMMANDS order.
CONSEQUENCES = {
    "SELECT": "reads return no rows",
    "INSERT": "inserts fail with a policy violation",
}


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.catalog.tables.values():
        if not table.rls or not ctx.exposed(table):
            continue
        covered = covered_commands(table)
        missing = tuple(c for c in COMMANDS if c not in covered)
        if not missing:
            continue
        what = "no policy at all" if not table.policies else "no permissive policy for " + ", ".join(missing)
        yield Finding(
            table.rls_changed or table.created,
            f"table {table.qname} has row level security enabled but {what}: {_consequences(missing)}",
            Subject.of(Kind.TABLE, table, commands=missing),
            partial(_fix, table, missing, ctx.settings),
        )


def _consequences(missing: tuple[str, ...]) -> str:
    parts = [CONSEQUENCES[c] for c in missing if c in CONSEQUENCES]
    changes = [c.lower() + "s" for c in missing if c in ("UPDATE", "DELETE")]
    if changes:
        parts.append(" and ".join(changes) + " silently change zero rows")
    return "; ".join(parts)


def _fix(table: Table, missing: tuple[str, ...], settings: Settings) -> str:
    predicate, roles = _copied_predicate(table)
    comment = ""
    if predicate is None:
        roles = "authenticated"
        owner = next((fk for fk in table.foreign_keys if fk.ref_table in settings.owner_tables and len(fk.columns) == 1), None)
        if owner is not None:
            predicate = f"(SELECT auth.uid()) = {quote_ident(owner.columns[0])}"
        else:
            predicate = "false"
            comment = "-- replace false with the rows each command may touch\n"
    taken = {p.name for p in table.policies}
    lines = []
    for command in missing:
        name = _policy_name(table, command, taken)
        head = f"CREATE POLICY {quote_ident(name)} ON {table.qname} FOR {command} TO {roles}"
        if command == "INSERT":
            lines.append(f"{head} WITH CHECK ({predicate});")
        elif command == "UPDATE":
            lines.append(f"{head} USING ({predicate}) WITH CHECK ({predicate});")
        else:
            lines.append(f"{head} USING ({predicate});")
    return comment + "\n".join(lines)


def _copied_predicate(table: Table) -> tuple[str | None, str]:
    """The predicate and roles of the first permissive write or FOR ALL policy worth copying.

    A missing command has no permissive policy of its own, so the permissive policies
    left are for other commands. SELECT policies are skipped (read access is no licence to
    write), and so are always-true clauses (copied into a write they open the table to
    everyone). Per-row auth calls come out wrapped, as PERF001 asks.
    """
    for policy in table.policies:
        if not policy.permissive or policy.command == "SELECT":
            continue
        for expr in (policy.using, policy.with_check):
            if expr is None or is_true_literal(expr.tree):
                continue
            calls = per_row_calls(expr)
            sql = wrapped_calls_sql(expr, frozenset(at for _, at in calls)) if calls else predicate_sql(expr)
            if sql is not None:  # None: the text is stale after a rename
                return sql, ", ".join(quote_ident(r) if r != "public" else "public" for r in policy.roles)
    return None, "authenticated"


def _policy_name(table: Table, command: str, taken: set[str]) -> str:
    name = f"{table.qname.name}_{command.lower()}"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


RULE = Rule(
    code="RLS002",
    name="missing-policy",
    summary="RLS is enabled but some of SELECT, INSERT, UPDATE, DELETE have no permissive policy",
    default_severity=Severity.ERROR,
    tags=("security",),
    checklist=True,
    fires_when="RLS is on, and for one or more of SELECT, INSERT, UPDATE, DELETE no permissive policy applies (`FOR ALL` covers all four; restrictive policies grant nothing)",
    points_at="the statement that enabled RLS; `commands` lists what is missing",
    check=check,
    docs=__doc__,
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
