"""A table the model could not know (dynamic SQL touched it), rebuilt from PostgreSQL's catalog.

What the model knew and the catalog confirms is kept as the model has it (policy
expressions, the clauses findings point at); what only the catalog holds is built from
it, located at the statement after which the catalog first showed it, so the checklist
findings decided from it still point at the statement that caused them.
"""

from __future__ import annotations

from rlslint.schema.model import ON_DELETE, Column, ForeignKey, Index, Policy, Table, evolve
from rlslint.sql.names import QName, parse_qname
from rlslint.sql.spans import Span
from rlslint.verify.facts import TableFacts, catalog_facts, model_facts

_ON_DELETE_CODES = {words: code for code, words in ON_DELETE.items()}


def decided_table(table: Table, row: list, history: list[tuple[Span, TableFacts | None]]) -> Table:
    """``row``: the catalog's last row for the table; ``history``: its facts after each statement that changed them."""
    facts = catalog_facts(*row)
    ours = model_facts(table)
    first = lambda test: next((span for span, seen in history if seen is not None and test(seen)), table.changed)  # noqa: E731
    _, rls, force_rls, columns, policies, indexes, foreign_keys, *_ = row
    kept = {p.name: p for p in table.policies}
    our_policies = dict(ours.policies)
    decided_policies = []
    for name, command, permissive, roles in policies:
        if our_policies.get(name) == dict(facts.policies)[name]:
            decided_policies.append(kept[name])
            continue
        at = first(lambda seen, name=name: name in dict(seen.policies))
        decided_policies.append(Policy(name, command, permissive, tuple(sorted(roles)), None, None, at, at))
    return evolve(
        table,
        rls=rls,
        force_rls=force_rls,
        rls_changed=_last_change(history, lambda seen: seen.rls) if rls != table.rls else table.rls_changed,
        columns=table.columns if ours.columns == facts.columns else tuple(
            table.column(name) or Column(name, "", not_null, first(lambda seen, n=name: n in dict(seen.columns)))
            for name, not_null in columns),
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
