"""
## What it flags
With `rlslint check --verify`: a `CREATE EXTENSION` of an extension the PostgreSQL that
verifies the migrations does not have (the `pgserver` wheel ships `plpgsql` and `vector`
only; a server named with `--database-url` has what its installation has). The statement
is skipped there, and the finding says so once per statement.

## Why it matters
What the migrations build with the extension (a column of its type, an index with its
operator class, a default calling its function) cannot be applied without it: PostgreSQL
rejects that statement, and the verification of its migration set stops there. Verify
against a server that has the extension (`--database-url`) to check those files, or
accept that they are checked statically only.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import Rule, RuleContext


def check(ctx: RuleContext) -> Iterator[Finding]:
    if ctx.verification is None:
        return
    for missing in ctx.verification.unavailable:
        yield Finding(
            missing.span,
            f"extension {missing.extension} is not available on {ctx.verification.server}: not created there, so "
            "what depends on it is checked statically only",
            Subject(Kind.COMMENT, comment=f"extension {missing.extension}"),
            "",
        )


RULE = Rule(
    code="VER002",
    name="extension-unavailable",
    summary="An extension the migrations create is missing from the server --verify uses",
    default_severity=Severity.INFO,
    tags=("reliability",),
    fires_when="with `--verify`, a `CREATE EXTENSION` names an extension the server lacks",
    points_at="the `CREATE EXTENSION`",
    check=check,
    docs=__doc__,
    bad=('create extension if not exists "uuid-ossp" with schema extensions;',),
    good=("create extension if not exists vector with schema extensions;",),
)
