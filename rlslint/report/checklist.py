"""The checklist matrix's marks, shared by ``--format markdown`` and ``rlslint report`` so the
pull request and the terminal can never disagree about what a cell means."""

from __future__ import annotations

from rlslint.diagnostics import CHECKLIST_COLUMNS, Cell

HEADERS = CHECKLIST_COLUMNS
TERMINAL_MARKS = {Cell.PASS: "[green]✓[/]", Cell.FAIL: "[bold red]✗[/]", Cell.NOT_APPLICABLE: "[dim]–[/]",
                  Cell.UNKNOWN: "[yellow]?[/]"}
MARKDOWN_MARKS = {Cell.PASS: "✅", Cell.FAIL: "❌", Cell.NOT_APPLICABLE: "➖", Cell.UNKNOWN: "❔"}
