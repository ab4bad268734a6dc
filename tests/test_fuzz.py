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

from hypothesis import given, settings
from hypothesis import strategies as st

from rlslint.engine import lint
from rlslint.settings import Settings
from tests.robustness import CORPUS_SETS, corpus_dir, production_mode, time_limit

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
            result = lint([str(directory)], directory, lambda s: Settings())
    assert any(d.object == "public.after_damage" for d in result.diagnostics), "the file after the damaged one is linted"
    for error in result.errors:
        assert error.message and "\n" not in error.message, error
        if error.offset is not None:
            assert 0 <= error.offset <= len(result.sources[error.path].text), error
