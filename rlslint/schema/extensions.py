"""CREATE / DROP EXTENSION: the names of the extensions the migrations installed.

Only for PL/pgSQL guards on ``pg_extension`` (schema/catalog_views.py): an extension the
migrations created is known to be there; any other may have been installed by the
platform, so a question about it stays unknown.
"""

from __future__ import annotations

from rlslint.schema.state import ReplayState
from rlslint.sql.parse import Statement


def create_extension(stmt: Statement, state: ReplayState) -> None:
    state.extensions.add(stmt.node["extname"])


def drop_extension(stmt: Statement, state: ReplayState, names: tuple[str, ...], missing_ok: bool,
                   cascade: bool) -> None:
    state.extensions.discard(names[-1])


HANDLERS = {"CreateExtensionStmt": create_extension}
DROPS = {"OBJECT_EXTENSION": drop_extension}
