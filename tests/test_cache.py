"""Replay snapshots: a later run loads the unchanged prefix, and never anything stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlslint.cache import ReplayCache
from rlslint.engine import lint
from rlslint.settings import Settings

FILES = {
    "20240101000000_a.sql": "create table public.a (id int primary key);\n",
    "20240102000000_b.sql": "alter table public.a enable row level security;\n",
    "20240103000000_c.sql": "create table public.c (id int primary key, a_id int references public.a);\n",
}


def run(migrations: Path, cache: ReplayCache | None, *targets: str):
    paths = [str(migrations / t) for t in targets] or [str(migrations)]
    result = lint(paths, migrations, lambda s: Settings(), cache=cache)
    return sorted((d.code, Path(d.span.path).name, d.span.start) for d in result.diagnostics), result.errors


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    directory = tmp_path / "supabase" / "migrations"
    directory.mkdir(parents=True)
    for name, sql in FILES.items():
        (directory / name).write_text(sql)
    return directory


def test_a_new_migration_replays_only_itself(migrations, tmp_path):
    cache = ReplayCache(tmp_path / "cache")
    assert run(migrations, cache) == run(migrations, None)
    assert cache.hits == 0
    (migrations / "20240104000000_d.sql").write_text("create table public.d (id int primary key);\n")
    second = run(migrations, cache, "20240104000000_d.sql")
    assert cache.hits == 3  # a, b and c came from the snapshot
    assert second == run(migrations, None, "20240104000000_d.sql")
    assert [code for code, _, _ in second[0]] == ["RLS001"]


def test_amending_the_newest_migration_uses_the_state_before_it(migrations, tmp_path):
    cache = ReplayCache(tmp_path / "cache")
    run(migrations, cache)
    (migrations / "20240103000000_c.sql").write_text("create table public.c (id int primary key);\n")
    result = run(migrations, cache)
    assert cache.hits == 2
    assert result == run(migrations, None)


def test_editing_an_old_migration_replays_everything_after_it(migrations, tmp_path):
    cache = ReplayCache(tmp_path / "cache")
    run(migrations, cache)
    (migrations / "20240102000000_b.sql").write_text("select 1;\n")  # RLS is never enabled now
    result = run(migrations, cache)
    assert cache.hits == 0
    assert result == run(migrations, None)
    assert ("RLS001", "20240101000000_a.sql", 0) in result[0]


def test_parse_errors_of_cached_files_are_still_reported(migrations, tmp_path):
    (migrations / "20240102000000_b.sql").write_text("selec 1;\n")
    cache = ReplayCache(tmp_path / "cache")
    run(migrations, cache)
    (migrations / "20240104000000_d.sql").write_text("select 1;\n")
    _, errors = run(migrations, cache)
    assert cache.hits == 3
    assert [(Path(e.path).name, e.offset) for e in errors] == [("20240102000000_b.sql", 0)]


def test_a_damaged_snapshot_is_a_miss_not_an_error(migrations, tmp_path):
    cache = ReplayCache(tmp_path / "cache")
    run(migrations, cache)
    for snapshot in (tmp_path / "cache").rglob("*.pickle"):
        snapshot.write_bytes(b"not a pickle")
    assert run(migrations, cache) == run(migrations, None)
    assert cache.hits == 0


def test_only_the_last_two_states_are_kept(migrations, tmp_path):
    cache = ReplayCache(tmp_path / "cache")
    run(migrations, cache)
    (migrations / "20240104000000_d.sql").write_text("select 1;\n")
    run(migrations, cache)
    assert len(list((tmp_path / "cache").rglob("*.pickle"))) == 2
