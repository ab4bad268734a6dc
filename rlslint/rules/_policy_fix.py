"""The policies a table with RLS on is missing, built only where that is safe.

Shared by RLS002 (RLS on, commands uncovered) and RLS001 (enabling RLS, which without
policies denies every command to the API's roles).
"""

from __future__ import annotations

from rlslint.escape import visible  # names in comments: a line break would end the comment

from typing import TYPE_CHECKING

from rlslint.rules._facts import Facts
from rlslint.rules._owners import owner
from rlslint.schema.model import Table
from rlslint.settings import Settings
from rlslint.sql.deparse import predicate_sql, wrapped_calls_sql
from rlslint.sql.literals import is_true_literal
from rlslint.sql.names import quote_ident

if TYPE_CHECKING:
    from rlslint.rules.base import RuleContext


def new_policy_roles(ctx: "RuleContext", table: Table, missing: tuple[str, ...]) -> str:
    """The roles new policies are written for: ``authenticated`` (a policy keyed on the
    signed-in user is the usual intent) unless only other API roles hold the missing commands."""
    roles = {r for c in missing for r in ctx.subject(table, c)}
    return "authenticated" if "authenticated" in roles or not roles else ", ".join(quote_ident(r) for r in sorted(roles))


def missing_policies_sql(table: Table, missing: tuple[str, ...], settings: Settings, facts: Facts,
                         roles: str = "authenticated") -> str:
    """The policies for the missing commands, from a predicate that already guards writes on
    the table or from its owner column; otherwise a commented template, which leaves the
    finding in place: which rows each command may touch is a decision for a person.
    ``roles``: who the policies are for when none is copied (see ``new_policy_roles``).
    ``facts``: the rule context's memo of its policy expressions (``RuleContext.facts``).
    """
    copied = _copied_predicate(table, facts)
    if copied is not None:
        predicate, roles, source = copied  # the copied policy's roles with its condition
        why = f'-- the condition of policy "{visible(source)}", which already guards writes on {table.qname}\n'
    elif (found := owner(table, settings, facts, for_writes=True)) is not None:
        predicate = f"(SELECT auth.uid()) = {quote_ident(found.column)}"
        why = f"-- each user reaches the rows they own: {quote_ident(found.column)} is the owner ({visible(found.why)})\n"
    else:
        return _template(table, missing, settings, facts, roles)
    return why + "\n".join(_statements(table, missing, predicate, roles))


def _template(table: Table, missing: tuple[str, ...], settings: Settings, facts: Facts, roles: str) -> str:
    head = (f"-- decide which rows {', '.join(missing)} may touch on {table.qname}: no policy guards writes "
            "and no owner column says who may change a row.\n")
    reader = owner(table, settings, facts)  # evidence from a read policy only
    if reader is not None:
        column = quote_ident(reader.column)
        lines = _statements(table, missing, f"(SELECT auth.uid()) = {column}", roles)
        advice = (f"-- {visible(reader.why)}, which says who may see a row, not who may change it. If each user may\n"
                  f"-- also change the rows they own by {column}, these are the policies:\n")
    else:
        reads = [p.name for p in table.policies if p.permissive and p.command == "SELECT"]
        lines = _statements(table, missing, "<condition>", roles)
        advice = (f"-- policy \"{visible(reads[0])}\" says who may read a row, not who may change it, so it is not copied.\n"
                  if reads else "") + "-- Replace <condition>, or grant nothing on purpose and suppress the finding:\n"
    return head + advice + "\n".join(f"-- {line}" for line in lines)


def _statements(table: Table, missing: tuple[str, ...], predicate: str, roles: str) -> list[str]:
    taken = {p.name for p in table.policies}
    lines = []
    for command in missing:
        name = _policy_name(table, command, taken)
        head = f"CREATE POLICY {quote_ident(name)} ON {table.qname} FOR {command} TO {roles}"
        if command == "INSERT":
            lines.append(f"{head} WITH CHECK ({predicate});")
        elif command == "UPDATE":
            lines.append(f"{head} USING ({predicate}) WITH CHECK ({predicate});")
        else:
            lines.append(f"{head} USING ({predicate});")
    return lines


def _copied_predicate(table: Table, facts: Facts) -> tuple[str, str, str] | None:
    """The predicate, roles and name of the first permissive write or FOR ALL policy worth copying.

    A missing command has no permissive policy of its own, so the permissive policies
    left are for other commands. SELECT policies are skipped (read access is no licence to
    write), and so are always-true clauses (copied into a write they open the table to
    everyone). Per-row auth calls come out wrapped, as PERF001 asks.
    """
    for policy in table.policies:
        if not policy.permissive or policy.command == "SELECT":
            continue
        for expr in (policy.using, policy.with_check):
            if expr is None or is_true_literal(expr.tree):
                continue
            calls = facts(expr, table).per_row_calls
            sql = wrapped_calls_sql(expr, frozenset(at for _, at in calls)) if calls else predicate_sql(expr)
            if sql is not None:  # None: pglast cannot print this tree; look for another clause
                return sql, ", ".join(quote_ident(r) if r != "public" else "public" for r in policy.roles), policy.name
    return None


def _policy_name(table: Table, command: str, taken: set[str]) -> str:
    name = f"{table.qname.name}_{command.lower()}"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


