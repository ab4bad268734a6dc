"""`rlslint fix`: one new migration, named as the layout expects, never touching an existing file."""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rlslint import fixes, sources
from tests.integrations.test_integrations import run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "example", tmp_path / "example")
    return tmp_path / "example"


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_fix_writes_one_new_supabase_migration_and_edits_nothing(example):
    before = _tree(example)
    result = run(["fix"], example)
    assert result.exit_code == 1  # findings are left to a person
    after = _tree(example)
    (new,) = set(after) - set(before)
    assert {k: after[k] for k in before} == before
    name = Path(new).name
    assert new.startswith("supabase/migrations/") and name.endswith("_rlslint_fixes.sql")
    assert len(name.split("_", 1)[0]) == 14 and name > max(Path(k).name for k in before if k.endswith(".sql"))
    assert f"rlslint: wrote {new}: 7 fixed, 6 left to a person" in result.output
    text = (example / new).read_text(encoding="utf-8")
    assert text.startswith("-- Written by `rlslint fix`.")
    assert "-- Fixes 7 findings:\n" in text and "-- Leaves 6 to a person" in text


def test_diff_prints_the_migration_and_writes_nothing(example):
    before = _tree(example)
    result = run(["fix", "--diff"], example)
    assert result.exit_code == 1
    assert _tree(example) == before
    lines = result.output.splitlines()
    assert lines[0] == "--- /dev/null" and lines[1].startswith("+++ b/supabase/migrations/")
    assert lines[3] == "+-- Written by `rlslint fix`. It changes nothing by itself: review it, then apply it"


def test_select_chooses_the_rules_whose_findings_are_fixed(example):
    result = run(["fix", "--diff", "--select", "IDX"], example)
    assert "CREATE INDEX IF NOT EXISTS tasks_project_id_idx" in result.output
    # The example's config adds the opt-in advisor rules with extend-select, as for `rlslint check`.
    assert not {"FK001", "RLS001", "RLS002", "SEC001"} & set(result.output.replace(":", " ").split())
    ignored = run(["fix", "--diff", "--ignore", "IDX"], example)
    assert "CREATE INDEX" not in ignored.output and "RLS001 table-without-rls" in ignored.output


def test_nothing_to_fix_writes_nothing(tmp_path):
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    (tmp_path / "supabase" / "migrations" / "20240101000000_a.sql").write_text("create table private_t (id int);\n")
    result = run(["fix", "--select", "FK001"], tmp_path)
    assert (result.exit_code, result.output) == (0, "rlslint: nothing to fix\n")
    assert len(list((tmp_path / "supabase" / "migrations").iterdir())) == 1


def test_a_file_that_does_not_parse_stops_the_fix(tmp_path):
    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    (tmp_path / "supabase" / "migrations" / "20240101000000_a.sql").write_text("create table public.t (id int);\nselec 1;\n")
    result = run(["fix"], tmp_path)
    assert result.exit_code == 2
    assert "rlslint: error: no fixes written" in result.output
    assert len(list((tmp_path / "supabase" / "migrations").iterdir())) == 1


def test_an_existing_file_is_never_replaced(example):
    migrations = example / "supabase" / "migrations"
    now = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    (migration_set,) = sources.discover([str(migrations)], example).sets
    path = fixes.next_path(migration_set, now)
    path.write_text("-- someone else's\n")
    migration = fixes.FixMigration(path, path.name, "select 1;\n", (), ())
    with pytest.raises(fixes.FixError, match="already exists; rlslint never replaces a migration"):
        fixes.write(migration)
    assert path.read_text() == "-- someone else's\n"
    assert not [p for p in migrations.iterdir() if p.name.startswith(".")]  # no temporary file left


@pytest.mark.parametrize("files, expected", [
    (["supabase/migrations/20240101000000_a.sql"], "supabase/migrations/20310506070809_rlslint_fixes.sql"),
    # A version in the future: the fix still sorts after it.
    (["supabase/migrations/20400101000000_a.sql"], "supabase/migrations/20400101000001_rlslint_fixes.sql"),
    (["prisma/migrations/20240101000000_init/migration.sql"],
     "prisma/migrations/20310506070809_rlslint_fixes/migration.sql"),
    (["db/V1__init.sql", "db/V2__more.sql"], "db/V3__rlslint_fixes.sql"),
    (["sql/001_init.sql", "sql/002_more.sql"], "sql/003_rlslint_fixes.sql"),
])
def test_the_file_is_named_as_the_layout_names_its_next_migration(tmp_path, files, expected):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("create table t (id int);\n")
    (migration_set,) = sources.discover([str((tmp_path / files[0]).parent.parent if "prisma" in files[0]
                                             else (tmp_path / files[0]).parent)], tmp_path).sets
    path = fixes.next_path(migration_set, datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    assert path.relative_to(tmp_path).as_posix() == expected


def test_names_with_line_breaks_never_leave_the_comments_of_the_fix(tmp_path):
    """A role or policy name is printed in the fix's comments; a line break in it would end the
    comment and make the rest of the name a statement of the written migration."""
    import json

    from pglast.parser import parse_sql_json

    evil = 'x\ndrop table public.t; --'
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001_init.sql").write_text(
        f'create role "{evil}";\n'
        "create table public.t (id int primary key, owner_id uuid references auth.users (id));\n"
        f'grant select, insert on public.t to "{evil}";\n'
        "create table public.n (id int primary key, user_id uuid);\n"
        "alter table public.n enable row level security;\n"
        f'create policy "{evil}" on public.n for select using ((select auth.uid()) = user_id);\n')
    (tmp_path / "migrations" / "0002_policy.sql").write_text(
        f'create policy "{evil}" on public.t for select using ((select auth.uid()) = owner_id);\n')
    result = run(["fix", "."], tmp_path)
    assert "wrote migrations/0003_rlslint_fixes.sql" in result.output, result.output
    [written] = sorted((tmp_path / "migrations").glob("*rlslint*"))
    kinds = {next(iter(s["stmt"])) for s in json.loads(parse_sql_json(written.read_text()))["stmts"]}
    assert "DropStmt" not in kinds and kinds <= {"AlterTableStmt", "CreatePolicyStmt", "IndexStmt"}, kinds
    assert "x\\ndrop table" in written.read_text()  # shown, as an escape, inside the comment
