"""Which rules run: ``--select`` / ``--ignore`` by code, name or code prefix (``IDX``)."""

from __future__ import annotations

from typing import Iterable

from rlslint.rules.base import Rule


class SelectionError(ValueError):
    pass


def _matches(rule: Rule, selector: str) -> bool:
    selector = selector.strip()
    return rule.name == selector.lower() or rule.code.startswith(selector.upper()) or selector.upper() == "ALL"


def is_known_selector(rules: Iterable[Rule], selector: str) -> bool:
    return any(_matches(rule, selector) for rule in rules)


def check_selectors(rules: Iterable[Rule], selectors: Iterable[str]) -> None:
    """Reject a selector that names no rule, before any work is done."""
    rules = tuple(rules)
    for selector in selectors:
        if not is_known_selector(rules, selector):
            raise SelectionError(f"unknown rule selector {selector!r}; `rlslint rules` lists codes and names")


def matching(rules: Iterable[Rule], selectors: Iterable[str]) -> tuple[Rule, ...]:
    selectors = tuple(selectors)
    return tuple(r for r in rules if any(_matches(r, s) for s in selectors))


def resolve_selection(rules: Iterable[Rule], select: Iterable[str], ignore: Iterable[str],
                      extend: Iterable[str]) -> tuple[Rule, ...]:
    """``select`` (or else the rules on by default), plus ``extend``, minus ``ignore``."""
    rules = tuple(rules)
    select = tuple(select)
    chosen = {r.code for r in (matching(rules, select) if select else (r for r in rules if r.default_enabled))}
    chosen |= {r.code for r in matching(rules, extend)}
    ignored = {r.code for r in matching(rules, ignore)}
    return tuple(r for r in rules if r.code in chosen and r.code not in ignored)
