"""The trace ``--verify`` compares against: the tables each statement changed, as the replay left them.

The tracer learns which tables a statement wrote from the table registry's own record
(``TableRegistry.written``) instead of comparing every table after every statement. The
reference here compares every table each time; both must see the same changes, step by
step, on every replay scenario, rule fixture and random history.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from rlslint import history, sources
from rlslint.verify.trace import Tracer
from tests.support.histories import migration_histories

FIXTURES = Path(__file__).parents[1] / "fixtures"
SCENARIOS = sorted(p / "migrations" for p in (FIXTURES / "replay").iterdir() if (p / "migrations").is_dir())
RULE_FIXTURES = sorted((FIXTURES / "rules").glob("*/*.sql"))


class _EveryTable(Tracer):
    """The reference: no record trusted, every table compared after each statement."""

    def observe(self, statement, state) -> None:
        self._tables = None
        super().observe(statement, state)


def _traces(directory: Path):
    (migration_set,) = sources.discover([str(directory)], directory, None, ()).sets
    traced = []
    for tracer in (Tracer(), _EveryTable()):
        history.replay_set(migration_set, keep=lambda text: False, observer=tracer,
                           start=history.start_of(migration_set, None))
        traced.append(tracer.files())
    return traced


def _assert_same_changes(directory: Path) -> None:
    recorded, compared = _traces(directory)
    assert [(f.path, [(s.span, dict(s.changed)) for s in f.steps]) for f in recorded] == \
        [(f.path, [(s.span, dict(s.changed)) for s in f.steps]) for f in compared]


@pytest.mark.parametrize("migrations", SCENARIOS, ids=lambda p: p.parent.name)
def test_the_recorded_changes_are_those_of_comparing_every_table_on_each_scenario(migrations):
    _assert_same_changes(migrations)


@pytest.mark.parametrize("path", RULE_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_recorded_changes_are_those_of_comparing_every_table_on_each_rule_fixture(tmp_path, path):
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / f"20240101000000_{path.stem}.sql").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    _assert_same_changes(migrations)


@settings(max_examples=60)
@given(texts=migration_histories())
def test_the_recorded_changes_are_those_of_comparing_every_table_on_random_histories(tmp_path_factory, texts):
    migrations = tmp_path_factory.mktemp("history") / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    for i, text in enumerate(texts):
        (migrations / f"2024010100000{i}_step.sql").write_text(text, encoding="utf-8")
    _assert_same_changes(migrations)


def test_a_dropped_table_is_recorded_as_removed(tmp_path):
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_a.sql").write_text(
        "create table public.a (id int);\ncreate table public.b (id int);\ndrop table public.a;\n"
        "alter table public.b rename to c;\n", encoding="utf-8")
    recorded, _ = _traces(migrations)
    (file,) = recorded
    changes = [{f"{q.schema}.{q.name}": facts is not None for q, facts in s.changed.items()} for s in file.steps]
    assert changes == [{"public.a": True}, {"public.b": True}, {"public.a": False}, {"public.b": False, "public.c": True}]
