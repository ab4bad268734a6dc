"""The rule registry: adding a rule means one module and one line here."""

from __future__ import annotations

from importlib import import_module

from rlslint.rules.base import Rule

# One module per rule, in the order `rlslint rules`, the docs and the README list them.
_RULE_MODULES = (
    "table_without_rls",
    "missing_policy",
    "unindexed_foreign_key",
    "unindexed_policy_column",
    "owner_fk_without_cascade",
    "policy_without_rls",
    "auth_call_per_row",
    "multiple_permissive_policies",
    "user_metadata_in_policy",
    "permissive_write_policy",
    "bypassed_policy",
)
# Judged by the suppression stage, about rlslint's own comments, not by a check over the model.
_SUPPRESSION_MODULES = (
    "unused_suppression",
    "invalid_suppression",
)


# Judged with ``rlslint check --verify``, on what a real PostgreSQL did with the migrations.
_VERIFY_MODULES = (
    "model_differs_from_catalog",
    "extension_unavailable",
)


def _rules(modules: tuple[str, ...]) -> tuple[Rule, ...]:
    return tuple(import_module(f"rlslint.rules.{name}").RULE for name in modules)


ALL_RULES: tuple[Rule, ...] = _rules(_RULE_MODULES)  # the rules over the schema model
SUPPRESSION_RULES: tuple[Rule, ...] = _rules(_SUPPRESSION_MODULES)
VERIFY_RULES: tuple[Rule, ...] = _rules(_VERIFY_MODULES)
KNOWN_RULES = ALL_RULES + SUPPRESSION_RULES + VERIFY_RULES  # what configs, suppressions and docs may name

BY_CODE = {rule.code: rule for rule in KNOWN_RULES}
BY_NAME = {rule.name: rule for rule in KNOWN_RULES}

if len(BY_CODE) != len(KNOWN_RULES) or len(BY_NAME) != len(KNOWN_RULES):
    raise RuntimeError("rule codes and names must be unique")


def find_rule(code_or_name: str) -> Rule | None:
    return BY_CODE.get(code_or_name.upper()) or BY_NAME.get(code_or_name.lower())
