"""The model after each statement, as the history stage replays a set: what ``--verify`` compares against.

A step is one statement as PostgreSQL receives it; the statements the replay extracts
from a ``DO`` block belong to the block's step, since PostgreSQL runs the block as one.
For each step the trace keeps the facts of the tables the replay changed in it (the
model's tables are frozen and replaced on change, so a changed table is a new object),
never a copy of the whole model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from rlslint.schema.model import Table
from rlslint.schema.state import ReplayState, TableRegistry
from rlslint.sql.names import QName
from rlslint.sql.parse import Statement
from rlslint.sql.spans import Span
from rlslint.verify.facts import TableFacts, model_facts


@dataclass(frozen=True)
class Step:
    span: Span
    kind: str  # the pglast node name
    text: str  # what is sent to PostgreSQL
    extension: str | None  # CREATE EXTENSION: its name
    standalone: bool  # cannot run in a transaction block: the Supabase CLI runs it on its own
    # The tables the replay created, changed (their facts after the step) or removed (None).
    changed: Mapping[QName, TableFacts | None]


@dataclass(frozen=True)
class FileTrace:
    path: str
    steps: tuple[Step, ...]


@dataclass
class _OpenStep:
    statement: Statement
    changed: dict[QName, TableFacts | None] = field(default_factory=dict)


class Tracer:
    """The history stage's observer (``rlslint.schema.replay.Observer``) for one migration set."""

    def __init__(self) -> None:
        self._files: list[FileTrace] = []
        self._path: str | None = None
        self._steps: list[_OpenStep] = []
        self._last: dict[QName, Table] = {}  # the tables after the last statement
        self._tables: TableRegistry | None = None  # the registry that keeps the names written for us

    def start_file(self, path: str) -> None:
        self._close_file()
        self._path = path

    def observe(self, statement: Statement, state: ReplayState) -> None:
        if not statement.embedded or not self._steps:
            self._steps.append(_OpenStep(statement))
        changed = self._steps[-1].changed
        tables = state.tables
        if tables is self._tables and tables.written is not None:
            names: Iterable[QName] = sorted(tables.written)
        else:  # the first statement, or a registry not seen before: every table is compared
            names = [*tables, *(q for q in self._last if q not in tables)]
            self._tables = tables
        for qname in names:
            table = tables.get(qname)
            if self._last.get(qname) is table:
                continue
            if table is None:
                del self._last[qname]
            else:
                self._last[qname] = table
            if not state.is_platform(qname.schema):
                changed[qname] = None if table is None else model_facts(table)
        tables.written = set()

    def files(self) -> tuple[FileTrace, ...]:
        self._close_file()
        return tuple(self._files)

    def _close_file(self) -> None:
        if self._path is not None:
            steps = tuple(Step(s.statement.span, s.statement.kind, s.statement.text, _extension(s.statement),
                               _standalone(s.statement), MappingProxyType(s.changed)) for s in self._steps)
            self._files.append(FileTrace(self._path, steps))
        self._path, self._steps = None, []


def _extension(statement: Statement) -> str | None:
    return statement.node.get("extname") if statement.kind == "CreateExtensionStmt" else None


def _standalone(statement: Statement) -> bool:
    """The statements the Supabase CLI runs outside the file's transaction, since PostgreSQL
    refuses them inside one: ``CREATE``/``DROP INDEX CONCURRENTLY``, ``REINDEX … CONCURRENTLY``,
    ``VACUUM``, ``CLUSTER`` (``ALTER SYSTEM`` too, which --verify never applies)."""
    node = statement.node
    if statement.kind in ("IndexStmt", "DropStmt"):
        return bool(node.get("concurrent"))
    if statement.kind == "ReindexStmt":
        return any(p.get("DefElem", {}).get("defname") == "concurrently" for p in node.get("params", ()))
    if statement.kind == "VacuumStmt":
        return bool(node.get("is_vacuumcmd"))
    return statement.kind == "ClusterStmt"
