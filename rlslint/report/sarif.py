"""``--format sarif``: SARIF 2.1.0 as GitHub code scanning accepts it.

The rules array comes from the rules that ran, not from the results, so a clean run
still tells code scanning which rules ran (and closes their old alerts). A rule's default
level is the severity every migration set configured for it; where projects in one run
configure it differently, the default is the rule's own, and each project's invocation
overrides it (``ruleConfigurationOverrides``). Fingerprints hash what a finding is about,
not its line, so an alert survives edits above it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Iterator
from urllib.parse import quote

from rlslint import __version__
from rlslint.diagnostics import Diagnostic, LintResult, Note, Severity, SourceError, fingerprint
from rlslint.docs import REPOSITORY_URL, rule_url
from rlslint.escape import json_pieces
from rlslint.report import ReportContext
from rlslint.report.text import reached
from rlslint.rules.base import Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def uri(path: str) -> str:
    """Repository-relative paths stay relative: code scanning resolves them against the checkout."""
    posix = PurePosixPath(path)
    # A name that is not UTF-8 keeps its bytes (os.fsdecode made them surrogates), percent-encoded.
    return posix.as_uri() if posix.is_absolute() else quote(path.encode("utf-8", "surrogateescape"), safe="/")


def _rule(rule: Rule, level: Severity) -> dict:
    sections = rule.sections()
    flags, why = sections.get("What it flags", rule.summary), sections.get("Why it matters", "")
    url = rule_url(rule)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": flags},
        # GitHub's supported-property list omits helpUri, so the link is repeated in help.
        "helpUri": url,
        "help": {"text": f"{why}\n\n{url}".strip(), "markdown": f"{flags}\n\n{why}\n\n[{rule.code} {rule.name}]({url})"},
        "defaultConfiguration": {"level": _LEVEL[level]},
        "properties": {"tags": list(rule.tags), "precision": "high"},  # code scanning filters on tags
    }


def _location(path: str, region: dict) -> dict:
    return {"physicalLocation": {"artifactLocation": {"uri": uri(path)}, "region": region}}


def _result(result: LintResult, d: Diagnostic, index: dict[str, int]) -> dict:
    pos = result.position(d.span)
    region = {"startLine": pos.line, "startColumn": pos.column, "endLine": pos.end_line, "endColumn": pos.end_column}
    fp = fingerprint(d)
    out = {"ruleId": d.code}
    if d.code in index:
        out["ruleIndex"] = index[d.code]
    out.update(
        level=_LEVEL[d.severity],
        message={"text": f"{d.message}\nFix (in a new migration):\n{d.fix}"},
        locations=[_location(d.span.path, region)],
        # primaryLocationLineHash is the one GitHub reads; upload-sarif keeps a value already present.
        partialFingerprints={"primaryLocationLineHash": f"{fp}:1", "rlslint/v1": fp},
    )
    return out


def _notification(result: LintResult, error: SourceError) -> dict:
    out = {"level": "error", "message": {"text": error.message}}
    pos = result.error_position(error)
    if error.path:
        region = {"startLine": pos.line, "startColumn": pos.column} if pos else {}
        out["locations"] = [_location(error.path, region)] if region else [
            {"physicalLocation": {"artifactLocation": {"uri": uri(error.path)}}}]
    return out


def _unanalysed_notification(result: LintResult, note: Note) -> dict:
    """A statement not analysed: the run's verdicts on the tables it may change depend on it."""
    pos = result.position(note.span) if note.span.path in result.sources else None
    region = {"startLine": pos.line, "startColumn": pos.column} if pos else {}
    location = _location(note.span.path, region) if region else {
        "physicalLocation": {"artifactLocation": {"uri": uri(note.span.path)}}}
    return {"level": "warning", "message": {"text": f"not analysed{reached(note)}: {note.message}"}, "locations": [location]}


def _default_level(rule: Rule, result: LintResult) -> Severity:
    configured = {s.severities[rule.code] for s in result.sets if rule.code in s.severities}
    return configured.pop() if len(configured) == 1 else rule.default_severity


def _invocations(result: LintResult, ctx: ReportContext, levels: dict[str, Severity]) -> list[dict]:
    """One per migration set, each with its errors and the levels it configured otherwise."""
    owner = {path: i for i, s in enumerate(result.sets) for path in s.files}
    errors: list[list[SourceError]] = [[] for _ in result.sets or [None]]
    for error in result.errors:
        errors[owner.get(error.path, 0)].append(error)
    unanalysed: list[list[Note]] = [[] for _ in result.sets or [None]]
    for note in result.unanalysed:
        unanalysed[owner.get(note.span.path, 0)].append(note)
    invocations = []
    for i, found in enumerate(errors):
        invocation = {"executionSuccessful": not found,
                      "toolExecutionNotifications": [_notification(result, e) for e in found]
                      + [_unanalysed_notification(result, n) for n in unanalysed[i]]}
        severities = result.sets[i].severities if result.sets else {}
        overrides = [
            {"descriptor": {"id": rule.code, "index": k}, "configuration": {"level": _LEVEL[severities[rule.code]]}}
            for k, rule in enumerate(ctx.rules) if rule.code in severities and severities[rule.code] != levels[rule.code]
        ]
        if overrides:
            invocation["ruleConfigurationOverrides"] = overrides
        if len(result.sets) > 1:
            invocation["properties"] = {"project": result.sets[i].root}
        invocations.append(invocation)
    return invocations


def render(result: LintResult, ctx: ReportContext) -> str:
    return "".join(pieces(result, ctx))


def pieces(result: LintResult, ctx: ReportContext) -> Iterator[str]:
    """The document's text in pieces (``json_pieces``), each result made as it is written."""
    index = {rule.code: i for i, rule in enumerate(ctx.rules)}
    levels = {rule.code: _default_level(rule, result) for rule in ctx.rules}
    run = {
        "tool": {"driver": {"name": "rlslint", "version": __version__, "semanticVersion": __version__,
                            "informationUri": REPOSITORY_URL,
                            "rules": [_rule(r, levels[r.code]) for r in ctx.rules]}},
        # pglast and rlslint count columns in characters (code points), not UTF-16 units.
        "columnKind": "unicodeCodePoints",
        "invocations": _invocations(result, ctx, levels),
        "results": (_result(result, d, index) for d in result.diagnostics),
    }
    document = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    yield from json_pieces(document)
    yield "\n"
