"""Output for large projects: --statistics, --format concise, and a Markdown report that fits a comment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integrations.test_integrations import project, run  # noqa: F401  (the fixture)


def _large(tmp_path: Path, tables: int) -> Path:
    """Each table: RLS001, FK001 and IDX001; one in three in a second schema, not exposed."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    sql = ["create schema app;"]
    for i in range(tables):
        schema = "app" if i % 3 == 0 else "public"
        sql.append(f"create table {schema}.t{i:04} (id bigint primary key, owner uuid references auth.users);")
    (migrations / "20240101000000_init.sql").write_text("\n".join(sql) + "\n", encoding="utf-8")
    return tmp_path


def test_statistics_counts_each_rule_and_what_fix_fixes(project):  # noqa: F811
    # Nothing says whether legacy.owner owns the row or records who acted, nor who may write
    # todos (only a read policy names user_id): those two fixes are advice for a person.
    result = run(["--statistics"], project)
    assert result.exit_code == 1
    assert result.output == (
        "count  code    fixable  name\n"
        "    1  FK001         0  owner-fk-without-cascade\n"
        "    1  IDX001        1  unindexed-foreign-key\n"
        "    1  RLS001        1  table-without-rls\n"
        "    1  RLS002        0  missing-policy\n"
        "Found 4 findings (3 errors, 1 warning) in 3 files. 2 fixable with `rlslint fix`.\n")


def test_statistics_orders_by_count_and_counts_advice_as_not_fixable(tmp_path):
    root = _large(tmp_path, 6)
    (root / "supabase" / "migrations" / "20240102000000_meta.sql").write_text(
        "create table public.m (id bigint primary key);\nalter table public.m enable row level security;\n"
        "create policy m_read on public.m for select using ((auth.jwt() -> 'user_metadata' ->> 'x') = 'y');\n")
    out = run(["--statistics", "--select", "RLS001", "--select", "IDX001", "--select", "SEC001"], root).output.splitlines()
    assert out[1:4] == ["    6  IDX001        6  unindexed-foreign-key",
                        "    4  RLS001        4  table-without-rls",
                        "    1  SEC001        0  user-metadata-in-policy"]


def test_concise_is_one_line_per_finding(project):  # noqa: F811
    result = run(["--format", "concise"], project)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "supabase/migrations/20240101000000_init.sql:1:1: RLS001 [*] [error] table public.legacy is exposed through the "
        "API (schema public) but it is created without row level security: anon and authenticated can SELECT, INSERT, "
        "UPDATE and DELETE every row",
        "supabase/migrations/20240101000000_init.sql:1:63: FK001 [error] foreign key legacy_owner_fkey on "
        "public.legacy references owner table auth.users with ON DELETE NO ACTION: deleting a user fails while rows of "
        "public.legacy point at them",
        "supabase/migrations/20240101000000_init.sql:1:63: IDX001 [*] [warning] foreign key legacy_owner_fkey on "
        "public.legacy (owner) has no index: deletes from auth.users and joins on this key scan the whole table",
        "supabase/migrations/20240102000000_todos.sql:6:1: RLS002 [error] table public.todos has row level security "
        "enabled but no permissive policy for INSERT, UPDATE, DELETE: inserts fail with a policy violation; updates and "
        "deletes silently change zero rows",
        "Found 4 findings (3 errors, 1 warning) in 3 files.",
    ]


@pytest.mark.parametrize("tables", [300, 1500])
def test_markdown_fits_a_comment_and_says_what_it_left_out(tmp_path, tables):
    root = _large(tmp_path, tables)
    findings = len(run(["--format", "concise"], root).output.splitlines()) - 1
    out = run(["--format", "markdown"], root).output
    assert len(out) < 65_536
    # Headline, then the matrix (grouped by schema), then the findings.
    assert out.startswith(f"## rlslint\n\n❌ **{findings} findings**")
    app, public = out.index("#### `app`: "), out.index("#### `public`: ")
    assert out.index("### Checklist") < app < public < out.index("### Findings")
    rows = len(re.findall(r"^\| `(?:app|public)\.t\d{4}` \|", out, flags=re.MULTILINE))
    hidden_rows = re.search(r"… and (\d+) more failing tables? not shown; `rlslint report` shows every table\.", out)
    assert rows + (int(hidden_rows.group(1)) if hidden_rows else 0) == tables
    shown = out.count("\n- **error**") + out.count("\n- **warning**")
    left = re.search(r"… and (\d+) more findings? not shown: a comment holds at most 65,536 characters\. "
                     r"`rlslint check --format concise` lists every finding", out)
    assert left is not None and shown + int(left.group(1)) == findings
    assert (hidden_rows is not None) == (tables == 1500)


def test_markdown_of_a_small_project_is_whole(project):  # noqa: F811
    out = run(["--format", "markdown"], project).output
    assert "not shown" not in out and out.count("\n- **") == 4
