"""``--format json``: a documented, versioned document (see README, "JSON output").

Built field by field, not dumped from internal classes, so internals can change
without breaking consumers. Bump VERSION when a field changes meaning or goes away.
"""

from __future__ import annotations

from rlslint import __version__
from rlslint.diagnostics import LintResult, fingerprint
from rlslint.report import ReportContext
from rlslint.escape import json_text

VERSION = 1


def render(result: LintResult, ctx: ReportContext) -> str:
    diagnostics = []
    for d in result.diagnostics:
        pos = result.position(d.span)
        diagnostics.append(
            {
                "code": d.code,
                "name": d.name,
                "severity": d.severity.label,
                "message": d.message,
                "file": d.span.path,
                "line": pos.line,
                "column": pos.column,
                "end_line": pos.end_line,
                "end_column": pos.end_column,
                "object": d.object,
                "columns": list(d.columns),
                "commands": list(d.commands),
                "fix": d.fix,
                "fingerprint": fingerprint(d),
            }
        )
    errors = []
    for e in result.errors:
        pos = result.error_position(e)
        errors.append(
            {"file": e.path, "line": pos.line if pos else None, "column": pos.column if pos else None, "message": e.message, "kind": e.kind}
        )
    notes = []
    for n in result.notes:
        pos = result.position(n.span) if n.span.path in result.sources else None
        notes.append({"file": n.span.path, "line": pos.line if pos else None, "column": pos.column if pos else None, "message": n.message})
    # Statements the replay could not analyse (SQL built at run time): the findings on the
    # tables they may have changed say that their verdict depends on them.
    unanalysed = []
    for n in result.unanalysed:
        pos = result.position(n.span) if n.span.path in result.sources else None
        unanalysed.append({"file": n.span.path, "line": pos.line if pos else None, "column": pos.column if pos else None,
                           "message": n.message, "times": n.times})
    document = {
        "version": VERSION,
        "tool": {"name": "rlslint", "version": __version__},
        "diagnostics": diagnostics,
        "errors": errors,
        "notes": notes,
        "unanalysed": unanalysed,
        "summary": {
            "files": result.files_checked,
            "diagnostics": len(diagnostics),
            "errors": len(errors),
            "unanalysed": len(unanalysed),
            "by_code": {code: sum(1 for d in result.diagnostics if d.code == code) for code in sorted({d.code for d in result.diagnostics})},
        },
    }
    return json_text(document) + "\n"
