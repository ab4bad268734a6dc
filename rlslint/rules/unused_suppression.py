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

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.markers import MarkerUse
from rlslint.rules.base import Rule


def check(ctx: MarkerUse) -> Iterator[Finding]:
    """Judged in the suppression stage, once it knows which comments removed which findings.

    Only a code whose rule ran can be unused: another run (a CI job with ``--select``) may
    need the comment.
    """
    for i, marker in enumerate(ctx.markers):
        where = "in this file" if marker.file_level else "here"
        for code in marker.codes:
            if code in ctx.ran and (i, code) not in ctx.used:
                advice = "delete the comment" if len(marker.codes) == 1 else f"remove {code} from the comment"
                message = f"suppression of {code} ({ctx.names[code]}) matches no finding {where}; {advice}"
                yield Finding(marker.comment, message, Subject(Kind.COMMENT, comment=f"{code} {marker.text}"), "")


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
