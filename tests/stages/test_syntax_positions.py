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
from tests.support.pgharness import MigrationError

CASES = {
    "plain": "create table t (id int);\ncreate policy p on t for selec using (true);\n",
    "after multibyte comment": "-- café ☕ 🎉 naïve\ncreate table t (id int);\ncreate tabel u (id int);\n",
    "multibyte on the error line": "create table t (id int);\ncreate policy \"política ✓\" on t for selec using (true);\n",
    "after a dollar-quoted body": ("create function f() returns int language sql as $body$\n  select 1; -- ; é ☕\n"
                                   "$body$;\ncreate tabel x (id int);\n"),
    "inside a begin atomic body": ("create function g() returns int language sql\nbegin atomic\n  select 1;\n"
                                   "  selec 2;\nend;\n"),
    "end of input": "-- ünïcödé\ncreate table t (\n  id int,\n",
    "end of input after a trailing comment": "create table t (id int\n-- the rest is missing\n",
    "end of input after a statement": "create table t (id int);\ncreate table u (id int",
    "cut short before its semicolon": "create table t (id int) with;\nselect 1;\n",
    "unterminated dollar quote": "select 'é';\ndo $$ begin\n  perform 1;\n",
    "unterminated string": "-- ☕\nselect 1;\nselect 'abc\n",
    "unterminated comment": "select 1;\n/* ünïcödé\n",
    "unterminated quoted identifier": "create table t (id int);\nselect \"abc from t;\n",
    "grammar error, then a lexical error": "selec 1;\ncreate table t (id int);\nselect 'abc\n",
    "grammar error, then a lexical error in the same statement": "create tabel t (x text default 'abc);\n",
    "second of two errors is not reported by PostgreSQL": "selec 1;\nselect 2;\ncreate tabel t ();\n",
    "crlf line endings": "create table t (id int);\r\ncreate tabel u (id int);\r\n",
    "a stray ESC byte": "create table t (id int);\nselect 1 \x1b from t;\n",
    "an ESC byte in a name": "select a\x1bb from t;\n",
    "an ESC byte after multibyte text": "-- ☕ é\nselect 'é', \x1b[2J;\n",
    "an ESC byte starting a statement": "select 1;\n\x1b]0;title\x07;\n",
    "a vertical tab between tokens": "select 1;\nselect\x0b1;\n",
    "a vertical tab in a table definition": "create table t (id\x0bint);\n",
    "a vertical tab after a grammar error": "selec 1\x0b;\n",
    "nesting beyond the parser's stack": "select\n" + "(\n" * 10_001 + "1" + ")" * 10_001 + ";\n",
    "a BOM-less NUL-free control character": "select 1\x01;\n",
}

_LINE = re.compile(r"^LINE (\d+): (.*)$")


def postgres_position(pg, text: str) -> tuple[int, int, str]:
    with pytest.raises(MigrationError) as raised:
        pg.psql("postgres", "-c", text, what="syntax error case")
    # Only "\n" ends a line of psql's output: a vertical tab in the echoed line is not a break.
    lines = raised.value.stderr.split("\n")
    for i, line in enumerate(lines):
        match = _LINE.match(line)
        if match:
            message = "\n".join(lines[:i]).removeprefix("ERROR:  ")
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
    # The same words: rlslint's messages are one line, so a line break in a quoted token is shown as \n.
    assert first.message == message.replace("\r", "\\r").replace("\n", "\\n")


def test_statements_before_a_lexical_error_are_still_parsed():
    parsed = parse_file("case.sql", "selec 1;\ncreate table t (id int);\nselect 'abc\n")
    assert [s.kind for s in parsed.statements] == ["CreateStmt"]
    assert [e.message for e in parsed.errors] == ['syntax error at or near "selec"',
                                                  'unterminated quoted string at or near "\'abc\\n"']
