"""Every rule against its fixtures: the exact multiset of (file, line, code) the markers name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rlslint.engine import run_rules
from rlslint.rules import ALL_RULES
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import LineIndex
from tests.support.expectations import expected_findings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rules"


def _cases():
    for rule in ALL_RULES:
        for path in sorted((FIXTURES / f"{rule.code}-{rule.name}").glob("*.sql")):
            yield pytest.param(rule, path, id=f"{path.parent.name}/{path.name}")


def findings(path: Path, rule) -> Counter:
    text = path.read_text(encoding="utf-8")
    parsed = parse_file(path.as_posix(), text)
    assert not parsed.errors, parsed.errors
    lines = LineIndex(text)
    diagnostics = run_rules(replay([parsed], start="supabase"), Settings(enabled=frozenset({rule.code})), [rule])
    return Counter((d.span.path, lines.line_col(d.span.start)[0], d.code) for d in diagnostics)


@pytest.mark.parametrize("rule, path", list(_cases()))
def test_fixture(rule, path):
    expected = expected_findings(path)
    assert all(code == rule.code for _, _, code in expected), "markers may only name the rule under test"
    assert findings(path, rule) == expected


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_failing_and_passing_fixtures(rule):
    directory = FIXTURES / f"{rule.code}-{rule.name}"
    assert (directory / "fail.sql").is_file() and (directory / "pass.sql").is_file()
    assert sum(expected_findings(directory / "fail.sql").values()) >= 2
    assert not expected_findings(directory / "pass.sql")


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*/*.sql")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_model_matches_postgres(pg, path):
    """Rule fixtures are real migrations: PostgreSQL accepts them and ends with the model's catalog."""
    from tests.support.model_snapshot import model_snapshot
    from tests.support.pgharness import apply_migrations, normalise_snapshot

    postgres = apply_migrations(pg, [path])
    model = normalise_snapshot(model_snapshot(replay([parse_file(path.as_posix(), path.read_text(encoding="utf-8"))])))
    assert model == postgres
