"""Inline suppressions and per-file ignores, one fixture project per case.

Each ``tests/fixtures/suppressions/<case>/`` is a small Supabase project; ``expected.txt``
lists every finding as ``file:line CODE`` (empty: none).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rlslint.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "suppressions"


def findings(directory: Path, monkeypatch, *args: str) -> tuple[int, set[str]]:
    monkeypatch.chdir(directory)
    result = CliRunner().invoke(main, ["check", "--format", "json", *args])
    document = json.loads(result.stdout)
    assert document["errors"] == []
    return result.exit_code, {f"{d['file']}:{d['line']} {d['code']}" for d in document["diagnostics"]}


@pytest.mark.parametrize("case", sorted(p.name for p in FIXTURES.iterdir()))
def test_suppression_fixture(case, monkeypatch):
    directory = FIXTURES / case
    expected = set((directory / "expected.txt").read_text().splitlines())
    assert findings(directory, monkeypatch) == (1 if expected else 0, expected)


def test_without_the_comments_the_findings_are_back(tmp_path, monkeypatch):
    """Proves with_reason suppresses something, including RLS002 found in the other file."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "with_reason", project)
    for sql in project.glob("supabase/migrations/*.sql"):
        sql.write_text(re.sub(r"\s*-- rlslint:.*", "", sql.read_text()) + "\n")
    assert findings(project, monkeypatch)[1] == {
        "supabase/migrations/20240102000000_enable_audit.sql:1 RLS002",
        "supabase/migrations/20240101000000_init.sql:3 IDX001",  # the removed comment's line stays, empty
    }


def test_comment_in_an_older_file_suppresses_when_only_the_new_file_is_linted(monkeypatch):
    directory = FIXTURES / "with_reason"
    assert findings(directory, monkeypatch, "supabase/migrations/20240102000000_enable_audit.sql") == (0, set())


def test_ignoring_the_suppression_rules_hides_stale_comments(monkeypatch):
    assert findings(FIXTURES / "stale", monkeypatch, "--ignore", "SUP") == (
        1, {"supabase/migrations/20240101000000_init.sql:8 RLS001"})


def test_suppression_by_name_on_a_multiline_statement_and_a_block_comment(tmp_path, monkeypatch):
    migrations = tmp_path / "supabase/migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_init.sql").write_text(
        "-- rlslint: ignore[table-without-rls] é non-ASCII reason: staging only\n"
        "-- (kept until the cutover)\n"
        "create table public.staging (\n"
        "  id bigint primary key\n"
        ");\n"
        "create table public.other (\n"
        "  id bigint primary key /* rlslint: ignore[RLS001] inside the statement */\n"
        ");\n"
        "select 1; create table public.same_line (id bigint primary key); -- rlslint: ignore[RLS001] both statements\n"
    )
    assert findings(tmp_path, monkeypatch) == (0, set())


def test_unused_suppression_is_not_reported_for_a_rule_that_did_not_run(monkeypatch):
    # RLS002 does not run, so its suppression on line 2 may be meant for another run
    assert findings(FIXTURES / "stale", monkeypatch, "--select", "RLS001", "--extend-select", "SUP001") == (
        1, {"supabase/migrations/20240101000000_init.sql:6 SUP001", "supabase/migrations/20240101000000_init.sql:8 RLS001"})
