"""Resolved settings: what the rules see. Built from defaults, config files and CLI flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from rlslint.diagnostics import Severity
from rlslint.sql.names import QName


@dataclass(frozen=True)
class Settings:
    exposed_schemas: frozenset[str] = frozenset({"public"})
    owner_tables: tuple[QName, ...] = (QName("auth", "users"),)
    # ON DELETE actions accepted on a foreign key to an owner; SET NULL only on nullable columns.
    owner_on_delete: frozenset[str] = frozenset({"CASCADE", "SET NULL"})
    enabled: frozenset[str] | None = None  # rule codes; None = every rule
    severities: Mapping[str, Severity] = field(default_factory=lambda: MappingProxyType({}))
    fail_on: Severity = Severity.WARNING
