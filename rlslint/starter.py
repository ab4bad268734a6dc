"""``rlslint init``: a commented starter configuration that matches the project it finds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rlslint import history
from rlslint.config import ConfigError, settings_for_root, supabase_exposed_schemas
from rlslint.layouts import LAYOUTS
from rlslint.rules import ALL_RULES, KNOWN_RULES
from rlslint.schema import acl
from rlslint.sources import MigrationSet, discover, display_path
from rlslint.writing import WriteError, write_text


@dataclass(frozen=True)
class Project:
    root: Path  # where the config goes
    sets: tuple[MigrationSet, ...]  # what rlslint finds here without being told
    supabase_schemas: frozenset[str] | None  # [api] schemas of the first set's supabase/config.toml
    api_roles: tuple[tuple[str, ...], ...] = ()  # per set, the API roles detected while api-roles is unset

    @property
    def first_migration(self) -> Path | None:
        return next((f.path for s in self.sets for f in s.files), None)


def find_project(cwd: Path) -> Project:
    """The sets a plain ``rlslint`` run would lint from ``cwd``; the config goes above all of them."""
    sets = discover([], cwd).sets
    if not sets:
        return Project(cwd, (), None)
    homes = [_home(s.root) for s in sets]
    root = Path(os.path.commonpath([str(h) for h in homes]))
    return Project(root, sets, supabase_exposed_schemas(sets[0].root), tuple(detected_api_roles(s) for s in sets))


def detected_api_roles(migration_set: MigrationSet) -> tuple[str, ...]:
    """The roles the RLS rules judge in this set while ``api-roles`` is unset: its replay decides."""
    settings = settings_for_root(migration_set.root)
    replayed = history.replay_set(migration_set, keep=lambda text: False,
                                  start=history.start_of(migration_set, settings.platform))
    return acl.detected_api_roles(replayed.catalog.access, replayed.catalog.tables.values())


def _home(root: Path) -> Path:
    """The project a set belongs to: above ``supabase/``, ``prisma/`` or ``db/``."""
    if root.name == "supabase":
        return root.parent
    return root.parent.parent if root.parent.name in ("supabase", "prisma", "db") else root.parent


def starter_path(project: Project, choice: str | None) -> Path:
    """pyproject.toml when the project has one (or when asked), else rlslint.toml."""
    pyproject = project.root / "pyproject.toml"
    if choice is None:
        choice = "pyproject.toml" if pyproject.is_file() else "rlslint.toml"
    path = project.root / choice
    if (project.root / "rlslint.toml").is_file():
        raise ConfigError(f"{project.root / 'rlslint.toml'}: already exists; rlslint init does not overwrite it")
    if path.name == "pyproject.toml" and path.is_file() and "[tool.rlslint" in _read(path):
        raise ConfigError(f"{path}: already has a [tool.rlslint] table; rlslint init does not overwrite it")
    return path


def _selection_lines() -> list[str]:
    """The rule selection, as the registry declares it."""
    checklist = ", ".join(r.code for r in ALL_RULES if r.checklist)
    advisors_on = " and ".join(r.code for r in ALL_RULES if r.default_enabled and not r.checklist)
    prefixes = dict.fromkeys(r.code.rstrip("0123456789") for r in KNOWN_RULES if r.default_enabled)
    opt_in = sorted(r.code for r in KNOWN_RULES if not r.default_enabled)
    return ["", "# Which rules run: codes, names or code prefixes such as IDX. Default: the checklist",
            f"# ({checklist}), {advisors_on} and the suppression checks; the other",
            "# advisor rules are opt-in (`rlslint rules` marks them).",
            f"# select = {json.dumps(list(prefixes))}", "# ignore = []",
            f"# extend-select = {json.dumps(opt_in)}"]


def starter_text(project: Project, in_pyproject: bool) -> str:
    """Every setting, commented out where rlslint already does the same without it.

    An active line would freeze today's detection: an ``exposed-schemas`` here would
    override ``supabase/config.toml`` from then on, a ``migrations`` list would hide a set
    added later.
    """
    table = "tool.rlslint" if in_pyproject else ""
    sub = lambda name: f"[{table}.{name}]" if table else f"[{name}]"  # noqa: E731
    lines = ["# rlslint configuration (`rlslint rules` lists every rule; `rlslint rule CODE` explains one)."]
    for migration_set in project.sets:
        lines.append(f"# Found migrations in {_relative(migration_set.root, project.root)} ({migration_set.layout} layout).")
    if not project.sets:
        lines.append("# No migrations found here: list them in a [[migrations]] table below.")
    if table:
        lines.append(f"[{table}]")
    lines += ["", "# Schemas the API serves: RLS rules apply to their tables."]
    if project.supabase_schemas is not None:
        lines.append("# Read from supabase/config.toml ([api] schemas) while unset; set it to override:")
        lines.append(f"# exposed-schemas = {json.dumps(sorted(project.supabase_schemas))}")
    else:
        lines.append('# exposed-schemas = ["public"]')
    lines += _api_roles_lines(project)
    lines += ["", "# Tables whose rows other tables belong to: a foreign key to one must say what happens",
              "# when the owner is deleted (accepted actions: [rules.FK001] on-delete).",
              '# owner-tables = ["auth.users"]',
              "", "# Lowest severity that makes rlslint exit 1: error, warning or info.", '# fail-on = "warning"',
              *_selection_lines(),
              "", "# Every inline suppression (-- rlslint: ignore[CODE] reason) must give its reason.",
              "require-suppression-reason = true",
              "", "# Files still replayed for context but never reported on (globs; relative to this file).",
              "# exclude = []"]
    lines += ["", "# Rules turned off for some files.", f"# {sub('per-file-ignores')}"]
    example = (_relative(project.first_migration, project.root)
               if project.first_migration is not None else "migrations/0001_init.sql")
    lines.append(f'# "{example}" = ["IDX001"]')
    for rule in KNOWN_RULES:
        if not rule.options:
            continue
        lines += ["", f"# {rule.code} {rule.name}: severity and options.", f"# {sub('rules.' + rule.code)}",
                  f'# severity = "{rule.default_severity.label}"']
        for option in rule.options:
            lines += [f"# {option.doc}", f"# {option.name} = {json.dumps(option.default)}"]
    example_set = _relative(project.sets[0].root, project.root) if project.sets else "db/migrations"
    lines += ["", "# Migration sets, when rlslint should not look for them itself (paths relative to this file;",
              f"# layout: one of {', '.join(LAYOUTS)}; exposed-schemas: the set's own).",
              f"# [{sub('migrations')}]", f'# path = "{example_set}"',
              f'# layout = "{project.sets[0].layout if project.sets else "plain"}"']
    lines += ["", "# Adopting rlslint on an existing project: record today's findings once with",
              "#   rlslint --write-baseline .rlslint-baseline.json",
              "# and fail only on new ones with `rlslint --baseline .rlslint-baseline.json`."]
    return "\n".join(lines) + "\n"


def _api_roles_lines(project: Project) -> list[str]:
    """What detection found, set by set, and the setting that names the roles instead.

    Commented out like the others: detection follows the migrations (a role granted later
    is judged too), a written list would not.
    """
    lines = ["", "# The roles API clients connect as: the RLS rules judge what they can reach. While unset,",
             "# Supabase projects judge anon and authenticated, other projects the roles their own grants",
             "# and policies name (not the migration role, owners or roles that bypass RLS)."
             + (" Detected:" if project.sets else "")]
    for migration_set, roles in zip(project.sets, project.api_roles):
        found = ", ".join(roles) if roles else "none, so the RLS rules are skipped there"
        lines.append(f"#   {_relative(migration_set.root, project.root)}: {found}")
    detected = next((roles for roles in project.api_roles if roles), ())
    lines.append(f"# api-roles = {json.dumps(list(detected or ['<role your application connects as>']))}")
    return lines


def _relative(path: Path, root: Path) -> str:
    return display_path(path, root) or "."


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid UTF-8 (byte 0x{exc.object[exc.start]:02x}); not changed") from None


def write_starter(cwd: Path, choice: str | None) -> tuple[Path, Project]:
    """Atomically: a full disk or a kill leaves an existing pyproject.toml exactly as it was."""
    project = find_project(cwd)
    path = starter_path(project, choice)
    text = starter_text(project, path.name == "pyproject.toml")
    if path.is_file():
        existing = _read(path)
        text = existing + ("" if existing.endswith("\n") else "\n") + "\n" + text
    try:
        write_text(path, text)
    except WriteError as exc:
        raise ConfigError(str(exc)) from None
    return path, project
