"""Session statements: transactions and the search_path that unqualified names resolve through."""

from __future__ import annotations

from rlslint.schema.state import DEFAULT_SEARCH_PATH, ReplayState
from rlslint.sql.parse import Statement


def transaction(stmt: Statement, state: ReplayState) -> None:
    kind = stmt.node.get("kind")
    if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
        state.in_transaction = True
    elif kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"):
        state.in_transaction = False
        if state.path_before_local is not None:
            state.search_path, state.path_before_local = state.path_before_local, None


def set_role(stmt: Statement, state: ReplayState) -> None:
    """SET ROLE: what the migration creates next belongs to that role (until RESET ROLE)."""
    node = stmt.node
    value = next((a["A_Const"]["sval"]["sval"] for a in node.get("args", ()) if "sval" in a.get("A_Const", {})), None)
    if node.get("kind") == "VAR_SET_VALUE" and value is not None and value.lower() != "none":
        state.access.saw_role(value)
        state.access.current_role = value
    else:
        state.access.current_role = state.access.migration_role


def set_variable(stmt: Statement, state: ReplayState) -> None:
    node = stmt.node
    if node.get("name") in ("role", "session_authorization"):
        set_role(stmt, state)
        return
    if node.get("name") != "search_path" and node.get("kind") != "VAR_RESET_ALL":
        return
    if node.get("is_local"):
        if not state.in_transaction:
            return  # SET LOCAL outside a transaction block has no effect
        if state.path_before_local is None:
            state.path_before_local = state.search_path
    if node.get("kind") == "VAR_SET_VALUE":
        values = []
        for arg in node.get("args", ()):
            const = arg.get("A_Const", {})
            value = const.get("sval", {}).get("sval")
            if value is not None:
                values.extend(v.strip().strip('"') for v in value.split(",") if v.strip())
        state.search_path = tuple(v for v in values if v != "$user")
    elif node.get("kind") in ("VAR_SET_DEFAULT", "VAR_RESET", "VAR_RESET_ALL"):
        state.search_path = DEFAULT_SEARCH_PATH
    else:
        state.note(stmt, "SET search_path FROM CURRENT is not modelled")


HANDLERS = {"TransactionStmt": transaction, "VariableSetStmt": set_variable}
