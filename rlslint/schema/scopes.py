"""Which table each name in a policy expression means, as PostgreSQL's parser binds it.

PostgreSQL stores a policy by object ids, so after a table or column rename the policy still
means the same table and column; only its printed text changes. The replay keeps the parse
tree instead, and must rewrite exactly the names that bind to the renamed object. This walk
follows PostgreSQL's scoping: every sub-select opens a scope of its FROM items (keyed by alias,
or by table name when there is none); a qualified column reference names one of them, the
innermost match winning; an unqualified one binds to the innermost scope with a FROM item
that has the column. The policy's own table is the outermost scope.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, NamedTuple

from rlslint.sql.names import QName
from rlslint.sql.tree import Node, Path

HasColumn = Callable[[QName, str], bool]


class Item(NamedTuple):
    """A FROM item in scope: its table (None: a sub-select, function, CTE or unknown table)."""

    table: QName | None
    aliased: bool  # named by an alias, so a table rename does not change how it is referred to


class Ref(NamedTuple):
    node: Node  # the ColumnRef body; rewriting its fields rewrites the tree
    names: tuple[str, ...]
    table: QName | None  # the table it binds to
    via: Item | None  # the FROM item it binds through
    outer: bool = False  # bound in an enclosing query's FROM: a correlated reference


OnRef = Callable[[Ref], None]
OnRangeVar = Callable[[Node, frozenset], None]  # the RangeVar body, and the CTE names in scope


def walk(tree: Any, owner: QName, has_column: HasColumn, on_ref: OnRef | None = None,
         on_rangevar: OnRangeVar | None = None) -> None:
    """Visit every column reference (bound) and every FROM-clause RangeVar of a policy tree.

    Callbacks see the tree as it was before they change it: bindings are worked out first
    for a whole scope, so renaming a RangeVar does not change what its references mean.
    """
    _Walker(has_column, on_ref, on_rangevar).visit(tree, [{owner.name: Item(owner, False)}], frozenset())


class _Walker:
    def __init__(self, has_column: HasColumn, on_ref: OnRef | None, on_rangevar: OnRangeVar | None) -> None:
        self.has_column = has_column
        self.on_ref = on_ref
        self.on_rangevar = on_rangevar

    def visit(self, node: Any, scopes: list[dict[str, Item]], ctes: frozenset) -> None:
        if isinstance(node, list):
            for item in node:
                self.visit(item, scopes, ctes)
            return
        if not isinstance(node, dict):
            return
        if "SelectStmt" in node:
            self.select(node["SelectStmt"], scopes, ctes)
        elif "ColumnRef" in node:
            if self.on_ref is not None:
                self.on_ref(self.bind(node["ColumnRef"], scopes))
        else:
            for value in node.values():
                if isinstance(value, (dict, list)):
                    self.visit(value, scopes, ctes)

    def select(self, select: Node, scopes: list[dict[str, Item]], ctes: frozenset) -> None:
        ctes_here = [c["CommonTableExpr"] for c in (select.get("withClause") or {}).get("ctes", ()) if "CommonTableExpr" in c]
        ctes = ctes | {c.get("ctename") for c in ctes_here}
        for cte in ctes_here:
            self.visit(cte.get("ctequery"), scopes, ctes)
        scope: dict[str, Item] = {}
        rangevars: list[Node] = []
        quals: list[Any] = []
        for item in select.get("fromClause", ()):
            self.from_item(item, scope, scopes, ctes, rangevars, quals)
        inner = scopes + [scope]
        for key, value in select.items():
            if key in ("larg", "rarg"):  # the arms of UNION / INTERSECT / EXCEPT: bare SelectStmt bodies
                self.select(value, scopes, ctes)
            elif key not in ("fromClause", "withClause") and isinstance(value, (dict, list)):
                self.visit(value, inner, ctes)
        self.visit(quals, inner, ctes)
        if self.on_rangevar is not None:  # last: the references above bound through the old names
            for rv in rangevars:
                self.on_rangevar(rv, ctes)

    def from_item(self, item: Node, scope: dict[str, Item], scopes: list[dict[str, Item]], ctes: frozenset,
                  rangevars: list[Node], quals: list[Any]) -> None:
        if "RangeVar" in item:
            rv = item["RangeVar"]
            alias = (rv.get("alias") or {}).get("aliasname")
            schema, name = rv.get("schemaname"), rv["relname"]
            # An unqualified name is a CTE or a table the replay did not know when the policy was made.
            table = QName(schema, name) if schema else None
            scope[alias or name] = Item(table, alias is not None)
            if not (schema is None and name in ctes):
                rangevars.append(rv)
        elif "JoinExpr" in item:
            join = item["JoinExpr"]
            for side in ("larg", "rarg"):
                self.from_item(join.get(side, {}), scope, scopes, ctes, rangevars, quals)
            quals.append(join.get("quals"))
        else:  # RangeSubselect, RangeFunction, …: their own expressions see only the outer scopes
            body = next(iter(item.values()), {})
            alias = (body.get("alias") or {}).get("aliasname")
            if alias:
                scope[alias] = Item(None, True)
            self.visit([v for k, v in body.items() if k != "alias"], scopes, ctes)

    def bind(self, ref: Node, scopes: list[dict[str, Item]]) -> Ref:
        fields = ref.get("fields", ())
        names = tuple(f["String"]["sval"] for f in fields if "String" in f)
        if not names or len(names) != len(fields):  # t.* and the like
            return Ref(ref, names, None, None)
        column = names[-1]
        innermost = scopes[-1]
        if len(names) == 1:
            for scope in reversed(scopes):
                for item in scope.values():
                    if item.table is not None and self.has_column(item.table, column):
                        return Ref(ref, names, item.table, item, scope is not innermost)
            return Ref(ref, names, None, None)
        qualifier = names[-2]
        for scope in reversed(scopes):
            item = scope.get(qualifier)
            if item is None:
                continue
            if len(names) == 3 and (item.table is None or item.table.schema != names[0]):
                continue
            if len(names) > 3:
                break
            return Ref(ref, names, item.table, item, scope is not innermost)
        return Ref(ref, names, None, None)


# --- one walk for the rules: every node with its path, every reference bound -------------
#
# The rules read a policy tree twice over: which nodes it holds, where (``sql.tree.walk``'s
# paths), and what each column reference means (the binding above). ``bound_walk`` answers
# both in one pass. Where the walker above visits a part of the tree, and with which scopes,
# is decided here by the position of each node, with the same rules: a sub-select's own
# clauses see its FROM items, its FROM items' expressions and CTE bodies only the enclosing
# scopes, JOIN conditions the whole FROM clause of their select, and what the walker above
# never visits (a RangeVar, the fields of a reference) binds nothing.

_UNBOUND, _EXPRESSION, _SELECT, _FROM, _WITH, _CTE = range(6)


def bound_walk(tree: Any, owner: QName, has_column: HasColumn, kinds: frozenset[str] | None = None
               ) -> tuple[list[tuple[str, Node, Path]], dict[int, Ref]]:
    """Every typed node of a policy tree as ``sql.tree.walk`` yields them (same order, same
    paths), or only those of ``kinds``, and every column reference ``walk`` visits, bound as
    it binds it, by the id of its ColumnRef body. Recursive, as the scope walker is: the
    rules run on a thread with a deep stack, and a call per node costs less than an
    explicit stack here."""
    walker = _BoundWalker(has_column, kinds)
    walker.visit(tree, (), _EXPRESSION, [{owner.name: Item(owner, False)}], [])
    return walker.nodes, walker.bound


class _BoundWalker:
    def __init__(self, has_column: HasColumn, kinds: frozenset[str] | None) -> None:
        self.binder = _Walker(has_column, None, None)
        self.kinds = kinds
        self.nodes: list[tuple[str, Node, Path]] = []
        self.bound: dict[int, Ref] = {}

    def visit(self, item: Any, above: Path, mode: int, outer: list, inner: list) -> None:
        """``item``, below the typed nodes ``above``, as the scope walker sees it (``mode``):
        with the scopes ``outer`` around it and ``inner`` inside its select."""
        visit = self.visit
        if isinstance(item, list):
            for child in item:
                if isinstance(child, (dict, list)):
                    visit(child, above, mode, outer, inner)
            return
        kind = None
        if len(item) == 1:
            name, body = next(iter(item.items()))
            if name[:1].isupper() and isinstance(body, dict):
                kind = name
                if self.kinds is None or kind in self.kinds:
                    self.nodes.append((kind, body, above))
                above = above + ((kind, body),)
                item = body
        if mode == _UNBOUND or mode == _EXPRESSION and kind != "SelectStmt" and kind != "ColumnRef":
            for value in item.values():
                if isinstance(value, (dict, list)):
                    visit(value, above, mode, outer, inner)
        elif mode == _EXPRESSION and kind == "ColumnRef":
            self.bound[id(item)] = self.binder.bind(item, outer)
            for value in item.values():
                if isinstance(value, (dict, list)):
                    visit(value, above, _UNBOUND, outer, inner)
        elif mode == _SELECT or mode == _EXPRESSION:  # a SelectStmt, or a UNION arm's bare body
            here = outer + [_from_scope(item)]
            for key, value in item.items():
                if isinstance(value, (dict, list)):
                    sees = _SELECT_CLAUSES.get(key, _EXPRESSION)
                    visit(value, above, sees, here if sees == _EXPRESSION else outer, here)
        else:
            for key, value in item.items():
                if isinstance(value, (dict, list)):
                    join_condition = mode == _FROM and kind == "JoinExpr" and key == "quals"  # sees the whole FROM
                    visit(value, above, _below(mode, kind, key), inner if join_condition else outer, inner)


# How the scope walker sees a select's clauses: its FROM items, its CTEs and its UNION arms
# apart from its other clauses, which see its FROM items.
_SELECT_CLAUSES = {"fromClause": _FROM, "withClause": _WITH, "larg": _SELECT, "rarg": _SELECT}


def _below(mode: int, kind: str | None, key: str) -> int:
    """How the scope walker sees field ``key`` of a FROM item, a WITH clause or a CTE."""
    if mode == _FROM and kind == "JoinExpr":
        return {"larg": _FROM, "rarg": _FROM, "quals": _EXPRESSION}.get(key, _UNBOUND)
    if mode == _FROM and kind is not None and kind != "RangeVar":  # RangeSubselect, RangeFunction, …
        return _UNBOUND if key == "alias" else _EXPRESSION
    if mode == _WITH:
        return _CTE if key == "ctes" else _UNBOUND
    if mode == _CTE and kind == "CommonTableExpr":
        return _EXPRESSION if key == "ctequery" else _UNBOUND
    return _UNBOUND


def _from_scope(select: Node) -> dict[str, Item]:
    """The scope a select's FROM clause opens, as ``_Walker.from_item`` builds it."""
    scope: dict[str, Item] = {}
    pending = list(reversed(select.get("fromClause", ())))
    while pending:
        item = pending.pop()
        if "RangeVar" in item:
            rv = item["RangeVar"]
            alias = (rv.get("alias") or {}).get("aliasname")
            schema, name = rv.get("schemaname"), rv["relname"]
            scope[alias or name] = Item(QName(schema, name) if schema else None, alias is not None)
        elif "JoinExpr" in item:
            join = item["JoinExpr"]
            pending.extend((join.get("rarg", {}), join.get("larg", {})))
        else:
            alias = (next(iter(item.values()), {}).get("alias") or {}).get("aliasname")
            if alias:
                scope[alias] = Item(None, True)
    return scope


# --- the rewrites the replay needs ------------------------------------------------------
#
# Each returns a new tree and leaves its argument alone: trees are shared by the statement
# that was parsed, the model, and every copy of the replay's state, so none may change.


def qualified(tree: Any, owner: QName, lookup: Callable[[str], QName | None]) -> Any:
    """The tree with each FROM-clause table name qualified with the schema it resolves to now.

    PostgreSQL resolves names through the search_path when the policy is created and never
    again; a qualified tree keeps that meaning whatever the search_path is later.
    """
    def on_rangevar(rv: Node, ctes: frozenset) -> None:
        if rv.get("schemaname") is None:
            found = lookup(rv["relname"])
            if found is not None:
                rv["schemaname"] = found.schema

    tree = copy.deepcopy(tree)
    walk(tree, owner, lambda q, c: False, on_rangevar=on_rangevar)
    return tree


def qualifies_anything(tree: Any, owner: QName, lookup: Callable[[str], QName | None]) -> bool:
    """Whether ``qualify`` would change the tree (it has an unqualified name of a known table)."""
    found = []

    def on_rangevar(rv: Node, ctes: frozenset) -> None:
        if not found and rv.get("schemaname") is None and lookup(rv["relname"]) is not None:
            found.append(rv)

    walk(tree, owner, lambda q, c: False, on_rangevar=on_rangevar)
    return bool(found)


def table_renamed(tree: Any, owner: QName, has_column: HasColumn, old: QName, new: QName) -> Any:
    """The tree with table names, and column references qualified by the table's name, renamed."""
    def on_ref(ref: Ref) -> None:
        if ref.table != old or ref.via is None or ref.via.aliased or len(ref.names) < 2:
            return
        fields = ref.node["fields"]
        fields[-2] = {"String": {"sval": new.name}}
        if len(ref.names) == 3:
            fields[0] = {"String": {"sval": new.schema}}

    def on_rangevar(rv: Node, ctes: frozenset) -> None:
        if rv.get("schemaname") == old.schema and rv["relname"] == old.name:
            rv["schemaname"], rv["relname"] = new.schema, new.name

    tree = copy.deepcopy(tree)
    walk(tree, owner, has_column, on_ref, on_rangevar)
    return tree


def column_renamed(tree: Any, owner: QName, has_column: HasColumn, table: QName, old: str, new: str) -> Any:
    """The tree with references that bind to ``table.old`` renamed to ``new``."""
    def on_ref(ref: Ref) -> None:
        if ref.table == table and ref.names[-1] == old:
            ref.node["fields"][-1] = {"String": {"sval": new}}

    tree = copy.deepcopy(tree)
    walk(tree, owner, has_column, on_ref)
    return tree


def uses_column(trees: Iterable[Any], owner: QName, has_column: HasColumn, table: QName, column: str) -> bool:
    found = []

    def on_ref(ref: Ref) -> None:
        if ref.table == table and ref.names[-1:] == (column,):
            found.append(ref)

    for tree in trees:
        walk(tree, owner, has_column, on_ref)
    return bool(found)
