"""``rlslint:`` comments as data: what each one says and which statements it sits on.

    -- rlslint: ignore[RLS002] deny-all by design: only the service role writes here
    -- rlslint: ignore-file[IDX001, IDX002] reason

``ignore`` applies to the statement on the comment's line, or to the statement that
follows on the next line (a run of comment lines in between is fine, a blank line is
not). ``ignore-file`` applies to the whole file. Reading a comment decides nothing: the
suppression stage (suppress.py) matches findings against what is read here, and the rules
SUP001 and SUP002 judge the comments themselves.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, NamedTuple, Sequence

from rlslint.diagnostics import SourceText
from rlslint.settings import Settings
from rlslint.sql.names import QName
from rlslint.sql.spans import LineIndex, Span, ascii_shadow

if TYPE_CHECKING:  # a set without ``rlslint:`` comments parses nothing here (the cache may have answered)
    from rlslint.sql.parse import ParsedFile, Statement

MARKER = "rlslint:"
_DIRECTIVE = re.compile(r"(?:--|/\*)\s*rlslint:")
_SUPPRESSION = re.compile(
    r"(?:--|/\*)\s*rlslint:\s*(?P<kind>ignore-file|ignore)\s*\[(?P<codes>[^\]]*)\](?P<reason>.*?)(?:\*/)?\s*\Z",
    re.DOTALL,
)
_BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)")
_TABLE_STATEMENTS = ("CreateStmt", "AlterTableStmt")


class Marker(NamedTuple):
    """One ``rlslint:`` comment."""

    comment: Span
    text: str  # the comment, whitespace collapsed: part of the identity of a finding about it
    well_formed: bool  # of the form ``rlslint: ignore[…] reason`` / ``ignore-file[…] reason``
    file_level: bool
    codes: tuple[str, ...]  # the known rules it names, as codes
    unknown: tuple[str, ...]  # words in the brackets that name no rule
    reason: str
    statements: tuple[Span, ...]  # what an ``ignore`` is attached to
    # Tables its CREATE TABLE / ALTER TABLE statements created or altered, under their final
    # names: a table's findings often sit on a later statement (RLS002's ENABLE).
    tables: tuple[QName, ...]
    empty: bool = False  # the brackets hold nothing: ``ignore[] reason``


class MarkerUse(NamedTuple):
    """What the SUP rules judge: the comments of a migration set and which of them removed what."""

    settings: Settings
    markers: tuple[Marker, ...]
    used: frozenset[tuple[int, str]]  # (index into markers, code) that removed a finding
    ran: frozenset[str]  # codes of the rules that ran: only those can make a suppression unused
    names: Mapping[str, str]  # rule code -> rule name, for messages


Targets = Mapping[tuple[str, int], tuple[QName, ...]]


def read(parsed: ParsedFile, source: SourceText, targets: Targets,
         code_of: Callable[[str], str | None]) -> list[Marker]:
    """The ``rlslint:`` comments of one file; ``code_of`` maps a rule code or name to its code."""
    text = source.text
    statements = [s for s in parsed.statements if not s.embedded]
    markers: list[Marker] = []
    for start, end in _comments(text):
        comment = text[start:end]
        if not _DIRECTIVE.match(comment):
            continue  # prose that merely mentions rlslint
        span = Span(parsed.path, start, end)
        collapsed = " ".join(comment.split())
        match = _SUPPRESSION.match(comment)
        if match is None:
            markers.append(Marker(span, collapsed, False, False, (), (), "", (), ()))
            continue
        words = [w for w in (w.strip() for w in match["codes"].split(",")) if w]
        codes = tuple(c for c in map(code_of, words) if c is not None)
        unknown = tuple(w for w in words if code_of(w) is None)
        reason = match["reason"].strip().lstrip(":-–— ").strip()
        file_level = match["kind"] == "ignore-file"
        attached = () if file_level else _attached(start, end, statements, text, source.lines)
        tables = tuple(dict.fromkeys(
            q for s in attached if s.kind in _TABLE_STATEMENTS for q in targets.get((s.span.path, s.span.start), ())))
        markers.append(Marker(span, collapsed, True, file_level, codes, unknown, reason,
                              tuple(s.span for s in attached), tables, empty=not match["codes"].strip()))
    return markers


def _comments(text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of each SQL comment; scanned on the ASCII shadow, which keeps offsets
    and is linear where pglast's scanner is quadratic on non-ASCII text."""
    from pglast.parser import ParseError, scan

    try:
        tokens = scan(ascii_shadow(text))
    except ParseError:  # a lexical error; the parse stage reports it
        return ()
    return [(t.start, t.end + 1) for t in tokens if t.name in ("SQL_COMMENT", "C_COMMENT")]  # end is inclusive


def _attached(start: int, end: int, statements: Sequence[Statement], text: str, lines: LineIndex) -> list[Statement]:
    """The statements on the comment's line, else the one starting right below it."""
    line = lines.line_col(start)[0]
    on_line = [s for s in statements
               if lines.line_col(s.span.start)[0] <= line <= lines.line_col(max(s.span.end - 1, s.span.start))[0]]
    if on_line:
        return on_line
    following = next((s for s in statements if s.span.start >= end), None)
    if following is None or _BLANK_LINE.search(text, end, following.span.start):
        return []
    return [following]
