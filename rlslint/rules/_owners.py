"""Whose row is it: the owner column that safe fixes are built from.

A fix that cascades a user's deletion, or writes a policy letting a user change rows,
must know which column names the row's owner. rlslint never guesses it from a column's
name. It takes it from the ``owner-columns`` setting, from a foreign key that is the
table's whole primary key (a profile row *is* its user's), or from a policy that
compares the column with ``auth.uid()``. Only a policy that guards writes says who may
change a row: a read policy says who may see it, which is weaker evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlslint.rules._predicates import func_name, unwrap, walk
from rlslint.schema.model import ForeignKey, Policy, Table
from rlslint.settings import Settings


@dataclass(frozen=True)
class Owner:
    column: str
    why: str  # for the comment above the fix
    guards_writes: bool  # the evidence says who may change the row, not only who may see it


def owner(table: Table, settings: Settings, for_writes: bool = False) -> Owner | None:
    """The table's owner column, by the strongest evidence there is (None: no evidence)."""
    found = [o for o in _evidence(table, settings) if o.guards_writes or not for_writes]
    return found[0] if found else None


def owner_fk(table: Table, settings: Settings, column: str) -> ForeignKey | None:
    """The one-column foreign key from ``column`` to an owner table."""
    return next((fk for fk in table.foreign_keys
                 if fk.columns == (column,) and fk.ref_table in settings.owner_tables), None)


def _evidence(table: Table, settings: Settings):
    by_fk = {fk.columns[0]: fk for fk in table.foreign_keys
             if len(fk.columns) == 1 and fk.ref_table in settings.owner_tables}
    for column in by_fk:
        if column in settings.owner_columns or f"{table.qname}.{column}" in settings.owner_columns:
            yield Owner(column, "the owner-columns setting names it", True)
    primary = next((i.columns for i in table.indexes if i.primary), ())
    for column in by_fk:
        if primary == (column,):
            yield Owner(column, "it is the table's primary key: each row belongs to one user", True)
    for guards in (True, False):
        for policy in table.policies:
            if policy.permissive and (policy.command != "SELECT") == guards:
                for column in compared_with_uid(policy):
                    if column in by_fk:
                        verb = "guards writes with" if guards else "reads rows by"
                        yield Owner(column, f'policy "{policy.name}" {verb} {column} = auth.uid()', guards)


def compared_with_uid(policy: Policy) -> list[str]:
    """Columns of the policy's own table compared with ``=`` to ``auth.uid()`` at its top level
    (inside a sub-select, a column belongs to the sub-select's tables)."""
    found = []
    for expr in (policy.using, policy.with_check):
        if expr is None:
            continue
        for kind, node, path in walk(expr.tree):
            if kind != "A_Expr" or any(k in ("SelectStmt", "SubLink") and not _scalar(k, n) for k, n in path):
                continue
            name = [n["String"]["sval"] for n in node.get("name", ()) if "String" in n]
            if node.get("kind") != "AEXPR_OP" or name != ["="]:
                continue
            for a, b in ((node.get("lexpr"), node.get("rexpr")), (node.get("rexpr"), node.get("lexpr"))):
                column = _own_column(a)
                if column is not None and _is_uid(b):
                    found.append(column)
    return found


def _scalar(kind: str, node: dict) -> bool:
    """``(SELECT auth.uid())``: a sub-select around the call, not a query over other tables."""
    if kind == "SubLink":
        return node.get("subLinkType") == "EXPR_SUBLINK"
    return not node.get("fromClause")


def _own_column(node) -> str | None:
    ref = node.get("ColumnRef") if isinstance(node, dict) else None
    if ref is None:
        return None
    names = [f["String"]["sval"] for f in ref.get("fields", ()) if "String" in f]
    return names[-1] if len(names) in (1, 2) and len(names) == len(ref.get("fields", ())) else None


def _is_uid(node) -> bool:
    call = unwrap(node)
    return isinstance(call, dict) and "FuncCall" in call and func_name(call["FuncCall"]) == "auth.uid"
