"""``--format markdown``: what a person reads on a pull request or in a job summary.

GitHub-flavoured Markdown: a headline, the checklist matrix grouped by schema, then each
finding with its fix. A pull-request comment holds at most 65,536 characters, so the
report stays below that: the headline and the matrix come first, findings follow while
they fit, and a closing line says how many were left out and how to see them all.
"""

from __future__ import annotations

import re
from itertools import groupby

from rlslint.diagnostics import Diagnostic, LintResult, Severity, TablePosture
from rlslint.docs import rule_url
from rlslint.escape import log_text, markdown_cell, markdown_code, markdown_text
from rlslint.report import ReportContext
from rlslint.report.checklist import HEADERS, MARKDOWN_MARKS
from rlslint.report.text import reached, span_place

# GitHub's limit for an issue or pull-request comment body, in characters.
COMMENT_LIMIT = 65_536
# Room kept for the lines that say what was left out, which come after the blocks they count.
_RESERVE = 1_024


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


class _Page:
    """Lines under COMMENT_LIMIT; a block that does not fit is left out whole, never cut."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.size = 0

    @property
    def room(self) -> int:
        return COMMENT_LIMIT - _RESERVE - self.size

    def add(self, block: list[str], note: bool = False, end: int | None = None) -> bool:
        """A note (what was left out) may use the reserve; nothing else may, nor pass ``end``."""
        size = sum(len(line) + 1 for line in block)
        if size > self.room + (_RESERVE if note else 0) or (end is not None and self.size + size > end):
            return False
        self.lines += block
        self.size += size
        return True


def _headline(result: LintResult) -> str:
    files = _plural(result.files_checked, "file")
    errors = f"; {_plural(len(result.errors), 'file')} could not be parsed" if result.errors else ""
    if not result.diagnostics:
        return f"{'❌' if result.errors else '✅'} No findings in {files}{errors}."
    counts = [_plural(sum(1 for d in result.diagnostics if d.severity == s), s.label)
              for s in sorted(Severity, reverse=True) if any(d.severity == s for d in result.diagnostics)]
    return f"❌ **{_plural(len(result.diagnostics), 'finding')}** ({', '.join(counts)}) in {files}{errors}."


def _row(table: TablePosture) -> str:
    return f"| {markdown_cell(table.name)} | " + " | ".join(MARKDOWN_MARKS[c] for c in table.cells) + " |"


def _matrix(result: LintResult, page: _Page) -> list[str]:
    """One table per schema, in at most half the page, so that findings are shown too.

    When every row does not fit, passing tables are only counted; failing rows that still do
    not fit are counted in the line this returns.
    """
    if not result.tables:
        return []
    ordered = sorted(result.tables, key=lambda t: (t.schema, t.name))
    share = page.room // 2
    failing_only = sum(len(_row(t)) + 1 for t in ordered) > share
    end = page.size + share
    page.add(["### Checklist", ""])
    left_out = 0
    for schema, group in groupby(ordered, key=lambda t: t.schema):
        tables = list(group)
        shown = [t for t in tables if not (failing_only and t.passes)]
        failing = sum(1 for t in tables if t.failing)
        block = [f"#### {markdown_code(schema)}: {_plural(len(tables), 'table')}, {failing} failing", ""]
        if shown:
            block += ["| Table | " + " | ".join(HEADERS) + " |", "| --- |" + " :-: |" * len(HEADERS)]
        rows = [_row(t) for t in shown]
        if not page.add(block + rows[:1], end=end):
            left_out += len(rows)
            continue
        left_out += sum(1 for row in rows[1:] if not page.add([row], end=end))
        hidden = len(tables) - len(shown)
        page.add(["", f"{_plural(hidden, 'more table')} pass every check."] if hidden else [])
        page.add([""])
    page.add(["✅ passes · ❌ fails · ➖ does not apply (not exposed, RLS off, no such foreign key, or not checked)"
              " · ❔ unknown (changed by SQL rlslint could not analyse)", ""])
    if left_out:
        return [f"… and {_plural(left_out, 'more failing table')} not shown; `rlslint report` shows every table.", ""]
    return []


def _fence(sql: str) -> str:
    ticks = "`" * max(3, max((len(run) for run in re.findall("`+", sql)), default=0) + 1)
    return f"{ticks}sql\n{sql}\n{ticks}"


def _message(d: Diagnostic) -> str:
    """The message with its object in a code span: a name is never read as a link or markup."""
    if not d.object or d.object not in d.message:
        return markdown_text(d.message)
    return markdown_code(d.object).join(markdown_text(part) for part in d.message.split(d.object))


def _finding(result: LintResult, d: Diagnostic, urls: dict[str, str]) -> list[str]:
    pos = result.position(d.span)
    rule = f"[{d.code} {d.name}]({urls[d.code]})" if d.code in urls else f"{d.code} {d.name}"
    where = markdown_code(f"{d.span.path}:{pos.line}:{pos.column}")
    fix = "\n".join("  " + line if line else "" for line in _fence(log_text(d.fix)).split("\n"))
    return [f"- **{d.severity.label}** {rule} at {where}: {_message(d)}", "", "  Fix (in a new migration):", "", fix, ""]


def _findings(result: LintResult, ctx: ReportContext, page: _Page) -> list[str]:
    if not result.diagnostics:
        return []
    urls = {rule.code: rule_url(rule) for rule in ctx.rules}
    ordered = sorted(result.diagnostics, key=lambda d: -d.severity)  # stable: file order within a severity
    page.add(["### Findings", ""])
    shown = 0
    for d in ordered:
        if not page.add(_finding(result, d, urls)):
            break
        shown += 1
    if shown < len(ordered):
        return [f"… and {_plural(len(ordered) - shown, 'more finding')} not shown: a comment holds at most "
                f"{COMMENT_LIMIT:,} characters. `rlslint check --format concise` lists every finding, one a line; "
                "`--statistics` counts them per rule.", ""]
    return []


def _errors(result: LintResult, page: _Page) -> list[str]:
    if not result.errors:
        return []
    page.add(["### Files rlslint could not read or parse", ""])
    shown = 0
    for error in result.errors:
        pos = result.error_position(error)
        where = f"{error.path}:{pos.line}:{pos.column}" if pos else (error.path or "rlslint")
        if not page.add([f"- {markdown_code(where)}: {markdown_text(error.message)}"]):
            break
        shown += 1
    page.add([""])
    return [f"… and {_plural(len(result.errors) - shown, 'more file error')} not shown.", ""] if shown < len(result.errors) else []


def _unanalysed(result: LintResult, page: _Page) -> list[str]:
    """The statements the verdicts depend on but rlslint could not analyse (❔ in the matrix)."""
    if not result.unanalysed:
        return []
    page.add([f"### {_plural(len(result.unanalysed), 'statement')} rlslint could not analyse", "",
              "Findings on the tables they may change say so; `rlslint check --verify` decides them on a real PostgreSQL.", ""])
    shown = 0
    for note in result.unanalysed:
        if not page.add([f"- {markdown_code(span_place(result, note.span))}{reached(note)}: {markdown_text(note.message)}"]):
            break
        shown += 1
    page.add([""])
    left = len(result.unanalysed) - shown
    return [f"… and {_plural(left, 'more statement')} not shown; `rlslint check -v` lists them.", ""] if left else []


def render(result: LintResult, ctx: ReportContext) -> str:
    page = _Page()
    page.add(["## rlslint", "", _headline(result), ""])
    page.add(_errors(result, page), note=True)
    page.add(_unanalysed(result, page), note=True)
    page.add(_matrix(result, page), note=True)
    page.add(_findings(result, ctx, page), note=True)
    return "\n".join(page.lines).rstrip("\n") + "\n"
