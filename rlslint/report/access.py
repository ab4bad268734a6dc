"""``rlslint access``: the access matrix as a rich table, Markdown, or versioned JSON.

Serialisers only: the cells are decided in rlslint.access_matrix.

The JSON document (``version`` 1)::

    {"version": 1, "roles": ["anon", "authenticated"],
     "tables": [{"table": "public.notes", "rls": true,
                 "cells": [{"role": "authenticated", "command": "SELECT", "access": "filtered",
                            "using": "(SELECT auth.uid()) = user_id", "with_check": null,
                            "policies": ["notes_own"]}, …]}]}

``access`` is one of none, denied, all, filtered, unknown; ``using`` and ``with_check``
are set for filtered cells only, as SQL.
"""

from __future__ import annotations

from rlslint.access_matrix import AccessMatrix, Cell
from rlslint.escape import json_text, log_line, markdown_cell
from rlslint.schema.model import COMMANDS

VERSION = 1
_STYLE = {"none": "dim", "denied": "red", "all": "yellow", "filtered": "green", "unknown": "magenta"}


def _label(cell: Cell) -> str:
    if cell.access != "filtered":
        return cell.access
    parts = [f"USING {cell.using}" if cell.using else "", f"WITH CHECK {cell.with_check}" if cell.with_check else ""]
    return "filtered: " + "; ".join(p for p in parts if p)


def render_json(matrix: AccessMatrix) -> str:
    document = {
        "version": VERSION,
        "roles": list(matrix.roles),
        "tables": [{"table": t.table, "rls": t.rls, "cells": [
            {"role": c.role, "command": c.command, "access": c.access, "using": c.using,
             "with_check": c.with_check, "policies": list(c.policies)} for c in t.cells]} for t in matrix.tables],
    }
    return json_text(document) + "\n"


def render_markdown(matrix: AccessMatrix) -> str:
    lines = ["## rlslint access", ""]
    if not matrix.tables:
        return "\n".join(lines + ["No table in an exposed schema.", ""])
    lines += ["| Table | Command | " + " | ".join(markdown_cell(r) for r in matrix.roles) + " |",
              "|---|---|" + "---|" * len(matrix.roles)]
    for table in matrix.tables:
        by_key = {(c.role, c.command): c for c in table.cells}
        for command in COMMANDS:
            marks = []
            for role in matrix.roles:
                found = by_key.get((role, command))
                marks.append(markdown_cell(_label(found)) if found else "")
            lines.append(f"| {markdown_cell(table.table)} | {command} | " + " | ".join(marks) + " |")
    lines += ["", "none: no privilege · denied: RLS on, no policy applies · all: every row · "
                  "filtered: the rows the condition admits · unknown: changed by a statement rlslint could not analyse", ""]
    return "\n".join(lines)


def render_text(matrix: AccessMatrix, color: bool, terminal: bool) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Texts, not strs: rich would read "[link=…]" in a name or a condition as markup.
    out = Table("Table", "Command", title=f"rlslint access ({len(matrix.tables)} table{'' if len(matrix.tables) == 1 else 's'})")
    for role in matrix.roles:
        out.add_column(Text(log_line(role)))
    for table in matrix.tables:
        by_key = {(c.role, c.command): c for c in table.cells}
        for i, command in enumerate(COMMANDS):
            cells = []
            for role in matrix.roles:
                found = by_key.get((role, command))
                cells.append(Text(log_line(_label(found)), style=_STYLE[found.access]) if found else Text(""))
            out.add_row(Text(log_line(table.table)) if i == 0 else "", command, *cells, end_section=i == len(COMMANDS) - 1)
    width = Console().width if terminal else 10_000
    console = Console(no_color=not color, force_terminal=color, highlight=False, width=width)
    with console.capture() as capture:
        console.print(out)
    return capture.get()
