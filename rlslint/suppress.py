"""The suppression stage: a filter over the rules' findings.

A finding is removed by an ``rlslint:`` comment (markers.py says what each one covers), by
the config's per-file ignores and excludes, or by the baseline. The stage resolves no
names and selects no rules of its own: the replay recorded which tables each statement
created or altered, under their final names, and the engine says which rules ran. An
``ignore`` on a statement that creates or alters a table also covers that table's findings
wherever they point. The comments themselves are judged by SUP001 and SUP002, run here
because only here is it known which comment removed what.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, NamedTuple, Sequence

from rlslint import markers
from rlslint.diagnostics import Diagnostic, SourceText
from rlslint.markers import MARKER, Marker, MarkerUse, Targets
from rlslint.rules import BY_CODE, SUPPRESSION_RULES, find_rule
from rlslint.settings import Settings

if TYPE_CHECKING:
    from rlslint.baseline import Baseline  # loaded by --baseline only
    from rlslint.sql.parse import ParsedFile

__all__ = ["MARKER", "Inputs", "Suppressed", "apply", "config_ignores"]


class Inputs(NamedTuple):
    """What one migration set offers the stage."""

    parsed: Sequence[ParsedFile]  # every file of the set that holds a marker (others need not be here)
    texts: Mapping[str, SourceText]
    paths: Mapping[str, Path]  # display path -> absolute path, which the config's globs match
    targets: Targets  # from the replay: the tables each statement created or altered


class Suppressed(NamedTuple):
    kept: tuple[Diagnostic, ...]
    findings: tuple[Diagnostic, ...]  # about the suppressions themselves (SUP001, SUP002)


def apply(diagnostics: Iterable[Diagnostic], inputs: Inputs, settings: Settings, ran: frozenset[str],
          baseline: Baseline | None = None) -> Suppressed:
    """Remove what comments, the config and the baseline suppress; judge the comments.

    ``ran`` are the codes of the rules that ran.
    """
    found = [m for parsed in inputs.parsed for m in _markers(parsed, inputs)]
    used: set[tuple[int, str]] = set()
    kept = []
    for diagnostic in diagnostics:
        matching = [i for i, m in enumerate(found) if covers(m, diagnostic)]
        used.update((i, diagnostic.code) for i in matching)
        if not matching:
            kept.append(diagnostic)
    use = MarkerUse(settings, tuple(found), frozenset(used), ran, {code: rule.name for code, rule in BY_CODE.items()})
    about_markers = [d for rule in SUPPRESSION_RULES if settings.runs(rule) for d in rule.run(use)]
    ignored = {path: config_ignores(absolute, settings) for path, absolute in inputs.paths.items()}
    kept = [d for d in kept if not _ignored(d, ignored)]
    about_markers = [d for d in about_markers if not _ignored(d, ignored)]
    if baseline is not None:
        kept, about_markers = baseline.new(kept), baseline.new(about_markers)
    return Suppressed(tuple(kept), tuple(about_markers))


def _markers(parsed: ParsedFile, inputs: Inputs) -> list[Marker]:
    source = inputs.texts.get(parsed.path)
    if source is None or MARKER not in source.text:
        return []
    return markers.read(parsed, source, inputs.targets, lambda word: (rule := find_rule(word)) and rule.code)


def covers(marker: Marker, diagnostic: Diagnostic) -> bool:
    if diagnostic.code not in marker.codes:
        return False
    if marker.file_level:
        return diagnostic.span.path == marker.comment.path
    at = diagnostic.span
    return diagnostic.subject.table in marker.tables or any(
        s.path == at.path and s.start <= at.start <= s.end for s in marker.statements
    )


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
