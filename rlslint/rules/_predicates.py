"""Shared, stateless questions the rules ask of the model and of policy expressions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from rlslint.schema import scopes
from rlslint.schema.model import COMMANDS, ON_DELETE, Catalog, Expr, ForeignKey, Index, Table
from rlslint.schema.naming import choose_name, column_part
from rlslint.sql.names import QName, quote_ident
from rlslint.sql.spans import Span

Node = dict[str, Any]


def usable_indexes(table: Table) -> Iterator[Index]:
    """Indexes a planner can use for any query on the table: not partial."""
    return (index for index in table.indexes if not index.partial)


def leads_index(table: Table, columns: tuple[str, ...]) -> bool:
    """The columns are the leading columns (in any order) of some usable index."""
    wanted = set(columns)
    return any(set(index.columns[: len(wanted)]) == wanted for index in usable_indexes(table))


def create_index_sql(catalog: Catalog, table: Table, columns: tuple[str, ...]) -> str:
    """``CREATE INDEX IF NOT EXISTS`` under the name PostgreSQL would give the unnamed index.

    Every rule that asks for the same index writes the same statement, so applying all
    the fixes creates it once. The name skips relations the schema already holds, as
    PostgreSQL does, so IF NOT EXISTS never mistakes an unrelated index for this one.
    """
    taken = catalog.relation_names(table.qname.schema)
    name = choose_name(table.qname.name, column_part(columns), "idx", taken.__contains__)
    listed = ", ".join(quote_ident(c) for c in columns)
    return f"CREATE INDEX IF NOT EXISTS {quote_ident(name)} ON {table.qname} ({listed});"


def covered_commands(table: Table) -> tuple[str, ...]:
    """Commands some permissive policy allows; restrictive policies only narrow those."""
    covered: set[str] = set()
    for policy in table.policies:
        if policy.permissive:
            covered.update(COMMANDS if policy.command == "ALL" else (policy.command,))
    return tuple(c for c in COMMANDS if c in covered)


def owner_fk_blocks_delete(table: Table, fk: ForeignKey, accepted: frozenset[str]) -> bool:
    """Deleting the owner fails: the action is not accepted, or SET NULL hits a NOT NULL column."""
    action = ON_DELETE.get(fk.on_delete, "NO ACTION")
    if action not in accepted:
        return True
    return action == "SET NULL" and any((col := table.column(c)) is not None and col.not_null for c in fk.columns)


@dataclass(frozen=True)
class ColumnUse:
    table: QName
    column: str
    span: Span


def compared_columns(expr: Expr, table: Table, catalog: Catalog) -> list[ColumnUse]:
    """Columns a policy expression compares with ``=``, ``IN`` or ``= ANY``, bound to their
    tables, in source order.

    Binding is the replay's own (``schema.scopes``), the one that keeps policies right
    through renames: a qualified reference names a FROM item by alias or table name; an
    unqualified one binds to the innermost FROM item that has the column, so
    ``m.team_id = team_id`` inside a sub-select on ``members`` compares ``members.team_id``
    with itself when ``members`` has that column.
    """
    compared = {id(ref) for node in _nodes(expr.tree) for ref in _compared_operands(node)}
    has_column = lambda qname, column: _has_column(catalog, qname, column)  # noqa: E731
    found: list[ColumnUse] = []

    def on_ref(ref: scopes.Ref) -> None:
        if id(ref.node) in compared and ref.table is not None and has_column(ref.table, ref.names[-1]):
            start = ref.node.get("location", -1)
            span = expr.origin if start < 0 else Span(expr.origin.path, start, token_end(expr, start))
            found.append(ColumnUse(ref.table, ref.names[-1], span))

    scopes.walk(expr.tree, table.qname, has_column, on_ref)
    return sorted(found, key=lambda use: use.span.start)


def _nodes(tree: Any) -> Iterator[Node]:
    """Every ``{"Type": {…}}`` node of a JSON tree."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if len(item) == 1:
                yield item
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))


def _compared_operands(node: Node) -> list[Node]:
    """The column references this node compares: ``a = b``, ``a IN (…)``, ``a = ANY (…)``."""
    if "A_Expr" in node:
        a = node["A_Expr"]
        kind = a.get("kind")
        name = [n["String"]["sval"] for n in a.get("name", ()) if "String" in n]
        if kind == "AEXPR_OP" and name == ["="]:
            operands = [a.get("lexpr"), a.get("rexpr")]
        elif kind == "AEXPR_IN" or (kind == "AEXPR_OP_ANY" and name == ["="]):
            operands = [a.get("lexpr")]
        else:
            return []
        return [ref for ref in map(_column_ref, operands) if ref is not None]
    if "SubLink" in node and node["SubLink"].get("subLinkType") == "ANY_SUBLINK":  # x IN (SELECT …)
        ref = _column_ref(node["SubLink"].get("testexpr"))
        return [ref] if ref is not None else []
    return []


def _column_ref(node: Any) -> Node | None:
    if not isinstance(node, dict):
        return None
    if "TypeCast" in node:
        return _column_ref(node["TypeCast"].get("arg"))
    return node.get("ColumnRef")


def _has_column(catalog: Catalog, qname: QName, column: str) -> bool:
    table = catalog.table(qname)
    return table is not None and table.column(column) is not None


# --- policy expression trees (the JSON the parser produced) ------------------------------

Path = tuple[tuple[str, Node], ...]  # (node type, node) from the expression's root down


def walk(tree: Any, path: Path = ()) -> Iterator[tuple[str, Node, Path]]:
    """Every node of a JSON tree in source order: (type, node, the nodes above it)."""
    if isinstance(tree, list):
        for item in tree:
            yield from walk(item, path)
    elif isinstance(tree, dict):
        if len(tree) == 1:
            kind, body = next(iter(tree.items()))
            if kind[:1].isupper() and isinstance(body, dict):
                yield kind, body, path
                path = path + ((kind, body),)
                tree = body
        for value in tree.values():
            if isinstance(value, (dict, list)):
                yield from walk(value, path)


def func_name(call: Node) -> str:
    """``auth.uid`` for ``auth.uid()``; ``current_setting`` for ``pg_catalog.current_setting(…)``."""
    names = [n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n]
    return ".".join(names[1:] if names[:1] == ["pg_catalog"] else names)


# Functions that read the request's JWT or a setting: the same value for every row.
PER_REQUEST = frozenset({"auth.uid", "auth.jwt", "auth.role", "auth.email", "current_setting"})


def per_row_calls(expr: Expr) -> list[tuple[str, int]]:
    """The per-request calls (name, file offset) that PostgreSQL would run once per row."""
    return [(func_name(node), node["location"]) for kind, node, path in walk(expr.tree)
            if kind == "FuncCall" and func_name(node) in PER_REQUEST and not initplan_wrapped(path)]


def initplan_wrapped(path: Path) -> bool:
    """The node sits in an uncorrelated scalar sub-select, ``(SELECT auth.uid())``, which
    PostgreSQL runs once per statement as an InitPlan rather than once per row."""
    kinds = [kind for kind, _ in path]
    for i in range(len(path) - 1, 1, -1):
        if kinds[i] == "ResTarget":
            break
        if kinds[i] in ("SelectStmt", "SubLink"):
            return False
    else:
        return False
    sub, select, target = path[i - 2][1], path[i - 1][1], path[i][1]
    return (kinds[i - 2] == "SubLink" and kinds[i - 1] == "SelectStmt"
            and sub.get("subLinkType") == "EXPR_SUBLINK" and not select.get("fromClause")
            and len(select.get("targetList", ())) == 1 and select["targetList"][0].get("ResTarget") is target)


def unwrap(node: Any) -> Any:
    """The expression under casts and scalar sub-selects: ``(select auth.jwt())::jsonb`` → the call."""
    while isinstance(node, dict):
        if "TypeCast" in node:
            node = node["TypeCast"].get("arg")
        elif "SubLink" in node and node["SubLink"].get("subLinkType") == "EXPR_SUBLINK":
            select = node["SubLink"]["subselect"].get("SelectStmt", {})
            targets = select.get("targetList", ())
            if select.get("fromClause") or len(targets) != 1:
                return node
            node = targets[0]["ResTarget"].get("val")
        else:
            return node
    return node


def _locations(tree: Any) -> Iterator[int]:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("location"), int) and item["location"] >= 0:
                yield item["location"]
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)


def first_location(tree: Any) -> int:
    """The smallest location in a tree: where its text starts (-1 if none is known)."""
    return min(_locations(tree), default=-1)


def extent(expr: Expr, tree: Any) -> Span:
    """The text a sub-tree of a policy expression spans, for pointing at it."""
    locations = list(_locations(tree))
    if not locations:
        return expr.origin
    return Span(expr.origin.path, min(locations), token_end(expr, max(locations)))


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


def token_end(expr: Expr, start: int) -> int:
    """End of the call, string literal or word starting at ``start`` in the statement text."""
    text, i = expr.statement_text, start - expr.origin.start
    if not 0 <= i < len(text):
        return start
    if text[i] == "'":
        j = i + 1
        while (j := text.find("'", j)) >= 0 and text[j + 1 : j + 2] == "'":
            j += 2
        return expr.origin.start + (len(text) if j < 0 else j + 1)
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] in '_$."'):
        j += 1
    if text[j : j + 1] == "(":  # a call: to its closing parenthesis, skipping string literals
        depth, quoted = 0, False
        for j in range(j, len(text)):
            if text[j] == "'":
                quoted = not quoted
            elif not quoted and text[j] in "()":
                depth += 1 if text[j] == "(" else -1
                if depth == 0:
                    return expr.origin.start + j + 1
    return expr.origin.start + j
