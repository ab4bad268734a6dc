"""Paths -> migration sets: which files are applied, in which order, as text.

A directory is a migration set; files inside it are ordered the way the tool that
owns the layout applies them. Files that never run forwards (down/undo
migrations, seeds) are not part of the set.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rlslint.diagnostics import SourceError

# Searched upwards from the current directory when no path is given.
KNOWN_LAYOUTS = ("supabase/migrations", "prisma/migrations", "drizzle", "db/migrations", "migrations")

_SUPABASE_FILE = re.compile(r"^([0-9]+)_(.*)\.sql$")  # the Supabase CLI's own pattern
_NOT_FORWARD = re.compile(r"(\.down\.sql|\.undo\.sql|^U[0-9][^_]*__.*\.sql|^seed\.sql)$", re.IGNORECASE)
_FLYWAY_VERSIONED = re.compile(r"^V([0-9][0-9._]*)__", re.IGNORECASE)
_FLYWAY_REPEATABLE = re.compile(r"^R__", re.IGNORECASE)
_DIGITS = re.compile(r"([0-9]+)")
_DBMATE_UP = re.compile(r"^--\s*migrate:up\b.*$", re.MULTILINE)
_DBMATE_DOWN = re.compile(r"^--\s*migrate:down\b.*$", re.MULTILINE)

# A schema migration this large is a data load; parsing it would take long and a lot of memory.
MAX_FILE_BYTES = 10 * 1024 * 1024

# Invalid UTF-8 becomes spaces (one per byte), not U+FFFD: the damage is reported once as a
# read error, and the statements around it still parse.
codecs.register_error("rlslint-blank", lambda exc: (" " * (exc.end - exc.start), exc.end))


@dataclass(frozen=True)
class MigrationFile:
    path: Path
    display: str  # how the user names it: relative to the current directory when inside it
    text: str | None  # None when the file could not be read


@dataclass(frozen=True)
class MigrationSet:
    root: Path
    layout: str
    files: tuple[MigrationFile, ...]
    targets: frozenset[str] | None  # display paths to report on; None = every file


@dataclass(frozen=True)
class Discovery:
    sets: tuple[MigrationSet, ...]
    errors: tuple[SourceError, ...]


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def natural_key(name: str) -> tuple:
    """``2_b.sql`` before ``10_a.sql``: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


def find_project_migrations(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        for layout in KNOWN_LAYOUTS:
            candidate = directory / layout
            if candidate.is_dir():
                return candidate
    return None


def _absolute(path: Path, cwd: Path) -> Path:
    return Path(os.path.normpath(cwd / path))


def _set_root_for_file(path: Path) -> Path:
    parent = path.parent
    if path.name == "migration.sql" and parent.parent.name == "migrations":
        return parent.parent  # Prisma: migrations/<ts>_<name>/migration.sql
    return parent


def _set_root_for_dir(path: Path) -> Path:
    for inner in ("supabase/migrations", "migrations"):
        if (path / inner).is_dir() and not any(path.glob("*.sql")):
            return path / inner  # a project root or the supabase/ folder was given
    return path


def discover(paths: list[str], cwd: Path) -> Discovery:
    errors: list[SourceError] = []
    roots: dict[Path, set[str] | None] = {}
    if not paths:
        found = find_project_migrations(cwd)
        if found is None:
            layouts = ", ".join(KNOWN_LAYOUTS)
            errors.append(SourceError("", f"no migrations found from {cwd} upwards (looked for {layouts})", kind="usage"))
        else:
            roots[found] = None
    for given in paths:
        path = _absolute(Path(given), cwd)
        if path.is_dir():
            roots[_set_root_for_dir(path)] = None
        elif path.is_file():
            root = _set_root_for_file(path)
            if root not in roots or roots[root] is not None:
                roots.setdefault(root, set()).add(display_path(path, cwd))
        else:
            errors.append(SourceError(given, _why_missing(path), kind="usage"))
    sets = []
    for root, targets in roots.items():
        migration_set, set_errors = _load_set(root, targets, cwd)
        errors.extend(set_errors)
        if migration_set.files or targets:
            sets.append(migration_set)
        else:
            errors.append(SourceError(display_path(root, cwd), "no migration files (.sql) in this directory", kind="usage"))
    return Discovery(tuple(sets), tuple(errors))


def _why_missing(path: Path) -> str:
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return "no such file or directory" if exc.errno == errno.ENOENT else (exc.strerror or str(exc)).lower()
    return "not a file or directory"


_LAYOUT_NAMES = {"flyway": "Flyway migrations (V<version>__<name>.sql)",
                 "prisma": "Prisma migrations (<timestamp>_<name>/migration.sql)"}


def _stray_files(root: Path, layout: str, applied: list[Path]) -> list[Path]:
    """SQL files beside Flyway or Prisma migrations that the tool would not apply.

    A directory that mixes layouts (``V1__init.sql`` next to ``20240101_x.sql``) has no
    single apply order; reporting the files left out beats linting a history silently.
    """
    if layout not in ("flyway", "prisma"):
        return []
    applied_set = set(applied)
    return sorted(p for p in root.iterdir() if p.suffix.lower() == ".sql" and not p.name.startswith(".")
                  and not _NOT_FORWARD.search(p.name) and p not in applied_set)


def _ordered_files(root: Path) -> tuple[str, list[Path]]:
    """The layout's name and its forward migrations in apply order."""
    if root.name == "migrations" and root.parent.name == "prisma" or any(root.glob("*/migration.sql")):
        return "prisma", sorted(root.glob("*/migration.sql"), key=lambda p: natural_key(p.parent.name))
    candidates = [p for p in root.iterdir() if p.suffix.lower() == ".sql" and not p.name.startswith(".")]
    # A symlink that leads nowhere (or in a loop) stays in, so reading it reports why.
    candidates = [p for p in candidates if not _NOT_FORWARD.search(p.name) and (p.is_file() or p.is_symlink())]
    if root.name == "migrations" and root.parent.name == "supabase":
        # The CLI applies <version>_<name>.sql by integer version and skips anything else.
        versioned = [p for p in candidates if _SUPABASE_FILE.match(p.name)]
        return "supabase", sorted(versioned, key=lambda p: (int(_SUPABASE_FILE.match(p.name).group(1)), p.name))
    if any(_FLYWAY_VERSIONED.match(p.name) for p in candidates):
        versioned = [p for p in candidates if _FLYWAY_VERSIONED.match(p.name)]
        repeatable = [p for p in candidates if _FLYWAY_REPEATABLE.match(p.name)]
        return "flyway", sorted(versioned, key=lambda p: natural_key(p.name[1:])) + sorted(repeatable, key=lambda p: p.name)
    return "plain", sorted(candidates, key=lambda p: natural_key(p.name))


def _load_set(root: Path, targets: set[str] | None, cwd: Path) -> tuple[MigrationSet, list[SourceError]]:
    errors: list[SourceError] = []
    try:
        layout, paths = _ordered_files(root)
        for stray in _stray_files(root, layout, paths):
            errors.append(SourceError(display_path(stray, cwd), f"not named like the other {_LAYOUT_NAMES[layout]} here; "
                                      "mixed layouts have no apply order, so it is not linted", kind="usage"))
    except OSError as exc:
        errors.append(SourceError(display_path(root, cwd), f"cannot list directory: {exc.strerror or exc}", kind="read"))
        return MigrationSet(root, "plain", (), frozenset(targets or ())), errors
    files = []
    seen = set()
    for path in paths:
        display = display_path(path, cwd)
        seen.add(display)
        text, error = read_source(path, display)
        if error:
            errors.append(error)
        files.append(MigrationFile(path, display, text))
    for target in sorted(targets or ()):
        if target not in seen:
            # A file given explicitly but not part of the applied set (a seed, a down
            # migration): lint it on its own, after the history, so it is not ignored silently.
            path = _absolute(Path(target), cwd)
            text, error = read_source(path, target)
            if error:
                errors.append(error)
            files.append(MigrationFile(path, target, text))
    return MigrationSet(root, layout, tuple(files), frozenset(targets) if targets is not None else None), errors


def read_source(path: Path, display: str) -> tuple[str | None, SourceError | None]:
    """Bytes -> text. Damaged text is still returned (repaired) so the rest of the file is linted."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, SourceError(display, f"file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MiB "
                                     "limit for one migration; not linted", kind="read")
        data = path.read_bytes()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, SourceError(display, "cannot read file: symbolic link loop", kind="read")
        return None, SourceError(display, f"cannot read file: {exc.strerror or exc}", kind="read")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8-sig", errors="rlslint-blank")
        offset = len(data[: exc.start].decode("utf-8-sig", errors="rlslint-blank"))
        return _dbmate_up(text).replace("\x00", " "), SourceError(
            display, f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); the file must be UTF-8", offset, kind="read"
        )
    if "\x00" in text:
        offset = text.index("\x00")
        return _dbmate_up(text).replace("\x00", " "), SourceError(display, "NUL byte in file; PostgreSQL rejects it", offset, kind="read")
    return _dbmate_up(text), None


def _dbmate_up(text: str) -> str:
    """dbmate files hold both directions; keep only ``-- migrate:up``, blanked in place so offsets hold."""
    up = _DBMATE_UP.search(text)
    if up is None:
        return text
    down = _DBMATE_DOWN.search(text, up.end())
    keep_from, keep_to = up.start(), down.start() if down else len(text)
    blank = lambda s: re.sub(r"[^\r\n]", " ", s)  # noqa: E731
    return blank(text[:keep_from]) + text[keep_from:keep_to] + blank(text[keep_to:])
