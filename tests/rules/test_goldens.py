"""One rendered golden per rule: the text report of its fail.sql, colour off.

The inline markers pin what is found and where; the golden pins how it reads: message
wording, caret placement and fix text. Regenerate deliberately with
``pytest tests/rules/test_goldens.py --update-goldens`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rlslint.diagnostics import LintResult, SourceText
from rlslint.engine import run_rules
from rlslint.report import ReportContext
from rlslint.report.text import render
from rlslint.rules import ALL_RULES
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import LineIndex

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "rules"


def rendered(rule, path: Path) -> str:
    display = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    diagnostics = run_rules(replay([parse_file(display, text)], start="supabase"), Settings(enabled=frozenset({rule.code})), [rule])
    diagnostics.sort(key=lambda d: (d.span.start, d.code))
    result = LintResult(tuple(diagnostics), (), (), {display: SourceText(display, text, LineIndex(text))}, 1)
    return render(result, ReportContext((rule,)))


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_text_report_of_failing_fixture_matches_golden(rule, request):
    directory = FIXTURES / f"{rule.code}-{rule.name}"
    golden = directory / "fail.txt"
    actual = rendered(rule, directory / "fail.sql")
    if request.config.getoption("--update-goldens"):
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"no golden yet: run pytest {Path(__file__).name} --update-goldens"
    assert actual == golden.read_text(encoding="utf-8")
