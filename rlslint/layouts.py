"""Migration layouts: which files each tool applies, in which order, and how it names the next one.

Each layout orders its files exactly as its own tool does, because the order decides the
schema the rules judge: a table that a later migration protects is no finding, and the
same file applied earlier is one. Files a tool would skip are returned as strays, so the
caller reports them instead of dropping them silently.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from pathlib import Path
from types import ModuleType
from typing import NamedTuple, Sequence


def toml_parser() -> ModuleType:
    """tomllib (tomli before Python 3.11), imported when a TOML file is read: few runs read
    one, and importing it costs more than linting a small migration."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


class Naming(NamedTuple):
    """How the layout's tool names the next migration, relative to the set's root.

    ``{version}`` is a UTC timestamp (``YYYYMMDDHHMMSS``) for ``timestamp``, or one more
    than the highest version so far, zero-padded to its width, for ``sequence``.
    """

    pattern: str  # e.g. "{version}_{name}.sql"
    version: str  # "timestamp" or "sequence"

    def next_file(self, versions: Sequence[str], name: str, now: datetime | None = None) -> str:
        if self.version == "timestamp":
            version = (now or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M%S")
        else:
            numbered = [v for v in versions if re.fullmatch(r"[0-9]+(\.[0-9]+)*", v)]
            highest = max(numbered, key=lambda v: tuple(int(p) for p in v.split(".")), default="0000")
            *head, last = highest.split(".")
            version = ".".join([*head, str(int(last) + 1).zfill(len(last))])
        return self.pattern.format(version=version, name=name)


class Layout(NamedTuple):
    name: str
    tool: str  # who applies the files
    title: str  # how messages name the layout's files
    files: str  # which files the tool applies
    order: str  # in which order (shown by --list-files and in the README)
    naming: Naming | None  # None: the tool writes its migrations itself (declarative schemas)
    note: str = ""  # what the tool does to a file's text before it runs it
    # The files state the schema rather than record its history: a named file answers for
    # the findings in it, never for what the other files would mean without it.
    declarative: bool = False


LAYOUTS = {layout.name: layout for layout in (
    Layout("supabase", "the Supabase CLI", "Supabase migrations (<version>_<name>.sql)", "supabase/migrations/<version>_<name>.sql", "by numeric version",
           Naming("{version}_{name}.sql", "timestamp")),
    Layout("supabase-schemas", "the Supabase CLI", "Supabase schema files", "supabase/schemas/**/*.sql, or [db.migrations] schema_paths in supabase/config.toml",
           "each schema_paths glob in turn, its matches sorted by path; else supabase/schemas walked in name order",
           None, declarative=True),
    Layout("prisma", "Prisma", "Prisma migrations (<timestamp>_<name>/migration.sql)", "prisma/migrations/<timestamp>_<name>/migration.sql", "by directory name",
           Naming("{version}_{name}/migration.sql", "timestamp")),
    Layout("drizzle", "drizzle-kit", "Drizzle migrations listed in meta/_journal.json", "drizzle/<NNNN>_<name>.sql", "the order of meta/_journal.json; without it, by number",
           Naming("{version}_{name}.sql", "sequence"), "`--> statement-breakpoint` separates statements"),
    Layout("flyway", "Flyway", "Flyway migrations (V<version>__<name>.sql)", "V<version>__<description>.sql, R__<description>.sql",
           "versioned by version, 1.9 before 1.10, then repeatable by description; undo files excluded",
           Naming("V{version}__{name}.sql", "sequence")),
    Layout("golang-migrate", "golang-migrate", "golang-migrate migrations (<version>_<name>.up.sql)", "<version>_<name>.up.sql", "by numeric version; .down.sql excluded",
           Naming("{version}_{name}.up.sql", "timestamp")),
    Layout("dbmate", "dbmate", "dbmate migrations (<version>_<name>.sql)", "db/migrations/<version>_<name>.sql with -- migrate:up", "by version",
           Naming("{version}_{name}.sql", "timestamp"), "only the -- migrate:up section runs"),
    Layout("plain", "", "migrations", "<number>_<name>.sql", "by the leading number, then name: 2_b.sql before 10_a.sql",
           Naming("{version}_{name}.sql", "sequence")),
)}

_DIGITS = re.compile(r"([0-9]+)")
_NOT_FORWARD = re.compile(r"(\.down\.sql|\.undo\.sql|^seed\.sql)$", re.IGNORECASE)
_SUPABASE_FILE = re.compile(r"^([0-9]+)_(.*)\.sql$")  # the Supabase CLI's own pattern
_GOLANG_FILE = re.compile(r"^([0-9]+)_(.*)\.(down|up)\.(.*)$")  # golang-migrate's source/parse.go
_DBMATE_FILE = re.compile(r"^([0-9]+).*\.sql$")
DBMATE_UP = re.compile(r"^--\s*migrate:up\b.*$", re.MULTILINE)
DBMATE_DOWN = re.compile(r"^--\s*migrate:down\b.*$", re.MULTILINE)
DRIZZLE_BREAKPOINT = "--> statement-breakpoint"


def natural_key(name: str) -> tuple:
    """``2_b.sql`` before ``10_a.sql``: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


class Plan(NamedTuple):
    """A set's files in apply order, the files its tool would not apply, and what is wrong."""

    files: tuple[Path, ...]
    strays: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()  # messages about the set as a whole
    versions: tuple[str, ...] = ()  # each file's version, for naming the next one
    naming: Naming | None = None  # the project's own naming, when its configuration changes the layout's


def sql_files(root: Path) -> list[Path]:
    """The forward ``.sql`` files directly in ``root``: seeds, down and undo files never run forwards."""
    with os.scandir(root) as entries:  # each entry's kind comes with the listing: no stat per file
        # A symlink that leads nowhere (or in a loop) stays in, so reading it reports why.
        return [root / e.name for e in entries
                if e.name.lower().endswith(".sql") and not e.name.startswith(".") and not _NOT_FORWARD.search(e.name)
                and (e.is_symlink() or e.is_file())]


def detect(root: Path, boundary: Path) -> list[str]:
    """Every layout ``root`` looks like, most specific first; plain when none.

    dbmate is told by the files' text, so it is decided after reading (``is_dbmate``).
    """
    if root.parent.name == "supabase" and root.name in ("migrations", "schemas"):
        return ["supabase" if root.name == "migrations" else "supabase-schemas"]
    found = []
    if (root / "migration_lock.toml").is_file() or any(root.glob("*/migration.sql")):
        found.append("prisma")
    if (root / "meta" / "_journal.json").is_file():
        found.append("drizzle")
    names = [p.name for p in sql_files(root)]
    flyway = FlywayNames.find(root, boundary)
    if any(flyway.versioned(n) for n in names) or any(flyway.repeatable(n) for n in names):
        found.append("flyway")
    if any(_GOLANG_FILE.match(p.name) for p in root.iterdir() if p.name.endswith(".up.sql")):
        found.append("golang-migrate")
    return found or ["plain"]


def is_dbmate(texts: Sequence[str | None]) -> bool:
    return any(text is not None and DBMATE_UP.search(text) for text in texts)


def plan(layout: str, root: Path, boundary: Path) -> Plan:
    """The files of the set at ``root`` in the order ``layout``'s tool applies them."""
    return _PLANNERS[layout](root, boundary)


def _supabase(root: Path, boundary: Path) -> Plan:
    # The CLI applies <version>_<name>.sql by integer version and skips anything else.
    candidates = sql_files(root)
    versioned = sorted((p for p in candidates if _SUPABASE_FILE.match(p.name)),
                       key=lambda p: (int(_SUPABASE_FILE.match(p.name).group(1)), p.name))
    return Plan(tuple(versioned), _others(candidates, versioned), (),
                tuple(_SUPABASE_FILE.match(p.name).group(1) for p in versioned))


def _prisma(root: Path, boundary: Path) -> Plan:
    problems = []
    lock = root / "migration_lock.toml"
    if lock.is_file():
        provider = _prisma_provider(lock)
        if provider not in ("postgresql", "postgres"):
            problems.append(f"migration_lock.toml says provider = {provider!r}; rlslint lints PostgreSQL migrations only")
            return Plan((), (), tuple(problems))
    # Prisma sorts migration directories by name; the timestamp prefix makes that time order.
    applied = sorted(root.glob("*/migration.sql"), key=lambda p: p.parent.name)
    strays = [*sql_files(root), *(p for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                                   for p in sql_files(d) if p.name != "migration.sql")]
    return Plan(tuple(applied), tuple(sorted(strays)), (), tuple(p.parent.name.split("_")[0] for p in applied))


def _prisma_provider(lock: Path) -> str:
    tomllib = toml_parser()
    try:
        with lock.open("rb") as f:
            provider = tomllib.load(f).get("provider")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "unreadable"
    return provider if isinstance(provider, str) else repr(provider)


def _drizzle(root: Path, boundary: Path) -> Plan:
    candidates = sql_files(root)
    journal = root / "meta" / "_journal.json"
    if not journal.is_file():
        ordered = sorted(candidates, key=lambda p: natural_key(p.name))
        return Plan(tuple(ordered), (), (), tuple(_leading_number(p.name) for p in ordered))
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))["entries"]
        tags = [entry["tag"] for entry in entries]
        if not all(isinstance(tag, str) and "/" not in tag and tag not in ("", ".", "..") for tag in tags):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        ordered = sorted(candidates, key=lambda p: natural_key(p.name))
        return Plan(tuple(ordered), (), ("meta/_journal.json is not a Drizzle journal (entries with a tag each); "
                                         "files are ordered by number instead",), ())
    # drizzle-kit's migrator runs the journal's entries in order and ignores files it does not list.
    ordered = [root / f"{tag}.sql" for tag in tags]
    missing = [f"meta/_journal.json lists {tag}, but {tag}.sql does not exist" for tag, p in zip(tags, ordered)
               if not (p.is_file() or p.is_symlink())]
    present = [p for p in ordered if p.is_file() or p.is_symlink()]
    return Plan(tuple(present), _others(candidates, present), tuple(missing), tuple(_leading_number(p.name) for p in present))


class FlywayNames(NamedTuple):
    """Flyway's file-name settings, from ``flyway.conf`` or ``flyway.toml`` when the project has one."""

    prefix: str = "V"
    separator: str = "__"
    repeatable_prefix: str = "R"
    undo_prefix: str = "U"
    suffixes: tuple[str, ...] = (".sql",)

    _KEYS = {"sqlMigrationPrefix": "prefix", "sqlMigrationSeparator": "separator",
             "repeatableSqlMigrationPrefix": "repeatable_prefix", "undoSqlMigrationPrefix": "undo_prefix"}

    @classmethod
    def find(cls, root: Path, boundary: Path) -> "FlywayNames":
        """The nearest configuration from ``root`` up to ``boundary`` (the repository root)."""
        for directory in (root, *root.parents):
            for name in ("flyway.toml", "flyway.conf", "conf/flyway.toml", "conf/flyway.conf"):
                if (directory / name).is_file():
                    return cls.read(directory / name)
            if directory == boundary:
                break
        return cls()

    @classmethod
    def read(cls, path: Path) -> "FlywayNames":
        tomllib = toml_parser()
        try:
            if path.suffix == ".toml":
                with path.open("rb") as f:
                    table = tomllib.load(f).get("flyway", {})
                raw = {k: v for k, v in table.items() if isinstance(v, (str, list))} if isinstance(table, dict) else {}
            else:
                raw = {}
                for line in path.read_text(encoding="utf-8").splitlines():
                    key, sep, value = line.strip().partition("=")
                    if sep and key.strip().startswith("flyway."):
                        raw[key.strip().removeprefix("flyway.")] = value.strip()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return cls()
        values = {field: raw[key] for key, field in cls._KEYS.items() if isinstance(raw.get(key), str) and raw[key]}
        suffixes = raw.get("sqlMigrationSuffixes")
        if isinstance(suffixes, str):
            suffixes = [s.strip() for s in suffixes.split(",")]
        if isinstance(suffixes, list) and suffixes and all(isinstance(s, str) and s for s in suffixes):
            values["suffixes"] = tuple(suffixes)
        return cls(**values)

    def _split(self, name: str, prefix: str) -> tuple[str, str] | None:
        suffix = next((s for s in self.suffixes if name.lower().endswith(s.lower())), None)
        if suffix is None or not name.startswith(prefix):
            return None
        version, sep, description = name[len(prefix): len(name) - len(suffix)].partition(self.separator)
        return (version, description) if sep else None

    def version(self, name: str) -> tuple[int, ...] | None:
        """``V1_10__x.sql`` -> (1, 10): underscores are dots, parts compare as numbers, 1.0 equals 1."""
        split = self._split(name, self.prefix)
        if split is None or not re.fullmatch(r"[0-9]+([._][0-9]+)*", split[0]):
            return None
        parts = [int(part) for part in re.split(r"[._]", split[0])]
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    def versioned(self, name: str) -> bool:
        return self.version(name) is not None

    def repeatable(self, name: str) -> bool:
        split = self._split(name, self.repeatable_prefix)
        return split is not None and split[0] == ""

    def undo(self, name: str) -> bool:
        return self._split(name, self.undo_prefix) is not None


def _flyway(root: Path, boundary: Path) -> Plan:
    names = FlywayNames.find(root, boundary)
    candidates = [p for p in root.iterdir() if not p.name.startswith(".") and (p.is_file() or p.is_symlink())
                  and any(p.name.lower().endswith(s.lower()) for s in names.suffixes)]
    versioned = sorted((p for p in candidates if names.versioned(p.name)), key=lambda p: names.version(p.name))
    # Repeatable migrations run after every versioned one, ordered by description.
    repeatable = sorted((p for p in candidates if names.repeatable(p.name)),
                        key=lambda p: names._split(p.name, names.repeatable_prefix)[1])
    skipped = [p for p in candidates if names.undo(p.name) or _NOT_FORWARD.search(p.name)]
    applied = versioned + repeatable
    versions = tuple(re.sub(r"_", ".", names._split(p.name, names.prefix)[0]) for p in versioned)
    naming = Naming(f"{names.prefix}{{version}}{names.separator}{{name}}{names.suffixes[0]}", "sequence")
    return Plan(tuple(applied), _others([p for p in candidates if p not in skipped], applied), (), versions, naming)


def _golang_migrate(root: Path, boundary: Path) -> Plan:
    up = [p for p in root.iterdir() if (m := _GOLANG_FILE.match(p.name)) and m.group(3) == "up" and not p.name.startswith(".")]
    ordered = sorted(up, key=lambda p: (int(_GOLANG_FILE.match(p.name).group(1)), p.name))
    return Plan(tuple(ordered), _others(sql_files(root), ordered), (),
                tuple(_GOLANG_FILE.match(p.name).group(1) for p in ordered))


def _dbmate(root: Path, boundary: Path) -> Plan:
    candidates = sql_files(root)
    # dbmate sorts migrations by their version string, as listed by name.
    ordered = sorted((p for p in candidates if _DBMATE_FILE.match(p.name)),
                     key=lambda p: (_DBMATE_FILE.match(p.name).group(1), p.name))
    return Plan(tuple(ordered), _others(candidates, ordered), (), tuple(_leading_number(p.name) for p in ordered))


def _plain(root: Path, boundary: Path) -> Plan:
    ordered = sorted(sql_files(root), key=lambda p: natural_key(p.name))
    return Plan(tuple(ordered), (), (), tuple(_leading_number(p.name) for p in ordered))


def _others(candidates: Sequence[Path], applied: Sequence[Path]) -> tuple[Path, ...]:
    chosen = set(applied)
    return tuple(sorted(p for p in candidates if p not in chosen))


def _leading_number(name: str) -> str:
    match = _DIGITS.match(name)
    return match.group(1) if match else ""


# --- Supabase declarative schemas -------------------------------------------------------

def schema_files(supabase_dir: Path) -> tuple[list[Path], list[str]] | None:
    """The declarative schema files of a Supabase project, in the order the CLI applies them.

    With ``[db.migrations] schema_paths`` each glob (relative to ``supabase/``) is expanded
    in turn, its matches sorted, duplicates dropped; Go's globs, so ``*`` (and ``**``)
    never cross a ``/``. Without it, ``supabase/schemas`` is walked in name order. None when
    the project declares no schema files.
    """
    patterns, problems = schema_paths(supabase_dir / "config.toml")
    if patterns is None:
        directory = supabase_dir / "schemas"
        return (_walk_sql(directory), problems) if directory.is_dir() else None
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(_go_glob(supabase_dir, pattern))
        if not matches:
            problems.append(f"[db.migrations] schema_paths: no files matched {pattern!r}")
        files.extend(p for p in matches if p not in files)
    return files, problems


def schema_paths(config: Path) -> tuple[list[str] | None, list[str]]:
    if not config.is_file():
        return None, []
    tomllib = toml_parser()
    try:
        with config.open("rb") as f:
            value = tomllib.load(f).get("db", {}).get("migrations", {}).get("schema_paths")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return None, []  # the settings stage reports a config.toml it cannot read
    if value is None or value == []:
        return None, []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, ["[db.migrations] schema_paths must be a list of globs; using supabase/schemas"]
    return value, []


def _walk_sql(directory: Path) -> list[Path]:
    """Regular ``.sql`` files below ``directory``, depth first, names sorted (Go's filepath.Walk)."""
    found = []
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.is_dir() and not entry.is_symlink():
            found.extend(_walk_sql(entry))
        elif entry.name.endswith(".sql") and (entry.is_file() or entry.is_symlink()):
            found.append(entry)
    return found


def _go_glob(base: Path, pattern: str) -> list[Path]:
    parts = [part for part in pattern.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return []  # never outside the project's supabase/ folder
    current = [base]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        step = []
        for directory in current:
            if not directory.is_dir() or directory.is_symlink() and directory != base:
                continue
            for entry in sorted(directory.iterdir(), key=lambda p: p.name):
                if fnmatchcase(entry.name, part.replace("**", "*")) and (entry.is_dir() != last or entry.is_symlink()):
                    step.append(entry)
        current = step
    return [p for p in current if p.is_file() or p.is_symlink()]


def _supabase_schemas(root: Path, boundary: Path) -> Plan:
    supabase_dir = root.parent if root.name == "schemas" and root.parent.name == "supabase" else root
    found = schema_files(supabase_dir)
    if found is None:
        return Plan(())
    files, problems = found
    return Plan(tuple(files), (), tuple(problems))


_PLANNERS = {"supabase": _supabase, "supabase-schemas": _supabase_schemas, "prisma": _prisma, "drizzle": _drizzle, "flyway": _flyway,
             "golang-migrate": _golang_migrate, "dbmate": _dbmate, "plain": _plain}


def blank_outside_dbmate_up(text: str) -> str:
    """dbmate files hold both directions; keep only ``-- migrate:up``, blanked in place so offsets hold."""
    up = DBMATE_UP.search(text)
    if up is None:
        return text
    down = DBMATE_DOWN.search(text, up.end())
    keep_from, keep_to = up.start(), down.start() if down else len(text)
    return _blank(text[:keep_from]) + text[keep_from:keep_to] + _blank(text[keep_to:])


def split_drizzle_breakpoints(text: str) -> str:
    """drizzle-kit splits a file on ``--> statement-breakpoint`` (plain text, wherever it stands)
    and runs each piece on its own; a ``;`` in the marker's place, same length, does the same."""
    return text.replace(DRIZZLE_BREAKPOINT, ";" + " " * (len(DRIZZLE_BREAKPOINT) - 1))


def _blank(text: str) -> str:
    return re.sub(r"[^\r\n]", " ", text)
