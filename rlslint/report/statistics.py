"""``--statistics``: how many findings of each rule, and how many of them ``rlslint fix`` fixes.

One line per rule, most frequent first, as ``ruff check --statistics`` prints them.
"""

from __future__ import annotations

from collections import Counter

from rlslint.diagnostics import LintResult
from rlslint.report import ReportContext
from rlslint.report.text import summary


def render(result: LintResult, ctx: ReportContext) -> str:
    counts = Counter(d.code for d in result.diagnostics)
    fixable = Counter(d.code for d in result.diagnostics if d.fixable)
    names = {d.code: d.name for d in result.diagnostics}
    width = len(str(max(counts.values(), default=0)))
    lines = [f"{'count':>{max(width, 5)}}  {'code':<8}{'fixable':>7}  name"] if counts else []
    for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"{n:>{max(width, 5)}}  {code:<8}{fixable[code]:>7}  {names[code]}")
    total_fixable = sum(fixable.values())
    tail = f" {total_fixable} fixable with `rlslint fix`." if total_fixable else ""
    lines.append(summary(result) + tail)
    return "\n".join(lines) + "\n"
