"""Regenerate tests/fixtures/replay/<scenario>/catalog.json from a real PostgreSQL server.

Each scenario's migrations are applied with tests/support/pgharness.py and the catalog snapshot is
written pretty-printed with sorted keys. The files are for reviewers and for whoever works on
the model; tests/postgres/test_ground_truth.py still compares against the live server.

    .venv/bin/python -m tests.support.regen_catalogs [scenario ...]
"""

import json
import sys
import tempfile
from pathlib import Path

from tests.support.pgharness import apply_migrations, start_server

REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"


def main(names: list[str]) -> None:
    scenarios = [REPLAY_DIR / n for n in names] or sorted(
        p for p in REPLAY_DIR.iterdir() if (p / "migrations").is_dir())
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp))
        try:
            for scenario in scenarios:
                snapshot = apply_migrations(server, sorted((scenario / "migrations").glob("*.sql")))
                text = json.dumps(snapshot, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
                (scenario / "catalog.json").write_text(text, encoding="utf-8")
                print(f"wrote {scenario / 'catalog.json'} ({len(snapshot['tables'])} tables)")
        finally:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
