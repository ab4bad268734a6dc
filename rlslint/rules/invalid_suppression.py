"""
## What it flags
An `rlslint:` comment that rlslint cannot act on: it names a rule that does not exist,
it is not of the form `rlslint: ignore[CODE, …] reason` or `rlslint: ignore-file[CODE, …]
reason`, or it gives no reason while the configuration sets
`require-suppression-reason = true`.

## Why it matters
A misspelled code (`RLS02`) or a malformed comment looks like a deliberate exception to
a reviewer, yet suppresses nothing, or suppresses without the explanation the team asked
for. Table exposure is a security decision: the reason is what the next reviewer reads.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Diagnostic, Severity
from rlslint.rules.base import Rule, RuleContext


def check(rule: Rule, ctx: RuleContext) -> Iterator[Diagnostic]:
    """Nothing to check over the schema model: the suppression stage reports this rule."""
    return iter(())


RULE = Rule(
    code="SUP002",
    name="invalid-suppression",
    summary="Suppression comment names an unknown rule or is malformed",
    default_severity=Severity.ERROR,
    check=check,
    docs=__doc__,
    bad=(
        "-- rlslint: ignore[RLS02] typo in the code\n"
        "create schema private;",
        "-- rlslint: ignore RLS001\n"
        "create schema private;",
    ),
    good=(
        "-- rlslint: ignore[RLS001] a private scratch table, revoked from anon below\n"
        "create table public.scratch (id bigint primary key);",
    ),
)
