"""What the named files of a pre-commit run cause elsewhere, without running every rule twice.

A run on named files also reports the findings they cause in other files: those the rules
find on the model, but would not find on the model had the named files never been written
(a DROP POLICY in a new migration leaves a finding on the old ENABLE statement). The two
models differ only where the named files reached, so the rules judge the second one again
only there: the tables whose state differs, and the tables whose verdict reads one of them,
by what each rule declares it reads beyond its own table (``Rule.reads``). Everywhere else a
rule's findings on the two models are the same, and the first model's stand for the
second's. A rule that declares nothing, or that reads what differs everywhere (the roles,
the API roles), is run over the whole second model.
"""

from __future__ import annotations

from typing import Iterable

from rlslint.diagnostics import Diagnostic
from rlslint.rules.base import ACCESS, PARTITION_PARENT, POLICY_TABLES, Rule, RuleContext, policy_reads
from rlslint.schema.model import Catalog, Table
from rlslint.settings import Settings
from rlslint.sql.names import QName

Identity = tuple[str, ...]


def findings_without(catalog: Catalog, without: Catalog, settings: Settings, rules: Iterable[Rule],
                     found: Iterable[Diagnostic]) -> set[Identity]:
    """The identities of the findings ``rules`` give on ``without``, the model without the named
    files, as running them all over it would. ``found``: their findings on ``catalog``, the
    model with those files (no rule left out that runs on both)."""
    rules = [r for r in rules if settings.runs(r)]
    full, partial = _split(rules, RuleContext(catalog, settings), RuleContext(without, settings))
    identities: set[Identity] = set()
    whole = RuleContext(without, settings)
    for rule in full:
        identities.update(d.identity for d in rule.run(whole))
    if not partial:
        return identities
    judged = judged_again(catalog, without, {read for rule in partial for read in rule.reads})
    again = RuleContext(without, settings, judged=judged)
    codes = {rule.code for rule in partial}
    for rule in partial:
        identities.update(d.identity for d in rule.run(again) if d.subject.table in judged)
    # Elsewhere nothing a partial rule reads differs: its findings there are the same on both.
    identities.update(d.identity for d in found if d.code in codes and d.subject.table not in judged)
    return identities


def _split(rules: list[Rule], with_ctx: RuleContext, without_ctx: RuleContext) -> tuple[list[Rule], list[Rule]]:
    """(rules to run over the whole second model, rules to run only where it differs)."""
    access_differs = _access(with_ctx) != _access(without_ctx)
    full, partial = [], []
    for rule in rules:
        if rule.needs_api_roles and not without_ctx.api_roles:
            continue  # skipped on the second model, as a whole run skips it
        undeclared = rule.reads is None or (rule.needs_api_roles and ACCESS not in rule.reads)
        ran_first = with_ctx.api_roles or not rule.needs_api_roles  # else ``found`` has none of its findings
        if undeclared or not ran_first or (ACCESS in rule.reads and access_differs):
            full.append(rule)
        else:
            partial.append(rule)
    return full, partial


def _access(ctx: RuleContext) -> tuple:
    """What the rules read of the access model (rlslint.schema.acl): the roles, who is a member
    of whom, the schemas' privileges, and the API roles, which may be found from all of it."""
    access = ctx.catalog.access
    return dict(access.roles), access.memberships, dict(access.schema_acl), ctx.api_roles


def judged_again(catalog: Catalog, without: Catalog, reads: set[str]) -> frozenset[QName]:
    """The tables whose verdicts, by rules that read ``reads`` besides their own table, may
    differ between the two models."""
    changed = {qname for qname in catalog.tables.keys() | without.tables.keys()
               if not _same(catalog.tables.get(qname), without.tables.get(qname))}
    judged = set(changed)
    tables = _both(catalog, without)
    if PARTITION_PARENT in reads:  # a partition's foreign keys are judged against its parent's
        judged.update(t.qname for t in tables if t.partition_of in changed)
    if POLICY_TABLES in reads:
        # A policy reading a changed table may bind or compare differently, and every table it
        # reads has its columns' verdicts from it.
        for table in tables:
            found = policy_reads(table)
            if not changed.isdisjoint(found):
                judged.update(found)
    return frozenset(judged)


def _same(a: Table | None, b: Table | None) -> bool:
    return a is b or (a is not None and b is not None and a == b)


def _both(catalog: Catalog, without: Catalog) -> list[Table]:
    """Every table of either model, each object once (the two share the tables neither changed)."""
    seen: dict[int, Table] = {}
    for table in (*catalog.tables.values(), *without.tables.values()):
        seen.setdefault(id(table), table)
    return list(seen.values())
