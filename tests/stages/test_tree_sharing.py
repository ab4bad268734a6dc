"""The model's policy trees are compact and still the trees the parser gave.

``Shared.tree`` returns an equal tree whose location-free parts are shared between trees
and whose strings are interned; every rule reads these trees, so equality (types included)
is what keeps findings identical, and sharing is what keeps the peak memory down.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings, strategies as st

from rlslint.schema import policies, scopes
from rlslint.schema.replay import replay
from rlslint.sql.names import QName
from rlslint.sql.parse import parse_file
from rlslint.sql.tree import Shared, dicts, scalars, walk

RULE_FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "rules").glob("*/*.sql"))
POLICY = ("create table t (id int, user_id uuid);\n"
          "create policy a on t using ((select auth.uid()) = user_id);\n"
          "create policy b on t using ((select auth.uid()) = user_id and id > 1);\n")


def _same(a, b) -> bool:
    """Equal with every scalar of the same type (``1 == 1.0 == True`` would hide a swap)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and a == b


def _policy_trees(text: str) -> list:
    return [e.tree for t in replay([parse_file("m.sql", text)]).tables.values()
            for p in t.policies for e in (p.using, p.with_check) if e is not None]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False) | st.sampled_from(["a", "b", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["location", "l", "d", "String", "sval"]), inner, max_size=3),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(trees=st.lists(json_values, min_size=1, max_size=4))
def test_a_shared_tree_equals_the_tree_it_came_from(trees):
    shared = Shared()
    before = json.dumps(trees)
    for tree in trees:
        assert _same(shared.tree(tree), tree)
    assert json.dumps(trees) == before  # the argument is never changed


def test_every_policy_tree_of_the_rule_fixtures_survives_sharing():
    shared = Shared()
    for fixture in RULE_FIXTURES:
        for tree in _policy_trees(fixture.read_text(encoding="utf-8")):
            assert _same(shared.tree(tree), tree), fixture


def test_location_free_parts_are_one_object_and_located_parts_their_own():
    shared = Shared()
    one = shared.tree(json.loads('{"A": {"name": [{"String": {"sval": "="}}], "location": 3,'
                                 ' "ref": {"ColumnRef": {"fields": [{"String": {"sval": "id"}}]}}}}'))
    two = shared.tree(json.loads('{"A": {"name": [{"String": {"sval": "="}}], "location": 3,'
                                 ' "ref": {"ColumnRef": {"fields": [{"String": {"sval": "id"}}]}}}}'))
    assert one["A"]["name"] is two["A"]["name"]
    assert one["A"]["ref"]["ColumnRef"]["fields"] is two["A"]["ref"]["ColumnRef"]["fields"]
    assert one is not two and one["A"] is not two["A"]  # located: as many objects as places
    # A column reference, even without a location, stays its own: rules bind them by identity.
    assert one["A"]["ref"] is not two["A"]["ref"]
    assert one["A"]["ref"]["ColumnRef"] is not two["A"]["ref"]["ColumnRef"]


def test_equal_values_of_different_types_are_not_merged():
    shared = Shared()
    trees = [shared.tree([{"v": value}]) for value in (1, 1.0, True, "1")]
    assert [type(t[0]["v"]) for t in trees] == [int, float, bool, str]
    assert shared.tree({"l": "a"}) == {"l": "a"} and shared.tree(["a"]) == ["a"]  # a dict's shape is no list's


def test_a_tree_deeper_than_the_limit_is_kept_whole():
    deep = node = {}
    for _ in range(Shared.DEPTH * 3):
        node["x"] = {}
        node = node["x"]
    assert _same(Shared().tree([deep]), [deep])


def test_the_model_keeps_the_policies_trees_shared():
    a, b = _policy_trees(POLICY)
    calls_a = [n["funcname"] for kind, n, _ in walk(a) if kind == "FuncCall"]
    calls_b = [n["funcname"] for kind, n, _ in walk(b) if kind == "FuncCall"]
    assert calls_a[0] is calls_b[0]  # one auth.uid name for both policies
    refs = [id(n["ColumnRef"]) for tree in (a, b) for n in dicts(tree) if "ColumnRef" in n]
    assert len(refs) == len(set(refs)) == 3


# --- what compacting meets: the replay's questions about a new policy, without a walk ----

POLICY_SOURCES = sorted((Path(__file__).parents[1] / "fixtures").rglob("*.sql")) + sorted(
    (Path(__file__).parents[2] / "example").rglob("*.sql"))
DEEP_NOTS = 60  # NOT nests three levels each: deeper than Shared.DEPTH


def _walked_own_columns(trees: list, table: str) -> list[str]:
    """The question as a walk answers it: column references outside sub-selects, in ``dicts``' order."""
    found = []
    for node in dicts(trees, prune="SelectStmt"):
        if "ColumnRef" in node:
            names = [f["String"]["sval"] for f in node["ColumnRef"].get("fields", ()) if "String" in f]
            if len(names) == 1 and names[0] != table or len(names) == 2 and names[0] == table:
                found.append(names[-1])
    return found


def _policy_statements():
    for path in POLICY_SOURCES:
        parsed = parse_file(path.as_posix(), path.read_text(encoding="utf-8", errors="replace"))
        for statement in parsed.statements:
            if statement.kind in ("CreatePolicyStmt", "AlterPolicyStmt"):
                yield path, statement.node


def test_what_compacting_meets_answers_what_the_walks_answered():
    """Own columns in the same order (the first missing one names the error), ``auth``
    mentioned or not, and every FROM-clause table name among the RangeVars met."""
    checked = 0
    for path, node in _policy_statements():
        trees = [node.get("qual"), node.get("with_check")]
        clauses = [c for c in (policies._compacted(t) for t in trees) if c is not None]
        for table in (node["table"]["relname"], "t"):
            assert policies._own_columns(clauses, table) == _walked_own_columns(trees, table), path
        for clause in clauses:
            assert clause.seen.whole
            assert ("auth" in clause.seen.strings) == any(v == "auth" for v in scalars(clause.parsed)), path
            from_items = []
            scopes.walk(clause.parsed, QName("public", "t"), lambda q, c: False,
                        on_rangevar=lambda rv, ctes: from_items.append(id(rv)))
            assert set(from_items) <= {id(rv) for rv in clause.seen.rangevars}, path
        checked += 1
    assert checked > 100


def test_a_policy_deeper_than_compacting_looks_is_still_checked_and_qualified():
    deep = "not " * DEEP_NOTS
    sql = ("create table public.t (id int, a int);\n"
           "create table public.o (id int);\n"
           f"create policy p on public.t using ({deep}(exists (select 1 from o where o.id = a)));\n"
           f"create policy q on public.t using ({deep}(missing = 1));\n")
    catalog = replay([parse_file("m.sql", sql)])
    table = catalog.table(QName("public", "t"))
    assert [p.name for p in table.policies] == ["p"]  # q reads a column t lacks: PostgreSQL refuses it
    assert any('column "missing" does not exist' in note.message for note in catalog.notes)
    (rangevar,) = [n["RangeVar"] for n in dicts(table.policies[0].using.tree) if "RangeVar" in n]
    assert rangevar["schemaname"] == "public"  # qualified as the name resolved then
    clause = policies._compacted(parse_file("x.sql", sql).statements[3].node["qual"])
    assert not clause.seen.whole
