"""The rule registry: adding a rule means one module and one line here."""

from __future__ import annotations

from rlslint.rules import (
    auth_call_per_row,
    invalid_suppression,
    missing_policy,
    multiple_permissive_policies,
    owner_fk_without_cascade,
    permissive_write_policy,
    policy_without_rls,
    table_without_rls,
    unindexed_foreign_key,
    unindexed_policy_column,
    unused_suppression,
    user_metadata_in_policy,
)
from rlslint.rules.base import Rule

ALL_RULES: tuple[Rule, ...] = (
    table_without_rls.RULE,
    missing_policy.RULE,
    unindexed_foreign_key.RULE,
    unindexed_policy_column.RULE,
    owner_fk_without_cascade.RULE,
    policy_without_rls.RULE,
    auth_call_per_row.RULE,
    multiple_permissive_policies.RULE,
    user_metadata_in_policy.RULE,
    permissive_write_policy.RULE,
)

# Reported by the suppression stage about rlslint's own comments, not by a check over the model.
SUPPRESSION_RULES: tuple[Rule, ...] = (
    unused_suppression.RULE,
    invalid_suppression.RULE,
)

KNOWN_RULES = ALL_RULES + SUPPRESSION_RULES  # what configs, suppressions and docs may name

BY_CODE = {rule.code: rule for rule in KNOWN_RULES}
BY_NAME = {rule.name: rule for rule in KNOWN_RULES}

if len(BY_CODE) != len(KNOWN_RULES) or len(BY_NAME) != len(KNOWN_RULES):
    raise RuntimeError("rule codes and names must be unique")


def find_rule(code_or_name: str) -> Rule | None:
    return BY_CODE.get(code_or_name.upper()) or BY_NAME.get(code_or_name.lower())
