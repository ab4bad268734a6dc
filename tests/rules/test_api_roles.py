"""API roles: which roles the RLS rules judge, and what a project with none gets.

A Prisma or Drizzle project on plain PostgreSQL has no anon key and no API role: its
RLS findings would all be noise, so those rules are skipped and the run says so. A plain
project whose grants and policies name an application role is judged for that role.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from rlslint.cli import main
from rlslint.engine import lint
from rlslint.settings import Settings
from tests.support.expectations import expected_findings

PROJECTS = Path(__file__).parents[1] / "fixtures" / "projects"


def _findings(project: Path, settings: Settings) -> tuple[Counter, tuple[str, ...]]:
    result = lint([str(project)], project, lambda s: settings)
    assert not result.errors, result.errors
    found = Counter((Path(d.span.path).name, result.position(d.span).line, d.code) for d in result.diagnostics)
    return found, result.remarks


def _expected(project: Path) -> Counter:
    expected = Counter()
    for path in sorted(project.rglob("*.sql")):
        expected += expected_findings(path, display=path.name)
    return expected


def test_prisma_project_without_api_roles_skips_the_rls_rules_and_says_so():
    project = PROJECTS / "prisma"
    found, remarks = _findings(project, Settings())
    assert found == _expected(project)  # IDX001 only: no RLS001 for "User" and "Post"
    (remark,) = remarks
    assert remark.startswith("no API role found") and "RLS001" in remark and "api-roles" in remark


def test_api_roles_setting_turns_the_rls_rules_on():
    project = PROJECTS / "prisma"
    found, remarks = _findings(project, Settings(api_roles=("postgres_app",)))
    assert remarks == ()
    assert {code for _, _, code in found} == {"IDX001"}  # postgres_app holds no privilege: still no RLS001


def test_plain_project_judges_the_role_its_grants_name():
    project = PROJECTS / "prisma_app_role"
    found, remarks = _findings(project, Settings())
    assert remarks == ()
    assert found == _expected(project)


def test_the_skip_is_one_line_of_the_text_output(monkeypatch):
    monkeypatch.chdir(PROJECTS / "prisma")
    result = CliRunner().invoke(main, ["check", "--no-color"])
    lines = [line for line in result.output.splitlines() if "api-roles" in line]
    assert len(lines) == 1 and lines[0].startswith("info: no API role found")
