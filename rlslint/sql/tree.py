"""Walking the parser's JSON trees: the one place that knows their shape.

libpg_query's JSON gives every node as ``{"TypeName": {fields}}``; fields hold scalars,
nodes, or lists of nodes. The walks use explicit stacks, never recursion or nested
generators: trees nest as deep as the parser allows (thousands of levels), and a value
passing through a generator per level made one IDX002 run take minutes.
"""

from __future__ import annotations

import sys
from typing import Any, Iterator

Node = dict[str, Any]
Path = tuple[tuple[str, Node], ...]  # (node type, node) from the root down


def walk(tree: Any, path: Path = ()) -> Iterator[tuple[str, Node, Path]]:
    """Every typed node, parents before children and fields in the JSON's order (for an
    expression, the order of its text): (type, its fields, the nodes above it)."""
    stack: list[tuple[Any, Path]] = [(tree, path)]
    while stack:
        item, above = stack.pop()
        if isinstance(item, list):
            stack.extend((child, above) for child in reversed(item))
            continue
        if not isinstance(item, dict):
            continue
        if len(item) == 1:
            kind, body = next(iter(item.items()))
            if kind[:1].isupper() and isinstance(body, dict):
                yield kind, body, above
                above = above + ((kind, body),)
                item = body
        stack.extend((value, above) for value in reversed(item.values()) if isinstance(value, (dict, list)))


def dicts(tree: Any, prune: str | None = None) -> Iterator[Node]:
    """Every dict of a tree (the ``{"Type": …}`` wrappers and their fields), in no set order;
    ``prune``: a node type (``SelectStmt``) whose dicts are left out, its own included."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict) and (prune is None or prune not in item):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))


def find(tree: Any, kind: str) -> list[Node]:
    """The fields of every node of one type, in no set order: a plain loop, three times
    faster than going through ``dicts`` (the pre-commit comparison asks it of every policy)."""
    found = []
    stack = [tree]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if type(item) is dict:
            body = item.get(kind)
            if body is not None and len(item) == 1 and type(body) is dict:
                found.append(body)
            values = item.values()
        else:
            values = item
        for value in values:
            if type(value) is dict or type(value) is list:
                push(value)
    return found


def scalars(tree: Any) -> Iterator[Any]:
    """Every value of a tree that is not a dict or a list."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def locations(tree: Any) -> Iterator[int]:
    """Every known ``location`` (a file offset after the parse stage) in a tree."""
    return (node["location"] for node in dicts(tree)
            if isinstance(node.get("location"), int) and node["location"] >= 0)


class Shared:
    """Kept policy trees, made compact: what the model holds for the whole run.

    As loaded, a policy expression is mostly small dicts that repeat across expressions
    (``{"String": {"sval": "uid"}}``, operator, function and type names) and strings loaded
    once per file (every key, every enum value). ``tree(t)`` returns an equal tree in which
    every subtree without a ``location`` is one object shared by all the trees that hold it,
    and every string is interned: under half the memory of the trees as loaded. Trees in
    the model are never changed in place (rewrites return new trees), so sharing their parts
    is safe; a located subtree, and every column reference (the rules bind references by
    identity), stays its own object.
    """

    # Deeper than this, a subtree is kept as it is (equal, just not shared): the rebuild
    # recurses, and trees nest as deep as the parser allows.
    DEPTH = 100

    def __init__(self) -> None:
        self._subtrees: dict[tuple, Any] = {}  # a location-free subtree's shape -> its one object

    def tree(self, tree: Any, seen: Seen | None = None) -> Any:
        """The equal compact tree; ``seen`` records what the rebuild met on its way."""
        if not isinstance(tree, (dict, list)):
            return tree
        return self._rebuilt(tree, 0, seen if seen is not None else Seen(), False)[0]

    def _rebuilt(self, item: dict | list, depth: int, seen: Seen, select: bool, own: bool = False) -> tuple[Any, Any]:
        """(the equal value, its part in its parent's shape: None when it holds a location).

        A shape lists its fields' parts: a string itself, another scalar with its type (1,
        1.0 and True are equal), a shared container by id (valid: the table keeps it alive).
        ``own``: keep this container its own object (a column reference's fields).
        ``select``: the item is inside a sub-select.
        """
        if depth > self.DEPTH:
            seen.whole = False
            return item, None
        rebuilt, intern, strings = self._rebuilt, sys.intern, seen.strings
        if type(item) is dict:
            located = own or "location" in item or "ColumnRef" in item
            shape: list[Any] = ["d"]  # a dict's shape, never a list's ("l")
            value: Any = {}
            for name, child in item.items():
                kind = type(child)
                if kind is str:
                    child = part = intern(child)
                    strings.add(child)
                elif kind is dict or kind is list:
                    if name == "ColumnRef":
                        child, part = rebuilt(child, depth + 1, seen, select, True)
                        if not select:
                            seen.refs.append(child)
                    else:
                        if name == "RangeVar":
                            seen.rangevars.append(child)
                        child, part = rebuilt(child, depth + 1, seen, select or name == "SelectStmt")
                    located = located or part is None
                else:
                    part = (kind, child)
                name = intern(name)
                value[name] = child
                if not located:
                    shape += (name, part)
        else:
            located, shape, value = False, ["l"], []
            for child in item:
                kind = type(child)
                if kind is str:
                    child = part = intern(child)
                    strings.add(child)
                elif kind is dict or kind is list:
                    child, part = rebuilt(child, depth + 1, seen, select)
                    located = located or part is None
                else:
                    part = (kind, child)
                value.append(child)
                if not located:
                    shape.append(part)
        if located:
            return value, None
        value = self._subtrees.setdefault(tuple(shape), value)
        return value, id(value)


class Seen:
    """What ``Shared.tree`` met while rebuilding a tree, so that the replay need not walk it
    again for the questions it asks of a new policy expression."""

    __slots__ = ("strings", "refs", "rangevars", "whole")

    def __init__(self) -> None:
        self.strings: set[str] = set()  # every string value (not the keys)
        self.refs: list[Node] = []  # ColumnRef bodies outside sub-selects, in the tree's order
        self.rangevars: list[Node] = []  # RangeVar bodies, sub-selects' included
        self.whole = True  # False: the tree nests deeper than Shared.DEPTH, and the rest was not looked at
