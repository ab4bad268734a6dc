"""``--format json``: a documented, versioned document (see README, "JSON output").

Built field by field, not dumped from internal classes, so internals can change
without breaking consumers. Bump VERSION when a field changes meaning or goes away.
"""

from __future__ import annotations

from typing import Iterator

from rlslint import __version__
from rlslint.diagnostics import LintResult, fingerprint
from rlslint.report import ReportContext
from rlslint.escape import json_pieces

VERSION = 1


def render(result: LintResult, ctx: ReportContext) -> str:
    return "".join(pieces(result, ctx))


def _diagnostics(result: LintResult) -> Iterator[dict]:
    """Each finding's entry, made as it is written: 20,000 of them at once were ~20 MB."""
    for d in result.diagnostics:
        pos = result.position(d.span)
        yield {
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


def pieces(result: LintResult, ctx: ReportContext) -> Iterator[str]:
    """The document's text in pieces (``json_pieces``), for the output to take as they come."""
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
        "diagnostics": _diagnostics(result),
        "errors": errors,
        "notes": notes,
        "unanalysed": unanalysed,
        "summary": {
            "files": result.files_checked,
            "diagnostics": len(result.diagnostics),
            "errors": len(errors),
            "unanalysed": len(unanalysed),
            "by_code": {code: sum(1 for d in result.diagnostics if d.code == code) for code in sorted({d.code for d in result.diagnostics})},
        },
    }
    yield from json_pieces(document)
    yield "\n"
