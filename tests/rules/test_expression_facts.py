"""Every rule reads a policy expression through one walk of it per run (``rules._facts``).

IDX001, IDX002, SEC001, PERF001, FK001's owner evidence and the fixes that copy a predicate
all ask about the same expressions; the memo walks each once, the first time one asks, and
no rule or fix walks a policy tree on its own. These tests run every rule with its fixes
over every rule fixture and count the walks, and check that the memo answers each
expression by itself: two expressions never share an answer.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from rlslint.engine import run_rules
from rlslint.rules import ALL_RULES, _facts
from rlslint.rules.base import RuleContext
from rlslint.schema import scopes
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql import tree as sql_tree
from rlslint.sql.parse import parse_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rules"
EVERY_RULE = Settings(enabled=frozenset(rule.code for rule in ALL_RULES))


def _catalog(path: Path):
    return replay([parse_file(path.as_posix(), path.read_text(encoding="utf-8"))], start="supabase")


def _policy_trees(catalog) -> set[int]:
    return {id(e.tree) for t in catalog.tables.values() for p in t.policies for e in (p.using, p.with_check) if e is not None}


# Every function that walks a tree, where it is defined; a rule or fix may hold one by name
# (``from rlslint.sql.tree import walk``) or reach it through its module (``tree.walk``).
WALKERS = {sql_tree: ("walk", "dicts", "find", "scalars", "locations"),
           scopes: ("walk", "uses_column", "qualified", "qualifies_anything")}
# Not a question about the expression: where the text of one RLS005 reports as always true
# spans (``_predicates.extent``, a few nodes, only for a finding).
POINTING_AT = {"extent"}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.sql")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_expression_is_walked_once_per_run_by_every_rule_and_fix(path: Path, monkeypatch) -> None:
    catalog = _catalog(path)
    trees = _policy_trees(catalog)
    walked: Counter = Counter()
    other_walks: list[str] = []
    active = []  # inside the memo's walk, or one walker inside another: only the outermost counts
    bound_walk = scopes.bound_walk

    def counted(tree, *args, **kwargs):
        walked[id(tree)] += 1
        active.append(True)
        try:
            return bound_walk(tree, *args, **kwargs)
        finally:
            active.pop()

    def refused(name, original):
        def walk(tree, *args, **kwargs):
            caller = sys._getframe(1).f_code.co_name
            if not active and id(tree) in trees and caller not in POINTING_AT:
                other_walks.append(f"{name} from {caller}")
            active.append(True)
            try:
                result = original(tree, *args, **kwargs)
                # A walker may be a generator: consumed by its caller, after this returns.
                return list(result) if hasattr(result, "__next__") else result
            finally:
                active.pop()
        return walk

    originals = {getattr(module, name): name for module, names in WALKERS.items() for name in names}
    monkeypatch.setattr(scopes, "bound_walk", counted)
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("rlslint.") and module is not None:
            for attribute, value in list(vars(module).items()):
                if not callable(value) or isinstance(value, type):
                    continue
                name = originals.get(value)
                if name is not None:
                    monkeypatch.setattr(module, attribute, refused(name, value))
    found = run_rules(catalog, EVERY_RULE, ALL_RULES, fixes=True)
    assert all(count == 1 for count in walked.values()), walked
    assert set(walked) <= trees
    assert not other_walks
    if any(d.code in ("IDX002", "SEC001", "PERF001") for d in found):
        assert walked  # the rules that read expressions asked the memo


def test_the_memo_answers_each_expression_for_itself() -> None:
    """Two policies with the same text at other offsets: their facts point at their own text."""
    sql = ("create table public.t (id bigint primary key, a uuid references auth.users);\n"
           "alter table public.t enable row level security;\n"
           "create policy p on public.t for update to authenticated using (auth.uid() = a);\n"
           "create policy q on public.t for delete to authenticated using (auth.uid() = a);\n")
    catalog = replay([parse_file("m.sql", sql)], start="supabase")
    table = catalog.table(next(iter(catalog.tables)))
    ctx = RuleContext(catalog, EVERY_RULE)
    first, second = (ctx.facts(p.using, table) for p in table.policies)
    assert first is not second
    assert [use.span.start for use in first.compared] == [sql.index("a);", sql.index("policy p"))]
    assert [use.span.start for use in second.compared] == [sql.index("a);", sql.index("policy q"))]
    assert first.per_row_calls == (("auth.uid", sql.index("auth.uid", sql.index("policy p"))),)
    assert second.per_row_calls == (("auth.uid", sql.index("auth.uid", sql.index("policy q"))),)
    assert first.uid_columns == second.uid_columns == ("a",)
    assert ctx.facts(table.policies[0].using, table) is first  # asked again: the same answers
    assert RuleContext(catalog, EVERY_RULE).facts(table.policies[0].using, table) is not first  # another run


def test_user_metadata_references_are_found_in_every_spelling() -> None:
    sql = ("create table public.t (id bigint primary key);\n"
           "create policy p on public.t using ("
           "(auth.jwt() -> 'user_metadata' ->> 'role') = 'admin'"
           " or auth.jwt() #>> '{user_metadata,role}' = 'x'"
           " or jsonb_extract_path(auth.jwt(), 'user_metadata') is not null"
           " or (current_setting('request.jwt.claims', true)::jsonb -> 'user_metadata') is not null"
           " or exists (select 1 from auth.users u where u.raw_user_meta_data ->> 'r' = 'x')"
           " or (auth.jwt() -> 'app_metadata' ->> 'role') = 'admin');\n")
    catalog = replay([parse_file("m.sql", sql)], start="supabase")
    table = catalog.table(next(iter(catalog.tables)))
    found = _facts.of_expression(table.policies[0].using, table, catalog).user_metadata
    starts = [start for start, _ in found]
    assert starts == sorted(starts) and len(found) == 5
    assert [sql[start:end] for start, end in found] == [  # from the claims to the key
        "auth.jwt() -> 'user_metadata'", "auth.jwt() #>> '{user_metadata,role}'",
        "jsonb_extract_path(auth.jwt(), 'user_metadata')",
        "current_setting('request.jwt.claims', true)::jsonb -> 'user_metadata'", "u.raw_user_meta_data"]
