"""Every layout in its own tool's order: each fixture project's findings, and a wrong order's.

Each fixture under ``tests/fixtures/layouts/`` is a project where the order matters: a
later migration enables RLS on a table an earlier one creates. rlslint runs in it with no
argument (so discovery finds the set), and the same files replayed in the order a naive
tool would use (by file name) must give other findings: the test would catch an order
that is merely name order.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rlslint import sources
from rlslint.cli import LAYOUT_NAMES
from rlslint.engine import run_rules
from rlslint.layouts import LAYOUTS
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import LineIndex
from tests.integrations.test_cli import run

FIXTURES = Path(__file__).parents[1] / "fixtures" / "layouts"

# fixture: (layout, files in apply order, findings as (file, line, code))
EXPECTED = {
    "supabase": ("supabase", ["supabase/migrations/9_tables.sql", "supabase/migrations/10_rls.sql"],
                 {("supabase/migrations/9_tables.sql", 6, "RLS001")}),
    "supabase-schemas": ("supabase-schemas",
                         ["supabase/schemas/tables.sql", "supabase/schemas/a_rls.sql", "supabase/schemas/notes_rls.sql"],
                         {("supabase/schemas/notes_rls.sql", 1, "RLS002")}),
    "prisma": ("prisma", ["prisma/migrations/20240101000000_tables/migration.sql",
                          "prisma/migrations/20240102000000_rls/migration.sql"],
               {("prisma/migrations/20240101000000_tables/migration.sql", 6, "RLS001")}),
    "drizzle": ("drizzle", ["drizzle/tables.sql", "drizzle/rls.sql"], {("drizzle/tables.sql", 8, "RLS001")}),
    "flyway": ("flyway", ["sql/V1_9__tables.sql", "sql/V1_10__rls.sql", "sql/R__notes_rls.sql"],
               {("sql/R__notes_rls.sql", 1, "RLS002")}),
    "flyway-conf": ("flyway", ["db/sql/M2-tables.sql", "db/sql/M10-rls.sql"], {("db/sql/M2-tables.sql", 6, "RLS001")}),
    "golang-migrate": ("golang-migrate", ["migrations/9_tables.up.sql", "migrations/10_rls.up.sql"],
                       {("migrations/9_tables.up.sql", 6, "RLS001")}),
    "dbmate": ("dbmate", ["db/migrations/20240101000000_tables.sql", "db/migrations/20240102000000_rls.sql"],
               {("db/migrations/20240101000000_tables.sql", 7, "RLS001")}),
    "plain": ("plain", ["migrations/2_tables.sql", "migrations/10_rls.sql"], {("migrations/2_tables.sql", 6, "RLS001")}),
}


def project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    (root / ".git").mkdir()  # the repository root, as in a clone
    return root


def findings_of(result) -> set[tuple[str, int, str]]:
    return {(d["file"], d["line"], d["code"]) for d in json.loads(result.output)["diagnostics"]}


def findings_in_order(root: Path, files: list[sources.MigrationFile]) -> set[tuple[str, int, str]]:
    """The findings had the same texts been applied in this order."""
    catalog = replay([parse_file(f.display, f.text) for f in files])
    lines = {f.display: LineIndex(f.text) for f in files}
    return {(d.span.path, lines[d.span.path].line_col(d.span.start)[0], d.code) for d in run_rules(catalog, Settings())}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout_fixture_in_its_tools_order(tmp_path, name):
    root = project(tmp_path, name)
    layout, order, expected = EXPECTED[name]
    listed = run(["--list-files"], cwd=root)
    assert (listed.exit_code, listed.output.splitlines()[1:]) == (0, [f"  {f}" for f in order])
    assert f": {layout} (" in listed.output.splitlines()[0]
    result = run(["--format", "json"], cwd=root)
    assert (result.exit_code, findings_of(result)) == (1, expected)


# Prisma's and dbmate's order is name order; their wrong order is the reverse.
NAME_ORDER_IS_RIGHT = {"prisma", "dbmate"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout_fixture_in_a_wrong_order_gives_other_findings(tmp_path, name, monkeypatch):
    root = project(tmp_path, name)
    monkeypatch.chdir(root)
    (migration_set,) = sources.discover([], root).sets
    files = list(migration_set.files)
    right = findings_in_order(root, files)
    assert right == EXPECTED[name][2]
    assert findings_in_order(root, files[::-1]) != right
    by_name = sorted(files, key=lambda f: f.display)
    if name in NAME_ORDER_IS_RIGHT:
        assert by_name == files
    else:  # an order that is merely by file name would be caught
        assert findings_in_order(root, by_name) != right


def test_dbmate_down_sections_would_give_other_findings(tmp_path, monkeypatch):
    root = project(tmp_path, "dbmate")
    monkeypatch.chdir(root)
    (migration_set,) = sources.discover([], root).sets
    whole = [sources.MigrationFile(f.path, f.display, f.path.read_text()) for f in migration_set.files]
    assert findings_in_order(root, whole) != findings_in_order(root, list(migration_set.files))


def test_supabase_project_keeps_text_around_dbmate_markers(tmp_path):
    """A ``-- migrate:up`` comment means nothing to the Supabase CLI: nothing above it is blanked."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_secrets.sql").write_text(
        "create table public.secrets (id bigint primary key, token text);\n-- migrate:up\nselect 1;\n"
        "-- migrate:down\ncreate table public.after_down (id bigint primary key);\n")
    result = run(["--format", "json"], cwd=tmp_path)
    assert (result.exit_code, findings_of(result)) == (1, {
        ("supabase/migrations/20240101000000_secrets.sql", 1, "RLS001"),
        ("supabase/migrations/20240101000000_secrets.sql", 5, "RLS001")})


def test_layout_names_match_the_cli_choices():
    assert tuple(LAYOUTS) == LAYOUT_NAMES


def test_each_set_says_how_its_tool_names_the_next_migration(tmp_path, monkeypatch):
    from datetime import datetime, timezone

    now = datetime(2024, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
    expected = {
        "supabase": "supabase/migrations/20240301123005_add_rls.sql",
        "supabase-schemas": None,  # the Supabase CLI writes the migration from the schema files
        "prisma": "prisma/migrations/20240301123005_add_rls/migration.sql",
        "drizzle": None,  # set below: drizzle-kit numbers from the journal's files
        "flyway": "sql/V1.11__add_rls.sql",
        "flyway-conf": "db/sql/M11-add_rls.sql",
        "golang-migrate": "migrations/20240301123005_add_rls.up.sql",
        "dbmate": "db/migrations/20240301123005_add_rls.sql",
        "plain": "migrations/11_add_rls.sql",
    }
    for name, want in expected.items():
        root = project(tmp_path, name)
        monkeypatch.chdir(root)
        (migration_set,) = sources.discover([], root).sets
        got = migration_set.next_file("add_rls", now)
        assert (got.relative_to(root).as_posix() if got else None) == (want if name != "drizzle" else "drizzle/0001_add_rls.sql"), name


def test_flyway_toml_prefix_and_separator(tmp_path):
    root = project(tmp_path, "flyway-conf")
    (root / "flyway.conf").unlink()
    (root / "flyway.toml").write_text('[flyway]\nsqlMigrationPrefix = "M"\nsqlMigrationSeparator = "-"\n')
    listed = run(["--list-files"], cwd=root)
    assert listed.output.splitlines()[1:] == ["  db/sql/M2-tables.sql", "  db/sql/M10-rls.sql"]
    (root / "flyway.toml").unlink()  # without its configuration, Flyway would apply none of them
    assert run(["--list-files"], cwd=root).exit_code == 2
