"""Which migration sets rlslint finds, and what it says about files that fit no set.

A repository is built in ``tmp_path`` with a ``.git`` directory, so the search stops at
its root as it would in a clone.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integrations.test_cli import run
from tests.stages.test_layouts import FIXTURES, findings_of, project

# A table without RLS that the application's role can read: in a plain project, that role is
# the API role rlslint detects (Supabase projects judge anon and authenticated).
NO_RLS = "create table {0} (id bigint primary key); grant select on {0} to app_user;\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def monorepo(root: Path) -> Path:
    """Two Supabase projects and a Prisma package, next to trees that hold no project migrations."""
    return write(root, {
        ".git/HEAD": "ref: refs/heads/main\n",
        ".gitignore": "/scratch/\n*.generated\n",
        "apps/web/supabase/config.toml": '[api]\nschemas = ["public"]\n',
        "apps/web/supabase/migrations/20240101000000_web.sql": NO_RLS.format("public.web_orders"),
        "apps/web/src/index.ts": "export {};\n",
        "apps/admin/supabase/config.toml": '[api]\nschemas = ["admin"]\n',
        "apps/admin/supabase/migrations/20240101000000_admin.sql":
            "create schema admin;\n" + NO_RLS.format("admin.secrets") + NO_RLS.format("public.internal_only")
            # A schema of its own reaches the API once the API roles may use it (Supabase's custom schemas).
            + "grant usage on schema admin to anon;\ngrant select on admin.secrets to anon;\n",
        "packages/db/prisma/migrations/migration_lock.toml": 'provider = "postgresql"\n',
        "packages/db/prisma/migrations/20240101000000_init/migration.sql": NO_RLS.format("public.accounts"),
        # never a project's own migrations:
        "node_modules/some-orm/migrations/001_vendored.sql": NO_RLS.format("public.vendored"),
        "env/pyvenv.cfg": "home = /usr/bin\n",
        "env/lib/python3.12/site-packages/app/migrations/0001_venv.sql": NO_RLS.format("public.venv"),
        "dist/migrations/001_built.sql": NO_RLS.format("public.built"),
        ".cache/migrations/001_hidden.sql": NO_RLS.format("public.hidden"),
        "scratch/migrations/001_ignored.sql": NO_RLS.format("public.ignored"),
        "apps/web/out.generated/migrations/001_ignored.sql": NO_RLS.format("public.ignored_too"),
    })


MONOREPO_SETS = [
    "apps/admin/supabase/migrations: supabase (by numeric version)",
    "  apps/admin/supabase/migrations/20240101000000_admin.sql",
    "apps/web/supabase/migrations: supabase (by numeric version)",
    "  apps/web/supabase/migrations/20240101000000_web.sql",
    "packages/db/prisma/migrations: prisma (by directory name)",
    "  packages/db/prisma/migrations/20240101000000_init/migration.sql",
]


def test_monorepo_root_finds_every_set_and_skips_vendored_built_hidden_and_ignored_trees(tmp_path):
    root = monorepo(tmp_path)
    listed = run(["--list-files"], cwd=root)
    assert (listed.exit_code, listed.output.splitlines()) == (0, MONOREPO_SETS)
    result = run(["--format", "json"], cwd=root)
    # Each project's own supabase/config.toml says which schemas its API serves.
    assert (result.exit_code, findings_of(result)) == (1, {
        ("apps/admin/supabase/migrations/20240101000000_admin.sql", 2, "RLS001"),
        ("apps/web/supabase/migrations/20240101000000_web.sql", 1, "RLS001"),
        ("packages/db/prisma/migrations/20240101000000_init/migration.sql", 1, "RLS001"),
    })


def test_from_inside_a_project_its_own_sets_are_found(tmp_path):
    root = monorepo(tmp_path)
    listed = run(["--list-files"], cwd=root / "apps/web/src")  # nothing below: the search goes up
    web = (root / "apps/web/supabase/migrations").as_posix()  # outside the current directory: absolute
    assert listed.output.splitlines() == [f"{web}: supabase (by numeric version)", f"  {web}/20240101000000_web.sql"]
    inside = run(["--list-files"], cwd=root / "apps/admin/supabase/migrations")
    assert inside.output.splitlines()[1:] == ["  20240101000000_admin.sql"]


def test_every_layout_fixture_found_from_the_repository_root(tmp_path):
    for fixture in sorted(p.name for p in FIXTURES.iterdir()):
        project(tmp_path / "all", fixture)
    (tmp_path / "all/.git").mkdir()
    listed = run(["--list-files"], cwd=tmp_path / "all")
    sets = [line.split(":")[0] for line in listed.output.splitlines() if not line.startswith(" ")]
    assert (listed.exit_code, sets) == (0, [
        "dbmate/db/migrations", "drizzle/drizzle", "flyway/sql", "flyway-conf/db/sql", "golang-migrate/migrations",
        "plain/migrations", "prisma/prisma/migrations", "supabase/supabase/migrations", "supabase-schemas/supabase"])


def test_directory_whose_sub_folders_are_sets_lints_each(tmp_path):
    write(tmp_path, {"services/auth/001_users.sql": NO_RLS.format("public.users"),
                     "services/billing/001_invoices.sql": NO_RLS.format("public.invoices")})
    result = run(["services", "--format", "json"], cwd=tmp_path)
    assert (result.exit_code, findings_of(result)) == (1, {
        ("services/auth/001_users.sql", 1, "RLS001"), ("services/billing/001_invoices.sql", 1, "RLS001")})


def test_no_migrations_says_where_it_looked(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    result = run([], cwd=tmp_path / "src")
    assert result.exit_code == 2
    assert f"no migrations found below {tmp_path / 'src'} or its parents up to the repository root {tmp_path}" in result.output


def test_a_set_that_fits_two_layouts_is_reported(tmp_path):
    write(tmp_path, {"db/V1__tasks.sql": NO_RLS.format("public.tasks"), "db/2_notes.up.sql": NO_RLS.format("public.notes")})
    result = run(["db", "--format", "json"], cwd=tmp_path)
    errors = json.loads(result.output)["errors"]
    assert result.exit_code == 2
    assert [e["file"] for e in errors] == ["db", "db/2_notes.up.sql"]
    assert errors[0]["message"].startswith("fits Flyway migrations (V<version>__<name>.sql) and golang-migrate "
                                           "migrations (<version>_<name>.up.sql) at once; linted as flyway")
    assert findings_of(result) == {("db/V1__tasks.sql", 1, "RLS001")}
    chosen = run(["db", "--layout", "golang-migrate", "--format", "json"], cwd=tmp_path)
    assert findings_of(chosen) == {("db/2_notes.up.sql", 1, "RLS001")}


def test_a_stray_file_in_a_prisma_tree_is_reported(tmp_path):
    root = project(tmp_path, "prisma")
    write(root, {"prisma/migrations/fix.sql": NO_RLS.format("public.stray")})
    result = run(["--format", "json"], cwd=root)
    assert result.exit_code == 2
    assert json.loads(result.output)["errors"] == [{
        "file": "prisma/migrations/fix.sql", "kind": "usage", "line": None, "column": None,
        "message": "not named like the other Prisma migrations (<timestamp>_<name>/migration.sql) here; "
                   "Prisma would not apply it, so it is not linted"}]


def test_prisma_for_another_database_is_a_clear_message(tmp_path):
    root = project(tmp_path, "prisma")
    (root / "prisma/migrations/migration_lock.toml").write_text('provider = "mysql"\n')
    result = run([], cwd=root)
    assert result.exit_code == 2
    assert ("prisma/migrations: error: migration_lock.toml says provider = 'mysql'; "
            "rlslint lints PostgreSQL migrations only") in result.output + result.stderr


def test_migrations_setting_lists_sets_with_their_layout_and_exposed_schemas(tmp_path):
    write(tmp_path, {
        ".git/HEAD": "",
        "rlslint.toml": '[[migrations]]\npath = "sql/app"\nlayout = "plain"\nexposed-schemas = ["api"]\n'
                        '[[migrations]]\npath = "sql/jobs"\n',
        # The repository has a supabase/ directory, so its sets judge Supabase's API roles.
        "sql/app/1_api.sql": "create schema api; grant usage on schema api to anon; "
                             "alter default privileges in schema api grant select on tables to anon;\n"
                             + NO_RLS.format("api.items") + NO_RLS.format("public.hidden"),
        "sql/jobs/1_jobs.sql": NO_RLS.format("public.jobs"),
        "supabase/migrations/20240101000000_not_listed.sql": NO_RLS.format("public.not_listed"),
    })
    listed = run(["--list-files"], cwd=tmp_path)
    assert [line.split(":")[0] for line in listed.output.splitlines() if not line.startswith(" ")] == ["sql/app", "sql/jobs"]
    result = run(["--format", "json"], cwd=tmp_path)
    assert findings_of(result) == {("sql/app/1_api.sql", 2, "RLS001"), ("sql/jobs/1_jobs.sql", 1, "RLS001")}


def test_pre_commit_on_one_schema_file_has_the_other_schema_files_as_context(tmp_path):
    """Declarative schemas: RLS enabled in another schema file counts; only the named file is reported on."""
    root = project(tmp_path, "supabase-schemas")
    tables = run(["supabase/schemas/tables.sql", "--format", "json"], cwd=root)
    assert (tables.exit_code, findings_of(tables)) == (0, set())  # no RLS001: a_rls.sql enables it
    notes = run(["supabase/schemas/notes_rls.sql", "--format", "json"], cwd=root)
    assert (notes.exit_code, findings_of(notes)) == (1, {("supabase/schemas/notes_rls.sql", 1, "RLS002")})
    alone = run(["supabase/schemas/tables.sql", "--layout", "plain", "--format", "json"], cwd=root)
    assert findings_of(alone) != set()  # without the other files as context, the tables look unprotected


def test_schema_files_without_schema_paths_are_walked_in_name_order(tmp_path):
    write(tmp_path, {".git/HEAD": "",
                     "supabase/schemas/b/tables.sql": NO_RLS.format("public.tasks"),
                     "supabase/schemas/c_rls.sql": "alter table public.tasks enable row level security;\n"
                                                   "create policy p on public.tasks to authenticated using (true);\n",
                     "supabase/schemas/a_types.sql": "create type public.mood as enum ('ok');\n"})
    listed = run(["--list-files"], cwd=tmp_path)
    assert listed.output.splitlines()[1:] == ["  supabase/schemas/a_types.sql", "  supabase/schemas/b/tables.sql",
                                              "  supabase/schemas/c_rls.sql"]
    result = run(["supabase/schemas/b/tables.sql", "--format", "json"], cwd=tmp_path)
    assert (result.exit_code, findings_of(result)) == (0, set())


def test_migrations_setting_never_points_outside_the_project(tmp_path):
    write(tmp_path, {"outside/1_secret.sql": "select 1;\n", "repo/.git/HEAD": "",
                     "repo/rlslint.toml": '[[migrations]]\npath = "../outside"\n'})
    result = run([], cwd=tmp_path / "repo")
    assert (result.exit_code, result.stderr) == (2, f"rlslint: error: rlslint.toml: migrations[0].path: '../outside' "
                                                    f"lies outside the project ({tmp_path / 'repo'})\n")


def test_gitignore_patterns(tmp_path):
    from rlslint.gitignore import IgnoreRules

    (tmp_path / ".gitignore").write_text("# comment\n/build-*/\nlogs\n**/gen/**\n!keep\n[z-a]\ndocs/*/old\n")
    rules = IgnoreRules.for_repository(tmp_path)
    ignored = {p: rules.ignores_directory(p) for p in
               ["build-x", "a/build-x", "logs", "a/b/logs", "a/gen/x", "keep", "docs/v1/old", "docs/v1/v2/old", "src"]}
    assert ignored == {"build-x": True, "a/build-x": False, "logs": True, "a/b/logs": True, "a/gen/x": True,
                       "keep": False, "docs/v1/old": True, "docs/v1/v2/old": False, "src": False}


def test_report_lints_the_sets_of_the_migrations_setting(tmp_path):
    write(tmp_path, {".git/HEAD": "", "rlslint.toml": '[[migrations]]\npath = "sql/app"\n',
                     "sql/app/1_api.sql": NO_RLS.format("public.listed"),
                     "supabase/migrations/20240101000000_x.sql": NO_RLS.format("public.not_listed")})
    result = run(["report", "--no-color"], cwd=tmp_path)
    assert result.exit_code == 0
    assert "public.listed" in result.output and "public.not_listed" not in result.output
