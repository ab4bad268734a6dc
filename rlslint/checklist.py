"""The per-table checklist: the checklist rules' verdicts, one row per table.

A cell fails exactly where its rule reported a finding (before suppressions: a suppressed
finding is excused, not mended), passes where the rule ran and found nothing, and does not
apply where the model says the check has nothing to judge or the rule did not run. The
matrix is read off the findings, so it can never disagree with them, and no rule's logic is
repeated here. Which rule decides which column is declared on the rule (``Rule.cells``).
"""

from __future__ import annotations

from typing import Callable, Iterable

from rlslint.diagnostics import CHECKLIST_COLUMNS, COMMANDS, Cell, Diagnostic, TablePosture
from rlslint.rules.base import Rule
from rlslint.schema.model import Table
from rlslint.settings import Settings

# When a column has something to judge on a table, from the model alone ("RLS on" always has).
_APPLIES: dict[str, Callable[[Table, Settings], bool]] = {
    **{command: lambda table, settings: table.rls and table.qname.schema in settings.exposed_schemas
       for command in COMMANDS},
    "FKs indexed": lambda table, settings: bool(table.foreign_keys),
    "Owner FKs cascade": lambda table, settings: any(fk.ref_table in settings.owner_tables
                                                     for fk in table.foreign_keys),
}


def deciders(rules: Iterable[Rule]) -> dict[str, Rule]:
    """The rule that decides each checklist column."""
    return {column: rule for rule in rules for column in rule.cells}


def rows(tables: Iterable[Table], settings: Settings, findings: Iterable[Diagnostic],
         ran: Iterable[Rule]) -> list[TablePosture]:
    """The rows of these tables, from the findings of the rules that ran."""
    deciding = {column: rule.code for column, rule in deciders(ran).items()}
    failed: set[tuple[object, str]] = set()
    for finding in findings:
        for column in _failed_columns(finding, deciding):
            failed.add((finding.subject.table, column))
    return [_row(table, settings, failed, deciding) for table in tables]


def _failed_columns(finding: Diagnostic, deciding: dict[str, str]) -> Iterable[str]:
    for column, code in deciding.items():
        if code != finding.code:
            continue
        # A finding about some commands fails only those commands' columns.
        if column not in COMMANDS or column in finding.subject.commands:
            yield column


def _row(table: Table, settings: Settings, failed: set[tuple[object, str]], deciding: dict[str, str]) -> TablePosture:
    cells = []
    for column in CHECKLIST_COLUMNS:
        if (table.qname, column) in failed:
            cells.append(Cell.FAIL)  # reported, so shown: the finding says its verdict depends on it
        elif table.unanalysed:  # dynamic SQL may have changed it: no pass the model cannot back
            cells.append(Cell.UNKNOWN)
        elif column == "RLS on":
            cells.append(Cell.PASS if table.rls else Cell.NOT_APPLICABLE)  # RLS on is the model's own fact
        elif column in deciding and _APPLIES[column](table, settings):
            cells.append(Cell.PASS)
        else:
            cells.append(Cell.NOT_APPLICABLE)
    return TablePosture(str(table.qname), table.qname.schema, tuple(cells))
