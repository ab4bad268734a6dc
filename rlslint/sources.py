"""Paths -> migration sets: which files are applied, in which order, as text.

A directory is a migration set; files inside it are ordered the way the tool that
owns the layout applies them (``rlslint.layouts``). Files that never run forwards
(down/undo migrations, seeds) are not part of the set. With no path, the sets are
found in the repository (``rlslint.repository``) or listed by the ``migrations`` setting.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from rlslint import layouts, repository
from rlslint.diagnostics import SourceError
from rlslint.layouts import LAYOUTS, natural_key  # noqa: F401  (natural_key: the plain order, used by tests)

# A schema migration this large is a data load; parsing it would take long and a lot of memory.
MAX_FILE_BYTES = 10 * 1024 * 1024

# Invalid UTF-8 becomes spaces (one per byte), not U+FFFD: the damage is reported once as a
# read error, and the statements around it still parse.
codecs.register_error("rlslint-blank", lambda exc: (" " * (exc.end - exc.start), exc.end))


class MigrationFile(NamedTuple):
    path: Path
    display: str  # how the user names it: relative to the current directory when inside it
    text: str | None  # None when the file could not be read


class MigrationSet(NamedTuple):
    root: Path
    layout: str  # a key of rlslint.layouts.LAYOUTS
    files: tuple[MigrationFile, ...]
    targets: frozenset[str] | None  # display paths to report on; None = every file
    exposed_schemas: frozenset[str] | None = None  # the set's own, from the migrations setting
    versions: tuple[str, ...] = ()  # each applied file's version
    # How the set's tool names its next migration; None when the tool writes them itself.
    naming: layouts.Naming | None = None

    def next_file(self, name: str, now: datetime | None = None) -> Path | None:
        """Where the next migration called ``name`` goes, named as the layout's tool names it."""
        naming = self.naming
        return None if naming is None else self.root / naming.next_file(self.versions, name, now)


class DeclaredSet(NamedTuple):
    """One entry of the ``migrations`` setting: a set named explicitly rather than found."""

    path: Path  # absolute
    layout: str | None = None
    exposed_schemas: tuple[str, ...] | None = None


class Discovery(NamedTuple):
    sets: tuple[MigrationSet, ...]
    errors: tuple[SourceError, ...]


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()


def _absolute(path: Path, cwd: Path) -> Path:
    return Path(os.path.normpath(cwd / path))


class _Wanted(NamedTuple):
    layout: str | None  # None: detect
    targets: set[str] | None  # filled in place as the paths name files of the set
    exposed: frozenset[str] | None = None


def discover(paths: list[str], cwd: Path, layout: str | None = None,
             declared: tuple[DeclaredSet, ...] = ()) -> Discovery:
    """The sets to lint: the paths given, else the ``migrations`` setting, else what the repository holds.

    ``layout`` (``--layout``) wins over a declared set's layout, which wins over detection.
    """
    errors: list[SourceError] = []
    wanted: dict[Path, _Wanted] = {}
    declared_at = {d.path: d for d in declared}

    def want(root: Path, found_layout: str | None, target: str | None = None) -> None:
        entry = declared_at.get(root)
        chosen = layout or (entry.layout if entry else None) or found_layout
        exposed = frozenset(entry.exposed_schemas) if entry and entry.exposed_schemas is not None else None
        current = wanted.setdefault(root, _Wanted(chosen, set() if target else None, exposed))
        if target is not None and current.targets is not None:
            current.targets.add(target)

    boundary = repository.repository_root(cwd) or cwd
    if not paths and declared:
        for entry in declared:
            if entry.path.is_dir():
                want(entry.path, None)
            else:
                errors.append(SourceError(display_path(entry.path, cwd), "listed in the migrations setting, "
                                          "but " + _why_missing(entry.path), kind="usage"))
    elif not paths:
        top, found = repository.find_from(cwd)
        if not found:
            where = f"below {cwd} or its parents up to the repository root {boundary}" if boundary != cwd else f"below or above {cwd}"
            errors.append(SourceError("", f"no migrations found {where}; name the directory, or list the sets "
                                      "in the migrations setting", kind="usage"))
        for found_set in found:
            want(found_set.root, found_set.layout)
    for given in paths:
        path = _absolute(Path(given), cwd)
        if _is(path, Path.is_dir):
            found = _sets_in_directory(path, repository.repository_root(path) or path)
            if not found:
                want(path, None)  # reported below as a directory without migrations
            for found_set in found:
                want(found_set.root, found_set.layout)
        elif _is(path, Path.is_file):
            root, found_layout = _set_of_file(path, repository.repository_root(path) or path.parent)
            want(root, found_layout, display_path(path, cwd))
        else:
            errors.append(SourceError(given, _why_missing(path), kind="usage"))
    sets = []
    for root, request in wanted.items():
        migration_set, set_errors = _load_set(root, request, cwd, repository.repository_root(root) or root)
        errors.extend(set_errors)
        if migration_set.files or request.targets:
            sets.append(migration_set)
        elif not set_errors:
            errors.append(SourceError(display_path(root, cwd), "no migration files (.sql) in this directory", kind="usage"))
    return Discovery(tuple(sets), tuple(errors))


def _sets_in_directory(path: Path, boundary: Path) -> list[repository.FoundSet]:
    """The directory itself when it is a set; else the sets below it, or else each sub-folder with SQL."""
    if path.name != "supabase":
        own = repository.set_layout(path, boundary, any_sql=True)
        if own is not False:
            return [repository.FoundSet(path, own)]
    return repository.find_below(path, boundary) or repository.find_below(path, boundary, any_sql_children=True)


def _set_of_file(path: Path, boundary: Path) -> tuple[Path, str | None]:
    """The set a named file belongs to, so the whole set is replayed for context."""
    for directory in path.parents:
        if directory.name == "supabase":
            schemas = layouts.schema_files(directory)
            if schemas is not None and path in schemas[0]:
                declared = layouts.schema_paths(directory / "config.toml")[0] is not None
                return (directory if declared else directory / "schemas"), "supabase-schemas"
            break
        if directory == boundary:
            break
    parent = path.parent
    if path.name == "migration.sql" and (parent.parent.name == "migrations" or (parent.parent / "migration_lock.toml").is_file()):
        return parent.parent, None  # Prisma: migrations/<ts>_<name>/migration.sql
    return parent, None


def _is(path: Path, test) -> bool:
    """``path.is_file()`` that answers False, not PermissionError, in an unreadable directory."""
    try:
        return test(path)
    except OSError:
        return False


def _why_missing(path: Path) -> str:
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return "no such file or directory" if exc.errno == errno.ENOENT else (exc.strerror or str(exc)).lower()
    return "not a file or directory"


def _load_set(root: Path, request: _Wanted, cwd: Path, boundary: Path) -> tuple[MigrationSet, list[SourceError]]:
    errors: list[SourceError] = []
    here = display_path(root, cwd) or "."
    try:
        candidates = [request.layout] if request.layout else layouts.detect(root, boundary)
        chosen = candidates[0]
        if len(candidates) > 1:
            errors.append(SourceError(here, f"fits {' and '.join(LAYOUTS[c].title for c in candidates)} at once; linted as "
                                      f"{chosen} (choose with --layout or the set's layout in the migrations setting)",
                                      kind="usage"))
        plan = layouts.plan(chosen, root, boundary)
        folders: dict[str, str] = {}  # each directory's real path, found once for all its files
        shown = {p: display_path(p, cwd) for p in plan.files}
        read = {p: read_source(p, shown[p], folders) for p in plan.files}
        if request.layout is None and chosen == "plain" and layouts.is_dbmate([text for text, _ in read.values()]):
            chosen, plan = "dbmate", layouts.plan("dbmate", root, boundary)
            shown.update({p: display_path(p, cwd) for p in plan.files if p not in shown})
            read.update({p: read_source(p, shown[p], folders) for p in plan.files if p not in read})
    except OSError as exc:
        errors.append(SourceError(here, f"cannot list directory: {exc.strerror or exc}", kind="read"))
        return MigrationSet(root, "plain", (), frozenset(request.targets or ())), errors
    errors.extend(SourceError(here, problem, kind="usage") for problem in plan.problems)
    layout = LAYOUTS[chosen]
    for stray in plan.strays:
        errors.append(SourceError(display_path(stray, cwd), f"not named like the other {layout.title} here; "
                                  f"{layout.tool or 'the tool'} would not apply it, so it is not linted", kind="usage"))
    files = []
    seen = set()
    for path in plan.files:
        display = shown[path]
        seen.add(display)
        text, error = read[path]
        if error:
            errors.append(error)
        text, problem = _as_the_tool_runs_it(chosen, text)
        if problem:
            errors.append(SourceError(display, problem, kind="usage"))
        files.append(MigrationFile(path, display, text))
    for target in sorted(request.targets or ()):
        if target not in seen:
            # A file given explicitly but not part of the applied set (a seed, a down
            # migration): lint it on its own, after the history, so it is not ignored silently.
            path = _absolute(Path(target), cwd)
            text, error = read_source(path, target)
            if error:
                errors.append(error)
            files.append(MigrationFile(path, target, text))
    targets = frozenset(request.targets) if request.targets is not None else None
    return MigrationSet(root, chosen, tuple(files), targets, request.exposed, plan.versions,
                        plan.naming or layout.naming), errors


def _as_the_tool_runs_it(layout: str, text: str | None) -> tuple[str | None, str | None]:
    """The text the layout's tool executes, same length so offsets hold; and why a file cannot run."""
    if text is None:
        return None, None
    if layout == "dbmate":
        if not layouts.DBMATE_UP.search(text):
            return None, "no -- migrate:up section, so dbmate refuses to apply it; not linted"
        return layouts.blank_outside_dbmate_up(text), None
    if layout == "drizzle":
        return layouts.split_drizzle_breakpoints(text), None
    return text, None


def read_source(path: Path, display: str, folders: dict[str, str] | None = None) -> tuple[str | None, SourceError | None]:
    """Bytes -> text. Damaged text is still returned (repaired) so the rest of the file is linted.

    A migration comes from whoever wrote the pull request, so a file is read only when it
    lies inside the project and is a regular file, checked on the descriptor that is read:
    a committed symlink to ``/proc/self/environ`` would print secrets in an excerpt, one to
    ``/dev/zero`` never ends, and one to a FIFO blocks forever. ``folders``: the real paths of
    directories already resolved in this run, filled in as they are.
    """
    try:
        outside = _outside_project(path, folders)
        if outside is not None:
            return None, SourceError(display, f"symbolic link to {outside}, outside the project; not read", kind="read")
        data, refused = _read_regular(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, SourceError(display, "cannot read file: symbolic link loop", kind="read")
        return None, SourceError(display, f"cannot read file: {exc.strerror or exc}", kind="read")
    if refused:
        return None, SourceError(display, refused, kind="read")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8-sig", errors="rlslint-blank")
        offset = len(data[: exc.start].decode("utf-8-sig", errors="rlslint-blank"))
        return text.replace("\x00", " "), SourceError(
            display, f"invalid UTF-8 (byte 0x{data[exc.start]:02x}); the file must be UTF-8", offset, kind="read"
        )
    if "\x00" in text:
        offset = text.index("\x00")
        return text.replace("\x00", " "), SourceError(display, "NUL byte in file; PostgreSQL rejects it", offset, kind="read")
    return text, None


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _read_regular(path: Path) -> tuple[bytes, str | None]:
    """(data, None), or (b"", why it was not read). Never more than the limit plus one byte."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            return b"", f"not a regular file ({kind}); not read"
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        shown = f"{info.st_size / 1e6:.1f} MB" if info.st_size > MAX_FILE_BYTES else "larger than that"
        return b"", f"file is {shown}, over the {MAX_FILE_BYTES // 2**20} MiB limit for one migration; not linted"
    return b"".join(chunks), None


def _outside_project(path: Path, folders: dict[str, str] | None = None) -> str | None:
    """Where a symlinked migration leads, when that is outside the project; else None.

    The project is the repository holding the file (the nearest directory with ``.git``),
    or else the current directory when the file is named from inside it.
    """
    absolute = os.path.abspath(path)
    if folders is not None and not os.path.islink(absolute):
        # A file that is no symlink is where its directory really is: one lstat for it, and
        # the directory's components resolved once (os.path.realpath lstats every one).
        parent, name = os.path.split(absolute)
        real = folders.get(parent)
        if real is None:
            real = folders[parent] = os.path.realpath(parent)
        target = os.path.join(real, name)
    else:
        target = os.path.realpath(absolute)
    if target == absolute:
        return None
    if Path(target).is_relative_to(project_root(Path(absolute).parent)):
        return None
    return Path(target).as_posix()


def project_root(directory: Path) -> Path:
    """The real path of the repository around ``directory``, else of the current directory holding it."""
    repo = repository.repository_root(directory)
    if repo is not None:
        return Path(os.path.realpath(repo))
    cwd = Path(os.getcwd())
    return Path(os.path.realpath(cwd if directory.is_relative_to(cwd) else directory))
