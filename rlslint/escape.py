"""Untrusted text on its way out, escaped for the place it lands.

File names, identifiers and source lines come from whoever wrote the pull request. In a
terminal an ESC byte clears the screen or plants a hyperlink; in a CI log a line that
starts with ``::`` (or holds ``##[``) is a workflow command the runner executes
(actions/runner, ``ActionCommand.TryParseV2`` and ``TryParse``); in Markdown a blank
line or a ``<`` ends the code span or starts raw HTML. Every reporter sends names
through these helpers, so a new reporter gets the same guarantees by calling them.
"""

from __future__ import annotations

import json
import re
from types import GeneratorType
from typing import Iterator

from rlslint.sql.names import UNPRINTABLE as _INVISIBLE
from rlslint.sql.names import UNPRINTABLE_BUT_LINE_FEED

_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\e"}

# The runner trims leading white space, then reads "::name ...::data" as a command;
# the older "##[name ...]data" form is found anywhere in a line.
_COMMAND_START = re.compile(r"^(\s*):(?=:)")
_LEGACY_COMMAND = "##["


def _shown(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str) -> str:
    """One line of printable text: control characters become ``\\n``, ``\\e``, ``\\x07``, ``\\u202e``."""
    if text.isascii() and text.isprintable():  # the usual line: nothing the pattern matches, not searched
        return text
    return _INVISIBLE.sub(_shown, text)


def log_line(line: str) -> str:
    """A line for a terminal or a CI log: visible, and unable to start a workflow command."""
    line = visible(line)
    if "::" in line:  # a command starts with two colons
        line = _COMMAND_START.sub(r"\1\\x3a", line)
    return line.replace(_LEGACY_COMMAND, "#\\x23[")


def log_text(text: str) -> str:
    """Several lines, each made safe by log_line; the line breaks themselves stay."""
    return "\n".join(log_line(line) for line in text.split("\n"))


def json_text(document: object) -> str:
    """Indented JSON whose text is safe to print: the same data, with risky characters as \\u escapes.

    ``json.dumps`` escapes C0 controls but leaves C1 controls, separators and ``##[``
    raw; a JSON escape keeps the value identical for every reader.
    """
    return "".join(json_pieces(document))


def json_pieces(document: object) -> Iterator[str]:
    """``json_text(document)`` in pieces of some tens of kilobytes, for a report to be written
    as it is made: joined, a report of 20,000 findings is a 14 MB string, and as a list of
    small strings several times that. A generator in the document is an array of what it
    yields, taken one at a time, so its items need not all exist at once either.
    """
    for piece in _indented_pieces(document):
        # Every control character inside strings is escaped already (the writer escapes as
        # json.dumps does): a raw "\n" is the layout. So ASCII text without DEL has nothing
        # left to escape, and a piece is not searched. A "#" is only ever inside a string, and
        # a piece ends between two tokens, so no "##[" spans two pieces.
        if not piece.isascii() or "\x7f" in piece:
            piece = UNPRINTABLE_BUT_LINE_FEED.sub(lambda m: f"\\u{ord(m.group()):04x}", piece)
        yield piece.replace(_LEGACY_COMMAND, "#\\u0023[")


_PIECE = 4096  # small strings gathered before they are joined and handed out


def _indented_pieces(document: object) -> Iterator[str]:
    """``json.dumps(document, indent=2, ensure_ascii=False)``, character for character, in
    pieces; a generator is written as the array of what it yields, as it yields it.

    With ``indent`` json.dumps runs its pure-Python encoder, a generator per container that
    hands out every small string; a report holds thousands of small dicts, and appending the
    strings to one list is a third faster. Strings go through json's own escaping
    (``encode_basestring``); dicts with string keys, lists, strings, integers, booleans and
    None are written here, anything else (floats, tuples, other key types) as json.dumps
    writes it.
    """
    from json.encoder import encode_basestring

    parts: list = []  # strings, and (generator, indent): the place of an array written later
    add = parts.append
    places = 0

    def value(item: object, indent: str) -> None:
        nonlocal places
        kind = type(item)
        if kind is str:
            add(encode_basestring(item))
        elif item is None:
            add("null")
        elif item is True:
            add("true")
        elif item is False:
            add("false")
        elif kind is int:
            add(int.__repr__(item))
        elif kind is dict or kind is list:
            if not item:
                add("{}" if kind is dict else "[]")
                return
            inner = indent + "  "
            opening = ("{\n" if kind is dict else "[\n") + inner
            for entry in item.items() if kind is dict else item:
                if kind is dict:
                    key, entry = entry
                    add(opening + (encode_basestring(key) if type(key) is str else _key(key)) + ": ")
                else:
                    add(opening)
                opening = ",\n" + inner
                value(entry, inner)
            add("\n" + indent + ("}" if kind is dict else "]"))
        elif kind is GeneratorType:
            add((item, indent))
            places += 1
        else:
            add(json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n" + indent))

    def written(item: object, indent: str) -> Iterator[str]:
        """``value(item)``, each generator's array written where value() left its place, and
        the text handed out whenever enough has gathered."""
        start, before = len(parts), places
        value(item, indent)
        if places != before:
            mine = parts[start:]
            del parts[start:]
            for part in mine:
                if type(part) is str:
                    add(part)
                else:
                    yield from array(*part)
        if len(parts) >= _PIECE:
            yield "".join(parts)
            parts.clear()

    def array(rows: Iterator, indent: str) -> Iterator[str]:
        inner = indent + "  "
        opening = "[\n" + inner
        for row in rows:
            add(opening)
            opening = ",\n" + inner
            yield from written(row, inner)
        add("[]" if opening[0] == "[" else "\n" + indent + "]")

    yield from written(document, "")
    yield "".join(parts)


def _key(key: object) -> str:
    """A key that is not a string, as json.dumps writes it (``1`` as ``"1"``; TypeError when it cannot)."""
    return json.dumps({key: None}, ensure_ascii=False)[1:-len(": null}")]


# --- Markdown (GitHub-flavoured) --------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#&!~])")


def markdown_text(text: str) -> str:
    """Plain text that Markdown must not read as markup, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", log_line(text))


def markdown_code(text: str) -> str:
    """An inline code span that holds any text, backticks included (CommonMark, "code spans")."""
    text = log_line(text)
    ticks = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def markdown_cell(text: str) -> str:
    """A code span inside a table cell: a "|" ends the cell even within a code span (GFM tables)."""
    return markdown_code(text).replace("|", "\\|")
