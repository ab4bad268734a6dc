"""Views, by name only: what a PL/pgSQL loop over ``information_schema.tables`` or
``pg_class`` sees besides the tables, and what PostgreSQL refuses on them.

A loop over ``information_schema.tables`` without a ``table_type`` filter gets the views
too, and ``ALTER TABLE <view> ENABLE ROW LEVEL SECURITY`` or ``CREATE POLICY … ON <view>``
then fails (wrong_object_type). The model keeps the names so that the loop sees them and
the refusal is PostgreSQL's, not a statement silently skipped.
"""

from __future__ import annotations

from rlslint.schema.conditions import SQLSTATES
from rlslint.schema.state import ReplayState
from rlslint.sql.names import QName
from rlslint.sql.parse import Node, Statement

WRONG_OBJECT_TYPE = SQLSTATES["wrong_object_type"]


def create_view(stmt: Statement, state: ReplayState) -> None:
    rangevar = stmt.node["view"]
    schema = state.creation_schema(rangevar.get("schemaname"))
    if schema is not None and rangevar.get("relpersistence") != "t":
        state.views.add(QName(schema, rangevar["relname"]))


def drop_view(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool, cascade: bool) -> None:
    qname = named_view(state, {"schemaname": names[-2] if len(names) > 1 else None, "relname": names[-1]})
    if qname is not None:
        state.views.discard(qname)


def named_view(state: ReplayState, rangevar: Node) -> QName | None:
    """The view a name finds, as PostgreSQL looks it up (the first schema holding the name)."""
    schema, name = rangevar.get("schemaname"), rangevar["relname"]
    for candidate in (schema,) if schema else state.search_path:
        if QName(candidate, name) in state.tables:
            return None
        if QName(candidate, name) in state.views:
            return QName(candidate, name)
    return None


def refused_on_view(stmt: Statement, state: ReplayState, rangevar: Node, what: str) -> bool:
    """``what`` (ENABLE ROW LEVEL SECURITY, CREATE POLICY) on a view: PostgreSQL refuses it."""
    qname = named_view(state, rangevar)
    if qname is None:
        return False
    state.rejected(stmt, f"{what} on {qname}, a view", WRONG_OBJECT_TYPE)
    return True


def move_view(state: ReplayState, rangevar: Node, schema: str | None = None, name: str | None = None) -> None:
    """ALTER VIEW … RENAME TO / SET SCHEMA."""
    qname = named_view(state, rangevar)
    if qname is not None:
        state.views.discard(qname)
        state.views.add(QName(schema or qname.schema, name or qname.name))


def drop_schema(state: ReplayState, schema: str) -> None:
    state.views = {q for q in state.views if q.schema != schema}


def rename_schema(state: ReplayState, old: str, new: str) -> None:
    state.views = {QName(new, q.name) if q.schema == old else q for q in state.views}


HANDLERS = {"ViewStmt": create_view}
DROPS = {"OBJECT_VIEW": drop_view}
