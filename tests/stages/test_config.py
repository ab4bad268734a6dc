"""Configuration: every key of [tool.rlslint] / rlslint.toml, its layering, and its errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint.cli import main

MIGRATION = "supabase/migrations/20240101000000_init.sql"
SQL = (
    "create table public.tasks (id bigint primary key, user_id uuid references auth.users);\n"
    "create schema private;\n"
    "create table private.jobs (id bigint primary key, owner uuid references auth.users on delete cascade);\n"
    # A schema the migrations create is reachable through the API only once they say so.
    "grant usage on schema private to anon;\ngrant select on private.jobs to anon;\n"
)
DEFAULT = {(MIGRATION, 1, "RLS001"), (MIGRATION, 1, "FK001"), (MIGRATION, 1, "IDX001"), (MIGRATION, 3, "IDX001")}
ALLOWED_KEYS = ("api-roles, exclude, exposed-schemas, extend-select, fail-on, ignore, migrations, owner-columns, owner-tables, "
                "per-file-ignores, "
                "require-suppression-reason, rules, select")


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / MIGRATION).parent.mkdir(parents=True)
    (tmp_path / MIGRATION).write_text(SQL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    result = CliRunner().invoke(main, ["check", "--format", "json", *args])
    findings = set()
    if result.exit_code != 2:
        document = json.loads(result.stdout)
        findings = {(d["file"], d["line"], d["code"]) for d in document["diagnostics"]}
    return result, findings


def configure(project: Path, toml: str, name: str = "rlslint.toml") -> None:
    (project / name).write_text(toml)


def test_no_config_reports_every_rule(project):
    result, findings = run()
    assert (result.exit_code, findings) == (1, DEFAULT)


def test_select_by_prefix(project):
    configure(project, 'select = ["RLS"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001")}


def test_ignore_by_name(project):
    configure(project, 'ignore = ["unindexed-foreign-key"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001"), (MIGRATION, 1, "FK001")}


def test_extend_select_adds_to_select(project):
    configure(project, 'select = ["RLS001"]\nextend-select = ["FK"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001"), (MIGRATION, 1, "FK001")}


def test_rule_severity(project):
    configure(project, 'select = ["IDX001"]\n[rules.unindexed-foreign-key]\nseverity = "info"')
    result, findings = run()
    assert {d["severity"] for d in json.loads(result.stdout)["diagnostics"]} == {"info"}
    assert (result.exit_code, findings) == (0, {(MIGRATION, 1, "IDX001"), (MIGRATION, 3, "IDX001")})


def test_fail_on_from_config_and_cli_override(project):
    configure(project, 'select = ["IDX"]\nfail-on = "error"')
    assert run()[0].exit_code == 0
    assert run("--fail-on", "warning")[0].exit_code == 1


def test_cli_select_and_ignore_override_config(project):
    configure(project, 'select = ["RLS"]\nignore = ["FK001"]')
    assert run("--select", "FK")[1] == set()  # the config's ignore still drops FK001
    assert run("--select", "FK", "--ignore", "RLS")[1] == {(MIGRATION, 1, "FK001")}
    assert run("--ignore", "RLS001")[1] == set()  # config select RLS, minus RLS001


def test_cli_extend_select(project):
    configure(project, 'select = ["RLS"]')
    assert run("--extend-select", "FK001")[1] == {(MIGRATION, 1, "RLS001"), (MIGRATION, 1, "FK001")}


def test_exposed_schemas(project):
    configure(project, 'select = ["RLS001"]\nexposed-schemas = ["public", "private"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001"), (MIGRATION, 3, "RLS001")}


def test_supabase_config_gives_exposed_schemas_unless_config_says_otherwise(project):
    (project / "supabase/config.toml").write_text('[api]\nschemas = ["public", "private", "graphql_public"]\n')
    configure(project, 'select = ["RLS001"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001"), (MIGRATION, 3, "RLS001")}
    configure(project, 'select = ["RLS001"]\nexposed-schemas = ["private"]')
    assert run()[1] == {(MIGRATION, 3, "RLS001")}


def test_owner_tables(project):
    configure(project, 'select = ["FK001"]\nowner-tables = ["public.people"]')
    assert run()[1] == set()


def test_rule_option_on_delete(project):
    configure(project, 'select = ["FK001"]\n[rules.FK001]\non-delete = ["CASCADE", "NO ACTION"]')
    assert run()[1] == set()
    configure(project, 'select = ["FK001"]\n[rules.FK001]\non-delete = ["SET NULL"]')
    assert run()[1] == {(MIGRATION, 1, "FK001"), (MIGRATION, 3, "FK001")}


def test_exclude_still_replays_but_never_reports(project):
    later = project / "supabase/migrations/20240102000000_more.sql"
    later.write_text("alter table public.tasks enable row level security;\n")
    configure(project, 'exclude = ["supabase/migrations/20240101*"]')
    assert run()[1] == {("supabase/migrations/20240102000000_more.sql", 1, "RLS002")}


def test_per_file_ignores(project):
    configure(project, '[per-file-ignores]\n"*_init.sql" = ["IDX", "owner-fk-without-cascade"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001")}


def test_pyproject_table(project):
    configure(project, '[project]\nname = "app"\n\n[tool.rlslint]\nselect = ["FK"]', "pyproject.toml")
    assert run()[1] == {(MIGRATION, 1, "FK001")}


def test_pyproject_without_table_is_skipped_and_rlslint_toml_wins(project):
    configure(project, '[project]\nname = "app"\n', "pyproject.toml")
    assert run()[1] == DEFAULT
    configure(project, '[tool.rlslint]\nselect = ["FK"]', "pyproject.toml")
    configure(project, 'select = ["RLS"]')
    assert run()[1] == {(MIGRATION, 1, "RLS001")}


def test_config_found_from_the_migrations_upwards(project, monkeypatch, tmp_path_factory):
    configure(project, 'select = ["RLS"]')
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    result, findings = run(str(project / "supabase/migrations"))
    assert {code for _, _, code in findings} == {"RLS001"}


def test_config_option_names_a_file(project):
    configure(project, 'select = ["RLS"]')
    (project / "ci.toml").write_text('select = ["FK"]')
    assert run("--config", "ci.toml")[1] == {(MIGRATION, 1, "FK001")}


@pytest.mark.parametrize(
    "name, toml, message",
    [
        ("rlslint.toml", 'selct = ["RLS"]', f"rlslint.toml: selct: unknown key; expected one of: {ALLOWED_KEYS}"),
        ("pyproject.toml", '[tool.rlslint]\nselct = ["RLS"]',
         f"pyproject.toml: tool.rlslint.selct: unknown key; expected one of: {ALLOWED_KEYS}"),
        ("rlslint.toml", 'fail-on = "fatal"', "rlslint.toml: fail-on: expected one of 'error', 'warning', 'info', got 'fatal'"),
        ("rlslint.toml", 'select = "RLS001"', "rlslint.toml: select: expected a list of strings, got 'RLS001'"),
        ("rlslint.toml", 'select = ["RLS999"]',
         "rlslint.toml: select: unknown rule 'RLS999'; expected rule codes, names or code prefixes (`rlslint rules` lists them)"),
        ("rlslint.toml", '[per-file-ignores]\n"*.sql" = ["nope"]',
         "rlslint.toml: per-file-ignores.\"*.sql\": unknown rule 'nope'; expected rule codes, names or code prefixes "
         "(`rlslint rules` lists them)"),
        ("rlslint.toml", "[rules.RLS999]\nseverity = \"info\"",
         "rlslint.toml: rules.RLS999: unknown rule; expected a rule code or name (`rlslint rules` lists them)"),
        ("rlslint.toml", "[rules.FK001]\nseverity = \"low\"",
         "rlslint.toml: rules.FK001.severity: expected one of 'error', 'warning', 'info', got 'low'"),
        ("rlslint.toml", "[rules.FK001]\non-delet = []",
         "rlslint.toml: rules.FK001.on-delet: unknown key; expected one of: on-delete, severity"),
        ("rlslint.toml", '[rules.FK001]\non-delete = ["DROP"]',
         "rlslint.toml: rules.FK001.on-delete: expected a list of 'NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL', "
         "'SET DEFAULT', got ['DROP']"),
        ("rlslint.toml", '[rules.RLS001]\non-delete = ["CASCADE"]',
         "rlslint.toml: rules.RLS001.on-delete: unknown key; expected one of: severity"),
        ("rlslint.toml", 'owner-tables = ["users"]',
         "rlslint.toml: owner-tables: expected schema-qualified table names such as 'auth.users', got 'users'"),
        ("rlslint.toml", "require-suppression-reason = 1",
         "rlslint.toml: require-suppression-reason: expected true or false, got 1"),
        ("rlslint.toml", "exclude = [1]", "rlslint.toml: exclude: expected a list of strings, got [1]"),
        ("rlslint.toml", "rules = 3", "rlslint.toml: rules: expected a table, got 3"),
        ("rlslint.toml", "select = [", "rlslint.toml: invalid TOML: "),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_bad_config_is_exit_2_with_file_key_and_expectation(project, name, toml, message):
    configure(project, toml, name)
    result, _ = run()
    if message.endswith("invalid TOML: "):  # the rest is the TOML parser's own wording
        assert result.stderr.startswith(f"rlslint: error: {message}")
    else:
        assert result.stderr == f"rlslint: error: {message}\n"
    assert (result.exit_code, result.stdout) == (2, "")


def test_missing_config_file_is_exit_2(project):
    result, _ = run("--config", "missing.toml")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", "rlslint: error: missing.toml: config file not found\n")


def test_unknown_cli_selector_is_exit_2(project):
    result, _ = run("--extend-select", "XYZ")
    assert (result.exit_code, result.stderr) == (
        2, "rlslint: error: unknown rule selector 'XYZ'; `rlslint rules` lists codes and names\n")


def test_the_settings_loader_keeps_nothing_it_resolved(tmp_path):
    """Each set's settings travel with its result; the loader is not asked about them later."""
    from rlslint import sources
    from rlslint.config import Overrides, SettingsLoader

    for name, severity in (("a", "info"), ("b", "error")):
        (tmp_path / name / "supabase" / "migrations").mkdir(parents=True)
        (tmp_path / name / "supabase" / "migrations" / "1_init.sql").write_text("select 1;\n")
        (tmp_path / name / "rlslint.toml").write_text(f'[rules.IDX001]\nseverity = "{severity}"\n')
    loader = SettingsLoader(tmp_path, None, Overrides())
    before = dict(vars(loader))
    resolved = [loader(s) for s in sources.discover(["a", "b"], tmp_path).sets]
    assert [s.severities["IDX001"].label for s in resolved] == ["info", "error"]
    assert vars(loader) == before
