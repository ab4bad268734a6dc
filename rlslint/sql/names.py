"""Identifiers: quoting as PostgreSQL prints them, and schema-qualified names."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*\Z")
# Characters that must never reach a terminal, a CI log or Markdown raw: C0 and C1 controls,
# DEL, line separators, bidirectional overrides, the BOM and lone surrogates.
_UNPRINTABLE_BUT_LINE_FEED = ("\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                              "\u2066-\u2069\ufeff\ud800-\udfff")
UNPRINTABLE = re.compile(f"[\n{_UNPRINTABLE_BUT_LINE_FEED}]")
# For text whose line feeds are layout (indented JSON): searching for the line feeds made
# escaping a large report cost more than writing it.
UNPRINTABLE_BUT_LINE_FEED = re.compile(f"[{_UNPRINTABLE_BUT_LINE_FEED}]")


@lru_cache(maxsize=4096)  # a catalog view spells every table's name for each PL/pgSQL guard
def quote_ident(name: str) -> str:
    """Quote like PostgreSQL's quote_ident(): only where the bare name would not round-trip.

    A name holding a line break or an escape byte is written as a Unicode escape
    identifier (``U&"x\\000a"``): the same name to PostgreSQL, and a fix or message that
    stays on one printable line.
    """
    if _PLAIN.match(name) and name not in _needs_quotes():
        return name
    quoted = name.replace('"', '""')
    if not UNPRINTABLE.search(name):
        return f'"{quoted}"'
    quoted = UNPRINTABLE.sub(lambda m: f"\\{ord(m.group()):04x}", quoted.replace("\\", "\\\\"))
    return f'U&"{quoted}"'


@lru_cache(maxsize=1)
def _needs_quotes() -> frozenset[str]:
    """The keywords a bare name may not be (read from pglast's files: see rlslint.sql.installed)."""
    from rlslint.sql.installed import keywords

    found = keywords()
    return frozenset(found.RESERVED_KEYWORDS | found.TYPE_FUNC_NAME_KEYWORDS | found.COL_NAME_KEYWORDS)


class QName(NamedTuple):
    """A schema-qualified relation name, as stored by PostgreSQL (already case-folded)."""

    schema: str
    name: str

    def __str__(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


def parse_qname(text: str, default_schema: str = "public") -> QName:
    """Parse a dotted name from configuration (``auth.users``, ``public."Profiles"``)."""
    parts = []
    for match in re.finditer(r'"((?:[^"]|"")*)"|([^."]+)', text):
        quoted, bare = match.groups()
        parts.append(quoted.replace('""', '"') if quoted is not None else bare.strip().lower())
    if len(parts) == 1:
        return QName(default_schema, parts[0])
    if len(parts) != 2:
        raise ValueError(f"expected schema.table, got {text!r}")
    return QName(parts[0], parts[1])
