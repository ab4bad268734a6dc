"""Running ``rlslint check --verify`` in tests, on the session's PostgreSQL server."""

from __future__ import annotations

import shutil
from pathlib import Path

from rlslint import engine
from rlslint.rules import ALL_RULES, KNOWN_RULES
from rlslint.settings import Settings
from rlslint.verify.server import Endpoint
from rlslint.verify.verifier import Verifier

EVERY_RULE = Settings(enabled=frozenset(r.code for r in KNOWN_RULES))


def session_verifier(server) -> Verifier:
    """A verifier on the tests' own server (tests/support/pgharness.py), as ``--database-url`` would name it."""
    endpoint = Endpoint(str(server.socket_dir), server.port, server.user, None, "postgres", False,
                        "the test session's server")
    return Verifier(endpoint)


def lint(directory: Path, verifier: Verifier | None, settings: Settings = EVERY_RULE):
    return engine.lint([str(directory)], directory.parent, lambda _: settings, ALL_RULES, verifier=verifier)


def as_migrations(tmp_path: Path, *files: Path) -> Path:
    """The files, in order, as one Supabase migration set of their own."""
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    for i, path in enumerate(files, 1):
        shutil.copyfile(path, migrations / f"2024010100{i:04d}_{path.stem}.sql")
    return migrations
