"""SQL text for fixes: policy predicates printed back by pglast's own deparser.

Only called for the few findings that need a predicate in their fix, so the cost of
building pglast's Python objects (and importing its printers) is paid only then.
"""

from __future__ import annotations

from functools import lru_cache

from rlslint.schema.model import Expr


@lru_cache(maxsize=256)
def _deparse(statement_text: str, clause: str) -> str | None:
    import pglast
    from pglast.stream import RawStream

    try:
        (raw,) = pglast.parse_sql(statement_text)
    except Exception:  # the statement parsed once already; anything odd here just means "no predicate"
        return None
    node = getattr(raw.stmt, clause, None)
    return None if node is None else RawStream()(node).strip()


def predicate_sql(expr: Expr | None) -> str | None:
    return None if expr is None else _deparse(expr.statement_text, expr.clause)


def wrapped_calls_sql(expr: Expr, locations: frozenset[int]) -> str | None:
    """The expression with the calls at these file offsets wrapped in ``(SELECT …)``.

    None when the statement text no longer matches the model's tree (a later column
    rename rewrote the tree), so a fix is never built from stale text.
    """
    return _wrap(expr.statement_text, expr.clause, expr.origin.start, locations, _fingerprint(expr.tree))


def _fingerprint(tree) -> str:
    import json

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "location"}
        return [strip(v) for v in node] if isinstance(node, list) else node

    return json.dumps(strip(tree), sort_keys=True)


@lru_cache(maxsize=256)
def _wrap(statement_text: str, clause: str, origin: int, locations: frozenset[int], fingerprint: str) -> str | None:
    import json

    import pglast
    from pglast import ast
    from pglast.enums import SubLinkType
    from pglast.stream import RawStream
    from pglast.visitors import Visitor

    try:
        parsed = json.loads(pglast.parser.parse_sql_json(statement_text))["stmts"][0]["stmt"]
        (raw,) = pglast.parse_sql(statement_text)
    except Exception:  # the statement parsed once already; anything odd here just means "no fix"
        return None
    if _fingerprint(next(iter(parsed.values())).get(clause)) != fingerprint:
        return None
    # pglast's Python nodes locate in UTF-8 bytes of the statement; the model in characters of the file
    wanted = {len(statement_text[: at - origin].encode()) for at in locations}

    class Wrap(Visitor):
        def visit_FuncCall(self, ancestors, node):
            if node.location not in wanted:
                return None
            wanted.discard(node.location)
            select = ast.SelectStmt(targetList=(ast.ResTarget(val=node),), limitOption=0, op=0)
            return ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subselect=select)

    node = getattr(raw.stmt, clause, None)
    if node is None:
        return None
    Wrap()(raw.stmt)
    return None if wanted else RawStream()(getattr(raw.stmt, clause)).strip()
