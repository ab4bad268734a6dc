"""The pipeline: sources -> parse -> replay -> rules -> report-ready result.

One direction, no back edges; every stage hands plain data to the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from rlslint import sources, suppress
from rlslint.cache import ReplayCache, Snapshot
from rlslint.diagnostics import Diagnostic, LintResult, Note, SourceError, SourceText, TablePosture
from rlslint.rules import ALL_RULES
from rlslint.rules import owner_fk_without_cascade
from rlslint.rules._predicates import covered_commands, leads_index, owner_fk_blocks_delete
from rlslint.rules.base import Rule, RuleContext
from rlslint.schema.model import Catalog, Table
from rlslint.schema.replay import Replayer, replay
from rlslint.settings import Settings
from rlslint.sql.parse import ParsedFile, parse_file
from rlslint.sql.spans import LineIndex

SettingsFor = Callable[[sources.MigrationSet], Settings]


def lint(paths: list[str], cwd: Path, settings_for: SettingsFor, rules: Iterable[Rule] = ALL_RULES,
         cache: ReplayCache | None = None) -> LintResult:
    discovery = sources.discover(paths, cwd)
    diagnostics: list[Diagnostic] = []
    errors: list[SourceError] = list(discovery.errors)
    notes: list[Note] = []
    texts: dict[str, SourceText] = {}
    tables: list[TablePosture] = []
    files_checked = 0
    for migration_set in discovery.sets:
        settings = settings_for(migration_set)
        parsed, catalog, set_errors = _replay_set(migration_set, texts, cache)
        errors.extend(set_errors)
        notes.extend(n for n in catalog.notes if _wanted(n.span.path, migration_set))
        # Suppressions see the whole set: a comment in an old migration can excuse a finding
        # that a targeted file caused, so only then are findings narrowed to the targets.
        paths = {f.display: f.path for f in migration_set.files}
        suppressed = suppress.apply(run_rules(catalog, settings, rules), parsed, texts, catalog, settings, rules, paths)
        for diagnostic in (*suppressed.kept, *suppressed.findings):
            if _wanted(diagnostic.span.path, migration_set):
                diagnostics.append(diagnostic)
        tables.extend(posture(t, settings) for t in catalog.tables.values()
                      if _wanted(t.created.path, migration_set) or _wanted(t.changed.path, migration_set))
        files_checked += len(migration_set.targets) if migration_set.targets is not None else len(migration_set.files)
    diagnostics.sort(key=lambda d: (d.span.path, d.span.start, d.code, d.object, d.columns))
    errors.sort(key=lambda e: (e.path, e.offset if e.offset is not None else -1))
    notes.sort(key=lambda n: (n.span.path, n.span.start))
    tables.sort(key=lambda t: t.name)
    return LintResult(tuple(diagnostics), tuple(errors), tuple(notes), texts, files_checked, tuple(tables))


def run_rules(catalog: Catalog, settings: Settings, rules: Iterable[Rule] = ALL_RULES) -> list[Diagnostic]:
    ctx = RuleContext(catalog, settings)
    found: list[Diagnostic] = []
    for rule in rules:
        if settings.runs(rule):
            found.extend(rule.check(rule, ctx))
    return found


def posture(table: Table, settings: Settings) -> TablePosture:
    """The table's checklist row, judged by the same predicates as the rules."""
    owner_fks = [fk for fk in table.foreign_keys if fk.ref_table in settings.owner_tables]
    accepted = frozenset(owner_fk_without_cascade.RULE.option(settings, "on-delete"))
    return TablePosture(
        name=str(table.qname),
        exposed=table.qname.schema in settings.exposed_schemas,
        rls=table.rls,
        covered=covered_commands(table),
        fk_indexed=all(leads_index(table, fk.columns) for fk in table.foreign_keys) if table.foreign_keys else None,
        owner_fk_ok=not any(owner_fk_blocks_delete(table, fk, accepted) for fk in owner_fks) if owner_fks else None,
    )


def _wanted(path: str, migration_set: sources.MigrationSet) -> bool:
    return migration_set.targets is None or path in migration_set.targets


def _replay_set(migration_set: sources.MigrationSet, texts: dict[str, SourceText],
                cache: ReplayCache | None) -> tuple[list[ParsedFile], Catalog, list[SourceError]]:
    """Parse and replay a set: the files parsed this run, the final model, parse errors.

    With a cache, the longest stored prefix of the set is loaded instead of replayed, and
    only the files after it are parsed; files before it are parsed again only when they
    hold suppression comments, which the suppression stage reads from the statements.
    """
    readable = [f for f in migration_set.files if f.text is not None]
    for file in readable:
        texts[file.display] = SourceText(file.display, file.text, LineIndex(file.text))
    if cache is None:
        parsed = [parse_file(f.display, f.text) for f in readable]
        return parsed, replay(parsed), [e for p in parsed for e in p.errors]
    replayer = Replayer()
    keys = cache.prefix_keys(migration_set.root, [(f.display, f.text) for f in readable], replayer.strict)
    snapshot = cache.load_longest(migration_set.root, keys)
    start = snapshot.files if snapshot else 0
    replayer = snapshot.replayer if snapshot else replayer
    errors = list(snapshot.errors) if snapshot else []
    parsed = [parse_file(f.display, f.text) for f in readable[:start] if suppress.MARKER in f.text]
    before_last: bytes | None = None
    for k, file in enumerate(readable[start:], start):
        if k == len(readable) - 1 and k > start:
            before_last = ReplayCache.freeze(Snapshot(k, replayer, tuple(errors)))
        current = parse_file(file.display, file.text)
        parsed.append(current)
        errors.extend(current.errors)
        replayer.replay_file(current)
    catalog = replayer.catalog()
    cache.store(migration_set.root, keys, Snapshot(len(readable), replayer, tuple(errors)), before_last)
    return parsed, catalog, errors


def build_catalog(directory: Path, strict: bool | None = None) -> Catalog:
    """The schema model after every migration in ``directory`` ran (used by tests and tools)."""
    discovery = sources.discover([str(directory)], Path.cwd())
    files = [parse_file(f.display, f.text) for s in discovery.sets for f in s.files if f.text is not None]
    return replay(files, strict=strict)
