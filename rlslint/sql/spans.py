"""Positions in source text.

Everything inside rlslint speaks in character offsets into a file's decoded text;
only reporters turn them into 1-based lines and columns, through ``LineIndex``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True, order=True)
class Span:
    """A half-open range ``[start, end)`` of character offsets in one file."""

    path: str
    start: int
    end: int


@dataclass(frozen=True)
class Position:
    line: int
    column: int
    end_line: int
    end_column: int  # the column just after the last character, as SARIF wants


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Offset -> (line, column) for text with LF, CRLF or CR line endings."""

    def __init__(self, text: str) -> None:
        if "\r" in text:
            self._starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
        else:  # LF only, the usual case: the line lengths, summed, at C speed (a third of the time)
            self._starts = list(accumulate([len(line) + 1 for line in text.split("\n")[:-1]], initial=0))
        self._length = len(text)

    def line_col(self, offset: int) -> tuple[int, int]:
        offset = max(0, min(offset, self._length))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def line_bounds(self, line: int) -> tuple[int, int]:
        """Start offset of a 1-based line and the start of the next one."""
        start = self._starts[line - 1]
        end = self._starts[line] if line < len(self._starts) else self._length
        return start, end

    def position(self, start: int, end: int) -> Position:
        line, column = self.line_col(start)
        end_line, end_column = self.line_col(max(end, start))
        return Position(line, column, end_line, end_column)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


class ByteOffsets:
    """UTF-8 byte offset -> character offset, for pglast's JSON output.

    pglast's JSON parse tree speaks in UTF-8 bytes. Built in one pass over the
    non-ASCII characters only, so ASCII files (the common case) cost nothing.
    """

    def __init__(self, text: str) -> None:
        self._byte_starts: list[int] = []  # byte offset just after each non-ASCII char
        self._extra: list[int] = []  # extra bytes accumulated up to and including it
        extra = 0
        for match in _NON_ASCII.finditer(text):
            char_index = match.start()
            width = len(match.group().encode("utf-8"))
            extra += width - 1
            self._byte_starts.append(char_index + extra + 1)
            self._extra.append(extra)

    @property
    def identity(self) -> bool:
        return not self._extra

    def to_char(self, byte_offset: int) -> int:
        if not self._extra:
            return byte_offset
        i = bisect.bisect_right(self._byte_starts, byte_offset) - 1
        return byte_offset - (self._extra[i] if i >= 0 else 0)


def ascii_shadow(text: str) -> str:
    """The text with each non-ASCII character replaced by ``x``.

    Same length, same token boundaries (PostgreSQL treats high-bit characters as
    identifier characters), so pglast's error positions on it are exact and its
    scanner stays linear: on non-ASCII text pglast shifts error positions (it converts
    them from bytes twice) and its scanner slows down quadratically.
    """
    return text if text.isascii() else _NON_ASCII.sub("x", text)


_CLAUSE_STOP = re.compile(r"""['"(),;]|--|/\*""")


def clause_end(text: str, start: int) -> int:
    """Where a clause of a comma-separated list starting at ``start`` ends in ``text``.

    The clause runs to the first ``,``, ``;`` or unbalanced ``)`` outside parentheses, string
    literals, quoted identifiers and comments (or to the end of the text); the end returned
    is just after its last token, so trailing blanks and comments are not part of it. A
    lexical scan for narrowing spans, not a parser: dollar-quoted strings are not expected
    in the clauses it is used on.
    """
    depth, i, end, n = 0, start, start, len(text)
    while True:
        # Characters between the tokens that matter only move the end past the last non-blank.
        stop = _CLAUSE_STOP.search(text, i)
        j = n if stop is None else stop.start()
        if run := text[i:j].rstrip():
            end = i + len(run)
        if stop is None:
            return end
        token = stop.group()
        if token in ("'", '"'):
            close = j + 1
            while (close := text.find(token, close)) >= 0 and text[close + 1 : close + 2] == token:
                close += 2  # a doubled quote is an escaped one
            i = end = n if close < 0 else close + 1
            continue
        if token == "--":
            newline = _LINE_BREAK.search(text, j)
            i = n if newline is None else newline.start()
            continue
        if token == "/*":
            close = text.find("*/", j + 2)
            i = n if close < 0 else close + 2
            continue
        if token == "(":
            depth += 1
        elif token == ")":
            if depth == 0:
                return end
            depth -= 1
        elif depth == 0:  # "," or ";"
            return end
        end = i = j + 1
