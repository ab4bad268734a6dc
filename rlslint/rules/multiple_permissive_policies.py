"""
## What it flags
Two or more permissive policies on a table, with Row Level Security enabled, that apply to
the same role for the same command. `FOR ALL` counts for each of SELECT, INSERT, UPDATE and
DELETE; a policy `TO public` (or without `TO`) applies to every role. One finding per table
and role, at the `CREATE POLICY` of the last of those policies; the message lists the
commands and the policies.

## Why it matters
PostgreSQL combines permissive policies with `OR` and evaluates every one of them for each
row, so each extra policy is another predicate (often another sub-select) per row. Merging
them into one policy per role and command, with the conditions joined by `OR`, is usually
faster and easier to review. Supabase's database advisor reports it as
`multiple_permissive_policies`. Only policies that apply to an API role (`api-roles`) are
considered, and never for a role that bypasses RLS (`service_role`, `postgres`, the owner).
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema import acl
from rlslint.schema.model import COMMANDS, Policy, Table
from rlslint.sql.names import quote_ident

def overlaps(table: Table, role: str) -> dict[str, list[Policy]]:
    """Commands for which more than one permissive policy applies to the role."""
    applying = [p for p in table.policies if p.permissive and (role in p.roles or "public" in p.roles)]
    by_command = {c: [p for p in applying if p.command in ("ALL", c)] for c in COMMANDS}
    found = {c: ps for c, ps in by_command.items() if len(ps) > 1}
    if role != "public":  # overlaps among PUBLIC policies alone are reported once, for public
        found = {c: ps for c, ps in found.items() if not all("public" in p.roles for p in ps)}
    return found


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        if not table.rls:
            continue
        access = ctx.catalog.access
        roles = sorted(r for r in {r for p in table.policies if p.permissive and ctx.for_api(p, table) for r in p.roles}
                       if r not in access.roles or not acl.bypasses_rls(access, r, table))
        for role in roles:
            found = overlaps(table, role)
            if not found:
                continue
            involved = [p for p in table.policies if any(p in ps for ps in found.values())]
            listing = "; ".join(f"{c}: " + ", ".join(f'"{p.name}"' for p in ps) for c, ps in found.items())
            yield Finding(
                involved[-1].created,
                f"table {table.qname} has several permissive policies for role {role} on the same command ({listing}): "
                "PostgreSQL evaluates each of them for every row; merge them into one policy per command",
                Subject.of(Kind.ROLE, table, role=role, commands=tuple(found)),
                f"-- merge policies {', '.join(quote_ident(p.name) for p in involved)} into one policy per command for {role}, "
                "joining their conditions with OR",
            )


RULE = Rule(
    code="RLS004",
    name="multiple-permissive-policies",
    summary="More than one permissive policy for the same role and command on a table",
    default_severity=Severity.WARNING,
    tags=("performance",),
    fires_when="more than one permissive policy applies to the same API role and command (each is evaluated for every row)",
    points_at="the last policy involved",
    check=check,
    reads=(ACCESS,),
    docs=__doc__,
    needs_api_roles=True,
    bad=(
        "create table public.docs (id bigint primary key, owner uuid, published boolean);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_own on public.docs for all to authenticated using ((select auth.uid()) = owner);\n"
        "create policy docs_published on public.docs for select to authenticated using (published);",
    ),
    good=(
        "create table public.docs (id bigint primary key, owner uuid, published boolean);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_read on public.docs for select to authenticated\n"
        "  using ((select auth.uid()) = owner or published);\n"
        "create policy docs_write on public.docs for update to authenticated using ((select auth.uid()) = owner);",
        "create table public.docs (id bigint primary key, owner uuid, published boolean);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_anon on public.docs for select to anon using (published);\n"
        "create policy docs_member on public.docs for select to authenticated using (true);",
    ),
    default_enabled=False,
)
