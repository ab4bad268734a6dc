"""Raw configuration: the ``[tool.rlslint]`` table checked key by key, before anything is resolved.

Every key is optional. An unknown key or a value of the wrong shape is a ``ConfigError``
naming the file, the key and what was expected, so a typo never silently lints with the
defaults (ruff's ``deny_unknown_fields``).
"""

from __future__ import annotations

import reprlib
from typing import Any, Mapping, NamedTuple

from rlslint.diagnostics import Severity
from rlslint.rules import KNOWN_RULES, find_rule
from rlslint.rules.base import Rule, RuleOption
from rlslint.selection import is_known_selector
from rlslint.sql.names import QName, parse_qname

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 4, 60, 60
SEVERITIES = tuple(s.label for s in sorted(Severity, reverse=True))  # error, warning, info


class ConfigError(Exception):
    """A configuration file says something rlslint cannot use: exit 2, nothing linted on a guess."""


def shown(value: Any) -> str:
    """A value quoted in a one-line message: a 5,000-deep array is cut short, not printed whole."""
    return _SHORT.repr(value)


class RuleTable(NamedTuple):
    """``[tool.rlslint.rules.<code-or-name>]``: a severity and the rule's declared options."""

    severity: Severity | None
    options: Mapping[str, Any]


class Options(NamedTuple):
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    fail_on: Severity | None = None
    exposed_schemas: tuple[str, ...] | None = None
    api_roles: tuple[str, ...] | None = None
    owner_tables: tuple[QName, ...] | None = None
    owner_columns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    require_suppression_reason: bool = False
    rules: Mapping[str, RuleTable] | None = None  # by rule code
    migrations: tuple[MigrationsEntry, ...] | None = None  # sets listed explicitly instead of found


class MigrationsEntry(NamedTuple):
    """``[[migrations]]``: a set's path (relative to the config file), its layout and exposed schemas."""

    path: str
    layout: str | None = None
    exposed_schemas: tuple[str, ...] | None = None


KEYS = (
    "api-roles", "exclude", "exposed-schemas", "extend-select", "fail-on", "ignore", "migrations", "owner-columns", "owner-tables",
    "per-file-ignores", "require-suppression-reason", "rules", "select",
)


class _Reader:
    """Reads one file's table; ``prefix`` is how keys are named in messages (``tool.rlslint.``)."""

    def __init__(self, file: str, prefix: str) -> None:
        self.file = file
        self.prefix = prefix

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self.prefix}{key}: {problem}")

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], where: str = "") -> None:
        for key in table:
            if key not in allowed:
                raise self.error(f"{where}{key}", f"unknown key; expected one of: {', '.join(sorted(allowed))}")

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {shown(value)}")
        return value

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a list of strings, got {shown(value)}")
        return tuple(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {shown(value)}")
        return value

    def severity(self, value: Any, key: str) -> Severity:
        if value not in SEVERITIES:
            raise self.error(key, f"expected one of {', '.join(map(repr, SEVERITIES))}, got {shown(value)}")
        return Severity.parse(value)

    def table_names(self, value: Any, key: str) -> tuple[QName, ...]:
        names = []
        for text in self.strings(value, key):
            try:
                names.append(parse_qname(text, default_schema=""))
            except ValueError:
                names.append(QName("", ""))
            if not all(names[-1]):
                raise self.error(key, f"expected schema-qualified table names such as 'auth.users', got {shown(text)}")
        return tuple(names)

    def selectors(self, value: Any, key: str) -> tuple[str, ...]:
        selectors = self.strings(value, key)
        for selector in selectors:
            if not is_known_selector(KNOWN_RULES, selector):
                raise self.error(key, f"unknown rule {selector!r}; expected rule codes, names or code prefixes "
                                      "(`rlslint rules` lists them)")
        return selectors


def parse_options(data: Mapping[str, Any], file: str, prefix: str = "") -> Options:
    """Validate the rlslint table of one file (``prefix`` is ``tool.rlslint.`` in pyproject.toml)."""
    read = _Reader(file, prefix)
    read.check_keys(data, KEYS)
    values: dict[str, Any] = {}
    for key in ("select", "ignore", "extend-select"):
        if key in data:
            values[key.replace("-", "_")] = read.selectors(data[key], key)
    for key in ("exposed-schemas", "exclude", "owner-columns", "api-roles"):
        if key in data:
            values[key.replace("-", "_")] = read.strings(data[key], key)
    if "owner-tables" in data:
        values["owner_tables"] = read.table_names(data["owner-tables"], "owner-tables")
    if "fail-on" in data:
        values["fail_on"] = read.severity(data["fail-on"], "fail-on")
    if "require-suppression-reason" in data:
        values["require_suppression_reason"] = read.boolean(data["require-suppression-reason"], "require-suppression-reason")
    if "per-file-ignores" in data:
        table = read.table(data["per-file-ignores"], "per-file-ignores")
        values["per_file_ignores"] = tuple(
            (glob, read.selectors(codes, f'per-file-ignores."{glob}"'))
            for glob, codes in table.items()
        )
    if "rules" in data:
        values["rules"] = _rule_tables(read, read.table(data["rules"], "rules"))
    if "migrations" in data:
        values["migrations"] = _migrations(read, data["migrations"])
    return Options(**values)


def _migrations(read: _Reader, value: Any) -> tuple[MigrationsEntry, ...]:
    from rlslint.layouts import LAYOUTS

    if not isinstance(value, list):
        raise read.error("migrations", f"expected an array of tables ([[migrations]] with a path each), got {value!r}")
    entries = []
    for i, item in enumerate(value):
        key = f"migrations[{i}]"
        table = read.table(item, key)
        read.check_keys(table, ("exposed-schemas", "layout", "path"), f"{key}.")
        if not isinstance(table.get("path"), str) or not table["path"]:
            raise read.error(f"{key}.path", f"expected the set's directory, got {table.get('path')!r}")
        layout = table.get("layout")
        if layout is not None and layout not in LAYOUTS:
            raise read.error(f"{key}.layout", f"expected one of {', '.join(LAYOUTS)}, got {layout!r}")
        exposed = read.strings(table["exposed-schemas"], f"{key}.exposed-schemas") if "exposed-schemas" in table else None
        entries.append(MigrationsEntry(table["path"], layout, exposed))
    return tuple(entries)


def _rule_tables(read: _Reader, tables: Mapping[str, Any]) -> dict[str, RuleTable]:
    resolved: dict[str, RuleTable] = {}
    for code_or_name, table in tables.items():
        key = f"rules.{code_or_name}"
        rule = find_rule(code_or_name)
        if rule is None:
            raise read.error(key, "unknown rule; expected a rule code or name (`rlslint rules` lists them)")
        table = read.table(table, key)
        read.check_keys(table, ("severity", *(o.name for o in rule.options)), f"{key}.")
        severity = read.severity(table["severity"], f"{key}.severity") if "severity" in table else None
        options = {o.name: _option_value(read, rule, o, table[o.name]) for o in rule.options if o.name in table}
        resolved[rule.code] = RuleTable(severity, options)
    return resolved


def _option_value(read: _Reader, rule: Rule, option: RuleOption, value: Any) -> Any:
    key = f"rules.{rule.code}.{option.name}"
    if option.type == "bool":
        return read.boolean(value, key)
    if option.type in ("str", "int"):
        expected = str if option.type == "str" else int
        if not isinstance(value, expected) or isinstance(value, bool):
            raise read.error(key, f"expected {'a string' if expected is str else 'an integer'}, got {shown(value)}")
        items: tuple = (value,)
    else:
        value = read.strings(value, key)
        items = value
    if option.choices and any(item not in option.choices for item in items):
        shape = "a list of" if option.type == "list[str]" else "one of"
        raise read.error(key, f"expected {shape} {', '.join(map(repr, option.choices))}, got {shown(list(value) if isinstance(value, tuple) else value)}")
    return list(value) if isinstance(value, tuple) else value
