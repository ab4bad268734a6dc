"""Text -> statements: one pglast parse per file, each statement with its exact span.

pglast's JSON output is parsed by libpg_query in C and loaded with ``json.loads``,
several times cheaper than building pglast's Python node objects, and immune to the
quadratic slowdown those objects show on non-ASCII text. Its offsets are UTF-8
bytes; they are turned into character offsets here, once, so nothing downstream
knows about bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator, NamedTuple

from pglast import parser as pg
from pglast.parser import ParseError

from rlslint.sql.problems import Note, SourceError
from rlslint.sql.spans import ByteOffsets, Span, ascii_shadow
from rlslint.sql.tokens import string_content_start
from rlslint.sql.tree import Node


class Statement(NamedTuple):
    kind: str  # the pglast node name: "CreateStmt", "AlterTableStmt", …
    node: Node  # its JSON tree, locations in characters of the file
    span: Span
    text: str  # the statement's own source text, to deparse fixes from
    embedded: bool = False  # extracted from a DO block
    # A DO block that loops, branches, assigns or executes built SQL: its PL/pgSQL tree, which
    # the replay evaluates against the model (schema/plpgsql.py) instead of parse expanding it.
    plpgsql: Any = None


class ParsedFile(NamedTuple):
    path: str
    statements: tuple[Statement, ...]
    errors: tuple[SourceError, ...]
    notes: tuple[Note, ...]


def parse_file(path: str, text: str) -> ParsedFile:
    errors: list[SourceError] = []
    try:
        raw = [(0, len(text.rstrip()), json.loads(pg.parse_sql_json(text))["stmts"])]
        if _VERTICAL_TAB in text and _stray_vertical_tabs(ascii_shadow(text)):
            raise ParseError("a vertical tab PostgreSQL 16 rejects", None)
    except ParseError:
        text, raw = _parse_with_recovery(path, text, errors)
    statements: list[Statement] = []
    notes: list[Note] = []
    offsets = ByteOffsets(text)
    for piece_start, piece_end, stmts in raw:
        piece_byte_start = piece_start + (0 if offsets.identity else len(text[:piece_start].encode()) - piece_start)
        for entry in stmts:
            kind, node = next(iter(entry["stmt"].items()))
            begin = piece_byte_start + entry.get("stmt_location", 0)
            length = entry.get("stmt_len", 0)
            start = offsets.to_char(begin)
            end = offsets.to_char(begin + length) if length else piece_end
            if not offsets.identity or piece_start:
                _relocate(node, lambda b: offsets.to_char(piece_byte_start + b))
            statement = Statement(kind, node, Span(path, start, end), text[start:end])
            if kind == "DoStmt":
                _expand_do_block(statement, statements, notes)
            else:
                statements.append(statement)
    errors.sort(key=lambda e: e.offset if e.offset is not None else -1)
    return ParsedFile(path, tuple(statements), tuple(errors), tuple(notes))


def parse_expression(text: str, at: int) -> Node:
    """An expression as PostgreSQL prints it (``pg_get_expr``), as the JSON tree the model keeps
    for a policy's USING: the same grammar production. The text is no file's, so every
    location is ``at``."""
    stmt = json.loads(pg.parse_sql_json(f"select {text}"))["stmts"][0]["stmt"]
    tree = stmt["SelectStmt"]["targetList"][0]["ResTarget"]["val"]
    _relocate(tree, lambda _: at)
    return tree


def _relocate(tree: Any, convert: Callable[[int], int]) -> None:
    """Rewrite every ``location`` in a JSON tree in place (we own the freshly loaded dicts)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "location" and isinstance(value, int) and value >= 0:
                    item[key] = convert(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


# --- syntax errors ---------------------------------------------------------------

_NOT_NEWLINE = re.compile(r"[^\r\n]")
_META_COMMAND = re.compile(r"^[ \t]*\\.*$", re.MULTILINE)
_COPY_FROM_STDIN = re.compile(r"\bfrom\s+stdin\b[^;]*;[ \t]*\r?\n", re.IGNORECASE)


def _parse_with_recovery(path: str, text: str, errors: list[SourceError]) -> tuple[str, list]:
    """Parse statement by statement, so one bad statement does not hide the others.

    Each error is placed where PostgreSQL places it: the grammar reads tokens as the
    scanner makes them, so a grammar error before an unterminated quote is the one
    PostgreSQL reports, and the statements before both are still linted.
    """
    text = _blank_psql_input(path, text, errors)
    shadow = ascii_shadow(text)
    try:
        pieces = _split_statements(shadow)
    except ParseError as exc:  # a lexical error (unterminated quote, comment or $$): split what comes before it
        index = exc.args[1] if len(exc.args) > 1 and exc.args[1] is not None else len(text)
        pieces = _split_before(shadow, index)
        if pieces and pieces[-1][2] is None:  # the statement the error is in runs to the end of the file
            pieces[-1] = (pieces[-1][0], len(text), None)
        else:
            pieces.append((index, len(text), None))
    raw = []
    for start, position, semicolon in pieces:
        piece = shadow[start:position]
        try:
            stmts = json.loads(pg.parse_sql_json(text[start:position]))["stmts"]
            stray = _stray_vertical_tabs(piece) if _VERTICAL_TAB in piece else []
            if not stray:
                raw.append((start, position, stmts))
                continue
            at = start + stray[0]
            errors.append(SourceError(path, f'syntax error at or near "{_VERTICAL_TAB}"', at, kind="syntax"))
        except ParseError as exc:
            index = _error_index(piece)
            stray = _stray_vertical_tabs(piece) if _VERTICAL_TAB in piece else []
            if stray and (index is None or stray[0] < index):
                errors.append(SourceError(path, f'syntax error at or near "{_VERTICAL_TAB}"', start + stray[0], kind="syntax"))
            elif index is None and semicolon is not None:
                # Cut at its ";", the statement ended early; PostgreSQL reads on and stops at the ";".
                errors.append(SourceError(path, 'syntax error at or near ";"', semicolon, kind="syntax"))
            elif index is None:
                # "at end of input" is at the end of the whole text, after any trailing comment.
                errors.append(SourceError(path, _message(exc), len(text), kind="syntax"))
            else:
                errors.append(SourceError(path, _message(exc, text, start + index), start + index, kind="syntax"))
    return text, raw


def _split_before(shadow: str, index: int) -> list[tuple[int, int, int | None]]:
    """The statements before a lexical error at ``index``.

    An error inside a literal (a bad ``\\u`` escape) is placed inside it, so the text up to
    it ends in an unterminated literal; the scan then fails earlier, at the literal's start.
    """
    while True:
        try:
            return _split_statements(shadow[:index])
        except ParseError as exc:
            earlier = exc.args[1] if len(exc.args) > 1 else None
            if earlier is None or earlier >= index:
                return []
            index = earlier


# PostgreSQL 17 made a vertical tab white space; 15 and 16, which Supabase projects run,
# reject it outside quotes and comments. pglast's grammar is 18's, so the check is made here.
_VERTICAL_TAB = "\x0b"


def _stray_vertical_tabs(shadow: str) -> list[int]:
    """Offsets of vertical tabs between tokens (not inside a string, identifier or comment)."""
    try:
        tokens = pg.scan(shadow)
    except ParseError:
        return []
    inside = [(token.start, token.end) for token in tokens]
    stray, k = [], 0
    for at in (i for i, char in enumerate(shadow) if char == _VERTICAL_TAB):
        while k < len(inside) and inside[k][1] < at:
            k += 1
        if k == len(inside) or inside[k][0] > at:
            stray.append(at)
    return stray


def _split_statements(shadow: str) -> list[tuple[int, int, int | None]]:
    """(start, end, offset of the ";" that ends it, or None) of each statement, cut at
    top-level semicolons found by the scanner.

    pglast's own scanner split silently drops pieces that do not start with a keyword
    (``selec 1;``), which would hide exactly the statements that need reporting.
    ``BEGIN ATOMIC … END`` bodies and parentheses keep their inner semicolons.
    """
    pieces: list[tuple[int, int, int | None]] = []
    start = end = None
    depth = atomic = 0
    previous = ""
    for token in pg.scan(shadow):
        name = token.name
        if name in ("SQL_COMMENT", "C_COMMENT"):
            continue
        if name == "ASCII_59" and depth == 0 and atomic == 0:
            if start is not None:
                pieces.append((start, end, token.start))
            start = None
        else:
            if start is None:
                start = token.start
            end = token.end + 1
            if name == "ASCII_40":
                depth += 1
            elif name == "ASCII_41":
                depth = max(depth - 1, 0)
            elif name == "ATOMIC" and previous == "BEGIN_P":
                atomic += 1
            elif atomic and name == "CASE":
                atomic += 1
            elif atomic and name == "END_P":
                atomic -= 1
        previous = name
    if start is not None:
        pieces.append((start, end, None))
    return pieces


def _error_index(shadow_piece: str) -> int | None:
    """pglast reports error positions wrong after non-ASCII text; the ASCII shadow is exact."""
    try:
        pg.parse_sql_json(shadow_piece)
    except ParseError as exc:
        index = exc.args[1] if len(exc.args) > 1 else None
        return max(index - 1, 0) if index is not None and index > len(shadow_piece) else index
    return None


_TEMPLATE_TAG = re.compile(r"\{\{|\{%")
_PSQL_VARIABLE = re.compile(r":(?:[A-Za-z_][A-Za-z0-9_]*|'[A-Za-z_][A-Za-z0-9_]*'|\"[A-Za-z_][A-Za-z0-9_]*\")")


def _message(exc: ParseError, text: str = "", at: int = -1) -> str:
    """One line. Where the error sits on text that is not SQL at all, say what it is instead."""
    if _TEMPLATE_TAG.match(text, max(at, 0)) and at >= 0:
        return "template placeholder is not SQL; lint the rendered migration"
    variable = _PSQL_VARIABLE.match(text, max(at, 0)) if at >= 0 else None
    if variable:
        return f"psql variable {variable.group()} is not SQL; migrations must be plain SQL"
    # The quoted token can hold line breaks (an unterminated $x$ at a line end); a message
    # is one line, so they are shown escaped.
    # PostgreSQL's own words: "syntax error at or near …", "unterminated quoted string at
    # or near …", "memory exhausted at or near …" (nesting beyond the parser's stack).
    return str(exc.args[0]).replace("\r", "\\r").replace("\n", "\\n")


def _blank_psql_input(path: str, text: str, errors: list[SourceError]) -> str:
    """psql meta-commands and COPY data are not SQL: report them, blank them, lint the rest.

    Blanking keeps every offset (newlines stay), and the text is rebuilt once, so the
    cost stays linear however many meta-commands a dump holds.
    """
    blanks: list[tuple[int, int]] = []
    for match in _COPY_FROM_STDIN.finditer(text):
        end = text.find("\n\\.", match.end() - 1)
        end = len(text) if end < 0 else end + 1
        errors.append(SourceError(path, "COPY … FROM stdin data is psql input, not SQL; migrations must be plain SQL", match.end(), kind="syntax"))
        blanks.append((match.end(), end))
    copy_data = list(blanks)
    for match in _META_COMMAND.finditer(text):
        if any(start <= match.start() < end for start, end in copy_data):
            continue  # data lines such as \N belong to the COPY reported above
        blanks.append((match.start(), match.end()))
        command = match.group().strip().split()[0]
        if command != "\\.":  # the end of COPY data, already reported with it
            at = match.start() + match.group().index("\\")
            errors.append(SourceError(path, f"psql meta-command {command} is not SQL; migrations must be plain SQL", at, kind="syntax"))
    if not blanks:
        return text
    parts, previous = [], 0
    for start, end in sorted(blanks):
        start = max(start, previous)
        parts.append(text[previous:start])
        parts.append(_NOT_NEWLINE.sub(" ", text[start:end]))
        previous = max(previous, end)
    parts.append(text[previous:])
    return "".join(parts)


# --- DO blocks -------------------------------------------------------------------


# PL/pgSQL statements whose effect depends on values: evaluated in the replay, where the model
# is. An EXCEPTION handler too: whether it runs, and what its body's rollback undoes, depends
# on what the model already holds.
_EVALUATED = frozenset({"PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_fors", "PLpgSQL_stmt_foreach_a",
                        "PLpgSQL_stmt_fori", "PLpgSQL_stmt_if", "PLpgSQL_stmt_assign", "PLpgSQL_stmt_case",
                        "PLpgSQL_stmt_while", "PLpgSQL_stmt_loop", "PLpgSQL_stmt_exit", "PLpgSQL_stmt_perform",
                        "PLpgSQL_stmt_dynfors", "PLpgSQL_stmt_forc", "PLpgSQL_stmt_call", "PLpgSQL_exception_block"})


def _expand_do_block(do: Statement, out: list[Statement], notes: list[Note]) -> None:
    """Append the DO block, then the plain SQL it runs, located in the file. A block whose
    SQL depends on values keeps its PL/pgSQL tree for the replay to evaluate instead."""
    body = next((a["DefElem"]["arg"]["String"]["sval"] for a in do.node.get("args", ()) if a["DefElem"]["defname"] == "as"), None)
    language = next((a["DefElem"]["arg"]["String"]["sval"] for a in do.node.get("args", ()) if a["DefElem"]["defname"] == "language"), "plpgsql")
    if body is None or language.lower() != "plpgsql":
        out.append(do)
        return
    try:
        raw = pg.parse_plpgsql_json(do.text)
    except ParseError as exc:
        notes.append(Note(do.span, f"DO block not analysed: {exc.args[0]}"))
        out.append(do)
        return
    functions = json.loads(raw)
    if any(f'"{kind}"' in raw for kind in _EVALUATED):  # node names appear in the JSON as keys
        out.append(Statement(do.kind, do.node, do.span, do.text, plpgsql=functions))
        return
    out.append(do)
    body_start = string_content_start(do.text, body)
    cursor = max(body_start, 0)
    for function in functions:
        action = function["PLpgSQL_function"].get("action", {})
        for kind, query, conditional in _plpgsql_statements(action):
            # PL/pgSQL's parser records no offsets: each statement is found in order in the body.
            at = do.text.find(query, cursor) if query else -1
            if at >= 0:
                cursor = at + len(query)
            start = do.span.start + (at if at >= 0 else max(body_start, 0))
            span = Span(do.span.path, start, start + len(query) if at >= 0 else do.span.end)
            if kind == "dynamic":
                notes.append(Note(span, f"dynamic SQL (EXECUTE {query.strip()}) in a DO block cannot be analysed statically"))
                continue
            if conditional:
                notes.append(Note(span, "statement in an ELSE branch of a DO block is not replayed"))
                continue
            try:
                stmts = json.loads(pg.parse_sql_json(query))["stmts"]
            except ParseError as exc:
                notes.append(Note(span, f"statement in a DO block not analysed: {exc.args[0]}"))
                continue
            offsets = ByteOffsets(query)
            for entry in stmts:
                kind_name, node = next(iter(entry["stmt"].items()))
                _relocate(node, lambda b: start + offsets.to_char(b))
                out.append(Statement(kind_name, node, span, query, embedded=True))


def _plpgsql_statements(block: Node, in_else: bool = False) -> Iterator[tuple[str, str, bool]]:
    """(kind, query text, in an ELSE branch) for the SQL a PL/pgSQL block runs, in order."""
    for kind, stmt in block.items():
        if kind == "PLpgSQL_stmt_execsql":
            yield "sql", stmt["sqlstmt"]["PLpgSQL_expr"]["query"], in_else
        elif kind == "PLpgSQL_stmt_dynexecute":
            yield "dynamic", stmt["query"]["PLpgSQL_expr"]["query"], in_else
        elif kind == "PLpgSQL_stmt_if":
            for child in stmt.get("then_body", ()):
                yield from _plpgsql_statements(child, in_else)
            for elsif in stmt.get("elsif_list", ()):
                for child in elsif["PLpgSQL_if_elsif"].get("stmts", ()):
                    yield from _plpgsql_statements(child, True)
            for child in stmt.get("else_body", ()):
                yield from _plpgsql_statements(child, True)
        else:
            for key in ("body", "then_body"):  # blocks and loops: run once, as far as a model can tell
                for child in stmt.get(key, ()) if isinstance(stmt, dict) else ():
                    yield from _plpgsql_statements(child, in_else)
