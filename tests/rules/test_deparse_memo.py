"""Printed expressions are kept by shape: the kept text is always what printing anew gives.

A key that left out something the printing depends on would hand one policy another's SQL;
these tests compare every memoised print with a fresh one, over every policy expression of
the rule and replay fixtures, and over copies of one predicate at other offsets with other
calls to wrap.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from pathlib import Path

import pytest

from rlslint.rules._facts import of_expression
from rlslint.schema.replay import replay
from rlslint.sql import deparse
from rlslint.sql.parse import parse_file

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "tests" / "fixtures" / "rules").glob("*/*.sql")) + sorted(
    (ROOT / "tests" / "fixtures" / "replay").glob("**/*.sql"))


def _expressions(sql: str, path: str = "m.sql"):
    return [expr for expr, _ in _with_calls(sql, path)]


def _with_calls(sql: str, path: str = "m.sql"):
    """Each policy expression with the per-row calls the rules find in it (offsets)."""
    catalog = replay([parse_file(path, sql)])
    return [(e, [at for _, at in of_expression(e, t, catalog).per_row_calls])
            for t in catalog.tables.values() for p in t.policies for e in (p.using, p.with_check) if e is not None]


def _fresh(expr, locations=None):
    if locations is None:
        return deparse._print_tree(expr.tree, frozenset())
    return deparse._wrapped(expr.tree, frozenset(locations))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_expression_prints_as_fresh(path: Path) -> None:
    for expr, found in _with_calls(path.read_text(encoding="utf-8"), path.as_posix()):
        assert deparse.predicate_sql(expr) == _fresh(expr)
        calls = frozenset(found)
        # every subset of the calls, so a key that ignored which calls are wrapped would fail
        for size in range(len(calls) + 1):
            for chosen in combinations(sorted(calls), size):
                assert deparse.wrapped_calls_sql(expr, frozenset(chosen)) == _fresh(expr, chosen)


def test_same_predicate_elsewhere_shares_the_print_and_other_calls_do_not() -> None:
    head = "create table public.t (id bigint primary key, a uuid, b uuid);\n"
    policy = "create policy p on public.t using (auth.uid() = a or auth.uid() = b);\n"
    first, calls_first = _with_calls(head + policy)[0]
    later, calls_later = _with_calls(head + "-- a comment that moves every offset\n" + policy)[0]
    assert first.tree != later.tree  # the locations differ
    calls_first, calls_later = sorted(calls_first), sorted(calls_later)
    assert deparse.predicate_sql(first) == deparse.predicate_sql(later) == _fresh(later)
    both = deparse.wrapped_calls_sql(later, frozenset(calls_later))
    one = deparse.wrapped_calls_sql(later, frozenset(calls_later[:1]))
    other = deparse.wrapped_calls_sql(later, frozenset(calls_later[1:]))
    assert deparse.wrapped_calls_sql(first, frozenset(calls_first)) == both == _fresh(later, calls_later)
    assert one == _fresh(later, calls_later[:1]) and other == _fresh(later, calls_later[1:])
    assert len({both, one, other}) == 3
    # a location no call has: nothing to wrap there, so no fix (None), memoised or not
    assert deparse.wrapped_calls_sql(later, frozenset({calls_later[0] + 1})) is None


def test_a_changed_tree_is_printed_anew() -> None:
    expr = _expressions("create table public.t (id bigint primary key, a uuid);\n"
                        "create policy p on public.t using (a = auth.uid());\n")[0]
    renamed = replace(expr, tree=deparse_renamed(expr.tree, "a", "owner_id"))
    assert deparse.predicate_sql(expr) != deparse.predicate_sql(renamed) == _fresh(renamed)


def deparse_renamed(tree, old: str, new: str):
    if isinstance(tree, dict):
        if tree.get("sval") == old:
            return {**tree, "sval": new}
        return {k: deparse_renamed(v, old, new) for k, v in tree.items()}
    if isinstance(tree, list):
        return [deparse_renamed(v, old, new) for v in tree]
    return tree
