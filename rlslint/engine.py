"""The pipeline: sources -> history (parse, replay) [-> verify] -> rules -> suppressions -> report-ready result.

One direction, no back edges; every stage hands plain data to the next. With
``--verify``, the history's statement-by-statement trace is applied to a real PostgreSQL
(``rlslint.verify``) before the rules run, and the rules see what it found.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple

from rlslint import checklist, comparison, history, results, sources, suppress
from rlslint.cache import ReplayCache
from rlslint.deep import run_deep
from rlslint.diagnostics import Diagnostic, LintResult, Note, SetReport, SourceError, SourceText, TablePosture
from rlslint.layouts import LAYOUTS
from rlslint.rules import ALL_RULES, KNOWN_RULES, SUPPRESSION_RULES, VERIFY_RULES
from rlslint.rules.base import Rule, RuleContext
from rlslint.schema.model import Catalog
from rlslint.settings import Settings
from rlslint.sql.problems import strict_mode
from rlslint.sql.spans import LineIndex
from rlslint.verify import VerifyError

if TYPE_CHECKING:  # rlslint access and --baseline load these; a plain check needs neither
    from rlslint.access_matrix import AccessMatrix
    from rlslint.baseline import Baseline
    from rlslint.sql.parse import ParsedFile  # the parser and the replay load only where a set is replayed
    from rlslint.verify.verifier import Verification, Verifier

SettingsFor = Callable[[sources.MigrationSet], Settings]


def lint(paths: list[str], cwd: Path, settings_for: SettingsFor, rules: Iterable[Rule] = ALL_RULES,
         cache: ReplayCache | None = None, baseline: Baseline | None = None, layout: str | None = None,
         declared: tuple[sources.DeclaredSet, ...] = (), verifier: Verifier | None = None) -> LintResult:
    """``baseline``: findings it records are not reported. ``layout`` and ``declared``: see ``sources.discover``.
    ``verifier``: apply each set to its PostgreSQL too (``rlslint check --verify``)."""
    return run_deep(_lint, paths, cwd, settings_for, rules, cache, baseline, layout, declared, verifier)


def _lint(paths: list[str], cwd: Path, settings_for: SettingsFor, rules: Iterable[Rule], cache: ReplayCache | None,
          baseline: Baseline | None, layout: str | None, declared: tuple[sources.DeclaredSet, ...],
          verifier: Verifier | None) -> LintResult:
    discovery = sources.discover(paths, cwd, layout, declared)
    texts: dict[str, SourceText] = {}
    results = [_lint_set_guarded(s, settings_for, texts, cache, tuple(rules), baseline, cwd, verifier)
               for s in discovery.sets]
    # Report in apply order (2_b.sql before 10_a.sql), not in the order of the path text.
    order = {f.display: (i, j) for i, s in enumerate(discovery.sets) for j, f in enumerate(s.files)}
    place = lambda path: (order.get(path, (len(order), 0)), path)  # noqa: E731
    diagnostics = sorted((d for r in results for d in r.diagnostics),
                         key=lambda d: (place(d.span.path), d.span.start, d.code, d.object, d.columns))
    errors = sorted((*discovery.errors, *(e for r in results for e in r.errors)),
                    key=lambda e: (place(e.path), e.offset if e.offset is not None else -1))
    notes = sorted((n for r in results for n in r.notes), key=lambda n: (place(n.span.path), n.span.start))
    tables = sorted((t for r in results for t in r.tables), key=lambda t: t.name)
    files = sum(len(s.targets) if s.targets is not None else len(s.files) for s in discovery.sets)
    unanalysed = sorted((n for r in results for n in r.unanalysed), key=lambda n: (place(n.span.path), n.span.start))
    remarks = tuple(dict.fromkeys(m for r in results for m in r.remarks))
    return LintResult(tuple(diagnostics), tuple(errors), tuple(notes), texts, files, tuple(tables),
                      tuple(r.report for r in results), tuple(unanalysed), remarks)


class _SetResult(NamedTuple):
    diagnostics: list[Diagnostic]
    errors: list[SourceError]
    notes: list[Note]
    tables: list[TablePosture]
    report: SetReport
    unanalysed: list[Note]
    remarks: list[str]


def _lint_set_guarded(migration_set: sources.MigrationSet, settings_for: SettingsFor, texts: dict[str, SourceText],
                      cache: ReplayCache | None, rules: tuple[Rule, ...], baseline: Baseline | None,
                      cwd: Path, verifier: Verifier | None = None) -> _SetResult:
    """A failure rlslint did not foresee costs this set its findings, never the other sets."""
    settings = settings_for(migration_set)  # a ConfigError is the user's to fix: the command line reports it
    try:
        return _lint_set(migration_set, settings, texts, cache, rules, baseline, cwd, verifier)
    except VerifyError:
        raise  # the server is gone: no later set can be verified either
    except Exception as exc:
        if strict_mode():
            raise
        where = sources.display_path(migration_set.root, cwd)
        report = SetReport(where, tuple(f.display for f in migration_set.files), settings.fail_on, MappingProxyType({}))
        return _SetResult([], [SourceError.internal(where, "checking this migration set", exc)], [], [], report, [], [])


def _lint_set(migration_set: sources.MigrationSet, settings: Settings, texts: dict[str, SourceText],
              cache: ReplayCache | None, rules: tuple[Rule, ...], baseline: Baseline | None, cwd: Path,
              verifier: Verifier | None = None) -> _SetResult:
    for file in migration_set.files:
        if file.text is not None:
            texts[file.display] = SourceText(file.display, file.text, LineIndex(file.text))
    keep = lambda text: suppress.MARKER in text  # noqa: E731
    start = history.start_of(migration_set, settings.platform)
    compare = migration_set.targets is not None and not LAYOUTS[migration_set.layout].declarative
    stored = None
    if cache is not None and verifier is None and all(r in KNOWN_RULES for r in rules):  # the registry's own rules
        stored = _Stored(migration_set, settings, rules, cache, start, compare)
        if stored.result is not None and (stored.without is not None or not compare):
            # This state of the set was judged before under this selection: no replay, no rule.
            return _finish(migration_set, settings, texts, rules, baseline, cwd, stored.result,
                           history.parsed_files(migration_set, keep), stored.without.identities if compare else None)
    tracer = None
    if verifier is not None:
        from rlslint.verify.trace import Tracer

        tracer = Tracer()
    replayed = history.replay_set(migration_set, keep=keep, cache=cache, observer=tracer, start=start,
                                  keys=stored.keys if stored is not None else None)
    verification = None
    if verifier is not None and tracer is not None:
        verification = verifier.verify(tracer.files(), replayed.catalog, frozenset(e.path for e in replayed.errors))
        rules = (*rules, *VERIFY_RULES)
    # Tables the model could not know are judged as PostgreSQL left them, when it was asked.
    catalog = verification.catalog_for_rules(replayed.catalog) if verification is not None else replayed.catalog
    if stored is not None and stored.result is not None:
        judged = stored.result
    else:
        judged = _judge(catalog, settings, rules, replayed.errors, fixes=stored is not None, verification=verification)
        if stored is not None:
            stored.store(stored.name, judged)
    existed = None
    if compare and replayed.without_targets is not None:
        if stored is not None and stored.first is not None:  # the newest files are named: judge the rest once for all
            if stored.without is None:
                before = {f.display for f in migration_set.files[: stored.first]}
                stored.without = _judge(replayed.without_targets, settings, rules,
                                        [e for e in replayed.errors if e.path in before], fixes=True)
                stored.store(stored.without_name, stored.without)
            existed = stored.without.identities
        else:
            verified = {r.code for r in VERIFY_RULES}  # never compared: a difference is where it is
            existed = comparison.findings_without(catalog, replayed.without_targets, settings,
                                                  [r for r in rules if r.code not in verified], judged.found)
    return _finish(migration_set, settings, texts, rules, baseline, cwd, judged, replayed.kept, existed)


def _judge(catalog: Catalog, settings: Settings, rules: tuple[Rule, ...], errors: Iterable[SourceError], fixes: bool,
           verification: Verification | None = None) -> results.Result:
    """The rules' findings on the model, with what the later stages read of it."""
    ctx = RuleContext(catalog, settings, verification)
    ran = tuple(rule for rule in rules if settings.runs(rule) and (ctx.api_roles or not rule.needs_api_roles))
    found = run_rules(catalog, settings, ran, fixes=fixes, verification=verification)
    tables = list(catalog.tables.values())
    return results.Result(
        found=tuple(found),
        ran=tuple(r.code for r in ran),
        rows=tuple(results.Row(row, t.created.path, t.changed.path)
                   for t, row in zip(tables, checklist.rows(tables, settings, found, ran))),
        notes=(*catalog.notes, *(verification.notes if verification is not None else ())),
        unanalysed=catalog.unanalysed,
        targets=tuple(catalog.targets.items()),
        errors=(*errors, *(verification.errors if verification is not None else ())),
        remarks=tuple(skipped_rules_remark(ctx, rules)),
    )


def _finish(migration_set: sources.MigrationSet, settings: Settings, texts: dict[str, SourceText],
            rules: tuple[Rule, ...], baseline: Baseline | None, cwd: Path, judged: results.Result,
            kept: Iterable[ParsedFile], existed: set[tuple[str, ...]] | None) -> _SetResult:
    """The stages after the rules, the same over fresh findings and stored ones. ``existed``:
    the identities of the findings had the named files never been written."""
    wanted = lambda path: _wanted(path, migration_set)  # noqa: E731
    ran = tuple(r for r in rules if r.code in judged.ran)
    # Suppressions see the whole set: a comment in an old migration can excuse a finding
    # that a named file caused, so only after them are findings narrowed to those files.
    inputs = suppress.Inputs(tuple(kept), texts, {f.display: f.path for f in migration_set.files},
                             MappingProxyType(dict(judged.targets)))
    suppressed = suppress.apply(judged.found, inputs, settings, frozenset(judged.ran), baseline)
    reported = [d for d in (*suppressed.kept, *suppressed.findings) if wanted(d.span.path)]
    if existed is not None:
        # Named files also answer for findings they cause elsewhere: a DROP POLICY in a new
        # migration leaves the finding on the old ENABLE statement, where it did not exist.
        verified = {r.code for r in VERIFY_RULES}  # a difference is where it is, never caused elsewhere
        reported += [d for d in suppressed.kept
                     if d.identity not in existed and not wanted(d.span.path) and d.code not in verified]
    return _SetResult(
        diagnostics=[d.with_fix() for d in reported],  # fixes are printed for reported findings only
        errors=list(judged.errors),
        notes=[n for n in judged.notes if wanted(n.span.path)],
        tables=[r.posture for r in judged.rows if wanted(r.created) or wanted(r.changed)],
        report=SetReport(
            sources.display_path(migration_set.root, cwd), tuple(f.display for f in migration_set.files), settings.fail_on,
            MappingProxyType({r.code: r.severity(settings) for r in (*ran, *SUPPRESSION_RULES) if settings.runs(r)}),
        ),
        # All of the set's: they decide verdicts on tables whichever files were named.
        unanalysed=list(judged.unanalysed),
        remarks=list(judged.remarks),
    )


class _Stored:
    """The set's stored results (rlslint/results.py): of its whole history, and, when the
    named files are its newest (the usual pre-commit run), of the history before them, which
    then answers the comparison with no rule run."""

    def __init__(self, migration_set: sources.MigrationSet, settings: Settings, rules: tuple[Rule, ...],
                 cache: ReplayCache, start: str | None, compare: bool) -> None:
        self.cache, self.root = cache, migration_set.root
        self.keys = history.prefix_keys(migration_set, cache, start)
        selected = [r.code for r in rules if settings.runs(r)]
        self.name = results.key(self.keys[-1], settings, selected)
        self.result = cache.load_result(self.root, self.name)
        self.first: int | None = None  # the first named file, when the named files are the newest
        self.without: results.Result | None = None
        if compare:
            readable = [f for f in migration_set.files if f.text is not None]
            named = [i for i, f in enumerate(readable) if f.display in migration_set.targets]
            if named and named == list(range(named[0], len(readable))):
                self.first = named[0]
                self.without_name = results.key(self.keys[self.first], settings, selected)
                self.without = cache.load_result(self.root, self.without_name)

    def store(self, name: str, result: results.Result) -> None:
        self.cache.store_result(self.root, name, result)


def run_rules(catalog: Catalog, settings: Settings, rules: Iterable[Rule] = ALL_RULES,
              fixes: bool = True, verification: Verification | None = None) -> list[Diagnostic]:
    """Every rule's findings on the model; with ``fixes=False`` costly fixes stay unbuilt."""
    ctx = RuleContext(catalog, settings, verification)
    found: list[Diagnostic] = []
    for rule in rules:
        if settings.runs(rule) and (ctx.api_roles or not rule.needs_api_roles):
            found.extend(rule.run(ctx))
    if catalog.unanalysed:
        found = [_depends_on_unanalysed(d, catalog) for d in found]
    return [d.with_fix() for d in found] if fixes else found


_UNANALYSED = ("; this verdict depends on SQL rlslint could not analyse (built at run time, listed at the end "
               "of the output): `rlslint check --verify` decides it on a real PostgreSQL")


def _depends_on_unanalysed(diagnostic: Diagnostic, catalog: Catalog) -> Diagnostic:
    """A finding on a table that unanalysed SQL may have changed says so."""
    qname = diagnostic.subject.table
    table = catalog.table(qname) if qname is not None else None
    if table is None or not table.unanalysed:
        return diagnostic
    return replace(diagnostic, message=diagnostic.message + _UNANALYSED)


def skipped_rules_remark(ctx: RuleContext, rules: Iterable[Rule]) -> list[str]:
    """One line when the rules about API access had no role to judge."""
    skipped = [r.code for r in rules if r.needs_api_roles and ctx.settings.runs(r)]
    if not skipped or ctx.api_roles:
        return []
    return [f"no API role found (no Supabase roles, no role named by a grant or policy): {', '.join(skipped)} "
            "were skipped; set api-roles = [\"<role your application connects as>\"] to run them"]


def _wanted(path: str, migration_set: sources.MigrationSet) -> bool:
    return migration_set.targets is None or path in migration_set.targets


def build_catalog(directory: Path, strict: bool | None = None, start: str | None = None) -> Catalog:
    """The schema model after every migration in ``directory`` ran (used by tests and tools)."""
    from rlslint.schema.replay import replay
    from rlslint.sql.parse import parse_file

    def build() -> Catalog:
        discovery = sources.discover([str(directory)], Path.cwd())
        files = [parse_file(f.display, f.text) for s in discovery.sets for f in s.files if f.text is not None]
        return replay(files, strict=strict, start=start)

    return run_deep(build)


def access(paths: list[str], cwd: Path, settings_for: SettingsFor, roles: tuple[str, ...] = (), layout: str | None = None,
           declared: tuple[sources.DeclaredSet, ...] = ()) -> tuple[AccessMatrix, tuple[SourceError, ...]]:
    """``rlslint access``: the access matrix of every migration set, for ``roles`` or each set's
    API roles, and what could not be read or parsed. ``layout``, ``declared``: as for ``lint``."""
    return run_deep(_access, paths, cwd, settings_for, roles, layout, declared)


def _access(paths: list[str], cwd: Path, settings_for: SettingsFor, roles: tuple[str, ...], layout: str | None,
            declared: tuple[sources.DeclaredSet, ...]) -> tuple[AccessMatrix, tuple[SourceError, ...]]:
    from rlslint import access_matrix

    discovery = sources.discover(paths, cwd, layout, declared)
    shown: list[str] = list(roles)
    tables: list[access_matrix.TableAccess] = []
    errors = list(discovery.errors)
    for migration_set in discovery.sets:
        settings = settings_for(migration_set)
        replayed = history.replay_set(migration_set, keep=lambda text: False,
                                      start=history.start_of(migration_set, settings.platform))
        errors.extend(replayed.errors)
        wanted = roles or RuleContext(replayed.catalog, settings).api_roles
        shown += [r for r in wanted if r not in shown]
        tables += access_matrix.matrix(replayed.catalog, tuple(wanted), settings.exposed_schemas).tables
    return access_matrix.AccessMatrix(tuple(shown), tuple(sorted(tables, key=lambda t: t.table))), tuple(errors)
