"""A table the model could not know (dynamic SQL touched it), rebuilt from PostgreSQL's catalog.

What the model knew and the catalog confirms is kept as the model has it (policy
expressions, the clauses findings point at); what only the catalog holds is built from
it, located at the statement after which the catalog first showed it, so the checklist
findings decided from it still point at the statement that caused them. A policy only the
catalog holds gets its USING and WITH CHECK as PostgreSQL prints them (``pg_get_expr``),
parsed into the tree the model keeps, sub-selects' tables qualified as the replay qualifies
them, so the rules that read expressions (IDX002, PERF001, RLS003 …) judge it too.
"""

from __future__ import annotations

from typing import Callable

from rlslint.schema import scopes
from rlslint.schema.model import ON_DELETE, Column, Expr, ForeignKey, Index, Policy, Table, evolve
from rlslint.sql.names import QName, parse_qname
from rlslint.sql.parse import parse_expression
from rlslint.sql.spans import Span
from rlslint.verify.facts import ExpressionCheck, PolicyFacts, TableFacts, catalog_facts, model_facts

_ON_DELETE_CODES = {words: code for code, words in ON_DELETE.items()}


def decided_table(table: Table, row: list, history: list[tuple[Span, TableFacts | None]], same: ExpressionCheck,
                  lookup: Callable[[str], QName | None]) -> Table:
    """``row``: the catalog's last row for the table; ``history``: its facts after each statement
    that changed them; ``same``: how PostgreSQL judges the model's expression against its own
    (None: the same); ``lookup``: the table an unqualified name in PostgreSQL's text means."""
    facts = catalog_facts(*row)
    ours = model_facts(table)
    first = lambda test: next((span for span, seen in history if seen is not None and test(seen)), table.changed)  # noqa: E731
    _, rls, force_rls, columns, policies, indexes, foreign_keys, *_ = row
    kept = {p.name: p for p in table.policies}
    our_policies = dict(ours.policies)
    decided_policies = []
    for name, theirs in facts.policies:
        if name in our_policies and _same_policy(our_policies[name], theirs, same):
            decided_policies.append(kept[name])
            continue
        at = first(lambda seen, name=name: name in dict(seen.policies))
        decided_policies.append(Policy(name, theirs.command, theirs.permissive, theirs.roles,
                                       _expr(theirs.using, "qual", at, table.qname, lookup),
                                       _expr(theirs.with_check, "with_check", at, table.qname, lookup), at, at))
    by_name = [(name, not_null) for name, not_null, *_ in ours.columns]
    return evolve(
        table,
        rls=rls,
        force_rls=force_rls,
        rls_changed=_last_change(history, lambda seen: seen.rls) if rls != table.rls else table.rls_changed,
        columns=table.columns if by_name == [(name, not_null) for name, not_null, *_ in facts.columns] else tuple(
            table.column(name) or Column(name, "", not_null, first(lambda seen, n=name: n in {c[0] for c in seen.columns}),
                                         "")
            for name, not_null, *_ in columns),
        policies=tuple(decided_policies),
        indexes=table.indexes if ours.indexes == facts.indexes else tuple(
            Index(name, tuple(cols), unique, partial, primary, primary or unique, table.changed)
            for name, cols, unique, partial, primary in indexes),
        foreign_keys=table.foreign_keys if ours.foreign_keys == facts.foreign_keys else tuple(
            _foreign_key(name, cols, ref, ref_cols, on_delete, table.changed)
            for name, cols, ref, ref_cols, on_delete in foreign_keys),
        acl=facts.privileges,
        column_acl=facts.column_privileges,
        unanalysed=(),  # PostgreSQL has answered what the model could not
    )


def _same_policy(ours: PolicyFacts, theirs: PolicyFacts, same: ExpressionCheck) -> bool:
    if ours.kind() != theirs.kind():
        return False
    for mine, catalogs in ((ours.using, theirs.using), (ours.with_check, theirs.with_check)):
        if (mine is None) != (catalogs is None) or mine and catalogs and same(mine, catalogs) is not None:
            return False
    return True


def _expr(text: str | None, clause: str, at: Span, owner: QName, lookup: Callable[[str], QName | None]) -> Expr | None:
    """PostgreSQL's text of the expression as the model's tree. Its locations are all the
    statement's start (the text is no file's): findings on it point at that statement."""
    if text is None:
        return None
    tree = parse_expression(text, at.start)
    if scopes.qualifies_anything(tree, owner, lookup):
        tree = scopes.qualified(tree, owner, lookup)
    return Expr(tree, "", clause, at)


def _last_change(history: list[tuple[Span, TableFacts | None]], value) -> Span | None:
    """The statement after which ``value`` of the facts last changed (None: as the table was created)."""
    found, previous = None, None
    for k, (span, seen) in enumerate(entry for entry in history if entry[1] is not None):
        current = value(seen)
        if k and current != previous:
            found = span
        previous = current
    return found


def _foreign_key(name: str, columns, ref: str, ref_columns, on_delete: str, at: Span) -> ForeignKey:
    return ForeignKey(name, tuple(columns), parse_qname(ref) if ref else QName("", ""), tuple(ref_columns),
                      _ON_DELETE_CODES.get(on_delete, "a"), at, at)
