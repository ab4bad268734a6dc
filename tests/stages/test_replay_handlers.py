"""The replay's handler table, and copies of its state that cannot affect each other."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings

from rlslint.schema import replay
from rlslint.schema.state import ReplayState
from rlslint.sql.parse import parse_file
from tests.support.histories import migration_histories
from tests.support.model_snapshot import model_snapshot


def test_every_handled_statement_is_handled_once_and_not_passed_through():
    assert not replay.HANDLERS.keys() & replay.PASS_THROUGH
    for module in replay.HANDLER_MODULES:
        for kind, handler in module.HANDLERS.items():
            assert replay.HANDLERS[kind] is handler, kind
        for kind, handler in getattr(module, "DROPS", {}).items():
            assert replay.DROPS[kind] is handler, kind


def test_two_modules_claiming_one_statement_is_refused():
    first = SimpleNamespace(__name__="first", HANDLERS={"GrantStmt": lambda stmt, state: None})
    second = SimpleNamespace(__name__="second", HANDLERS={"GrantStmt": lambda stmt, state: None})
    with pytest.raises(ValueError, match="GrantStmt is handled by both"):
        replay.merged([first, second], "HANDLERS")


def _state(texts: list[str]) -> ReplayState:
    state = ReplayState(strict=True)
    for i, text in enumerate(texts):
        replay.replay_file(parse_file(f"{i}.sql", text), state)
    return state


def _everything(state: ReplayState) -> str:
    """The whole state, policy trees and notes included, as text to compare."""
    catalog = state.catalog()
    trees = {str(q): [[p.name, p.using and p.using.tree, p.with_check and p.with_check.tree] for p in t.policies]
             for q, t in catalog.tables.items()}
    return json.dumps([model_snapshot(catalog), trees, sorted(map(repr, catalog.notes)), sorted(catalog.schemas),
                       state.search_path], sort_keys=True, default=repr)


HISTORY = """
create table public.teams (id bigint primary key);
create table public.tasks (id bigint primary key, team_id bigint references public.teams, owner_id uuid);
create index tasks_owner on public.tasks (owner_id);
alter table public.tasks enable row level security;
create policy own on public.tasks using (owner_id = auth.uid()
  and team_id in (select id from teams where teams.id = tasks.team_id));
"""

CHANGES = """
alter table public.tasks rename column owner_id to user_id;
alter table public.teams rename to groups;
alter table public.tasks rename to todos;
alter index tasks_owner rename to todos_user;
alter policy own on public.todos rename to mine;
alter table public.todos add column extra int;
set search_path = extensions;
"""


def test_a_copy_changes_independently_of_its_original():
    original = _state([HISTORY])
    before = _everything(original)
    copy = original.copy()
    replay.replay_file(parse_file("later.sql", CHANGES), copy)
    replay.replay_file(parse_file("drop.sql", "drop table public.todos cascade; drop schema public cascade;"), copy)
    assert _everything(original) == before
    # and the other way round: the original going on leaves an earlier copy alone
    kept = original.copy()
    replay.replay_file(parse_file("later.sql", CHANGES), original)
    assert _everything(kept) == before
    assert _everything(original) != before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=migration_histories())
def test_a_copy_taken_anywhere_is_unaffected_by_what_follows(texts):
    for split in range(len(texts) + 1):
        original = _state(texts[:split])
        before = _everything(original)
        copy = original.copy()
        for i, text in enumerate(texts[split:]):
            replay.replay_file(parse_file(f"{split + i}.sql", text), copy)
        assert _everything(original) == before
        assert _everything(copy) == _everything(_state(texts))


# --- the registry's name counts, kept by counting only what a write adds -------------------

PARTITIONS = """
create table public.events (id bigint, at date, owner_id uuid references auth.users, primary key (id, at))
  partition by range (at);
create table public.events_2024 partition of public.events for values from ('2024-01-01') to ('2025-01-01');
create table public.spare (id bigint, at date, owner_id uuid, primary key (id, at));
alter table public.events attach partition public.spare for values from ('2025-01-01') to ('2026-01-01');
alter table public.events add column team_id bigint unique, add constraint events_owner unique (owner_id, at);
create index on public.events (team_id);
alter table public.events detach partition public.spare;
alter table public.events drop constraint events_owner;
alter table public.events rename to happenings;
drop index public.events_team_id_idx;
"""


def _recounted(state: ReplayState) -> tuple[dict, dict, dict]:
    """The counts as accounting every table afresh gives them."""
    relations: dict[tuple[str, str], int] = {}
    constraints: dict[tuple[str, str], int] = {}
    children: dict[tuple, int] = {}
    for table in state.tables.values():
        schema = table.qname.schema
        for name in (table.qname.name, *(i.name for i in table.indexes)):
            relations[(schema, name)] = relations.get((schema, name), 0) + 1
        for name in (*(i.name for i in table.indexes if i.constraint), *(fk.name for fk in table.foreign_keys)):
            constraints[(schema, name)] = constraints.get((schema, name), 0) + 1
        if table.partition_of is not None:
            children[(table.partition_of, table.qname)] = 1
    return relations, constraints, children


def _counted(state: ReplayState) -> tuple[dict, dict, dict]:
    registry = state.tables
    nonzero = lambda counters: {(outer, name): n for outer, counts in counters.items()  # noqa: E731
                                for name, n in counts.items() if n}
    return nonzero(registry.relations), nonzero(registry.constraints), nonzero(registry.children)


def _counts_hold_after_every_statement(texts: list[str]) -> None:
    state = ReplayState(strict=False)
    for i, text in enumerate(texts):
        parsed = parse_file(f"{i}.sql", text)
        state.new_session()
        for statement in parsed.statements:
            replay.apply(statement, state)
            assert _counted(state) == _recounted(state), statement.text
            for table in state.tables.values():  # every index is found where it is
                for index in table.indexes:
                    assert state.find_index(table.qname.schema, index.name) is not None


def test_name_counts_follow_partitions_keys_and_renames():
    _counts_hold_after_every_statement([HISTORY, CHANGES, PARTITIONS])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=migration_histories())
def test_name_counts_equal_a_recount_after_every_statement(texts):
    _counts_hold_after_every_statement(texts)
