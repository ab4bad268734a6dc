"""The pipeline points one way: sources -> parse -> history -> [verify] -> rules -> suppressions -> report.

Every module of rlslint sits in one layer and imports only from its own layer or below
(function-level imports included: a lazy import is still a dependency). A new module must
be placed here, which is the point: where it belongs is decided once, on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "rlslint"

# Lowest first. A module is matched by its dotted name or by the longest listed package
# prefix; "rlslint" is the package's own __init__ only, never a prefix of everything.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("rlslint", "rlslint.sql.names", "rlslint.sql.installed", "rlslint.sql.spans", "rlslint.sql.problems",
                    "rlslint.deep", "rlslint.deferred", "rlslint.writing", "rlslint.gitignore", "rlslint.layouts",
                    "rlslint.escape")),
    ("parse", ("rlslint.sql",)),
    ("result data", ("rlslint.diagnostics", "rlslint.settings")),
    ("sources", ("rlslint.sources", "rlslint.repository")),
    ("history", ("rlslint.schema", "rlslint.platform", "rlslint.history", "rlslint.cache", "rlslint.codec",
                 "rlslint.markers", "rlslint.results")),
    # rlslint check --verify: the history's trace applied to PostgreSQL, before the rules read the result.
    ("verify", ("rlslint.verify",)),
    ("rules", ("rlslint.rules", "rlslint.selection", "rlslint.checklist", "rlslint.access_matrix",
               "rlslint.comparison")),
    ("suppressions", ("rlslint.suppress", "rlslint.baseline")),
    ("report", ("rlslint.report", "rlslint.docs")),
    ("commands", ("rlslint.engine", "rlslint.fixes", "rlslint.config", "rlslint.options", "rlslint.starter",
                  "rlslint.cli", "rlslint.__main__")),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """rlslint modules a file imports, anywhere in it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            # ``from rlslint.rules import owner_fk_without_cascade`` imports a module too.
            found.update(f"{module}.{alias.name}" for alias in node.names
                         if (PACKAGE.parent / f"{module}.{alias.name}".replace(".", "/")).with_suffix(".py").exists())
    return {m for m in found if m == "rlslint" or m.startswith("rlslint.")}


MODULES = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    matches = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or (prefix != "rlslint" and module.startswith(prefix + "."))]
    if not matches:
        raise AssertionError(f"{module} is in no layer: place it in LAYERS in {Path(__file__).name}")
    return max(matches)[1]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_or_below(module):
    upward = sorted(m for m in MODULES[module] if _layer(m) > _layer(module))
    assert not upward, f"{module} ({LAYERS[_layer(module)][0]}) imports {upward}, a later stage"


def test_sql_never_imports_the_schema_model_or_the_results():
    offending = {m: sorted(i for i in imports if not i.startswith("rlslint.sql") and i != "rlslint")
                 for m, imports in MODULES.items() if m.startswith("rlslint.sql")}
    assert {m: i for m, i in offending.items() if i} == {}


def test_the_schema_model_knows_nothing_of_the_stages_that_read_it():
    # platform: the state a Supabase project starts from, which the replay begins with.
    allowed = ("rlslint.schema", "rlslint.sql", "rlslint.diagnostics", "rlslint.settings", "rlslint.platform")
    offending = {m: sorted(i for i in imports if i != "rlslint" and not i.startswith(allowed))
                 for m, imports in MODULES.items() if m.startswith("rlslint.schema")}
    assert {m: i for m, i in offending.items() if i} == {}


def test_only_the_registry_reaches_into_rule_modules():
    """Outside rules/, a rule is known by its declaration (the registry and ``rules.base``),
    never by its internals; inside, a rule module uses the shared helpers, not another rule."""
    public = {"rlslint.rules", "rlslint.rules.base"}
    outside = {m: sorted(i for i in imports if i.startswith("rlslint.rules.") and i not in public)
               for m, imports in MODULES.items() if not m.startswith("rlslint.rules")}
    assert {m: i for m, i in outside.items() if i} == {}
    inside = {m: sorted(i for i in imports if i.startswith("rlslint.rules.") and i not in public
                        and not i.rpartition(".")[2].startswith("_"))
              for m, imports in MODULES.items() if m.startswith("rlslint.rules.")}
    assert {m: i for m, i in inside.items() if i} == {}


def test_the_layers_name_real_modules():
    listed = {prefix for _, prefixes in LAYERS for prefix in prefixes}
    assert sorted(p for p in listed if not any(m == p or m.startswith(p + ".") for m in MODULES)) == []


def test_a_module_in_no_layer_is_named():
    with pytest.raises(AssertionError, match="rlslint.newstage is in no layer"):
        _layer("rlslint.newstage")
