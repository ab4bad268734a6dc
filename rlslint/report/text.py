"""``--format text``: what a person reads in a terminal. The only module that imports rich.

Each finding: ``file:line:col: CODE [severity] message``, the source line with a caret
under the cause, and the fix. Plain text when not writing to a terminal or when
NO_COLOR is set; rich is imported only for colour.
"""

from __future__ import annotations

from rlslint.diagnostics import LintResult, Severity
from rlslint.report import ReportContext
from rlslint.escape import log_line, visible

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
# Characters of a source line shown around the column: 4,000 statements on one line must
# not print that line 4,000 times.
EXCERPT_WIDTH = 160


def _lines(result: LintResult, ctx: ReportContext) -> list[tuple[str, str]]:
    """(text, style) pairs; style is a rich style name or ''."""
    out: list[tuple[str, str]] = []
    for error in result.errors:
        pos = result.error_position(error)
        where = f"{error.path}:{pos.line}:{pos.column}" if pos else (error.path or "rlslint")
        out.append((f"{where}: error: {error.message}", "bold red"))
        if pos:
            out.extend(_excerpt(result, error.path, pos.line, pos.column, pos.column + 1))
    if result.errors and result.diagnostics:
        out.append(("", ""))
    for d in result.diagnostics:
        pos = result.position(d.span)
        out.append((f"{d.span.path}:{pos.line}:{pos.column}: {d.code} [{d.severity.label}] {d.message}", _STYLE[d.severity]))
        end_column = pos.end_column if pos.end_line == pos.line else None
        out.extend(_excerpt(result, d.span.path, pos.line, pos.column, end_column))
        if d.fix:  # findings about suppression comments are fixed in the comment, not by SQL
            out.append(("   = fix (in a new migration):", "green"))
            out.extend((f"     {line}", "green") for line in d.fix.splitlines())
        out.append(("", ""))
    if ctx.verbose:
        for note in result.notes:
            if note.span.path in result.sources:
                pos = result.position(note.span)
                out.append((f"{note.span.path}:{pos.line}:{pos.column}: note: {note.message}", "dim"))
            else:
                out.append((f"{note.span.path}: note: {note.message}", "dim"))
    if ctx.verbose:
        for note in result.unanalysed:
            out.append((f"{span_place(result, note.span)}: not analysed{reached(note)}: {note.message}", "yellow"))
    out.extend((f"info: {remark}", "yellow") for remark in result.remarks)
    out.append((summary(result), "bold"))
    if result.unanalysed:
        out.append((unanalysed_summary(result, ctx.verbose), "bold yellow"))
    return out


def span_place(result: LintResult, span) -> str:
    """``file:line`` of a span, or the file alone when its text is not at hand."""
    if span.path not in result.sources:
        return span.path
    return f"{span.path}:{result.position(span).line}"


def reached(note) -> str:
    """`` (3 times)`` for a statement a loop or calls reached more than once; listed once."""
    return f" ({note.times} times)" if note.times > 1 else ""


def unanalysed_summary(result: LintResult, verbose: bool) -> str:
    """The last line: what the verdicts above could not take into account, and where."""
    count = len(result.unanalysed)
    places = ", ".join(dict.fromkeys(span_place(result, n.span) for n in result.unanalysed))
    why = "" if verbose else "; -v says why"
    return (f"{count} statement{'s' if count != 1 else ''} could not be analysed ({places}): findings on the tables "
            f"{'they' if count != 1 else 'it'} may change say so{why}; --verify decides them.")


def _excerpt(result: LintResult, path: str, line: int, column: int, end_column: int | None) -> list[tuple[str, str]]:
    source = result.sources.get(path)
    if source is None:
        return []
    start, end = source.lines.line_bounds(line)
    text = source.text[start:end].rstrip("\r\n")
    stop = min(len(text) + 1 if end_column is None else max(end_column, column + 1), len(text) + 1)
    first = max(0, min(column - 1 - EXCERPT_WIDTH // 3, len(text) - EXCERPT_WIDTH))
    last = min(len(text), first + EXCERPT_WIDTH)
    # Widths are measured on the text as shown, where an ESC byte takes two columns ("\e").
    before = ("…" if first else "") + visible(text[first : column - 1])
    shown = ("…" if first else "") + visible(text[first:last]) + ("…" if last < len(text) else "")
    caret = " " * len(before) + "^" * max(1, len(visible(text[column - 1 : min(stop - 1, last)])))
    width = len(str(line))
    return [(f" {line} | {shown}", ""), (f" {' ' * width} | {caret}", "bold magenta")]


def summary(result: LintResult) -> str:
    files = f"{result.files_checked} file{'s' if result.files_checked != 1 else ''}"
    if not result.diagnostics and not result.errors:
        return f"All checks passed ({files})."
    counts = {s: sum(1 for d in result.diagnostics if d.severity == s) for s in Severity}
    parts = [f"{n} {s.label}{'s' if n != 1 else ''}" for s, n in sorted(counts.items(), reverse=True) if n]
    found = f"Found {len(result.diagnostics)} finding{'s' if len(result.diagnostics) != 1 else ''}"
    detail = f" ({', '.join(parts)})" if parts else ""
    errors = f"; {len(result.errors)} file error{'s' if len(result.errors) != 1 else ''}" if result.errors else ""
    return f"{found}{detail} in {files}{errors}."


def render(result: LintResult, ctx: ReportContext) -> str:
    lines = [(log_line(text), style) for text, style in _lines(result, ctx)]
    if not ctx.color:
        return "\n".join(text for text, _ in lines) + "\n"
    from rich.console import Console
    from rich.text import Text

    console = Console(force_terminal=True, color_system="standard", width=10_000, highlight=False, soft_wrap=True)
    with console.capture() as capture:
        for text, style in lines:
            console.print(Text(text, style=style or ""))
    return capture.get()


def render_checklist(result: LintResult, color: bool, terminal: bool) -> str:
    """``rlslint report``: the checklist matrix as a rich table, one row per table."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from rlslint.report.checklist import HEADERS, TERMINAL_MARKS
    table = Table("Table", *HEADERS, title=f"rlslint checklist ({len(result.tables)} tables)")
    for column in table.columns[1:]:
        column.justify = "center"
    previous = None
    for posture in sorted(result.tables, key=lambda t: (t.schema, t.name)):
        if previous is not None and posture.schema != previous:
            table.add_section()  # a rule between schemas
        # A Text, not a str: rich would read "[link=…]" in a table name as markup.
        table.add_row(Text(log_line(posture.name)), *(TERMINAL_MARKS[c] for c in posture.cells))
        previous = posture.schema
    # In a terminal, fit it; in a pipe or a file, never cut a table name short.
    width = Console().width if terminal else 10_000
    console = Console(no_color=not color, force_terminal=color, highlight=False, width=width)
    with console.capture() as capture:
        console.print(table)
    return capture.get()
