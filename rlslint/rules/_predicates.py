"""Shared, stateless questions the rules ask of the model and of policy expressions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple

from rlslint.schema import acl, scopes
from rlslint.schema.model import COMMANDS, ON_DELETE, Catalog, Expr, ForeignKey, Index, Table
from rlslint.rules.base import policy_reads
from rlslint.schema.naming import choose_name, column_part
from rlslint.sql.names import QName, quote_ident
from rlslint.sql import tokens
from rlslint.sql.spans import Span
from rlslint.sql.tree import Node, Path, locations

if TYPE_CHECKING:
    from rlslint.rules.base import RuleContext


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


def uncovered_commands(ctx: "RuleContext", table: Table) -> tuple[str, ...]:
    """Commands an API role may run on the table, RLS applying to it, that no permissive
    policy applying to such a role allows (restrictive policies only narrow those). A
    command no API role holds needs no policy; a policy for service_role, the owner or
    another role that bypasses RLS covers nothing."""
    missing = []
    for command in COMMANDS:
        subject = ctx.subject(table, command)
        if subject and not any(
            policy.permissive and policy.command in ("ALL", command)
            and any(acl.policy_applies(ctx.catalog.access, role, policy) for role in subject)
            for policy in table.policies
        ):
            missing.append(command)
    return tuple(missing)


def owner_fk_blocks_delete(table: Table, fk: ForeignKey, accepted: frozenset[str]) -> bool:
    """Deleting the owner fails: the action is not accepted, or SET NULL hits a NOT NULL column."""
    action = ON_DELETE.get(fk.on_delete, "NO ACTION")
    if action not in accepted:
        return True
    return action == "SET NULL" and any((col := table.column(c)) is not None and col.not_null for c in fk.columns)


class ColumnUse(NamedTuple):
    """A column compared where an index on its table could serve the comparison."""

    table: QName
    column: str
    span: Span
    # The cast or call the column is compared under (``"tenantId"::uuid``, ``lower(email)``):
    # a plain index on the column does not serve it, an index on the expression does.
    wrapped: Node | None = None
    # The conditions the query holds together with this comparison (the AND chain up to the
    # sub-select it sits in): a partial index serves it when they imply the index's WHERE.
    conditions: tuple[Node, ...] = ()


def compared_columns(expr: Expr, comparisons: list[tuple[Node, Path]], bound: dict[int, scopes.Ref],
                     catalog: Catalog) -> list[ColumnUse]:
    """Columns a policy expression compares with ``=``, ``IN`` or ``= ANY`` against a value
    that does not depend on the same row, bound to their tables, in source order.

    Binding is the replay's own (``schema.scopes``), the one that keeps policies right
    through renames: a qualified reference names a FROM item by alias or table name; an
    unqualified one binds to the innermost FROM item that has the column, so
    ``m.team_id = team_id`` inside a sub-select on ``members`` compares ``members.team_id``
    with itself when ``members`` has that column. Only a column of the query level it is
    compared in counts: the correlated outer column of a sub-select is a value there, and an
    index on it would not serve the sub-select.

    From the expression's one walk (``rules._facts``): its ``A_Expr`` nodes (the only
    comparisons), each with its path, in walk order, and its column references bound.
    """
    found: list[ColumnUse] = []
    for node, path in comparisons:
        for operand, others in _comparisons("A_Expr", node):
            target = _indexable(operand)
            if target is None:
                continue
            column_ref, wrapped = target
            ref = bound.get(id(column_ref))
            if ref is None or ref.table is None or ref.outer or not _has_column(catalog, ref.table, ref.names[-1]):
                continue
            if any(other.via is ref.via for other in _refs_within(others, bound)):
                continue  # `a = b` on one row: no index lookup answers it
            if wrapped is not None and "TypeCast" in wrapped and _no_cast(wrapped, catalog, ref):
                wrapped = None
            start = column_ref.get("location", -1)
            span = expr.origin if start < 0 else Span(expr.origin.path, start, token_end(expr, start))
            found.append(ColumnUse(ref.table, ref.names[-1], span, wrapped, _conditions({"A_Expr": node}, path)))
    return sorted(found, key=lambda use: use.span.start)


class PolicyUse(NamedTuple):
    use: ColumnUse
    table: QName  # the policy's table
    policy: str


def policy_filters(ctx: "RuleContext") -> dict[tuple[QName, str, str | None], list[PolicyUse]]:
    """Every compared column of every policy that runs (some role without BYPASSRLS is subject
    to it: RuleContext.enforced), by (table, column, shape of the cast or call around it),
    each list in source order: one index serves every policy in a list. With ``judged``, the
    columns of those tables only, each list still whole: a policy can compare only columns
    of the tables it reads (``policy_reads``)."""
    catalog, judged = ctx.catalog, ctx.judged
    uses: dict[tuple[QName, str, str | None], list[PolicyUse]] = {}
    for table in catalog.tables.values():
        if judged is not None and judged.isdisjoint(policy_reads(table)):
            continue
        for policy in table.policies:
            if not acl.enforced_on(catalog.access, policy, table):
                continue  # only roles that bypass RLS are subject to it: never evaluated
            for expr in (policy.using, policy.with_check):
                if expr is None:
                    continue
                for use in ctx.facts(expr, table).compared:
                    if judged is not None and use.table not in judged:
                        continue
                    key = (use.table, use.column, None if use.wrapped is None else shape(use.wrapped))
                    uses.setdefault(key, []).append(PolicyUse(use, table.qname, policy.name))
    for refs in uses.values():
        refs.sort(key=lambda ref: ref.use.span)  # source order: file, then offset
    return uses


# Type names as the parser spells them, so ``x::integer`` on an int4 column is no cast at all.
_TYPE_ALIASES = {"integer": "int4", "int": "int4", "bigint": "int8", "smallint": "int2", "boolean": "bool",
                 "character varying": "varchar", "real": "float4", "double precision": "float8"}


def type_name(name: str) -> str:
    return _TYPE_ALIASES.get(name.lower(), name.lower())


def _no_cast(cast: Node, catalog: Catalog, ref: scopes.Ref) -> bool:
    """A cast to the column's own type: PostgreSQL drops it, and a plain index serves."""
    names = [n["String"]["sval"] for n in cast["TypeCast"].get("typeName", {}).get("names", ()) if "String" in n]
    column = catalog.table(ref.table).column(ref.names[-1])
    return bool(names) and not cast["TypeCast"]["typeName"].get("arrayBounds") and type_name(names[-1]) == type_name(column.type)


def policy_names(refs: list[PolicyUse]) -> str:
    """``"a", "b" on public.x and "c" on public.y``: each policy once, grouped by table."""
    by_table: dict[QName, list[str]] = {}
    for ref in refs:
        if ref.policy not in by_table.setdefault(ref.table, []):
            by_table[ref.table].append(ref.policy)
    return " and ".join(", ".join(f'"{name}"' for name in names) + f" on {table}" for table, names in by_table.items())


def _comparisons(kind: str, node: Node) -> list[tuple[Any, list[Any]]]:
    """(operand, what it is compared with) for ``a = b`` (both ways), ``a IN (…)`` and
    ``a = ANY (…)``.

    Not ``a IN (SELECT …)``: in a policy PostgreSQL runs it as a hashed sub-plan that
    filters each row, never as a join an index on ``a`` could drive (the sub-select's own
    comparisons count, for its tables)."""
    if kind == "A_Expr":
        op = [n["String"]["sval"] for n in node.get("name", ()) if "String" in n]
        left, right = node.get("lexpr"), node.get("rexpr")
        if node.get("kind") == "AEXPR_OP" and op == ["="]:
            return [(left, [right]), (right, [left])]
        if node.get("kind") == "AEXPR_IN" or (node.get("kind") == "AEXPR_OP_ANY" and op == ["="]):
            return [(left, [right])]
    return []


def _indexable(operand: Any) -> tuple[Node, Node | None] | None:
    """(the ColumnRef body, the cast or call around it) when an index could serve the operand:
    a column, a cast of one, or a call whose only column argument is it."""
    if not isinstance(operand, dict):
        return None
    if "ColumnRef" in operand:
        return operand["ColumnRef"], None
    if "TypeCast" in operand:
        arg = operand["TypeCast"].get("arg")
        inner = _indexable(arg)
        if inner is not None and inner[1] is None:
            return inner[0], operand
    if "FuncCall" in operand:
        args = operand["FuncCall"].get("args", ())
        columns = [a for a in args if "ColumnRef" in a]
        if len(columns) == 1 and all("ColumnRef" in a or "A_Const" in a for a in args):
            return columns[0]["ColumnRef"], operand
    return None


def _refs_within(trees: list[Any], bound: dict[int, scopes.Ref]) -> Iterator[scopes.Ref]:
    """The bound references inside ``trees`` (operands: nodes, or lists of them). The operands
    are walked: they are small next to the expression, where searching every bound
    reference's path for them, once per comparison, was cubic in a deeply nested expression
    (1,000 nested ``OR``s of comparisons took over a minute)."""
    stack = list(trees)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            body = item.get("ColumnRef") if len(item) == 1 else None
            if isinstance(body, dict):
                ref = bound.get(id(body))
                if ref is not None:
                    yield ref
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _conditions(comparison: Node, path: Path) -> tuple[Node, ...]:
    """The comparison and its fellow AND conditions up to the (sub-)select it sits in."""
    found = [comparison]
    for kind, body in reversed(path):
        if kind == "SelectStmt":
            break
        if kind == "BoolExpr" and body.get("boolop") == "AND_EXPR":
            found.extend(body.get("args", ()))
    return tuple(found)


def shape(tree: Any) -> str:
    """A tree's structure without locations and column qualifiers: ``docs.team_id`` in a
    policy and ``team_id`` in an index's WHERE are the same condition."""
    def strip(node: Any) -> Any:
        if isinstance(node, list):
            return [strip(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "ColumnRef" in node and len(node) == 1:
            fields = node["ColumnRef"].get("fields", ())
            return {"ColumnRef": strip(fields[-1:])}
        return {key: strip(value) for key, value in node.items() if key != "location"}

    return json.dumps(strip(tree), sort_keys=True)


def serves(index: Index, use: ColumnUse) -> bool:
    """The index leads with the used column (or its expression), and if partial, the
    conditions the policy holds imply its WHERE, as PostgreSQL's planner proves it."""
    if not index.columns:
        return False
    if use.wrapped is None:
        if index.columns[0] != use.column:
            return False
    elif index.columns[0] is not None or not index.expressions or shape(index.expressions[0]) != shape(use.wrapped):
        return False
    return not index.partial or implies(use.conditions, index.predicate)


def implies(conditions: tuple[Node, ...], predicate: Any) -> bool:
    """Each AND-ed part of the predicate is one of the conditions, or ``x IS NOT NULL`` for a
    column an ``=``, ``IN (…)`` or ``= ANY`` condition compares (they never hold for NULL).
    ``x IN (SELECT …)`` proves nothing: the planner turns it into a join, whose clauses do
    not prove an index predicate."""
    if predicate is None:
        return False
    held = {shape(c) for c in conditions}
    compared = {name for c in conditions for name in _equated_columns(c)}
    for part in _and_parts(predicate):
        if shape(part) in held:
            continue
        test = part.get("NullTest", {}) if isinstance(part, dict) else {}
        names = [f["String"]["sval"] for f in test.get("arg", {}).get("ColumnRef", {}).get("fields", ()) if "String" in f]
        if test.get("nulltesttype") == "IS_NOT_NULL" and names and names[-1] in compared:
            continue
        return False
    return True


def _and_parts(tree: Any) -> list[Any]:
    if isinstance(tree, dict) and tree.get("BoolExpr", {}).get("boolop") == "AND_EXPR":
        return [part for arg in tree["BoolExpr"].get("args", ()) for part in _and_parts(arg)]
    return [tree]


def _equated_columns(condition: Node) -> Iterator[str]:
    for kind, node in condition.items():
        for operand, _ in _comparisons(kind, node):
            target = _indexable(operand)  # a strict cast or call of a column is NULL when it is
            fields = target[0].get("fields", ()) if target else ()
            if fields and "String" in fields[-1]:
                yield fields[-1]["String"]["sval"]



def _has_column(catalog: Catalog, qname: QName, column: str) -> bool:
    table = catalog.table(qname)
    return table is not None and table.column(column) is not None


# --- policy expression trees (the JSON the parser produced) ------------------------------




def func_name(call: Node) -> str:
    """``auth.uid`` for ``auth.uid()``; ``current_setting`` for ``pg_catalog.current_setting(…)``."""
    names = [n["String"]["sval"] for n in call.get("funcname", ()) if "String" in n]
    return ".".join(names[1:] if names[:1] == ["pg_catalog"] else names)


# Functions that read the request's JWT or a setting: the same value for every row.
PER_REQUEST = frozenset({"auth.uid", "auth.jwt", "auth.role", "auth.email", "current_setting"})


def per_row_calls(calls: list[tuple[Node, Path]]) -> list[tuple[str, int]]:
    """The per-request calls (name, file offset) that PostgreSQL would run once per row, of
    an expression's ``FuncCall`` nodes with their paths (``rules._facts``)."""
    found = []
    for node, path in calls:
        name = func_name(node)
        if name in PER_REQUEST and not initplan_wrapped(path):
            found.append((name, node["location"]))
    return found


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



def first_location(tree: Any) -> int:
    """The smallest location in a tree: where its text starts (-1 if none is known)."""
    return min(locations(tree), default=-1)


def extent(expr: Expr, tree: Any) -> Span:
    """The text a sub-tree of a policy expression spans, for pointing at it."""
    known = list(locations(tree))
    if not known:
        return expr.origin
    return Span(expr.origin.path, min(known), token_end(expr, max(known)))


def token_end(expr: Expr, start: int) -> int:
    """End of the call, string literal or name at file offset ``start`` of a policy expression."""
    offset = start - expr.origin.start
    if not 0 <= offset < len(expr.statement_text):
        return start
    return expr.origin.start + tokens.token_end(expr.statement_text, offset)
