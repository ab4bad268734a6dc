"""Walking the parser's JSON trees: the one place that knows their shape.

libpg_query's JSON gives every node as ``{"TypeName": {fields}}``; fields hold scalars,
nodes, or lists of nodes. The walks use explicit stacks, never recursion or nested
generators: trees nest as deep as the parser allows (thousands of levels), and a value
passing through a generator per level made one IDX002 run take minutes.
"""

from __future__ import annotations

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


def dicts(tree: Any) -> Iterator[Node]:
    """Every dict of a tree (the ``{"Type": …}`` wrappers and their fields), in no set order."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))


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
