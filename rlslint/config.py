"""Settings for a migration set: defaults, then what the project's files say."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from rlslint.deep import run_deep
from rlslint.diagnostics import Severity
from rlslint.layouts import toml_parser
from rlslint.options import ConfigError, Options, parse_options, shown
from rlslint.rules import KNOWN_RULES
from rlslint.selection import matching, resolve_selection
from rlslint.settings import Settings
from rlslint.sources import DeclaredSet, display_path

if TYPE_CHECKING:
    from rlslint.sources import MigrationSet


def find_upwards(start: Path, relative: str) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / relative
        if candidate.is_file():
            return candidate
    return None


def supabase_exposed_schemas(start: Path) -> frozenset[str] | None:
    """``[api] schemas`` of the nearest ``supabase/config.toml``: the schemas PostgREST serves."""
    path = find_upwards(start, "supabase/config.toml") or find_upwards(start, "config.toml")
    if path is None or path.parent.name != "supabase":
        return None
    display = display_path(path, Path.cwd())
    api = _table(_read_toml(path, display), "api", display)
    if api.get("enabled") is False:
        return frozenset()  # the project serves no API at all
    schemas = api.get("schemas")
    if schemas is None:
        return None
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise ConfigError(f"{display}: api.schemas: expected a list of schema names, got {shown(schemas)}")
    # graphql_public usually holds no tables; kept as listed, it then simply matches none.
    return frozenset(schemas)


def supabase_project(start: Path) -> bool:
    """Whether the migrations belong to a Supabase project: a ``supabase/`` directory at or
    above them, up to the repository's root."""
    for directory in (start, *start.parents):
        if directory.name == "supabase" or (directory / "supabase").is_dir():
            return True
        if (directory / ".git").exists():
            return False
    return False


def settings_for_root(root: Path, base: Settings | None = None) -> Settings:
    settings = base or Settings()
    exposed = supabase_exposed_schemas(root)
    if exposed is not None:
        settings = replace(settings, exposed_schemas=exposed)
    if settings.platform is None and supabase_project(root):
        settings = replace(settings, platform="supabase")
    return settings


# --- rlslint's own configuration ------------------------------------------------------


class Overrides(NamedTuple):
    """What the command line says; None (or empty) means "as the config file says"."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    fail_on: Severity | None = None


def find_config(start: Path) -> Path | None:
    """The nearest ``rlslint.toml``, or ``pyproject.toml`` with a ``[tool.rlslint]`` table."""
    for directory in (start, *start.parents):
        if (directory / "rlslint.toml").is_file():
            return directory / "rlslint.toml"
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _rlslint_table(pyproject, display_path(pyproject, Path.cwd())) is not None:
            return pyproject
    return None


def declared_sets(cwd: Path, config: str | None) -> tuple[DeclaredSet, ...]:
    """The ``migrations`` setting of the config file that applies at ``cwd``, paths made absolute."""
    path = (cwd / config) if config else find_config(cwd)
    if path is None or not path.is_file():
        return ()
    display = display_path(path, cwd)
    options = load_options(path, display, named=config is not None)
    from rlslint.repository import repository_root

    # The config file comes with the repository, so it may only point inside it: a set named
    # outside would print files it does not own in its error excerpts.
    project = Path(os.path.realpath(repository_root(path.parent) or path.parent))
    declared = []
    for i, entry in enumerate(options.migrations or ()):
        where = Path(os.path.normpath(path.parent / entry.path))
        if not Path(os.path.realpath(where)).is_relative_to(project):
            raise ConfigError(f"{display}: migrations[{i}].path: {entry.path!r} lies outside the project ({project})")
        declared.append(DeclaredSet(where, entry.layout, entry.exposed_schemas))
    return tuple(declared)


def load_options(path: Path, display: str, named: bool = False) -> Options:
    """``named``: the user chose this file (``--config``), so a pyproject.toml must have the table."""
    if path.name == "pyproject.toml":
        table = _rlslint_table(path, display)
        if table is None and named:
            raise ConfigError(f"{display}: no [tool.rlslint] table")
        return parse_options(table or {}, display, "tool.rlslint.")
    return parse_options(_read_toml(path, display), display)


def _rlslint_table(pyproject: Path, display: str) -> dict | None:
    tool = _table(_read_toml(pyproject, display), "tool", display)
    return _table(tool, "rlslint", display, "tool.") if "rlslint" in tool else None


def _table(data: dict, key: str, display: str, prefix: str = "") -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{display}: {prefix}{key}: expected a table, got {shown(value)}")
    return value


def _read_toml(path: Path, display: str) -> dict:
    tomllib = toml_parser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        # Valid TOML may nest deeper than Python's default recursion limit allows.
        return run_deep(tomllib.loads, data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{display}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{display}: invalid TOML: nested too deeply") from None


def resolve(options: Options, overrides: Overrides, config_dir: Path | None, root: Path) -> Settings:
    """Raw options + command line + supabase/config.toml -> the Settings the rules see."""
    select = overrides.select if overrides.select is not None else options.select
    ignore = overrides.ignore if overrides.ignore is not None else options.ignore
    extend = (*options.extend_select, *overrides.extend_select)
    enabled = None
    if select or ignore or extend:
        enabled = frozenset(rule.code for rule in resolve_selection(KNOWN_RULES, select or (), ignore or (), extend))
    if options.exposed_schemas is not None:
        exposed = frozenset(options.exposed_schemas)
    else:
        from_supabase = supabase_exposed_schemas(root)  # [] is a real answer: the API serves nothing
        exposed = from_supabase if from_supabase is not None else Settings.exposed_schemas
    tables = options.rules or {}
    return Settings(
        exposed_schemas=exposed,
        api_roles=options.api_roles,
        platform="supabase" if supabase_project(root) else None,
        owner_tables=options.owner_tables if options.owner_tables is not None else Settings.owner_tables,
        owner_columns=options.owner_columns,
        enabled=enabled,
        severities=MappingProxyType({code: t.severity for code, t in tables.items() if t.severity is not None}),
        fail_on=overrides.fail_on or options.fail_on or Settings.fail_on,
        rule_options=MappingProxyType({code: MappingProxyType(dict(t.options)) for code, t in tables.items()}),
        exclude=tuple(_anchor(glob, config_dir) for glob in options.exclude),
        per_file_ignores=tuple(
            (_anchor(glob, config_dir), frozenset(r.code for r in matching(KNOWN_RULES, codes)))
            for glob, codes in options.per_file_ignores
        ),
        require_suppression_reason=options.require_suppression_reason,
    )


def _anchor(glob: str, config_dir: Path | None) -> str:
    """A glob with a "/" is relative to the config file's directory; one without matches file names."""
    if "/" not in glob or config_dir is None:
        return glob
    return (config_dir / glob.removeprefix("./")).as_posix()


class SettingsLoader:
    """Settings for each migration set, from the config file found above it (or ``--config``).

    Holds no results: what each set was linted with travels with that set's result.
    """

    def __init__(self, cwd: Path, config: str | None, overrides: Overrides) -> None:
        self.cwd = cwd
        self.config = (cwd / config) if config else None
        self.overrides = overrides
        if self.config is not None and not self.config.is_file():
            raise ConfigError(f"{config}: config file not found")

    def __call__(self, migration_set: "MigrationSet") -> Settings:
        path = self.config or find_config(migration_set.root)
        options, config_dir = Options(), None
        if path is not None:
            options, config_dir = load_options(path, self._display(path), named=self.config is not None), path.parent
        settings = resolve(options, self.overrides, config_dir, migration_set.root)
        if migration_set.exposed_schemas is not None:  # the set's own entry in the migrations setting
            settings = replace(settings, exposed_schemas=migration_set.exposed_schemas)
        return settings

    def _display(self, path: Path) -> str:
        try:
            return path.relative_to(self.cwd).as_posix()
        except ValueError:
            return path.as_posix()
