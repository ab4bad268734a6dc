"""The names PostgreSQL chooses for unnamed indexes and constraints.

Mirrors ChooseRelationName / makeObjectName (src/backend/commands/indexcmds.c,
src/backend/catalog/namespace.c): ``<table>_<columns>_<label>``, truncated to fit
NAMEDATALEN - 1 bytes by shortening the longer part first, and numbered on a clash.
Getting these right matters because later migrations drop and rename by name.
"""

from __future__ import annotations

from typing import Callable, Iterable

NAMEDATALEN = 64


def _clip(name: str, limit: int) -> str:
    """Truncate to ``limit`` UTF-8 bytes without splitting a character (pg_mbcliplen)."""
    encoded = name.encode()
    if len(encoded) <= limit:
        return name
    return encoded[:limit].decode("utf-8", errors="ignore")


def make_object_name(name1: str, name2: str, label: str) -> str:
    overhead = (len(label.encode()) + 1 if label else 0) + (1 if name2 else 0)
    available = NAMEDATALEN - 1 - overhead
    len1, len2 = len(name1.encode()), len(name2.encode())
    while len1 + len2 > available:
        if len1 > len2:
            len1 -= 1
        else:
            len2 -= 1
    # the byte lengths above are targets; clip on character boundaries
    name = _clip(name1, len1)
    if name2:
        name += "_" + _clip(name2, len2)
    if label:
        name += "_" + label
    return name


def choose_name(name1: str, name2: str, label: str, taken: Callable[[str], bool]) -> str:
    candidate = make_object_name(name1, name2, label)
    counter = 0
    while taken(candidate):
        counter += 1
        candidate = make_object_name(name1, name2, f"{label}{counter}")
    return candidate


def column_part(columns: Iterable[str | None], expression_names: Iterable[str] = ()) -> str:
    """The middle part: column names joined by ``_``; expressions contribute their function name or 'expr'."""
    names = list(expression_names)
    parts = []
    for column in columns:
        parts.append(column if column is not None else (names.pop(0) if names else "expr"))
    return "_".join(parts)
