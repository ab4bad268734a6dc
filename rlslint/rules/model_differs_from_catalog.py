"""
## What it flags
With `rlslint check --verify`: a statement after which the schema model rlslint replayed
from the migrations and PostgreSQL's catalog, after the same statements ran on a real
server, disagree about a table: whether it exists, its RLS flags, its columns (NOT NULL,
type), its policies (command, kind, roles, USING and WITH CHECK as PostgreSQL prints them),
its indexes (names included), foreign keys or privileges. The finding points at the
statement after which they first diverge, and says what differs.

## Why it matters
Every other finding is judged on the model. Where the model is wrong (SQL whose effect
only the server knows, such as a trigger that alters a table, or a case rlslint does not
model yet), a table may be reported open that is secured, or pass that is open. The
catalog is what the database will hold: trust it over the other findings about that
table, and report the statement to rlslint.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import Rule, RuleContext


def check(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.verification is None:
        return
    for difference in ctx.verification.differences:
        table = difference.table
        yield Finding(
            difference.span,
            f"after this statement PostgreSQL's catalog and rlslint's model differ on table {table}: {difference.what}",
            Subject(Kind.TABLE, table.schema, table.name, constraint=difference.what),
            f"-- PostgreSQL's catalog is what the database holds: findings about {table} judged on the model "
            "may be wrong here.",
        )


RULE = Rule(
    code="VER001",
    name="model-differs-from-catalog",
    summary="The static model and PostgreSQL's catalog disagree after a statement (--verify)",
    default_severity=Severity.WARNING,
    tags=("reliability",),
    fires_when="with `--verify`, the model and the catalog of a real PostgreSQL differ after a statement",
    points_at="the statement after which they first differ",
    check=check,
    docs=__doc__,
    bad=(
        # A trigger's body runs when a later statement fires it: only the server sees its effect.
        "create table public.notes (id bigint primary key);\n"
        "create table public.signups (id bigint primary key);\n"
        "create function public.secure_notes() returns trigger language plpgsql as $$\n"
        "begin\n"
        "  alter table public.notes enable row level security;\n"
        "  return new;\n"
        "end $$;\n"
        "create trigger secure_notes after insert on public.signups\n"
        "  for each row execute function public.secure_notes();\n"
        "insert into public.signups values (1);",
    ),
    good=(
        "create table public.notes (id bigint primary key);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_read on public.notes for select to authenticated using (true);",
    ),
)
