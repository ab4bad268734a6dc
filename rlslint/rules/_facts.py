"""What the rules read of each policy expression, from one walk of it per run.

IDX001 and IDX002 ask which columns a policy compares, PERF001 and the fixes that copy a
predicate which per-request calls it makes per row, SEC001 where it reads user_metadata,
FK001's owner evidence (and the policies the fixes write from it) which columns it compares
with ``auth.uid()``. Each used to walk the tree for itself. ``Facts`` walks an expression
once, the first time a rule asks (``scopes.bound_walk``: every node with its path, every
column reference bound as the replay binds it), and keeps only the answers: data about one
model, held by one ``RuleContext`` and dropped with it.
"""

from __future__ import annotations

from rlslint.rules._predicates import (ColumnUse, _has_column, compared_columns, first_location, func_name,
                                      per_row_calls, token_end, unwrap)
from rlslint.schema import scopes
from rlslint.schema.model import Catalog, Expr, Table
from rlslint.sql.tree import Node, Path


class ExprFacts:
    """One policy expression's answers, each in source order. Its user_metadata references
    are asked of every expression SEC001 judges and cost a pass over the walk's nodes; the
    rest is worked out from the walk when first asked: the columns it compares (IDX001,
    IDX002: the costliest answer, which no other rule should pay for), the per-row calls (the
    tables a fix is written for, PERF001) and the columns compared with ``auth.uid()`` (those
    with an owner key)."""

    __slots__ = ("user_metadata", "_expr", "_catalog", "_bound", "_comparisons", "_calls", "_compared",
                 "_per_row_calls", "_uid_columns")

    def __init__(self, expr: Expr, catalog: Catalog, bound: dict[int, scopes.Ref],
                 user_metadata: tuple[tuple[int, int], ...], comparisons: list[tuple[Node, Path]],
                 calls: list[tuple[Node, Path]]) -> None:
        self.user_metadata = user_metadata  # (start, end) of each reference to user_metadata
        self._expr, self._catalog = expr, catalog
        self._bound: dict[int, scopes.Ref] | None = bound  # each column reference's binding, by its node's id
        self._comparisons = comparisons  # the walk's A_Expr and FuncCall nodes, with their paths
        self._calls = calls
        self._compared: tuple[ColumnUse, ...] | None = None
        self._per_row_calls: tuple[tuple[str, int], ...] | None = None
        self._uid_columns: tuple[str, ...] | None = None

    @property
    def compared(self) -> tuple[ColumnUse, ...]:
        """Columns compared with =, IN or = ANY where an index could serve."""
        if self._compared is None:
            self._compared = tuple(compared_columns(self._expr, self._comparisons, self._bound, self._catalog))
            self._bound = None  # read by nothing else: at 5,000 files the bindings are ~10 MiB
        return self._compared

    @property
    def per_row_calls(self) -> tuple[tuple[str, int], ...]:
        """(name, file offset) of each call of auth.uid() & co. that PostgreSQL runs per row."""
        if self._per_row_calls is None:
            self._per_row_calls = tuple(per_row_calls(self._calls))
        return self._per_row_calls

    @property
    def uid_columns(self) -> tuple[str, ...]:
        """Own-table columns compared with ``= auth.uid()`` at the top level."""
        if self._uid_columns is None:
            self._uid_columns = tuple(_uid_columns(self._comparisons))
        return self._uid_columns


class Facts:
    """The memo: ``facts(expr, table)`` for the policy expressions of one model."""

    __slots__ = ("catalog", "_found")

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        # By the expression's id; the expression is kept with its answers, so the id stays its own.
        self._found: dict[int, tuple[Expr, ExprFacts]] = {}

    def __call__(self, expr: Expr, table: Table) -> ExprFacts:
        """The facts of ``expr``, a policy expression of ``table``."""
        found = self._found.get(id(expr))
        if found is None:
            found = self._found[id(expr)] = (expr, of_expression(expr, table, self.catalog))
        return found[1]


# The nodes the questions read: comparisons, calls and column references.
_ASKED = frozenset({"A_Expr", "FuncCall", "ColumnRef"})


def of_expression(expr: Expr, table: Table, catalog: Catalog) -> ExprFacts:
    """Walk the expression once and answer every question the rules ask of it."""
    nodes, bound = scopes.bound_walk(expr.tree, table.qname, lambda qname, column: _has_column(catalog, qname, column),
                                     _ASKED)
    comparisons = [(body, path) for kind, body, path in nodes if kind == "A_Expr"]
    calls = [(body, path) for kind, body, path in nodes if kind == "FuncCall"]
    refs = [(body, path) for kind, body, path in nodes if kind == "ColumnRef"]
    return ExprFacts(expr, catalog, bound, tuple(_user_metadata(expr, comparisons, calls, refs)), comparisons, calls)


# --- user_metadata (SEC001) ------------------------------------------------------------

USER_EDITABLE_COLUMN = "raw_user_meta_data"  # auth.users: the source of the user_metadata claim
PATH_OPERATORS = frozenset({"->", "->>", "#>", "#>>"})


def _user_metadata(expr: Expr, comparisons: list[tuple[Node, Path]], calls: list[tuple[Node, Path]],
                   refs: list[tuple[Node, Path]]) -> list[tuple[int, int]]:
    """(start, end) of each reference to user_metadata: the claim read from the JWT by a path
    operator or ``jsonb_extract_path*``, or the ``raw_user_meta_data`` column."""
    found = []  # (where the reference starts, where its last token starts)
    for node, _ in comparisons:
        if node.get("kind") != "AEXPR_OP":
            continue
        op = "".join(n["String"]["sval"] for n in node.get("name", ()) if "String" in n)
        if op in PATH_OPERATORS and _is_claims(node.get("lexpr")):
            key = _text(node.get("rexpr"))
            if op in ("#>", "#>>"):  # a path: '{user_metadata,role}'
                key = key.strip("{}").split(",")[0].strip().strip('"')
            if key == "user_metadata":
                found.append((first_location(node["lexpr"]), first_location(node["rexpr"])))
    for node, _ in calls:
        if func_name(node).startswith("jsonb_extract_path") and len(node.get("args", ())) > 1:
            if _is_claims(node["args"][0]) and _text(node["args"][1]) == "user_metadata":
                found.append((node["location"], node["location"]))
    for node, _ in refs:
        last = next((f["String"]["sval"] for f in reversed(node.get("fields", ())) if "String" in f), None)
        if last == USER_EDITABLE_COLUMN:  # the last name, as in t.raw_user_meta_data
            found.append((node["location"], node["location"]))
    return sorted((start, token_end(expr, last)) for start, last in found if start >= 0)


def _is_claims(node) -> bool:
    """The request's JWT claims: auth.jwt(), or current_setting('request.jwt.claims'…), cast or wrapped."""
    node = unwrap(node)
    if not isinstance(node, dict) or "FuncCall" not in node:
        return False
    call = node["FuncCall"]
    name = func_name(call)
    first = (call.get("args") or [{}])[0].get("A_Const", {}).get("sval", {}).get("sval", "")
    return name == "auth.jwt" or (name == "current_setting" and first.startswith("request.jwt.claims"))


def _text(node) -> str:
    return unwrap(node).get("A_Const", {}).get("sval", {}).get("sval", "") if isinstance(unwrap(node), dict) else ""


# --- columns compared with auth.uid() (owner evidence) ---------------------------------


def _uid_columns(comparisons: list[tuple[Node, Path]]) -> list[str]:
    """Columns of the policy's own table compared with ``=`` to ``auth.uid()`` at its top level
    (inside a sub-select, a column belongs to the sub-select's tables)."""
    found = []
    for node, path in comparisons:
        if node.get("kind") != "AEXPR_OP":
            continue
        sides = [(a, b) for a, b in ((node.get("lexpr"), node.get("rexpr")), (node.get("rexpr"), node.get("lexpr")))
                 if _is_uid(b) and _own_column(a) is not None]
        if not sides or [n["String"]["sval"] for n in node.get("name", ()) if "String" in n] != ["="]:
            continue
        if any(k in ("SelectStmt", "SubLink") and not _scalar(k, n) for k, n in path):
            continue
        found.extend(_own_column(a) for a, _ in sides)
    return found


def _scalar(kind: str, node: dict) -> bool:
    """``(SELECT auth.uid())``: a sub-select around the call, not a query over other tables."""
    if kind == "SubLink":
        return node.get("subLinkType") == "EXPR_SUBLINK"
    return not node.get("fromClause")


def _own_column(node) -> str | None:
    ref = node.get("ColumnRef") if isinstance(node, dict) else None
    if ref is None:
        return None
    names = [f["String"]["sval"] for f in ref.get("fields", ()) if "String" in f]
    return names[-1] if len(names) in (1, 2) and len(names) == len(ref.get("fields", ())) else None


def _is_uid(node) -> bool:
    call = unwrap(node)
    return isinstance(call, dict) and "FuncCall" in call and func_name(call["FuncCall"]) == "auth.uid"
