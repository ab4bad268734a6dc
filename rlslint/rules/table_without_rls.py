"""
## What it flags
A table (plain or partitioned) in a schema the API exposes (`public` by default, or the
`[api] schemas` of `supabase/config.toml`) whose Row Level Security is disabled once all
migrations have run.

## Why it matters
PostgREST serves every table of an exposed schema to the `anon` and `authenticated`
roles, and Supabase grants them table privileges by default. Without RLS the table is
readable and writable by anyone holding the project's public anon key. The finding points
at the `CREATE TABLE`, or at the `DISABLE ROW LEVEL SECURITY` that turned RLS off.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from rlslint.diagnostics import Diagnostic, Finding, Kind, Severity, Subject
from rlslint.rules._policy_fix import missing_policies_sql
from rlslint.rules._predicates import covered_commands
from rlslint.rules.base import Rule, RuleContext
from rlslint.schema.model import COMMANDS, Table
from rlslint.settings import Settings


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.catalog.tables.values():
        if table.rls or not ctx.exposed(table):
            continue
        disabled_later = table.rls_changed is not None
        where = "row level security is disabled here" if disabled_later else "it is created without row level security"
        yield Finding(
            table.rls_changed or table.created,
            f"table {table.qname} is exposed through the API (schema {table.qname.schema}) but {where}: "
            "anyone with the anon key can read and write every row",
            Subject.of(Kind.TABLE, table),
            partial(_fix, table, ctx.settings),
        )


def _fix(table: Table, settings: Settings) -> str:
    """Enable RLS together with the policies the table then needs, or say plainly that the
    table becomes deny-all: with RLS on, a command no policy grants is denied to every role
    without BYPASSRLS, the API's ``anon`` and ``authenticated`` among them."""
    enable = f"ALTER TABLE {table.qname} ENABLE ROW LEVEL SECURITY;"
    covered = covered_commands(table)
    missing = tuple(c for c in COMMANDS if c not in covered)
    if not missing:
        return enable
    policies = missing_policies_sql(table, missing, settings)
    if Diagnostic.holds_statement(policies):
        return f"{enable}\n{policies}"
    return (f"-- with row level security on, {table.qname} is deny-all for {', '.join(missing)} to the API's roles "
            "(anon, authenticated)\n-- until policies grant them: the app stops reading or writing it.\n"
            f"{enable}\n{policies}")


RULE = Rule(
    code="RLS001",
    name="table-without-rls",
    summary="Table in an exposed schema has Row Level Security disabled",
    default_severity=Severity.ERROR,
    tags=("security",),
    checklist=True,
    cells=("RLS on",),
    fires_when="a table (plain or partitioned) in an exposed schema has RLS disabled",
    points_at="the `CREATE TABLE`, or the `DISABLE ROW LEVEL SECURITY` that turned it off",
    check=check,
    docs=__doc__,
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
    ),
)
