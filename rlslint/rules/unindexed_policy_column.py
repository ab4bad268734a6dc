"""
## What it flags
A column that a policy compares with `=`, `IN` or `= ANY` against a value that does not
depend on the same row, where no index of its table could serve the comparison. It
follows what PostgreSQL's planner can use:

- Inside a sub-select (`exists (select 1 from members m where m.team_id = t.team_id and
  m.user_id = (select auth.uid()))`), the sub-select's own columns count for its tables
  (`members.team_id`, `members.user_id`); the correlated outer column `t.team_id` is a
  value there, and an index on it would not serve the sub-select.
- A column compared under a cast or a function (`"tenantId"::uuid = …` on a `text`
  column, `lower(email) = …`) is not served by a plain index on the column; the finding
  asks for an index on the expression, or for the column to have the compared type.
- A partial index counts when the policy's conditions imply its `WHERE`: the same
  condition AND-ed in the policy, or `col IS NOT NULL` for a column the policy compares
  with `=`.
- A foreign-key column without an index is reported once, by IDX001, whose message says
  that policies filter on it too.
- A boolean column gives no finding: an index on two values rarely beats a scan. When
  few rows match (`where not archived`), a partial index on the column the policy also
  compares, `create index on t (owner_id) where not archived`, serves both; that depends on
  the data, which migrations do not show.

Every policy that some role without BYPASSRLS is subject to is considered (one `TO PUBLIC`
runs for the queries of the application's own role too); a policy only for roles that
bypass RLS never runs. Each column is reported once, at the first policy reference to it;
the message names every policy that filters on it.

## Why it matters
A policy is an extra `WHERE` clause on every query against the table. Without an index
on the column it filters on, each request becomes a sequential scan: fine with a hundred
rows, a timeout with a million. Supabase's RLS performance guide lists indexing policy
columns as the first fix.
"""

from __future__ import annotations

from functools import partial
from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._predicates import (ColumnUse, PolicyUse, create_index_sql, leads_index, policy_filters, policy_names,
                                      serves, type_name)
from rlslint.rules.base import ACCESS, POLICY_TABLES, Rule, RuleContext
from rlslint.schema.model import Catalog, Table
from rlslint.schema.naming import choose_name
from rlslint.sql.names import quote_ident

def check(ctx: RuleContext) -> Iterator[Finding]:
    # IDX001 reports an unindexed foreign-key column, naming the policies that filter on it too.
    from rlslint.rules import BY_CODE  # the registry, once every rule module is loaded

    fk_rule_runs = ctx.settings.runs(BY_CODE["IDX001"])
    for (qname, column, wrapped_shape), refs in ctx.shared(policy_filters).items():
        target = ctx.catalog.table(qname)
        if target is None:
            continue
        # A partial index can serve one policy's comparison and not another's.
        refs = [ref for ref in refs if not any(serves(index, ref.use) for index in target.indexes)]
        if not refs:
            continue
        col = target.column(column)
        if wrapped_shape is None:
            if col is not None and type_name(col.type) == "bool":
                continue
            if fk_rule_runs and _unindexed_fk_column(target, column):
                continue
        yield _finding(ctx, target, column, refs)


def _finding(ctx: RuleContext, target: Table, column: str, refs: list[PolicyUse]) -> Finding:
    use = refs[0].use
    several = len({(ref.table, ref.policy) for ref in refs}) > 1
    guarded = "these policies guard" if several else "this policy guards"
    where = f"{target.qname}.{quote_ident(column)}"
    if use.wrapped is None:
        message = f"{_policies(refs, several)} on {where}, which no index leads: every query {guarded} scans the table"
        fix = create_index_sql(ctx.catalog, target, (column,))
    else:
        expression = _expression_sql(use)
        col = target.column(column)
        cast = use.wrapped.get("TypeCast")
        what = f"{where} cast to {_cast_type(cast)}" if cast else f"{expression} of {target.qname}"
        mismatch = (f"; or store the column as {_cast_type(cast)} (it is {col.type}) and compare it directly"
                    if cast and col is not None else "")
        message = (f"{_policies(refs, several)} on {what}: a plain index on the column does not serve that, "
                   f"so every query {guarded} scans the table; an index on the expression does{mismatch}")
        fix = partial(_expression_index_sql, ctx.catalog, target, column, use)
    return Finding(use.span, message, Subject.of(Kind.COLUMN, target, columns=(column,)), fix)


def _unindexed_fk_column(table: Table, column: str) -> bool:
    return any(fk.columns == (column,) for fk in table.foreign_keys) and not leads_index(table, (column,))


def _cast_type(cast: dict) -> str:
    names = [n["String"]["sval"] for n in cast.get("typeName", {}).get("names", ()) if "String" in n]
    return names[-1] if names else "?"


def _expression_sql(use: ColumnUse) -> str:
    from rlslint.sql.deparse import print_sql, to_ast

    try:
        return print_sql(to_ast(_unqualified(use.wrapped)))
    except Exception:  # an unusual node shape: name the column instead
        return quote_ident(use.column)


def _unqualified(tree):
    """The tree with column references reduced to the column name, as an index expression needs."""
    if isinstance(tree, list):
        return [_unqualified(item) for item in tree]
    if not isinstance(tree, dict):
        return tree
    if "ColumnRef" in tree and len(tree) == 1:
        return {"ColumnRef": {"fields": tree["ColumnRef"].get("fields", ())[-1:]}}
    return {key: _unqualified(value) for key, value in tree.items()}


def _expression_index_sql(catalog: Catalog, table: Table, column: str, use: ColumnUse) -> str:
    # PostgreSQL names an expression index after the cast column, or after the called function.
    call = use.wrapped.get("FuncCall")
    middle = [n["String"]["sval"] for n in call["funcname"] if "String" in n][-1] if call else column
    name = choose_name(table.qname.name, middle, "idx", catalog.relation_names(table.qname.schema).__contains__)
    return f"CREATE INDEX IF NOT EXISTS {quote_ident(name)} ON {table.qname} (({_expression_sql(use)}));"


def _policies(refs: list[PolicyUse], several: bool) -> str:
    """``policy "a" on public.x filters`` / ``policies "a", "b" on public.x filter``."""
    return ("policies " if several else "policy ") + policy_names(refs) + (" filter" if several else " filters")


RULE = Rule(
    code="IDX002",
    name="unindexed-policy-column",
    summary="A column a policy filters on is not indexed",
    default_severity=Severity.WARNING,
    tags=("performance",),
    checklist=True,
    fires_when="a column a policy compares (`=`, `IN (…)`, `= ANY`) with a value not from the same row has no index that could serve it: a sub-select's own columns count for its tables, its correlated outer column does not; `x IN (SELECT …)` does not (a policy runs it as a hashed sub-plan); a cast or function of the column asks for an expression index; a partial index counts when the policy implies its `WHERE`; foreign-key columns are left to IDX001, boolean columns to the data",
    points_at="the column reference in the policy",
    check=check,
    reads=(ACCESS, POLICY_TABLES),
    docs=__doc__,
    bad=(
        "create table public.posts (id bigint primary key, author_id uuid not null);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_own on public.posts for all using ((select auth.uid()) = author_id);",
        "create table public.members (team_id bigint, user_id uuid, primary key (team_id, user_id));\n"
        "create table public.docs (id bigint primary key, team_id bigint);\n"
        "create index on public.docs (team_id);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_team on public.docs for all using (\n"
        "  exists (select 1 from public.members m where m.team_id = docs.team_id and m.user_id = (select auth.uid())));",
    ),
    good=(
        "create table public.posts (id bigint primary key, author_id uuid not null);\n"
        "create index posts_author_id_idx on public.posts (author_id);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_own on public.posts for all using ((select auth.uid()) = author_id);",
        "create table public.posts (id bigint primary key, published boolean);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_public on public.posts for select using (published);",
    ),
)
