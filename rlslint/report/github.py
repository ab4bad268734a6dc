"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=F,line=L,col=C,endLine=E,endColumn=D,title=T::message``, escaped exactly as
``actions/toolkit`` (packages/core/src/command.ts) escapes data and properties, so the
runner decodes each message back to the original text.
"""

from __future__ import annotations

import re

from rlslint.diagnostics import Diagnostic, LintResult, Severity, SourceError
from rlslint.report import ReportContext
from rlslint.escape import log_line
from rlslint.report.text import reached, span_place, unanalysed_summary

_LINE_BREAK = re.compile(r"(\r\n|\r|\n)")
_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}

# GitHub shows at most 10 annotations of each level per step and drops the rest silently
# (REST docs, "check runs": annotations), so the most severe go first and a notice says
# how many findings the annotations cannot show.
ANNOTATIONS_SHOWN = 10


def escape_data(text: str) -> str:
    # Line breaks are escaped for the runner to restore; other control characters are
    # shown, never sent. "%" first, or the escapes themselves would be escaped again.
    parts = _LINE_BREAK.split(text)
    text = "".join(part if i % 2 else log_line(part) for i, part in enumerate(parts))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: str | int | None) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    return f"::{level} {props}::{escape_data(message)}" if props else f"::{level}::{escape_data(message)}"


def _error(result: LintResult, error: SourceError) -> str:
    pos = result.error_position(error)
    return command(
        "error",
        error.message,
        file=error.path or None,
        line=pos.line if pos else None,
        col=pos.column if pos else None,
        title=f"rlslint: {error.kind} error" if error.kind != "error" else "rlslint: error",
    )


def _diagnostic(result: LintResult, d: Diagnostic) -> str:
    pos = result.position(d.span)
    # GitHub ignores columns on an annotation that spans lines, and the toolkit docs say not to send them.
    one_line = pos.line == pos.end_line
    return command(
        _COMMAND[d.severity],
        f"{d.message}\nFix (in a new migration):\n{d.fix}",
        file=d.span.path,
        line=pos.line,
        col=pos.column if one_line else None,
        endLine=pos.end_line,
        endColumn=pos.end_column if one_line else None,
        title=f"{d.code}: {d.name}",
    )


def _overflow(result: LintResult) -> str | None:
    per_level = {level: 0 for level in _COMMAND.values()}
    per_level["error"] += len(result.errors)
    for d in result.diagnostics:
        per_level[_COMMAND[d.severity]] += 1
    hidden = sum(max(0, n - ANNOTATIONS_SHOWN) for n in per_level.values())
    if not hidden:
        return None
    total = sum(per_level.values())
    return command("notice", f"GitHub shows {ANNOTATIONS_SHOWN} annotations of each level per step, so {hidden} of {total} "
                   "are not shown as annotations; the job log and the job summary list them all.", title="rlslint")


def render(result: LintResult, ctx: ReportContext) -> str:
    lines = [_error(result, e) for e in result.errors]
    ordered = sorted(result.diagnostics, key=lambda d: -d.severity)  # stable: file order within a level
    lines += [_diagnostic(result, d) for d in ordered]
    overflow = _overflow(result)
    if overflow:
        lines.append(overflow)
    if result.unanalysed:  # one annotation: the verdicts above depend on these statements
        why = "".join(f"\n{span_place(result, n.span)}{reached(n)}: {n.message}" for n in result.unanalysed)
        lines.append(command("warning", unanalysed_summary(result, verbose=True) + why, title="rlslint: not analysed"))
    return "".join(line + "\n" for line in lines)
