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
from rlslint.rules._predicates import first_location, func_name, token_end, unwrap, walk
from rlslint.rules.base import ACCESS, Rule, RuleContext
from rlslint.schema.model import Expr
from rlslint.sql.spans import Span
from rlslint.sql.tree import scalars

USER_EDITABLE_COLUMN = "raw_user_meta_data"  # auth.users: the source of the user_metadata claim
PATH_OPERATORS = frozenset({"->", "->>", "#>", "#>>"})


def _is_claims(node) -> bool:
    """The request's JWT claims: auth.jwt(), or current_setting('request.jwt.claims'…), cast or wrapped."""
    node = unwrap(node)
    if not isinstance(node, dict) or "FuncCall" not in node:
        return False
    call = node["FuncCall"]
    name = func_name(call)
    first = (call.get("args") or [{}])[0].get("A_Const", {}).get("sval", {}).get("sval", "")
    return name == "auth.jwt" or (name == "current_setting" and first.startswith("request.jwt.claims"))


def _text(node) -> str:
    return unwrap(node).get("A_Const", {}).get("sval", {}).get("sval", "") if isinstance(unwrap(node), dict) else ""


def _mentions_metadata(tree) -> bool:
    """A string or a name in the expression says user_metadata or raw_user_meta_data."""
    return any(isinstance(value, str) and "meta" in value.lower() for value in scalars(tree))


def references(expr: Expr) -> list[tuple[int, int]]:
    """(start, end) of each reference to user_metadata, in source order."""
    if not _mentions_metadata(expr.tree):
        return []  # neither spelling appears: skip the walk, which costs more than the rest of the rule
    found = []  # (where the reference starts, where its last token starts)
    for kind, node, _ in walk(expr.tree):
        if kind == "A_Expr" and node.get("kind") == "AEXPR_OP" and _is_claims(node.get("lexpr")):
            op = "".join(n["String"]["sval"] for n in node.get("name", ()) if "String" in n)
            key = _text(node.get("rexpr"))
            if op in ("#>", "#>>"):  # a path: '{user_metadata,role}'
                key = key.strip("{}").split(",")[0].strip().strip('"')
            if op in PATH_OPERATORS and key == "user_metadata":
                found.append((first_location(node["lexpr"]), first_location(node["rexpr"])))
        elif kind == "FuncCall" and func_name(node).startswith("jsonb_extract_path") and len(node.get("args", ())) > 1:
            if _is_claims(node["args"][0]) and _text(node["args"][1]) == "user_metadata":
                found.append((node["location"], node["location"]))
        elif kind == "ColumnRef":
            fields = [f["String"]["sval"] for f in node.get("fields", ()) if "String" in f]
            if fields[-1:] == [USER_EDITABLE_COLUMN]:
                found.append((node["location"], node["location"]))
    return sorted((start, token_end(expr, last)) for start, last in found if start >= 0)


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.tables():
        for policy in table.policies:
            if not ctx.for_api(policy, table):
                continue  # only what API clients run matters: they are the ones who edit their metadata
            hits = [(expr, span) for expr in (policy.using, policy.with_check) if expr is not None for span in references(expr)]
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
