"""Adding a rule takes three places: its module, its fixtures and one registry line.

Everything else that lists rules (the README's tables, the rules/ pages, the starter
configuration, SARIF's tags, the example project's expected findings, the tests that
enumerate rules) is generated from the registry or reads it. This test adds a rule to a
copy of the project, regenerates what ``make docs`` and ``--update-goldens`` generate, and
runs the tests that enumerate rules there.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("rlslint", "tests", "rules", "example", "README.md", "pyproject.toml", "Makefile")

MODULE = '''"""
## What it flags
A table whose name starts with `scratch`.

## Why it matters
Scratch tables are left behind by one-off imports and hold data nobody reviews.
"""

from __future__ import annotations

from typing import Iterator

from rlslint.diagnostics import Finding, Kind, Severity, Subject
from rlslint.rules.base import Rule, RuleContext


def check(ctx: RuleContext) -> Iterator[Finding]:
    for table in ctx.catalog.tables.values():
        if table.qname.name.startswith("scratch"):
            yield Finding(table.created, f"table {table.qname} looks like a scratch table",
                          Subject.of(Kind.TABLE, table), f"DROP TABLE {table.qname};")


RULE = Rule(
    code="TMP001",
    name="scratch-table",
    summary="Table named like a scratch table",
    default_severity=Severity.WARNING,
    tags=("reliability",),
    fires_when="a table's name starts with `scratch`",
    points_at="the `CREATE TABLE`",
    check=check,
    docs=__doc__,
    bad=("create table public.scratch_rows (id int primary key);",),
    good=("create table public.rows (id int primary key);",),
    default_enabled=False,
)
'''
FAIL = ("create table public.scratch_a (id int primary key); -- expect: TMP001\n"
        "create table public.scratch_b (id int primary key); -- expect: TMP001\n")
PASS = "create table public.kept (id int primary key);\n"


def _changed(before: Path, after: Path) -> set[str]:
    """Files added or changed in ``after``, relative to it."""
    changed = set()
    for path in after.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(after)
            original = before / relative
            if not original.is_file() or not filecmp.cmp(original, path, shallow=False):
                changed.add(relative.as_posix())
    return changed


@pytest.mark.slow
def test_a_new_rule_needs_its_module_its_fixtures_and_one_registry_line(tmp_path):
    project = tmp_path / "project"
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, project / name)
    pristine = tmp_path / "pristine"
    shutil.copytree(project, pristine)

    (project / "rlslint/rules/scratch_table.py").write_text(MODULE)
    fixtures = project / "tests/fixtures/rules/TMP001-scratch-table"
    fixtures.mkdir()
    (fixtures / "fail.sql").write_text(FAIL)
    (fixtures / "pass.sql").write_text(PASS)
    registry = project / "rlslint/rules/__init__.py"
    text = registry.read_text()
    assert '    "permissive_write_policy",\n' in text
    registry.write_text(text.replace('    "permissive_write_policy",\n', '    "permissive_write_policy",\n    "scratch_table",\n'))
    assert _changed(pristine, project) == {
        "rlslint/rules/scratch_table.py", "tests/fixtures/rules/TMP001-scratch-table/fail.sql",
        "tests/fixtures/rules/TMP001-scratch-table/pass.sql", "rlslint/rules/__init__.py"}

    env = {**os.environ, "PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)

    def python(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True, text=True)

    assert python("-c", "import rlslint; print(rlslint.__file__)").stdout.strip() == str(project / "rlslint/__init__.py")
    # What `make docs` and `pytest --update-goldens` generate:
    assert python("-m", "rlslint.docs", "--write", "rules/").returncode == 0
    assert python("-m", "rlslint.docs", "--readme", "README.md").returncode == 0
    assert python("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/rules/test_goldens.py", "--update-goldens").returncode == 0
    generated = _changed(pristine, project)
    assert generated == {
        "rlslint/rules/scratch_table.py", "tests/fixtures/rules/TMP001-scratch-table/fail.sql",
        "tests/fixtures/rules/TMP001-scratch-table/pass.sql", "rlslint/rules/__init__.py",
        "tests/fixtures/rules/TMP001-scratch-table/fail.txt", "rules/TMP001-scratch-table.md", "rules/README.md",
        "README.md"}
    assert "| TMP001 | `scratch-table` | warning, opt-in |" in (project / "README.md").read_text()

    tests = ["tests/rules/test_rules.py", "tests/rules/test_goldens.py", "tests/rules/test_rule_docs.py", "tests/rules/test_fingerprints.py",
             "tests/integrations/test_cli.py", "tests/integrations/test_init.py", "tests/integrations/test_integrations.py"]
    run = python("-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "-k", "not postgres and not slow", *tests)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "TMP001" in run.stdout  # the rule's own fixture, golden, docs and fingerprint tests ran
