"""SQL text for fixes, printed from the model's own expression trees by pglast's deparser.

The model keeps policy expressions as libpg_query JSON trees, rewritten by the replay as
tables and columns are renamed, so printing the tree (not the original statement text)
gives SQL that names what exists today. pglast's printer needs its Python node objects:
the tree is converted only for the few findings whose fix needs it, so the import and
the conversion are paid only then.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping, Protocol


class Expr(Protocol):
    """What printing needs of an expression: its JSON tree (the schema model's ``Expr`` has one)."""

    @property
    def tree(self) -> Mapping[str, Any]: ...

# A_Const spells its value by kind in JSON ({"ival": {"ival": 1}}); pglast wants a `val` node.
_CONST = {"ival": "Integer", "fval": "Float", "sval": "String", "bsval": "BitString", "boolval": "Boolean"}
_ZERO = {"ival": 0, "fval": "0", "sval": "", "bsval": "", "boolval": False}


def _typed(kind: str, body: dict) -> dict:
    """One JSON node as the dict pglast's AST classes are built from (``{"@": kind, …}``)."""
    from pglast import ast

    out: dict = {"@": kind}
    if kind == "A_Const":
        for key, value in body.items():
            # JSON leaves out values equal to the default (0, false, ''), so put them back.
            out.update({"val": {"@": _CONST[key], key: _ZERO[key], **value}} if key in _CONST else {key: value})
        return out
    slots = getattr(ast, kind).__slots__
    for key, value in body.items():
        c_type = slots[key].c_type.rstrip("*") if key in slots else ""
        # Fields typed with a concrete node class hold the node's body without its name.
        bare = isinstance(value, dict) and isinstance(getattr(getattr(ast, c_type, None), "__slots__", None), dict) \
            and not (len(value) == 1 and next(iter(value)) == c_type)
        out[key] = _typed(c_type, value) if bare else _convert(value)
    return out


def _convert(node: Any) -> Any:
    from pglast import ast

    if isinstance(node, list):
        return [_convert(item) for item in node]
    if isinstance(node, dict) and len(node) == 1:
        kind, body = next(iter(node.items()))
        if kind == "List":
            return [_convert(item) for item in body.get("items", ())]
        if hasattr(ast, kind) and isinstance(body, dict):
            return _typed(kind, body)
    return node


def to_ast(tree: Any):
    """The JSON tree as pglast node objects (locations kept: character offsets in the file)."""
    from pglast import ast

    converted = _convert(tree)
    return getattr(ast, converted["@"])(converted)


def print_sql(node) -> str:
    from pglast.stream import RawStream

    return RawStream()(node).strip()


# Printed expressions, by what the printing depends on. A project repeats a few predicates
# across hundreds of policies, and converting each copy to pglast's nodes and printing it was
# most of the cost of the fixes (on 500 files, 219 prints of 3 predicates).
_PRINTED: dict[tuple, str | None] = {}
# A location field in a tree's JSON text: a string value holding the same characters has its
# quotes escaped, so only a real field matches.
_LOCATION = re.compile(r'"location": (-?\d+)')


def _printed(build: Callable[[Any, frozenset[int]], str | None], tree: Any, locations: frozenset[int]) -> str | None:
    """``build(tree, locations)``, once per tree shape: its nodes and fields, with its locations
    (and ``locations``) relative to the first, as printing and wrapping compare locations with
    each other only."""
    text = json.dumps(tree)
    found = [int(at) for at in _LOCATION.findall(text)]
    base = min(found, default=0)
    key = (build, _LOCATION.sub("", text), tuple(at - base for at in found), tuple(sorted(at - base for at in locations)))
    if key not in _PRINTED:
        _PRINTED[key] = build(tree, locations)
    return _PRINTED[key]


def predicate_sql(expr: Expr | None) -> str | None:
    """The expression as SQL, or None if pglast cannot print it (then the rule uses a template)."""
    if expr is None:
        return None
    return _printed(_print_tree, expr.tree, frozenset())


def _print_tree(tree: Any, locations: frozenset[int]) -> str | None:
    try:
        return print_sql(to_ast(tree))
    except Exception:  # an unusual node shape: a template fix beats a wrong one
        return None


def wrapped_calls_sql(expr: Expr, locations: frozenset[int]) -> str | None:
    """The expression with the calls at these file offsets wrapped in ``(SELECT …)``."""
    return _printed(_wrapped, expr.tree, locations)


def _wrapped(tree: Any, locations: frozenset[int]) -> str | None:
    from pglast import ast
    from pglast.enums import SubLinkType
    from pglast.visitors import Visitor

    wanted = set(locations)

    class Wrap(Visitor):
        def visit_FuncCall(self, ancestors, node):
            if node.location not in wanted:
                return None
            wanted.discard(node.location)
            select = ast.SelectStmt(targetList=(ast.ResTarget(val=node),), limitOption=0, op=0)
            return ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subselect=select)

    try:
        # The visitor replaces nodes in their parents, so the expression sits under a holder.
        holder = ast.ResTarget(val=to_ast(tree))
        Wrap()(holder)
        return None if wanted else print_sql(holder.val)
    except Exception:  # an unusual node shape: no fix beats a wrong one
        return None
