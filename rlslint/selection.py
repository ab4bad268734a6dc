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


def resolve_selection(rules: Iterable[Rule], select: Iterable[str], ignore: Iterable[str],
                      extend: Iterable[str]) -> tuple[Rule, ...]:
    """``select`` (or else the rules on by default), plus ``extend``, minus ``ignore``."""
    rules, select, ignore, extend = tuple(rules), tuple(select), tuple(ignore), tuple(extend)
    base = [r for r in rules if any(_matches(r, s) for s in select)] if select else [r for r in rules if r.default_enabled]
    chosen = base + [r for r in rules if r not in base and any(_matches(r, s) for s in extend)]
    return tuple(r for r in rules if r in chosen and not any(_matches(r, s) for s in ignore))


def select_rules(rules: Iterable[Rule], select: Iterable[str], ignore: Iterable[str]) -> tuple[Rule, ...]:
    rules = tuple(rules)
    for selector in (*select, *ignore):
        if not any(_matches(rule, selector) for rule in rules):
            raise SelectionError(f"unknown rule selector {selector!r}; `rlslint rules` lists codes and names")
    chosen = [r for r in rules if not select or any(_matches(r, s) for s in select)]
    return tuple(r for r in chosen if not any(_matches(r, s) for s in ignore))
