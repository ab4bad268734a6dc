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

MAX_FINDINGS = 300
MARKS = {True: "✅", False: "❌", None: "➖"}
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#])")


def escape(text: str) -> str:
    """Plain text that Markdown must not read as markup."""
    return _SPECIAL.sub(r"\\\1", text)


def code(text: str) -> str:
    """An inline code span that holds any text, backticks included (CommonMark, "code spans")."""
    ticks = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


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
        # A "|" inside a table cell ends the cell even within a code span (GFM tables).
        name = code(table.name).replace("|", "\\|")
        lines.append(f"| {name} | " + " | ".join(MARKS[c] for c in cells(table)) + " |")
    lines += ["", "✅ passes · ❌ fails · ➖ does not apply (not exposed, RLS off, or no such foreign key)", ""]
    return lines


def _fence(sql: str) -> str:
    ticks = "`" * max(3, max((len(run) for run in re.findall("`+", sql)), default=0) + 1)
    return f"{ticks}sql\n{sql}\n{ticks}"


def _finding(result: LintResult, d: Diagnostic, urls: dict[str, str]) -> list[str]:
    pos = result.position(d.span)
    rule = f"[{d.code} {d.name}]({urls[d.code]})" if d.code in urls else f"{d.code} {d.name}"
    where = code(f"{d.span.path}:{pos.line}:{pos.column}")
    fix = "\n".join("  " + line if line else "" for line in _fence(d.fix).splitlines())
    return [f"- **{d.severity.label}** {rule} at {where}: {escape(d.message)}", "", "  Fix (in a new migration):", "", fix, ""]


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
        lines.append(f"- {code(where)}: {escape(error.message)}")
    return lines + [""]


def render(result: LintResult, ctx: ReportContext) -> str:
    lines = ["## rlslint", "", _headline(result), "", *_errors(result), *_matrix(result), *_findings(result, ctx)]
    return "\n".join(lines).rstrip("\n") + "\n"
