"""Policy statements, and how renames and drops reach policy expressions."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Iterable

from rlslint.schema import scopes
from rlslint.schema.model import Expr, Policy, evolve
from rlslint.schema.state import ReplayState
from rlslint.sql.names import QName
from rlslint.sql.parse import Node

_FROM = re.compile(r"\bfrom\b", re.IGNORECASE)


class PolicyStatements(ReplayState):
    def on_CreatePolicyStmt(self, node: Node) -> None:
        table = self.relation(node["table"])
        if table is None:
            return
        name = node["policy_name"]
        if any(p.name == name for p in table.policies):
            self.rejected(f'policy "{name}" on {table.qname} already exists')
            return
        policy = Policy(
            name,
            (node.get("cmd_name") or "all").upper(),
            bool(node.get("permissive", False)),
            _roles(node.get("roles")),
            self.policy_expr(table.qname, node.get("qual"), "qual"),
            self.policy_expr(table.qname, node.get("with_check"), "with_check"),
            self.span,
            self.span,
        )
        self.put(evolve(table, policies=table.policies + (policy,)))

    def on_AlterPolicyStmt(self, node: Node) -> None:
        table = self.relation(node["table"])
        if table is None:
            return
        name = node["policy_name"]
        policy = next((p for p in table.policies if p.name == name), None)
        if policy is None:
            self.note(f'policy "{name}" on {table.qname} is not known')
            return
        changes: dict[str, Any] = {"changed": self.span}
        if node.get("roles"):
            changes["roles"] = _roles(node["roles"])
        if "qual" in node:
            changes["using"] = self.policy_expr(table.qname, node["qual"], "qual")
        if "with_check" in node:
            changes["with_check"] = self.policy_expr(table.qname, node["with_check"], "with_check")
        self.put(evolve(table, policies=tuple(evolve(p, **changes) if p is policy else p for p in table.policies)))

    def drop_policy(self, names: tuple[str, ...], missing_ok: bool) -> None:
        *table_names, name = names
        schema = table_names[-2] if len(table_names) > 1 else None
        qname = self.lookup(schema, table_names[-1])
        if qname is None:
            if not missing_ok and not self.is_platform(schema):
                self.note(f"table {table_names[-1]} is not known")
            return
        table = self.tables[qname]
        kept = tuple(p for p in table.policies if p.name != name)
        if kept == table.policies and not missing_ok:
            self.note(f'policy "{name}" on {qname} is not known')
        self.put(evolve(table, policies=kept))

    def policy_expr(self, owner: QName, tree: Node | None, clause: str) -> Expr | None:
        """The expression with its sub-selects' table names qualified as they resolve now."""
        if tree is None:
            return None
        # Copy only a tree that qualifying changes: copying every policy tree was the replay's
        # largest cost, and only a sub-select (which needs FROM) names tables at all.
        lookup = lambda name: self.lookup(None, name)  # noqa: E731
        if _FROM.search(self.stmt.text) and scopes.qualifies_anything(tree, owner, lookup):
            tree = copy.deepcopy(tree)  # the statement's own tree stays as parsed
            scopes.qualify(tree, owner, lookup)
        return self.expr(tree, clause)

    def has_column(self, qname: QName, column: str) -> bool:
        table = self.tables.get(qname)
        return table is not None and table.column(column) is not None

    def rewrite_policies(self, name: str, change: Callable[[Any, QName], None]) -> None:
        """Apply a tree rewrite (``change(tree, owner)``) to every policy of every table
        whose expressions mention ``name``, the table or column renamed."""
        for table in list(self.tables.values()):
            if table.policies:
                policies = tuple(_rewrite(p, name, lambda tree: change(tree, table.qname)) for p in table.policies)
                if any(a is not b for a, b in zip(policies, table.policies)):
                    self.tables[table.qname] = evolve(table, policies=policies)

    def policies_follow_table(self, old: QName, new: QName) -> None:
        """Call before the registry moves the table: bindings are read from the tables as they are."""
        self.rewrite_policies(old.name, lambda tree, owner: scopes.rename_table(tree, owner, self.has_column, old, new))

    def policies_follow_column(self, table: QName, old: str, new: str) -> None:
        """Call before the column is renamed in the model, for the same reason."""
        self.rewrite_policies(old, lambda tree, owner: scopes.rename_column(tree, owner, self.has_column, table, old, new))

    def rename_policy(self, qname: QName, old: str, new: str) -> None:
        table = self.tables[qname]
        self.put(evolve(table, policies=tuple(evolve(p, name=new, changed=self.span) if p.name == old else p for p in table.policies)))


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
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "ColumnRef" in item:
                yield item["ColumnRef"]
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)


def _trees(policy: Policy) -> list[Any]:
    return [e.tree for e in (policy.using, policy.with_check) if e is not None]


def policy_uses_column(policy: Policy, owner: QName, table: QName, column: str, has_column: scopes.HasColumn) -> bool:
    """A reference in the policy (on ``owner``) binds to ``table.column``: DROP COLUMN … CASCADE drops it."""
    trees = [tree for tree in _trees(policy) if _mentions(tree, column)]
    return bool(trees) and scopes.uses_column(trees, owner, has_column, table, column)


def _mentions(tree: Any, name: str) -> bool:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item == name:
            return True
    return False


def _rewrite(policy: Policy, name: str, change: Callable[[Any], None]) -> Policy:
    """The policy with ``change`` applied to copies of its trees that mention ``name``
    (the cheap test spares a copy of every policy on every rename)."""
    changes = {}
    for attr in ("using", "with_check"):
        expr = getattr(policy, attr)
        if expr is not None and _mentions(expr.tree, name):
            tree = copy.deepcopy(dict(expr.tree))  # trees are shared with older snapshots of the model
            change(tree)
            if tree != expr.tree:
                changes[attr] = evolve(expr, tree=tree)
    return evolve(policy, **changes) if changes else policy
