"""Resolved settings: what the rules see. Built from defaults, config files and CLI flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from rlslint.diagnostics import Severity
from rlslint.sql.names import QName


@dataclass(frozen=True)
class Settings:
    exposed_schemas: frozenset[str] = frozenset({"public"})
    # The roles whose access the RLS rules judge; None: detected from the model (see
    # rlslint.schema.acl.detected_api_roles).
    api_roles: tuple[str, ...] | None = None
    # Where the replay starts (rlslint.platform): "supabase" when the project has a
    # supabase/ directory, else None, decided by what the migrations name.
    platform: str | None = None
    owner_tables: tuple[QName, ...] = (QName("auth", "users"),)
    # Columns that name a row's owner: a bare column name (any table), or schema.table.column.
    owner_columns: tuple[str, ...] = ()
    enabled: frozenset[str] | None = None  # rule codes; None = the rules on by default
    severities: Mapping[str, Severity] = field(default_factory=lambda: MappingProxyType({}))
    fail_on: Severity = Severity.WARNING
    # rule code -> option name -> value, validated against the options the rule declares
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    # Globs over absolute POSIX paths (a glob without "/" matches the file name). Excluded
    # files are still replayed, since later migrations build on them, but never reported on.
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()  # (glob, rule codes)
    require_suppression_reason: bool = False

    def runs(self, rule: Any) -> bool:
        """Whether a rule runs: the default selection unless select/ignore/extend-select said otherwise."""
        return rule.default_enabled if self.enabled is None else rule.code in self.enabled
