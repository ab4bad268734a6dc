"""Fixes are real SQL: applied to PostgreSQL after the migrations, they resolve what they claim to.

For every rule fixture and the example project, ``rlslint fix`` plans one new migration
with every rule on; the tests apply the history and that migration to a real server, lint
again, and find exactly the findings the migration's header leaves to a person: none of
those it claims to fix, and nothing new. A template (a decision for a person) is a
comment, so it never silences a finding.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rlslint import engine, fixes, sources
from rlslint.diagnostics import Diagnostic
from rlslint.engine import run_rules
from rlslint.rules import ALL_RULES
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.deparse import predicate_sql
from rlslint.sql.parse import parse_file
from tests.support.pgharness import apply_migrations

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "rules"
EVERY_RULE = Settings(enabled=frozenset(rule.code for rule in ALL_RULES))
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)

CASES = [pytest.param(path, id=f"{path.parent.name}/{path.name}") for path in sorted(FIXTURES.glob("*/*.sql"))]


def lint(paths: list[Path]) -> list[Diagnostic]:
    parsed = [parse_file(p.as_posix(), p.read_text(encoding="utf-8")) for p in paths]
    assert not [e for f in parsed for e in f.errors]
    diagnostics = run_rules(replay(parsed, start="supabase"), EVERY_RULE)  # Supabase fixtures
    return sorted(diagnostics, key=lambda d: (d.span.path, d.span.start, d.code))


def project_of(tmp_path: Path, fixture: Path) -> Path:
    """The fixture as the one migration of a Supabase project."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    shutil.copy(fixture, migrations / "20240101000000_fixture.sql")
    return migrations


def fix_and_relint(pg, migrations: Path, settings_for) -> tuple[fixes.FixMigration, list[Diagnostic]]:
    """Plan the fix migration, write it, apply everything to PostgreSQL, lint again."""
    cwd = migrations.parents[1]
    result = engine.lint([str(migrations)], cwd, settings_for)
    assert not result.errors
    (migration_set,) = sources.discover([str(migrations)], cwd).sets
    migration = fixes.plan(migration_set, result, settings_for(migration_set), ALL_RULES, cwd, NOW)
    assert migration is not None
    fixes.write(migration)
    apply_migrations(pg, [f.path for f in migration_set.files] + [migration.path])  # raises if PostgreSQL rejects it
    after = engine.lint([str(migrations)], cwd, settings_for)
    return migration, list(after.diagnostics)


def identities(found) -> Counter:
    return Counter(d.identity for d in found)


@pytest.mark.parametrize("fixture", CASES)
def test_the_fix_migration_leaves_only_what_it_says_it_leaves(pg, tmp_path, fixture):
    migrations = project_of(tmp_path, fixture)
    migration, after = fix_and_relint(pg, migrations, lambda _: EVERY_RULE)
    assert identities(after) == identities(migration.left)
    assert not identities(migration.fixed) & identities(after)
    header = migration.text.split("\n\n", 1)[0]
    for d in migration.left:
        assert f"--   {fixes.label(d)}" in header
    for d in migration.fixed:
        assert f"--   {fixes.label(d)}\n" in header + "\n"


def test_the_example_project_keeps_only_the_findings_left_to_a_person(pg, tmp_path):
    shutil.copytree(ROOT / "example", tmp_path / "example")
    migrations = tmp_path / "example" / "supabase" / "migrations"
    from rlslint.config import Overrides, SettingsLoader

    migration, after = fix_and_relint(pg, migrations, SettingsLoader(tmp_path / "example", None, Overrides()))
    assert identities(after) == identities(migration.left)
    assert sorted((d.code, d.object) for d in migration.left) == [
        ("FK001", "public.projects"),  # owner or actor: nothing in the migrations says
        ("RLS002", "public.activity"),  # enabling RLS brings the read-only policy into force
        ("RLS002", "public.invoices"),  # its only write policy is for service_role, which bypasses RLS
        ("RLS002", "public.tasks"),  # "assignees see their tasks" is no licence to write
        ("RLS004", "public.comments"),
        ("SEC001", "public.announcements"),
    ]
    assert migration.path.name == "20300101000000_rlslint_fixes.sql"


def test_each_index_is_created_once(pg, tmp_path):
    """The unindexed key four policies filter on is one IDX001 naming them all, and one index."""
    path = tmp_path / "tasks.sql"
    path.write_text(
        "create table public.tasks (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "alter table public.tasks enable row level security;\n"
        + "".join(f"create policy p_{c} on public.tasks for {c} to authenticated "
                  f"{'with check' if c == 'insert' else 'using'} ((select auth.uid()) = user_id);\n"
                  for c in ("select", "insert", "update", "delete")),
        encoding="utf-8",
    )
    found = lint([path])
    assert [(d.code, d.columns) for d in found] == [("IDX001", ("user_id",))]
    assert found[0].message.endswith('and policies "p_select", "p_insert", "p_update", "p_delete" on public.tasks '
                                     'filter on it: every query they guard scans it too')
    assert found[0].fix == "CREATE INDEX IF NOT EXISTS tasks_user_id_idx ON public.tasks (user_id);"


def test_rls002_never_copies_an_always_true_or_select_predicate():
    sql = (
        "create table public.profiles (id uuid primary key references auth.users on delete cascade);\n"
        "alter table public.profiles enable row level security;\n"
        'create policy "Public profiles are viewable by everyone." on public.profiles for select using (true);\n'
    )
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)], start="supabase"), EVERY_RULE) if d.code == "RLS002"]
    assert d.fix.splitlines()[:2] == [
        "-- each user reaches the rows they own: id is the owner (it is the table's primary key: each row belongs to one user)",
        "CREATE POLICY profiles_insert ON public.profiles FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = id);"]
    assert "TRUE" not in d.fix.upper()
    assert d.message.endswith(
        "no permissive policy for INSERT, UPDATE, DELETE: inserts fail with a policy violation; "
        "updates and deletes silently change zero rows")


def test_rls002_copies_a_write_policy_with_its_roles_and_wraps_auth_calls():
    sql = (
        "create table public.notes (id bigint primary key, author uuid);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_add on public.notes for insert to anon with check (true);\n"
        "create policy notes_edit on public.notes for update to authenticated using (auth.uid() = author);\n"
    )
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)], start="supabase"), EVERY_RULE) if d.code == "RLS002"]
    assert d.commands == ("SELECT", "DELETE")
    assert d.message.endswith("no permissive policy for SELECT, DELETE: reads return no rows; deletes silently change zero rows")
    assert d.fix == (
        '-- the condition of policy "notes_edit", which already guards writes on public.notes\n'
        "CREATE POLICY notes_select ON public.notes FOR SELECT TO authenticated USING ((SELECT auth.uid()) = author);\n"
        "CREATE POLICY notes_delete ON public.notes FOR DELETE TO authenticated USING ((SELECT auth.uid()) = author);")


def test_rls002_without_policies_or_owner_is_a_template_that_silences_nothing():
    sql = "create table public.secrets (id bigint primary key);\nalter table public.secrets enable row level security;\n"
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)], start="supabase"), EVERY_RULE) if d.code == "RLS002"]
    assert d.message == (
        "table public.secrets has row level security enabled but no policy at all: reads return no rows; "
        "inserts fail with a policy violation; updates and deletes silently change zero rows")
    assert d.fix.startswith("-- decide which rows SELECT, INSERT, UPDATE, DELETE may touch on public.secrets")
    assert "-- CREATE POLICY secrets_delete ON public.secrets FOR DELETE TO authenticated USING (<condition>);" in d.fix
    assert not d.fixable


def test_a_predicate_is_printed_from_the_model_not_from_text_a_rename_made_stale(pg, tmp_path):
    """After RENAME COLUMN the statement text names the old column; the fix prints the model's tree."""
    path = tmp_path / "renamed.sql"
    path.write_text(
        "create table public.docs (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "create index on public.docs (user_id);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_edit on public.docs for update to authenticated using ((select auth.uid()) = user_id);\n"
        "alter table public.docs rename column user_id to owner_id;\n",
        encoding="utf-8",
    )
    catalog = replay([parse_file(path.as_posix(), path.read_text(encoding="utf-8"))])
    (policy,) = next(iter(catalog.tables.values())).policies
    assert predicate_sql(policy.using) == "(SELECT auth.uid()) = owner_id"  # the text still says user_id
    (d,) = [d for d in lint([path]) if d.code == "RLS002"]
    assert "user_id" not in d.fix and "(SELECT auth.uid()) = owner_id" in d.fix
    fix_file = tmp_path / "fix.sql"
    fix_file.write_text(d.fix + "\n", encoding="utf-8")
    apply_migrations(pg, [path, fix_file])
    assert [x.code for x in lint([path, fix_file])] == []


def test_perf001_names_the_call_it_found():
    sql = (
        "create table public.posts (id bigint primary key, org text);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_org on public.posts for select using (org = auth.jwt() ->> 'org');\n"
    )
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)], start="supabase"), EVERY_RULE) if d.code == "PERF001"]
    assert "write (select auth.jwt()) so PostgreSQL evaluates it once per statement" in d.message
    assert "auth.uid" not in d.message
