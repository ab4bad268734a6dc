"""Positions in source text.

Everything inside rlslint speaks in character offsets into a file's decoded text;
only reporters turn them into 1-based lines and columns, through ``LineIndex``.
"""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True, order=True)
class Span:
    """A half-open range ``[start, end)`` of character offsets in one file."""

    __slots__ = ("path", "start", "end")  # the model holds one per object and clause: no dictionary each

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
        # An array, not a list: a run keeps one index per file, and a list of line starts
        # holds an int object per line (36 bytes a line instead of 8).
        if "\r" in text:
            self._starts = array("q", [0] + [m.end() for m in _LINE_BREAK.finditer(text)])
        else:  # LF only, the usual case: the line lengths, summed, at C speed (a third of the time)
            self._starts = array("q", list(accumulate([len(line) + 1 for line in text.split("\n")[:-1]], initial=0)))
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
