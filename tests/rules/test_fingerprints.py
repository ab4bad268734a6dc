"""A finding's fingerprint (baseline, JSON, SARIF) is what it is about, not where it sits or
what its table is called now: it survives lines inserted above it and a later rename."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rlslint.diagnostics import fingerprint
from rlslint.engine import run_rules
from rlslint.rules import ALL_RULES
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.names import QName, quote_ident
from rlslint.sql.parse import parse_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "rules"


def _fingerprints(rule, files: list[tuple[str, str]]) -> tuple[Counter, list[QName]]:
    catalog = replay([parse_file(path, text) for path, text in files])
    found = run_rules(catalog, Settings(enabled=frozenset({rule.code})), [rule], fixes=False)
    return Counter((d.code, fingerprint(d)) for d in found), list(catalog.tables)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_fingerprints_survive_inserted_lines_and_a_table_rename(rule):
    text = (FIXTURES / f"{rule.code}-{rule.name}" / "fail.sql").read_text(encoding="utf-8")
    before, tables = _fingerprints(rule, [("fail.sql", text)])
    assert before, "the fixture must produce findings for the comparison to mean anything"
    assert len(before) == sum(before.values()), "two findings of one rule share a fingerprint"

    moved, _ = _fingerprints(rule, [("fail.sql", "-- a comment\n\n\n" + text)])
    assert moved == before

    renames = "".join(f"alter table {q} rename to {quote_ident(q.name + '_renamed')};\n" for q in tables)
    renamed, after = _fingerprints(rule, [("fail.sql", text), ("rename.sql", renames)])
    assert sorted(after) == sorted(QName(q.schema, q.name + "_renamed") for q in tables)
    assert renamed == before
