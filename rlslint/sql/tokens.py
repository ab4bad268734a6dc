"""Where a token or a clause ends in SQL text, from PostgreSQL's own scanner (pglast's).

Spans that point at a clause or a call need its end, which the parse tree does not record.
Every such question is answered here, over the scanner's tokens, so strings, quoted
identifiers, dollar quotes and comments are read exactly as PostgreSQL reads them. The
scanner runs on the text's ASCII shadow: the same length, the same tokens, and linear where
pglast's scanner is quadratic on non-ASCII text; its offsets are then the text's own.
"""

from __future__ import annotations

from rlslint.sql.spans import ascii_shadow

COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


def scanned(text: str) -> list:
    """pglast's tokens of the text (start, end inclusive, name, kind), comments left out."""
    from pglast.parser import scan

    return [t for t in scan(ascii_shadow(text)) if t.name not in COMMENTS]


_OPEN, _CLOSE, _COMMA, _SEMICOLON, _DOT = "ASCII_40", "ASCII_41", "ASCII_44", "ASCII_59", "ASCII_46"


def clause_end(text: str, start: int) -> int:
    """Where a clause of a comma-separated list starting at ``start`` ends: just after its last
    token before the first ``,`` or ``;`` outside parentheses or an unbalanced ``)`` (or the
    end of the text), so trailing blanks and comments are not part of it.

    Clauses are short and the statements around them long (a CREATE TABLE asks once per
    constraint), so a window after ``start`` is scanned, four times as long each time it ends before
    the clause does; tokens before a stop are whole whatever the window cut after it."""
    return start + _in_windows(text, start, 96, _clause_end)


def _in_windows(text: str, start: int, window: int, answer) -> int:
    """``answer(piece, whole)`` over ever longer pieces of ``text`` from ``start``, until one
    suffices: pglast's scanner costs about a microsecond per character, and the clause or
    token asked about is short while the statement around it may be long."""
    while True:
        whole = start + window >= len(text)
        found = answer(text[start:start + window], whole)
        if found is not None:
            return found
        window *= 4


def _clause_end(piece: str, whole: bool) -> int | None:
    """The clause's end in ``piece``, or None if the clause may go on after it (``whole``:
    nothing follows ``piece``)."""
    from pglast.parser import ParseError

    try:
        run = scanned(piece)
    except ParseError:  # cut inside a string or a comment, or not SQL at all
        return len(piece.rstrip()) if whole else None
    depth, end = 0, 0
    for token in run:
        if token.name == _OPEN:
            depth += 1
        elif token.name == _CLOSE:
            if depth == 0:
                return end
            depth -= 1
        elif token.name in (_COMMA, _SEMICOLON) and depth == 0:
            return end
        end = token.end + 1
    return end if whole else None


def token_end(text: str, start: int) -> int:
    """End of the token at ``start``; for a (qualified) name followed by ``(``, of the whole call."""
    # The window starts a character early, to tell a token's start from the middle of one.
    lead = 1 if start > 0 else 0
    return start - lead + _in_windows(text, start - lead, 32, lambda piece, whole: _token_end(piece, whole, lead))


def _token_end(piece: str, whole: bool, lead: int) -> int | None:
    from pglast.parser import ParseError

    try:
        run = [t for t in scanned(piece) if t.end >= lead]
    except ParseError:  # cut inside a string or a comment, or not SQL at all
        return lead if whole else None
    if not run or run[0].start != lead:
        return lead  # not the start of a token
    i = 0
    while i + 2 < len(run) and run[i + 1].name == _DOT and run[i + 1].start == run[i].end + 1:
        i += 2  # a.b.c: the name runs over its dots
    if i + 1 < len(run) and run[i + 1].name == _OPEN:
        depth = 0
        for token in run[i + 1:]:
            depth += (token.name == _OPEN) - (token.name == _CLOSE)
            if depth == 0:
                return token.end + 1
        return None if not whole else run[-1].end + 1
    if i + 2 >= len(run) and not whole:
        return None  # the name may go on past the window
    return run[i].end + 1


def string_content_start(text: str, content: str) -> int:
    """Where ``content`` starts inside the string constant of ``text`` that holds it (a ``DO``
    block's or a function's body, dollar-quoted or not); -1 if no string constant holds it."""
    from pglast.parser import ParseError

    try:
        run = scanned(text)
    except ParseError:
        return -1
    for token in run:
        if token.name != "SCONST":
            continue
        literal = text[token.start:token.end + 1]
        if literal.startswith("$"):
            opening = literal.index("$", 1) + 1  # $$ or $tag$
        else:
            opening = literal.index("'") + 1  # '…', E'…', U&'…'
        if literal[opening:opening + len(content)] == content:
            return token.start + opening
    return -1
