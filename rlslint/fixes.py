"""``rlslint fix``: the fixes of the selected findings, as one new migration after the others.

Nothing here edits a migration that exists: applied migrations are history, and a tool
that rewrote them would make the database and the repository disagree. The new file is
replayed after the history before it is written, so its header says exactly which
findings it resolves and which it leaves to a person, and a fix that brings new findings
into play (enabling RLS makes a table's missing policies matter) gets their fixes too.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rlslint import sources
from rlslint.diagnostics import Diagnostic, LintResult
from rlslint.engine import run_rules
from rlslint.escape import visible
from rlslint.history import start_of
from rlslint.rules.base import Rule
from rlslint.schema.replay import replay_file
from rlslint.schema.state import ReplayState
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from rlslint.sql.problems import strict_mode

NAME = "rlslint_fixes"
# A fix can bring findings into play whose own fixes bring more; a few rounds settle it.
MAX_ROUNDS = 3


class FixError(Exception):
    """The migration cannot be written; the message says why, in one line."""


@dataclass(frozen=True)
class FixMigration:
    path: Path  # a file that does not exist yet
    display: str  # as the user names it
    text: str
    fixed: tuple[Diagnostic, ...]  # resolved once the file is applied
    left: tuple[Diagnostic, ...]  # still reported after it: a person decides


def plan(migration_set: sources.MigrationSet, result: LintResult, settings: Settings, rules: tuple[Rule, ...],
         cwd: Path, now: datetime | None = None) -> FixMigration | None:
    """The fix migration for one set's reported findings, or None when nothing is to be fixed."""
    displays = {f.display for f in migration_set.files}
    reported = [d for d in result.diagnostics if d.span.path in displays]
    if not reported:
        return None
    path = next_path(migration_set, now)
    display = sources.display_path(path, cwd)
    history = ReplayState(strict_mode(), start_of(migration_set, settings.platform))
    for file in migration_set.files:
        if file.text is not None:
            replay_file(parse_file(file.display, file.text), history)
    # Findings the suppressions removed stay removed: they are not this migration's business.
    silenced = {d.identity for d in run_rules(history.catalog(), settings, rules, fixes=False)} - {
        d.identity for d in reported}
    attempted: list[Diagnostic] = []
    remaining = reported
    for _ in range(MAX_ROUNDS):
        tried = {a.identity for a in attempted}
        new = [d for d in remaining if d.fixable and d.identity not in tried]
        if not new:
            break
        attempted += new
        remaining = _after(history, display, render(attempted, (), display), settings, rules, silenced)
    left = tuple(remaining)
    left_ids = {d.identity for d in left}
    fixed = tuple(d for d in attempted if d.identity not in left_ids)
    advice = [d for d in reported if not d.fixable]
    return FixMigration(path, display, render(attempted, left, display, advice), fixed, left)


def _after(history: ReplayState, display: str, text: str, settings: Settings, rules: tuple[Rule, ...],
           silenced: set) -> list[Diagnostic]:
    """The findings once the history and then ``text`` have run."""
    state = history.copy()  # the history is replayed once; each round runs on a copy
    parsed = parse_file(display, text)
    if parsed.errors:
        raise FixError(f"{display}: the fixes do not parse ({parsed.errors[0].message}); this is a bug in rlslint")
    replay_file(parsed, state)
    return [d for d in run_rules(state.catalog(), settings, rules) if d.identity not in silenced]


def render(fixes: list[Diagnostic], left: tuple[Diagnostic, ...] | list[Diagnostic], display: str,
           advice: list[Diagnostic] = ()) -> str:
    """The migration: a header listing what it fixes and what it leaves, then each fix under
    a comment naming its finding. Advice-only fixes come last, as comments."""
    lines = ["-- Written by `rlslint fix`. It changes nothing by itself: review it, then apply it",
             "-- after the other migrations.", "--"]
    left_ids = {d.identity for d in left}
    fixed = [d for d in fixes if d.identity not in left_ids]
    if fixed:
        lines.append(f"-- Fixes {len(fixed)} finding{'s' if len(fixed) != 1 else ''}:")
        lines += [f"--   {label(d)}" for d in fixed]
    if left:
        lines.append(f"-- Leaves {len(left)} to a person (rlslint still reports them once this has run):")
        lines += [f"--   {label(d)}: {_reason(d)}" for d in left]
    blocks = ["\n".join(lines)]
    seen: set[str] = set()
    for d in [*fixes, *(a for a in advice if a.identity not in {f.identity for f in fixes})]:
        if d.fix in seen:
            continue  # two rules asking for the same index, or RLS001 and RLS003 enabling RLS
        seen.add(d.fix)
        blocks.append(f"-- {label(d)}\n{d.fix}")
    return "\n\n".join(blocks) + "\n"


def label(d: Diagnostic) -> str:
    what = d.object + (f" ({', '.join(d.columns)})" if d.columns else "") + (
        f" {', '.join(d.commands)}" if d.commands else "")
    return visible(f"{d.code} {d.name}: {what}")  # a comment line: names must not break it


def _reason(d: Diagnostic) -> str:
    """The first line of the advice, or, for a finding the fixes bring into play, its message."""
    first = next((line for line in d.fix.splitlines() if line.startswith("--")), "")
    return visible(first.removeprefix("--").strip().rstrip(";:,.") or d.message)  # a comment line


def diff(migration: FixMigration) -> str:
    """The new file as a unified diff against nothing, as ``git diff`` shows a new file."""
    return "".join(difflib.unified_diff([], migration.text.splitlines(keepends=True), "/dev/null",
                                        f"b/{migration.display}"))


def write(migration: FixMigration) -> None:
    """Create the file, never replacing one: a link from a finished temporary file fails if
    the name is taken, and a cancelled run leaves no half-written migration behind."""
    migration.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=migration.path.parent, prefix=f".{migration.path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(migration.text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.link(tmp, migration.path)
    except FileExistsError:
        raise FixError(f"{migration.display} already exists; rlslint never replaces a migration") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def next_path(migration_set: sources.MigrationSet, now: datetime | None = None) -> Path:
    """Where the set's tool expects its next migration (``rlslint.layouts``), sorting after every
    existing one: a timestamp is never earlier than one second after the newest version."""
    if migration_set.naming is None:
        raise FixError(f"{migration_set.layout} files are not migrations that run in order; "
                       "run `rlslint fix` on the migrations directory")
    moment = now or datetime.now(timezone.utc)
    stamps = [v for v in migration_set.versions if len(v) == 14 and v.isdigit()]
    if migration_set.naming.version == "timestamp" and stamps:
        try:
            newest = datetime.strptime(max(stamps), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
            moment = max(moment, newest + timedelta(seconds=1))
        except ValueError:  # not a date: the layout's own naming decides
            pass
    return migration_set.next_file(NAME, moment)
