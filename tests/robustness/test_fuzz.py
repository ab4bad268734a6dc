"""Mutation fuzzing over the regression corpus: damaged files never break rlslint.

Each example takes a window of a corpus file and damages it (truncates, splices in a piece
of another file, flips bytes, inserts NUL bytes or invalid UTF-8), then lints it the way a
user would. Whatever the input, rlslint must finish quickly, without a traceback, and
report every problem as a one-line error with a location inside the file.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from rlslint.engine import lint
from rlslint.settings import Settings
from tests.support.robustness import CORPUS_SETS, corpus_dir, production_mode, time_limit

WINDOW = 6000  # bytes of a corpus file per example: keeps each example to milliseconds
DAMAGE = (b"\x00", b"\xff", b"\xc3\x28", b"\x80", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"'", b"$$", b"/*", b'"', b";")


@lru_cache(maxsize=None)
def corpus_files() -> tuple[Path, ...]:
    return tuple(sorted(p for name in CORPUS_SETS for p in corpus_dir(name).glob("*.sql")))


@st.composite
def damaged_sql(draw) -> bytes:
    files = corpus_files()
    data = draw(st.sampled_from(files)).read_bytes()
    start = draw(st.integers(0, max(len(data) - WINDOW, 0)))
    data = bytearray(data[start : start + WINDOW])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("truncate", "splice", "flip", "insert")))
        at = draw(st.integers(0, len(data)))
        if kind == "truncate":
            del data[at:]
        elif kind == "splice":
            other = draw(st.sampled_from(files)).read_bytes()
            begin = draw(st.integers(0, len(other)))
            data[at:at] = other[begin : begin + draw(st.integers(0, 400))]
        elif kind == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            data[at:at] = draw(st.sampled_from(DAMAGE))
    return bytes(data)


@settings(max_examples=max(settings.default.max_examples // 2, 10))
@given(data=damaged_sql())
def test_damaged_files_are_reported_not_fatal(data: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "001_damaged.sql").write_bytes(data)
        (directory / "002_intact.sql").write_text("create table public.after_damage (id bigint primary key);\n")
        with production_mode(), time_limit(30, "linting a damaged file"):
            # A Supabase project, whatever the damage left of the migrations naming it.
            result = lint([str(directory)], directory, lambda s: Settings(platform="supabase"))
    assert any(d.object == "public.after_damage" for d in result.diagnostics), "the file after the damaged one is linted"
    for error in result.errors:
        assert error.message and "\n" not in error.message, error
        if error.offset is not None:
            assert 0 <= error.offset <= len(result.sources[error.path].text), error


# --- whole projects through the command line ---------------------------------------------
#
# The attack on rlslint that found 25 tracebacks and a hang mutated PostgreSQL's regression
# SQL into whole migration sets and ran the command line on them. This does the same within
# a fixed budget (the hypothesis profile: "ci" in CI, "thorough" for the long run) and counts
# what must never happen: a traceback, a hang, an exit code other than 0, 1 or 2, or a line
# that starts a workflow command rlslint did not make.

PROJECT_FILES = 3
NESTING = (("(", ")"), ("not ", ""), ("case when true then ", " end"), ("coalesce(", ", 1)"), ("- ", ""),
           ("array[", "]"), ("(select ", ")"))


def _tokens(data: bytes) -> list[tuple[int, int]]:
    """Byte spans of the scanner's tokens, or of whitespace-separated words if it gives up."""
    from pglast import parser as pg

    text = data.decode("utf-8", "replace")
    try:
        if text.isascii():
            return [(t.start, t.end + 1) for t in pg.scan(text)]
    except Exception:  # a lexical error: the words will do
        pass
    spans, start = [], None
    for i, byte in enumerate(data + b" "):
        if byte in b" \t\r\n" and start is not None:
            spans.append((start, i))
            start = None
        elif byte not in b" \t\r\n" and start is None:
            start = i
    return spans


@st.composite
def mutated_project(draw) -> list[bytes]:
    files = corpus_files()
    texts = []
    for _ in range(PROJECT_FILES):
        data = draw(st.sampled_from(files)).read_bytes()
        start = draw(st.integers(0, max(len(data) - WINDOW // 2, 0)))
        texts.append(bytearray(data[start : start + WINDOW // 2]))
    if draw(st.booleans()):  # statement shuffle across files
        statements = [s + b";" for t in texts for s in bytes(t).split(b";") if s.strip()]
        order = draw(st.permutations(range(len(statements))))
        texts = [bytearray(b"".join(statements[i] for i in order[k::PROJECT_FILES])) for k in range(PROJECT_FILES)]
    for _ in range(draw(st.integers(1, 6))):
        data = texts[draw(st.integers(0, PROJECT_FILES - 1))]
        kind = draw(st.sampled_from(("flip", "delete token", "truncate", "insert", "nest")))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif kind == "delete token":
            spans = _tokens(bytes(data))
            if spans:
                begin, end = draw(st.sampled_from(spans))
                del data[begin:end]
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from(DAMAGE + (b"\x1b]0;t\x07", b"\n::stop-commands::x\n", b"##[", b"\x0b")))
        else:  # deep nesting, up to and beyond the parser's limit of about 10,000 levels
            opening, closing = draw(st.sampled_from(NESTING))
            depth = draw(st.sampled_from((50, 400, 2_000, 9_000, 12_000)))
            data[at:at] = f"select {opening * depth}1{closing * depth};\n".encode()
    return [bytes(t) for t in texts]


def _started_commands(text: str) -> list[str]:
    """Lines GitHub's runner would execute that rlslint did not write as annotations."""
    import re

    bad = []
    for line in re.split(r"\r\n|\r|\n", text):
        if "##[" in line or (line.lstrip().startswith("::") and not re.match(r"::(error|warning|notice) ", line)):
            bad.append(line)
    return bad


@settings(max_examples=max(settings.default.max_examples // 2, 10))
@given(texts=mutated_project())
def test_mutated_projects_never_crash_hang_or_inject(texts: list[bytes]):
    import os

    from click.testing import CliRunner

    from rlslint.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        migrations = Path(tmp) / "supabase" / "migrations"
        migrations.mkdir(parents=True)
        for i, data in enumerate(texts):
            (migrations / f"2024010100000{i}_m.sql").write_bytes(data)
        old = Path.cwd()
        os.chdir(tmp)
        try:
            with production_mode(), time_limit(60, "linting a mutated project"):
                result = CliRunner().invoke(main, ["--no-cache"], env={"GITHUB_ACTIONS": "true"})
        finally:
            os.chdir(old)
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics shows how often each was reached
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert _started_commands(result.stdout) == [] and _started_commands(result.stderr) == []
