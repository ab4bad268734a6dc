"""
## What it flags
A foreign key to an owner table (`auth.users` by default) whose `ON DELETE` action is
`NO ACTION` (the default when none is written) or `RESTRICT`, or `SET NULL` on a column
that is `NOT NULL`. `CASCADE`, `SET NULL` on a nullable column and `SET DEFAULT` are
accepted (the `on-delete` option changes which actions are).

## Why it matters
When a user deletes their account (or an admin removes them), Supabase deletes the row in
`auth.users`. A foreign key that neither cascades nor sets null makes that delete fail
with a foreign-key violation, so the user cannot be deleted, and the GDPR request or the
dashboard action errors out. `SET NULL` on a `NOT NULL` column fails the same way.
"""

from __future__ import annotations

from rlslint.escape import visible  # names in comments: a line break would end the comment

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules._facts import Facts
from rlslint.rules._owners import owner
from rlslint.rules._predicates import owner_fk_blocks_delete
from rlslint.rules.base import Rule, RuleContext, RuleOption
from rlslint.schema.model import ON_DELETE, ForeignKey, Table
from rlslint.settings import Settings
from rlslint.sql.names import quote_ident


def check(ctx: RuleContext) -> Iterator[Finding]:
    accepted = frozenset(RULE.option(ctx.settings, "on-delete"))
    for table in ctx.tables():
        for fk in table.foreign_keys:
            if fk.ref_table not in ctx.settings.owner_tables:
                continue
            if not owner_fk_blocks_delete(table, fk, accepted):
                continue
            action = ON_DELETE.get(fk.on_delete, "NO ACTION")
            not_null = [c for c in fk.columns if (col := table.column(c)) is not None and col.not_null]
            why = (
                f"ON DELETE SET NULL on NOT NULL column {', '.join(not_null)}"
                if action == "SET NULL" and action in accepted
                else f"ON DELETE {action}"
            )
            yield Finding(
                fk.clause,
                f"foreign key {fk.name} on {table.qname} references owner table {fk.ref_table} with {why}: "
                f"deleting a user fails while rows of {table.qname} point at them",
                Subject.of(Kind.FOREIGN_KEY, table, columns=fk.columns, constraint=fk.name),
                _fix(table, fk, ctx.settings, ctx.facts),
            )


def _fix(table: Table, fk: ForeignKey, settings: Settings, facts: Facts) -> str:
    """CASCADE for the row's owner, SET NULL for a nullable column that records who acted,
    and where rlslint cannot tell which the column is, both as comments for a person.

    Cascading an actor column is the dangerous mistake: deleting the admin who suspended
    a user would delete the suspension, and the user is unbanned.
    """
    found = owner(table, settings, facts)
    target = ", ".join(f"{table.qname}.{quote_ident(c)}" for c in fk.columns)
    nullable = all((col := table.column(c)) is not None and not col.not_null for c in fk.columns)
    if found is not None and fk.columns == (found.column,):
        return f"-- {target} is the row's owner ({visible(found.why)}): the rows go with the user\n" + _re_add(table, fk, "CASCADE")
    if found is not None and nullable:
        return (f"-- {target} records who acted, not who owns the row (the owner is {quote_ident(found.column)}): "
                "deleting the user keeps the row and forgets them\n" + _re_add(table, fk, "SET NULL"))
    drop_not_null = "" if nullable else "".join(
        f"  ALTER COLUMN {quote_ident(c)} DROP NOT NULL,\n" for c in fk.columns)
    cascade = _re_add(table, fk, "CASCADE").splitlines()
    set_null = _re_add(table, fk, "SET NULL", drop_not_null).splitlines()
    return "\n".join([
        f"-- decide what deleting a user does to the rows of {table.qname} that {target} points at;",
        "-- rlslint cannot tell whether the column owns the row or records who acted. Either:",
        "-- the row belongs to the user, and goes with them:",
        *(f"-- {line}" for line in cascade),
        "-- or the column records who acted, and the row stays without them:",
        *(f"-- {line}" for line in set_null),
    ])


def _re_add(table: Table, fk: ForeignKey, action: str, before: str = "") -> str:
    columns = ", ".join(quote_ident(c) for c in fk.columns)
    ref_columns = f" ({', '.join(quote_ident(c) for c in fk.ref_columns)})" if fk.ref_columns else ""
    name = quote_ident(fk.name)
    return (
        f"ALTER TABLE {table.qname}\n{before}"
        f"  DROP CONSTRAINT {name},\n"
        f"  ADD CONSTRAINT {name} FOREIGN KEY ({columns}) REFERENCES {fk.ref_table}{ref_columns} ON DELETE {action};"
    )


RULE = Rule(
    code="FK001",
    name="owner-fk-without-cascade",
    summary="Foreign key to the owner table blocks deleting the owner",
    default_severity=Severity.ERROR,
    tags=("reliability",),
    checklist=True,
    cells=("Owner FKs cascade",),
    fires_when="an FK to an owner table (`auth.users`) has `ON DELETE` NO ACTION or RESTRICT, or SET NULL on a NOT NULL column",
    points_at="the FK clause",
    check=check,
    reads=(),
    docs=__doc__,
    options=(
        RuleOption(
            "on-delete",
            "list[str]",
            # SET DEFAULT lets the delete go through (the row moves to the default owner): not a blocker.
            ["CASCADE", "SET NULL", "SET DEFAULT"],
            "ON DELETE actions accepted on a foreign key to an owner table; SET NULL only on nullable columns.",
            choices=tuple(ON_DELETE.values()),
        ),
    ),
    bad=(
        "create table public.profiles (id uuid primary key references auth.users (id));",
        "create table public.posts (id bigint primary key, author uuid not null references auth.users on delete set null);\n"
        "create index on public.posts (author);",
    ),
    good=(
        "create table public.profiles (id uuid primary key references auth.users (id) on delete cascade);",
        "create table public.posts (id bigint primary key, author uuid references auth.users on delete set null);\n"
        "create index on public.posts (author);",
    ),
)
