"""PostgreSQL's text functions as the evaluation computes them: format(), LIKE, quote_literal.

Each is checked against the real server (tests/postgres/test_dynamic_sql.py).
"""

from __future__ import annotations

from typing import Any

from rlslint.sql.names import quote_ident


class NotComputed(ValueError):
    """A call these functions cannot compute as PostgreSQL would; the message says why."""


def like(value: Any, pattern: Any) -> bool:
    import re

    if not isinstance(value, str) or not isinstance(pattern, str):
        raise NotComputed("LIKE on a value that is not text")
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, value, re.DOTALL) is not None


def literal(value: Any) -> str:
    text = str(value)
    return ("E'" if "\\" in text else "'") + text.replace("\\", "\\\\").replace("'", "''") + "'"


def format_text(template: str, args: list[Any]) -> str:
    """PostgreSQL's format(): %s, %I, %L and %%, with positions (%1$s) as well."""
    out, i, next_arg = [], 0, 0
    while i < len(template):
        ch = template[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i < len(template) and template[i] == "%":
            out.append("%")
            i += 1
            continue
        j = i
        while j < len(template) and template[j].isdigit():
            j += 1
        if j < len(template) and template[j] == "$" and j > i:
            next_arg = int(template[i:j]) - 1
            i = j + 1
        if i >= len(template) or template[i] not in "sIL":
            raise NotComputed("format() with a conversion that is not %s, %I or %L")
        if next_arg >= len(args):
            raise NotComputed("format() with too few arguments")
        value, conversion = args[next_arg], template[i]
        next_arg += 1
        i += 1
        if conversion == "s":
            out.append("" if value is None else str(value))
        elif conversion == "I":
            if value is None:
                raise NotComputed("format() %I of NULL")
            out.append(quote_ident(str(value)))
        else:
            out.append("NULL" if value is None else literal(value))
    return "".join(out)
