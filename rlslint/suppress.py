"""Suppressions: inline ``rlslint:`` comments and the config's per-file ignores remove findings.

    -- rlslint: ignore[RLS002] deny-all by design: only the service role writes here
    -- rlslint: ignore-file[IDX001, IDX002] reason

``ignore`` applies to the statement on the comment's line, or to the statement that
follows on the next line (a run of comment lines in between is fine, a blank line is
not). On a statement that creates or alters a table, it also covers that table's
findings wherever they point, since a table's findings often sit on a later statement
(the ``ENABLE ROW LEVEL SECURITY`` of RLS002). ``ignore-file`` applies to the whole file.
A suppression that removes nothing, or that rlslint cannot read, is itself reported.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from pglast.parser import ParseError, scan

from rlslint.diagnostics import Diagnostic, SourceText
from rlslint.rules import find_rule, invalid_suppression, unused_suppression
from rlslint.rules.base import Rule, RuleContext
from rlslint.schema.model import Catalog
from rlslint.settings import Settings
from rlslint.sql.names import QName
from rlslint.sql.parse import ParsedFile, Statement
from rlslint.sql.spans import LineIndex, Span, ascii_shadow

MARKER = "rlslint:"
_DIRECTIVE = re.compile(r"(?:--|/\*)\s*rlslint:")
_SUPPRESSION = re.compile(
    r"(?:--|/\*)\s*rlslint:\s*(?P<kind>ignore-file|ignore)\s*\[(?P<codes>[^\]]*)\](?P<reason>.*?)(?:\*/)?\s*\Z",
    re.DOTALL,
)
_BLANK_LINE = re.compile(r"(?:\r\n|\r|\n)[ \t]*(?:\r\n|\r|\n)")
_TABLE_STATEMENTS = ("CreateStmt", "AlterTableStmt")
_EXPECTED_FORM = "expected `rlslint: ignore[CODE, …] reason` or `rlslint: ignore-file[CODE, …] reason`"


@dataclass(frozen=True)
class Suppression:
    file_level: bool
    codes: tuple[str, ...]  # known rule codes; unknown ones are reported, not kept
    comment: Span
    text: str  # the comment, whitespace collapsed: part of a finding's identity
    statements: tuple[Span, ...]  # what an ``ignore`` is attached to
    tables: frozenset[str]  # tables those statements create or alter, as PostgreSQL prints them

    def covers(self, diagnostic: Diagnostic) -> bool:
        if diagnostic.code not in self.codes:
            return False
        if self.file_level:
            return diagnostic.span.path == self.comment.path
        at = diagnostic.span
        return diagnostic.object in self.tables or any(
            s.path == at.path and s.start <= at.start <= s.end for s in self.statements
        )


@dataclass(frozen=True)
class Suppressed:
    kept: tuple[Diagnostic, ...]
    findings: tuple[Diagnostic, ...]  # about the suppressions themselves (SUP001, SUP002)


def apply(
    diagnostics: Iterable[Diagnostic],
    files: Sequence[ParsedFile],
    texts: Mapping[str, SourceText],
    catalog: Catalog,
    settings: Settings,
    rules: Iterable[Rule],
    paths: Mapping[str, Path],
) -> Suppressed:
    """Remove what comments and the config suppress; report suppressions that misfire.

    ``rules`` are the rules that ran: a suppression naming a rule that did not run is
    not called unused, since another run (a CI job with ``--select``) may need it.
    """
    ctx = RuleContext(catalog, settings)
    ran = {r.code for r in rules if settings.runs(r)}
    tables = _tables_by_statement(catalog)
    suppressions: list[Suppression] = []
    findings: list[Diagnostic] = []
    for parsed in files:
        source = texts.get(parsed.path)
        if source is not None and MARKER in source.text:
            found, invalid = _read_comments(parsed, source, tables, ctx)
            suppressions.extend(found)
            findings.extend(invalid)
    used: set[tuple[int, str]] = set()
    kept = []
    for diagnostic in diagnostics:
        matching = [i for i, s in enumerate(suppressions) if s.covers(diagnostic)]
        used.update((i, diagnostic.code) for i in matching)
        if not matching:
            kept.append(diagnostic)
    for i, suppression in enumerate(suppressions):
        for code in suppression.codes:
            if code in ran and (i, code) not in used:
                findings.append(_unused(suppression, code, ctx))
    findings = [f for f in findings if settings.enabled is None or f.code in settings.enabled]
    ignored = {path: config_ignores(absolute, settings) for path, absolute in paths.items()}
    wanted = lambda d: not _ignored(d, ignored)  # noqa: E731
    return Suppressed(tuple(filter(wanted, kept)), tuple(filter(wanted, findings)))


# --- the config's per-file ignores and excludes -----------------------------------------

ALL = frozenset({"*"})


def config_ignores(path: Path, settings: Settings) -> frozenset[str]:
    """Rule codes the config turns off for this file (``ALL`` when the file is excluded)."""
    posix, name = path.as_posix(), path.name

    def hit(glob: str) -> bool:
        return fnmatch.fnmatchcase(posix if "/" in glob else name, glob)

    if any(hit(glob) for glob in settings.exclude):
        return ALL
    return frozenset(code for glob, codes in settings.per_file_ignores if hit(glob) for code in codes)


def _ignored(diagnostic: Diagnostic, ignored: Mapping[str, frozenset[str]]) -> bool:
    codes = ignored.get(diagnostic.span.path, frozenset())
    return codes is ALL or diagnostic.code in codes


# --- reading the comments ---------------------------------------------------------------


def _read_comments(
    parsed: ParsedFile, source: SourceText, tables: Mapping[tuple[str, int], str], ctx: RuleContext
) -> tuple[list[Suppression], list[Diagnostic]]:
    text = source.text
    statements = [s for s in parsed.statements if not s.embedded]
    suppressions: list[Suppression] = []
    invalid: list[Diagnostic] = []
    for start, end in _comments(text):
        comment = text[start:end]
        if not _DIRECTIVE.match(comment):
            continue  # prose that merely mentions rlslint
        span = Span(parsed.path, start, end)
        collapsed = " ".join(comment.split())
        match = _SUPPRESSION.match(comment)
        if match is None:
            invalid.append(_invalid(span, collapsed, f"malformed suppression comment; {_EXPECTED_FORM}", ctx))
            continue
        codes = []
        for word in filter(None, (w.strip() for w in match["codes"].split(","))):
            rule = find_rule(word)
            if rule is None:
                invalid.append(_invalid(span, collapsed, f"suppression names unknown rule {word!r}; "
                                        "`rlslint rules` lists codes and names", ctx))
            else:
                codes.append(rule.code)
        if not match["codes"].strip():
            invalid.append(_invalid(span, collapsed, f"suppression names no rule; {_EXPECTED_FORM}", ctx))
        reason = match["reason"].strip().lstrip(":-–— ").strip()
        if codes and not reason and ctx.settings.require_suppression_reason:
            invalid.append(_invalid(span, collapsed, f"suppression of {', '.join(codes)} gives no reason, "
                                    "and require-suppression-reason is set", ctx))
        file_level = match["kind"] == "ignore-file"
        targets = () if file_level else _attached(start, end, statements, text, source.lines)
        suppressions.append(Suppression(
            file_level, tuple(codes), span, collapsed, tuple(s.span for s in targets),
            frozenset(_table_of(s, tables) for s in targets if s.kind in _TABLE_STATEMENTS) - {""},
        ))
    return suppressions, invalid


def _comments(text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of each SQL comment; scanned on the ASCII shadow, which keeps offsets
    and is linear where pglast's scanner is quadratic on non-ASCII text."""
    try:
        tokens = scan(ascii_shadow(text))
    except ParseError:  # a lexical error; the parse stage reports it
        return ()
    return [(t.start, t.end + 1) for t in tokens if t.name in ("SQL_COMMENT", "C_COMMENT")]  # end is inclusive


def _attached(start: int, end: int, statements: Sequence[Statement], text: str, lines: LineIndex) -> list[Statement]:
    """The statements on the comment's line, else the one starting right below it."""
    line = lines.line_col(start)[0]
    on_line = [s for s in statements
               if lines.line_col(s.span.start)[0] <= line <= lines.line_col(max(s.span.end - 1, s.span.start))[0]]
    if on_line:
        return on_line
    following = next((s for s in statements if s.span.start >= end), None)
    if following is None or _BLANK_LINE.search(text, end, following.span.start):
        return []
    return [following]


def _tables_by_statement(catalog: Catalog) -> dict[tuple[str, int], str]:
    """Statement start -> the table it created or changed, under the table's final name."""
    found: dict[tuple[str, int], str] = {}
    for table in catalog.tables.values():
        for span in (table.created, table.changed, table.rls_changed):
            if span is not None:
                found[(span.path, span.start)] = str(table.qname)
    return found


def _table_of(statement: Statement, tables: Mapping[tuple[str, int], str]) -> str:
    known = tables.get((statement.span.path, statement.span.start))
    if known is not None:
        return known
    relation = statement.node.get("relation", {})
    if not relation.get("relname"):
        return ""
    return str(QName(relation.get("schemaname") or "public", relation["relname"]))


# --- findings about suppressions --------------------------------------------------------


def _unused(suppression: Suppression, code: str, ctx: RuleContext) -> Diagnostic:
    rule = unused_suppression.RULE
    where = "in this file" if suppression.file_level else "here"
    advice = "delete the comment" if len(suppression.codes) == 1 else f"remove {code} from the comment"
    return rule.diagnostic(
        ctx, suppression.comment, f"suppression of {code} ({find_rule(code).name}) matches no finding {where}; {advice}",
        ", ".join(sorted(suppression.tables)), "", detail=f"{code} {suppression.text}",
    )


def _invalid(span: Span, text: str, message: str, ctx: RuleContext) -> Diagnostic:
    return invalid_suppression.RULE.diagnostic(ctx, span, message, "", "", detail=f"{message} {text}")
