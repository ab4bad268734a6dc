"""Where a repository's migration sets lie: from the current directory up, then down.

With no path given, rlslint looks below the current directory; when nothing is there, below
each parent in turn up to the repository root (the nearest directory with ``.git``). The
walk down skips what is never a project's own migrations: ``node_modules`` and other
vendored trees, virtual environments, build output, hidden directories and whatever the
``.gitignore`` files ignore. It never follows a symbolic link to a directory, so it stays
inside the project.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from rlslint.gitignore import IgnoreRules
from rlslint.layouts import FlywayNames, schema_paths, sql_files

# Outside a repository only these are looked for, from the current directory upwards.
KNOWN_LAYOUTS = ("supabase/migrations", "prisma/migrations", "drizzle", "db/migrations", "migrations")

# Directories that hold other people's code or generated files, never a project's migrations.
SKIPPED = frozenset({"node_modules", "bower_components", "jspm_packages", "vendor", "dist", "build", "out",
                     "target", "coverage", "__pycache__", "site-packages", "venv"})
# A directory with one of these names holding .sql files is a migration set whatever the names inside.
MIGRATION_DIRS = frozenset({"migrations", "migration", "migrate", "drizzle"})


class FoundSet(NamedTuple):
    root: Path
    layout: str | None  # decided by the walk (a Supabase project's declarative schemas); None: detect


def repository_root(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def find_from(cwd: Path) -> tuple[Path | None, list[FoundSet]]:
    """The directory the search settled on and the sets below it; ``(None, [])`` when none."""
    repo = repository_root(cwd)
    came_from = None
    for directory in (cwd, *cwd.parents):
        found = find_below(directory, repo or cwd, skip=came_from)
        if found:
            return directory, found
        if repo is None or directory == repo:
            break
        came_from = directory
    for directory in (cwd, *cwd.parents):  # outside a repository: only the known places, upwards
        for relative in KNOWN_LAYOUTS:
            candidate = directory / relative
            if candidate.is_dir() and set_layout(candidate, directory) is not False:
                return directory, [FoundSet(candidate, None)]
    return None, []


def find_below(top: Path, boundary: Path, skip: Path | None = None, any_sql_children: bool = False) -> list[FoundSet]:
    """Every set at or below ``top``, in path order.

    ``any_sql_children``: ``top`` was named on the command line, so each sub-folder of it
    that holds ``.sql`` files is a set, whatever its name (one folder per service).
    """
    base = boundary if top.is_relative_to(boundary) else top
    rules = IgnoreRules.for_repository(base)
    parts = top.relative_to(base).parts
    for depth in range(1, len(parts)):  # the .gitignore files between the repository root and top
        rules = rules.entering(base.joinpath(*parts[:depth]), "/".join(parts[:depth]))
    found: list[FoundSet] = []
    _walk(top, base, boundary, rules.entering(top, _relative(top, base)), skip, found, False, any_sql_children)
    return found


def _walk(directory: Path, base: Path, boundary: Path, rules: IgnoreRules, skip: Path | None,
          found: list[FoundSet], any_sql: bool, children_any_sql: bool) -> None:
    layout = set_layout(directory, boundary, any_sql)
    if layout is not False:
        found.append(FoundSet(directory, layout))
        if layout != "supabase-schemas" or directory.name != "supabase":
            return  # a set's sub-folders belong to it (Prisma's migration folders)
    try:
        children = sorted((p for p in directory.iterdir() if p.is_dir() and not p.is_symlink()), key=lambda p: p.name)
    except OSError:
        return
    for child in children:
        relative = _relative(child, base)
        if (child == skip or child.name.startswith(".") or child.name in SKIPPED or (child / "pyvenv.cfg").exists()
                or rules.ignores_directory(relative)):
            continue
        if layout == "supabase-schemas" and child.name == "schemas":
            continue  # the project's schema_paths already say which schema files run
        _walk(child, base, boundary, rules.entering(child, relative), None, found, children_any_sql, False)


def set_layout(directory: Path, boundary: Path, any_sql: bool = False) -> str | None | bool:
    """False when ``directory`` is no migration set; else the layout the walk decided (or None)."""
    try:
        if directory.name == "supabase" and schema_paths(directory / "config.toml")[0] is not None:
            return "supabase-schemas"
        if directory.parent.name == "supabase" and directory.name == "schemas":
            return "supabase-schemas" if any(directory.rglob("*.sql")) else False
        if (directory / "migration_lock.toml").is_file() or (directory / "meta" / "_journal.json").is_file():
            return None
        files = sql_files(directory)
        if not files:
            return None if directory.name == "migrations" and any(directory.glob("*/migration.sql")) else False
        if any_sql or directory.name.lower() in MIGRATION_DIRS:
            return None
        flyway = FlywayNames.find(directory, boundary)
        if any(flyway.versioned(p.name) or p.name.endswith(".up.sql") for p in files):
            return None
    except OSError:
        return False
    return False


def _relative(path: Path, base: Path) -> str:
    return "" if path == base else path.relative_to(base).as_posix()
