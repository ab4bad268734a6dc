"""What a rule is: metadata declared once, and a pure check over the final schema model."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, TypeVar

from rlslint.diagnostics import Diagnostic, Finding, Severity
from rlslint.schema import acl
from rlslint.schema.model import COMMANDS, Catalog, Policy, Table
from rlslint.settings import Settings
from rlslint.sql.names import QName
from rlslint.sql.tree import find

if TYPE_CHECKING:
    from rlslint.rules._facts import Facts

T = TypeVar("T")

# What a rule's verdict on a table may read besides that table and the settings
# (``Rule.reads``). A pre-commit run judges the model without the named files again only
# where what a rule reads differs from the model with them (rlslint/comparison.py).
ACCESS = "access"  # roles, memberships, schema privileges, and the API roles found from them
PARTITION_PARENT = "partition parent"  # the partitioned table a partition belongs to
# The tables a policy's sub-selects name, for the policy's table and for each of them: a
# column's verdict reads every policy that may compare it, and those bind through their FROM items.
POLICY_TABLES = "policy tables"
READS = (ACCESS, PARTITION_PARENT, POLICY_TABLES)


def policy_reads(table: Table) -> frozenset[QName]:
    """The table and every table its policies' sub-selects name: all a column reference in
    them can bind to. ``schema.scopes`` binds only to the policy's table and to FROM items
    with a schema, which the replay wrote in when it knew the table; an unqualified name (a
    CTE, or a table unknown when the policy was made) binds to no table."""
    found = {table.qname}
    for policy in table.policies:
        for expr in (policy.using, policy.with_check):
            if expr is not None:
                found.update(QName(rv["schemaname"], rv["relname"]) for rv in find(expr.tree, "RangeVar")
                             if rv.get("schemaname"))
    return frozenset(found)


@dataclass(frozen=True)
class RuleContext:
    catalog: Catalog
    settings: Settings
    verification: Any = None  # rlslint.verify.verifier.Verification, with --verify
    # The tables this run judges (None: all). Findings about others may come out too; the
    # caller keeps only the judged ones, so a rule may ignore this and be only slower.
    judged: frozenset[QName] | None = None
    _answers: dict[Callable, Any] = field(default_factory=dict, compare=False, repr=False)

    def exposed(self, table: Table) -> bool:
        return table.qname.schema in self.settings.exposed_schemas

    def tables(self) -> Iterable[Table]:
        """The tables this run judges, in the model's order."""
        if self.judged is None:
            return self.catalog.tables.values()
        return [table for qname, table in self.catalog.tables.items() if qname in self.judged]

    def shared(self, question: Callable[["RuleContext"], T]) -> T:
        """``question(ctx)``, worked out once for every rule of this run that asks it: IDX001
        and IDX002 both need every policy's compared columns gathered by column. The answer
        is read, never changed."""
        if question not in self._answers:
            self._answers[question] = question(self)
        return self._answers[question]

    @cached_property
    def facts(self) -> "Facts":
        """``facts(expr, table)``: what the rules read of a policy expression of the model,
        from one walk of it for every rule and fix that asks (``rules._facts``)."""
        from rlslint.rules._facts import Facts  # it reads the rules' shared predicates, which import this module

        return Facts(self.catalog)

    @cached_property
    def api_roles(self) -> tuple[str, ...]:
        """The roles whose access the RLS rules judge (``api-roles``, or detected)."""
        if self.settings.api_roles is not None:
            return self.settings.api_roles
        return acl.detected_api_roles(self.catalog.access, self.catalog.tables.values())

    def reach(self, table: Table) -> dict[str, tuple[str, ...]]:
        """API role -> the commands it may run on the table, RLS aside (privileges and USAGE)."""
        access = self.catalog.access
        found = {role: tuple(c for c in COMMANDS if acl.can_run(access, role, table, c)) for role in self.api_roles}
        return {role: commands for role, commands in found.items() if commands}

    def subject(self, table: Table, command: str) -> tuple[str, ...]:
        """The API roles that may run ``command`` on the table and that its RLS applies to."""
        access = self.catalog.access
        return tuple(r for r in self.api_roles
                     if acl.can_run(access, r, table, command) and not acl.bypasses_rls(access, r, table))

    def for_api(self, policy: Policy, table: Table) -> bool:
        """Whether the policy applies to an API role that RLS applies to on this table."""
        access = self.catalog.access
        return any(acl.policy_applies(access, r, policy) and not acl.bypasses_rls(access, r, table) for r in self.api_roles)

    def enforced(self, policy: Policy, table: Table) -> bool:
        """Whether some role without BYPASSRLS is subject to the policy (it runs for its queries)."""
        return acl.enforced_on(self.catalog.access, policy, table)


Check = Callable[[Any], Iterator[Finding]]  # RuleContext; the SUP rules get markers.MarkerUse


class RuleOption(NamedTuple):
    """A setting a rule reads, set under ``[tool.rlslint.rules.<code>]`` and validated there."""

    name: str  # kebab-case, as written in the config file
    type: str  # "bool", "str", "int" or "list[str]"
    default: Any
    doc: str
    choices: tuple[str, ...] = ()  # allowed values (of each item, for lists); empty = any


@dataclass(frozen=True)
class Rule:
    code: str  # stable: users' configs and suppressions name it
    name: str  # kebab-case; reads as "allow <name>"
    summary: str
    default_severity: Severity
    check: Check
    docs: str  # the module docstring: "What it flags" and "Why it matters" sections
    bad: tuple[str, ...]  # migrations that must fire the rule; the tests run them
    good: tuple[str, ...]  # migrations that must not
    since: str = "0.1.0"
    options: tuple[RuleOption, ...] = ()
    # Off unless selected (`extend-select`, `--select`): advice that overlaps the checklist
    # rules or that a correct project may follow on purpose.
    default_enabled: bool = True
    tags: tuple[str, ...] = ()  # what it protects: security, performance, reliability (SARIF's tags)
    checklist: bool = False  # one of the per-table checklist's rules (the README's first table)
    # The checklist matrix's columns (diagnostics.CHECKLIST_COLUMNS) this rule's findings fail;
    # for the command columns, only the commands a finding names.
    cells: tuple[str, ...] = ()
    fires_when: str = ""  # the README's rule table: when it fires, on the model after all migrations
    points_at: str = ""  # the README's rule table: where a finding is located
    # Judges what the API roles can reach: skipped, and the run says so, when there is none.
    needs_api_roles: bool = False
    # What its verdict on a table reads besides that table and the settings, from READS.
    # None: not declared, so a pre-commit run's comparison runs it over the whole model.
    reads: tuple[str, ...] | None = None

    def severity(self, settings: Settings) -> Severity:
        return settings.severities.get(self.code, self.default_severity)

    def option(self, settings: Settings, name: str) -> Any:
        """The configured value of one of this rule's declared options, or its default."""
        declared = next(o for o in self.options if o.name == name)
        return settings.rule_options.get(self.code, {}).get(name, declared.default)

    def run(self, ctx: Any) -> list[Diagnostic]:
        """The rule's findings, stamped with its code, name and configured severity."""
        severity = self.severity(ctx.settings)
        return [Diagnostic.stamped(self.code, self.name, severity, finding) for finding in self.check(ctx)]

    def sections(self) -> dict[str, str]:
        """The docstring's sections by heading (``## What it flags`` …)."""
        text = inspect.cleandoc(self.docs)
        parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
        return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
