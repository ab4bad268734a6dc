"""Policy statements, and how column renames and drops reach policy expressions."""

from __future__ import annotations

import copy
from typing import Any, Iterable

from rlslint.schema.model import Policy, evolve
from rlslint.schema.state import ReplayState, strs
from rlslint.sql.names import QName
from rlslint.sql.parse import Node


class PolicyStatements(ReplayState):
    def on_CreatePolicyStmt(self, node: Node) -> None:
        table = self.relation(node["table"])
        if table is None:
            return
        name = node["policy_name"]
        if any(p.name == name for p in table.policies):
            self.note(f'policy "{name}" on {table.qname} already exists; PostgreSQL would reject this statement')
            return
        policy = Policy(
            name,
            (node.get("cmd_name") or "all").upper(),
            bool(node.get("permissive", False)),
            _roles(node.get("roles")),
            self.expr(node.get("qual"), "qual"),
            self.expr(node.get("with_check"), "with_check"),
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
            changes["using"] = self.expr(node["qual"], "qual")
        if "with_check" in node:
            changes["with_check"] = self.expr(node["with_check"], "with_check")
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


def policy_uses_column(policy: Policy, column: str) -> bool:
    for expr in (policy.using, policy.with_check):
        if expr is not None and any(strs(ref.get("fields"))[-1:] == (column,) for ref in column_refs(expr.tree)):
            return True
    return False


def rename_in_policy(policy: Policy, table: QName, old: str, new: str, outer: bool = True) -> Policy:
    """PostgreSQL stores policy expressions by column number, so a rename shows up in them."""
    if not policy_uses_column(policy, old):
        return policy
    changes = {}
    for attr in ("using", "with_check"):
        expr = getattr(policy, attr)
        if expr is None:
            continue
        tree = copy.deepcopy(dict(expr.tree))
        for ref in column_refs(tree):
            fields = ref.get("fields", [])
            names = strs(fields)
            if names[-1:] == (old,) and ((len(names) == 1 and outer) or (len(names) > 1 and names[-2] == table.name)):
                fields[-1] = {"String": {"sval": new}}
        changes[attr] = evolve(expr, tree=tree)
    return evolve(policy, **changes)
