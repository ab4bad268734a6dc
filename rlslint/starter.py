"""``rlslint init``: a commented starter configuration that matches the project it finds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rlslint.config import ConfigError, supabase_exposed_schemas
from rlslint.rules import KNOWN_RULES
from rlslint.repository import KNOWN_LAYOUTS
from rlslint.sources import discover


@dataclass(frozen=True)
class Project:
    root: Path  # where the config goes
    migrations: Path | None
    layout: str | None
    first_migration: Path | None
    supabase_schemas: frozenset[str] | None


def find_project(cwd: Path) -> Project:
    for directory in (cwd, *cwd.parents):
        for layout in KNOWN_LAYOUTS:
            if (directory / layout).is_dir():
                if directory.name == "supabase" and layout == "migrations":
                    directory, layout = directory.parent, "supabase/migrations"  # reached from inside supabase/
                found = discover([str(directory / layout)], directory).sets
                files = found[0].files if found else ()
                return Project(directory, directory / layout, found[0].layout if found else None,
                               files[0].path if files else None, supabase_exposed_schemas(directory / layout))
    return Project(cwd, None, None, None, None)


def starter_path(project: Project, choice: str | None) -> Path:
    """pyproject.toml when the project has one (or when asked), else rlslint.toml."""
    pyproject = project.root / "pyproject.toml"
    if choice is None:
        choice = "pyproject.toml" if pyproject.is_file() else "rlslint.toml"
    path = project.root / choice
    if (project.root / "rlslint.toml").is_file():
        raise ConfigError(f"{project.root / 'rlslint.toml'}: already exists; rlslint init does not overwrite it")
    if path.name == "pyproject.toml" and path.is_file() and "[tool.rlslint" in path.read_text(encoding="utf-8"):
        raise ConfigError(f"{path}: already has a [tool.rlslint] table; rlslint init does not overwrite it")
    return path


def starter_text(project: Project, in_pyproject: bool) -> str:
    table = "tool.rlslint" if in_pyproject else ""
    sub = lambda name: f"[{table}.{name}]" if table else f"[{name}]"  # noqa: E731
    lines = ["# rlslint configuration (`rlslint rules` lists every rule; `rlslint rule CODE` explains one)."]
    if project.migrations is not None:
        lines.append(f"# Found migrations in {project.migrations.relative_to(project.root).as_posix()} "
                     f"({project.layout} layout).")
    if table:
        lines.append(f"[{table}]")
    lines += ["", "# Schemas the API serves: RLS rules apply to their tables."]
    if project.supabase_schemas is not None:
        schemas = json.dumps(sorted(project.supabase_schemas))
        lines += ["# Read from supabase/config.toml ([api] schemas) while unset; set it to override:",
                  f"# exposed-schemas = {schemas}"]
    else:
        lines.append('exposed-schemas = ["public"]')
    lines += ["", "# Tables whose rows other tables belong to: a foreign key to one must say what happens",
              "# when the owner is deleted (accepted actions: [rules.FK001] on-delete)."]
    is_supabase = project.layout == "supabase"
    lines.append(('' if is_supabase else '# ') + 'owner-tables = ["auth.users"]')
    lines += ["", "# Lowest severity that makes rlslint exit 1: error, warning or info.", 'fail-on = "warning"',
              "", "# Which rules run: codes, names or code prefixes such as IDX. Default: the checklist",
              "# (RLS001, RLS002, IDX001, IDX002, FK001), SEC001 and the suppression checks; the other",
              "# advisor rules are opt-in (`rlslint rules` marks them).",
              '# select = ["RLS", "IDX", "FK", "SEC", "SUP"]', "# ignore = []",
              '# extend-select = ["PERF001", "RLS003", "RLS004", "RLS005"]',
              "", "# Every inline suppression (-- rlslint: ignore[CODE] reason) must give its reason.",
              "require-suppression-reason = true",
              "", "# Files still replayed for context but never reported on (globs; relative to this file).",
              "# exclude = []"]
    lines += ["", "# Rules turned off for some files.", f"# {sub('per-file-ignores')}"]
    example = (project.first_migration.relative_to(project.root).as_posix()
               if project.first_migration is not None else "migrations/0001_init.sql")
    lines.append(f'# "{example}" = ["IDX001"]')
    for rule in KNOWN_RULES:
        if not rule.options:
            continue
        lines += ["", f"# {rule.code} {rule.name}: severity and options.", f"# {sub('rules.' + rule.code)}",
                  f'# severity = "{rule.default_severity.label}"']
        for option in rule.options:
            lines += [f"# {option.doc}", f"# {option.name} = {json.dumps(option.default)}"]
    lines += ["", "# Adopting rlslint on an existing project: record today's findings once with",
              "#   rlslint --write-baseline .rlslint-baseline.json",
              "# and fail only on new ones with `rlslint --baseline .rlslint-baseline.json`."]
    return "\n".join(lines) + "\n"


def write_starter(cwd: Path, choice: str | None) -> Path:
    project = find_project(cwd)
    path = starter_path(project, choice)
    text = starter_text(project, path.name == "pyproject.toml")
    if path.is_file():
        existing = path.read_text(encoding="utf-8")
        text = existing + ("" if existing.endswith("\n") else "\n") + "\n" + text
    path.write_text(text, encoding="utf-8")
    return path
