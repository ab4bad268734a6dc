"""PostgreSQL's own regression suite through rlslint: no traceback, no hang, every failure located.

The suite holds nearly every statement form PostgreSQL accepts, deliberate syntax errors,
psql meta-commands and COPY data. The counts below are asserted exactly, so a change in
what parses, fails or replays shows up here; update them only for a change you meant.
"""

from __future__ import annotations

import pytest

from rlslint import sources
from rlslint.engine import lint
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from tests.support.robustness import Counts, corpus_dir, production_mode, replay_and_count, time_limit

# (statements parsed, statements failed, statements replayed, findings) as one migration set.
# A DO block that loops, branches, executes built SQL or has an EXCEPTION handler is one
# statement here: the replay evaluates it, and what it runs is not counted as parsed.
EXPECTED = {
    # Statements before a lexical error are parsed too (numerology.sql, strings.sql), as PostgreSQL would run them.
    "postgres-regress": Counts(parsed=40964, failed=2377, replayed=40873, findings=649),
    "plpgsql-regress": Counts(parsed=600, failed=10, replayed=600, findings=10),
}
# The one file of the suite that is not UTF-8 (it tests the WIN1252 encoding).
NOT_UTF8 = {"postgres-regress": ["collate.windows.win1252.sql"], "plpgsql-regress": []}


def _parsed(name: str):
    discovery = sources.discover([str(corpus_dir(name))], corpus_dir(name))
    (migration_set,) = discovery.sets
    unreadable = sorted(e.path for e in discovery.errors)
    return migration_set, [parse_file(f.display, f.text) for f in migration_set.files], unreadable


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_as_one_migration_set(name):
    with time_limit(120, f"{name} as one set"):
        migration_set, files, unreadable = _parsed(name)
        counts = replay_and_count(files)
    print(f"{name}: {len(files)} files, {counts}")
    assert unreadable == NOT_UTF8[name]
    for file, source in zip(files, migration_set.files):
        for error in file.errors:
            assert error.offset is not None and 0 <= error.offset <= len(source.text), error
            assert "\n" not in error.message, error
    assert counts == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_by_file(name):
    _, files, _ = _parsed(name)
    total = [0, 0, 0]
    for file in files:
        with time_limit(20, file.path):
            counts = replay_and_count([file])
        total = [total[0] + counts.parsed, total[1] + counts.failed, total[2] + counts.replayed]
    expected = EXPECTED[name]
    assert total == [expected.parsed, expected.failed, expected.replayed]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_through_the_engine(name):
    """The whole pipeline, as a user runs it: errors reported, the rest still linted."""
    directory = corpus_dir(name)
    with production_mode(), time_limit(120, f"lint {name}"):
        # Linted as a Supabase project, so the rules about API access run too.
        result = lint([str(directory)], directory, lambda s: Settings(platform="supabase"))
    assert result.diagnostics, "the statements that parse are linted"
    syntax = [e for e in result.errors if e.kind == "syntax"]
    assert len(syntax) == EXPECTED[name].failed
    assert all(result.error_position(e) is not None for e in syntax)
