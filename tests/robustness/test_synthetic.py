"""A generated Supabase-style history with its own ground truth: rlslint must find exactly its defects.

The generator (shared/bench/gen_synthetic.py) writes the migrations and, independently,
a manifest of what each table ends up with. Every checklist finding is derived from
that manifest here and compared with rlslint's findings, table by table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from rlslint.config import settings_for_root
from rlslint.engine import lint
from tests.support.shared import shared_path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    generator = shared_path("bench", "gen_synthetic.py")
    root = tmp_path_factory.mktemp("synthetic")
    migrations = root / "supabase" / "migrations"
    manifest = root / "manifest.json"
    subprocess.run([sys.executable, str(generator), "120", str(migrations), "--manifest", str(manifest)],
                   check=True, capture_output=True)
    return migrations, json.loads(manifest.read_text())["tables"]


def expected(tables: dict) -> Counter:
    found: Counter = Counter()
    for table, truth in tables.items():
        if not truth["rls_enabled"]:
            found[("RLS001", table, "")] += 1
        elif truth["missing_policy_commands"]:
            found[("RLS002", table, ",".join(sorted(c.upper() for c in truth["missing_policy_commands"])))] += 1
        for fk in truth["foreign_keys"]:
            if not fk["indexed"]:
                found[("IDX001", table, fk["column"])] += 1
            if fk["references"] == "auth.users" and fk["on_delete"] in (None, "no action", "restrict"):
                found[("FK001", table, fk["column"])] += 1
        for column in truth["unindexed_policy_columns"]:
            if ("IDX001", table, column) not in found:  # IDX001 gives both reasons in one finding
                found[("IDX002", table, column)] += 1
    return found


CHECKLIST = frozenset({"RLS001", "RLS002", "IDX001", "IDX002", "FK001"})


def test_findings_equal_the_generators_ground_truth(corpus):
    migrations, tables = corpus
    result = lint([str(migrations)], Path.cwd(), lambda s: settings_for_root(s.root))
    assert not result.errors
    actual: Counter = Counter()
    for d in result.diagnostics:
        if d.code not in CHECKLIST:  # the generator's ground truth knows only the checklist rules
            continue
        detail = ",".join(sorted(d.commands)) if d.code == "RLS002" else ",".join(d.columns)
        actual[(d.code, d.object, detail)] += 1
    truth = expected(tables)
    assert sum(truth.values()) > 100, "the corpus should exercise every rule many times"
    # The generator's policies filter on foreign-key columns only, which IDX001 reports (naming
    # the policies), so IDX002 has nothing left to add here; its own fixtures exercise it.
    assert {code for code, _, _ in truth} == {"RLS001", "RLS002", "IDX001", "FK001"}
    missing, extra = truth - actual, actual - truth
    assert not missing and not extra, f"missed: {sorted(missing)[:10]}\nextra: {sorted(extra)[:10]}"
