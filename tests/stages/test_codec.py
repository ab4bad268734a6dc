"""The cache's encoding holds the whole replay state, and builds nothing but the model's types.

The round trip runs over every replay fixture, every rule fixture and random histories:
state that someone adds to the replay and the codec cannot hold fails here, not silently
in a user's cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rlslint import codec
from rlslint.schema.replay import replay_file
from rlslint.schema.state import ReplayState
from rlslint.sql.parse import parse_file
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


@pytest.mark.parametrize("forged", [
    {"~": "builtins.eval", "v": ["1"]},
    {"~": "os.system", "v": ["true"]},
    {"~": "rlslint.schema.model.Table", "v": [1]},  # wrong number of fields
    {"~x": []},
    {"~t": {"not": "a list"}},
    {"~d": [[1]]},
    {"~s": [{"unhashable": 1}]},
])
def test_only_registered_types_with_their_fields_can_be_built(forged):
    data = codec.encode_state(_replayed([("a.sql", "create table t (id int);")]))
    data["attributes"]["notes"] = [forged]
    with pytest.raises(codec.NotDecodable):
        codec.decode_state(data)


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
