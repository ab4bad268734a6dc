"""Replay snapshots: a later run loads the unchanged prefix, never anything stale, and nothing
in the cache directory (damaged, forged, foreign, symlinked or half-written) changes a finding
or runs code."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from rlslint import cache as cache_module
from rlslint.cache import ReplayCache, default_directory
from rlslint.engine import lint
from rlslint.schema.model import evolve
from rlslint.settings import Settings
from rlslint.sql import parse

FILES = {
    "20240101000000_a.sql": "create table public.a (id int primary key);\n",
    "20240102000000_b.sql": "alter table public.a enable row level security;\n",
    "20240103000000_c.sql": "create table public.c (id int primary key, a_id int references public.a);\n",
}


def run(migrations: Path, cache: ReplayCache | None, *targets: str):
    paths = [str(migrations / t) for t in targets] or [str(migrations)]
    result = lint(paths, migrations, lambda s: Settings(), cache=cache)
    return sorted((d.code, Path(d.span.path).name, d.span.start) for d in result.diagnostics), result.errors


def supabase_project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A checkout under ``tmp_path`` with these migrations; its migrations directory."""
    directory = tmp_path / "project" / "supabase" / "migrations"
    directory.mkdir(parents=True)
    (tmp_path / "project" / ".git").mkdir()
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    return supabase_project(tmp_path, FILES)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"  # outside the project


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.snapshot"))


def stored_findings(folder: Path) -> list[Path]:
    """The stored results (rlslint/results.py), which a run reads before any snapshot."""
    return sorted(folder.glob("*.findings"))


def forget_findings(folder: Path) -> None:
    """So that the next run reads the snapshots, which the test is about."""
    for entry in stored_findings(folder):
        entry.unlink()


def test_a_new_migration_replays_only_itself(migrations, folder):
    cache = ReplayCache(folder)
    assert run(migrations, cache) == run(migrations, None)
    assert cache.hits == 0
    (migrations / "20240104000000_d.sql").write_text("create table public.d (id int primary key);\n")
    second = run(migrations, cache, "20240104000000_d.sql")
    assert cache.hits == 3  # a, b and c came from the snapshot
    assert second == run(migrations, None, "20240104000000_d.sql")
    assert [code for code, _, _ in second[0]] == ["RLS001"]


def _numbered(count: int) -> dict[str, str]:
    return {f"2024{i:04d}000000_t{i}.sql": f"create table public.t{i} (id int primary key);\n" for i in range(1, count + 1)}


def test_a_run_on_a_new_newest_file_keeps_the_state_it_loaded_and_stores_none(tmp_path, folder):
    """Work in progress is not stored: the next run replays it again from the state before it."""
    migrations = supabase_project(tmp_path, _numbered(30))
    run(migrations, ReplayCache(folder))
    before = {p.name: p.read_bytes() for p in entries(folder)}
    newest = "20249999000000_new.sql"
    for sql in ("create table public.d (id int primary key);\n", "create table public.e (id int primary key);\n"):
        (migrations / newest).write_text(sql)  # as a pre-commit run sees the file, then amended
        again = ReplayCache(folder)
        assert run(migrations, again, newest) == run(migrations, None, newest)
        assert again.hits == 30 and {p.name: p.read_bytes() for p in entries(folder)} == before
    forget_findings(folder)
    whole = ReplayCache(folder)
    assert run(migrations, whole) == run(migrations, None) and whole.hits == 30
    after = {p.name for p in entries(folder)}
    assert len(after) == 2 and after != set(before)  # a run over the set stores its state


def test_a_run_on_named_files_far_from_a_stored_state_stores_the_state_after_them(tmp_path, folder):
    files = _numbered(4)
    migrations = supabase_project(tmp_path, files)
    names = sorted(files)
    for name in names[2:]:
        (migrations / name).rename(migrations / (name + ".later"))
    run(migrations, ReplayCache(folder))  # the state after 2 of them
    for name in names[2:]:
        (migrations / (name + ".later")).rename(migrations / name)
    first = ReplayCache(folder)
    assert run(migrations, first, names[-1]) == run(migrations, None, names[-1]) and first.hits == 2
    forget_findings(folder)
    second = ReplayCache(folder)  # half the set was replayed: the states after it and before its last were stored
    assert run(migrations, second, names[-1]) == run(migrations, None, names[-1]) and second.hits == 3
    forget_findings(folder)
    whole = ReplayCache(folder)
    assert run(migrations, whole) == run(migrations, None) and whole.hits == 4


def test_amending_the_newest_migration_uses_the_state_before_it(migrations, folder):
    cache = ReplayCache(folder)
    run(migrations, cache)
    (migrations / "20240103000000_c.sql").write_text("create table public.c (id int primary key);\n")
    result = run(migrations, cache)
    assert cache.hits == 2
    assert result == run(migrations, None)


def test_editing_an_old_migration_replays_everything_after_it(migrations, folder):
    cache = ReplayCache(folder)
    run(migrations, cache)
    (migrations / "20240102000000_b.sql").write_text("select 1;\n")  # RLS is never enabled now
    result = run(migrations, cache)
    assert cache.hits == 0
    assert result == run(migrations, None)
    assert ("RLS001", "20240101000000_a.sql", 0) in result[0]


def test_parse_errors_of_cached_files_are_still_reported(migrations, folder):
    (migrations / "20240102000000_b.sql").write_text("selec 1;\n")
    cache = ReplayCache(folder)
    run(migrations, cache)
    (migrations / "20240104000000_d.sql").write_text("select 1;\n")
    _, errors = run(migrations, cache)
    assert cache.hits == 3
    assert [(Path(e.path).name, e.offset) for e in errors] == [("20240102000000_b.sql", 0)]


def test_only_the_last_two_states_are_kept(migrations, folder):
    cache = ReplayCache(folder)
    run(migrations, cache)
    (migrations / "20240104000000_d.sql").write_text("select 1;\n")
    run(migrations, cache)
    assert len(entries(folder)) == 2


def test_a_warm_run_parses_nothing_that_did_not_change(migrations, folder, monkeypatch):
    run(migrations, ReplayCache(folder))
    parsed = []
    real = parse.parse_file  # the history imports it where it parses, so it finds this one
    monkeypatch.setattr(parse, "parse_file", lambda path, text: parsed.append(Path(path).name) or real(path, text))
    warm = ReplayCache(folder)
    assert run(migrations, warm) == run(migrations, None)
    assert (warm.result_hits, warm.hits) == (1, 0)  # the stored findings: not even a snapshot is read
    assert parsed == ["20240101000000_a.sql", "20240102000000_b.sql", "20240103000000_c.sql"]  # the uncached run
    parsed.clear()
    forget_findings(folder)
    snapshot = ReplayCache(folder)
    assert run(migrations, snapshot) == run(migrations, None)
    assert snapshot.hits == 3
    parsed.clear()
    run(migrations, ReplayCache(folder))
    assert parsed == []
    (migrations / "20240104000000_d.sql").write_text("select 1;\n")
    run(migrations, ReplayCache(folder))
    assert parsed == ["20240104000000_d.sql"]


def test_the_directory_is_created_private(migrations, tmp_path):
    folder = tmp_path / "fresh" / "rlslint"
    run(migrations, ReplayCache(folder))
    assert entries(folder)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())


def test_relative_cache_locations_are_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RLSLINT_CACHE_DIR", "inside/the/checkout")
    monkeypatch.setenv("XDG_CACHE_HOME", ".cache")
    assert default_directory() == tmp_path / ".cache" / "rlslint"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "rlslint"


# --- what cannot change a finding -------------------------------------------------------

def _truth(migrations: Path):
    return run(migrations, None)


def _plant_everywhere(folder: Path, payload: bytes) -> None:
    for entry in entries(folder):
        entry.write_bytes(payload)


def test_a_damaged_entry_is_a_miss_and_is_replaced(migrations, folder):
    run(migrations, ReplayCache(folder))
    for entry in (*entries(folder), *stored_findings(folder)):
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2])  # what a torn write would leave
    cache = ReplayCache(folder)
    assert run(migrations, cache) == _truth(migrations)
    assert (cache.hits, cache.result_hits) == (0, 0)
    again = ReplayCache(folder)
    assert run(migrations, again) == _truth(migrations)
    assert again.result_hits == 1  # the damaged findings were written anew
    forget_findings(folder)
    snapshot = ReplayCache(folder)
    assert run(migrations, snapshot) == _truth(migrations)
    assert snapshot.hits == 3  # and so was the damaged snapshot


def _forged_entry(folder: Path, secret: bytes) -> tuple[bytes, Path]:
    """The stored entry for the three files, with RLS turned on for every table, signed
    with ``secret``: what someone planting a snapshot would write."""
    cache = ReplayCache(folder)
    cache._open_directory(create=False, root=Path("/nonexistent"))  # noqa: SLF001
    for entry in entries(folder):
        good = cache._thaw(entry.read_bytes(), _key(entry), 3)  # noqa: SLF001
        if good is not None:
            break
    state = good.state
    for qname, table in list(state.tables.items()):
        state.tables[qname] = evolve(table, rls=True)
    cache._key = secret  # noqa: SLF001
    return cache._freeze(cache_module.Snapshot(3, state, ()), _key(entry)), entry  # noqa: SLF001


def _key(entry: Path) -> str:
    return entry.name.split("-", 1)[1].removesuffix(".snapshot")


def test_a_forged_entry_is_not_believed(migrations, folder):
    run(migrations, ReplayCache(folder))
    forget_findings(folder)
    assert ("RLS001", "20240103000000_c.sql", 0) in _truth(migrations)[0]
    payload, entry = _forged_entry(folder, b"0" * 64)  # not this user's key
    entry.write_bytes(payload)
    cache = ReplayCache(folder)
    assert run(migrations, cache) == _truth(migrations)
    assert cache.hits < 3


def test_the_key_decides_what_is_believed(migrations, folder):
    """The control for the test above: signed with the right key, the same forgery would
    have hidden the finding, so the key is what keeps it out."""
    run(migrations, ReplayCache(folder))
    forget_findings(folder)
    payload, entry = _forged_entry(folder, (folder / "key").read_bytes())
    entry.write_bytes(payload)
    assert ("RLS001", "20240103000000_c.sql", 0) not in run(migrations, ReplayCache(folder))[0]


def test_an_entry_of_an_earlier_format_is_a_miss_and_is_replaced(migrations, folder):
    """Each format's entries are read by that format's code only: one of the format before
    (whole, signed with the user's key, under the right name) is replayed and replaced."""
    run(migrations, ReplayCache(folder))
    forget_findings(folder)
    cache = ReplayCache(folder)
    cache._open_directory(create=False, root=Path("/nonexistent"))  # noqa: SLF001
    cache._key = (folder / "key").read_bytes()  # noqa: SLF001
    for entry in entries(folder):
        body = json.loads(entry.read_bytes().split(b"\n", 2)[2])
        assert body["format"] == cache_module.FORMAT
        body["format"] = cache_module.FORMAT - 1
        entry.write_bytes(cache._signed(json.dumps(body).encode(), b"rlslint-snapshot\n"))  # noqa: SLF001
    earlier = ReplayCache(folder)
    assert run(migrations, earlier) == _truth(migrations) and earlier.hits == 0
    forget_findings(folder)
    again = ReplayCache(folder)
    assert run(migrations, again) == _truth(migrations) and again.hits == 3


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['RLSLINT_BOOM']}",))


def test_a_planted_pickle_never_runs(migrations, folder, tmp_path, monkeypatch):
    boom = tmp_path / "boom"
    monkeypatch.setenv("RLSLINT_BOOM", str(boom))
    run(migrations, ReplayCache(folder))
    _plant_everywhere(folder, pickle.dumps(_Boom()))
    for name in ("x.pickle", "key.pickle"):
        (folder / name).write_bytes(pickle.dumps(_Boom()))
    assert run(migrations, ReplayCache(folder)) == _truth(migrations)
    assert not boom.exists()


def test_a_directory_owned_by_someone_else_is_not_used(migrations, folder):
    if os.geteuid() != 0:
        pytest.skip("needs root to give the directory away")
    run(migrations, ReplayCache(folder))
    payload, entry = _forged_entry(folder, (folder / "key").read_bytes())
    entry.write_bytes(payload)  # what the other user would plant: valid under their key
    os.chown(folder, 65534, 65534)
    for path in folder.iterdir():
        os.chown(path, 65534, 65534)
    cache = ReplayCache(folder)
    assert run(migrations, cache) == _truth(migrations)
    assert cache.hits == 0 and "not owned" in cache.problem


def test_a_directory_others_can_write_is_not_used(migrations, folder):
    run(migrations, ReplayCache(folder))
    payload, entry = _forged_entry(folder, (folder / "key").read_bytes())
    entry.write_bytes(payload)
    folder.chmod(0o777)
    cache = ReplayCache(folder)
    assert run(migrations, cache) == _truth(migrations)
    assert cache.hits == 0 and "writable by other users" in cache.problem


def test_a_symlinked_directory_is_not_used_and_its_target_is_left_alone(migrations, tmp_path):
    target = tmp_path / "precious"
    target.mkdir(mode=0o700)
    (target / "keep.txt").write_text("mine")
    link = tmp_path / "cache"
    link.symlink_to(target)
    cache = ReplayCache(link)
    assert run(migrations, cache) == _truth(migrations)
    assert "symlink" in cache.problem
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


def test_symlinked_entries_are_not_followed_nor_their_targets_removed(migrations, folder, tmp_path):
    run(migrations, ReplayCache(folder))
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read or delete")
    for entry in entries(folder):
        entry.unlink()
        entry.symlink_to(secret)
    (migrations / "20240104000000_d.sql").write_text("select 1;\n")
    cache = ReplayCache(folder)
    assert run(migrations, cache) == _truth(migrations)
    assert cache.hits == 0
    assert secret.read_text() == "do not read or delete"
    assert not any(p.is_symlink() for p in folder.iterdir())  # the old links were removed, not followed


def test_a_cache_inside_the_project_is_never_read(migrations):
    inside = migrations.parent / ".cache" / "rlslint"
    cache = ReplayCache(inside)
    run(migrations, cache)
    assert not inside.exists()
    assert "inside the project" in cache.problem


def test_the_cli_says_once_why_the_cache_is_not_used_and_goes_on(migrations, tmp_path):
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    folder.chmod(0o777)
    env = {**os.environ, "RLSLINT_CACHE_DIR": str(folder)}
    cmd = [sys.executable, "-m", "rlslint", "check", str(migrations)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=migrations.parent.parent)
    plain = subprocess.run([*cmd, "--no-cache"], capture_output=True, text=True, env=env, cwd=migrations.parent.parent)
    assert proc.returncode == plain.returncode == 1
    assert proc.stdout == plain.stdout
    assert proc.stderr.count("cache not used") == 1 and "writable by other users" in proc.stderr
    assert plain.stderr == "" and list(folder.iterdir()) == []


def test_no_cache_reads_and_writes_nothing(migrations, tmp_path):
    folder = tmp_path / "cli-cache"
    env = {**os.environ, "RLSLINT_CACHE_DIR": str(folder)}
    cmd = [sys.executable, "-m", "rlslint", "check", str(migrations), "--no-cache"]
    subprocess.run(cmd, capture_output=True, env=env, cwd=migrations.parent.parent, check=False)
    assert not folder.exists()


def _lint_many(args: tuple[str, str, int]) -> set:
    migrations, folder, rounds = args
    seen = set()
    for _ in range(rounds):
        cache = ReplayCache(Path(folder))
        seen.add(repr(run(Path(migrations), cache)))
    return seen


def test_concurrent_runs_see_whole_entries_only(migrations, folder):
    # Enough files that an entry takes a while to write, and new files between rounds
    # so that runs keep writing while others read.
    for i in range(40):
        (migrations / f"2024020100{i:04d}_t.sql").write_text(
            f"create table public.t{i} (id int primary key, a_id int references public.a);\n" * 3)
    truth = repr(_truth(migrations))
    with ProcessPoolExecutor(4) as pool:
        seen = set().union(*pool.map(_lint_many, [(str(migrations), str(folder), 6)] * 4))
    assert seen == {truth}
    assert not list(folder.glob(".*.tmp"))
