"""
## What it flags
An inline suppression (`-- rlslint: ignore[CODE]` or `-- rlslint: ignore-file[CODE]`)
that names a rule which found nothing there, so the comment suppresses nothing.

## Why it matters
Suppressions outlive the problems they excused: the policy gets added, the index gets
created, the table gets dropped. A stale comment then silently excuses the next real
finding of that rule on the same statement or table, say a new table in the same
migration that really is readable with the anon key. Remove the comment, or the code from it.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Diagnostic, Severity
from rlslint.rules.base import Rule, RuleContext


def check(rule: Rule, ctx: RuleContext) -> Iterator[Diagnostic]:
    """Nothing to check over the schema model: the suppression stage reports this rule."""
    return iter(())


RULE = Rule(
    code="SUP001",
    name="unused-suppression",
    summary="Suppression comment that suppresses no finding",
    default_severity=Severity.WARNING,
    check=check,
    docs=__doc__,
    bad=(
        "create table public.notes (id bigint primary key);\n"
        "-- rlslint: ignore[RLS002] nothing is missing any more\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_all on public.notes for all to authenticated using (true);",
    ),
    good=(
        "create table public.notes (id bigint primary key);\n"
        "-- rlslint: ignore[RLS002] deny-all by design: only the service role reads and writes\n"
        "alter table public.notes enable row level security;",
    ),
)
