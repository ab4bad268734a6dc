"""Name binding in policy trees: what the replay qualifies, and what it leaves alone."""

from __future__ import annotations

from rlslint.schema.replay import replay
from rlslint.sql.parse import parse_file


def _rangevars(tree):
    stack, found = [tree], []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "RangeVar" in item:
                found.append((item["RangeVar"].get("schemaname"), item["RangeVar"]["relname"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(found, key=str)


def test_qualifies_known_tables_only():
    sql = """
    create schema app;
    create table app.members (user_id uuid);
    create table public.docs (id bigint primary key);
    set search_path to app, auth, public;
    create policy p on public.docs using (exists (
      with mine as (select 1 from members where user_id = (select auth.uid()))
      select 1 from mine, users where users.id = (select auth.uid())));
    """
    catalog = replay([parse_file("a.sql", sql)])
    (policy,) = catalog.tables[("public", "docs")].policies
    # the project's table gets its schema; the CTE and the platform table stay as written
    assert _rangevars(policy.using.tree) == [("app", "members"), (None, "mine"), (None, "users")]


# --- the rules' one walk: nodes and paths as sql.tree.walk, bindings as scopes.walk --------

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from rlslint.rules import ALL_RULES  # noqa: E402
from rlslint.schema import scopes  # noqa: E402
from rlslint.sql.tree import walk  # noqa: E402
from tests.support.histories import migration_histories  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SOURCES = sorted(FIXTURES.glob("rules/*/*.sql")) + sorted(FIXTURES.glob("replay/**/*.sql"))

# Scopes the walk must keep apart: sub-selects, joins (their conditions see the whole FROM
# clause), FROM-clause sub-selects and functions (only the enclosing scopes), CTEs, UNION
# arms (bare select bodies), a correlated reference, a shadowing alias.
SCOPED = """
create table public.members (team_id bigint, user_id uuid, role text);
create table public.docs (id bigint primary key, team_id bigint, owner_id uuid);
create policy p on public.docs using (
  exists (select 1 from public.members m join public.docs d on d.team_id = m.team_id
          where m.team_id = docs.team_id and m.user_id = (select auth.uid()))
  or team_id in (with t as (select team_id from public.members where user_id = owner_id)
                 select team_id from t union select m.team_id from public.members m where m.role = 'x')
  or exists (select 1 from (select team_id from public.members where user_id = owner_id) s, generate_series(1, team_id) g
             where s.team_id = team_id)
  or owner_id = any (array(select user_id from public.members docs where docs.team_id = team_id)));
"""


def _walks_agree(catalog) -> int:
    has_column = lambda qname, column: catalog.table(qname) is not None and catalog.table(qname).column(column) is not None  # noqa: E731
    checked = 0
    for table in catalog.tables.values():
        for policy in table.policies:
            for expr in (policy.using, policy.with_check):
                if expr is None:
                    continue
                expected: dict[int, scopes.Ref] = {}
                scopes.walk(expr.tree, table.qname, has_column, lambda ref: expected.__setitem__(id(ref.node), ref))
                nodes, bound = scopes.bound_walk(expr.tree, table.qname, has_column)
                walked = list(walk(expr.tree))
                assert [(k, id(n), [id(b) for _, b in p]) for k, n, p in nodes] == \
                    [(k, id(n), [id(b) for _, b in p]) for k, n, p in walked]
                assert bound.keys() == expected.keys()
                for key, ref in expected.items():
                    got = bound[key]
                    assert (got.node, got.names, got.table, got.outer) == (ref.node, ref.names, ref.table, ref.outer)
                    assert got.via == ref.via
                checked += 1
    return checked


def test_one_walk_binds_every_scope_as_the_scope_walk_does():
    assert _walks_agree(replay([parse_file("a.sql", SCOPED)])) == 1


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_one_walk_agrees_on_every_fixture(path: Path) -> None:
    _walks_agree(replay([parse_file(path.as_posix(), path.read_text(encoding="utf-8"))], strict=False))


def test_one_walk_agrees_on_every_rule_example():
    checked = 0
    for rule in ALL_RULES:
        for sql in (*rule.bad, *rule.good):
            checked += _walks_agree(replay([parse_file("m.sql", sql)], strict=False))
    assert checked > 20


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=migration_histories())
def test_one_walk_agrees_on_generated_histories(texts):
    _walks_agree(replay([parse_file(f"{i}.sql", text) for i, text in enumerate(texts)], strict=False))
