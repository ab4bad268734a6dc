"""Who can do what: per role, table and command, what PostgreSQL lets the role do.

A pure function of the model, computed with the same checks as the rules
(rlslint.schema.acl), into plain data that reporters print (report/access.py).

Each cell is one of:

- ``none``: the role lacks the command's privilege (or USAGE on the schema);
- ``denied``: RLS is on and no permissive policy for the command applies: deny-all;
- ``all``: RLS is off, the role bypasses it, or an applicable permissive policy is always
  true (and no restrictive one narrows it);
- ``filtered``: the rows the effective condition admits: the applicable permissive
  policies OR-ed, the restrictive ones AND-ed, USING and WITH CHECK apart;
- ``unknown``: a statement the model could not analyse may have changed the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlslint.schema import acl
from rlslint.schema.model import COMMANDS, Catalog, Expr, Policy, Table
from rlslint.sql.deparse import predicate_sql
from rlslint.sql.literals import is_true_literal

ACCESS = ("none", "denied", "all", "filtered", "unknown")


@dataclass(frozen=True)
class Cell:
    role: str
    command: str
    access: str  # one of ACCESS
    using: str | None  # the effective USING condition of a filtered cell
    with_check: str | None  # the effective WITH CHECK condition of a filtered cell
    policies: tuple[str, ...]  # the policies that apply, by name


@dataclass(frozen=True)
class TableAccess:
    table: str  # as PostgreSQL prints it
    rls: bool
    cells: tuple[Cell, ...]  # role by role, each in COMMANDS order


@dataclass(frozen=True)
class AccessMatrix:
    roles: tuple[str, ...]
    tables: tuple[TableAccess, ...]


def matrix(catalog: Catalog, roles: tuple[str, ...], schemas: frozenset[str]) -> AccessMatrix:
    tables = sorted((t for t in catalog.tables.values() if t.qname.schema in schemas), key=lambda t: str(t.qname))
    return AccessMatrix(roles, tuple(
        TableAccess(str(t.qname), t.rls, tuple(cell(catalog, role, t, c) for role in roles for c in COMMANDS))
        for t in tables))


def cell(catalog: Catalog, role: str, table: Table, command: str) -> Cell:
    access = catalog.access
    applying = tuple(p for p in table.policies
                     if p.command in ("ALL", command) and acl.policy_applies(access, role, p))
    names = tuple(p.name for p in applying)
    if table.unanalysed:
        return Cell(role, command, "unknown", None, None, names)
    if not acl.can_run(access, role, table, command):
        return Cell(role, command, "none", None, None, names)
    if not table.rls or acl.bypasses_rls(access, role, table):
        return Cell(role, command, "all", None, None, ())
    permissive = [p for p in applying if p.permissive]
    if not permissive:
        return Cell(role, command, "denied", None, None, names)
    restrictive = [p for p in applying if not p.permissive]
    using = _combined(permissive, restrictive, _using) if command != "INSERT" else None
    check = _combined(permissive, restrictive, _check) if command in ("INSERT", "UPDATE") else None
    if all(c is True for c in (using, check) if c is not None):
        return Cell(role, command, "all", None, None, names)
    return Cell(role, command, "filtered", _sql(using), _sql(check), names)


def _using(policy: Policy) -> Expr | None:
    return policy.using


def _check(policy: Policy) -> Expr | None:
    # Without WITH CHECK, an ALL or UPDATE policy checks new rows with its USING.
    return policy.with_check if policy.with_check is not None else policy.using


def _combined(permissive: list[Policy], restrictive: list[Policy], clause) -> "str | bool":
    """The effective condition as SQL, or True when it admits every row."""
    allowed = [_text(clause(p)) for p in permissive]
    # A restrictive policy narrows only by the clauses it has: PostgreSQL ignores a missing one.
    narrowed = [_text(clause(p)) for p in restrictive if clause(p) is not None]
    narrowed = [n for n in narrowed if n is not True]
    if any(a is True for a in allowed):
        return True if not narrowed else " AND ".join(f"({n})" for n in narrowed)
    base = allowed[0] if len(allowed) == 1 else " OR ".join(f"({a})" for a in allowed)
    if not narrowed:
        return base
    return " AND ".join([f"({base})", *(f"({n})" for n in narrowed)])


def _text(expr: Expr | None) -> "str | bool":
    if expr is None:
        return "false"  # a clause the policy does not have lets no row through it
    if is_true_literal(expr.tree):
        return True
    return predicate_sql(expr) or "…"


def _sql(condition: "str | bool | None") -> str | None:
    return "true" if condition is True else condition
