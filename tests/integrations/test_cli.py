"""The command line end to end: discovery, which findings a run reports, formats, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint.cli import main

ROOT = Path(__file__).resolve().parents[2]

SEED = """CREATE TABLE tasks (
id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
user_id UUID REFERENCES auth.users(id) ON DELETE CASCADE,
title TEXT NOT NULL,
status TEXT CHECK (status IN ('todo', 'in_progress', 'done')) DEFAULT 'todo',
created_at TIMESTAMPTZ DEFAULT NOW()
);
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users see own tasks" ON tasks
FOR SELECT USING (auth.uid() = user_id);
CREATE INDEX idx_tasks_user_id ON tasks(user_id);
CREATE INDEX idx_tasks_status ON tasks(status);
"""


def run(args: list[str], cwd: Path | None = None):
    old = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        os.chdir(old)


def findings(tmp_path: Path, sql: str) -> list[tuple]:
    migrations = tmp_path / "migrations"
    migrations.mkdir(exist_ok=True)
    (migrations / "20240101000000_seed.sql").write_text(sql)
    result = run([str(migrations), "--format", "json"])
    document = json.loads(result.output)
    return sorted((d["code"], d["line"], d["object"], tuple(d["columns"]), tuple(d["commands"])) for d in document["diagnostics"])


def test_seed_migration_has_exactly_the_missing_write_policies(tmp_path):
    assert findings(tmp_path, SEED) == [("RLS002", 8, "public.tasks", (), ("INSERT", "UPDATE", "DELETE"))]


def test_seed_with_for_all_coverage_is_clean(tmp_path):
    assert findings(tmp_path, SEED.replace("FOR SELECT USING", "FOR ALL USING")) == []
    added = SEED + 'CREATE POLICY "Users manage own tasks" ON tasks FOR ALL USING (auth.uid() = user_id);\n'
    assert findings(tmp_path, added) == []


def test_opt_in_advisor_rules_run_when_selected(tmp_path):
    (tmp_path / "rlslint.toml").write_text('extend-select = ["PERF001", "RLS004"]\n')
    added = SEED + 'CREATE POLICY "Users manage own tasks" ON tasks FOR ALL USING (auth.uid() = user_id);\n'
    assert findings(tmp_path, added) == [
        ("PERF001", 10, "public.tasks", (), ()),  # auth.uid() evaluated per row
        ("PERF001", 13, "public.tasks", (), ()),
        ("RLS004", 13, "public.tasks", (), ("SELECT",)),  # two permissive SELECT policies for every role
    ]


def test_seed_without_the_index_adds_one_idx001_for_the_key_and_the_policy(tmp_path):
    sql = SEED.replace("CREATE INDEX idx_tasks_user_id ON tasks(user_id);\n", "")
    assert findings(tmp_path, sql) == [
        ("IDX001", 3, "public.tasks", ("user_id",), ()),
        ("RLS002", 8, "public.tasks", (), ("INSERT", "UPDATE", "DELETE")),
    ]


def test_seed_without_cascade_adds_fk001(tmp_path):
    sql = SEED.replace(" ON DELETE CASCADE", "")
    assert findings(tmp_path, sql) == [
        ("FK001", 3, "public.tasks", ("user_id",), ()),
        ("RLS002", 8, "public.tasks", (), ("INSERT", "UPDATE", "DELETE")),
    ]


def test_rls002_fix_offers_the_owner_policies_as_a_template_when_only_a_read_policy_names_the_owner(tmp_path):
    """Who may read a row says nothing about who may change it: the person decides, with the
    owner policies written out for them to uncomment; nothing is applied that silences the finding."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "20240101000000_seed.sql").write_text(SEED)
    document = json.loads(run([str(migrations), "--format", "json"]).output)
    assert document["diagnostics"][0]["fix"] == (
        "-- decide which rows INSERT, UPDATE, DELETE may touch on public.tasks: no policy guards writes and no owner "
        "column says who may change a row.\n"
        '-- policy "Users see own tasks" reads rows by user_id = auth.uid(), which says who may see a row, not who may '
        "change it. If each user may\n"
        "-- also change the rows they own by user_id, these are the policies:\n"
        "-- CREATE POLICY tasks_insert ON public.tasks FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = user_id);\n"
        "-- CREATE POLICY tasks_update ON public.tasks FOR UPDATE TO authenticated USING ((SELECT auth.uid()) = user_id) "
        "WITH CHECK ((SELECT auth.uid()) = user_id);\n"
        "-- CREATE POLICY tasks_delete ON public.tasks FOR DELETE TO authenticated USING ((SELECT auth.uid()) = user_id);"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Supabase project: an old file with a finding, a newer clean one, a seed."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_old.sql").write_text("create table public.legacy (id int primary key);\n")
    (migrations / "20240102000000_new.sql").write_text(
        "create table public.fresh (id int primary key);\nalter table public.fresh enable row level security;\n"
        "create policy fresh_all on public.fresh for all using (true);\n"
    )
    (migrations / "9_not_a_version.txt").write_text("ignored")
    (tmp_path / "supabase" / "seed.sql").write_text("insert into public.legacy values (1);\n")
    return tmp_path


def test_no_paths_finds_supabase_migrations_from_a_subdirectory(project):
    nested = project / "app" / "src"
    nested.mkdir(parents=True)
    result = run(["--format", "json"], cwd=nested)
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert [(d["code"], Path(d["file"]).name) for d in document["diagnostics"]] == [("RLS001", "20240101000000_old.sql")]


def test_given_files_report_only_their_own_findings(project):
    new = "supabase/migrations/20240102000000_new.sql"
    result = run([new, "--format", "json"], cwd=project)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["diagnostics"] == []
    old = "supabase/migrations/20240101000000_old.sql"
    result = run([old, new], cwd=project)
    assert result.exit_code == 1
    assert result.output.startswith(f"{old}:1:1: RLS001 [error] table public.legacy")


def test_a_later_file_is_replayed_for_context(project):
    """ENABLE in a later migration clears the finding on the earlier CREATE TABLE."""
    migrations = project / "supabase" / "migrations"
    (migrations / "20240103000000_fix.sql").write_text(
        "alter table public.legacy enable row level security;\n"
        "create policy legacy_all on public.legacy for all using (true);\n"
    )
    result = run(["supabase/migrations/20240101000000_old.sql"], cwd=project)
    assert result.exit_code == 0, result.output
    assert "All checks passed (1 file)." in result.output


def test_text_output_shows_location_source_caret_and_fix(project):
    result = run(["--no-color"], cwd=project)
    lines = result.output.splitlines()
    assert lines[0] == (
        "supabase/migrations/20240101000000_old.sql:1:1: RLS001 [error] table public.legacy is exposed through the API "
        "(schema public) but it is created without row level security: anon and authenticated can SELECT, INSERT, UPDATE and DELETE every row"
    )
    assert lines[1:5] == [
        " 1 | create table public.legacy (id int primary key);",
        "   | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "   = fix (in a new migration):",
        "     -- with row level security on, public.legacy is deny-all for SELECT, INSERT, UPDATE, DELETE to the API's "
        "roles (anon, authenticated)",
    ]
    assert "     ALTER TABLE public.legacy ENABLE ROW LEVEL SECURITY;" in lines
    assert lines[-1] == "Found 1 finding (1 error) in 2 files."


def test_exposed_schemas_come_from_supabase_config(project):
    (project / "supabase" / "config.toml").write_text('[api]\nschemas = ["api"]\n')
    result = run([], cwd=project)
    assert result.exit_code == 0, result.output


def test_fail_on_error_ignores_warnings(tmp_path):
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "1_a.sql").write_text(
        "create schema app;\ncreate table app.t (id int primary key);\ncreate table app.u (t_id int references app.t);\n"
    )
    assert run([str(migrations)]).exit_code == 1
    assert run([str(migrations), "--fail-on", "error"]).exit_code == 0
    assert run([str(migrations), "--exit-zero"]).exit_code == 0


def test_select_and_ignore(tmp_path):
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "1_a.sql").write_text(SEED.replace(" ON DELETE CASCADE", ""))
    codes = lambda *args: [d["code"] for d in json.loads(run([str(migrations), "--format", "json", *args]).output)["diagnostics"]]  # noqa: E731
    assert codes("--select", "FK") == ["FK001"]
    assert codes("--ignore", "missing-policy", "--ignore", "auth-call-per-row") == ["FK001"]
    result = run([str(migrations), "--select", "NOPE1"])
    assert result.exit_code == 2
    assert "unknown rule selector 'NOPE1'" in result.output


def test_missing_path_is_a_usage_error(tmp_path):
    result = run([str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope'}: error: no such file or directory" in result.output


def test_syntax_error_exits_2_and_still_reports_findings(tmp_path):
    migrations = tmp_path / "m"
    migrations.mkdir()
    (tmp_path / "supabase").mkdir()  # a Supabase project: the API roles start with every privilege
    (migrations / "1_a.sql").write_text("selec 1;\ncreate table public.t (id int);\n")
    result = run([str(migrations), "--format", "json"])
    assert result.exit_code == 2
    document = json.loads(result.output)
    assert [(e["line"], e["column"], e["message"]) for e in document["errors"]] == [(1, 1, 'syntax error at or near "selec"')]
    assert [d["code"] for d in document["diagnostics"]] == ["RLS001"]


def test_json_document_shape(project):
    document = json.loads(run(["--format", "json"], cwd=project).output)
    assert document["version"] == 1
    (d,) = document["diagnostics"]
    assert set(d) >= {"code", "name", "severity", "message", "file", "line", "column", "end_line", "end_column",
                      "object", "columns", "commands", "fix"}
    assert (d["code"], d["name"], d["severity"], d["object"]) == ("RLS001", "table-without-rls", "error", "public.legacy")


def test_quoted_names_are_printed_as_postgresql_prints_them(tmp_path):
    migrations = tmp_path / "m"
    migrations.mkdir()
    (tmp_path / "supabase").mkdir()  # a Supabase project: the API roles start with every privilege
    (migrations / "1_a.sql").write_text('create table "Profiles" (id int primary key);\n')
    document = json.loads(run([str(migrations), "--format", "json"]).output)
    ((name, fix),) = [(d["object"], d["fix"]) for d in document["diagnostics"]]
    assert name == 'public."Profiles"'
    assert 'ALTER TABLE public."Profiles" ENABLE ROW LEVEL SECURITY;' in fix.splitlines()
    assert '-- CREATE POLICY "Profiles_select" ON public."Profiles" FOR SELECT TO authenticated USING (<condition>);' in fix


def test_python_dash_m_and_rule_commands():
    result = subprocess.run([sys.executable, "-m", "rlslint", "rule", "RLS001"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0
    assert result.stdout.startswith("# RLS001 table-without-rls")
    result = subprocess.run([sys.executable, "-m", "rlslint", "example"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "Found 12 findings (6 errors, 6 warnings) in 9 files."


def test_example_project_fires_each_rule_once():
    result = run(["--format", "json"], cwd=ROOT / "example")
    codes = sorted(d["code"] for d in json.loads(result.output)["diagnostics"])
    # Every rule over the model that the example's configuration runs, from the registry; RLS002
    # twice, for the tasks "assignees see" reads and for the invoices whose only write policy
    # is for service_role (RLS006).
    from rlslint.config import load_options
    from rlslint.rules import ALL_RULES

    options = load_options(ROOT / "example" / "rlslint.toml", "example/rlslint.toml")
    assert codes == sorted([*(r.code for r in ALL_RULES if r.default_enabled or r.code in options.extend_select), "RLS002"])
    objects = {(d["code"], d["object"]) for d in json.loads(result.output)["diagnostics"]}
    assert {("RLS002", "public.invoices"), ("RLS006", "public.invoices")} <= objects
    assert not {o for _, o in objects} & {"public.plans"}  # read-only by privilege: no write policy needed


def test_verbose_shows_what_was_not_analysed(tmp_path):
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "1_a.sql").write_text(
        "create table public.t (id int primary key);\n"
        "do $$ begin\n  execute (select current_setting('app.ddl'));\nend $$;\n"
    )
    quiet = run([str(migrations), "--no-color"]).output
    assert "note:" not in quiet and "not analysed:" not in quiet
    assert quiet.splitlines()[-1] == (f"1 statement could not be analysed ({migrations}/1_a.sql:3): findings on the "
                                      "tables it may change say so; -v says why; --verify decides them.")
    loud = run([str(migrations), "--no-color", "--verbose"]).output
    assert f"{migrations}/1_a.sql:3: not analysed: EXECUTE of SQL built at run time (current_setting() is not evaluated)" in loud


def test_a_statement_a_loop_reaches_again_is_listed_and_counted_once(tmp_path):
    import json

    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "1_a.sql").write_text(
        "create table public.t (id int primary key);\n"
        "do $$ declare s text; begin\n"
        "  foreach s in array array['a', 'b', 'c'] loop\n"
        "    execute current_setting('app.ddl_' || s);\n"
        "  end loop;\n"
        "  execute current_setting('app.more');\n"
        "end $$;\n"
    )
    loud = run([str(migrations), "--no-color", "--verbose", "--no-cache"]).output.splitlines()
    listed = [line for line in loud if ": not analysed" in line]
    assert listed == [f"{migrations}/1_a.sql:4: not analysed (3 times): EXECUTE of SQL built at run time "
                      "(current_setting() is not evaluated)",
                      f"{migrations}/1_a.sql:6: not analysed: EXECUTE of SQL built at run time "
                      "(current_setting() is not evaluated)"]
    assert loud[-1].startswith(f"2 statements could not be analysed ({migrations}/1_a.sql:4, {migrations}/1_a.sql:6)")
    document = json.loads(run([str(migrations), "--format", "json", "--no-cache"]).output)
    assert [(e["line"], e["times"]) for e in document["unanalysed"]] == [(4, 3), (6, 1)]
    assert document["summary"]["unanalysed"] == 2
    sarif = json.loads(run([str(migrations), "--format", "sarif", "--no-cache"]).output)
    notifications = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"].split(":")[0] for n in notifications] == ["not analysed (3 times)", "not analysed"]


def test_a_named_file_answers_for_findings_it_causes_in_older_files(tmp_path):
    """Dropping a policy and an index in a new migration surfaces findings located in the old one."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_a.sql").write_text(
        "create table public.tasks (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "create index idx_tasks_user_id on public.tasks (user_id);\n"
        "alter table public.tasks enable row level security;\n"
        "create policy tasks_all on public.tasks for all using ((select auth.uid()) = user_id);\n"
        "create table public.legacy (id int primary key);\n"  # an old finding nobody touches
    )
    (migrations / "20240102000000_b.sql").write_text(
        "drop index public.idx_tasks_user_id;\n"
        "drop policy tasks_all on public.tasks;\n"
        "create policy tasks_read on public.tasks for select using ((select auth.uid()) = user_id);\n"
    )
    for cache in ([], ["--no-cache"]):
        result = run(["supabase/migrations/20240102000000_b.sql", "--format", "json", *cache], cwd=tmp_path)
        found = sorted((d["code"], Path(d["file"]).name, d["line"]) for d in json.loads(result.output)["diagnostics"])
        assert found == [
            ("IDX001", "20240101000000_a.sql", 1),  # the index that covered the key and the policy is gone
            ("RLS002", "20240101000000_a.sql", 3),  # INSERT, UPDATE and DELETE lost their policy
        ]
