"""Policy statements, and how renames and drops reach policy expressions."""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple

from rlslint.schema import scopes, views
from rlslint.schema.model import Expr, Policy, evolve
from rlslint.schema.state import DUPLICATE_OBJECT, UNDEFINED_COLUMN, ReplayState, expr
from rlslint.sql.names import QName
from rlslint.sql.parse import Statement
from rlslint.sql.tree import Node, Seen, Shared, dicts, scalars

# The model keeps every policy tree for the whole run: their repeated parts are kept once.
# Holds only parts without a location (names, operators, types), so it grows with the
# distinct names a process meets, not with the number of policies.
_SHARED = Shared()


def create_policy(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    if views.refused_on_view(stmt, state, node["table"], "CREATE POLICY"):
        return
    table = state.relation(stmt, node["table"])
    if table is None:
        return
    name = node["policy_name"]
    if any(p.name == name for p in table.policies):
        state.rejected(stmt, f'policy "{name}" on {table.qname} already exists', DUPLICATE_OBJECT)
        return
    using, with_check = _compacted(node.get("qual")), _compacted(node.get("with_check"))
    if _refused_for_missing_column(stmt, state, table.qname, using, with_check):
        return
    policy = Policy(
        name,
        (node.get("cmd_name") or "all").upper(),
        bool(node.get("permissive", False)),
        policy_roles(state, node.get("roles")),
        policy_expr(stmt, state, table.qname, using, "qual"),
        policy_expr(stmt, state, table.qname, with_check, "with_check"),
        stmt.span,
        stmt.span,
    )
    state.put(stmt, evolve(table, policies=table.policies + (policy,)))


def alter_policy(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    table = state.relation(stmt, node["table"])
    if table is None:
        return
    name = node["policy_name"]
    policy = next((p for p in table.policies if p.name == name), None)
    if policy is None:
        state.note(stmt, f'policy "{name}" on {table.qname} is not known')
        return
    using, with_check = _compacted(node.get("qual")), _compacted(node.get("with_check"))
    if _refused_for_missing_column(stmt, state, table.qname, using, with_check):
        return
    changes: dict[str, Any] = {"changed": stmt.span}
    if node.get("roles"):
        changes["roles"] = policy_roles(state, node["roles"])
    if "qual" in node:
        changes["using"] = policy_expr(stmt, state, table.qname, using, "qual")
    if "with_check" in node:
        changes["with_check"] = policy_expr(stmt, state, table.qname, with_check, "with_check")
    state.put(stmt, evolve(table, policies=tuple(evolve(p, **changes) if p is policy else p for p in table.policies)))


def drop_policy(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool, cascade: bool) -> None:
    *table_names, name = names
    schema = table_names[-2] if len(table_names) > 1 else None
    qname = state.lookup(schema, table_names[-1])
    if qname is None:
        if not missing_ok and not state.is_platform(schema):
            state.note(stmt, f"table {table_names[-1]} is not known")
        return
    table = state.tables[qname]
    kept = tuple(p for p in table.policies if p.name != name)
    if kept == table.policies and not missing_ok:
        state.note(stmt, f'policy "{name}" on {qname} is not known')
    state.put(stmt, evolve(table, policies=kept))


class _Clause(NamedTuple):
    """A USING or WITH CHECK tree as parsed, its compact equal (what the model keeps), and
    what compacting it met, which answers the replay's questions about it without a walk."""

    parsed: Node
    compact: Any
    seen: Seen


def _compacted(tree: Node | None) -> _Clause | None:
    if tree is None:
        return None
    seen = Seen()
    return _Clause(tree, _SHARED.tree(tree, seen), seen)


def _refused_for_missing_column(stmt: Statement, state: ReplayState, qname: QName, *clauses: _Clause | None) -> bool:
    """PostgreSQL refuses a policy whose expressions read a column its table lacks."""
    missing = state.missing_column(qname, _own_columns([c for c in clauses if c is not None], qname.name))
    if missing is not None:
        state.rejected(stmt, f'column "{missing}" does not exist', UNDEFINED_COLUMN)
    return missing is not None


def _own_columns(clauses: list[_Clause], table: str) -> list[str]:
    """The columns of the policy's own table that the expressions read outside their
    sub-selects (there a bare name may be any FROM item's), the last reference first. A bare
    name that is the table's own stands for its whole row."""
    if all(c.seen.whole for c in clauses):
        refs = [ref for c in reversed(clauses) for ref in reversed(c.seen.refs)]
    else:  # nested past what compacting looks at: walk them
        refs = [node["ColumnRef"] for node in dicts([c.parsed for c in clauses], prune="SelectStmt") if "ColumnRef" in node]
    found = []
    for ref in refs:
        names = [f["String"]["sval"] for f in ref.get("fields", ()) if "String" in f]
        if len(names) == 1 and names[0] != table or len(names) == 2 and names[0] == table:
            found.append(names[-1])
    return found


def policy_expr(stmt: Statement, state: ReplayState, owner: QName, clause: _Clause | None, name: str) -> Expr | None:
    """The expression with its sub-selects' table names qualified as they resolve now."""
    if clause is None:
        return None
    whole = clause.seen.whole
    if not state.access.names_platform and ("auth" in clause.seen.strings if whole else _mentions(clause.parsed, "auth")):
        state.access.saw_schema("auth")  # auth.uid() and friends: a Supabase project
    # Qualify (a copy) only a tree that qualifying changes: only a tree naming a table
    # without its schema can change, and asking the scope walk is a walk.
    lookup = lambda relname: state.lookup(None, relname)  # noqa: E731
    unqualified = (not whole or any(rv.get("schemaname") is None and lookup(rv["relname"]) is not None
                                    for rv in clause.seen.rangevars))
    if unqualified and scopes.qualifies_anything(clause.parsed, owner, lookup):
        return expr(stmt, _SHARED.tree(scopes.qualified(clause.parsed, owner, lookup)), name)
    return expr(stmt, clause.compact, name)


def rewrite_policies(state: ReplayState, name: str, change: Callable[[Any, QName], Any]) -> None:
    """Apply a tree rewrite (``change(tree, owner)`` returns the new tree) to every policy of
    every table whose expressions mention ``name``, the table or column renamed."""
    for table in list(state.tables.values()):
        if table.policies:
            policies = tuple(_rewrite(p, name, lambda tree: change(tree, table.qname)) for p in table.policies)
            if any(a is not b for a, b in zip(policies, table.policies)):
                state.tables[table.qname] = evolve(table, policies=policies)


def policies_follow_table(state: ReplayState, old: QName, new: QName) -> None:
    """Call before the registry moves the table: bindings are read from the tables as they are."""
    rewrite_policies(state, old.name, lambda tree, owner: scopes.table_renamed(tree, owner, state.has_column, old, new))


def policies_follow_column(state: ReplayState, table: QName, old: str, new: str) -> None:
    """Call before the column is renamed in the model, for the same reason."""
    rewrite_policies(state, old, lambda tree, owner: scopes.column_renamed(tree, owner, state.has_column, table, old, new))


def rename_policy(stmt: Statement, state: ReplayState, qname: QName, old: str, new: str) -> None:
    table = state.tables[qname]
    state.put(stmt, evolve(table, policies=tuple(evolve(p, name=new, changed=stmt.span) if p.name == old else p for p in table.policies)))


def policy_roles(state: ReplayState, roles: Iterable[Node] | None) -> tuple[str, ...]:
    found = _roles(roles)
    for role in found:
        state.access.saw_role(role)
    return found


def _roles(roles: Iterable[Node] | None) -> tuple[str, ...]:
    names = []
    for role in roles or ():
        spec = role["RoleSpec"]
        kind = spec.get("roletype")
        names.append(spec.get("rolename") if kind == "ROLESPEC_CSTRING" else {"ROLESPEC_PUBLIC": "public"}.get(kind, kind.lower()))
    if not names or "public" in names:
        return ("public",)  # PostgreSQL stores PUBLIC alone: every role is already in it
    return tuple(sorted(set(names)))


def column_refs(tree: Any) -> Iterable[dict]:
    return (node["ColumnRef"] for node in dicts(tree) if "ColumnRef" in node)


def _trees(policy: Policy) -> list[Any]:
    return [e.tree for e in (policy.using, policy.with_check) if e is not None]


def policy_uses_column(policy: Policy, owner: QName, table: QName, column: str, has_column: scopes.HasColumn) -> bool:
    """A reference in the policy (on ``owner``) binds to ``table.column``: DROP COLUMN … CASCADE drops it."""
    trees = [tree for tree in _trees(policy) if _mentions(tree, column)]
    return bool(trees) and scopes.uses_column(trees, owner, has_column, table, column)


def _mentions(tree: Any, name: str) -> bool:
    return any(value == name for value in scalars(tree))


def _rewrite(policy: Policy, name: str, change: Callable[[Any], Any]) -> Policy:
    """The policy with ``change`` applied to its trees that mention ``name``
    (the cheap test spares a rewrite of every policy on every rename)."""
    changes = {}
    for attr in ("using", "with_check"):
        expr = getattr(policy, attr)
        if expr is not None and _mentions(expr.tree, name):
            tree = change(expr.tree)
            if tree != expr.tree:
                changes[attr] = evolve(expr, tree=tree)
    return evolve(policy, **changes) if changes else policy


HANDLERS = {"CreatePolicyStmt": create_policy, "AlterPolicyStmt": alter_policy}
DROPS = {"OBJECT_POLICY": drop_policy}
