"""``--format concise``: one line per finding, for projects with hundreds of them.

``file:line:col: CODE [*] [severity] message``; ``[*]`` marks a finding ``rlslint fix``
writes SQL for, as ruff marks what ``--fix`` can fix.
"""

from __future__ import annotations

from rlslint.diagnostics import LintResult
from rlslint.report import ReportContext
from rlslint.escape import log_line
from rlslint.report.text import summary, unanalysed_summary


def render(result: LintResult, ctx: ReportContext) -> str:
    lines = []
    for error in result.errors:
        pos = result.error_position(error)
        where = f"{error.path}:{pos.line}:{pos.column}" if pos else (error.path or "rlslint")
        lines.append(f"{where}: error: {error.message}")
    for d in result.diagnostics:
        pos = result.position(d.span)
        mark = " [*]" if d.fixable else ""
        lines.append(f"{d.span.path}:{pos.line}:{pos.column}: {d.code}{mark} [{d.severity.label}] {d.message}")
    lines.append(summary(result))
    if result.unanalysed:
        lines.append(log_line(unanalysed_summary(result, ctx.verbose)))
    return "\n".join(lines) + "\n"
