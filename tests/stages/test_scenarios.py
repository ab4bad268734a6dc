"""The multi-file replay scenarios give exactly the findings a person reading them expects.

Each scenario under tests/fixtures/replay/ is linted as one migration set with the default
settings (rules on by default, `public` exposed, `auth.users` as owner table); the findings,
as a multiset of (file name, line, code), must equal the `-- expect:` markers of its files.
test_ground_truth.py checks the same histories' schema model against PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rlslint.engine import lint
from rlslint.settings import Settings
from tests.support.expectations import expected_findings

REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"
SCENARIOS = sorted(p for p in REPLAY_DIR.iterdir() if (p / "migrations").is_dir())


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_findings(scenario):
    migrations = scenario / "migrations"
    result = lint([str(migrations)], Path.cwd(), lambda s: Settings(platform="supabase"))
    assert not result.errors, result.errors
    found = Counter(
        (Path(d.span.path).name, result.position(d.span).line, d.code) for d in result.diagnostics
    )
    expected = Counter()
    for path in sorted(migrations.glob("*.sql")):
        expected += expected_findings(path, display=path.name)
    assert expected, "a scenario names its findings with -- expect: markers"
    assert found == expected
