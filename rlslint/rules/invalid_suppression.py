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

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.markers import Marker, MarkerUse
from rlslint.rules.base import Rule

_EXPECTED_FORM = "expected `rlslint: ignore[CODE, …] reason` or `rlslint: ignore-file[CODE, …] reason`"


def check(ctx: MarkerUse) -> Iterator[Finding]:
    """Judged in the suppression stage, over the comments it read (not over the schema model)."""
    for marker in ctx.markers:
        for problem in _problems(marker, ctx.settings.require_suppression_reason):
            yield Finding(marker.comment, problem, Subject(Kind.COMMENT, comment=f"{problem} {marker.text}"), "")


def _problems(marker: Marker, require_reason: bool) -> Iterator[str]:
    if not marker.well_formed:
        yield f"malformed suppression comment; {_EXPECTED_FORM}"
        return
    for word in marker.unknown:
        yield f"suppression names unknown rule {word!r}; `rlslint rules` lists codes and names"
    if marker.empty:
        yield f"suppression names no rule; {_EXPECTED_FORM}"
    if marker.codes and not marker.reason and require_reason:
        yield f"suppression of {', '.join(marker.codes)} gives no reason, and require-suppression-reason is set"


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
