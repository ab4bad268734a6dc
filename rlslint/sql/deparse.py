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
