"""Settings for a migration set: defaults, then what the project's files say."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from rlslint.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration file says something rlslint cannot use: exit 2, nothing linted on a guess."""


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
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    schemas = data.get("api", {}).get("schemas")
    if schemas is None:
        return None
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise ConfigError(f"{path}: [api] schemas must be a list of schema names")
    # graphql_public usually holds no tables; kept as listed, it then simply matches none.
    return frozenset(schemas)


def settings_for_root(root: Path, base: Settings | None = None) -> Settings:
    settings = base or Settings()
    exposed = supabase_exposed_schemas(root)
    if exposed is not None:
        settings = replace(settings, exposed_schemas=exposed)
    return settings
