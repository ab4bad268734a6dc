"""
## What it flags
A policy that reads the JWT's `user_metadata` claim (`auth.jwt() -> 'user_metadata'`,
`->>`, `#>`/`#>> '{user_metadata,…}'`, `jsonb_extract_path(auth.jwt(), 'user_metadata', …)`,
also through `current_setting('request.jwt.claims', true)`), or the
`raw_user_meta_data` column of `auth.users`. Only policies that apply to an API role
(`api-roles`) are considered: the users who can edit their metadata reach the database as
those roles. The finding points at the first reference.

## Why it matters
`user_metadata` is written by the end user: any signed-in client can call
`supabase.auth.updateUser({ data: { role: 'admin' } })`, and the next token carries it. A
policy that grants access from it lets users grant themselves that access. Supabase's
database advisor reports it as `rls_references_user_metadata`, at level ERROR. Keep
authorisation data in `app_metadata` (only the service role can write it) or in a table
of your own that users cannot update.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.sql.spans import Span


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        for policy in table.policies:
            if not ctx.for_api(policy, table):
                continue  # only what API clients run matters: they are the ones who edit their metadata
            hits = [(expr, span) for expr in (policy.using, policy.with_check) if expr is not None
                    for span in ctx.facts(expr, table).user_metadata]
            if not hits:
                continue
            expr, (start, end) = hits[0]
            yield Finding(
                Span(expr.origin.path, start, end),
                f'policy "{policy.name}" on {table.qname} decides access from user_metadata, which every user can '
                "edit for themselves (supabase.auth.updateUser): read app_metadata or a table users cannot write",
                Subject.of(Kind.POLICY, table, policy=policy.name),
                "-- replace user_metadata with app_metadata (auth.jwt() -> 'app_metadata'), "
                "or with a lookup in a table only trusted code writes",
            )


RULE = Rule(
    code="SEC001",
    name="user-metadata-in-policy",
    summary="A policy trusts user_metadata, which end users can edit",
    default_severity=Severity.ERROR,
    tags=("security",),
    fires_when="a policy reads the JWT's `user_metadata` (`auth.jwt() -> 'user_metadata'`, `->>`, `#>`, `jsonb_extract_path*`, `current_setting('request.jwt.claims')`) or `raw_user_meta_data`, which end users can edit",
    points_at="the first reference",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    needs_api_roles=True,
    bad=(
        "create table public.reports (id bigint primary key);\n"
        "alter table public.reports enable row level security;\n"
        "create policy reports_admin on public.reports for all to authenticated\n"
        "  using ((select auth.jwt() -> 'user_metadata' ->> 'role') = 'admin');",
    ),
    good=(
        "create table public.reports (id bigint primary key);\n"
        "alter table public.reports enable row level security;\n"
        "create policy reports_admin on public.reports for all to authenticated\n"
        "  using ((select auth.jwt() -> 'app_metadata' ->> 'role') = 'admin');",
    ),
)
