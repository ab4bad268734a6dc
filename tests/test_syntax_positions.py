"""Syntax errors are located where PostgreSQL itself locates them.

Each file is sent to the server as one query string (``psql -c``): PostgreSQL parses the
whole string before running any of it, so the error it reports is positioned in the file
itself. psql prints that position as ``LINE n:`` and a caret; the error lines here are
short and hold no double-width characters, so the caret's column is the character column.
"""

from __future__ import annotations

import re

import pytest

from rlslint.sql.parse import parse_file
from rlslint.sql.spans import LineIndex
from tests.pgharness import MigrationError

CASES = {
    "plain": "create table t (id int);\ncreate policy p on t for selec using (true);\n",
    "after multibyte comment": "-- café ☕ 🎉 naïve\ncreate table t (id int);\ncreate tabel u (id int);\n",
    "multibyte on the error line": "create table t (id int);\ncreate policy \"política ✓\" on t for selec using (true);\n",
    "after a dollar-quoted body": ("create function f() returns int language sql as $body$\n  select 1; -- ; é ☕\n"
                                   "$body$;\ncreate tabel x (id int);\n"),
    "inside a begin atomic body": ("create function g() returns int language sql\nbegin atomic\n  select 1;\n"
                                   "  selec 2;\nend;\n"),
    "end of input": pytest.param("-- ünïcödé\ncreate table t (\n  id int,\n", marks=pytest.mark.xfail(
        strict=True, reason="PostgreSQL points after the trailing newline, on a line that does not exist; "
                            "rlslint points after the last token, where an annotation can be shown")),
    "end of input after a statement": "create table t (id int);\ncreate table u (id int",
    "unterminated dollar quote": "select 'é';\ndo $$ begin\n  perform 1;\n",
    "unterminated string": "-- ☕\nselect 1;\nselect 'abc\n",
    "unterminated comment": "select 1;\n/* ünïcödé\n",
    "second of two errors is not reported by PostgreSQL": "selec 1;\nselect 2;\ncreate tabel t ();\n",
    "crlf line endings": "create table t (id int);\r\ncreate tabel u (id int);\r\n",
}

_LINE = re.compile(r"^LINE (\d+): (.*)$")


def postgres_position(pg, text: str) -> tuple[int, int, str]:
    with pytest.raises(MigrationError) as raised:
        pg.psql("postgres", "-c", text, what="syntax error case")
    lines = raised.value.stderr.splitlines()
    message = lines[0].removeprefix("ERROR:  ")
    for i, line in enumerate(lines):
        match = _LINE.match(line)
        if match:
            prefix = len(line) - len(match.group(2))
            return int(match.group(1)), lines[i + 1].index("^") - prefix + 1, message
    raise AssertionError(f"no LINE in psql's output:\n{raised.value.stderr}")


@pytest.mark.parametrize("text", CASES.values(), ids=list(CASES.keys()))
def test_error_position_matches_postgres(pg, text):
    line, column, message = postgres_position(pg, text)
    parsed = parse_file("case.sql", text)
    assert parsed.errors, f"PostgreSQL reports {message!r}, rlslint nothing"
    first = parsed.errors[0]
    assert LineIndex(text).line_col(first.offset) == (line, column), (first.message, message)
    assert message.split(" at ")[0] in first.message
