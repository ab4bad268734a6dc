"""What a policy expression's tree says on its face, without the model: literal truths."""

from __future__ import annotations

from typing import Any


def is_true_literal(tree: Any) -> bool:
    """``true``, ``'t'::boolean`` or ``1 = 1``: an expression that holds for every row."""
    node = tree
    if isinstance(node, dict) and "TypeCast" in node:
        names = [n["String"]["sval"] for n in node["TypeCast"]["typeName"].get("names", ()) if "String" in n]
        value = node["TypeCast"].get("arg", {}).get("A_Const", {}).get("sval", {}).get("sval", "")
        return names[-1:] in (["bool"], ["boolean"]) and value.strip().lower() in ("t", "true", "y", "yes", "on", "1")
    if isinstance(node, dict) and "A_Expr" in node:
        a = node["A_Expr"]
        left, right = a.get("lexpr", {}).get("A_Const"), a.get("rexpr", {}).get("A_Const")
        name = [n["String"]["sval"] for n in a.get("name", ()) if "String" in n]
        return a.get("kind") == "AEXPR_OP" and name == ["="] and left is not None and right is not None \
            and "ival" in left and left.get("ival") == right.get("ival")
    return isinstance(node, dict) and node.get("A_Const", {}).get("boolval", {}).get("boolval") is True
