"""The checklist matrix: one row per table, one mark per check.

Shared by ``--format markdown`` and ``rlslint report`` so the pull request and the
terminal can never disagree about what a cell means.
"""

from __future__ import annotations

from rlslint.diagnostics import TablePosture

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")
HEADERS = ("RLS on", *COMMANDS, "FKs indexed", "Owner FKs cascade")


def cells(table: TablePosture) -> tuple[bool | None, ...]:
    """True: passes; False: fails; None: the check does not apply to this table."""
    return (table.rls_ok, *(table.command_ok(c) for c in COMMANDS), table.fk_indexed, table.owner_fk_ok)


def passes(table: TablePosture) -> bool:
    return all(cell is not False for cell in cells(table))
