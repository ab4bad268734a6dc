"""Where findings and errors land: line endings, multibyte text, BOMs, missing semicolons."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from rlslint.cli import main
from rlslint.sql.parse import parse_file
from rlslint.sql.spans import ByteOffsets, LineIndex

UNPROTECTED = "create table public.t (id int primary key);"


def lint_json(tmp_path: Path, files: dict[str, bytes]) -> dict:
    migrations = tmp_path / "supabase" / "migrations"  # a Supabase project: every table is reachable
    migrations.mkdir(parents=True)
    for name, data in files.items():
        (migrations / name).write_bytes(data)
    result = CliRunner().invoke(main, ["check", str(migrations), "--format", "json"], catch_exceptions=False)
    return json.loads(result.output)


def located(document: dict) -> list[tuple]:
    return [(d["code"], d["line"], d["column"], d["end_line"], d["end_column"]) for d in document["diagnostics"]]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings(tmp_path, newline):
    text = newline.join(["-- header", "", "select 1;", "  " + UNPROTECTED, ""])
    document = lint_json(tmp_path, {"001_a.sql": text.encode()})
    assert located(document) == [("RLS001", 4, 3, 4, 45)]


def test_multibyte_text_before_a_statement(tmp_path):
    text = "-- café ☕ 🎉 naïve\nselect 'é😀';   " + UNPROTECTED + "\n"
    document = lint_json(tmp_path, {"001_a.sql": text.encode()})
    assert located(document) == [("RLS001", 2, 16, 2, 58)]


def test_byte_order_mark_is_not_a_column(tmp_path):
    document = lint_json(tmp_path, {"001_a.sql": b"\xef\xbb\xbf" + UNPROTECTED.encode()})
    assert located(document) == [("RLS001", 1, 1, 1, 43)]


def test_last_statement_without_semicolon(tmp_path):
    text = "select 1;\n" + UNPROTECTED.rstrip(";") + "\n\n"
    document = lint_json(tmp_path, {"001_a.sql": text.encode()})
    assert located(document) == [("RLS001", 2, 1, 2, 43)]


def test_syntax_error_after_multibyte_text_is_exact(tmp_path):
    text = '-- é 😀 ☕\ncreate policy "política ✓" on public.t for selec using (true);\n' + UNPROTECTED + "\n"
    document = lint_json(tmp_path, {"001_a.sql": text.encode()})
    assert [(e["line"], e["column"], e["message"]) for e in document["errors"]] == [
        (2, 44, 'syntax error at or near "selec"')
    ]
    # the statement after the error is still linted
    assert located(document) == [("RLS001", 3, 1, 3, 43)]


def test_syntax_error_at_end_of_input(tmp_path):
    document = lint_json(tmp_path, {"001_a.sql": b"select 1;\ncreate table public.t (id int"})
    assert [(e["line"], e["column"]) for e in document["errors"]] == [(2, 30)]
    assert document["errors"][0]["message"] == "syntax error at end of input"


def test_errors_in_one_file_do_not_stop_the_others(tmp_path):
    document = lint_json(tmp_path, {"001_a.sql": b"selec 1;", "002_b.sql": UNPROTECTED.encode()})
    assert [(e["file"].rsplit("/", 1)[-1], e["line"], e["column"]) for e in document["errors"]] == [("001_a.sql", 1, 1)]
    assert located(document) == [("RLS001", 1, 1, 1, 43)]


def test_byte_offsets_map_to_characters():
    text = "aé😀b"
    offsets = ByteOffsets(text)
    assert [offsets.to_char(b) for b in (0, 1, 3, 7, 8)] == [0, 1, 2, 3, 4]


def test_line_index_handles_every_line_ending():
    lines = LineIndex("a\r\nb\rc\nd")
    assert [lines.line_col(i) for i in (0, 3, 5, 7)] == [(1, 1), (2, 1), (3, 1), (4, 1)]


@given(st.text(alphabet="ab\né\r\u2028", max_size=40))
def test_line_index_agrees_with_counting_line_breaks(text):
    """LF-only text takes a faster path; every offset lands where counting line breaks says."""
    lines = LineIndex(text)
    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    for offset in range(len(text) + 1):
        line = max(i for i, start in enumerate(starts) if start <= offset)
        assert lines.line_col(offset) == (line + 1, offset - starts[line] + 1)
    assert lines.line_bounds(len(starts)) == (starts[-1], len(text))


def test_statements_keep_exact_spans_in_non_ascii_files():
    text = "-- ünïcödé 😀\ncreate table t (a int);\n/* 🎉 */ alter table t enable row level security;\nselect 'é😀' as x"
    parsed = parse_file("f.sql", text)
    assert [text[s.span.start : s.span.end] for s in parsed.statements] == [
        "create table t (a int)",
        "alter table t enable row level security",
        "select 'é😀' as x",
    ]


# --- foreign-key clauses: IDX001 and FK001 point at the clause, not the rest of the statement ---


def fk_findings(tmp_path: Path, text: str) -> list[tuple]:
    document = lint_json(tmp_path, {"001_a.sql": text.encode()})
    return sorted(f for f in located(document) if f[0] in ("FK001", "IDX001"))


def _at(text: str, start: str, end: str) -> tuple[int, int, int, int]:
    """(line, column, end_line, end_column) of the text from ``start`` through ``end``."""
    begin = text.index(start)
    stop = text.index(end, begin) + len(end)
    position = LineIndex(text).position(begin, stop)
    return position.line, position.column, position.end_line, position.end_column


def test_inline_references_ends_before_the_next_column(tmp_path):
    text = "create table public.t (id int primary key, owner uuid references auth.users (id), note text);\n"
    where = _at(text, "references", "(id)")
    assert fk_findings(tmp_path, text) == [("FK001", *where), ("IDX001", *where)]


def test_table_constraint_ends_at_the_closing_parenthesis(tmp_path):
    # quoted names and strings may hold `,` and `)`; a trailing comment is not part of the clause
    text = ('create table public.t (\n  id int primary key,\n  "own,er)" uuid,\n'
            '  constraint "t_fk, (odd)" foreign key ("own,er)") references auth.users (id) on delete restrict -- why\n);\n')
    where = _at(text, 'constraint "t_fk', "restrict")
    assert fk_findings(tmp_path, text) == [("FK001", *where), ("IDX001", *where)]


def test_alter_table_add_constraint_ends_with_its_subcommand(tmp_path):
    text = ("create table public.t (id int primary key, owner uuid);\n"
            "alter table public.t add constraint t_owner_fkey foreign key (owner) references auth.users (id),\n"
            "  enable row level security;\n")
    where = _at(text, "constraint t_owner_fkey", "(id)")
    assert fk_findings(tmp_path, text) == [("FK001", *where), ("IDX001", *where)]


def test_alter_table_add_column_references_ends_at_the_statement_end(tmp_path):
    text = "create table public.t (id int primary key);\nalter table public.t add column owner uuid references auth.users;\n"
    where = _at(text, "references", "auth.users")
    assert fk_findings(tmp_path, text) == [("FK001", *where), ("IDX001", *where)]


def test_clause_end():
    from rlslint.sql.tokens import clause_end

    text = "a references b ('x,)' , \"y)\") /* , */ on delete cascade -- )\n , next)"
    assert text[: clause_end(text, 2)] == "a references b ('x,)' , \"y)\") /* , */ on delete cascade"
    assert clause_end("references t", 0) == len("references t")
    assert clause_end("x;", 0) == 1


def test_clause_end_reads_dollar_quotes_and_non_ascii_as_postgresql_does():
    from rlslint.sql.tokens import clause_end

    text = "é text default $$a, b)$$ references u (id), next int"
    assert text[: clause_end(text, 0)] == "é text default $$a, b)$$ references u (id)"


def test_token_end_covers_a_qualified_call_and_a_doubled_quote():
    from rlslint.sql.tokens import token_end

    text = "pg_catalog.current_setting('a, ''b)''', true)::jsonb ->> 'it''s' = \"Col\""
    assert text[: token_end(text, 0)] == "pg_catalog.current_setting('a, ''b)''', true)"
    start = text.index("'it")
    assert text[start: token_end(text, start)] == "'it''s'"
    start = text.index('"Col"')
    assert text[start: token_end(text, start)] == '"Col"'
    assert token_end(text, 3) == 3  # not the start of a token: nothing to extend


def test_the_body_of_a_do_block_is_found_in_its_string_constant():
    from rlslint.sql.tokens import string_content_start

    text = "do language 'plpgsql' $body$ begin perform 1; end $body$;"
    assert text[string_content_start(text, " begin perform 1; end "):].startswith(" begin perform 1")
    assert string_content_start("do 'begin null; end';", "begin null; end") == 4
    assert string_content_start("select 1", "1") == -1
