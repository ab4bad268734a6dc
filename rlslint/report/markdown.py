"""``--format markdown``: what a person reads on a pull request or in a job summary.

GitHub-flavoured Markdown: a headline, the checklist matrix (one row per table), then
each finding with its fix. GitHub rejects a step summary over 1 MiB, so the list of
findings is cut at MAX_FINDINGS; the matrix always stays whole.
"""

from __future__ import annotations

import re

from rlslint.diagnostics import Diagnostic, LintResult, Severity
from rlslint.docs import rule_url
from rlslint.report import ReportContext
from rlslint.report.checklist import HEADERS, cells
from rlslint.escape import log_text, markdown_cell, markdown_code, markdown_text

MAX_FINDINGS = 300
MARKS = {True: "✅", False: "❌", None: "➖"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _headline(result: LintResult) -> str:
    files = _plural(result.files_checked, "file")
    errors = f"; {_plural(len(result.errors), 'file')} could not be parsed" if result.errors else ""
    if not result.diagnostics:
        return f"{'❌' if result.errors else '✅'} No findings in {files}{errors}."
    counts = [_plural(sum(1 for d in result.diagnostics if d.severity == s), s.label)
              for s in sorted(Severity, reverse=True) if any(d.severity == s for d in result.diagnostics)]
    return f"❌ **{_plural(len(result.diagnostics), 'finding')}** ({', '.join(counts)}) in {files}{errors}."


def _matrix(result: LintResult) -> list[str]:
    if not result.tables:
        return []
    lines = ["### Checklist", "", "| Table | " + " | ".join(HEADERS) + " |",
             "| --- |" + " :-: |" * len(HEADERS)]
    for table in result.tables:
        lines.append(f"| {markdown_cell(table.name)} | " + " | ".join(MARKS[c] for c in cells(table)) + " |")
    lines += ["", "✅ passes · ❌ fails · ➖ does not apply (not exposed, RLS off, or no such foreign key)", ""]
    return lines


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


def _findings(result: LintResult, ctx: ReportContext) -> list[str]:
    if not result.diagnostics:
        return []
    urls = {rule.code: rule_url(rule) for rule in ctx.rules}
    ordered = sorted(result.diagnostics, key=lambda d: -d.severity)  # stable: file order within a severity
    lines = ["### Findings", ""]
    for d in ordered[:MAX_FINDINGS]:
        lines += _finding(result, d, urls)
    if len(ordered) > MAX_FINDINGS:
        lines += [f"… and {len(ordered) - MAX_FINDINGS} more; run `rlslint` locally or see the SARIF report for all of them.", ""]
    return lines


def _errors(result: LintResult) -> list[str]:
    if not result.errors:
        return []
    lines = ["### Files rlslint could not read or parse", ""]
    for error in result.errors:
        pos = result.error_position(error)
        where = f"{error.path}:{pos.line}:{pos.column}" if pos else (error.path or "rlslint")
        lines.append(f"- {markdown_code(where)}: {markdown_text(error.message)}")
    return lines + [""]


def render(result: LintResult, ctx: ReportContext) -> str:
    lines = ["## rlslint", "", _headline(result), "", *_errors(result), *_matrix(result), *_findings(result, ctx)]
    return "\n".join(lines).rstrip("\n") + "\n"
