"""`rlslint init`: a starter configuration that matches the project and is itself valid."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rlslint.cli import main
from rlslint.config import load_options
from rlslint.options import Options


def supabase_project(root, schemas='["public", "graphql_public"]'):
    (root / "supabase/migrations").mkdir(parents=True)
    (root / "supabase/config.toml").write_text(f"[api]\nschemas = {schemas}\n")
    (root / "supabase/migrations/20240101000000_init.sql").write_text("create schema private;\n")


def test_init_writes_rlslint_toml_matching_a_supabase_project(tmp_path, monkeypatch):
    supabase_project(tmp_path)
    monkeypatch.chdir(tmp_path / "supabase/migrations")  # found upwards
    result = CliRunner().invoke(main, ["init"])
    path = tmp_path / "rlslint.toml"
    assert (result.exit_code, result.stdout) == (0, "rlslint: found . (supabase, 1 files)\n"
                                                    f"rlslint: wrote a starter configuration to {path}\n")
    text = path.read_text()
    assert "# Found migrations in supabase/migrations (supabase layout)." in text
    assert '# exposed-schemas = ["graphql_public", "public"]' in text
    assert '\n# owner-tables = ["auth.users"]\n' in text  # the default already
    assert '# "supabase/migrations/20240101000000_init.sql" = ["IDX001"]' in text
    options = load_options(path, "rlslint.toml")
    assert options.exposed_schemas is None and options.require_suppression_reason is True
    assert CliRunner().invoke(main, ["check"]).exit_code == 0  # the starter config lints the project


def test_init_appends_tool_rlslint_to_pyproject(tmp_path, monkeypatch):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations/0001_init.sql").write_text("create schema private;\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith('[project]\nname = "app"\n\n# rlslint configuration')
    assert '\n[tool.rlslint]\n' in text and '\n# exposed-schemas = ["public"]\n' in text
    assert '# Found migrations in migrations (plain layout).' in text
    assert load_options(tmp_path / "pyproject.toml", "pyproject.toml").exposed_schemas is None
    again = CliRunner().invoke(main, ["init"])
    assert (again.exit_code, again.stderr) == (
        2, f"rlslint: error: {tmp_path / 'pyproject.toml'}: already has a [tool.rlslint] table; rlslint init does not overwrite it\n")


def test_init_file_option(tmp_path, monkeypatch):
    supabase_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["init", "--file", "rlslint.toml"]).exit_code == 0
    assert (tmp_path / "pyproject.toml").read_text() == '[project]\nname = "app"\n'
    assert load_options(tmp_path / "rlslint.toml", "rlslint.toml").require_suppression_reason is True


def test_init_at_a_monorepo_root_lists_every_set_and_never_overrides_supabase_config(tmp_path, monkeypatch):
    from tests.stages.test_discovery import monorepo

    root = monorepo(tmp_path)
    monkeypatch.chdir(root)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "rlslint: found apps/admin/supabase/migrations (supabase, 1 files)",
        "rlslint: found apps/web/supabase/migrations (supabase, 1 files)",
        "rlslint: found packages/db/prisma/migrations (prisma, 1 files)",
        f"rlslint: wrote a starter configuration to {root / 'rlslint.toml'}"]
    text = (root / "rlslint.toml").read_text()
    assert "# Found migrations in apps/admin/supabase/migrations (supabase layout).\n" in text
    assert "# Found migrations in packages/db/prisma/migrations (prisma layout).\n" in text
    options = load_options(root / "rlslint.toml", "rlslint.toml")
    # Only the one setting that differs from what rlslint does unasked is active.
    assert options == Options(require_suppression_reason=True)
    # Each project still gets its own exposed schemas from its own supabase/config.toml.
    check = CliRunner().invoke(main, ["check", "--format", "json"])
    assert sorted(d["object"] for d in json.loads(check.stdout)["diagnostics"]) == [
        "admin.secrets", "public.accounts", "public.web_orders"]


def test_init_without_migrations_says_so(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0
    assert result.stderr == (f"rlslint: found no migrations below or above {tmp_path}; list them under "
                             f"[[migrations]] in {tmp_path / 'rlslint.toml'}\n")
    text = (tmp_path / "rlslint.toml").read_text()
    assert "# No migrations found here: list them in a [[migrations]] table below.\n" in text
    assert load_options(tmp_path / "rlslint.toml", "rlslint.toml") == Options(require_suppression_reason=True)


def test_init_writes_the_api_roles_it_detected_for_each_set(tmp_path, monkeypatch):
    from tests.stages.test_discovery import monorepo

    root = monorepo(tmp_path)
    # The Prisma package's own grants name the role the application connects as.
    (root / "packages/db/prisma/migrations/20240102000000_grants/migration.sql").parent.mkdir()
    (root / "packages/db/prisma/migrations/20240102000000_grants/migration.sql").write_text(
        "create role app_user;\ngrant select on public.accounts to app_user;\n")
    monkeypatch.chdir(root)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    text = (root / "rlslint.toml").read_text()
    assert ("#   apps/admin/supabase/migrations: anon, authenticated\n"
            "#   apps/web/supabase/migrations: anon, authenticated\n"
            "#   packages/db/prisma/migrations: app_user\n"
            '# api-roles = ["anon", "authenticated"]\n') in text
    # Commented out like every detected setting; uncommented, it is a valid setting.
    assert load_options(root / "rlslint.toml", "rlslint.toml").api_roles is None
    enabled = text.replace('# api-roles = ["anon", "authenticated"]', 'api-roles = ["anon", "authenticated"]')
    (root / "rlslint.toml").write_text(enabled)
    assert load_options(root / "rlslint.toml", "rlslint.toml").api_roles == ("anon", "authenticated")


def test_init_says_when_a_set_has_no_api_role(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations/0001_init.sql").write_text("create table public.accounts (id bigint primary key);\n")
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    text = (tmp_path / "rlslint.toml").read_text()
    assert "#   migrations: none, so the RLS rules are skipped there\n" in text
    assert '# api-roles = ["<role your application connects as>"]\n' in text
