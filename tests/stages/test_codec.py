"""The cache's encoding holds the whole replay state, and builds nothing but the model's types.

The round trip runs over every replay fixture, every rule fixture and random histories:
state that someone adds to the replay and the codec cannot hold fails here, not silently
in a user's cache.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlslint import codec
from rlslint.schema.replay import replay_file
from rlslint.schema.state import ReplayState
from rlslint.sql.names import QName
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import Span
from tests.support.histories import migration_histories

FIXTURES = Path(__file__).parents[1] / "fixtures"
HISTORIES = sorted(p for p in (FIXTURES / "replay").iterdir() if (p / "migrations").is_dir())
RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*/*.sql"))


def _replayed(texts: list[tuple[str, str]]) -> ReplayState:
    state = ReplayState(strict=False)
    for path, text in texts:
        replay_file(parse_file(path, text), state)
    return state


def assert_round_trip(state: ReplayState) -> None:
    data = json.loads(json.dumps(codec.encode_state(state)))  # through the bytes a file holds
    back = codec.decode_state(data)
    assert vars(back).keys() == vars(state).keys()
    for name, value in vars(state).items():
        if name != "tables":
            assert getattr(back, name) == value, name
    assert dict(back.tables) == dict(state.tables)
    for attribute in ("relations", "constraints", "index_owner", "children"):
        assert getattr(back.tables, attribute) == getattr(state.tables, attribute), attribute
    assert list(back.tables) == list(state.tables)  # order decides the order of findings
    assert back.catalog() == state.catalog()


@pytest.mark.parametrize("history", HISTORIES, ids=lambda p: p.name)
def test_the_state_after_each_replay_history_round_trips(history):
    files = sorted((history / "migrations").glob("*.sql"))
    texts = [(f.name, f.read_text(encoding="utf-8")) for f in files]
    for k in range(1, len(texts) + 1):  # the cache stores prefixes
        assert_round_trip(_replayed(texts[:k]))


@pytest.mark.parametrize("fixture", RULE_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_state_after_each_rule_fixture_round_trips(fixture):
    assert_round_trip(_replayed([(fixture.as_posix(), fixture.read_text(encoding="utf-8"))]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=migration_histories())
def test_the_state_after_random_histories_round_trips(texts):
    assert_round_trip(_replayed([(f"{i}.sql", t) for i, t in enumerate(texts)]))


def test_state_of_an_unknown_type_is_refused_when_storing():
    state = _replayed([("a.sql", "create table t (id int);")])
    state.functions = {"f": object()}  # what a new kind of state would look like, unregistered
    with pytest.raises(codec.NotEncodable):
        codec.encode_state(state)


def _table_type(data: dict) -> int:
    return data["types"].index("rlslint.schema.model.Table")


# What someone writing an entry by hand could try, each as a change to a real entry; the
# note list is where the forged value goes.
FORGED = {
    "a type not registered": lambda d: (d["types"].append("builtins.eval"), [len(d["types"]) - 1, "1"])[1],
    "os.system by name": lambda d: (d["types"].append("os.system"), [len(d["types"]) - 1, "true"])[1],
    "a type name not a string": lambda d: (d["types"].append(["rlslint.schema.model.Table"]), [0])[1],
    "a type out of the table": lambda d: [len(d["types"]) + 5, "x"],
    "a negative place": lambda d: (d["types"].clear(), [-1])[1],
    "wrong number of fields": lambda d: [_table_type(d), 1],
    "an unknown tag": lambda d: ["~x"],
    "an empty array": lambda d: [],
    "a string place not a number": lambda d: ["x", "0"],
    "a string out of the table": lambda d: ["x", len(d["strings"]) + 5],
    "a string table holding a number": lambda d: (d["strings"].append(1), "text")[1],
    "a mapping of an odd length": lambda d: ["d", 1],
    "an unhashable member": lambda d: ["s", {"unhashable": 1}],
    "a state object not listed": lambda d: ["o", "builtins.object", {}],
    "a state object's attributes not a mapping": lambda d: ["o", "rlslint.schema.access.AccessState", []],
    "a shared value out of the table": lambda d: ["r", len(d["shared"]) + 5],
    "a shared value naming a later one": lambda d: (d["shared"].insert(0, ["r", 1]), "text")[1],
    "the shared table not a list": lambda d: (d.update(shared={}), "text")[1],
}


@pytest.mark.parametrize("forged", sorted(FORGED))
def test_only_registered_types_with_their_fields_can_be_built(forged):
    data = json.loads(json.dumps(codec.encode_state(_replayed([("a.sql", "create table t (id int);")]))))
    assert codec.decode_state(json.loads(json.dumps(data))).catalog() is not None  # as stored, it decodes
    data["attributes"]["notes"] = ["l", FORGED[forged](data)]
    with pytest.raises(codec.NotDecodable):
        codec.decode_state(data)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=60), st.sampled_from(["x", "l", "t", "j", "o", "~", "~t"]))
_HASHABLE = st.recursive(
    st.one_of(_SCALARS, st.builds(QName, st.text(max_size=50), st.text(max_size=50)),
              st.builds(Span, st.text(max_size=70), st.integers(0, 10**6), st.integers(0, 10**6))),
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=3)), max_leaves=8)
_VALUES = st.recursive(_HASHABLE, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner), st.dictionaries(st.text(max_size=50), inner, max_size=3),
    st.dictionaries(_HASHABLE, inner, max_size=3), st.sets(_HASHABLE, max_size=3),
    st.builds(Counter, st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))), max_leaves=20)


def _shape(value):
    """The value with each container's type spelled out, so equal values of other types differ."""
    kind = type(value)
    if kind in (list, tuple):
        return (kind.__name__, [_shape(v) for v in value])
    if kind in (set, frozenset):
        return (kind.__name__, sorted(map(repr, map(_shape, value))))
    if kind in (dict, Counter):
        return (kind.__name__, sorted((repr(_shape(k)), repr(_shape(v))) for k, v in value.items()))
    return (kind.__name__, value)


@settings(max_examples=300, deadline=None)
@given(value=_VALUES)
def test_any_value_the_state_may_hold_reads_back_as_it_was_and_of_its_type(value):
    data = codec.encode_state(_with(value))
    back = codec.decode_state(json.loads(json.dumps(data))).extra_value
    assert back == value and _shape(back) == _shape(value)


def _with(value) -> ReplayState:
    state = ReplayState(strict=False)
    state.extra_value = value  # as state another module adds to the replay
    return state


def test_long_strings_and_paths_are_stored_once_and_read_back_shared():
    text = "create table public.t (id int primary key, owner uuid);\n" \
           "alter table public.t enable row level security;\n" \
           "create policy p on public.t for update using (owner = auth.uid()) with check (owner = auth.uid());\n"
    path = "supabase/migrations/20240101000000_a_rather_long_name_for_a_migration.sql"
    state = _replayed([(path, text)])
    data = json.loads(json.dumps(codec.encode_state(state)))
    assert data["strings"].count(path) == 1 and json.dumps(data).count(path) == 1
    table = codec.decode_state(data).tables[QName("public", "t")]
    policy = table.policies[0]
    assert policy.using.statement_text is policy.with_check.statement_text
    assert policy.using.origin.path is policy.created.path
    assert table.columns[0].created is table.columns[1].created  # one span, one object, as the replay made it


def test_equal_privileges_of_many_tables_are_stored_once_and_read_back_as_one():
    texts = [(f"{i}.sql", f"create table public.t{i} (id int);\ngrant select on public.t{i} to anon;\n")
             for i in range(5)]
    state = _replayed(texts)
    data = json.loads(json.dumps(codec.encode_state(state)))
    back = codec.decode_state(data)
    acls = {id(back.tables[QName("public", f"t{i}")].acl) for i in range(5)}
    assert len(acls) == 1 and back.tables[QName("public", "t0")].acl == state.tables[QName("public", "t0")].acl
    acl = sorted(state.tables[QName("public", "t0")].acl)
    assert sum(1 for v in data["shared"] if v[0] == "f" and sorted(tuple(x[1:]) for x in v[1:]) == acl) == 1


def test_an_attribute_name_cannot_reach_the_state_object_internals():
    data = codec.encode_state(_replayed([]))
    data["attributes"]["__class__"] = "x"
    with pytest.raises(codec.NotDecodable):
        codec.decode_state(data)


def test_the_registry_holds_the_model_s_data_types_only():
    import dataclasses

    for name, cls in codec.REGISTRY.items():
        assert cls.__module__.startswith("rlslint.") and name == f"{cls.__module__}.{cls.__qualname__}"
        frozen = dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
        assert frozen or (issubclass(cls, tuple) and hasattr(cls, "_fields")), name
