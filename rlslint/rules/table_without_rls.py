"""
## What it flags
A table (plain or partitioned) in a schema the API exposes (`public` by default, or the
`[api] schemas` of `supabase/config.toml`) whose Row Level Security is disabled once all
migrations have run, and that some API role (`api-roles`) can reach: it has `USAGE` on
the schema and at least one of SELECT, INSERT, UPDATE or DELETE on the table or on one
of its columns. A table whose privileges no API role holds is no finding. Policies play
no part: with RLS off, none of them runs.

## Why it matters
PostgREST serves every table of an exposed schema to the `anon` and `authenticated`
roles, and Supabase grants them table privileges by default. Without RLS the table is
readable and writable by anyone holding the project's public anon key, as far as those
privileges go; the message names the roles and privileges. The finding points at the
`CREATE TABLE`, or at the `DISABLE ROW LEVEL SECURITY` that turned RLS off.
"""

from __future__ import annotations

from rlslint.escape import visible

from functools import partial
from typing import Iterable, Iterator

from rlslint.diagnostics import Diagnostic, Finding, Kind, Severity, Subject
from rlslint.rules._policy_fix import missing_policies_sql, new_policy_roles
from rlslint.rules._predicates import uncovered_commands
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema.model import Table


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if table.rls or not ctx.exposed(table):
            continue
        reach = ctx.reach(table)
        if not reach:
            continue
        disabled_later = table.rls_changed is not None
        where = "row level security is disabled here" if disabled_later else "it is created without row level security"
        who = "; ".join(f"{_and(roles)} can {_and(commands)} every row" for commands, roles in _grouped(reach))
        yield Finding(
            table.rls_changed or table.created,
            f"table {table.qname} is exposed through the API (schema {table.qname.schema}) but {where}: {who}",
            Subject.of(Kind.TABLE, table),
            partial(_fix, ctx, table),
        )


def _grouped(reach: dict[str, tuple[str, ...]]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Roles that hold the same commands, together: [(commands, roles)]."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for role, commands in reach.items():
        groups.setdefault(commands, []).append(role)
    return list(groups.items())


def _and(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _fix(ctx: RuleContext, table: Table) -> str:
    """Enable RLS together with the policies the table then needs, or say plainly that the
    table becomes deny-all: with RLS on, a command no policy grants is denied to every role
    without BYPASSRLS, the API roles among them."""
    enable = f"ALTER TABLE {table.qname} ENABLE ROW LEVEL SECURITY;"
    missing = uncovered_commands(ctx, table)
    if not missing:
        return enable
    policies = missing_policies_sql(table, missing, ctx.settings, ctx.facts, new_policy_roles(ctx, table, missing))
    if Diagnostic.holds_statement(policies):
        return f"{enable}\n{policies}"
    holders = visible(", ".join(sorted({r for c in missing for r in ctx.subject(table, c)})))  # in a comment
    return (f"-- with row level security on, {table.qname} is deny-all for {', '.join(missing)} to the API's roles "
            f"({holders})\n-- until policies grant them: the app stops reading or writing it.\n"
            f"{enable}\n{policies}")


RULE = Rule(
    code="RLS001",
    name="table-without-rls",
    summary="Table in an exposed schema has Row Level Security disabled",
    default_severity=Severity.ERROR,
    tags=("security",),
    checklist=True,
    cells=("RLS on",),
    fires_when="a table (plain or partitioned) in an exposed schema has RLS disabled and an API role can reach it (USAGE on the schema, a table or column privilege)",
    points_at="the `CREATE TABLE`, or the `DISABLE ROW LEVEL SECURITY` that turned it off",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    needs_api_roles=True,
    bad=(
        "create table public.notes (id bigint primary key, body text);",
        "create table public.notes (id bigint primary key);\n"
        "alter table public.notes enable row level security;\n"
        "alter table public.notes disable row level security;",
    ),
    good=(
        "create table public.notes (id bigint primary key);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_all on public.notes for all to authenticated using (true);",
        "create schema private;\ncreate table private.jobs (id bigint primary key);",
        "create table public.jobs (id bigint primary key);\n"
        "revoke all on public.jobs from anon, authenticated;",
    ),
)
